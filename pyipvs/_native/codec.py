"""Single-message encoders and decoders, for tests, fuzzing and the floor
benchmarks."""

from __future__ import annotations

from typing import Any

from pyipvs._native._core import MSG_MAX, NLM_DOIT, check
from pyipvs._native.convert import (
    _c_daemon,
    _c_dest,
    _c_key,
    _c_service,
    _c_timeouts,
    _daemon,
    _info,
    _server,
    _service,
)
from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.model import (
    Daemon,
    Family,
    Info,
    Server,
    ServerStatus,
    Service,
    ServiceKey,
    ServiceStatus,
    Timeouts,
)

# --- encoders and decoders, for tests, fuzzing and batch engines ---------------


def _encoded(buf: Any, rc: int) -> bytes:
    check(rc, None)
    return bytes(ffi.buffer(buf, rc))


def encode_service(
    cmd: int, what: Service | ServiceKey | None, *, family_id: int = 0, seq: int = 0,
    flags: int = NLM_DOIT,
) -> bytes:  # fmt: skip
    """One request with a full service nest (Service), an identity-only one
    (ServiceKey, as for deletes), or none."""
    buf = ffi.new("unsigned char[]", MSG_MAX)
    if what is None:
        c = ffi.NULL
    elif isinstance(what, Service):
        c = _c_service(what)
    else:
        c = _c_key(what)
    return _encoded(buf, lib.pyipvs_encode_service(buf, MSG_MAX, family_id, flags, seq, cmd, c))


def encode_dest(
    cmd: int, key: ServiceKey, server: Server, *, family_id: int = 0, seq: int = 0,
    flags: int = NLM_DOIT,
) -> bytes:  # fmt: skip
    buf = ffi.new("unsigned char[]", MSG_MAX)
    rc = lib.pyipvs_encode_dest(buf, MSG_MAX, family_id, flags, seq, cmd, _c_key(key),
                                _c_dest(server))  # fmt: skip
    return _encoded(buf, rc)


def encode_dests_dump(key: ServiceKey, *, family_id: int = 0, seq: int = 0) -> bytes:
    buf = ffi.new("unsigned char[]", MSG_MAX)
    return _encoded(buf, lib.pyipvs_encode_dests_dump(buf, MSG_MAX, family_id, seq, _c_key(key)))


def encode_daemon(
    cmd: int, daemon: Daemon, *, family_id: int = 0, seq: int = 0, flags: int = NLM_DOIT
) -> bytes:
    buf = ffi.new("unsigned char[]", MSG_MAX)
    rc = lib.pyipvs_encode_daemon(buf, MSG_MAX, family_id, flags, seq, cmd, _c_daemon(daemon))
    return _encoded(buf, rc)


def encode_timeouts(
    t: Timeouts, *, family_id: int = 0, seq: int = 0, flags: int = NLM_DOIT
) -> bytes:
    buf = ffi.new("unsigned char[]", MSG_MAX)
    rc = lib.pyipvs_encode_timeouts(buf, MSG_MAX, family_id, flags, seq, _c_timeouts(t))
    return _encoded(buf, rc)


def decode_service(msg: bytes) -> ServiceStatus:
    c = ffi.new("struct pyipvs_service *")
    check(lib.pyipvs_decode_service(msg, len(msg), c), None)
    return _service(c, None)


def decode_server(msg: bytes, service_family: Family) -> ServerStatus:
    c = ffi.new("struct pyipvs_dest *")
    check(lib.pyipvs_decode_dest(msg, len(msg), int(service_family), c), None)
    return _server(c, None)


def decode_daemon(msg: bytes) -> Daemon:
    c = ffi.new("struct pyipvs_daemon *")
    check(lib.pyipvs_decode_daemon(msg, len(msg), c), None)
    return _daemon(c, None)


def decode_info(msg: bytes) -> Info:
    c = ffi.new("struct pyipvs_info *")
    check(lib.pyipvs_decode_info(msg, len(msg), c), None)
    return _info(c)


def decode_timeouts(msg: bytes) -> Timeouts:
    c = ffi.new("struct pyipvs_timeouts *")
    check(lib.pyipvs_decode_timeouts(msg, len(msg), c), None)
    return Timeouts(c.tcp, c.tcp_fin, c.udp)
