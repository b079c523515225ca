"""`pyipvs restore`: an ipvsadm restore file applied as one batch (top layer:
the extended CLI, over `pyipvs.batch`).

The grammar is pyipvsadm's, not a second one: lines in the plain forms
`ipvsadm -S -n` writes are parsed in C by a strict subset of it
(csrc/restore_fast.c, held equal by tests/unit/test_restore_fast.py), and
every other line goes through ipvsadm's line reader
(`cli.ipvsadm.restore.split_line`) and command-line parser
(`cli.ipvsadm.parse.parse_command_line`); each becomes the library call
pyipvsadm would make for it. What differs from `ipvsadm -R`:

- Every line is checked before anything is sent; if any line is invalid,
  each bad line is reported with its number and nothing is applied (exit 2).
  ipvsadm instead runs the lines before the bad one and stops there.
- Lines starting with `#` are skipped, as the ipvsadm-restore script does.
- Commands go to the kernel ~2,000 per system call. Kernel failures do not
  stop the others (as with ipvsadm -R); each is reported with its line
  number and ipvsadm's message (exit 1). `--atomic` instead restores the
  touched part of the table to what it was if anything fails.
- Listing, saving and restoring lines (-L, -S, -R), -h and -v are refused.
"""

from __future__ import annotations

import argparse
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from ..batch import RESTORE_FULL, Batch, BatchResult, Outcome
from ..errors import IPVSValueError
from ..ipvs import IPVS
from .ipvsadm.entry import Entry
from .ipvsadm.matrix import Command
from .ipvsadm.outcome import Crash, Exit, TryHelp, UsageError
from .ipvsadm.parse import parse_command_line
from .ipvsadm.restore import split_line
from .ipvsadm.tokenizer import PoptError

_PROG = "pyipvs restore"
_REFUSED = (Command.LIST, Command.SAVE, Command.RESTORE)
_SCAN = 20000  # commands per fast-path call


def setup(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Apply ipvsadm restore syntax (what ipvsadm -S writes) as one batch. "
        "Every line is checked first; nothing is applied if any line is invalid."
    )
    p.add_argument(
        "--atomic",
        action="store_true",
        help="if any command fails, put the touched services back as they were",
    )
    p.add_argument("--report", action="store_true", help="print a summary with timings to stdout")
    p.add_argument("--progress", action="store_true", help="show progress on a terminal (stderr)")
    p.add_argument("file", nargs="?", default="-", metavar="FILE|-", help="input (default: stdin)")


@dataclass(frozen=True, slots=True)
class LineError:
    number: int
    text: str
    message: str


