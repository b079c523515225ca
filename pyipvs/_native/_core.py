"""Shared ground of the bridge: the compiled module, constants, and the one
place where a negative return code of the core becomes an exception."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any, TypeVar

from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.errors import IPVSError, IPVSUnavailableError, Op, error_for
from pyipvs.model import (
    DaemonState,
    Family,
    Forward,
    Protocol,
    ServiceFlag,
    Stats,
    TunnelFlag,
    TunnelType,
)

CMD_NEW_SERVICE: int = lib.PYIPVS_CMD_NEW_SERVICE
CMD_SET_SERVICE: int = lib.PYIPVS_CMD_SET_SERVICE
CMD_DEL_SERVICE: int = lib.PYIPVS_CMD_DEL_SERVICE
CMD_GET_SERVICE: int = lib.PYIPVS_CMD_GET_SERVICE
CMD_NEW_DEST: int = lib.PYIPVS_CMD_NEW_DEST
CMD_SET_DEST: int = lib.PYIPVS_CMD_SET_DEST
CMD_DEL_DEST: int = lib.PYIPVS_CMD_DEL_DEST
CMD_NEW_DAEMON: int = lib.PYIPVS_CMD_NEW_DAEMON
CMD_DEL_DAEMON: int = lib.PYIPVS_CMD_DEL_DAEMON
CMD_GET_DAEMON: int = lib.PYIPVS_CMD_GET_DAEMON
CMD_GET_CONFIG: int = lib.PYIPVS_CMD_GET_CONFIG
CMD_GET_INFO: int = lib.PYIPVS_CMD_GET_INFO
CMD_ZERO: int = lib.PYIPVS_CMD_ZERO
CMD_FLUSH: int = lib.PYIPVS_CMD_FLUSH
NLM_DOIT: int = lib.PYIPVS_NLM_DOIT
NLM_DUMP: int = lib.PYIPVS_NLM_DUMP
NLM_REQUEST: int = lib.PYIPVS_NLM_REQUEST
MSG_MAX: int = lib.PYIPVS_MSG_MAX

_HAS_PE_NAME: int = lib.PYIPVS_HAS_PE_NAME
_HAS_SYNC_MAXLEN: int = lib.PYIPVS_HAS_SYNC_MAXLEN
_HAS_MCAST_GROUP: int = lib.PYIPVS_HAS_MCAST_GROUP
_HAS_MCAST_PORT: int = lib.PYIPVS_HAS_MCAST_PORT
_HAS_MCAST_TTL: int = lib.PYIPVS_HAS_MCAST_TTL

# (__members__, unlike iteration, includes flag aliases such as NOCSUM = 0.)
_FAMILY = {int(m): m for m in Family.__members__.values()}
_FORWARD = {int(m): m for m in Forward.__members__.values()}
_TUN_TYPE = {int(m): m for m in TunnelType.__members__.values()}
_TUN_FLAGS = {int(m): m for m in TunnelFlag.__members__.values()}
_PROTOCOL = {int(m): m for m in Protocol.__members__.values()}
_DAEMON_STATE = {int(m): m for m in DaemonState.__members__.values()}
_SERVICE_FLAGS: dict[int, ServiceFlag] = {}
_ZERO_STATS = Stats()

E = TypeVar("E")


def check(rc: int, op: Op | None) -> None:
    """Raise the exception for a negative return code of the core."""
    if rc < 0:
        raise _error(-rc, op)


def _error(err: int, op: Op | None) -> IPVSError:
    # An unresolvable family at open time means no IPVS in this kernel (or
    # namespace); ipvsadm says "Protocol not available" for it.
    if op is Op.INIT and err == errno.ENOPROTOOPT:
        return IPVSUnavailableError(err, op)
    return error_for(err, op)


def _bad_reply(op: Op | None, what: str) -> IPVSError:
    return IPVSError(errno.EINVAL, op, f"unexpected value in kernel reply: {what}")


def _member(table: dict[int, E], cls: Callable[[int], E], value: int, op: Op | None) -> E:
    m = table.get(value)
    if m is not None:
        return m
    try:
        return cls(value)
    except ValueError:
        raise _bad_reply(op, f"{getattr(cls, '__name__', cls)} {value}") from None


def _text(cstr: Any) -> str:
    return ffi.string(cstr).decode("utf-8", "surrogateescape")  # type: ignore[no-any-return]
