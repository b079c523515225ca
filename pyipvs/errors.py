"""The one error funnel of pyipvs (top layer: pure Python, no cffi).

Every failure the kernel reports becomes an `IPVSError` carrying the kernel's
own errno, the operation, and the message ipvsadm 1.31 prints for that
(operation, errno) pair. The table below is plain data shared by the
exceptions and by the ipvsadm-compatible CLI, so both say the same thing.
"""

from __future__ import annotations

import errno as _errno
import os
from enum import Enum


class Op(str, Enum):
    """Operations, named as ipvsadm's library names them (its messages key on them)."""

    INIT = "init"
    ADD_SERVICE = "add_service"
    UPDATE_SERVICE = "update_service"
    DEL_SERVICE = "del_service"
    ZERO_SERVICE = "zero_service"
    ZERO = "zero"
    FLUSH = "flush"
    ADD_DEST = "add_dest"
    UPDATE_DEST = "update_dest"
    DEL_DEST = "del_dest"
    START_DAEMON = "start_daemon"
    STOP_DAEMON = "stop_daemon"
    GET_SERVICES = "get_services"
    GET_SERVICE = "get_service"
    GET_DESTS = "get_dests"
    GET_INFO = "get_info"
    GET_TIMEOUT = "get_timeout"
    SET_TIMEOUT = "set_timeout"
    GET_DAEMON = "get_daemon"


# (operation, errno) -> message, first match wins; then the generic rows.
_SPECIFIC: dict[tuple[Op, int], str] = {
    (Op.ADD_SERVICE, _errno.EEXIST): "Service already exists",
    (Op.ADD_SERVICE, _errno.ENOENT): "Scheduler or persistence engine not found",
    (Op.UPDATE_SERVICE, _errno.ESRCH): "No such service",
    (Op.UPDATE_SERVICE, _errno.ENOENT): "Scheduler or persistence engine not found",
    (Op.DEL_SERVICE, _errno.ESRCH): "No such service",
    (Op.ZERO_SERVICE, _errno.ESRCH): "No such service",
    (Op.ADD_DEST, _errno.ESRCH): "Service not defined",
    (Op.ADD_DEST, _errno.EEXIST): "Destination already exists",
    (Op.UPDATE_DEST, _errno.ESRCH): "Service not defined",
    (Op.UPDATE_DEST, _errno.ENOENT): "No such destination",
    (Op.DEL_DEST, _errno.ESRCH): "Service not defined",
    (Op.DEL_DEST, _errno.ENOENT): "No such destination",
    (Op.START_DAEMON, _errno.EEXIST): "Daemon has already run",
    (Op.STOP_DAEMON, _errno.ESRCH): "No daemon is running",
    (Op.GET_SERVICES, _errno.ESRCH): "No such service",
    (Op.GET_DESTS, _errno.ESRCH): "No such service",
    (Op.GET_SERVICE, _errno.ESRCH): "No such service",
}

_GENERIC: dict[int, str] = {
    _errno.EPERM: "Permission denied (you must be root)",
    _errno.EINVAL: "Invalid operation.  Possibly wrong module version, address not unicast, ...",
    _errno.ENOPROTOOPT: "Protocol not available",
    _errno.ENOMEM: "Memory allocation problem",
    _errno.EOPNOTSUPP: "Operation not supported with IPv6",
    _errno.EAFNOSUPPORT: "Operation not supported with specified address family",
    _errno.EMSGSIZE: "Module is wrong version",
}


def ipvs_strerror(op: Op | None, err: int) -> str:
    """ipvsadm 1.31's text for `err` after operation `op` (glibc's strerror otherwise)."""
    if op is not None:
        msg = _SPECIFIC.get((op, err))
        if msg is not None:
            return msg
    msg = _GENERIC.get(err)
    if msg is not None:
        return msg
    return os.strerror(err)


class IPVSError(OSError):
    """A kernel (or environment) failure of an IPVS operation.

    `errno` is the kernel's own error number, `op` the operation, and
    `str(e)` the message ipvsadm prints for the pair.
    """

    op: Op | None

    def __init__(self, err: int, op: Op | None, message: str | None = None) -> None:
        super().__init__(err, message if message is not None else ipvs_strerror(op, err))
        self.op = op

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.errno, self.op, self.strerror))


class IPVSExistsError(IPVSError, FileExistsError):
    """The service, real server or daemon already exists (EEXIST)."""


class IPVSNotFoundError(IPVSError, LookupError):
    """No such service, real server, daemon, scheduler or engine (ESRCH/ENOENT)."""


class IPVSPermissionError(IPVSError, PermissionError):
    """CAP_NET_ADMIN is missing in the target network namespace (EPERM)."""


class IPVSTimeoutError(IPVSError, TimeoutError):
    """The kernel did not answer within the handle's timeout; the socket was discarded."""


class IPVSUnavailableError(IPVSError):
    """IPVS is not available: the module is not loaded or the family is unknown."""


class IPVSValueError(ValueError):
    """A value was refused before anything was sent to the kernel."""


_BY_ERRNO: dict[int, type[IPVSError]] = {
    _errno.EEXIST: IPVSExistsError,
    _errno.ESRCH: IPVSNotFoundError,
    _errno.ENOENT: IPVSNotFoundError,
    _errno.EPERM: IPVSPermissionError,
    _errno.EACCES: IPVSPermissionError,
    _errno.ETIMEDOUT: IPVSTimeoutError,
}


def error_for(err: int, op: Op | None) -> IPVSError:
    """The exception for a kernel errno (positive) after operation `op`."""
    return _BY_ERRNO.get(err, IPVSError)(err, op)
