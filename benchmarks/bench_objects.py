"""Python-side cost of the model objects built from kernel data, compared
between source trees in one run (benchmarks layer). Needs root and IPVS,
so it runs in the VM:

    PATH=/work/venv/bin:$PATH ci/vm-run.sh 'cd /work/main && \\
      /work/venv/bin/python benchmarks/bench_objects.py --table 10000x10 \\
      --conns 50000 /work/old /work/main'

Each TREE is a checkout with its extension built in place (the VM sees the
host's files read-only). One namespace gets a generated table
(benchmarks/gen_rules.py, programmed by the batch engine of the first tree)
and a connection table filled by real UDP traffic; the connection file is
copied once to a plain file, so the kernel's quadratic /proc read (6.1)
drops out and only parsing and objects are timed. Then, for every
repetition and every tree in turn (alternating, so drift in the emulated
guest's speed hits them alike), a fresh process times in itself:

  snapshot   pyipvs.snapshot.take() and every service's server objects
  counters   pyipvs.snapshot.take_counters() (no per-server objects)
  conns      one Connection per row of the copied connection table
  rows       the same table as ipvsadm rows (ConnRow tuples), for scale

Results are best and median seconds per tree, and each tree's best against
the first tree's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable
MODES = ("snapshot", "counters", "conns", "rows")


def child(mode: str, arg: str) -> None:
    """One measurement in this process (PYTHONPATH names the tree)."""
    if mode in ("snapshot", "counters"):
        from pyipvs.ipvs import IPVS
        from pyipvs.snapshot import take, take_counters

        with IPVS(timeout=600) as ipvs:
            t0 = time.perf_counter()
            if mode == "snapshot":
                snap = take(ipvs)
                n = sum(len(snap.servers[s.service.key]) for s in snap.services)
            else:
                n = take_counters(ipvs).server_count()
            dt = time.perf_counter() - t0
    else:
        from pyipvs.conns import ConnTable

        t0 = time.perf_counter()
        with ConnTable(path=arg).open() as cursor:
            n = sum(1 for _ in (cursor if mode == "conns" else cursor.rows()))
        dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "count": n}))


def run_child(ns: str, tree: str, mode: str, arg: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": tree}
    argv = ["nsenter", f"--net=/run/netns/{ns}", PY, os.path.abspath(__file__), "--child",
            mode, arg]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise SystemExit(f"{tree} {mode}: {r.stderr}")
    out: dict[str, float] = json.loads(r.stdout.splitlines()[-1])
    return out


def setup(ns: str, tree: str, spec: str, conns: int, conn_file: str) -> None:
    sys.path[:0] = [ROOT, os.path.join(ROOT, "tests", "kernel")]
    from benchmarks.gen_rules import restore_text, rules
    from benchmarks.netns import add_netns

    add_netns(ns)
    services, servers = (int(x) for x in spec.split("x"))

    text = restore_text(rules(services, servers))
    # The conns service: UDP, on dummy0's net, apart from the generated VIPs.
    text += "-A -u 10.255.255.1:53 -s rr\n" + "".join(
        f"-a -u 10.255.255.1:53 -r 10.1.0.{i}:53 -m -w 1\n" for i in range(1, 5)
    )
    env = {**os.environ, "PYTHONPATH": tree}
    subprocess.run(["nsenter", f"--net=/run/netns/{ns}", PY, "-m", "pyipvs.cli.ipvsadm", "-R"],
                   input=text, text=True, check=True, env=env)  # fmt: skip
    subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "ipvsadm", "--set", "0", "0", "7200"],
                   check=True)  # fmt: skip
    if conns:
        import traffic  # type: ignore[import-not-found]  # tests/kernel

        per = 1000 if conns % 1000 == 0 else conns
        sent = traffic.udp_flows(f"/run/netns/{ns}", "10.255.255.1", 53, conns,
                                 ports_per_addr=per, sport=10000)  # fmt: skip
        assert sent == conns
    with open(conn_file, "wb") as out:
        r = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "cat", "/proc/net/ip_vs_conn"],
                           capture_output=True, check=True)  # fmt: skip
        out.write(r.stdout)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        child(argv[1], argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", default="10000x10", help="services x servers")
    ap.add_argument("--conns", type=int, default=50000, help="connection entries")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("trees", nargs="+")
    a = ap.parse_args(argv)
    trees = [os.path.abspath(t) for t in a.trees]
    modes = a.modes.split(",")
    ns = f"bobj{os.getpid()}"
    tmp = tempfile.mkdtemp()
    conn_file = os.path.join(tmp, "ip_vs_conn")
    results: dict[tuple[str, str], list[float]] = {}
    try:
        t0 = time.perf_counter()
        setup(ns, trees[0], a.table, a.conns, conn_file)
        print(f"# setup {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        counts: dict[str, set[int]] = {}
        for rep in range(a.reps):
            for mode in modes:
                for tree in trees:
                    got = run_child(ns, tree, mode, conn_file)
                    results.setdefault((mode, tree), []).append(got["seconds"])
                    counts.setdefault(mode, set()).add(int(got["count"]))
                    print(f"# {rep} {mode} {tree}: {got['seconds']:.3f} s", file=sys.stderr,
                          flush=True)  # fmt: skip
        for mode, seen in counts.items():  # every tree saw the same table
            assert len(seen) == 1, (mode, seen)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"table {a.table}, {a.conns} connections, {a.reps} repetitions, alternating")
    for mode in modes:
        base = min(results[(mode, trees[0])])
        for tree in trees:
            v = results[(mode, tree)]
            print(f"  {mode:<9} {tree:<24} best {min(v):8.3f} s  median "
                  f"{statistics.median(v):8.3f} s  {min(v) / base:5.2f} x first")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
