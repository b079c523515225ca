"""How a thin start ends (pyipvs.cli.exit_now): its output and status, the
process's atexit hooks run once, no interpreter teardown; and the ordinary
exit where Python threads may be running.

Each case is a fresh interpreter. An object in __main__ whose finalizer
prints "teardown" tells whether the interpreter was torn down.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pyipvs

_SCRIPT = """
import atexit, sys
{pre}
class Probe:
    def __del__(self):
        sys.stdout.write("teardown\\n")
        sys.stdout.flush()
probe = Probe()
atexit.register(lambda: sys.stdout.write("hook\\n"))
from pyipvs.cli import exit_now
sys.stdout.write("out\\n")
exit_now(3)
sys.stdout.write("after\\n")
"""


def _run(pre: str = "") -> tuple[int, str]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(pyipvs.__file__)))
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(pre=pre)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
        check=False,
        timeout=60,
    )
    assert done.stderr == ""
    return done.returncode, done.stdout


def test_exit_now_runs_hooks_once_and_skips_teardown() -> None:
    assert _run() == (3, "out\nhook\n")


def test_exit_now_takes_the_ordinary_exit_where_threading_is_loaded() -> None:
    assert _run("import threading") == (3, "out\nhook\nteardown\n")
