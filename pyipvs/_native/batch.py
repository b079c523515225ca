"""The batch engine's handle (csrc/batch.c)."""

from __future__ import annotations

import errno
import itertools
import operator
import struct
from dataclasses import dataclass
from typing import Any

from pyipvs._native._core import check
from pyipvs._native.convert import _c_daemon, _c_key, _c_timeouts, _service_fields
from pyipvs._native.handle import Handle
from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.model import (
    Daemon,
    Server,
    Service,
    ServiceKey,
    Timeouts,
)

# --- batch engine ---
# Commands are encoded into C memory as they are added (csrc/batch.c); Python
# keeps nothing per command. Servers go to C as call arguments, not struct
# fields (cffi converts arguments in one pass), and the service struct is
# refilled only when the service changes: a restore names one service, then
# all its servers.

BATCH_PENDING: int = lib.PYIPVS_BATCH_PENDING
BATCH_OK: int = lib.PYIPVS_BATCH_OK
BATCH_FAILED: int = lib.PYIPVS_BATCH_FAILED
BATCH_UNKNOWN: int = lib.PYIPVS_BATCH_UNKNOWN
BATCH_STOP_ON_ERROR: int = lib.PYIPVS_BATCH_STOP_ON_ERROR
BATCH_STOP_ON_LOST: int = lib.PYIPVS_BATCH_STOP_ON_LOST
BATCH_NO_ADAPT: int = lib.PYIPVS_BATCH_NO_ADAPT
BATCH_CHUNK_MSGS: int = lib.PYIPVS_BATCH_CHUNK_MSGS
CMD_SET_CONFIG: int = lib.PYIPVS_CMD_SET_CONFIG
RESTORE_END: int = lib.PYIPVS_RESTORE_END
RESTORE_SLOW: int = lib.PYIPVS_RESTORE_SLOW
RESTORE_FULL: int = lib.PYIPVS_RESTORE_FULL
_dest_args = lib.pyipvs_batch_dest_args
_service_args = lib.pyipvs_batch_service_args
# One C-level call instead of eight attribute reads: the add path runs once
# per command, and its Python cost is what stands between a batch and the
# kernel floor.
_server_fields = operator.attrgetter(
    "port", "forward", "weight", "u_threshold", "l_threshold", "tun_type", "tun_port", "tun_flags"
)
# A server as a struct pyipvs_dest_in record, packed with no Python call
# per server (map and starmap run in C): a third of what converting a
# tuple into a cffi struct costs. The layout is checked against cffi's.
_dest_in = operator.attrgetter(
    "address.packed", "forward", "weight", "u_threshold", "l_threshold", "port", "tun_port",
    "tun_flags", "address.version", "tun_type",
)  # fmt: skip
_DEST_IN = struct.Struct("=16sIiIIHHHBB")
_pack_dest_in = _DEST_IN.pack
_OFFSETS = [ffi.offsetof("struct pyipvs_dest_in", f) for f in ("fwd_method", "port", "version")]
if _DEST_IN.size != ffi.sizeof("struct pyipvs_dest_in") or _OFFSETS != [16, 32, 38]:
    raise ImportError("struct pyipvs_dest_in does not have the layout _DEST_IN packs")


