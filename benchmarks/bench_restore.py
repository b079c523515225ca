"""Restore benchmark (benchmarks layer): ipvsadm -R against pyipvs's batch
engine and API, `pyipvs restore`, `pyipvsadm -R`, pyroute2 and the kernel
floor, on the same generated tables, in one run. Needs root and IPVS, so it
runs in the VM:

    bash benchmarks/install.sh && PATH=/work/venv/bin:$PATH ci/vm-run.sh \\
      '/work/venv/bin/python benchmarks/bench_restore.py --reps 3 1000x10 10000x10'

Every measurement gets a fresh network namespace: each has its own table and
its own destination trash list (which makes clear-then-restore quadratic in
the kernel), and every resulting table is compared with ipvsadm -R's through
`ipvsadm -Sn`; a mismatch fails the run.

In-process contestants run in this process, interleaved, `--reps` times, and
report their best time (under emulation on a shared host the noise is
large, and only ratios taken in the same run mean anything):

  floor        the batch's requests prebuilt as bytes (benchmarks/floor.py),
               only sent: the kernel's cost plus two system calls per chunk
  engine       a filled pyipvs batch, applied (C engine + result objects)
  batch API    `with ipvs.batch() as b:` adding every command, then applying
  batch API, add_servers
               the same with each service's servers in one add_servers call
  batch API, add_servers, streamed
               the same with `ipvs.batch(stream=True)`: parts are sent while
               the next are added
  apply_batch  `ipvs.apply_batch(commands)` over prebuilt Command objects

Model objects are the caller's data and are built before any clock starts.
Programs run under GNU time and nsenter: pyipvsadm -R once in each of the
`--reps` rounds, ipvsadm -R, pyipvs restore and pyroute2 once. Their wall
time includes process start, which is measured too, also as the programs
are run (the baseline of the restore target). pyipvs's programs and that
baseline run from the venv benchmarks/install.sh fills, as a user installs
them (benchmarks/installed.py says why not from the tree); pyroute2 runs
in the benchmark's own interpreter.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks import floor, installed
from benchmarks.gen_rules import SCHEDULERS, Rule, restore_text, rules
from benchmarks.netns import add_netns, best_in_netns, best_of
from pyipvs import _native
from pyipvs.batch import Command
from pyipvs.ipvs import IPVS

# pyroute2 runs in this interpreter (its own clock; it is not installed with
# pyipvs); pyipvs's programs and the start-up baseline run as installed.
PY = sys.executable
IPY = installed.PY
ENV = installed.ENV
PYROUTE2_MAX = 11000  # commands: it takes ~0.1 s per command under emulation
_seq = iter(range(1_000_000))
_TIME = ["/usr/bin/time", "-f", "%M"]  # GNU time (Debian's `time`): peak RSS in KiB


@dataclass
class Result:
    name: str
    times: list[float] = field(default_factory=list)  # the measured part
    wall: float | None = None  # whole program, for programs
    rss: int | None = None  # peak RSS of a program, KiB
    detail: str = ""
    ok: bool = True

    @property
    def best(self) -> float:
        return min(self.times)


def _netns() -> str:
    name = f"bench-{os.getpid()}-{next(_seq)}"
    add_netns(name)
    return name


def _drop(ns: str, commands: int) -> None:
    subprocess.run(["ip", "netns", "del", ns], check=False)
    # The kernel tears the table down in the background: let it finish
    # before the next measurement.
    time.sleep(1 + commands / 20000)


def _in(
    ns: str, argv: list[str], stdin: str | None = None
) -> tuple[float, subprocess.CompletedProcess[str], int]:
    """Run argv in the namespace: wall time, the outcome, and its peak RSS
    in KiB. The peak comes from GNU time, which forks the program from its
    own small image: a child forked from this driver would report the
    driver's peak (ru_maxrss keeps the pre-exec image's), which grows to
    100 MiB and more with the tables built here."""
    with tempfile.TemporaryFile("w+") as fin, tempfile.TemporaryFile("w+") as fout, \
            tempfile.TemporaryFile("w+") as ferr, \
            tempfile.NamedTemporaryFile("r") as frss:  # fmt: skip
        fin.write(stdin or "")
        fin.seek(0)
        t = time.perf_counter()
        p = subprocess.Popen([*_TIME, "-o", frss.name, "nsenter", f"--net=/run/netns/{ns}", *argv],
                             stdin=fin, stdout=fout, stderr=ferr, text=True, env=ENV)  # fmt: skip
        _, status, _usage = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        done = subprocess.CompletedProcess(argv, p.returncode, fout.read(), ferr.read())
        rss = frss.read().split()
    return dt, done, int(rss[-1]) if rss and rss[-1].isdigit() else 0


def _saved(ns: str) -> str:
    return _in(ns, ["ipvsadm", "-Sn"])[1].stdout


# --- in-process contestants: each returns the seconds of its measured part ---


def run_floor(path: str, chunks: list[tuple[bytes, int]]) -> float:
    h = _native.Handle(path, 600_000)  # a socket created inside the namespace
    with socket.socket(fileno=os.dup(h.fileno())) as s:
        t = time.perf_counter()
        failures = floor.send(s, chunks)
        dt = time.perf_counter() - t
    h.close()
    assert failures == 0
    return dt


def run_engine(path: str, table: list[Rule]) -> float:
    with IPVS(path, timeout=600) as ipvs:
        b = ipvs.batch()
        for r in table:
            b.add_service(r.service)
            for s in r.servers:
                b.add_server(r.service.key, s)
        t = time.perf_counter()
        result = b.apply()
        dt = time.perf_counter() - t
        b.close()
    assert result.ok
    return dt


def run_api(path: str, table: list[Rule]) -> float:
    with IPVS(path, timeout=600) as ipvs:
        t = time.perf_counter()
        with ipvs.batch() as b:
            for r in table:
                b.add_service(r.service)
                key = r.service.key
                for s in r.servers:
                    b.add_server(key, s)
        return time.perf_counter() - t


def run_api_bulk(path: str, table: list[Rule], stream: bool) -> float:
    with IPVS(path, timeout=600) as ipvs:
        t = time.perf_counter()
        with ipvs.batch(stream=stream) as b:
            for r in table:
                b.add_service(r.service)
                b.add_servers(r.service.key, r.servers)
        return time.perf_counter() - t


def run_commands(path: str, cmds: list[Command]) -> float:
    with IPVS(path, timeout=600) as ipvs:
        t = time.perf_counter()
        result = ipvs.apply_batch(cmds)
        dt = time.perf_counter() - t
    assert result.ok
    return dt


def bench(s: int, n: int, reps: int, skip: set[str]) -> list[Result]:
    commands = s * (n + 1)
    table = rules(s, n)
    text = restore_text(table)
    with tempfile.NamedTemporaryFile("w", suffix=".rules", delete=False) as f:
        f.write(text)
    family_id = _native.Handle(None, 5000).family_id
    chunks = floor.prebuild(table, family_id)
    cmds = [c for r in table for c in (Command.add_service(r.service),
            *(Command.add_server(r.service.key, x) for x in r.servers))]  # fmt: skip
    in_process: dict[str, Callable[[str], float]] = {
        "floor": lambda p: run_floor(p, chunks),
        "engine": lambda p: run_engine(p, table),
        "batch API": lambda p: run_api(p, table),
        "batch API, add_servers": lambda p: run_api_bulk(p, table, False),
        "batch API, add_servers, streamed": lambda p: run_api_bulk(p, table, True),
        "apply_batch": lambda p: run_commands(p, cmds),
    }
    programs: dict[str, tuple[list[str], str | None]] = {
        "ipvsadm -R": (["ipvsadm", "-R"], text),
        "pyipvs restore": ([installed.script("pyipvs"), "restore", "--report", f.name], None),
        "pyipvsadm -R": ([installed.script("pyipvsadm"), "-R"], text),
        "pyroute2": ([PY, os.path.join(HERE, "pyroute2_restore.py"), str(s), str(n)], None),
    }
    results = {name: Result(name) for name in [*in_process, *programs]}
    reference = ""

    def measure(name: str, fn: Callable[[str], float]) -> None:
        nonlocal reference
        ns = _netns()
        try:
            dt = fn(f"/run/netns/{ns}")
            saved = _saved(ns)
        finally:
            _drop(ns, commands)
        res = results[name]
        res.times.append(dt)
        if name == "ipvsadm -R":
            reference = saved
            res.ok = len(saved.splitlines()) == commands
        elif saved != reference:
            res.ok = False
            res.detail += f" TABLE DIFFERS ({len(saved.splitlines())} lines)"
        print(
            f"  {s}x{n} {name}: {dt:.3f} s {'ok' if res.ok else 'FAILED'}{res.detail}",
            file=sys.stderr,
        )

    def program(name: str) -> Callable[[str], float]:
        argv, stdin = programs[name]

        def fn(path: str) -> float:
            wall, p, rss = _in(os.path.basename(path), argv, stdin)
            res = results[name]
            res.wall = wall
            res.rss = max(res.rss or 0, rss)
            if p.returncode != 0:
                res.ok, res.detail = False, f" exit {p.returncode}: {p.stderr.strip()[-200:]}"
            m = re.search(r"parse ([0-9.]+) s, apply ([0-9.]+) s", p.stdout)
            if m:  # pyipvs restore --report
                res.detail = f" (parse {float(m[1]):.2f} s, apply {float(m[2]):.2f} s)"
            m = re.search(r'"apply": ([0-9.]+)', p.stdout)
            return float(m[1]) if m else wall  # pyroute2 reports its own apply time

        return fn

    measure("ipvsadm -R", program("ipvsadm -R"))
    # pyipvsadm -R runs in the same rounds as the floor, for side-by-side ratios.
    for _ in range(reps):
        for name, fn in in_process.items():
            if name not in skip:
                measure(name, fn)
        if "pyipvsadm -R" not in skip:
            measure("pyipvsadm -R", program("pyipvsadm -R"))
    for name in ("pyipvs restore", "pyroute2"):
        if name in skip or (name == "pyroute2" and commands > PYROUTE2_MAX):
            continue
        measure(name, program(name))
    os.unlink(f.name)
    return [r for r in results.values() if r.times]


def machine() -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    py = platform.python_version()
    return f"{os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}, Python {py}"


# The interpreter's start-up as the programs are run (_in: GNU time, then
# nsenter, then the program), which the restore target adds to the floor:
# the two wrappers' own exec cost is the harness's, not the program's.
HARNESSED_START = "python -c pass (as programs run: time, nsenter)"


def startup() -> dict[str, float]:
    def best(argv: list[str]) -> float:
        return best_of(argv, ENV)

    harnessed = best_in_netns(_in, [IPY, "-c", "pass"])
    return {
        "python -c pass": best([IPY, "-c", "pass"]),
        HARNESSED_START: harnessed,
        "python -c 'import pyipvs.batch'": best([IPY, "-c", "import pyipvs.batch"]),
        "pyipvsadm -v": best([installed.script("pyipvsadm"), "-v"]),
        "ipvsadm -v": best(["ipvsadm", "-v"]),
    }


def report(results: dict[str, list[Result]], starts: dict[str, float], reps: int) -> str:
    out = [f"Machine: {machine()}", ""]
    out += ["| process start | best of 3 |", "| --- | --- |"]
    out += [f"| `{k}` | {v:.2f} s |" for k, v in starts.items()]
    for size, runs in results.items():
        s, n = (int(x) for x in size.split("x"))
        commands = s * (n + 1)
        by = {r.name: r for r in runs}
        fl = by["floor"].best if "floor" in by else None
        adm = by["ipvsadm -R"].best if "ipvsadm -R" in by else None
        out += ["", f"### {s} services x {n} servers ({commands} commands)", ""]
        out.append(
            "| contestant | measured (best) | median | runs | us/command | x floor"
            " | x ipvsadm -R | program wall | peak RSS | table |"
        )
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in runs:
            b = r.best
            out.append(
                f"| {r.name} | {b:.3f} s | {statistics.median(r.times):.3f} s | {len(r.times)} | "
                f"{b / commands * 1e6:.1f} | {b / fl:.2f} | {b / adm:.3f} | "
                f"{f'{r.wall:.2f} s' if r.wall is not None else '-'} | "
                f"{f'{r.rss / 1024:.1f} MiB' if r.rss is not None else '-'} | "
                f"{'identical' if r.ok else 'FAILED'}{r.detail} |"
                if fl and adm
                else f"| {r.name} | {b:.3f} s | | | | | | | | |"
            )
        if fl and "pyipvsadm -R" in by:
            start = starts[HARNESSED_START]
            got = by["pyipvsadm -R"].best
            out.append("")
            out.append(
                f"Target: pyipvsadm -R {got:.2f} s against 1.3 x (floor {fl:.2f} s + "
                f"interpreter start {start:.2f} s, run as the program is) = "
                f"{1.3 * (fl + start):.2f} s: "
                f"{got / (fl + start):.2f}x, {'met' if got <= 1.3 * (fl + start) else 'NOT met'}"
            )
    out.append("")
    out.append(
        f"In-process contestants: best of {reps}, interleaved; pyipvsadm -R once in each"
        " of those rounds; the other programs once."
    )
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    reps, sizes, skip = 3, [], set()
    args = iter(argv[1:])
    for a in args:
        if a == "--reps":
            reps = int(next(args))
        elif a == "--skip":
            skip = set(next(args).split(","))
        else:
            sizes.append(a)
    # Scheduler modules load on first use (a usermode modprobe each): load
    # them now so that no contestant pays for it.
    subprocess.run(["modprobe", "-a", *(f"ip_vs_{x}" for x in SCHEDULERS)], check=False)
    installed.check()
    starts = startup()
    results = {}
    for size in sizes or ["1000x10"]:
        s, n = (int(x) for x in size.split("x"))
        results[size] = bench(s, n, reps, skip)
    sys.stdout.write(report(results, starts, reps))
    return 0 if all(r.ok for runs in results.values() for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
