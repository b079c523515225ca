"""Loading desired tables (pyipvs.reconcile.desired, .fromjson) and the
input-error paths of `pyipvs diff`/`apply`, on the host."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import random
import sys

import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "kernel"))

from reconcile_gen import random_table, save_text

from pyipvs.cli.pyipvs import main
from pyipvs.jsonable import to_jsonable
from pyipvs.model import (
    Family,
    Forward,
    ServerStatus,
    ServiceFlag,
    ServiceKey,
    ServiceStatus,
    Stats,
    TunnelType,
)
from pyipvs.reconcile import DesiredError, Table, loads
from pyipvs.reconcile.formats import sniff


def _no_thresholds(t: Table) -> Table:
    return Table.of(
        (s, [dataclasses.replace(x, u_threshold=0, l_threshold=0) for x in v]) for s, v in t.items()
    )


def _list_json(t: Table) -> dict[str, object]:
    """What `pyipvs list --json` prints for the table (with some counters)."""
    return {
        "info": {"version": [1, 2, 1], "conn_tab_size": 4096},
        "services": [
            {
                **to_jsonable(ServiceStatus(s, Stats(conns=5), raw_flags=int(s.flags) | 2)),
                "servers": to_jsonable([ServerStatus(x, 1, 2, 0, Stats(9)) for x in v]),
            }
            for s, v in t.items()
        ],
    }


def test_save_format_round_trip() -> None:
    for seed in range(60):
        table = _no_thresholds(random_table(random.Random(seed)))  # -S never saves them
        text = save_text(table)
        assert sniff(text) == "save"
        assert loads(text) == table, seed


def test_json_and_yaml_round_trip() -> None:
    for seed in range(60):
        table = random_table(random.Random(seed))
        doc = _list_json(table)
        assert loads(json.dumps(doc)) == table, seed
        assert loads(yaml.safe_dump(doc), "yaml") == table, seed
        assert loads(json.dumps(doc["services"])) == table, seed  # the bare list


def test_flat_json_with_defaults() -> None:
    t = loads(
        json.dumps(
            {
                "services": [
                    {
                        "protocol": "udp", "address": "198.18.0.1", "port": 53,
                        "scheduler": "rr", "flags": ["persistent"], "timeout": 60,
                        "netmask": "255.255.255.0",
                        "servers": [{"address": "10.1.0.1"}, {"address": "10.1.0.2",
                                    "forward": "masq", "port": 5353, "weight": 3}],
                    },
                    {"fwmark": 7, "family": "inet6", "servers": []},
                ]
            }
        )
    )  # fmt: skip
    svc, fw = t.services
    assert svc.key == ServiceKey.udp("198.18.0.1", 53)
    assert (svc.scheduler, svc.flags, svc.timeout, svc.netmask) == (
        "rr", ServiceFlag.PERSISTENT, 60, 0xFFFFFF00,
    )  # fmt: skip
    a, b = t.servers_of(svc.key)
    assert (a.port, a.forward, a.weight) == (53, Forward.ROUTE, 1)  # port: the service's
    assert (b.port, b.forward, b.weight) == (5353, Forward.MASQ, 3)
    assert fw.key == ServiceKey.fw(7, Family.INET6) and fw.scheduler == "wlc"
    assert fw.netmask == 128 and t.servers_of(fw.key) == ()


def test_yaml_is_sniffed() -> None:
    text = (
        "services:\n  - address: 198.18.0.1\n    port: 80\n    servers:\n"
        "      - address: 10.1.0.1\n        tun_type: gue\n        forward: tunnel\n"
        "        tun_port: 6080\n"
    )
    t = loads(text)
    (s,) = t.servers_of(ServiceKey.tcp("198.18.0.1", 80))
    assert (s.forward, s.tun_type, s.tun_port) == (Forward.TUNNEL, TunnelType.GUE, 6080)
    assert sniff("- address: 1.2.3.4\n") == "yaml"
    assert sniff("# c\n\n-A -t 1.2.3.4:80\n") == "save"
    assert sniff("  [") == "json"


def test_data_errors_are_collected_with_paths() -> None:
    doc = {
        "services": [
            {"address": "198.18.0.1", "port": 80, "wieght": 3},
            {
                "address": "198.18.0.2",
                "port": 80,
                "servers": [{"address": "10.1.0.1", "forward": "nat"}],
            },
            {"address": "198.18.0.3", "port": 80, "flags": ["hashed"]},
            {"address": "198.18.0.4", "port": 80},
            {"address": "198.18.0.4", "port": 80},
            {
                "address": "198.18.0.5",
                "port": 80,
                "servers": [{"address": "10.1.0.1", "weight": -1}],
            },
        ]
    }
    with pytest.raises(DesiredError) as ei:
        loads(json.dumps(doc), source="d.json")
    p = ei.value.problems
    assert len(p) == 5, p
    assert p[0] == "$.services[0].wieght: unknown field"
    assert p[1].startswith("$.services[1].servers[0].forward: unknown Forward 'nat'")
    assert p[2].startswith("$.services[2].flags:")
    assert p[3] == "$.services[4]: the same service as $.services[3]"
    assert "weight must be an integer in 0.." in p[4]
    with pytest.raises(DesiredError, match="not valid JSON"):
        loads("{", "json")


def test_save_lines_run_against_an_empty_table() -> None:
    text = """\
