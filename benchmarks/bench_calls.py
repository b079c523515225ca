"""Per-call cost of the stall guard (benchmarks layer): every `IPVS` call runs
on a worker thread so that a stalled kernel gives a timeout instead of a hang
(pyipvs/runner.py). This measures what that hand-off costs against calling
the same open handle directly, interleaved in one process. Needs IPVS:

    PATH=/work/venv/bin:$PATH ci/vm-run.sh \\
      'cd /work/main && /work/venv/bin/python benchmarks/bench_calls.py'
"""

from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyipvs import IPVS, Service, ServiceKey


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 2000
    rounds = 5
    with IPVS() as ipvs:
        key = ServiceKey.tcp("10.99.0.1", 80)
        ipvs.add_service(Service(key, "rr"))
        try:
            h = ipvs._runner.handle()  # the same socket, called from this thread
            direct = IPVS(stall_guard=False)
            calls = {
                "info() through the worker": lambda: ipvs.info(),
                "info(), IPVS(stall_guard=False)": lambda: direct.info(),
                "info() on the handle, same thread": lambda: h.info(),
                "service(key) through the worker": lambda: ipvs.service(key),
                "service(key), IPVS(stall_guard=False)": lambda: direct.service(key),
                "service(key) on the handle, same thread": lambda: h.service(key),
            }
            best: dict[str, list[float]] = {k: [] for k in calls}
            for _ in range(rounds):
                for name, fn in calls.items():
                    t0 = time.perf_counter()
                    for _ in range(n):
                        fn()
                    best[name].append((time.perf_counter() - t0) / n * 1e6)
            direct.close()
        finally:
            ipvs.delete_service(key)
    print(f"| call ({n} per round, {rounds} rounds) | best us/call | median us/call |")
    print("| --- | --- | --- |")
    for name, v in best.items():
        print(f"| {name} | {min(v):.1f} | {statistics.median(v):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