@dataclass(frozen=True, slots=True)
class RestoreScan:
    """What one pass of the restore fast path took (struct pyipvs_restore_scan)."""

    pos: int  # first byte not taken
    lines: int  # newline-terminated lines taken, blank ones included
    cmds: int  # commands appended
    stop: int  # RESTORE_END, RESTORE_SLOW (the line at pos is not ours) or RESTORE_FULL
    line_starts: list[int] | None  # per command appended, its line's offset


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What one apply call did (struct pyipvs_batch_report)."""

    next: int  # first command not sent
    sent: int
    failed: int
    unknown: int
    chunks: int
    overruns: int
    chunk_msgs: int
    rcvbuf: int
    sndbuf: int
    err: int  # 0, or the errno of the transport failure that ended the call


class Batch:
    """Encoded commands and their per-command results, in C memory.

    Conversion errors surface as cffi raises them (OverflowError, TypeError)
    or as AttributeError for a wrong object; callers turn those into their
    own messages.
    """

    __slots__ = ("_b", "_key", "_svc")

    def __init__(self) -> None:
        out = ffi.new("struct pyipvs_batch **")
        check(lib.pyipvs_batch_new(out), None)
        self._b: Any = ffi.gc(out[0], lib.pyipvs_batch_free)
        self._svc: Any = ffi.NULL
        self._key: ServiceKey | None = None  # what self._svc holds

    def __len__(self) -> int:
        return int(lib.pyipvs_batch_count(self._b))

    def close(self) -> None:
        if self._b is not None:
            ffi.release(self._b)
            self._b = None

    def _key_struct(self, key: ServiceKey) -> Any:
        if key is not self._key and key != self._key:
            self._svc = _c_key(key)
            self._key = key
        return self._svc

    def service(self, cmd: int, what: Service | ServiceKey | None) -> int:
        """Append a service command: the commands now held. A Service's
        conversion errors raise as `_c_service`'s do."""
        if isinstance(what, Service):
            # One call; the identity it returns is what the service's
            # servers, which usually follow, carry.
            ident = ffi.new("struct pyipvs_service *")
            n = _service_args(self._b, cmd, ident, *_service_fields(what))
            if n < 0:
                raise ValueError(f"service refused by the encoder (errno {-n})")
            self._svc, self._key = ident, what.key
            return int(n)
        c = ffi.NULL if what is None else self._key_struct(what)
        check(lib.pyipvs_batch_service(self._b, cmd, c), None)
        return len(self)

    def dest(self, cmd: int, key: ServiceKey, s: Server) -> int:
        """Append a server command: the commands now held, or the negative
        errno of a refusal (the hot path of a batch: the caller explains
        refusals)."""
        a = s.address.packed
        svc = self._svc if key is self._key else self._key_struct(key)
        return _dest_args(self._b, cmd, svc, a, len(a), *_server_fields(s))

    def dests(self, cmd: int, key: ServiceKey, servers: list[Server] | tuple[Server, ...]) -> int:
        """Append a command per server, all or none: the commands now held,
        or the negative errno of a refusal (conversion errors raise, as for
        `dest`)."""
        svc = self._svc if key is self._key else self._key_struct(key)
        try:
            rows = b"".join(itertools.starmap(_pack_dest_in, map(_dest_in, servers)))
        except struct.error:  # a field out of its C type's range
            return -errno.ERANGE
        return int(lib.pyipvs_batch_dests(self._b, cmd, svc, rows, len(servers)))

    def daemon(self, cmd: int, d: Daemon) -> None:
        check(lib.pyipvs_batch_daemon(self._b, cmd, _c_daemon(d)), None)

    def timeouts(self, t: Timeouts) -> None:
        check(lib.pyipvs_batch_timeouts(self._b, _c_timeouts(t)), None)

    def apply(
        self, handle: Handle, start: int, end: int, *, flags: int = 0, chunk_msgs: int = 0,
        rcvbuf: int = 0,
    ) -> BatchReport:  # fmt: skip
        """Send [start, end). Kernel errors of single commands land in
        `results`; a transport failure comes back in the report's `err`
        rather than raised, so the caller still learns how far it got."""
        o = ffi.new("struct pyipvs_batch_opts *")
        o.flags, o.chunk_msgs, o.rcvbuf = flags, chunk_msgs, rcvbuf
        r = ffi.new("struct pyipvs_batch_report *")
        rc = lib.pyipvs_batch_apply(handle._h, self._b, start, end, o, r)
        if rc == -errno.EINVAL:
            check(rc, None)
        return BatchReport(r.next, r.sent, r.failed, r.unknown, r.chunks, r.overruns,
                           r.chunk_msgs, r.rcvbuf, r.sndbuf, -rc)  # fmt: skip

    def results(self, start: int, n: int) -> tuple[bytes, list[int], bytes]:
        """States (BATCH_*, one byte each), errnos and commands (CMD_*, one
        byte each) of [start, start + n). Bytes, so callers can count and
        search them without a Python loop over every command."""
        states = ffi.new("uint8_t[]", n)
        errs = ffi.new("int32_t[]", n)
        cmds = ffi.new("uint8_t[]", n)
        check(lib.pyipvs_batch_results(self._b, start, n, states, errs, cmds), None)
        return ffi.buffer(states, n)[:], ffi.unpack(errs, n), ffi.buffer(cmds, n)[:]

    def reset(self, start: int, end: int) -> None:
        check(lib.pyipvs_batch_reset(self._b, start, end), None)

    def scan_restore(
        self, data: bytes, pos: int, max_cmds: int, line_starts: bool = False
    ) -> RestoreScan:
        """Append the commands of data[pos:]'s plain restore lines (the C
        fast path, csrc/restore_fast.c), up to max_cmds; stops at the first
        line it leaves to the full parser, or at a partial last line."""
        st = ffi.new("struct pyipvs_restore_scan *")
        st.pos = pos
        starts = ffi.new("uint64_t[]", max_cmds) if line_starts else ffi.NULL
        self._key = None  # the scan appends its own service structs
        check(lib.pyipvs_restore_scan(self._b, data, len(data), max_cmds, starts, st), None)
        found = ffi.unpack(starts, st.cmds) if line_starts else None
        return RestoreScan(st.pos, st.lines, st.cmds, st.stop, found)

    def message(self, i: int) -> bytes:
        """Command i's encoded request as appended (for tests)."""
        buf = ffi.new("unsigned char[]", lib.PYIPVS_MSG_MAX)
        n = lib.pyipvs_batch_message(self._b, i, buf, lib.PYIPVS_MSG_MAX)
        check(min(n, 0), None)
        return bytes(ffi.buffer(buf, n))
