"""Exporter benchmark (benchmarks layer): what one Prometheus scrape of a huge
table costs, split into its parts, against ipvsadm reading the same counters.
Needs root and IPVS, so it runs in the VM:

    PATH=/work/venv/bin:$PATH ci/vm-run.sh \\
      '/work/venv/bin/python benchmarks/bench_exporter.py --reps 3 5000x10'

The table (benchmarks/gen_rules.py) is built with the batch engine in a
fresh network namespace. Timed, interleaved, `--reps` times, best and median:

  snapshot       pyipvs.snapshot.take(): the whole table with counters
  families       pyipvs.exporter.metrics.table_families() on that snapshot:
                 one metric family per name, one sample per series
  exposition     prometheus_client.generate_latest() of those families
  scrape         IPVSCollector (max_age 0) + generate_latest(): snapshot,
                 /proc/net/ip_vs_stats, defense sysctls and text, in-process
  HTTP scrape    the same through the exporter's HTTP server, fetched over a
                 real socket (what Prometheus pays)
  ipvsadm --stats --exact  the program under nsenter: the counters as text,
                 which is what a script-based exporter would start from
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from prometheus_client import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from benchmarks.bench_list import fill, inside, machine, make_netns, run_in
from benchmarks.gen_rules import rules
from pyipvs.exporter import IPVSCollector, start_server
from pyipvs.exporter.metrics import table_families
from pyipvs.ipvs import IPVS
from pyipvs.snapshot import Snapshot, take


class Fixed(Collector):
    def __init__(self, families: list) -> None:  # type: ignore[type-arg]
        self.families = families

    def collect(self):  # type: ignore[no-untyped-def]
        return self.families


def bench(spec: str, reps: int) -> str:
    n_svc, n_srv = (int(x) for x in spec.split("x"))
    ns = make_netns()
    path = f"/run/netns/{ns}"
    times: dict[str, list[float]] = {}

    def timed(name: str, fn, *args):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = fn(*args)
        times.setdefault(name, []).append(time.perf_counter() - t)
        return out

    with IPVS(path) as ipvs:
        fill(ipvs, rules(n_svc, n_srv))
        collector = IPVSCollector(path, max_age=0)
        with inside(ns):
            httpd, thread = start_server(collector, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{httpd.server_port}/metrics"
        size = samples = 0
        try:
            for _ in range(reps):
                snap: Snapshot = timed("snapshot", take, ipvs)
                fams = timed("families", table_families, snap)
                registry = CollectorRegistry(auto_describe=False)
                registry.register(Fixed(fams))
                timed("exposition", generate_latest, registry)
                full = CollectorRegistry(auto_describe=False)
                full.register(collector)
                text = timed("scrape", generate_latest, full)
                with inside(ns):
                    body = timed(
                        "HTTP scrape", lambda: urllib.request.urlopen(url, timeout=600).read()
                    )
                size, samples = len(body), body.count(b"\n") - body.count(b"\n#")
                assert len(text) > 0
                timed(
                    "ipvsadm --stats --exact",
                    lambda: run_in(ns, ["ipvsadm", "-Ln", "--stats", "--exact"]),
                )
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(5)
            collector.close()
    os.system(f"ip netns del {ns}")
    base = min(times["snapshot"])
    lines = [f"### {spec} ({n_svc * n_srv + n_svc} services+servers), {reps} reps",
             "", f"exposition: {size} bytes, {samples} samples", "",
             "| step | best s | median s | x snapshot |", "| --- | --- | --- | --- |"]  # fmt: skip
    for name, ts in times.items():
        best = min(ts)
        lines.append(f"| {name} | {best:.3f} | {statistics.median(ts):.3f} | {best / base:.2f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tables", nargs="+", help="SERVICESxSERVERS, e.g. 5000x10")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv[1:])
    print(f"machine: {machine()}", flush=True)
    for spec in args.tables:
        print(bench(spec, args.reps), flush=True)
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
