"""The Prometheus exporter and `pyipvs list --json` against a real kernel
with real traffic (kernel tests: run through ci/vm-run.sh).

The exporter runs as the real `pyipvs exporter` command; its metrics are
fetched over a real HTTP socket, parsed with prometheus_client's parser and
compared with a library snapshot, with ipvsadm 1.31's exact counters, with
/proc/net/ip_vs_stats and with the defense sysctls. A second test removes
the watched namespace under a running server.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import urllib.request
from typing import Any

import stats_table
import traffic
from conftest import Netns, drop_netns, make_netns
from prometheus_client.parser import text_string_to_metric_families

from pyipvs import IPVS
from pyipvs.cli.pyipvs import main as pyipvs_main
from pyipvs.exporter import IPVSCollector, backend_labels, service_labels, start_server

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def fetch(ns: Netns, port: int) -> str:
    # The exporter listens inside the test namespace; connect from there.
    url = f"http://127.0.0.1:{port}/metrics"
    with traffic.inside(ns), urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200
        return str(resp.read().decode())


def get(m: Samples, name: str, **labels: str) -> float:
    hits = [
        v
        for (n, ls), v in m.items()
        if n == name and all((k, v2) in ls for k, v2 in labels.items())
    ]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


def ipvsadm_name(labels: dict[str, str]) -> str:
    """The service column of ipvsadm -Ln from the exporter's labels."""
    if labels["proto"] == "FWM":
        return f"FWM {int(labels['local_mark'], 16)}"
    addr = labels["local_address"]
    addr = f"[{addr}]" if ":" in addr else addr
    return f"{labels['proto']} {addr}:{labels['local_port']}"


def endpoint(addr: str, port: str) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def ipvsadm_rows(text: str) -> dict[tuple[str, str], list[int]]:
    """(service, server or '') -> the numbers of one ipvsadm -Ln row."""
    rows: dict[tuple[str, str], list[int]] = {}
    service = ""
    for line in text.splitlines()[3:]:
        f = line.split()
        if f[0] == "->":
            rows[(service, f[1])] = [int(x) for x in f[2:] if x.isdigit()]
        else:
            service = f"{f[0]} {f[1]}"
            rows[(service, "")] = [int(x) for x in f[2:] if x.isdigit()]
    return rows


def proc_global(ns: Netns) -> list[int]:
    """Totals of /proc/net/ip_vs_stats of the namespace, parsed here (hex)."""
    with traffic.inside(ns), open("/proc/thread-self/net/ip_vs_stats") as f:
        return [int(x, 16) for x in f.read().splitlines()[2].split()]


def live_counts(m: Samples) -> dict[tuple[str, str], list[int]]:
    """(service, server) -> [weight, active, inactive] from the metrics, keyed
    as ipvsadm_rows keys ipvsadm -Ln's rows."""
    out: dict[tuple[str, str], list[int]] = {}
    for (name, labels), v in m.items():
        if name == "node_ipvs_backend_weight":
            ls = dict(labels)
            where = (ipvsadm_name(ls), endpoint(ls["remote_address"], ls["remote_port"]))
            out[where] = [
                int(v),
                int(get(m, "node_ipvs_backend_connections_active", **ls)),
                int(get(m, "node_ipvs_backend_connections_inactive", **ls)),
            ]
    return out


COUNTERS = (
    "connections",
    "incoming_packets",
    "outgoing_packets",
    "incoming_bytes",
    "outgoing_bytes",
)


