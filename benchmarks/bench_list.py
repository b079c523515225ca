"""Listing benchmark (benchmarks layer): full-table reads and listings of huge
tables, ipvsadm against pyipvsadm, the library snapshot, pyroute2 and the
kernel floor, in one run. Needs root and IPVS, so it runs in the VM:

    bash benchmarks/install.sh && PATH=/work/venv/bin:$PATH ci/vm-run.sh \\
      '/work/venv/bin/python benchmarks/bench_list.py --reps 3 5000x10 20000x10'

The `pyipvsadm` program and the interpreter start-up it is measured against
run from the venv benchmarks/install.sh fills, as a user installs them
(benchmarks/installed.py says why not from the tree).

Every table (benchmarks/gen_rules.py: TCP/UDP/fwmark services, some IPv6,
eight schedulers, -g/-m/-i servers) is built with the batch engine in a fresh
network namespace. Contestants, interleaved, `--reps` times each, best kept:

  floor/MODE   benchmarks/list_floor.c: one service dump plus one GET_DEST
               dump per service, requests prebuilt, replies discarded
               unparsed; MODE is the receive strategy (poll before every
               recv, recv first, one recvmmsg per dump, K sockets in flight,
               or the GET_DEST dumps on a second socket receiving 4 KiB at
               most, or split between two threads each with such a socket).
               The floor is the cheapest one-thread mode's best; the
               two-thread mode is reported beside it (the listings of
               pyipvsadm and numeric_listing read with a helper thread). The service
               dump alone is measured too: a consistent read pays it twice.
               Its own clock: no process start.
  counters view  pyipvs.snapshot.take_counters(): the C read
               (csrc/snapshot.c) kept as columns, in this process
  snapshot     pyipvs.snapshot.take(): the C read plus the service objects
               (servers stay raw until asked for); "+ every server object"
               then asks for every service's servers; "two readers" is
               take(threads=2). CPU time measured too
  per-service  the library's previous path: services() then servers(key)
               for each service (one core call per service)
  pyipvsadm in-process  pyipvsadm's main() in this process (fetch, sort,
               format, write): the CLI without the interpreter's start
  C formatting  the core's formatter alone (csrc/list_fmt.c) on a table
               already read, per listing: the programs' "formatting" term
  programs     ipvsadm and pyipvsadm (-Ln, -Ln --stats --exact, -Sn) under
               nsenter, output captured and compared byte for byte;
               `cat /proc/net/ip_vs` (one pass, no byte counters)
  start-up     python -c pass; pyipvsadm -v (interpreter, imports, socket,
               one request); ipvsadm -v
  pyroute2     pyroute2 0.9.7: service dump, then a dest dump per service,
               every message parsed by pyroute2 (once: it is slow)

CPU per poll: time.process_time() (user + system, kernel work in our
system calls included) of one snapshot, best and median, and what polling
every 2 s costs as a share of one core; beside it the counters view's user
time alone (the library's own work) and the floor program's whole CPU time
(the kernel's work in its system calls, which no reader can avoid).
"""

from __future__ import annotations

import argparse
import ctypes
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks import installed
from benchmarks.gen_rules import Rule, rules
from benchmarks.netns import add_netns
from pyipvs._native import LIST_EXACT, LIST_SAVE, LIST_STATS
from pyipvs._native.snapshot import _raw_table, table_text
from pyipvs.cli.ipvsadm.main import main as pyipvsadm_main
from pyipvs.ipvs import IPVS
from pyipvs.snapshot import take, take_counters

PY = installed.PY  # the programs and the start-up baseline run as installed
ENV = installed.ENV
PYIPVSADM = installed.script("pyipvsadm")
FLOOR_MODES = [("poll", 1), ("recv", 1), ("mmsg", 1), ("multi", 4), ("multi", 16), ("small", 1),
               ("threads", 2)]  # fmt: skip
# Two readers on two CPUs: not a sequence of reads, so not the floor the
# targets are measured against; the listings read this way (csrc/snapshot.c).
TWO_READERS = "floor/threadsx2"
# The service dump alone: a consistent read dumps the services a second time.
SERVICE_DUMP = "one service dump (a consistent read's second)"
LISTINGS = [("-Ln",), ("-Ln", "--stats", "--exact"), ("-Sn",)]
# The C formatter's mode for each listing (pyipvs.listing_native.listing_mode).
FORMAT_MODES = {"-Ln": 0, "-Ln --stats --exact": LIST_STATS | LIST_EXACT, "-Sn": LIST_SAVE}
_seq = iter(range(1_000_000))


