"""Sustained polling benchmark (benchmarks layer): what polling a huge table
every 2 s costs in CPU, beyond the kernel's own work. Needs root and IPVS,
so it runs in the VM:

    PATH=/work/venv/bin:$PATH ci/vm-run.sh \\
      'cd /work/main && .venv-wheel/bin/python benchmarks/bench_poll.py 5000x10'

The library is the tree's (build it in place first), as in bench_exporter.py;
the interpreter is the one running this script (CI's and the benchmarks'
venvs use Debian's python3).

The kernel refreshes IPVS counters every 2 s, so that is the interval worth
polling at. The table (benchmarks/gen_rules.py) is built with the batch
engine in a fresh network namespace. The pollers take turns, one read per
tick of a fixed 2 s schedule, for `--cycles` cycles of one tick each
(`--pollers` picks the library's; both by default):

  floor      benchmarks/list_floor.c `small`, paced by this script over a
             pipe: the cheapest sequence of kernel reads yielding the table
             (bench_list.py), replies discarded unparsed; its CPU is what
             no reader avoids
  counters   pyipvs.snapshot.take_counters() on an IPVS object of its own,
             what poll(ipvs, 2.0, read=take_counters) yields: the
             consistent C read kept as columns
  snapshots  pyipvs.snapshot.take() on another, what poll(ipvs, 2.0)
             yields: a Snapshot per tick (servers stay raw until asked for)

`--cpu N` pins every poller to one CPU (this process before its IPVS
objects start their worker threads, and the floor, which inherits it). In
the emulated VM the two vCPUs did not run equally fast: unpinned, the
library's worker thread, woken for each read, cost 85-166 ms more per read
than a call on the caller's thread, and pinned to one vCPU the difference
vanished (-26 +- 64 ms; benchmarks/RESULTS.md, session 22). Where a read
runs then decides part of what it costs, which pinning takes out.

CPU is each process's (CLOCK_PROCESS_CPUTIME_ID: every thread, user and
system, kernel work in its system calls included) for each read. The
kernel's share of a read swings by 2x within one boot of the emulated VM,
so a library read is compared with the floor reads just before and after
it (the mean of the two; the floor reads once per cycle): "beyond the
floor" is the mean of those paired differences, with its standard error,
per read and as a share of one core at one read per 2 s (the issue's
"< 5 % of one core in the library"). User time (getrusage; the guest
samples it in ticks, so only the mean over many reads means anything) is
paired the same way. The library and the floor send the same requests
for a read (one service dump, then one dump per service on a small-chunk
socket; strace, session 22), so the kernel's work is the same and user
time beyond the floor's is the library's own work, measured without the
kernel's swings; CPU beyond the floor adds any system time the library
causes on top, with those swings in its error.

Up to session 20 each poller ran a period of its own (15 reads, then the
next poller); drift between periods made the differences swing from
-800 to +550 ms.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks.bench_list import ENV, build_floor, fill, machine, make_netns
from benchmarks.gen_rules import rules
from pyipvs.ipvs import IPVS
from pyipvs.snapshot import take, take_counters

POLLERS = ("counters", "snapshots")


class Floor:
    """list_floor in the namespace, one read per line written to it."""

    def __init__(self, ns: str, exe: str) -> None:
        self.p = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{ns}", exe, "small", "1", "1000000", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=ENV,
        )  # fmt: skip

    def read(self) -> tuple[float, float]:
        """One read: its CPU and user seconds, as the floor measured them."""
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write("go\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, self.p.stderr.read() if self.p.stderr else "floor ended"
        f = line.split()
        return float(f[6]), float(f[7])

    def close(self) -> int:
        """End it: its minor faults, start-up included."""
        assert self.p.stdin is not None
        u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.p.stdin.close()
        rc = self.p.wait(timeout=60)
        assert rc == 0, self.p.stderr.read() if self.p.stderr else rc
        u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return u1.ru_minflt - u0.ru_minflt


def own_read(read: Callable[[], object]) -> tuple[float, float, int]:
    """One read in this process: CPU, user seconds and minor faults."""
    r0, c0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
    read()
    c1, r1 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
    return c1 - c0, r1.ru_utime - r0.ru_utime, r1.ru_minflt - r0.ru_minflt


def bench(spec: str, cycles: int, interval: float, exe: str, pollers: tuple[str, ...]) -> str:
    n_svc, n_srv = (int(x) for x in spec.split("x"))
    ns = make_netns()
    path = f"/run/netns/{ns}"
    names = ("floor", *pollers)
    cpu: dict[str, list[float]] = {n: [] for n in names}
    user: dict[str, list[float]] = {n: [] for n in names}
    faults = dict.fromkeys(pollers, 0)
    try:
        with IPVS(path, timeout=600) as a, IPVS(path, timeout=600) as b:
            print(f"{spec}: built in {fill(a, rules(n_svc, n_srv)):.1f} s", file=sys.stderr)
            assert take_counters(a).server_count() == n_svc * n_srv
            take(b)  # each poller's first read (its memo and service list) is not measured
            floor = Floor(ns, exe)
            try:
                floor.read()  # nor the floor's (its first chunks, its buffers)
                reads: dict[str, Callable[[], object]] = {
                    "counters": lambda: take_counters(a),
                    "snapshots": lambda: take(b),
                }
                start = time.monotonic()
                # cycles of one tick per poller, and a last floor read to
                # pair the last cycle with
                for tick in range(len(names) * cycles + 1):
                    time.sleep(max(0.0, start + tick * interval - time.monotonic()))
                    name = names[tick % len(names)]
                    if name == "floor":
                        c, u = floor.read()
                    else:
                        c, u, f = own_read(reads[name])
                        faults[name] += f
                    cpu[name].append(c)
                    user[name].append(u)
                    if tick % 30 == 0:
                        print(f"  tick {tick}: {name} {cpu[name][-1]:.3f} s", file=sys.stderr)
            finally:
                floor_faults = floor.close()
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return report(spec, cpu, user, faults, floor_faults, interval)


def _sem(xs: list[float]) -> float:
    return statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")


def _paired(xs: list[float], floor: list[float]) -> list[float]:
    """Each read minus the mean of the floor reads just before and after it."""
    return [x - (a + b) / 2 for x, (a, b) in zip(xs, itertools.pairwise(floor), strict=True)]


def report(
    spec: str,
    cpu: dict[str, list[float]],
    user: dict[str, list[float]],
    faults: dict[str, int],
    floor_faults: int,
    interval: float,
) -> str:
    fl, n = cpu["floor"], len(cpu["floor"]) - 1
    share = f"share of a core at one read per {interval:g} s"
    lines = [
        f"### {spec}: {n} reads per poller, one read every {interval:g} s in turn",
        "",
        (
            "| poller | CPU per read, mean (median) | user per read | minor faults per read | "
            f"CPU beyond the floor per read, mean +- s.e. | {share} | user beyond the floor's "
            f"| its {share} |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        (
            f"| floor | {statistics.mean(fl) * 1000:.1f} ms ({statistics.median(fl) * 1000:.1f}) | "
            f"{statistics.mean(user['floor']) * 1000:.1f} ms | "
            f"{floor_faults / len(fl):.0f} (start-up included) | - | - | - | - |"
        ),
    ]
    for name in faults:
        xs = cpu[name]
        d = _paired(xs, fl)
        du = _paired(user[name], user["floor"])
        pct, pct_se = statistics.mean(d) / interval * 100, _sem(d) / interval * 100
        lines.append(
            f"| {name} | {statistics.mean(xs) * 1000:.1f} ms "
            f"({statistics.median(xs) * 1000:.1f}) | {statistics.mean(user[name]) * 1000:.1f} ms | "
            f"{faults[name] / n:.0f} | "
            f"{statistics.mean(d) * 1000:.1f} +- {_sem(d) * 1000:.1f} ms | "
            f"**{pct:.2f} %** (+- {pct_se:.2f}) | "
            f"{statistics.mean(du) * 1000:.1f} +- {_sem(du) * 1000:.1f} ms | "
            f"{statistics.mean(du) / interval * 100:.2f} % (+- {_sem(du) / interval * 100:.2f}) |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tables", nargs="+", help="SERVICESxSERVERS, e.g. 5000x10")
    ap.add_argument("--cycles", type=int, default=30, help="reads per poller")
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between ticks")
    ap.add_argument("--cpu", type=int, help="pin every poller to this CPU")
    ap.add_argument(
        "--pollers",
        default=",".join(POLLERS),
        help=f"which library pollers take turns with the floor (default {','.join(POLLERS)})",
    )
    args = ap.parse_args(argv[1:])
    pollers = tuple(p for p in args.pollers.split(",") if p)
    if not pollers or not set(pollers) <= set(POLLERS) or len(set(pollers)) < len(pollers):
        ap.error(f"--pollers: a comma-separated choice of {', '.join(POLLERS)}")
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})  # inherited by threads and children started later
    exe = build_floor()
    print(f"machine: {machine()}", flush=True)
    if args.cpu is not None:
        print(f"every poller pinned to CPU {args.cpu}", flush=True)
    print(f"python: {sys.version.split()[0]} ({sys.executable})", flush=True)
    for spec in args.tables:
        print(bench(spec, args.cycles, args.interval, exe, pollers), flush=True)
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
