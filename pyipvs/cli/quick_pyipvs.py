"""The `pyipvs` console script, with a thin start for `apply` and `diff` of
a save file (top layer: the extended CLI).

`pyipvs apply FILE` run again and again (from a timer, a configuration
management agent, a controller's loop) mostly finds little or nothing to
do. Its full path imports argparse, the model, the planner and the batch
engine before it learns that: over a second where process starts are slow
(the emulated test VM), against a fraction of one for reading the table.
So `apply FILE` and `diff FILE`, exactly so (no options; FILE not `-` and
not named .json/.yaml/.yml), with a file in ipvsadm save format that the C
records reader takes whole, start here: the file's records are scanned
while the live table's are read (pyipvs._native.thin_records), the records
and the equality the full path plans with.

- The same table: `diff` exits 0 silently and `apply` prints its summary
  of a plan with nothing in it, as the full path would.
- Different, for `diff`: the planner and the renderer are loaded to plan
  and print the same records (exit 1), without argparse or a second read.
- Different, for `apply`: C names the records that differ, the planner's
  own pyipvs.reconcile.delta puts them in its order, and they are sent as
  records (no model objects), as the plan's batch would send them. When all succeed, the
  summary is printed here; when any fails, the planner and the report of
  the full path are loaded to print what it prints (pyipvs_reconcile.report
  over the same plan, change for change).
- Anything else (another format, an option, any failure before the
  changes are sent, a transport failure or stall while sending
  them) goes to the full path, which starts again from the beginning: it
  reads the table again and plans only what is still to do, so a batch cut
  short is finished, not repeated.
"""

import sys
import time

from pyipvs.cli import exit_now
from pyipvs.reconcile.formats import format_of_name, sniff, summary_line

TYPE_CHECKING = False  # not typing's: typing is start-up cost
if TYPE_CHECKING:
    from typing import TextIO

    from pyipvs._native.thin import Outcome
    from pyipvs._native.thin_records import Table
    from pyipvs.reconcile.delta import Delta
    from pyipvs.reconcile.plan import Plan

PROG = "pyipvs apply"


def entry() -> None:
    """The `pyipvs` console script."""
    args = sys.argv[1:]
    if len(args) == 2 and args[0] in ("apply", "diff"):
        status = thin_start(args[0], args[1], sys.stdout, sys.stderr)
        if status is not None:
            exit_now(status)
    from .pyipvs import entry as full_entry

    full_entry()


def thin_start(command: str, path: str, stdout: "TextIO", stderr: "TextIO") -> "int | None":
    """`command` ("apply" or "diff") on the file at path, where the thin
    start can carry it out (see the module docstring): its exit status,
    after printing what the full path prints. None for the full path to
    run it: nothing has been printed then, and whatever a cut-short batch
    sent is in the table the full path reads, so it is not sent twice."""
    if path.startswith("-") or format_of_name(path) != "auto":
        return None
    try:
        with open(path, "rb") as f:
            text = f.read()
        from pyipvs._native import thin_records

        # The live table's read is most of the run: it starts first, on a
        # thread of its own (its C call lets go of the GIL), and this thread
        # recognises and scans the file, and loads what an apply plans with,
        # meanwhile. A file that turns out not to be a save file, or to need
        # the full parser, costs the read (the full path reads again).
        t0 = time.perf_counter()
        read_live = thin_records.start_live_records()
        want = None
        try:
            if sniff(text.decode("utf-8", "surrogateescape")) == "save":
                want = thin_records.text_records(text)
            if want is not None and command == "apply":
                import pyipvs.reconcile.delta  # noqa: F401 - loaded while the read runs
        finally:
            live = read_live()
        if want is None:
            return None
        services, servers, recs = thin_records.differences(want, live)
        if not any(services) and not any(servers):
            if command == "apply":
                t1 = time.perf_counter()
                n_svc, n_dest = want.sizes()
                line = summary_line((0, 0, 0, n_svc), (0, 0, 0, 0, n_dest), 0)
                stdout.write(
                    f"{PROG}: applied: {line} (read and plan {t1 - t0:.3f} s, apply 0.000 s)\n"
                )
            return 0
        if command != "apply":
            return _print_diff(want, live, stdout)
        from pyipvs.reconcile.delta import Diff, delta

        d = delta(Diff(*services), Diff(*servers), want.service_ids(), thin_records.service_of)
        changes = [(thin_records.COMMANDS[a], recs[k]) for a, k in d.additions()]
        changes += [(thin_records.COMMANDS[a], recs[k]) for a, k in d.deletions()]
        t1 = time.perf_counter()
        outcome = thin_records.apply_records(changes)
        t2 = time.perf_counter()
    except Exception:  # noqa: BLE001 - any failure: the full path runs and reports it
        return None
    if outcome is None:
        stdout.write(f"{PROG}: applied: {_summary(d, want.sizes())} ")
        stdout.write(f"(read and plan {t1 - t0:.3f} s, apply {t2 - t1:.3f} s)\n")
        return 0
    if outcome[3]:
        return None  # a transport failure: the full path reads and plans what is left
    try:
        return _failed(want, live, outcome, t1 - t0, t2 - t1, stdout, stderr)
    except Exception:  # noqa: BLE001 - the full path plans again and reports the failures
        return None


def _summary(d: "Delta", sizes: "tuple[int, int]") -> str:
    services, servers = d.unchanged(*sizes)
    with_services = sum(len(g) for g in d.with_service.values())
    return summary_line(
        (len(d.added), len(d.edited), len(d.removed), services),
        (with_services + len(d.new_servers), len(d.edited_servers), 0, len(d.gone), servers),
        0,
    )


def _plan(want: "Table", live: "Table") -> "Plan":
    """The planner's plan of the same records (its changes are the ones
    the thin start sends, in order)."""
    from pyipvs.reconcile.plan import Scope, plan_sides
    from pyipvs.reconcile.records import RecordSide

    return plan_sides(RecordSide(live.pairs()), RecordSide(want.pairs()), Scope())


def _print_diff(want: "Table", live: "Table", stdout: "TextIO") -> int:
    """`diff` of tables that differ, as the full path prints it: the
    planner and the renderer are loaded, but not argparse, and the table
    is not read again."""
    from pyipvs.reconcile.render import plan_lines

    stdout.write("\n".join(plan_lines(_plan(want, live))) + "\n")
    return 1


def _failed(
    want: "Table", live: "Table", outcome: "Outcome", plan_seconds: float,
    seconds: float, stdout: "TextIO", stderr: "TextIO",
) -> int:  # fmt: skip
    """Report an apply some of whose changes failed as the full path does."""
    from pyipvs.batch_result import BatchResult
    from pyipvs.reconcile.apply import sent_result

    from .pyipvs_reconcile import report

    plan = _plan(want, live)
    states, errs, cmds, _ = outcome
    result = sent_result(plan, BatchResult(states, tuple(errs), cmds), seconds)
    return report(PROG, plan, result, plan_seconds, False, False, stdout, stderr)