def build_floor() -> str:
    exe = os.path.join(tempfile.gettempdir(), "pyipvs-list-floor")
    subprocess.run(
        ["gcc", "-O2", "-pthread", "-o", exe, os.path.join(HERE, "list_floor.c")], check=True
    )
    return exe


def make_netns() -> str:
    name = f"benchlist-{os.getpid()}-{next(_seq)}"
    add_netns(name)
    return name


last_cpu = [0.0]  # run_in's last program's CPU seconds


def run_in(ns: str, argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run argv in the namespace: wall time and the outcome; the program's
    CPU time (user + system) goes to `last_cpu` (nsenter execs the program,
    so the child's times are the program's)."""
    c0, t = os.times(), time.perf_counter()
    p = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", *argv], capture_output=True,
                       text=True, env=ENV, check=False)  # fmt: skip
    dt, c1 = time.perf_counter() - t, os.times()
    last_cpu[0] = c1.children_user - c0.children_user + c1.children_system - c0.children_system
    return dt, p


_libc = ctypes.CDLL(None, use_errno=True)


@contextmanager
def inside(ns: str) -> Iterator[None]:
    """This thread in ns while sockets are created (they stay there)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(target, 0x40000000) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        yield
    finally:
        _libc.setns(own, 0x40000000)
        os.close(own)
        os.close(target)


def fill(ipvs: IPVS, table: list[Rule]) -> float:
    t = time.perf_counter()
    with ipvs.batch() as b:
        for r in table:
            b.add_service(r.service)
            for s in r.servers:
                b.add_server(r.service.key, s)
    return time.perf_counter() - t


def pyroute2_dump(ns: str) -> tuple[float, int]:
    with inside(ns):
        from pyroute2 import IPVS as P2IPVS  # type: ignore[import-untyped]
        from pyroute2 import IPVSService

        p2 = P2IPVS()
    try:
        t = time.perf_counter()
        n = 0
        for msg in p2.service("dump"):
            svc = IPVSService.from_message(msg)
            n += len(list(p2.dest("dump", service=svc)))
        return time.perf_counter() - t, n
    finally:
        p2.close()


class Results:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.notes: dict[str, str] = {}

    def add(self, name: str, seconds: float) -> None:
        self.times.setdefault(name, []).append(seconds)
        print(f"  {name}: {seconds:.3f} s", file=sys.stderr, flush=True)

    def best(self, name: str) -> float:
        return min(self.times[name])


def bench_table(
    spec: str, reps: int, floor_exe: str, pyroute2: bool, per_service: bool = True
) -> Results:
    n_svc, n_srv = (int(x) for x in spec.split("x"))
    table = rules(n_svc, n_srv)
    ns = make_netns()
    res = Results()
    path = f"/run/netns/{ns}"
    try:
        ipvs = IPVS(path, timeout=600)
        res.notes["build"] = f"{fill(ipvs, table):.1f} s"
        print(f"{spec}: built in {res.notes['build']}", file=sys.stderr, flush=True)
        snap = take(ipvs)
        assert len(snap) == n_svc and snap.server_count() == n_svc * n_srv
        for rep in range(reps):
            for mode, k in FLOOR_MODES:
                _, p = run_in(ns, [floor_exe, mode, str(k), "1"])
                assert p.returncode == 0, p.stderr
                words = p.stdout.split()
                assert int(words[3]) == n_svc
                res.add(f"floor/{mode}" + (f"x{k}" if k > 1 else ""), float(words[2]))
                if mode in ("mmsg", "small", "threads"):
                    res.add(f"floor/{mode} CPU (whole program)", last_cpu[0])
            _, p = run_in(ns, [floor_exe, "services", "1", "1"])
            assert p.returncode == 0, p.stderr
            res.add(SERVICE_DUMP, float(p.stdout.split()[2]))
            c0, t0, u0 = time.process_time(), time.perf_counter(), os.times().user
            counters = take_counters(ipvs)
            t1, c1, u1 = time.perf_counter(), time.process_time(), os.times().user
            res.add("counters view (take_counters)", t1 - t0)
            res.add("counters view CPU", c1 - c0)
            res.add("counters view CPU in user space", u1 - u0)
            assert counters.server_count() == n_svc * n_srv
            c0, t0 = time.process_time(), time.perf_counter()
            snap = take(ipvs)
            t1, c1 = time.perf_counter(), time.process_time()
            for key in snap.servers:
                snap.servers[key]
            t2, c2 = time.perf_counter(), time.process_time()
            res.add("snapshot (take, servers lazy)", t1 - t0)
            res.add("snapshot + every server object", t2 - t0)
            res.add("snapshot CPU", c1 - c0)
            res.add("snapshot + every server object CPU", c2 - c0)
            c0, t0 = time.process_time(), time.perf_counter()
            take(ipvs, threads=2)
            t1, c1 = time.perf_counter(), time.process_time()
            res.add("snapshot, two readers (threads=2)", t1 - t0)
            res.add("snapshot, two readers CPU", c1 - c0)
            # A new IPVS reuses nothing from earlier reads (the memo of model
            # objects lives in the IPVS object): a first read, not a poll.
            cold = IPVS(path, timeout=600)
            t0 = time.perf_counter()
            take(cold)
            res.add("snapshot, new IPVS (first read: nothing reused)", time.perf_counter() - t0)
            cold.close()
            if per_service:
                t0 = time.perf_counter()
                services = ipvs.services()
                for s in services:
                    ipvs.servers(s.key)
                res.add("per-service library reads", time.perf_counter() - t0)
            for args in LISTINGS:
                name = " ".join(args)
                t0 = time.perf_counter()
                out = io.StringIO()
                rc = pyipvsadm_main(["ipvsadm", *args], io.StringIO(), out, io.StringIO(),
                                    netns=path)  # fmt: skip
                res.add(f"pyipvsadm {name} in-process", time.perf_counter() - t0)
                assert rc == 0
                dt, want = run_in(ns, ["ipvsadm", *args])
                res.add(f"ipvsadm {name}", dt)
                dt, got = run_in(ns, [PYIPVSADM, *args])
                res.add(f"pyipvsadm {name}", dt)
                if rep == 0:
                    same = want.stdout == got.stdout == out.getvalue() and want.returncode == 0
                    res.notes[f"identical {name}"] = "yes" if same else "NO"
                    assert got.returncode == 0, got.stderr
            # The formatting term of the programs' target: the core's
            # formatter alone, on a table already read (pyipvsadm -Ln/-Sn
            # format the core's table in C and write its bytes out).
            raw = ipvs._call(lambda h: _raw_table(h, 0))
            assert raw is not None
            for name, mode in FORMAT_MODES.items():
                t0 = time.perf_counter()
                table_text(raw, mode)
                res.add(f"C formatting {name}", time.perf_counter() - t0)
            del raw
            dt, p = run_in(ns, ["cat", "/proc/net/ip_vs"])
            res.add("cat /proc/net/ip_vs", dt)
            for label, argv in (
                ("start-up: python -c pass", [PY, "-c", "pass"]),
                ("start-up: pyipvsadm -v", [PYIPVSADM, "-v"]),
                ("start-up: ipvsadm -v", ["ipvsadm", "-v"]),
            ):
                res.add(label, run_in(ns, argv)[0])
        if pyroute2:
            dt, n = pyroute2_dump(ns)
            assert n == n_svc * n_srv, n
            res.add("pyroute2 dump", dt)
        ipvs.close()
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
        time.sleep(2)
    return res


def paired_ratio(res: Results, name: str, base: str) -> str:
    """The median, over repetitions, of name's time over base's in the same
    repetition (each is timed once per repetition, minutes apart at most):
    the guest's speed drifts over a run by more than the differences
    measured, and a ratio of two bests can pair a fast moment with a slow
    one. "median (lowest-highest)"."""
    a, b = res.times.get(name, []), res.times.get(base, [])
    if not a or len(a) != len(b):
        return ""
    r = [x / y for x, y in zip(a, b, strict=True)]
    return f"{statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f})"


def report(spec: str, res: Results, reps: int) -> str:
    # The floor is the cheapest way of reading, whichever it is for this table.
    modes = [n for n in res.times
             if n.startswith("floor/") and "CPU" not in n and n != TWO_READERS]  # fmt: skip
    cheapest = min(modes, key=res.best)
    floor = res.best(cheapest)
    lines = [f"### {spec}, best of {reps} (pyroute2: 1 run)", ""]
    lines.append("| contestant | best | median | x floor | x floor, paired |")
    lines.append("| --- | --- | --- | --- | --- |")
    for name, ts in res.times.items():
        b = min(ts)
        timed = "CPU" not in name and "start-up" not in name
        ratio = f"{b / floor:.2f}" if timed else ""
        paired = paired_ratio(res, name, cheapest) if timed else ""
        lines.append(f"| {name} | {b:.3f} s | {statistics.median(ts):.3f} s | {ratio} | {paired} |")
    lines.append("")
    lines.append(f"- floor: {cheapest}, the cheapest mode here")
    for k, v in res.notes.items():
        lines.append(f"- {k}: {v}")
    # The targets, from the bests of this run.
    for name in ("counters view (take_counters)", "snapshot (take, servers lazy)",
                 "snapshot + every server object",
                 "snapshot, two readers (threads=2)",
                 "snapshot, new IPVS (first read: nothing reused)"):  # fmt: skip
        lines.append(
            f"- {name} / floor: {res.best(name) / floor:.2f}, paired "
            f"{paired_ratio(res, name, cheapest)} (target <= 1.3); "
            f"/ (floor + {SERVICE_DUMP}): "
            f"{res.best(name) / (floor + res.best(SERVICE_DUMP)):.2f}"
        )
    # Formatting: the core's formatter alone on a table already read (the
    # in-process listing minus the counters view was the estimate up to
    # session 19; with the listings' two readers it came out below zero).
    # Start-up: the bare interpreter (the target's yardstick) and, for
    # comparison, pyipvsadm -v (with imports).
    bare = res.best("start-up: python -c pass")
    start = res.best("start-up: pyipvsadm -v")
    two = res.best(TWO_READERS)
    for args in LISTINGS:
        name = " ".join(args)
        fmt = res.best(f"C formatting {name}")
        prog = res.best(f"pyipvsadm {name}")
        speed = res.best(f"ipvsadm {name}") / prog
        # Paired: each repetition's program over that repetition's floor,
        # formatting and interpreter start.
        parts = zip(res.times[f"pyipvsadm {name}"], res.times[cheapest],
                    res.times[f"C formatting {name}"], res.times["start-up: python -c pass"],
                    strict=True)  # fmt: skip
        r = [p / (f + c + i) for p, f, c, i in parts]
        lines.append(
            f"- pyipvsadm {name}: {prog:.3f} s = {prog / (floor + fmt + bare):.2f} x (floor "
            f"{floor:.3f} + formatting {fmt:.3f} + interpreter {bare:.3f}) (target <= 1.3), "
            f"paired {statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f}); "
            f"{prog / (floor + fmt + start):.2f} x with pyipvsadm -v's start-up {start:.3f}; "
            f"ipvsadm / pyipvsadm = {speed:.2f}, paired "
            f"{paired_ratio(res, f'ipvsadm {name}', f'pyipvsadm {name}')} "
            "(target >= 3 on 20k x 10); "
            f"{prog / (two + fmt + bare):.2f} x with the two-reader floor {two:.3f}"
        )
    for name in (
        "counters view CPU",
        "counters view CPU in user space",
        "snapshot CPU",
        "snapshot + every server object CPU",
        "snapshot, two readers CPU",
        "floor/mmsg CPU (whole program)",
        "floor/small CPU (whole program)",
        "floor/threads CPU (whole program)",
    ):
        cpu = res.best(name)
        med = statistics.median(res.times[name])
        lines.append(
            f"- {name} per poll: best {cpu:.3f} s, median {med:.3f} s: polling every 2 s costs "
            f"{cpu / 2 * 100:.1f} % (median {med / 2 * 100:.1f} %) of one core (target < 5 %)"
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}, "
            f"Python {platform.python_version()}")  # fmt: skip


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tables", nargs="+", help="SERVICESxSERVERS, e.g. 5000x10")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-pyroute2", action="store_true")
    ap.add_argument("--no-per-service", action="store_true",
                    help="skip the old per-service reads (minutes on big tables)")  # fmt: skip
    ap.add_argument("--pyroute2-max", type=int, default=10**9,
                    help="skip pyroute2 on tables with more servers (it is slow)")  # fmt: skip
    args = ap.parse_args(argv[1:])
    installed.check()
    exe = build_floor()
    print(f"machine: {machine()}", flush=True)
    for spec in args.tables:
        n_svc, n_srv = (int(x) for x in spec.split("x"))
        p2 = not args.no_pyroute2 and n_svc * n_srv <= args.pyroute2_max
        res = bench_table(spec, args.reps, exe, p2, not args.no_per_service)
        print(report(spec, res, args.reps), flush=True)
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
