"""Tunables, global counters and helpers against the real kernel: what pyipvs
reads and writes is checked with `sysctl` and `cat` run inside the same
fresh namespace, and the kernel's own reactions are observed."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from typing import Any

import pytest
from conftest import Netns

from pyipvs import sysctl
from pyipvs.cli.pyipvs_sys import SUBCOMMANDS
from pyipvs.errors import IPVSValueError
from pyipvs.globalstats import AppHelper, GlobalStats, read_app_helpers, read_global_stats
from pyipvs.model import Protocol, Stats

INT_MAX = 2**31 - 1

# A valid value other than the default for every tunable we can set. Defense
# modes use 3: the kernel itself moves 1 and 2 back and forth every second.
NEW_VALUES: dict[str, Any] = {
    "amemthresh": 2048, "am_droprate": 20, "drop_entry": 3, "drop_packet": 3,
    "conntrack": True, "secure_tcp": 3, "snat_reroute": False, "sync_version": 0,
    "sync_ports": 4, "sync_persist_mode": 1, "sync_qlen_max": 1000,
    "sync_sock_size": 65536, "cache_bypass": True, "expire_nodest_conn": True,
    "sloppy_tcp": True, "sloppy_sctp": True, "expire_quiescent_template": True,
    "sync_threshold": (5, 60), "sync_refresh_period": 30, "sync_retries": 2,
    "nat_icmp_send": True, "pmtu_disc": False, "backup_only": True,
    "conn_reuse_mode": 2, "schedule_icmp": True, "ignore_tunneled": True,
    "run_estimation": False, "est_cpulist": (0,), "est_nice": 5,
    "lblc_expiration": 3600, "lblcr_expiration": 7200,
}  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _modules() -> None:
    # Scheduler modules add their own tunables; the ftp helper registers in
    # every namespace, existing and new.
    for module in ("ip_vs_lblc", "ip_vs_lblcr", "ip_vs_ftp"):
        subprocess.run(["modprobe", module], check=True)


def kernel_values(ns: Netns, names: list[str]) -> dict[str, str]:
    """`sysctl -n` of every name, in one process inside the namespace."""
    r = ns.run(["sysctl", "-n", *(f"net.ipv4.vs.{n}" for n in names)])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[-1] == "" and len(lines) == len(names) + 1, r.stdout
    return dict(zip(names, lines))


def test_every_tunable_read_agrees_with_sysctl(netns: Netns) -> None:
    vs = sysctl.Sysctl(netns.path)
    names = vs.names()
    listed = netns.run(["ls", "/proc/sys/net/ipv4/vs"]).stdout.split()
    assert sorted(names) == sorted(listed)
    assert {"drop_entry", "secure_tcp", "sync_threshold", "lblc_expiration"} <= set(names)
    values = vs.get_all()
    assert list(values) == names
    assert kernel_values(netns, names) == {n: sysctl.format_value(n, v) for n, v in values.items()}
    # Defaults of a fresh namespace, typed.
    assert values["sync_threshold"] == (3, 50)
    assert values["pmtu_disc"] is True and values["cache_bypass"] is False
    assert values["amemthresh"] == 1024 and values["lblc_expiration"] == 86400


def test_every_settable_tunable_is_seen_by_sysctl(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    vs = sysctl.Sysctl(a.path)
    names = [n for n in vs.names() if n in NEW_VALUES]
    assert len(names) >= 29
    with open("/proc/sys/net/ipv4/vs/drop_entry") as f:
        init_before = f.read()
    before_b = kernel_values(b, names)
    for name in names:
        assert vs.set(name, NEW_VALUES[name]) == NEW_VALUES[name], name
    expected = {n: sysctl.format_value(n, NEW_VALUES[n]) for n in names}
    assert kernel_values(a, names) == expected
    assert {n: v for n, v in vs.get_all().items() if n in NEW_VALUES} == {
        n: NEW_VALUES[n] for n in names
    }
    # Only that namespace changed.
    assert kernel_values(b, names) == before_b
    with open("/proc/sys/net/ipv4/vs/drop_entry") as f:
        assert f.read() == init_before


def test_set_many_and_text_forms(netns: Netns) -> None:
    vs = sysctl.Sysctl(netns.path)
    vs.set_many({"sync_threshold": "7 0", "cache_bypass": "on", "sync_ports": "2"})
    assert kernel_values(netns, ["sync_threshold", "cache_bypass", "sync_ports"]) == {
        "sync_threshold": "7\t0", "cache_bypass": "1", "sync_ports": "2",
    }  # fmt: skip


def test_kernel_acts_on_defense_modes(netns: Netns) -> None:
    vs = sysctl.Sysctl(netns.path)
    # Memory is plentiful: "active" (2) falls back to "armed" (1) at once.
    assert vs.set("drop_entry", 2) == 1
    # A threshold above all memory makes the kernel activate the armed modes
    # on its next check (every second), and drop them when it is lowered.
    vs.set_many({"amemthresh": INT_MAX, "drop_entry": 1, "secure_tcp": 1, "drop_packet": 1})
    assert _eventually(netns, {"drop_entry": "2", "secure_tcp": "2", "drop_packet": "2"})
    vs.set("amemthresh", 1024)
    assert _eventually(netns, {"drop_entry": "1", "secure_tcp": "1", "drop_packet": "1"})
    # Mode 3 is never touched by the kernel.
    vs.set_many({"drop_entry": 3, "amemthresh": INT_MAX})
    time.sleep(2.5)
    assert kernel_values(netns, ["drop_entry"]) == {"drop_entry": "3"}


def _eventually(ns: Netns, want: dict[str, str], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if kernel_values(ns, list(want)) == want:
            return True
        time.sleep(0.5)
    return False


TCP_CONN = r"""
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 8080)); l.listen(); l.settimeout(5)
c = socket.create_connection(("10.0.0.254", 80), timeout=5); a, _ = l.accept()
time.sleep(0.5)  # the client's ACK has reached IPVS; nothing else is sent
cport = "%04X" % c.getsockname()[1]
rows = [line.split() for line in open("/proc/net/ip_vs_conn").read().splitlines()[1:]]
print(*[row[7] for row in rows if row[0] == "TCP" and row[2] == cport])
"""


def test_secure_tcp_changes_the_state_table(netns: Netns) -> None:
    assert netns.ipvsadm("-A", "-t", "10.0.0.254:80", "-s", "rr").returncode == 0
    assert netns.ipvsadm("-a", "-t", "10.0.0.254:80", "-r", "127.0.0.1:8080", "-m").returncode == 0
    vs = sysctl.Sysctl(netns.path)
    states = {}
    for mode in (0, 3):
        assert vs.set("secure_tcp", mode) == mode
        r = netns.run([sys.executable, "-c", TCP_CONN])
        assert r.returncode == 0, r.stderr
        states[mode] = r.stdout.strip()
    # The handshake alone establishes a NAT entry in the normal table; the
    # secure table waits for the real server to send more than its SYN-ACK.
    assert states == {0: "ESTABLISHED", 3: "SYNACK"}


@pytest.mark.parametrize(
    ("name", "value", "message", "kernel_refuses"),
    [
        ("drop_entry", 4, "drop_entry: expected 0..3, got 4", True),
        ("secure_tcp", -1, "secure_tcp: expected 0..3, got -1", True),
        ("sync_ports", 3, "sync_ports: expected a power of two (1, 2, 4, ...), got 3", True),
        ("sync_version", 2, "sync_version: expected 0..1, got 2", True),
        ("sync_retries", 4, "sync_retries: expected 0..3, got 4", True),
        (
            "sync_threshold",
            (5, 5),
            "sync_threshold: THRESHOLD must be below PERIOD (or PERIOD 0), got (5, 5)",
            True,
        ),
        (
            "cache_bypass",
            7,
            "cache_bypass: expected 0 or 1, got 7",
            False,
        ),  # the kernel would store 7
        ("amemthresh", -5, "amemthresh: expected 0..2147483647, got -5", False),
        ("conn_reuse_mode", 9, "conn_reuse_mode: expected 0..3, got 9", False),
        ("am_droprate", "abc", "am_droprate: expected an integer, got 'abc'", True),
        ("sync_refresh_period", 10**8, "sync_refresh_period: the kernel refused '100000000'", True),
        (
            "debug_level",
            1,
            "debug_level: not present on this kernel (needs CONFIG_IP_VS_DEBUG)",
            True,
        ),
        ("no_such_tunable", 1, "unknown IPVS tunable 'no_such_tunable'", True),
    ],
)
def test_invalid_values_change_nothing(
    netns: Netns, name: str, value: object, message: str, kernel_refuses: bool
) -> None:
    vs = sysctl.Sysctl(netns.path)
    names = vs.names()
    before = kernel_values(netns, names)
    with pytest.raises(IPVSValueError) as info:
        vs.set(name, value)
    assert str(info.value) == message
    # A batch with one bad value writes none of the good ones.
    with pytest.raises(IPVSValueError):
        vs.set_many({"expire_nodest_conn": 1, name: value})
    assert kernel_values(netns, names) == before
    if name in names:
        text = " ".join(map(str, value)) if isinstance(value, tuple) else str(value)
        r = netns.run(["sysctl", "-w", f"net.ipv4.vs.{name}={text}"])
        assert (r.returncode != 0) == kernel_refuses, r.stderr


UDP_TRAFFIC = r"""
import socket, sys
n = int(sys.argv[1])
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(("127.0.0.1", 9000))
cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.settimeout(5); cli.settimeout(5)
for _ in range(n):
    cli.sendto(b"x" * 100, ("10.0.0.254", 9000))
    data, peer = srv.recvfrom(2048)
    srv.sendto(data, peer)
    assert cli.recvfrom(2048)[0] == data