# a comment, as in pyipvs restore
-A -t 198.18.0.1:80 -s rr
-a -t 198.18.0.1:80 -r 10.1.0.1 -w 2
-a -t 198.18.0.1:80 -r 10.1.0.2 -m
-E -t 198.18.0.1:80 -s wrr -p 60
-e -t 198.18.0.1:80 -r 10.1.0.2 -m -w 7 -x 10 -y 5
-d -t 198.18.0.1:80 -r 10.1.0.1
-A -f 5
-D -f 5
-Z
"""
    t = loads(text)
    (svc,) = t.services
    assert (svc.scheduler, svc.flags, svc.timeout) == ("wrr", ServiceFlag.PERSISTENT, 60)
    (s,) = t.servers_of(svc.key)
    assert (str(s.address), s.port, s.weight, s.u_threshold, s.l_threshold) == (
        "10.1.0.2", 80, 7, 10, 5,
    )  # fmt: skip
    assert loads("-A -t 198.18.0.1:80\n-C\n") == Table()


def test_save_errors_name_their_lines() -> None:
    text = """\
-A -t 198.18.0.1:80
-A -t 198.18.0.1:80
-a -t 198.18.0.2:80 -r 10.1.0.1
-a -t 198.18.0.1:80 -r 10.1.0.1 -w abc
--set 1 2 3
-A -t 198.18.0.3:80 --bogus
-e -t 198.18.0.1:80 -r 10.1.0.9
"""
    with pytest.raises(DesiredError) as ei:
        loads(text, source="t.rules")
    p = ei.value.problems
    assert [x.split(":", 1)[0] for x in p] == [f"line {n}" for n in (2, 3, 4, 5, 6, 7)]
    assert p[0].endswith("Service already exists")
    assert p[1].endswith("Service not defined")
    assert p[2].endswith("illegal weight specified")
    assert p[3].endswith("not part of a service table")
    assert p[5].endswith("No such destination")


def _cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(["pyipvs", *argv], io.StringIO(stdin), out, err)
    return rc, out.getvalue(), err.getvalue()


def test_cli_input_errors_exit_2_before_touching_the_kernel(tmp_path: object) -> None:
    rc, out, err = _cli("diff", "-", stdin="-A -t 198.18.0.1:80\n-A -t 198.18.0.1:80\n")
    assert rc == 2 and out == ""
    assert "pyipvs diff: <stdin>: line 2: -A -t 198.18.0.1:80: Service already exists" in err
    rc, _, err = _cli("apply", "--dry-run", "-", stdin='{"services": 3}')
    assert rc == 2 and "expected a list of services" in err
    rc, _, err = _cli("apply", "--drain", "-1", "-")
    assert rc == 2 and "--drain" in err
    rc, _, err = _cli("diff", "--address", "not-an-address", "-")
    assert rc == 2 and "bad --address" in err
    rc, _, err = _cli("diff", "/nonexistent/file.rules")
    assert rc == 2 and "No such file" in err
