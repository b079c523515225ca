"""Build script of the compiled core (build layer: cffi, out-of-line API mode).

`setup.py` names ``csrc/ffi_build.py:ffibuilder`` in ``cffi_modules``; running
this file directly is ``python setup.py build_ext --inplace``.

The declarations come from one place: the text between ``/* CDEF-BEGIN */``
and ``/* CDEF-END */`` in ``csrc/pyipvs.h``, which is also the C API, so the
binding cannot drift from the C code. Every ``csrc/*.c`` is compiled (a glob,
so a new C file joins the build without touching this script).
"""

from __future__ import annotations

import glob
import os
import shlex
import subprocess

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HEADER = os.path.join(HERE, "pyipvs.h")
MODULE = "pyipvs._pyipvs_cffi"
COMPILE_ARGS = ["-std=gnu11", "-Wall", "-Wextra", "-O2", "-pthread"]


def cdef_text(header: str = HEADER) -> str:
    with open(header, encoding="utf-8") as f:
        text = f.read()
    begin, end = "/* CDEF-BEGIN */", "/* CDEF-END */"
    if begin not in text or end not in text:
        raise RuntimeError(f"{header}: CDEF-BEGIN/CDEF-END markers missing")
    return text.split(begin, 1)[1].split(end, 1)[0]


def libnl_flags() -> tuple[list[str], list[str], list[str]]:
    """include dirs, libraries, library dirs of libnl-genl-3 (pkg-config, else Debian's paths)."""
    try:
        out = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "libnl-genl-3.0"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return ["/usr/include/libnl3"], ["nl-genl-3", "nl-3"], []
    incs, libs, libdirs = [], [], []
    for tok in shlex.split(out):
        if tok.startswith("-I"):
            incs.append(tok[2:])
        elif tok.startswith("-l"):
            libs.append(tok[2:])
        elif tok.startswith("-L"):
            libdirs.append(tok[2:])
    return incs or ["/usr/include/libnl3"], libs or ["nl-genl-3", "nl-3"], libdirs


def sources() -> list[str]:
    """Every C file of the core; relative to the working directory when inside
    it, so setuptools keeps its object files under build/."""
    found = sorted(glob.glob(os.path.join(HERE, "*.c")))
    cwd = os.getcwd()
    return [os.path.relpath(p, cwd) if p.startswith(cwd + os.sep) else p for p in found]


def make_builder() -> FFI:
    incs, libs, libdirs = libnl_flags()
    ffi = FFI()
    ffi.cdef(cdef_text())
    ffi.set_source(
        MODULE,
        '#include "pyipvs.h"\n',
        sources=sources(),
        include_dirs=[HERE, *incs],
        libraries=libs,
        library_dirs=libdirs,
        # Hidden: the module's one entry point is cffi's PyInit (Python's
        # headers export it). Every other function is the core's own, so
        # calls between its files go direct instead of through the PLT, and
        # the hot loop of a table read makes several such calls per server.
        # In the emulated VM a 5,000 x 10 counters read took 40 +- 12 ms
        # less user time, 153 -> 113 ms (benchmarks/RESULTS.md, session 23).
        extra_compile_args=[*COMPILE_ARGS, "-fvisibility=hidden"],
        extra_link_args=["-pthread"],  # conn_split.c's helper thread
    )
    return ffi


ffibuilder = make_builder()

if __name__ == "__main__":
    # Build in place through setuptools, so the result has the same file name
    # (…abi3.so) as `pip install -e .` produces; a second, differently named
    # copy next to it would shadow or be shadowed by it.
    import sys

    sys.exit(
        subprocess.run(
            [sys.executable, "setup.py", "build_ext", "--inplace"], cwd=ROOT, check=False
        ).returncode
    )
