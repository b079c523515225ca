"""Batches: many IPVS commands applied at kernel speed (top layer: typed
Python over `pyipvs._native`'s batch engine, csrc/batch.c).

    with ipvs.batch() as b:
        b.add_service(service)
        b.add_server(service.key, server)
    b.result                       # applied on exit

    result = ipvs.apply_batch([Command.add_service(s), ...], atomic=True)

Commands are encoded as they are added and sent ~2,000 per system call; the
kernel runs them in order and answers only failures. `add_servers` takes a
service's servers in one call into C, about half the cost per server of
`add_server`. `stream=True` sends the batch in parts while commands are still
being added (pyipvs.batch_stream: the kernel works while Python adds; the
price is that commands reach the kernel before apply()). Every command keeps its
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
import math
import os
import sys
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from pyipvs import _native
from pyipvs.batch_result import BatchError, BatchResult, Command, CommandResult, Outcome
from pyipvs.batch_run import SLICE, Run
from pyipvs.errors import IPVSValueError, Op
from pyipvs.ipvs import check_daemon, check_key, check_server, check_service, check_timeouts
from pyipvs.model import Daemon, DaemonState, Family, Server, Service, ServiceKey, Timeouts

RestoreScan = _native.RestoreScan
RESTORE_END = _native.RESTORE_END
RESTORE_SLOW = _native.RESTORE_SLOW
RESTORE_FULL = _native.RESTORE_FULL

if TYPE_CHECKING:  # annotations only: no runtime dependency on typing_extensions
    from typing_extensions import Self

    from pyipvs.batch_rollback import RollbackError as RollbackError
    from pyipvs.batch_stream import Stream
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

# Commands per part of a streamed batch. The first part and the last (sent
# once the caller is done) overlap nothing, and every part costs hand-offs
# between the threads: the sum is least with parts that grow as the square
# root of the batch's size, which is not known in advance, so of the
# commands so far (benchmarks/RESULTS.md, session 12).
_PART_MIN, _PART_MAX, _PART_GROWTH = 500, 4000, 9


def _part_size(sent: int) -> int:
    return min(_PART_MAX, max(_PART_MIN, _PART_GROWTH * math.isqrt(sent)))


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
        chunk: int = 0, stream: bool = False, _force_rcvbuf: int = 0,
        _no_snapshot: bool = False, _part: int = 0,
    ) -> None:  # fmt: skip
        if not isinstance(chunk, int) or chunk < 0:
            raise IPVSValueError(f"chunk must be a non-negative integer, not {chunk!r}")
        if stream and _force_rcvbuf:
            raise IPVSValueError("a streamed batch cannot force the receive buffer")
        self._ipvs = ipvs
        self._nb: _native.Batch | None = _native.Batch()
        self._atomic = atomic
        self._stop = stop_on_error or atomic
        self._chunk = chunk
        self._rcvbuf = _force_rcvbuf
        # Forcing the buffer lifts the engine's cap, so replies may be lost:
        # protect the batch with a snapshot unless a test wants the raw loss.
        # (A stream protects itself: pyipvs.batch_stream.)
        self._protect = not stream and (atomic or (bool(_force_rcvbuf) and not _no_snapshot))
        self._stream: Stream | None = None
        self._full = sys.maxsize  # commands that make a part of a stream
        if stream:
            from pyipvs.batch_stream import Stream

            flags = _native.BATCH_STOP_ON_ERROR if self._stop else 0
            self._stream = Stream(ipvs, flags, chunk, atomic)
            # A batch dropped unapplied must not leave the stream's worker waiting.
            weakref.finalize(self, self._stream.close)
            self._full = _part if _part > 0 else _part_size(0)
        self._grow = stream and _part <= 0  # a test's fixed part size, or grown
        self._base = 0  # commands in parts already handed to the stream
        self._touched = _Touched()
        self._key: ServiceKey | None = None  # the last key validated
        self._dest: Callable[[int, ServiceKey, Server], int] | None = self._nb.dest
        self._zero_all: list[int] = []
        self.result: BatchResult | None = None

    def __len__(self) -> int:
        return self._base + (len(self._nb) if self._nb is not None else 0)

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
        """Free the batch; a stream not yet applied waits for the part in
        flight (and an atomic one rolls back what it sent)."""
        self._dest = None
        if self._stream is not None and self.result is None:
            stream, self._stream = self._stream, None
            stream.abort()
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
        self._sent_if_full(nb.service(_native.CMD_DEL_SERVICE, key))

    def _service(self, cmd: int, service: Service) -> None:
        nb = self._native()
        if not isinstance(service, Service):  # for untyped callers: a ServiceKey would encode
            check_service(service)  # type: ignore[unreachable]
        try:
            held = nb.service(cmd, service)
        except (TypeError, OverflowError, AttributeError, ValueError):
            # The encoder refuses what check_service refuses (csrc/request.c);
            # the check runs only to say why.
            check_service(service)
            raise
        self._key = service.key  # checked with it: its servers need no second check
        if self._protect:
            self._touched.keys.add(_canonical(service.key))
        self._sent_if_full(held)

    def zero(self, key: ServiceKey | None = None) -> None:
        nb = self._native()
        if key is None:
            self._zero_all.append(len(self))
        else:
            self._note_key(key)
        self._sent_if_full(nb.service(_native.CMD_ZERO, key))

    def flush(self) -> None:
        nb = self._native()
        self._touched.everything = True
        self._sent_if_full(nb.service(_native.CMD_FLUSH, None))

    # --- real servers ---

    def add_server(self, key: ServiceKey, server: Server) -> None:
        self._server(_native.CMD_NEW_DEST, key, server, True)

    def add_servers(self, key: ServiceKey, servers: Iterable[Server]) -> None:
        """add_server for each of servers, in one call into C (what the
        loop would do, refusals included, at a fraction of its cost)."""
        nb = self._native()
        if key is not self._key:
            self._note_key(key)
        group = servers if isinstance(servers, (list, tuple)) else list(servers)
        try:
            rc = nb.dests(_native.CMD_NEW_DEST, key, group)
        except (TypeError, OverflowError, AttributeError, IndexError, ValueError):
            rc = -errno.EINVAL
        if rc < 0:  # nothing was added: the loop names the server refused
            for s in group:
                self.add_server(key, s)
        else:
            self._sent_if_full(rc)

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
        if rc < 0:
            self._refuse(key, server, rc, same_family)
        if rc >= self._full:  # rc: the commands held
            self._send_part()

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
        self._sent_if_full(len(nb))

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
        self._sent_if_full(len(nb))

    def add_restore_text(
        self, data: bytes, pos: int = 0, max_commands: int = SLICE, line_starts: bool = False
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
        self._sent_if_full(len(nb))
        return scan

    def extend(self, commands: Iterable[Command]) -> None:
        for c in commands:
            _ADD[c.op](self, c)

    # --- streaming ---

    def _sent_if_full(self, held: int) -> None:
        # held: the commands of the part being filled (len(self._nb)).
        if held >= self._full:
            self._send_part()

    def _send_part(self) -> None:
        """Hand the commands held to the stream; add to a fresh part."""
        assert self._stream is not None and self._nb is not None
        part, self._nb = self._nb, _native.Batch()
        self._base += len(part)
        if self._grow:
            self._full = _part_size(self._base)
        self._dest = self._nb.dest
        self._stream.send(part)

    # --- applying ---

    def apply(self, progress: Callable[[int, int], None] | None = None) -> BatchResult:
        """Send every command; `progress(done, total)` is called as chunks of
        the batch complete."""
        nb = self._native()
        self._dest = None
        if self._stream is not None:
            stream, self._stream = self._stream, None
            self._nb = None  # the stream frees every part
            # The stream sends on a socket of its own: this IPVS's next
            # whole-table read must not start from its last service list.
            self._ipvs._call(lambda h: h.forget_table())
            result = stream.finish(nb, frozenset(self._zero_all))
            self.result = result
            if progress is not None:
                progress(len(result), len(result))
            return result
        result = self._ipvs._call(lambda h: Run(self, nb, h, progress).run())
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