"""

FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
RATES = ("cps", "inpps", "outpps", "inbps", "outbps")


def proc_stats(ns: Netns) -> dict[str, int]:
    """/proc/net/ip_vs_stats as cat shows it, decoded here independently."""
    r = ns.run(["cat", "/proc/net/ip_vs_stats"])
    lines = r.stdout.split("\n")
    values = [int(x, 16) for x in lines[2].split()] + [int(x, 16) for x in lines[5].split()]
    return dict(zip(FIELDS + RATES, values))


def as_dict(stats: Any) -> dict[str, int]:
    return {f: getattr(stats, f) for f in FIELDS + RATES}


def _udp_service(ns: Netns) -> None:
    assert ns.ipvsadm("-A", "-u", "10.0.0.254:9000", "-s", "rr").returncode == 0
    r = ns.ipvsadm("-a", "-u", "10.0.0.254:9000", "-r", "127.0.0.1:9000", "-m")
    assert r.returncode == 0, r.stderr


def _traffic(ns: Netns, datagrams: int) -> None:
    r = ns.run([sys.executable, "-c", UDP_TRAFFIC, str(datagrams)])
    assert r.returncode == 0, r.stderr


def _settled(ns: Netns) -> Stats:
    """Our totals, equal to what cat shows just before and just after. The
    kernel folds the per-CPU counters into the totals, and computes rates,
    at each estimator tick (every 2 s): equal neighbours mean no tick fell
    between the reads."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        theirs = proc_stats(ns)
        mine = read_global_stats(ns.path).stats
        if as_dict(mine) == theirs == proc_stats(ns):
            return mine
    raise AssertionError("the totals never held still between two reads")