class _Progress:
    """One self-overwriting status line on a terminal, at most ten updates a second."""

    def __init__(self, stream: IO[str], enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self.last = 0.0

    def show(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if self.enabled and (force or now - self.last >= 0.1):
            self.last = now
            self.stream.write(f"\r{_PROG}: {text}\033[K")
            self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _line_message(exc: BaseException, tokens: list[str]) -> str:
    if isinstance(exc, PoptError):
        return f"{exc.word}: {exc.reason}"
    if isinstance(exc, UsageError):
        return (exc.message or "invalid line").rstrip("\n")
    if isinstance(exc, TryHelp):
        return f"not an ipvsadm command: {tokens[0]}"
    if isinstance(exc, Crash):
        return "ipvsadm 1.31 would crash on this line (an empty -b list)"
    return f"{tokens[0]} is not allowed in a restore file"


def _add(b: Batch, e: Entry) -> None:
    """The batch verb for a checked line: what pyipvsadm would call for it."""
    cmd = e.command
    if cmd is Command.ADD_SERVICE:
        b.add_service(e.service())
    elif cmd is Command.EDIT_SERVICE:
        b.edit_service(e.service())
    elif cmd is Command.DELETE_SERVICE:
        b.delete_service(e.service_key())
    elif cmd is Command.ADD_SERVER:
        b.add_server(e.service_key(), e.server())
    elif cmd is Command.EDIT_SERVER:
        b.edit_server(e.service_key(), e.server())
    elif cmd is Command.DELETE_SERVER:
        b.delete_server(e.service_key(), e.server())
    elif cmd is Command.FLUSH:
        b.flush()
    elif cmd is Command.ZERO:
        # as ipvsadm: no mark, address or port means every service
        b.zero(None if e.is_null_service() else e.service_key())
    elif cmd is Command.SET:
        b.set_timeouts(e.timeouts)
    elif cmd is Command.START_DAEMON:
        b.start_daemon(e.daemon())
    elif cmd is Command.STOP_DAEMON:
        b.stop_daemon(e.daemon_state, e.syncid)
    else:
        raise AssertionError(f"unexpected command {cmd}")


class LineIndex:
    """(line number, text) of each command, in batch order: kept as the input
    and one offset per command, and worked out only for the lines asked
    about (the failing ones)."""

    def __init__(self, data: bytes, starts: array[int]) -> None:
        self._data = data
        self._starts = starts

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, i: int) -> tuple[int, str]:
        data, off = self._data, self._starts[i]
        end = data.find(b"\n", off)
        text = data[off : end if end >= 0 else len(data)].decode("utf-8", "surrogateescape")
        return data.count(b"\n", 0, off) + 1, text.rstrip("\r\n")


def parse_into(
    b: Batch, src: IO[str], tick: Callable[[int], None] | None = None
) -> tuple[LineIndex, list[LineError]]:
    """Add every line's command to `b`; returns where each command came from
    and the lines that could not be used. Lines in the plain forms
    `ipvsadm -S -n` writes are parsed in C (`Batch.add_restore_text`), all
    others by pyipvsadm's parser, which has the last word on the grammar."""
    data = src.read().encode("utf-8", "surrogateescape")
    starts: array[int] = array("Q")
    errors: list[LineError] = []
    pos = number = 0
    while pos < len(data):
        scan = b.add_restore_text(data, pos, _SCAN, line_starts=True)
        starts.extend(scan.line_starts or ())
        number += scan.lines
        pos = scan.pos
        if tick is not None:
            tick(number)
        if scan.stop == RESTORE_FULL:
            continue
        if pos >= len(data):
            break
        # a line for the full parser, or the unterminated last one
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end + 1
        number += 1
        line = data[pos:end].decode("utf-8", "surrogateescape")
        if _slow_line(b, line, number, errors):
            starts.append(pos)
        pos = end
    return LineIndex(data, starts), errors


def _slow_line(b: Batch, line: str, number: int, errors: list[LineError]) -> bool:
    """Check one line with pyipvsadm's reader and parser; True if its
    command was added to `b`."""
    if line.startswith("#"):
        return False
    tokens = split_line(line)
    if not tokens:
        return False
    text = line.rstrip("\r\n")
    try:
        entry = parse_command_line(["ipvsadm", *tokens])
        if entry.command in _REFUSED:
            raise Exit(2)
        if not errors:  # after an error only check; nothing will be sent
            _add(b, entry)
            return True
    except (Exit, PoptError) as exc:
        errors.append(LineError(number, text, _line_message(exc, tokens)))
    except IPVSValueError as exc:
        errors.append(LineError(number, text, str(exc)))
    return False


def _summary(result: BatchResult, nlines: int, t_parse: float, t_apply: float) -> str:
    n = len(result)
    tally = result.tally()
    parts = [
        f"{tally.get(o, 0)} {o.value}"
        for o in Outcome
        if tally.get(o) or o in (Outcome.APPLIED, Outcome.FAILED)
    ]
    per = f" ({t_apply / n * 1e6:.0f} us/command)" if n else ""
    return (
        f"{_PROG}: {n} commands from {nlines} lines: {', '.join(parts)}\n"
        f"{_PROG}: parse {t_parse:.3f} s, apply {t_apply:.3f} s{per}, "
        f"{result.chunks} sends, {result.replays} replays\n"
    )


def cmd_restore(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    progress = _Progress(stderr, args.progress)
    with IPVS(args.netns) as ipvs:
        batch = Batch(ipvs, atomic=args.atomic)
        try:
            t0 = time.perf_counter()

            def tick(n: int) -> None:
                progress.show(f"checked {n} lines")

            if args.file == "-":
                where, errors = parse_into(batch, stdin, tick)
            else:
                with open(args.file, encoding="utf-8", errors="surrogateescape") as src:
                    where, errors = parse_into(batch, src, tick)
            t1 = time.perf_counter()
            progress.done()
            if errors:
                for e in errors:
                    stderr.write(f"{_PROG}: line {e.number}: {e.text}: {e.message}\n")
                stderr.write(f"{_PROG}: {len(errors)} invalid lines; nothing was applied\n")
                return 2
            result = batch.apply(
                lambda done, n: progress.show(f"applied {done}/{n} ({done * 100 // max(n, 1)}%)")
            )
            t2 = time.perf_counter()
            progress.done()
        finally:
            batch.close()
    for r in result.failures:
        number, text = where[r.index]
        stderr.write(f"{_PROG}: line {number}: {text}: {r.message}\n")
    if result.rolled_back:
        stderr.write(f"{_PROG}: the table was rolled back to its state before the restore\n")
    if args.report:
        nlines = where[-1][0] if where else 0
        stdout.write(_summary(result, nlines, t1 - t0, t2 - t1))
    return 0 if result.ok else 1
