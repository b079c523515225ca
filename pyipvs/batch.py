"""Batches: many IPVS commands applied at kernel speed (top layer: typed
Python over `pyipvs._native`'s batch engine, csrc/batch.c).

    with ipvs.batch() as b:
        b.add_service(service)
        b.add_server(service.key, server)
    b.result                       # applied on exit

    result = ipvs.apply_batch([Command.add_service(s), ...], atomic=True)

Commands are encoded as they are added and sent ~2,000 per system call; the
kernel runs them in order and answers only failures. Every command keeps its
own result (index, operation, errno, ipvsadm's message). A failing command
does not stop the others (what ipvsadm -R does) unless `stop_on_error`, which
stops at the end of the chunk holding the failure: the kernel has already
run the rest of that chunk (use `chunk=1` for an exact stop, at ipvsadm's
speed).

`atomic=True` snapshots what the batch touches, and after any failure puts
that part of the table back exactly as it was, checked by reading it back
(see `pyipvs.batch_rollback`). Counters are not configuration and are not
restored.

Lost replies: if error replies overflow the socket's receive buffer, the
kernel drops them (ENOBUFS) while still running the commands, so some
outcomes are unknown. The engine sizes chunks so that cannot happen. When it
can (the `_force_rcvbuf` test knob, which also lifts that cap) the batch runs
protected: snapshot first, and on a loss, roll back and replay with chunks
the buffer can answer for, so every command ends up applied exactly once
with its true errno. An unforeseen loss without a snapshot is reported as
Outcome.UNKNOWN: never guessed, never sent twice.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from pyipvs import _native
from pyipvs.batch_result import BatchError, BatchResult, Command, CommandResult, Outcome
from pyipvs.errors import IPVSError, IPVSValueError, Op
from pyipvs.ipvs import check_daemon, check_key, check_server, check_service, check_timeouts
from pyipvs.model import Daemon, DaemonState, Family, Server, Service, ServiceKey, Timeouts

RestoreScan = _native.RestoreScan
RESTORE_END = _native.RESTORE_END
RESTORE_SLOW = _native.RESTORE_SLOW
RESTORE_FULL = _native.RESTORE_FULL

if TYPE_CHECKING:  # annotations only: no runtime dependency on typing_extensions
    from typing_extensions import Self

    from pyipvs.batch_rollback import RollbackError as RollbackError
    from pyipvs.batch_rollback import Snapshot
    from pyipvs.ipvs import IPVS

__all__ = [
    "Batch",
    "BatchError",
    "BatchResult",
    "Command",
    "CommandResult",
    "Outcome",
    "RestoreScan",
    "RollbackError",
    "apply_batch",
]

# Commands per engine call: the granularity of progress reports.
_SLICE = 20000
# Replays after lost replies: the chunk shrinks eightfold each time after the
# first, and a chunk of one command cannot lose its reply.
_REPLAYS = 5


@dataclass
class _Touched:
    """What a rollback must restore: the services named, or all of them."""

    keys: set[ServiceKey] = field(default_factory=set)
    everything: bool = False
    timeouts: bool = False


def _canonical(key: ServiceKey) -> ServiceKey:
    # The kernel keys fwmark services by family and mark only.
    if key.fwmark:
        return ServiceKey.fw(key.fwmark, Family(key.family))
    return key


class Batch:
    """Commands collected for one apply (see the module docstring)."""

    def __init__(
        self, ipvs: IPVS, *, atomic: bool = False, stop_on_error: bool = False,
        chunk: int = 0, _force_rcvbuf: int = 0, _no_snapshot: bool = False,
    ) -> None:  # fmt: skip
        if not isinstance(chunk, int) or chunk < 0:
            raise IPVSValueError(f"chunk must be a non-negative integer, not {chunk!r}")
        self._ipvs = ipvs
        self._nb: _native.Batch | None = _native.Batch()
        self._atomic = atomic
        self._stop = stop_on_error or atomic
        self._chunk = chunk
        self._rcvbuf = _force_rcvbuf
        # Forcing the buffer lifts the engine's cap, so replies may be lost:
        # protect the batch with a snapshot unless a test wants the raw loss.
        self._protect = atomic or (bool(_force_rcvbuf) and not _no_snapshot)
        self._touched = _Touched()
        self._key: ServiceKey | None = None  # the last key validated
        self._dest: Callable[[int, ServiceKey, Server], int] | None = self._nb.dest
        self._zero_all: list[int] = []
        self.result: BatchResult | None = None

    def __len__(self) -> int:
        return len(self._nb) if self._nb is not None else 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        if exc_type is None and self.result is None:
            self.apply().check()
        self.close()

    def close(self) -> None:
        self._dest = None
        if self._nb is not None:
            self._nb.close()
            self._nb = None

    def _native(self) -> _native.Batch:
        if self._nb is None or self.result is not None:
            raise IPVSValueError("this batch was already applied or closed")
        return self._nb

    def _note_key(self, key: ServiceKey) -> None:
        self._native()
        if key is not self._key:
            check_key(key)
            self._key = key
            if self._protect:
                self._touched.keys.add(_canonical(key))

    # --- services ---

    def add_service(self, service: Service) -> None:
        self._service(_native.CMD_NEW_SERVICE, service)

    def edit_service(self, service: Service) -> None:
        self._service(_native.CMD_SET_SERVICE, service)

    def delete_service(self, key: ServiceKey) -> None:
        nb = self._native()
        self._note_key(key)
        nb.service(_native.CMD_DEL_SERVICE, key)

    def _service(self, cmd: int, service: Service) -> None:
        nb = self._native()
        check_service(service)
        self._key = service.key  # checked with it: its servers need no second check
        if self._protect:
            self._touched.keys.add(_canonical(service.key))
        nb.service(cmd, service)

    def zero(self, key: ServiceKey | None = None) -> None:
        nb = self._native()
        if key is None:
            self._zero_all.append(len(nb))
        else:
            self._note_key(key)
        nb.service(_native.CMD_ZERO, key)

    def flush(self) -> None:
        nb = self._native()
        self._touched.everything = True
        nb.service(_native.CMD_FLUSH, None)

    # --- real servers ---

    def add_server(self, key: ServiceKey, server: Server) -> None:
        self._server(_native.CMD_NEW_DEST, key, server, True)

    def edit_server(self, key: ServiceKey, server: Server) -> None:
        self._server(_native.CMD_SET_DEST, key, server, True)

    def delete_server(self, key: ServiceKey, server: Server) -> None:
        self._server(_native.CMD_DEL_DEST, key, server, False)

    def _server(self, cmd: int, key: ServiceKey, server: Server, same_family: bool) -> None:
        # The hot path, kept to one call into _native: cffi range-checks
        # each field as it converts it and the engine refuses the rest of
        # what IPVS.add_server refuses; the full check runs only to word a
        # refusal.
        if key is not self._key:
            self._note_key(key)
        dest = self._dest
        try:
            rc = dest(cmd, key, server) if dest is not None else -errno.EINVAL
        except (TypeError, OverflowError, AttributeError):
            rc = -errno.EINVAL
        if rc:
            self._refuse(key, server, rc, same_family)

    def _refuse(self, key: ServiceKey, server: Server, rc: int, same_family: bool) -> None:
        self._native()  # raises if the batch is already applied
        check_server(key, server, same_family=same_family)
        raise IPVSValueError(f"cannot add {server!r}: {os.strerror(-rc)}")

    # --- configuration ---

    def set_timeouts(self, t: Timeouts) -> None:
        nb = self._native()
        check_timeouts(t)
        self._touched.timeouts = True
        nb.timeouts(t)

    def start_daemon(self, d: Daemon) -> None:
        self._daemon(_native.CMD_NEW_DAEMON, d)

    def stop_daemon(self, state: DaemonState, syncid: int = 0) -> None:
        self._daemon(_native.CMD_DEL_DAEMON, Daemon(state, "", syncid))

    def _daemon(self, cmd: int, d: Daemon) -> None:
        nb = self._native()
        if self._atomic:
            raise IPVSValueError("sync daemons cannot be rolled back: not in an atomic batch")
        check_daemon(d)
        nb.daemon(cmd, d)

    def add_restore_text(
        self, data: bytes, pos: int = 0, max_commands: int = _SLICE, line_starts: bool = False
    ) -> RestoreScan:
        """Append the commands of data[pos:]'s restore lines, as long as
        they are in the plain forms `ipvsadm -S -n` writes (csrc/restore_fast.c);
        stops at the first line it leaves to pyipvsadm's full parser
        (`stop == RESTORE_SLOW`, `pos` at that line), at a partial last
        line, or after `max_commands`. Each command's result is worded as
        its line's would be (the op follows from the command)."""
        nb = self._native()
        self._key = None
        scan = nb.scan_restore(data, pos, max_commands, line_starts)
        if scan.cmds and self._protect:
            # The fast path names no keys: roll back against the whole table.
            self._touched.everything = True
        return scan

    def extend(self, commands: Iterable[Command]) -> None:
        for c in commands:
            _ADD[c.op](self, c)

    # --- applying ---

    def apply(self, progress: Callable[[int, int], None] | None = None) -> BatchResult:
        """Send every command; `progress(done, total)` is called as chunks of
        the batch complete."""
        nb = self._native()
        self._dest = None
        result = self._ipvs._call(lambda h: _Run(self, nb, h, progress).run())
        self.result = result
        return result