def _cpu_sum(g: GlobalStats, field: str) -> int:
    return sum(getattr(c, field) for c in g.per_cpu)


def test_global_counters_grow_with_real_traffic(netns: Netns) -> None:
    _udp_service(netns)
    before = read_global_stats(netns.path, per_cpu=True)
    _traffic(netns, 200)
    # The per-CPU rows count every packet at once.
    live = read_global_stats(netns.path, per_cpu=True)
    assert _cpu_sum(live, "inpkts") - _cpu_sum(before, "inpkts") >= 200
    assert _cpu_sum(live, "outpkts") - _cpu_sum(before, "outpkts") >= 200
    # The totals and the rates follow at the next estimator tick.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        total = _settled(netns)
        if total.inpkts - before.stats.inpkts >= 200 and total.inpps > 0:
            break
        time.sleep(0.5)
    assert total.conns - before.stats.conns >= 1
    assert total.inpkts - before.stats.inpkts >= 200
    assert total.outpkts - before.stats.outpkts >= 200
    assert total.inbytes - before.stats.inbytes >= 200 * 128  # payload + UDP + IP
    assert total.outbytes - before.stats.outbytes >= 200 * 128
    assert total.inpps > 0 and total.outpps > 0 and total.inbps > 0 and total.outbps > 0
    # One row per possible CPU; with the traffic over, they sum to the totals.
    g = read_global_stats(netns.path, per_cpu=True)
    with open("/sys/devices/system/cpu/possible") as f:
        last = int(f.read().strip().split("-")[-1])
    assert [c.cpu for c in g.per_cpu] == list(range(last + 1))
    assert [_cpu_sum(g, f) for f in FIELDS] == [getattr(g.stats, f) for f in FIELDS]
    # A zero resets the totals, not the raw per-CPU counts.
    assert netns.ipvsadm("-Z").returncode == 0
    z = read_global_stats(netns.path, per_cpu=True)
    assert [getattr(z.stats, f) for f in FIELDS] == [0] * 5
    assert _cpu_sum(z, "inpkts") == _cpu_sum(g, "inpkts")
    assert proc_stats(netns)["inpkts"] == 0


