"""The built extension exports cffi's entry point and nothing else (host test).

csrc/ffi_build.py compiles the core with -fvisibility=hidden so that calls
between the core's files are direct rather than through the PLT, a measured
saving in a table read's per-server loop (benchmarks/RESULTS.md, session
23). An exported core function would mean the flag was lost.
"""

from __future__ import annotations

import subprocess

from pyipvs import _pyipvs_cffi


def test_only_the_module_init_is_exported() -> None:
    out = subprocess.run(
        ["nm", "-D", "--defined-only", _pyipvs_cffi.__file__],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {line.split()[-1] for line in out.splitlines() if line.strip()}
    assert names == {"PyInit__pyipvs_cffi"}, sorted(names)[:20]
