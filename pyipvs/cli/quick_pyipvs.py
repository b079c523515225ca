"""The `pyipvs` console script, with a thin start for `apply` and `diff` of
a table that already matches (top layer: the extended CLI).

`pyipvs apply FILE` run again and again (from a timer, a configuration
management agent, a controller's loop) mostly finds nothing to do. Its
full path imports argparse, the model, the planner and the batch engine
before it learns that: seconds where process starts are slow (the emulated
test VM), against a fraction of a second for reading the table. So `apply
FILE` and `diff FILE`, exactly so (no options; FILE not `-` and not named
.json/.yaml/.yml), with a file in ipvsadm save format that the C records
reader takes whole, first compare the file's records with the live
table's (pyipvs._native.thin.table_unchanged: the same records and the same
equality the full path plans with). When they are equal, `diff` exits 0
silently and `apply` prints its summary of a plan with nothing in it, as
the full path would. Anything else, and any failure, goes to the full path
unchanged, which starts again from the beginning: nothing has been changed
by then.
"""

import sys
import time

from pyipvs.reconcile.formats import format_of_name, sniff, summary_line

TYPE_CHECKING = False  # not typing's: typing is start-up cost
if TYPE_CHECKING:
    from typing import TextIO


def entry() -> None:
    """The `pyipvs` console script."""
    args = sys.argv[1:]
    if len(args) == 2 and args[0] in ("apply", "diff"):
        status = unchanged(args[0], args[1], sys.stdout)
        if status is not None:
            raise SystemExit(status)
    from .pyipvs import entry as full_entry

    full_entry()


def unchanged(command: str, path: str, stdout: "TextIO") -> "int | None":
    """`command` ("apply" or "diff") on the file at path when the live table
    already matches it: its exit status, after printing what the full path
    prints; None (nothing printed) for the full path to run it."""
    if path.startswith("-") or format_of_name(path) != "auto":
        return None
    try:
        with open(path, "rb") as f:
            text = f.read()
        if sniff(text.decode("utf-8", "surrogateescape")) != "save":
            return None
        from pyipvs._native import thin

        t0 = time.perf_counter()
        sizes = thin.table_unchanged(text)
        t1 = time.perf_counter()
    except Exception:  # noqa: BLE001 - any failure: the full path runs and reports it
        return None
    if sizes is None:
        return None
    if command == "apply":
        services, servers = sizes
        line = summary_line((0, 0, 0, services), (0, 0, 0, 0, servers), 0)
        stdout.write(
            f"pyipvs apply: applied: {line} (read and plan {t1 - t0:.3f} s, apply 0.000 s)\n"
        )
    return 0
