"""The core handle: one netlink socket in one namespace."""

from __future__ import annotations

from typing import Any

from pyipvs._native._core import check
from pyipvs._native.convert import (
    _DEST_ROW,
    _SVC_ROW,
    _c_daemon,
    _c_dest,
    _c_key,
    _c_service,
    _c_timeouts,
    _daemon,
    _info,
    _service,
    server_rows,
    service_rows,
)
from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.errors import Op
from pyipvs.model import (
    Daemon,
    Info,
    Server,
    ServerStatus,
    Service,
    ServiceKey,
    ServiceStatus,
    Timeouts,
)

# --- the handle ---------------------------------------------------------------


class Handle:
    """One open core handle (one netlink socket in one namespace).

    Not thread-safe by itself: `pyipvs.ipvs.IPVS` serialises access.
    """

    __slots__ = ("_h",)

    def __init__(self, netns: str | None, timeout_ms: int) -> None:
        out = ffi.new("struct pyipvs_handle **")
        path = netns.encode() if netns is not None else ffi.NULL
        check(lib.pyipvs_handle_open(out, path, timeout_ms), Op.INIT)
        self._h: Any = ffi.gc(out[0], lib.pyipvs_handle_close)

    def close(self) -> None:
        if self._h is not None:
            ffi.release(self._h)
            self._h = None

    @property
    def closed(self) -> bool:
        return self._h is None

    @property
    def broken(self) -> bool:
        """True once the socket must be replaced (after a timeout, ENOBUFS, ...)."""
        return self._h is None or bool(lib.pyipvs_handle_broken(self._h))

    @property
    def family_id(self) -> int:
        return int(lib.pyipvs_handle_family(self._h))

    def fileno(self) -> int:
        return int(lib.pyipvs_handle_fd(self._h))

    def busy_ms(self) -> int:
        """How long the send or receive in progress has run (0: none).
        Read from another thread by pyipvs.runner's watchdog."""
        h = self._h
        return int(lib.pyipvs_handle_busy_ms(h)) if h is not None else 0

    def abandon(self) -> None:
        """The caller gave up: the running call sends nothing more."""
        if self._h is not None:
            lib.pyipvs_handle_abandon(self._h)

    def forget_table(self) -> None:
        """The table changed through another handle (a streamed batch's):
        the next whole-table read starts as a first read (csrc/snapshot.c)."""
        lib.pyipvs_handle_forget_table(self._h)

    def set_rcvbuf(self, size: int) -> int:
        """Test knob: force the socket's receive buffer; returns the kernel's
        accounting of it (about twice size). See tests/kernel/test_faults.py."""
        rc = int(lib.pyipvs_handle_set_rcvbuf(self._h, size))
        check(rc, None)
        return rc

    # set-type commands

    def service_cmd(self, cmd: int, service: Service | ServiceKey | None, op: Op) -> None:
        if service is None:
            c = ffi.NULL
        elif isinstance(service, Service):
            c = _c_service(service)
        else:
            c = _c_key(service)
        check(lib.pyipvs_service_cmd(self._h, cmd, c), op)

    def dest_cmd(self, cmd: int, key: ServiceKey, server: Server, op: Op) -> None:
        check(lib.pyipvs_dest_cmd(self._h, cmd, _c_key(key), _c_dest(server)), op)

    def daemon_cmd(self, cmd: int, daemon: Daemon, op: Op) -> None:
        check(lib.pyipvs_daemon_cmd(self._h, cmd, _c_daemon(daemon)), op)

    def set_timeouts(self, t: Timeouts) -> None:
        check(lib.pyipvs_timeouts_set(self._h, _c_timeouts(t)), Op.SET_TIMEOUT)

    # reads

    def info(self) -> Info:
        c = ffi.new("struct pyipvs_info *")
        check(lib.pyipvs_info_get(self._h, c), Op.GET_INFO)
        return _info(c)

    def timeouts(self) -> Timeouts:
        c = ffi.new("struct pyipvs_timeouts *")
        check(lib.pyipvs_timeouts_get(self._h, c), Op.GET_TIMEOUT)
        return Timeouts(c.tcp, c.tcp_fin, c.udp)

    def service(self, key: ServiceKey) -> ServiceStatus:
        c = ffi.new("struct pyipvs_service *")
        check(lib.pyipvs_service_get(self._h, _c_key(key), c), Op.GET_SERVICE)
        return _service(c, Op.GET_SERVICE)

    def services(self) -> list[ServiceStatus]:
        out = ffi.new("struct pyipvs_service **")
        n = ffi.new("size_t *")
        check(lib.pyipvs_services_dump(self._h, out, n), Op.GET_SERVICES)
        if out[0] == ffi.NULL:
            return []
        try:
            return service_rows(ffi.buffer(out[0], n[0] * _SVC_ROW.size)[:], {}, Op.GET_SERVICES)
        finally:
            lib.pyipvs_free(out[0])

    def servers(self, key: ServiceKey) -> list[ServerStatus]:
        out = ffi.new("struct pyipvs_dest **")
        n = ffi.new("size_t *")
        check(lib.pyipvs_dests_dump(self._h, _c_key(key), out, n), Op.GET_DESTS)
        if out[0] == ffi.NULL:
            return []
        try:
            return server_rows(ffi.buffer(out[0], n[0] * _DEST_ROW.size)[:], {}, Op.GET_DESTS)
        finally:
            lib.pyipvs_free(out[0])

    def daemons(self) -> list[Daemon]:
        arr = ffi.new("struct pyipvs_daemon[4]")
        n = ffi.new("size_t *", 4)
        check(lib.pyipvs_daemons_dump(self._h, arr, n), Op.GET_DAEMON)
        return [_daemon(arr[i], Op.GET_DAEMON) for i in range(n[0])]
