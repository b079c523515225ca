"""Does a busy second CPU slow the kernel's own work? (benchmarks layer;
needs root and IPVS, so it runs in the VM):

    PATH=/work/venv/bin:$PATH ci/vm-run.sh \\
      '/work/venv/bin/python benchmarks/vcpu_contention.py --reps 4 1000x10'

The restore floor (benchmarks/floor.py: the batch's requests prebuilt and
only sent) runs alone, then while another process spins on the guest's
other CPU, interleaved, each in a fresh network namespace. A streamed
batch (pyipvs.batch_stream) runs the kernel's work on one CPU while Python
adds commands on the other; if the kernel's work gets slower merely because
the other CPU is busy, no overlap can bring such a batch down to the floor
on this machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks import bench_restore, floor
from benchmarks.gen_rules import rules
from pyipvs import _native


def main(argv: list[str]) -> int:
    reps, spec = 4, "1000x10"
    args = iter(argv)
    for a in args:
        if a == "--reps":
            reps = int(next(args))
        else:
            spec = a
    s, n = (int(x) for x in spec.split("x"))
    table = rules(s, n)
    chunks = floor.prebuild(table, _native.Handle(None, 5000).family_id)

    def once() -> float:
        ns = bench_restore._netns()
        try:
            return bench_restore.run_floor(f"/run/netns/{ns}", chunks)
        finally:
            bench_restore._drop(ns, s * (n + 1))

    alone: list[float] = []
    busy: list[float] = []
    for _ in range(reps):
        alone.append(once())
        spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(0.5)  # let it reach the other CPU
            busy.append(once())
        finally:
            spin.kill()
            spin.wait()
    print(f"restore floor, {spec}, best of {reps} (all runs):")
    print(f"  alone:                  {min(alone):.3f} s  ({' '.join(f'{x:.3f}' for x in alone)})")
    print(f"  other CPU spinning:     {min(busy):.3f} s  ({' '.join(f'{x:.3f}' for x in busy)})")
    print(f"  ratio (best to best):   {min(busy) / min(alone):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
