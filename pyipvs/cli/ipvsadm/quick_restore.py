"""`pyipvsadm -R` with a thin start (top layer: the `pyipvsadm` front end).

A restore of plain lines, the form `ipvsadm -S -n` and rule generators
write, needs nothing of Python's but reading stdin: the C fast path parses
and encodes the lines (csrc/restore_fast.c) and the batch engine sends them.
So `-R` alone, on input that is not a terminal, starts here with quick.py's
few modules, and runs the loop of restore_batch.py's `_Run.feed` over
pyipvs._native.thin: blocks of stdin scanned into batches of at most
FLUSH_EVERY commands, each applied when full and at the end. A full batch
is applied on a thread of its own while the next is scanned (the two take
turns: one batch in flight, and it ends before the next is sent).

It stops at the first thing that needs the full path, and hands the restore
over as it stands (a `Carry`), to go on where it left off:
- a line the fast path leaves to the full parser, or an unterminated last
  line: the batch so far is applied first, then the full path reads on from
  that line;
- a batch in which any command failed (or whose sending failed): the full
  path words its messages, by the same code as its own batches', and reads
  on after it.

Batches are cut at other lines than the full path would cut them, which
nobody sees: each line is applied on its own either way, no request depends
on an earlier one's outcome, and the kernel gets the same requests in the
same order. An error-free restore never imports the full path. Before the
first line is read (no IPVS, an old IPVS version, any failure) the full path
runs the restore from the start.
"""

import sys

from pyipvs._native import thin

from .quick import MIN_VERSION, version_of

TYPE_CHECKING = False  # not typing's: typing is start-up cost (quick.py)
if TYPE_CHECKING:
    from typing import BinaryIO

BLOCK = 1 << 20  # bytes read at a time (restore_batch.py reads as many characters)
FLUSH_EVERY = 20000  # commands per batch at most: bounds memory, not speed
# The first batch's size; each next one is four times the last, up to
# FLUSH_EVERY. Small at first, so that the kernel has work while the rest
# is parsed (RestoreBatch.send) and input that ends soon leaves little to
# send after parsing ends.
FIRST_BATCH = 1000


class Carry:
    """A restore the thin start began, for restore_batch.py to finish.

    rest: input read but not yet taken, from the start of a line;
    applied: the last batch sent, when something in it failed (states, errnos,
      command bytes, transport errno: thin.RestoreBatch.apply's result);
    last_cmd: the command byte of the last command sent (None: none sent),
      which words the errors of lines that record no operation of their own.
    """

    __slots__ = ("applied", "last_cmd", "rest")

    def __init__(
        self,
        rest: bytes,
        applied: "tuple[bytes, list[int], bytes, int] | None",
        last_cmd: "int | None",
    ) -> None:
        self.rest = rest
        self.applied = applied
        self.last_cmd = last_cmd


def restore(
    stdin: "BinaryIO | None" = None, netns: "str | None" = None
) -> "tuple[int | None, Carry | None]":
    """Run `-R` on stdin (None: sys.stdin's bytes) in the namespace at path
    netns (None: this process's): (exit status, None) when done here; (None,
    None) for the full path to run it from the start; (None, carry) for it
    to finish."""
    try:
        if stdin is None:
            stdin = sys.stdin.buffer
        if stdin.isatty():  # typed input runs line by line (restore.py)
            return None, None
        # (guarded: an IPVS that stalls before anything is sent leaves the
        # restore to the full path from the start, which reports the stall)
        batch = thin.guarded(thin.RestoreBatch, netns)
    except Exception:  # noqa: BLE001 - any failure: the full path runs and reports it
        return None, None
    if version_of(batch.version) < MIN_VERSION:
        return None, None
    try:
        return _run(stdin, batch)
    finally:
        batch.wait()  # (an exception: the batch in flight still ends first)


def _run(stdin: "BinaryIO", batch: "thin.RestoreBatch") -> "tuple[int | None, Carry | None]":
    # data holds the input from the first line of the batch being scanned
    # (`start`) on: the batch in flight before it may fail, and then the
    # full path reads on from there, as the batch being scanned was never
    # sent. pos: the first byte not scanned yet.
    data, start, pos, limit = b"", 0, 0, FIRST_BATCH
    while block := stdin.read(BLOCK):
        data, pos, start = data[start:] + block, pos - start, 0
        while True:
            pos, stop = batch.scan(data, pos, max(0, min(limit, FLUSH_EVERY) - len(batch)))
            if stop == thin.RESTORE_END:
                break
            applied = batch.wait()
            if applied is not None:
                return None, Carry(data[start:], applied, batch.last_cmd)
            if stop == thin.RESTORE_SLOW:
                applied = batch.apply()
                return None, Carry(data[pos:], applied, batch.last_cmd)
            batch.send()
            start, limit = pos, limit * 4
    applied = batch.wait()
    if applied is not None:
        return None, Carry(data[start:], applied, batch.last_cmd)
    applied = batch.apply()
    if pos < len(data) or applied is not None:
        return None, Carry(data[pos:], applied, batch.last_cmd)
    return 0, None
