"""`-R` over the batch engine (top layer: the `pyipvsadm` front end).

ipvsadm 1.31 runs every restore line as a command of its own, one netlink
round trip each (see restore.py for the line semantics). This runs the same
lines with the same observable behaviour, but sends runs of kernel-changing
lines as one batch:

- Input is read in large blocks. Lines in the plain forms `ipvsadm -S -n`
  writes are parsed and encoded in C (`Batch.add_restore_text`,
  csrc/restore_fast.c); every other line goes through the shared reader and
  parser (`split_line`, `parse_command_line`) and its command joins the
  same batch through the verbs commands.py uses for it (`_call`), so it
  records the same operation.
- The batch runs without stopping at errors: like ipvsadm, each line is
  applied on its own and a failure undoes nothing.
- Before a line that writes to stdout, reads the kernel or ends the run (a
  listing, -S, a usage error, -h, -v, a nested -R, the crash of `-b ,`),
  and every FLUSH_EVERY commands (memory stays bounded however long the
  input), the pending batch is applied and the messages of its failing
  commands and of its popt errors are printed in line order. Each failure
  is worded by ipvs_strerror for the operation ipvsadm's library would have
  recorded at that line (a flush records none: the one before it counts).
- The status is the last non-empty line's, as before.

No line's kernel request depends on an earlier line's outcome (only its
wording, known when it is parsed, and listings, which wait for the batch),
so the kernel sees the same requests in the same order and ends with the
same table. Input from a terminal runs line by line as typed (restore.py).

The console script runs this loop first in quick_restore.py, without the
imports of this path, and hands the restore over here part-way (a `Carry`:
the input it did not take, and its last batch when something in it failed),
which `_resume` takes up.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, cast

from pyipvs.batch import RESTORE_FULL, RESTORE_SLOW, Batch, BatchResult, Outcome
from pyipvs.batch_result import op_of_command
from pyipvs.errors import IPVSError, Op, ipvs_strerror

from .commands import _call, execute
from .matrix import Command
from .outcome import TryHelp
from .parse import parse_command_line
from .quick_restore import BLOCK, FLUSH_EVERY
from .tokenizer import PoptError

if TYPE_CHECKING:
    from .session import Session

# Sizes shared with the thin start (quick_restore.py), which runs this loop
# first: BLOCK characters read at a time, FLUSH_EVERY commands per batch at
# most (bounds memory, not speed).


class _Into:
    """What commands._call needs of a session: something with IPVS's verbs
    (a Batch has them all, with the same signatures)."""

    def __init__(self, batch: Batch) -> None:
        self.ipvs = batch


class _Run:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.batch: Batch | None = None
        # wording op of each command the full parser added (None: a flush,
        # which records none); fast-path commands word by their own op
        self.ops: dict[int, Op | None] = {}
        self.notes: list[tuple[int, str]] = []  # (batch position, popt message)
        self.status = 0
        self.status_cmd: int | None = None  # the last non-empty line, if pending

    def _batch(self) -> Batch:
        if self.batch is None:
            self.batch = Batch(self.s.ipvs)
        return self.batch

    # --- input ---------------------------------------------------------

    def run(self) -> int:
        stdin = self.s.stdin
        data = self._resume()
        rest = data[self.feed(data) :]
        while True:
            text = stdin.read(BLOCK)
            data = rest + text.encode("utf-8", "surrogateescape")
            if not text:
                break
            rest = data[self.feed(data) :]
        if data:
            self.slow(data.decode("utf-8", "surrogateescape"))  # the unterminated last line
        self.flush()
        return self.status

    def _resume(self) -> bytes:
        """Take over what the thin start began (quick_restore.Carry): report
        its last batch, if it failed in part, as flush reports ours; the
        input it read and did not take, to read on from."""
        carry, self.s.carry = self.s.carry, None
        if carry is None:
            return b""
        if carry.last_cmd is not None:
            self.s.last_op = op_of_command(carry.last_cmd)  # a fast-path line's: never a zero
        if carry.applied is not None:
            states, errs, cmds, transport = carry.applied
            self.status_cmd = len(states) - 1
            self._report((BatchResult(states, tuple(errs), cmds), transport), [], {})
        return carry.rest

    def feed(self, data: bytes) -> int:
        """Take every complete line of data; returns where the partial rest begins."""
        pos = 0
        while True:
            b = self._batch()
            scan = b.add_restore_text(data, pos, max(0, FLUSH_EVERY - len(b)))
            pos = scan.pos
            if scan.cmds:
                self.status_cmd = len(b) - 1
            if scan.stop == RESTORE_FULL:
                self.flush()
            elif scan.stop == RESTORE_SLOW:
                end = data.index(b"\n", pos) + 1
                self.slow(data[pos:end].decode("utf-8", "surrogateescape"))
                pos = end
            else:
                return pos

    def slow(self, line: str) -> None:
        """One line through the full reader and parser, as restore.py runs it."""
        from .restore import split_line

        tokens = split_line(line)
        if not tokens:
            return
        s = self.s
        try:
            try:
                entry = parse_command_line([s.argv0, *tokens], posix=s.posix)
            except PoptError as exc:  # reported, and the restore goes on
                self.notes.append(
                    (len(self.batch) if self.batch else 0, f"{exc.word}: {exc.reason}")
                )
                self.status, self.status_cmd = -1, None
                return
            if entry.command is Command.RESTORE:
                raise TryHelp()  # a -R inside -R input
            if entry.command in (Command.LIST, Command.SAVE):
                self.flush()
                self.status, self.status_cmd = execute(s, entry), None
                return
            b = self._batch()
            op, call = _call(cast("Session", _Into(b)), entry)
            call()
        except BaseException:
            # Whatever ends the run ends it after the lines before it, as
            # ipvsadm's exit() does: they were applied and reported.
            self.flush()
            raise
        self.ops[len(b) - 1] = op
        self.status_cmd = len(b) - 1

    # --- applying --------------------------------------------------------

    def flush(self) -> None:
        b, notes, ops = self.batch, self.notes, self.ops
        self.batch, self.notes, self.ops = None, [], {}
        applied: tuple[BatchResult, int] | None = None
        if b is not None:
            try:
                if len(b):
                    applied = _apply(b)
            finally:
                b.close()
        self._report(applied, notes, ops)

    def _report(
        self, applied: tuple[BatchResult, int] | None, notes: list[tuple[int, str]],
        ops: dict[int, Op | None],
    ) -> None:  # fmt: skip
        """Print a batch's messages in line order and take its status."""
        result, bad = (applied[0], _bad(*applied)) if applied is not None else (None, {})
        events: list[tuple[int, int, str]] = [(p, 0, text) for p, text in notes]
        for i, err in bad.items():
            assert result is not None
            events.append((i, 1, ipvs_strerror(self._op(i, result, ops), err)))
        events.sort(key=lambda e: (e[0], e[1]))
        for _, _, text in events:
            self.s.err.line(text)
        if result is not None:
            last = self._op(len(result) - 1, result, ops)
            if last is not None:
                self.s.last_op = last
        if self.status_cmd is not None:
            self.status = -1 if self.status_cmd in bad else 0
            self.status_cmd = None

    def _op(self, i: int, result: BatchResult, ops: dict[int, Op | None]) -> Op | None:
        """The operation ipvsadm's library had recorded when command i ran."""
        while i >= 0:
            op = ops[i] if i in ops else result.op(i)
            if op is not None:
                return op
            i -= 1
        return self.s.last_op


def _apply(b: Batch) -> tuple[BatchResult, int]:
    """Apply; the result, and the errno of a transport failure (0: none)."""
    try:
        return b.apply(), 0
    except IPVSError as exc:  # a timeout or send failure part-way
        got = getattr(exc, "result", None)
        if not isinstance(got, BatchResult):
            raise
        return got, exc.errno or errno.EIO


def _bad(result: BatchResult, transport: int) -> dict[int, int]:
    """The errno of every command that did not succeed."""
    bad = {r.index: r.errno for r in result.failures if r.outcome is Outcome.FAILED}
    for r in result.failures:
        if r.outcome is Outcome.UNKNOWN:
            # Executed, reply lost (the engine sizes chunks so that this
            # does not happen): the truthful errno is not known.
            bad[r.index] = transport or errno.ENOBUFS
    if transport:
        pending = result.states.find(0)  # never sent after the failure
        while pending >= 0:
            bad[pending] = transport
            pending = result.states.find(0, pending + 1)
    return bad


def restore_batched(session: Session) -> int:
    """ipvsadm's `-R` loop, batched (see the module docstring)."""
    return _Run(session).run()
