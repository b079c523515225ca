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
engine in a fresh network namespace. Three pollers take turns, one read per
tick of a fixed 2 s schedule, for `--cycles` cycles of three ticks:

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
it (the mean of the two; the floor runs every third tick): "beyond the
floor" is the mean of those paired differences, with its standard error,
per read and as a share of one core at one read per 2 s (the issue's
"< 5 % of one core in the library"). User time (getrusage; the guest
samples it in ticks, so only the mean over many reads means anything) is
the library's own work alone: the floor's is its start-up.

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

NAMES = ("floor", "counters", "snapshots")


class Floor:
    """list_floor in the namespace, one read per line written to it."""

    def __init__(self, ns: str, exe: str) -> None:
        self.p = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{ns}", exe, "small", "1", "1000000", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=ENV,
        )  # fmt: skip

    def read(self) -> float:
        """One read: its CPU seconds, as the floor measured them."""
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write("go\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, self.p.stderr.read() if self.p.stderr else "floor ended"
        return float(line.split()[6])

    def close(self) -> tuple[float, int]:
        """End it: its user seconds and minor faults, start-up included."""
        assert self.p.stdin is not None
        u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.p.stdin.close()
        rc = self.p.wait(timeout=60)
        assert rc == 0, self.p.stderr.read() if self.p.stderr else rc
        u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return u1.ru_utime - u0.ru_utime, u1.ru_minflt - u0.ru_minflt


def own_read(read: Callable[[], object]) -> tuple[float, float, int]:
    """One read in this process: CPU, user seconds and minor faults."""
    r0, c0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
    read()
    c1, r1 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
    return c1 - c0, r1.ru_utime - r0.ru_utime, r1.ru_minflt - r0.ru_minflt


def bench(spec: str, cycles: int, interval: float, exe: str) -> str:
    n_svc, n_srv = (int(x) for x in spec.split("x"))
    ns = make_netns()
    path = f"/run/netns/{ns}"
    cpu: dict[str, list[float]] = {n: [] for n in NAMES}
    user = {"counters": 0.0, "snapshots": 0.0}
    faults = {"counters": 0, "snapshots": 0}
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
                # cycles of three ticks, and a last floor read to pair the last cycle with
                for tick in range(3 * cycles + 1):
                    time.sleep(max(0.0, start + tick * interval - time.monotonic()))
                    name = NAMES[tick % 3]
                    if name == "floor":
                        cpu[name].append(floor.read())
                    else:
                        c, u, f = own_read(reads[name])
                        cpu[name].append(c)
                        user[name] += u
                        faults[name] += f
                    if tick % 30 == 0:
                        print(f"  tick {tick}: {name} {cpu[name][-1]:.3f} s", file=sys.stderr)
            finally:
                floor_user, floor_faults = floor.close()
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return report(spec, cpu, user, faults, (floor_user, floor_faults), interval)


def _sem(xs: list[float]) -> float:
    return statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")


def report(
    spec: str,
    cpu: dict[str, list[float]],
    user: dict[str, float],
    faults: dict[str, int],
    floor_rest: tuple[float, int],
    interval: float,
) -> str:
    n = len(cpu["counters"])
    fl = cpu["floor"]
    around = [(x + y) / 2 for x, y in itertools.pairwise(fl)]  # the floor before and after cycle i
    lines = [
        f"### {spec}: {n} reads per poller, one read every {interval:g} s in turn",
        "",
        (
            "| poller | CPU per read, mean (median) | user per read | minor faults per read | "
            "beyond the floor per read, mean +- s.e. | share of a core at one read per "
            f"{interval:g} s |"
        ),
        "| --- | --- | --- | --- | --- | --- |",
        (
            f"| floor | {statistics.mean(fl) * 1000:.1f} ms ({statistics.median(fl) * 1000:.1f}) | "
            f"{floor_rest[0] / len(fl) * 1000:.1f} ms (start-up included) | "
            f"{floor_rest[1] / len(fl):.0f} (start-up included) | - | - |"
        ),
    ]
    for name in NAMES[1:]:
        xs = cpu[name]
        d = [x - f for x, f in zip(xs, around, strict=True)]
        lines.append(
            f"| {name} | {statistics.mean(xs) * 1000:.1f} ms "
            f"({statistics.median(xs) * 1000:.1f}) | {user[name] / n * 1000:.1f} ms "
            f"({user[name] / n / interval * 100:.2f} % of a core) | {faults[name] / n:.0f} | "
            f"{statistics.mean(d) * 1000:.1f} +- {_sem(d) * 1000:.1f} ms | "
            f"**{statistics.mean(d) / interval * 100:.2f} %** (+- {_sem(d) / interval * 100:.2f}) |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tables", nargs="+", help="SERVICESxSERVERS, e.g. 5000x10")
    ap.add_argument("--cycles", type=int, default=30, help="reads per poller")
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between ticks")
    ap.add_argument("--cpu", type=int, help="pin every poller to this CPU")
    args = ap.parse_args(argv[1:])
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})  # inherited by threads and children started later
    exe = build_floor()
    print(f"machine: {machine()}", flush=True)
    if args.cpu is not None:
        print(f"every poller pinned to CPU {args.cpu}", flush=True)
    print(f"python: {sys.version.split()[0]} ({sys.executable})", flush=True)
    for spec in args.tables:
        print(bench(spec, args.cycles, args.interval, exe), flush=True)
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