def test_exporter_serves_what_the_kernel_holds(netns: Netns) -> None:
    n = 6
    with IPVS(netns.path) as ipvs:
        stats_table.build(ipvs)
        stats_table.send(netns, n)
        snap = stats_table.settle(ipvs, n)
    with traffic.inside(netns), open("/proc/sys/net/ipv4/vs/drop_entry", "w") as f:
        f.write("3\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        ["nsenter", f"--net={netns.path}", sys.executable, "-m", "pyipvs.cli.pyipvs",
         "--netns", netns.name, "exporter", "--listen", "127.0.0.1:0", "--max-age", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "serving on 127.0.0.1:" in line, line + proc.stderr.read()
        port = int(line.rsplit(":", 1)[1])
        # Active/inactive counts are live and drop as entries expire: scrape
        # and run ipvsadm -Ln right after, until one pair saw the same state.
        for _ in range(3):
            m = parse(fetch(netns, port))
            live = ipvsadm_rows(netns.ipvsadm_out("-Ln"))
            if live_counts(m) == {k: v for k, v in live.items() if k[1]}:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert live_counts(m) == {k: v for k, v in live.items() if k[1]}

    for source in ("table", "global", "defense"):
        assert get(m, "pyipvs_scrape_success", source=source) == 1
    assert get(m, "pyipvs_services") == 4 and get(m, "pyipvs_backends") == 5

    # Per service and per backend: the exporter, the snapshot and ipvsadm agree.
    stats = ipvsadm_rows(netns.ipvsadm_out("-Ln", "--stats", "--exact"))
    for status, servers in snap.items():
        sl = dict(
            zip(("local_address", "local_port", "proto", "local_mark"), service_labels(status.key))
        )
        name = ipvsadm_name(sl)
        want = [status.stats.conns, status.stats.inpkts, status.stats.outpkts,
                status.stats.inbytes, status.stats.outbytes]  # fmt: skip
        got = [get(m, f"pyipvs_service_{c}_total", **sl) for c in COUNTERS]
        assert got == want == stats[(name, "")], name
        assert want[0] >= n and want[1] > 0 and want[3] > 0
        for srv in servers:
            bl = dict(zip(("local_address", "local_port", "remote_address", "remote_port",
                           "proto", "local_mark"), backend_labels(status.key, srv)))  # fmt: skip
            where = (name, endpoint(bl["remote_address"], bl["remote_port"]))
            s = srv.stats
            want = [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
            assert (
                [get(m, f"pyipvs_backend_{c}_total", **bl) for c in COUNTERS]
                == want
                == stats[where]
            )
            assert get(m, "node_ipvs_backend_weight", **bl) == srv.server.weight
    web = {"local_address": "10.0.0.254", "local_port": "80", "proto": "TCP", "local_mark": ""}
    assert get(m, "pyipvs_service_connections_total", **web) == n
    mark = {"local_address": "", "local_port": "0", "proto": "FWM", "local_mark": "00000007"}
    assert get(m, "pyipvs_service_connections_total", **mark) == n

    # Global counters: node_exporter's names, /proc/net/ip_vs_stats' numbers.
    assert [get(m, f"node_ipvs_{c}_total") for c in COUNTERS] == proc_global(netns)
    assert get(m, "node_ipvs_connections_total") == 4 * n

    # Defense states as the sysctls hold them.
    assert get(m, "pyipvs_defense_mode", strategy="drop_entry") == 3
    assert get(m, "pyipvs_defense_active", strategy="drop_entry") == 1
    assert get(m, "pyipvs_defense_mode", strategy="secure_tcp") == 0
    assert get(m, "pyipvs_defense_active", strategy="drop_packet") == 0
    with traffic.inside(netns), open("/proc/sys/net/ipv4/vs/amemthresh") as f:
        assert get(m, "pyipvs_defense_amemthresh_pages") == int(f.read())

    # `pyipvs list --json`: the same table, 64-bit counters and rates.
    out, err_out = io.StringIO(), io.StringIO()
    assert (
        pyipvs_main(
            ["pyipvs", "--netns", netns.name, "list", "--json"], io.StringIO(), out, err_out
        )
        == 0
    ), err_out.getvalue()
    doc: dict[str, Any] = json.loads(out.getvalue())
    assert len(doc["services"]) == 4
    for entry, (status, servers) in zip(doc["services"], snap.items()):
        assert entry["stats"]["conns"] == status.stats.conns
        assert entry["stats"]["inbytes"] == status.stats.inbytes
        assert set(entry["stats"]) >= {"cps", "inpps", "outpps", "inbps", "outbps"}
        assert [s["stats"]["inpkts"] for s in entry["servers"]] == [s.stats.inpkts for s in servers]
        assert [s["server"]["weight"] for s in entry["servers"]] == [
            s.server.weight for s in servers
        ]


def test_exporter_survives_the_namespace_going_away(netns: Netns) -> None:
    watched = make_netns()
    try:
        with IPVS(watched.path) as ipvs:
            stats_table.build(ipvs)
        collector = IPVSCollector(watched.path, max_age=0)
        with traffic.inside(netns):  # the server's socket lives in `netns`
            httpd, thread = start_server(collector, "127.0.0.1", 0)
        try:
            m = parse(fetch(netns, httpd.server_port))
            assert get(m, "pyipvs_scrape_success", source="table") == 1
            assert get(m, "pyipvs_services") == 4
            drop_netns(watched)
            m = parse(fetch(netns, httpd.server_port))
            for source in ("table", "global", "defense"):
                assert get(m, "pyipvs_scrape_success", source=source) == 0
                assert get(m, "pyipvs_scrape_errors_total", source=source) == 1
            msg = f"no network namespace at {watched.path}"
            assert get(m, "pyipvs_scrape_error", source="table", message=msg) == 1
            assert not any(n == "pyipvs_services" for n, _ in m)
            # A new namespace under the same name is followed, not the old handle.
            subprocess.run(["ip", "netns", "add", watched.name], check=True)
            m = parse(fetch(netns, httpd.server_port))
            assert get(m, "pyipvs_scrape_success", source="table") == 1
            assert get(m, "pyipvs_services") == 0
            assert get(m, "node_ipvs_connections_total") == 0
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(5)
            collector.close()
    finally:
        drop_netns(watched)
