"""Applying a batch that is not streamed (library layer, below pyipvs.batch):
one engine call per slice, a snapshot first when the batch is protected, and
the recovery that makes lost replies exact (see pyipvs.batch's docstring).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyipvs import _native
from pyipvs.batch_result import BatchResult, transport_failure
from pyipvs.errors import IPVSError

if TYPE_CHECKING:
    from pyipvs.batch import Batch
    from pyipvs.batch_rollback import Snapshot

# Commands per engine call: the granularity of progress reports.
SLICE = 20000
# Replays after lost replies: the chunk shrinks eightfold each time after the
# first, and a chunk of one command cannot lose its reply.
REPLAYS = 5


class Run:
    """One apply: send, and recover from lost replies or (atomic) failures."""

    def __init__(
        self, batch: Batch, nb: _native.Batch, h: _native.Handle,
        progress: Callable[[int, int], None] | None,
    ) -> None:  # fmt: skip
        self.b, self.nb, self.h, self.progress = batch, nb, h, progress
        self.n = len(nb)
        self.chunks = self.overruns = self.replays = self.failed = self.lost = 0

    def send(self, flags: int, chunk: int, rcvbuf: int) -> _native.BatchReport | None:
        """All commands in slices; the report that ended early, if one did."""
        start = 0
        while start < self.n:
            end = min(self.n, start + SLICE)
            r = self.nb.apply(self.h, start, end, flags=flags, chunk_msgs=chunk, rcvbuf=rcvbuf)
            self.chunks += r.chunks
            self.overruns += r.overruns
            self.failed += r.failed
            self.lost += r.unknown
            if self.progress is not None:
                self.progress(r.next, self.n)
            if r.err or r.next < end:
                return r
            start = end
        return None

    def run(self) -> BatchResult:
        b = self.b
        snap: Snapshot | None = None
        if b._protect:
            from pyipvs.batch_rollback import rollback, take_snapshot

            t = b._touched
            snap = take_snapshot(self.h, t.keys, t.everything, t.timeouts)
        flags = _native.BATCH_STOP_ON_ERROR if b._stop else 0
        chunk, rcvbuf = b._chunk, b._rcvbuf
        if rcvbuf:
            flags |= _native.BATCH_NO_ADAPT
        if snap is not None:
            flags |= _native.BATCH_STOP_ON_LOST
        while True:
            self.failed = self.lost = 0
            stopped = self.send(flags, chunk, rcvbuf)
            err = stopped.err if stopped is not None else 0
            if (
                snap is not None
                and b._atomic
                and (self.failed or err or (self.lost and self.replays >= REPLAYS))
            ):
                rollback(self._handle(), snap)
                if err:
                    raise self._failure(err, "; the batch was rolled back", True)
                return self._result(True)
            if err:
                raise self._failure(err, "", False)
            if snap is not None and self.lost:
                if self.replays >= REPLAYS:
                    raise IPVSError(errno.ENOBUFS, None, "replies still lost after replaying")
                # Undo, then replay with chunks the buffer can answer for.
                rollback(self._handle(), snap)
                self.nb.reset(0, self.n)
                self.replays += 1
                flags &= ~_native.BATCH_NO_ADAPT
                if self.replays > 1:
                    chunk = max(1, (chunk or _native.BATCH_CHUNK_MSGS) // 8)
                continue
            return self._result(False)

    def _handle(self) -> _native.Handle:
        # After a timeout the socket may still receive a late reply: roll
        # back over a new one.
        if self.h.broken:
            self.h = self.b._ipvs._reopen()
        return self.h

    def _failure(self, err: int, note: str, rolled_back: bool) -> IPVSError:
        return transport_failure(err, note, self._result(rolled_back))

    def _result(self, rolled_back: bool) -> BatchResult:
        states, errs, cmds = self.nb.results(0, self.n)
        return BatchResult(states, tuple(errs), cmds, frozenset(self.b._zero_all), rolled_back,
                           self.replays, self.chunks, self.overruns)  # fmt: skip