_ADD: dict[Op, Callable[[Batch, Command], None]] = {
    Op.ADD_SERVICE: lambda b, c: b.add_service(_need(c.service)),
    Op.UPDATE_SERVICE: lambda b, c: b.edit_service(_need(c.service)),
    Op.DEL_SERVICE: lambda b, c: b.delete_service(_need(c.key)),
    Op.ADD_DEST: lambda b, c: b.add_server(_need(c.key), _need(c.server)),
    Op.UPDATE_DEST: lambda b, c: b.edit_server(_need(c.key), _need(c.server)),
    Op.DEL_DEST: lambda b, c: b.delete_server(_need(c.key), _need(c.server)),
    Op.ZERO_SERVICE: lambda b, c: b.zero(_need(c.key)),
    Op.ZERO: lambda b, c: b.zero(None),
    Op.FLUSH: lambda b, c: b.flush(),
    Op.SET_TIMEOUT: lambda b, c: b.set_timeouts(_need(c.timeouts)),
    Op.START_DAEMON: lambda b, c: b.start_daemon(_need(c.daemon)),
    Op.STOP_DAEMON: lambda b, c: b.stop_daemon(_need(c.daemon).state, _need(c.daemon).syncid),
}


_T = TypeVar("_T")


def _need(v: _T | None) -> _T:
    if v is None:
        raise IPVSValueError("command is missing an argument")
    return v