def test_totals_stand_still_without_estimation(netns: Netns) -> None:
    _udp_service(netns)
    vs = sysctl.Sysctl(netns.path)
    assert vs.set("run_estimation", False) is False
    time.sleep(2.5)
    before = read_global_stats(netns.path, per_cpu=True)
    _traffic(netns, 50)
    time.sleep(4.5)
    frozen = read_global_stats(netns.path, per_cpu=True)
    assert _cpu_sum(frozen, "inpkts") - _cpu_sum(before, "inpkts") >= 50
    assert frozen.stats == before.stats
    assert vs.set("run_estimation", True) is True
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _settled(netns).inpkts < 50:
        time.sleep(0.5)
    assert _settled(netns).inpkts == _cpu_sum(read_global_stats(netns.path, per_cpu=True), "inpkts")


def test_helpers_are_listed(netns: Netns) -> None:
    helpers = read_app_helpers(netns.path)
    assert AppHelper("ftp", Protocol.TCP, 21, 0) in helpers
    text = netns.run(["cat", "/proc/net/ip_vs_app"]).stdout.splitlines()[1:]
    assert [(h.protocol.name, h.port, h.usecnt, h.name) for h in helpers] == [
        (p, int(port), int(use), name) for p, port, use, name in (line.split() for line in text)
    ]


def _cli(ns: Netns, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="pyipvs")
    parser.add_argument("--netns")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, setup, handler) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        setup(p)
        p.set_defaults(handler=handler)
    args = parser.parse_args(["--netns", ns.path, *argv])
    out, err = io.StringIO(), io.StringIO()
    rc = args.handler(args, out, err)
    return rc, out.getvalue(), err.getvalue()


def test_cli_subcommands(netns: Netns) -> None:
    rc, out, err = _cli(netns, "sysctl", "set", "secure_tcp=3", "net.ipv4.vs.sync_threshold=4 40")
    assert (rc, out, err) == (0, "secure_tcp = 3\nsync_threshold = 4\t40\n", "")
    rc, out, _ = _cli(netns, "sysctl", "show", "--json")
    doc = json.loads(out)
    assert doc["secure_tcp"] == 3 and doc["sync_threshold"] == [4, 40] and doc["pmtu_disc"] is True
    assert list(doc) == sysctl.Sysctl(netns.path).names()
    rc, out, _ = _cli(netns, "sysctl", "show", "secure_tcp", "drop_entry")
    assert out == "secure_tcp = 3\ndrop_entry = 0\n"
    rc, out, err = _cli(netns, "sysctl", "set", "drop_entry=9", "secure_tcp=0")
    assert (rc, out, err) == (2, "", "pyipvs sysctl: drop_entry: expected 0..3, got '9'\n")
    assert kernel_values(netns, ["secure_tcp"]) == {"secure_tcp": "3"}
    rc, out, _ = _cli(netns, "stats", "--json", "--per-cpu")
    doc = json.loads(out)
    assert rc == 0 and doc["totals"]["conns"] == 0 and len(doc["per_cpu"]) >= 1
    rc, out, _ = _cli(netns, "stats")
    assert rc == 0 and out.splitlines()[1].split()[0] == "Total"
    rc, out, _ = _cli(netns, "helpers", "--json")
    assert {"name": "ftp", "protocol": "tcp", "port": 21, "usecnt": 0} in json.loads(out)
    rc, out, _ = _cli(netns, "helpers")
    assert out.splitlines()[1].split() == ["ftp", "TCP", "21", "0"]
