"""The sending side of a streamed batch (library layer, beside pyipvs.batch):
parts of the batch go to the kernel while the caller is still adding
commands, so Python's per-command work and the kernel's run at once, on
two CPUs, instead of one after the other.

Parts are sent one at a time and in order, each by one engine call on a
worker thread and socket of the stream's own (pyipvs.runner.Runner, with
the IPVS object's namespace and timeout): the next part goes only once the
last is done, so the kernel runs the commands in the order they were added,
and the IPVS object stays free for other calls meanwhile.

What a stream gives up: its commands reach the kernel before apply(). If
the caller's `with` block raises, what was sent stays applied, unless the
batch is atomic. An atomic stream snapshots the whole table and the
timeouts before its first part (it cannot know which services later parts
will touch) and rolls back after any failure, a raise in the block
included.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from pyipvs import _native
from pyipvs.batch_result import BatchResult, transport_failure
from pyipvs.errors import IPVSError, IPVSValueError
from pyipvs.runner import Runner

if TYPE_CHECKING:
    from pyipvs.batch_rollback import Snapshot
    from pyipvs.ipvs import IPVS

# What one part's results are: states, errnos, commands (see _native.Batch.results).
Part = tuple[bytes, list[int], bytes]

# After a stall, a command not known to have run or failed (pending, or
# in flight: the engine's internal state) may have run or not: UNKNOWN.
_STALLED = bytes(
    c if c in (_native.BATCH_OK, _native.BATCH_FAILED) else _native.BATCH_UNKNOWN
    for c in range(256)
)


class Stream:
    """Sends a batch's parts as they fill; `finish` sends the last."""

    def __init__(self, ipvs: IPVS, flags: int, chunk: int, atomic: bool) -> None:
        if ipvs._closed:
            raise IPVSValueError("operation on a closed IPVS handle")
        self._where = (ipvs._netns, ipvs._timeout_ms)
        self._runner = Runner(*self._where)
        self._atomic = atomic
        # An atomic stream stops at its first failure or lost reply: all of
        # it is rolled back anyway.
        self._flags = flags | (_native.BATCH_STOP_ON_LOST if atomic else 0)
        self._chunk = chunk
        self._inflight: _native.Batch | None = None
        self._parts: list[Part] = []
        self._snap: Snapshot | None = None
        self._first = True
        self._closed = False
        self.stopped = False
        self.error: IPVSError | None = None  # the transport failure that stopped it
        self.failed = self.lost = self.chunks = self.overruns = 0

    def send(self, nb: _native.Batch) -> None:
        """Send nb once the part before it is done; nb is the stream's now."""
        self.wait()
        if self.stopped or len(nb) == 0:
            self._keep(nb, nb.results(0, len(nb)))
            return
        n, first = len(nb), self._first
        self._first = False

        def run(h: _native.Handle) -> _native.BatchReport:
            if first and self._atomic:
                from pyipvs.batch_rollback import take_snapshot

                self._snap = take_snapshot(h, set(), True, True)
            return nb.apply(h, 0, n, flags=self._flags, chunk_msgs=self._chunk)

        self._inflight = nb
        self._runner.start(run)

    def wait(self) -> None:
        """Until the part in flight is done, and note how it went."""
        nb, self._inflight = self._inflight, None
        if nb is None:
            return
        try:
            r = self._runner.finish()
        except IPVSError as e:
            self.stopped, self.error = True, e
            states, errs, cmds = nb.results(0, len(nb))
            if self._runner.abandoned:
                # Stalled in the kernel: which of its commands ran is unknown.
                # nb is not closed: the abandoned call's closure still holds
                # it, and may read it until the kernel lets go.
                states = states.translate(_STALLED)
                self._runner = Runner(*self._where)
                self._parts.append((states, errs, cmds))
            else:
                self._keep(nb, (states, errs, cmds))
            return
        assert isinstance(r, _native.BatchReport)
        self.failed += r.failed
        self.lost += r.unknown
        self.chunks += r.chunks
        self.overruns += r.overruns
        if r.err:
            self.stopped, self.error = True, _native._error(r.err, None)
        else:
            # Cut short, or stopped as asked: later parts are not sent.
            stop_on_error = self._flags & _native.BATCH_STOP_ON_ERROR
            self.stopped = r.next < len(nb) or bool(r.failed and stop_on_error)
            self.stopped |= bool(r.unknown and self._atomic)
        self._keep(nb, nb.results(0, len(nb)))

    def _keep(self, nb: _native.Batch, part: Part) -> None:
        self._parts.append(part)
        nb.close()

    def finish(self, nb: _native.Batch, zero_all: frozenset[int]) -> BatchResult:
        """Send the last part, wait, roll back an atomic stream that failed,
        and give every command's result (raising a transport failure with
        them as its `.result`)."""
        try:
            self.send(nb)
            self.wait()
            failed = self.failed or self.lost or self.error is not None
            rolled_back = bool(self._atomic and failed) and self._roll_back()
        finally:
            self.close()
        parts = self._parts
        result = BatchResult(
            b"".join(p[0] for p in parts), tuple(e for p in parts for e in p[1]),
            b"".join(p[2] for p in parts), zero_all, rolled_back, 0, self.chunks, self.overruns,
        )  # fmt: skip
        if self.error is not None:
            note = "; the batch was rolled back" if rolled_back else ""
            raise transport_failure(self.error.errno or errno.EIO, note, result)
        return result

    def abort(self) -> None:
        """The caller gave up before apply(): wait for the part in flight;
        an atomic stream rolls back what it sent."""
        try:
            self.wait()
            if self._atomic:
                self._roll_back()
        finally:
            self.close()

    def _roll_back(self) -> bool:
        snap = self._snap
        if snap is None:  # nothing was sent
            return False
        from pyipvs.batch_rollback import rollback

        self._runner.call(lambda h: rollback(h, snap))
        return True

    def close(self) -> None:
        if not self._closed:  # also a dropped batch's finalizer
            self._closed = True
            self._runner.close()
