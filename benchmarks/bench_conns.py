"""Connection-table benchmark (benchmarks layer): reading real IPVS
connection tables of N entries with `cat`, ipvsadm -Lnc, pyipvsadm -Lnc,
pyipvs's iterator (consumed in C, "iterate", and by a Python loop,
"iterate-loop"; both check every row's client port), its native summaries
(read by two threads, as by default for /proc, and by one:
"summary-1thread") and filtered counts, a plain pure-Python parser, and
the netlink per-server counts, in one run. Needs root and IPVS, so it runs
in the VM:

    PATH=/work/venv/bin:$PATH ci/vm-run.sh \\
      '/work/venv/bin/python benchmarks/bench_conns.py 50000 200000'
    PYIPVS_VM_MEMORY=4G PATH=/work/venv/bin:$PATH ci/vm-run.sh --kernel 6.12 \\
      '/work/venv/bin/python benchmarks/bench_conns.py 50000 200000 1000000'

Each size gets a fresh namespace whose table is filled by real traffic
(tests/kernel/traffic.py: one UDP datagram per (source address, port) pair
through a NAT service with four real servers, UDP timeout one hour). Every
contestant runs once, as its own process under nsenter, in that order;
library contestants time themselves inside the process (so interpreter and
import start-up are excluded, and measured separately) and report their
peak RSS. Every contestant's answer is checked against `cat`'s line count
or against counts computed from `cat`'s text, so a fast wrong answer fails
the run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "kernel"))

PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": ROOT}
SERVERS = ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"]
PROC = "/proc/thread-self/net/ip_vs_conn"


# --- children: one measurement each, in a fresh process -------------------------


def _peak_kib() -> int:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: that keeps the
    peak of the pre-exec image, i.e. of the forking benchmark driver."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def child(mode: str) -> None:
    t0 = time.perf_counter()
    result: object
    if mode == "startup":
        result = 0
    elif mode in ("iterate", "iterate-loop"):
        from operator import attrgetter

        from pyipvs.conns import ConnTable

        t0 = time.perf_counter()
        with ConnTable().open() as cursor:
            if mode == "iterate":
                # consumed in C: what the library spends making the objects,
                # without a Python loop's own cost per row
                total = sum(map(attrgetter("cport"), cursor))
            else:  # the same work in the loop a caller would write
                total = 0
                for c in cursor:
                    total += c.cport
            result = [cursor.counts.matched, total]  # every row's object, checked
    elif mode in ("summary", "summary-1thread"):
        from pyipvs.conns import ConnTable, GroupBy, Grouping

        t0 = time.perf_counter()
        table = ConnTable(split=mode == "summary")
        by_server, by_state, by_client = table.summarize(
            Grouping(GroupBy.SERVER), Grouping(GroupBy.STATE), Grouping(GroupBy.CLIENT, 24, 64)
        )
        assert by_state.total == by_client.total == by_server.total
        result = {str(k.daddr): n for k, n in by_server.counts.items()}
    elif mode == "filtered":
        from pyipvs.conns import ConnFilter, ConnTable

        t0 = time.perf_counter()
        result = ConnTable().count(ConnFilter.server(SERVERS[1], 53))
    elif mode == "purepython":
        t0 = time.perf_counter()
        counts: dict[str, int] = {}
        with open(PROC) as f:
            next(f)
            for line in f:
                dest = line.split()[5]
                counts[dest] = counts.get(dest, 0) + 1
        result = {
            ".".join(str(int(k[i : i + 2], 16)) for i in range(0, 8, 2)): n
            for k, n in counts.items()
        }
    elif mode == "live":
        from pyipvs.conns_live import server_connections

        t0 = time.perf_counter()
        result = {str(s.address): s.active + s.inactive for s in server_connections()}
    elif mode == "pyipvsadm":
        from pyipvs.cli.ipvsadm import main

        t0 = time.perf_counter()
        with open(os.devnull, "w") as null:
            rc = main(["ipvsadm", "-Lnc"], sys.stdin, null, sys.stderr)
        result = rc
    else:
        raise SystemExit(f"unknown mode {mode}")
    dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "peak_kib": _peak_kib(), "result": result}))


# --- driver ------------------------------------------------------------------------


def sh(ns: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net=/run/netns/{ns}", *argv], text=True,
                          capture_output=True, env=ENV)  # fmt: skip


def timed(ns: str, argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    r = sh(ns, argv)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{argv} failed: {r.stderr}")
    print(f"# {ns}: {' '.join(argv[-3:])}: {dt:.2f} s", file=sys.stderr, flush=True)
    return dt, r


def run_child(ns: str, mode: str) -> dict[str, object]:
    wall, r = timed(ns, [PY, os.path.abspath(__file__), "--child", mode])
    out: dict[str, object] = json.loads(r.stdout.splitlines()[-1])
    out["wall"] = wall
    return out


def fill(ns: str, n: int) -> float:
    import traffic  # type: ignore[import-not-found]  # tests/kernel, on sys.path above

    setup = [["--set", "0", "0", "7200"], ["-A", "-u", "10.0.0.1:53", "-s", "rr"]]
    setup += [["-a", "-u", "10.0.0.1:53", "-r", f"{s}:53", "-m"] for s in SERVERS]
    for argv in setup:
        r = sh(ns, ["ipvsadm", *argv])
        assert r.returncode == 0, r.stderr
    t0 = time.perf_counter()
    per = 1000 if n % 1000 == 0 else n
    sent = traffic.udp_flows(f"/run/netns/{ns}", "10.0.0.1", 53, n, ports_per_addr=per,
                             sport=10000)  # fmt: skip
    assert sent == n
    return time.perf_counter() - t0


def bench(n: int, skip: set[str]) -> dict[str, object]:
    """Each contestant runs right after its own `cat` of the same table, and
    its ratio is taken against that `cat`: on a host shared with other
    emulated VMs the speed drifts by 2x within minutes, so only neighbours
    compare."""
    ns = f"bconns{os.getpid()}_{n}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "-batch", "-"], check=True, text=True, input=(
            "link set lo up\nlink add dummy0 type dummy\nlink set dummy0 up\n"
            "address add 10.0.0.254/8 dev dummy0\n"))  # fmt: skip
        res: dict[str, object] = {"entries": n, "fill_s": fill(ns, n)}
        wall, cat = timed(ns, ["cat", "/proc/net/ip_vs_conn"])
        lines = cat.stdout.splitlines()[1:]
        assert len(lines) == n, (len(lines), n)
        per_dest: dict[str, int] = {}
        cports = 0
        for line in lines:
            fields = line.split()
            per_dest[fields[5]] = per_dest.get(fields[5], 0) + 1
            cports += int(fields[2], 16)
        want = {".".join(str(int(k[i : i + 2], 16)) for i in range(0, 8, 2)): v
                for k, v in per_dest.items()}  # fmt: skip
        res["cat"] = wall

        def paired(name: str, measure: Callable[[], dict[str, object]]) -> None:
            cat_s, _ = timed(ns, ["cat", "/proc/net/ip_vs_conn"])
            out = measure()
            out["cat"] = cat_s
            res[name] = out
            print(json.dumps({name: out}), file=sys.stderr, flush=True)

        def program(argv: list[str], lines: int) -> Callable[[], dict[str, object]]:
            def run() -> dict[str, object]:
                w, r = timed(ns, argv)
                assert r.stdout.count("\n") == lines, (argv, r.stdout.count("\n"))
                return {"wall": w}

            return run

        def library(mode: str, expect: object) -> Callable[[], dict[str, object]]:
            def run() -> dict[str, object]:
                c = run_child(ns, mode)
                assert c.pop("result") == expect, mode
                return c

            return run

        paired("startup", library("startup", 0))
        if "ipvsadm" not in skip:
            paired("ipvsadm -Lnc", program(["ipvsadm", "-Lnc"], n + 2))
        paired("pyipvsadm -Lnc", program([PY, "-m", "pyipvs.cli.ipvsadm", "-Lnc"], n + 2))
        expects = {"pyipvsadm": 0, "iterate": [n, cports], "iterate-loop": [n, cports],
                   "summary": want, "summary-1thread": want,
                   "filtered": want.get(SERVERS[1], 0), "purepython": want,
                   "live": want}  # fmt: skip
        for mode, expect in expects.items():
            if mode not in skip:
                paired(mode, library(mode, expect))
        print(json.dumps(res), flush=True)
        return res
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def report(results: list[dict[str, Any]]) -> None:
    print(f"\nkernel {platform.release()}, python {platform.python_version()}")
    print("ratios: against the cat run just before each contestant")
    for r in results:
        print(f"\n{r['entries']:,} entries (filled in {r['fill_s']:.1f} s, first cat "
              f"{r['cat']:.2f} s)")  # fmt: skip
        start = r["startup"]["wall"]
        for name, c in r.items():
            if not isinstance(c, dict):
                continue
            cat = c["cat"]
            if "seconds" in c:  # timed inside the process; start-up excluded
                line = (
                    f"{c['seconds']:8.2f} s in process ({c['wall']:.2f} s wall) "
                    f"{c['seconds'] / cat:6.2f} x cat  peak {c['peak_kib'] / 1024:.1f} MiB"
                )
            else:
                line = (
                    f"{c['wall']:8.2f} s wall {c['wall'] / cat:6.2f} x cat "
                    f"{c['wall'] / (cat + start):6.2f} x (cat + start-up)"
                )
            print(f"  {name:<16} cat {cat:7.2f} s | {line}")  # fmt: skip


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        child(argv[1])
        return 0
    skip: set[str] = set()
    if argv[:1] == ["--skip"]:
        skip = set(argv[1].split(","))
        argv = argv[2:]
    results = [bench(int(a), skip) for a in argv]
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
