"""`pyipvs diff` and `pyipvs apply`: reconcile the live table to a file
(top layer: the extended CLI, over `pyipvs.reconcile`).

    pyipvs diff FILE        the changes, one per line (or --json);
                            exit 0 = same, 1 = they differ, 2 = error (as diff(1))
    pyipvs apply FILE       make them: --dry-run, --atomic, --drain SECONDS

FILE is in ipvsadm save format (what `ipvsadm -Sn` writes), JSON or YAML
(by its name, or --format; '-' reads stdin and looks at the content). The
file is read and checked completely before the kernel is asked anything.
Scope: --address/--port/--fwmark limit both commands to matching services,
--listed to services the file lists; everything else is left alone.
"""

from __future__ import annotations

import argparse
import time
from typing import IO, TYPE_CHECKING

from ..errors import IPVSError, IPVSValueError
from ..ipvs import IPVS
from ..reconcile import (
    DesiredError,
    Plan,
    Scope,
    Table,
    change_line,
    plan_json,
    plan_lines,
    result_json,
    summary,
)
from ..reconcile.formats import FORMATS
from ..reconcile.records import RecordSide, plan_for, prepare, prepare_file

if TYPE_CHECKING:
    from ..reconcile.apply import ApplyResult  # the batch engine: loaded only to apply


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE|-", help="the desired table ('-': stdin)")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        help="ipvsadm save format, JSON or YAML (default: from the name, else the content)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    g = p.add_argument_group("scope (services outside it are neither changed nor deleted)")
    g.add_argument(
        "--address",
        action="append",
        default=[],
        metavar="ADDR[/LEN]",
        help="only address services whose address is this one or in this network (repeatable)",
    )
    g.add_argument(
        "--port", action="append", type=int, default=[], help="only address services on this port"
    )
    g.add_argument(
        "--fwmark",
        action="append",
        type=int,
        default=[],
        help="only fwmark services with this mark",
    )
    g.add_argument(
        "--listed",
        action="store_true",
        help="only services the file lists: unlisted live services are kept, not deleted",
    )


def setup_diff(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Print the changes that would turn the live table into FILE's, one per line, "
        "as ipvsadm commands. Exit 0 if they are the same, 1 if they differ, 2 on errors."
    )
    _common(p)


def setup_apply(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Make the live table equal FILE's, changing only what differs: edits in place, "
        "additions before deletions, one batch."
    )
    _common(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    p.add_argument(
        "--atomic", action="store_true", help="if anything fails, put the table back as it was"
    )
    p.add_argument(
        "--drain",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="set servers that go away to weight 0, wait SECONDS, then delete them",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="also print each change")


def _scope(args: argparse.Namespace) -> Scope:
    try:
        return Scope.of(args.address, args.port, args.fwmark, args.listed)
    except ValueError as e:
        raise IPVSValueError(f"bad --address: {e}") from None


def _desired(args: argparse.Namespace, scope: Scope, stdin: IO[str]) -> RecordSide | Table:
    if args.file == "-":
        return prepare(stdin.read(), args.format, "<stdin>", scope)
    return prepare_file(args.file, args.format, scope)


def _write_json(doc: object, stdout: IO[str]) -> None:
    import json  # only for --json: the json package is start-up cost otherwise

    json.dump(doc, stdout)
    stdout.write("\n")


def _fail(prog: str, e: BaseException, stderr: IO[str]) -> int:
    if isinstance(e, DesiredError):
        for p in e.problems:
            stderr.write(f"{prog}: {e.source}: {p}\n")
        stderr.write(f"{prog}: {len(e.problems)} problems in {e.source}; nothing was done\n")
    else:
        stderr.write(f"{prog}: {e}\n")
    return 2


def cmd_diff(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    try:
        scope = _scope(args)
        desired = _desired(args, scope, stdin)
        with IPVS(args.netns) as ipvs:
            plan = plan_for(ipvs, desired, scope)
    except (IPVSError, IPVSValueError, OSError) as e:
        return _fail("pyipvs diff", e, stderr)
    if args.json:
        _write_json(plan_json(plan), stdout)
    elif plan:
        stdout.write("\n".join(plan_lines(plan)) + "\n")
    return 1 if plan else 0


def cmd_apply(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    prog = "pyipvs apply"
    if not args.drain >= 0:
        stderr.write(f"{prog}: --drain must be a number of seconds >= 0\n")
        return 2
    try:
        scope = _scope(args)
        desired = _desired(args, scope, stdin)
        with IPVS(args.netns) as ipvs:
            t0 = time.perf_counter()
            plan = plan_for(ipvs, desired, scope, drain=args.drain)
            t1 = time.perf_counter()
            if args.dry_run:
                return _dry_run(plan, args, stdout)

            def wait(seconds: float) -> None:
                n = len(plan.after_drain)
                stderr.write(f"{prog}: draining, {n} deletions wait {seconds:g} s\n")
                stderr.flush()
                time.sleep(seconds)

            from ..reconcile import apply_plan  # the batch engine: not for diffs, dry runs

            result = apply_plan(ipvs, plan, atomic=args.atomic, sleep=wait)
    except (IPVSError, IPVSValueError, OSError) as e:
        return _fail(prog, e, stderr)
    return report(prog, plan, result, t1 - t0, args.json, args.verbose, stdout, stderr)


def report(
    prog: str, plan: Plan, result: ApplyResult, plan_seconds: float, as_json: bool,
    verbose: bool, stdout: IO[str], stderr: IO[str],
) -> int:  # fmt: skip
    """Print what an apply did (the console script's thin start prints a
    failed apply with it too); its exit status."""
    for c, r in result.failures:
        stderr.write(f"{prog}: failed: {change_line(c)}: {r.message}\n")
    if result.rolled_back:
        stderr.write(f"{prog}: the table was rolled back to its state before the apply\n")
    if result.stopped:
        stderr.write(f"{prog}: the deletions after the drain were not sent\n")
    if as_json:
        doc = result_json(result)
        doc["read_and_plan_seconds"] = round(plan_seconds, 6)
        _write_json(doc, stdout)
        return 0 if result.ok else 1
    if verbose:
        for line in plan_lines(plan):
            stdout.write(line + "\n")
    state = "applied" if result.ok else "failed"
    stdout.write(
        f"{prog}: {state}: {summary(plan, result.applied())} "
        f"(read and plan {plan_seconds:.3f} s, apply {result.seconds:.3f} s)\n"
    )
    return 0 if result.ok else 1


def _dry_run(plan: Plan, args: argparse.Namespace, stdout: IO[str]) -> int:
    if args.json:
        _write_json(plan_json(plan), stdout)
        return 0
    for line in plan_lines(plan):
        stdout.write(line + "\n")
    stdout.write(f"pyipvs apply: dry run, nothing changed: would change {summary(plan)}\n")
    return 0
