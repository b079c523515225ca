"""Sustained polling benchmark (benchmarks layer): what polling a huge table
every 2 s costs in CPU, measured over whole polling periods rather than one
read. Needs root and IPVS, so it runs in the VM:

    PATH=/work/venv/bin:$PATH ci/vm-run.sh \\
      '/work/venv/bin/python benchmarks/bench_poll.py 5000x10'

The library is the tree's (build it in place first), as in bench_exporter.py.

The kernel refreshes IPVS counters every 2 s, so that is the interval worth
polling at. The table (benchmarks/gen_rules.py) is built with the batch
engine in a fresh network namespace. Contestants, each polling `--polls`
times on a fixed schedule, interleaved, `--rounds` times:

  floor      benchmarks/list_floor.c `small` with an interval: the cheapest
             sequence of kernel reads yielding the table (bench_list.py),
             replies discarded unparsed; its CPU is what no reader avoids
  counters   pyipvs.snapshot.poll(read=take_counters): the consistent C
             read kept as columns, on the same schedule
  snapshots  pyipvs.snapshot.poll(): the library's polling iterator, a
             Snapshot per tick (servers stay raw until asked for)

CPU is the process's (CLOCK_PROCESS_CPUTIME_ID: every thread, user and
system, kernel work in its system calls included), per poll, and over the
whole period against its wall time (the share of one core, sleeps
included). "Beyond the floor" is a contestant's CPU per poll minus the
floor's in the same round: what the library costs on top of the kernel's
own work, the issue's "< 5 % of one core in the library". User time alone
is reported too, but the guest samples it in 10 ms ticks.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks.bench_list import build_floor, fill, machine, make_netns, run_in
from benchmarks.gen_rules import rules
from pyipvs.ipvs import IPVS
from pyipvs.snapshot import poll, take_counters


class Period:
    """One contestant's polling period: CPU seconds of each poll, and the
    period's wall time, CPU and user time."""

    def __init__(
        self, per_poll: list[float], wall: float, cpu: float, user: float, faults: int
    ) -> None:
        self.per_poll, self.wall, self.cpu, self.user = per_poll, wall, cpu, user
        self.faults = faults  # minor page faults: fresh memory, which the guest pays dearly for

    @property
    def mean(self) -> float:
        return self.cpu / len(self.per_poll)


def own_period(reads: Iterator[object], polls: int) -> Period:
    """Poll in this process: each step of `reads` is one poll (which sleeps
    to its tick first, except the first)."""
    per: list[float] = []
    r0, c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time(), time.perf_counter()
    for _ in range(polls):
        c = time.process_time()
        next(reads)
        per.append(time.process_time() - c)
    t1, c1, r1 = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
    return Period(per, t1 - t0, c1 - c0, r1.ru_utime - r0.ru_utime, r1.ru_minflt - r0.ru_minflt)


def floor_period(ns: str, exe: str, polls: int, interval: float) -> Period:
    u0 = os.times().children_user
    f0 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    wall, p = run_in(ns, [exe, "small", "1", str(polls), str(interval)])
    faults = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - f0
    assert p.returncode == 0, p.stderr
    per = [float(line.split()[6]) for line in p.stdout.splitlines()]
    assert len(per) == polls
    # User time and faults are the whole program's: its start and the one
    # service dump before its first repetition are in them too.
    return Period(per, wall, sum(per), os.times().children_user - u0, faults)


def bench(spec: str, polls: int, rounds: int, interval: float, exe: str) -> str:
    n_svc, n_srv = (int(x) for x in spec.split("x"))
    ns = make_netns()
    path = f"/run/netns/{ns}"
    got: dict[str, list[Period]] = {"floor": [], "counters": [], "snapshots": []}
    try:
        with IPVS(path, timeout=600) as ipvs:
            print(f"{spec}: built in {fill(ipvs, rules(n_svc, n_srv)):.1f} s", file=sys.stderr)
            assert take_counters(ipvs).server_count() == n_svc * n_srv
            for r in range(rounds):
                got["floor"].append(floor_period(ns, exe, polls, interval))
                take_counters(ipvs)  # warm: the periods measure polls, not a first read
                got["counters"].append(own_period(poll(ipvs, interval, read=take_counters), polls))
                got["snapshots"].append(own_period(poll(ipvs, interval), polls))
                for name, ps in got.items():
                    p = ps[-1]
                    print(f"  round {r + 1} {name}: {p.mean:.4f} s CPU per poll, "
                          f"{p.cpu / p.wall * 100:.2f} % of a core", file=sys.stderr)  # fmt: skip
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return report(spec, got, polls, interval)


def report(spec: str, got: dict[str, list[Period]], polls: int, interval: float) -> str:
    rounds = len(got["floor"])
    lines = [
        f"### {spec}: {rounds} rounds of {polls} polls every {interval:g} s per contestant",
        "",
        (
            "| contestant | CPU per poll, mean (rounds) | median poll | user per poll | "
            "minor faults per poll | share of a core (rounds) | beyond the floor per poll | "
            "share of a core |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, ps in got.items():
        means = [p.mean for p in ps]
        share = [p.cpu / p.wall * 100 for p in ps]
        med = statistics.median(x for p in ps for x in p.per_poll)
        user = sum(p.user for p in ps) / (rounds * polls)
        faults = sum(p.faults for p in ps) / (rounds * polls)
        if name == "floor":
            extra = extra_share = "-"
        else:
            d = [p.mean - f.mean for p, f in zip(ps, got["floor"], strict=True)]
            extra = (
                f"{statistics.mean(d) * 1000:.1f} ms ({', '.join(f'{x * 1000:.1f}' for x in d)})"
            )
            extra_share = f"{statistics.mean(d) / interval * 100:.2f} %"
        lines.append(
            f"| {name} | {statistics.mean(means) * 1000:.1f} ms "
            f"({', '.join(f'{x * 1000:.1f}' for x in means)}) | {med * 1000:.1f} ms | "
            f"{user * 1000:.1f} ms | {faults:.0f} | {statistics.mean(share):.2f} % "
            f"({', '.join(f'{x:.2f}' for x in share)}) | {extra} | {extra_share} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tables", nargs="+", help="SERVICESxSERVERS, e.g. 5000x10")
    ap.add_argument("--polls", type=int, default=15, help="polls per contestant and round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    args = ap.parse_args(argv[1:])
    exe = build_floor()
    print(f"machine: {machine()}", flush=True)
    print(f"python: {sys.version.split()[0]} ({sys.executable})", flush=True)
    for spec in args.tables:
        print(bench(spec, args.polls, args.rounds, args.interval, exe), flush=True)
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
