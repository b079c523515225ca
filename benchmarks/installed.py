"""Where the benchmarks' programs come from (benchmarks layer): pyipvs as a
user installs it, a wheel in a venv outside the repository.

Why not the tree: the test VM sees the repository through a writable 9p
share mounted `sync` and uncached, where one stat() costs 6.7 ms in the
guest (0.03 ms on its tmpfs, 0.5-2 ms on the read-only share that holds
the rest of the host's files, Python and ipvsadm included; measured
2026-11-28). Importing one small module from the repository costs 38 ms
there, 1.5-2.6 ms from tmpfs. A program started from the repository so
pays most of its time for the test bed's file system, which no installed
copy pays: `pyipvsadm -Ln` of one service took 1.38 s from the repository's
wheel venv against 0.60 s from the same wheel installed under /tmp (the
read-only share), with `python -c pass` 0.56 and 0.43 s.

benchmarks/install.sh builds the wheel from this tree and installs it in
PYIPVS_BENCH_VENV (default /tmp/pyipvs-bench-venv), then stamps the venv
with a digest of the sources it was built from. `check()` refuses to
benchmark a venv whose stamp is not the tree's: the in-process contestants
run the tree's code, the programs the venv's, and they must be the same.
"""

from __future__ import annotations

import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.environ.get("PYIPVS_BENCH_VENV", "/tmp/pyipvs-bench-venv")
PY = os.path.join(VENV, "bin", "python")
STAMP = os.path.join(VENV, "pyipvs-sources.sha256")
# The programs import the installed package, never the tree.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def script(name: str) -> str:
    """A console script of the installed package (pyipvsadm, pyipvs)."""
    return os.path.join(VENV, "bin", name)


def digest() -> str:
    """SHA-256 over the tree's package, C sources and build files."""
    h = hashlib.sha256()
    paths = ["pyproject.toml", "setup.py"]
    for top in ("pyipvs", "csrc"):
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            paths += sorted(
                os.path.relpath(os.path.join(d, f), ROOT)
                for f in files
                if f.endswith((".py", ".c", ".h"))
            )
    for p in paths:
        h.update(p.encode() + b"\0")
        with open(os.path.join(ROOT, p), "rb") as f:
            h.update(f.read() + b"\0")
    return h.hexdigest()


def check() -> None:
    """Exit with a message unless the venv holds this tree's pyipvs."""
    if not os.path.exists(PY):
        sys.exit(f"benchmarks: no installed pyipvs in {VENV}; run benchmarks/install.sh")
    try:
        with open(STAMP) as f:
            stamp = f.read().strip()
    except OSError:
        stamp = ""
    if stamp != digest():
        sys.exit(f"benchmarks: {VENV} was built from other sources; run benchmarks/install.sh")


if __name__ == "__main__":
    if sys.argv[1:] == ["--stamp"]:
        with open(STAMP, "w") as f:
            f.write(digest() + "\n")
    else:
        check()
        print(VENV)
