"""Command-line front ends of pyipvs (top layer: over the library).

`pyipvs.cli.ipvsadm` is `pyipvsadm`, the drop-in for ipvsadm 1.31;
`pyipvs.cli.pyipvs` is the extended `pyipvs` command. Each exposes
`main(argv, stdin, stdout, stderr) -> int` and an `entry()` console script.

`exit_now` is here, in the package init both thin starts load anyway
(pyipvs/cli/ipvsadm/quick.py, pyipvs/cli/quick_pyipvs.py), because a module
of its own would cost one more import on exactly the paths it shortens.
"""

import os
import sys

TYPE_CHECKING = False  # not typing's: typing is start-up cost
if TYPE_CHECKING:
    from typing import NoReturn


def exit_now(status: int) -> "NoReturn":
    """End a thin start that has said everything: flush the standard
    streams and leave without the interpreter's teardown.

    The teardown (collecting, clearing every module, cffi's finalizers)
    frees memory the exit frees anyway; it cost 40 ms of a 0.73 s
    `pyipvs apply` start in the emulated test VM (2026-11-28). A thin start
    ends with no thread of its own running, no file of its own open and no
    atexit hook, so nothing else is lost. If a flush fails, the ordinary
    exit runs and reports it, as before."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - the ordinary exit reports it
        raise SystemExit(status) from None
    os._exit(status)
