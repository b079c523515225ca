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
    """End a thin start that has said everything: run the atexit hooks,
    flush the standard streams and leave without the interpreter's
    teardown.

    The teardown (collecting, clearing every module, cffi's finalizers)
    frees memory the exit frees anyway; in the emulated test VM it cost 40
    ms (2026-11-28: 0.772 s against 0.731 s for a process that imports
    what `pyipvs apply`'s thin start imports). A thin start ends with no
    thread of its own running and no file of its own open. What else the
    ordinary exit does stays: the atexit hooks run (a harness may have
    registered one: tests/kernel/test_badinput.py records the peak memory
    there), and where the threading module is loaded (something started
    Python threads, which the ordinary exit waits for), or a flush fails,
    the ordinary exit runs instead."""
    if "threading" in sys.modules:
        raise SystemExit(status)
    import atexit  # compiled into the interpreter: no file to find

    atexit._run_exitfuncs()  # runs each hook once: the exit does not again
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - the ordinary exit reports it
        raise SystemExit(status) from None
    os._exit(status)