class _Run:
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
            end = min(self.n, start + _SLICE)
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
                and (self.failed or err or (self.lost and self.replays >= _REPLAYS))
            ):
                rollback(self._handle(), snap)
                if err:
                    raise self._failure(err, "; the batch was rolled back", True)
                return self._result(True)
            if err:
                raise self._failure(err, "", False)
            if snap is not None and self.lost:
                if self.replays >= _REPLAYS:
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
        """The exception for a transport failure (a timeout, a send error),
        carrying what is known of every command as `.result`."""
        e = _native._error(err, None)
        e = type(e)(err, None, f"{e.strerror}{note}")
        e.result = self._result(rolled_back)  # type: ignore[attr-defined]
        return e

    def _result(self, rolled_back: bool) -> BatchResult:
        states, errs, cmds = self.nb.results(0, self.n)
        return BatchResult(states, tuple(errs), cmds, frozenset(self.b._zero_all), rolled_back,
                           self.replays, self.chunks, self.overruns)  # fmt: skip


def apply_batch(
    ipvs: IPVS, commands: Iterable[Command], *, atomic: bool = False,
    stop_on_error: bool = False, progress: Callable[[int, int], None] | None = None,
) -> BatchResult:  # fmt: skip
    b = Batch(ipvs, atomic=atomic, stop_on_error=stop_on_error)
    try:
        b.extend(commands)
        return b.apply(progress)
    finally:
        b.close()


def __getattr__(name: str) -> Any:
    # The rollback code loads with an atomic or protected batch (never for -R).
    if name == "RollbackError":
        from pyipvs.batch_rollback import RollbackError

        return RollbackError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
