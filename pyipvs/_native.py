"""The bridge to the C core (middle layer: the only importer of the cffi module).

Model objects go in and come out; C structs, pointers and malloc'ed arrays
never leave this module. Every negative return code of the core becomes an
exception here, in `check`, the one place that maps them. Arrays the core
allocates are freed before the function that received them returns.

Conversion from C is on the hot path of listings (hundreds of thousands of
servers), so it reads arrays with struct layouts derived from cffi, avoids
per-object enum construction and repeated address parsing (enum members come
from dicts, addresses and names from a per-call cache), and all-zero counters
share one `Stats` instance.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.errors import IPVSError, IPVSUnavailableError, Op, error_for
from pyipvs.model import (
    SETTABLE_SERVICE_FLAGS,
    U32_MAX,
    Daemon,
    DaemonState,
    Family,
    Forward,
    Info,
    IPAddress,
    Protocol,
    Server,
    ServerStatus,
    Service,
    ServiceFlag,
    ServiceKey,
    ServiceStatus,
    Stats,
    Timeouts,
    TunnelFlag,
    TunnelType,
    default_netmask,
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


# --- model -> C -------------------------------------------------------------


def _put_addr(dst: Any, address: IPAddress) -> None:
    packed = address.packed
    ffi.memmove(dst, packed, len(packed))


def _c_key(key: ServiceKey, out: Any | None = None) -> Any:
    """A service struct identifying `key`, with the settings ipvsadm sends
    alongside an identity (no scheduler, no flags, the family's netmask)."""
    c = out if out is not None else ffi.new("struct pyipvs_service *")
    c.af = int(key.family)
    if key.fwmark:
        c.fwmark = key.fwmark
        c.protocol = int(Protocol.TCP)
    else:
        c.protocol = int(key.protocol)
        if key.address is not None:
            _put_addr(c.addr, key.address)
        c.port = key.port
    c.flags_mask = U32_MAX
    c.netmask = default_netmask(key.family)
    return c


def _c_service(service: Service) -> Any:
    c = _c_key(service.key)
    c.sched_name = service.scheduler.encode()
    c.pe_name = service.pe_name.encode()
    c.flags = int(service.flags)
    c.timeout = service.timeout
    c.netmask = service.netmask
    return c


def _c_dest(server: Server) -> Any:
    c = ffi.new("struct pyipvs_dest *")
    c.af = int(server.family)
    _put_addr(c.addr, server.address)
    c.port = server.port
    c.fwd_method = int(server.forward)
    c.weight = server.weight
    c.u_threshold = server.u_threshold
    c.l_threshold = server.l_threshold
    c.tun_type = int(server.tun_type)
    c.tun_port = server.tun_port
    c.tun_flags = int(server.tun_flags)
    return c


def _c_daemon(d: Daemon) -> Any:
    c = ffi.new("struct pyipvs_daemon *")
    c.state = int(d.state)
    c.mcast_ifn = d.mcast_ifn.encode()
    c.syncid = d.syncid
    present = 0
    if d.sync_maxlen is not None:
        c.sync_maxlen = d.sync_maxlen
        present |= _HAS_SYNC_MAXLEN
    if d.mcast_group is not None:
        c.mcast_af = int(Family.INET6 if d.mcast_group.version == 6 else Family.INET)
        _put_addr(c.mcast_group, d.mcast_group)
        present |= _HAS_MCAST_GROUP
    if d.mcast_port is not None:
        c.mcast_port = d.mcast_port
        present |= _HAS_MCAST_PORT
    if d.mcast_ttl is not None:
        c.mcast_ttl = d.mcast_ttl
        present |= _HAS_MCAST_TTL
    c.present = present
    return c


def _c_timeouts(t: Timeouts) -> Any:
    c = ffi.new("struct pyipvs_timeouts *")
    c.tcp, c.tcp_fin, c.udp = t.tcp, t.tcp_fin, t.udp
    return c


# --- C -> model -------------------------------------------------------------
#
# Listings read whole arrays of C structs with struct.iter_unpack: one tuple
# per entry at C speed, instead of some twenty cffi attribute reads. The
# formats are built at import time from the offsets and sizes cffi reports,
# so they follow pyipvs.h and the compiler's padding, never a hand count.


def _layout(ctype: str, fields: str) -> struct.Struct:
    """A reader of `ctype` yielding the named fields ("name:code ...") in order."""
    t = ffi.typeof(ctype)
    members = dict(t.fields)
    fmt, pos = "=", 0
    for item in fields.split():
        name, code = item.split(":")
        f = members[name]
        width = struct.calcsize("=" + code)
        if f.offset < pos or width != ffi.sizeof(f.type):
            raise RuntimeError(f"{ctype}.{name} does not match '{code}'")
        fmt += "x" * (f.offset - pos) + code
        pos = f.offset + width
    layout = struct.Struct(fmt + "x" * (ffi.sizeof(t) - pos))
    if layout.size != ffi.sizeof(t):
        raise RuntimeError(f"layout of {ctype} is {layout.size} bytes, not {ffi.sizeof(t)}")
    return layout


_SVC_ROW = _layout(
    "struct pyipvs_service",
    "af:H protocol:H addr:16s port:H fwmark:I sched_name:16s pe_name:17s flags:I"
    " timeout:I netmask:I present:I stats:10Q",
)
_DEST_ROW = _layout(
    "struct pyipvs_dest",
    "af:H addr:16s port:H fwd_method:I weight:i u_threshold:I l_threshold:I tun_type:B"
    " tun_port:H tun_flags:H active_conns:I inact_conns:I persist_conns:I stats:10Q",
)

# Per-listing memo: addresses by (af, raw bytes), names by raw bytes. Servers
# and schedulers repeat a lot, and ipaddress objects are costly to build.
_Cache = dict[Any, Any]


def _address(cache: _Cache, af: int, raw: bytes, op: Op | None) -> IPAddress:
    a: IPAddress | None = cache.get((af, raw))
    if a is None:
        if af == 2:
            a = ipaddress.IPv4Address(raw[:4])
        elif af == 10:
            a = ipaddress.IPv6Address(raw[:16])
        else:
            raise _bad_reply(op, f"address family {af}")
        cache[(af, raw)] = a
    return a


def _name(cache: _Cache, raw: bytes) -> str:
    s: str | None = cache.get(raw)
    if s is None:
        s = cache[raw] = raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    return s


def _stats(s: Any) -> Stats:
    v = (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes,
         s.cps, s.inpps, s.outpps, s.inbps, s.outbps)  # fmt: skip
    return Stats(*v) if any(v) else _ZERO_STATS


def _service_row(row: tuple[Any, ...], cache: _Cache, op: Op | None) -> ServiceStatus:
    af, proto, addr, port, fwmark, sched, pe, raw, timeout, netmask, present = row[:11]
    family = _member(_FAMILY, Family, af, op)
    if fwmark:
        key = ServiceKey(family, Protocol.TCP, None, 0, fwmark)
    else:
        protocol = _member(_PROTOCOL, Protocol, proto, op)
        key = ServiceKey(family, protocol, _address(cache, af, addr, op), port)
    flags = _SERVICE_FLAGS.get(raw)
    if flags is None:
        flags = _SERVICE_FLAGS[raw] = ServiceFlag(raw & SETTABLE_SERVICE_FLAGS)
    pe_name = _name(cache, pe) if present & _HAS_PE_NAME else ""
    service = Service(key, _name(cache, sched), flags, timeout, netmask, pe_name)
    counters = row[11:]
    return ServiceStatus(service, Stats(*counters) if any(counters) else _ZERO_STATS, raw)


def _server_row(row: tuple[Any, ...], cache: _Cache, op: Op | None) -> ServerStatus:
    af, addr, port, fwd, weight, u_th, l_th, tun_type, tun_port, tun_flags = row[:10]
    server = Server(
        _address(cache, af, addr, op),
        port,
        _member(_FORWARD, Forward, fwd, op),
        weight,
        u_th,
        l_th,
        _member(_TUN_TYPE, TunnelType, tun_type, op),
        tun_port,
        _member(_TUN_FLAGS, TunnelFlag, tun_flags, op),
    )
    counters = row[13:]
    stats = Stats(*counters) if any(counters) else _ZERO_STATS
    return ServerStatus(server, row[10], row[11], row[12], stats)


def _service(c: Any, op: Op | None) -> ServiceStatus:
    return _service_row(_SVC_ROW.unpack(ffi.buffer(c)), {}, op)


def _server(c: Any, op: Op | None) -> ServerStatus:
    return _server_row(_DEST_ROW.unpack(ffi.buffer(c)), {}, op)


def _daemon(c: Any, op: Op | None) -> Daemon:
    present = c.present
    group: IPAddress | None = None
    if present & _HAS_MCAST_GROUP:
        group = _address({}, c.mcast_af, bytes(ffi.buffer(c.mcast_group)), op)
    return Daemon(
        _member(_DAEMON_STATE, DaemonState, c.state, op),
        _text(c.mcast_ifn),
        c.syncid,
        c.sync_maxlen if present & _HAS_SYNC_MAXLEN else None,
        group,
        c.mcast_port if present & _HAS_MCAST_PORT else None,
        c.mcast_ttl if present & _HAS_MCAST_TTL else None,
    )


def _info(c: Any) -> Info:
    v = c.version
    return Info(((v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF), c.conn_tab_size)


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
            rows = _SVC_ROW.iter_unpack(ffi.buffer(out[0], n[0] * _SVC_ROW.size))
            cache: _Cache = {}
            op = Op.GET_SERVICES
            return [_service_row(row, cache, op) for row in rows]
        finally:
            lib.pyipvs_free(out[0])

    def servers(self, key: ServiceKey) -> list[ServerStatus]:
        out = ffi.new("struct pyipvs_dest **")
        n = ffi.new("size_t *")
        check(lib.pyipvs_dests_dump(self._h, _c_key(key), out, n), Op.GET_DESTS)
        if out[0] == ffi.NULL:
            return []
        try:
            rows = _DEST_ROW.iter_unpack(ffi.buffer(out[0], n[0] * _DEST_ROW.size))
            cache: _Cache = {}
            op = Op.GET_DESTS
            return [_server_row(row, cache, op) for row in rows]
        finally:
            lib.pyipvs_free(out[0])

    def daemons(self) -> list[Daemon]:
        arr = ffi.new("struct pyipvs_daemon[4]")
        n = ffi.new("size_t *", 4)
        check(lib.pyipvs_daemons_dump(self._h, arr, n), Op.GET_DAEMON)
        return [_daemon(arr[i], Op.GET_DAEMON) for i in range(n[0])]


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


# --- global counters ---------------------------------------------------------
# System-wide state from /proc: namespace totals, per-CPU counters, application
# helpers and the tunables under /proc/sys/net/ipv4/vs. The core opens each
# file inside the namespace (a path such as /run/netns/NAME, or None) and
# parses it; failures come back as IPVSError with op None, and pyipvs.sysctl /
# pyipvs.globalstats turn the ones users can cause into clearer messages.
# Their model classes live in pyipvs.globalstats, which imports this module,
# so they are imported where used.

PROC_STATS: int = lib.PYIPVS_PROC_STATS
PROC_STATS_PERCPU: int = lib.PYIPVS_PROC_STATS_PERCPU
PROC_APP: int = lib.PYIPVS_PROC_APP


def _c_netns(netns: str | None) -> Any:
    return ffi.NULL if netns is None else netns.encode("utf-8", "surrogateescape")


def _take(pbuf: Any, plen: Any) -> bytes:
    """Copy a malloc'ed buffer out of the core and free it."""
    try:
        return ffi.buffer(pbuf[0], plen[0])[:] if pbuf[0] != ffi.NULL else b""
    finally:
        lib.pyipvs_free(pbuf[0])


def procstat_read(which: int, netns: str | None) -> bytes:
    """The text of one PROC_* file of the namespace."""
    pbuf, plen = ffi.new("char **"), ffi.new("size_t *")
    check(lib.pyipvs_procstat_read(which, _c_netns(netns), pbuf, plen), None)
    return _take(pbuf, plen)


def parse_global_stats(text: bytes) -> Stats:
    """/proc/net/ip_vs_stats: totals since the last zero, and rates."""
    c = ffi.new("struct pyipvs_stats *")
    check(lib.pyipvs_gstats_parse(text, len(text), c), None)
    return _stats(c)


def parse_global_stats_percpu(text: bytes) -> tuple[tuple[Any, ...], Stats]:
    """/proc/net/ip_vs_stats_percpu: (CpuStats rows, totals and rates)."""
    from pyipvs.globalstats import CpuStats

    prows, pn = ffi.new("struct pyipvs_cpu_stats **"), ffi.new("size_t *")
    total = ffi.new("struct pyipvs_stats *")
    check(lib.pyipvs_gstats_percpu_parse(text, len(text), prows, pn, total), None)
    try:
        rows = tuple(
            CpuStats(r.cpu, r.conns, r.inpkts, r.outpkts, r.inbytes, r.outbytes)
            for r in (prows[0][i] for i in range(pn[0]))
        )
    finally:
        lib.pyipvs_free(prows[0])
    return rows, _stats(total)


def parse_app_helpers(text: bytes) -> tuple[Any, ...]:
    """/proc/net/ip_vs_app: one AppHelper per bound port."""
    from pyipvs.globalstats import AppHelper, protocol_from_name

    papps, pn = ffi.new("struct pyipvs_app **"), ffi.new("size_t *")
    check(lib.pyipvs_apps_parse(text, len(text), papps, pn), None)
    try:
        return tuple(
            AppHelper(_text(a.name), protocol_from_name(_text(a.proto_name)), a.port, a.usecnt)
            for a in (papps[0][i] for i in range(pn[0]))
        )
    finally:
        lib.pyipvs_free(papps[0])


def sysctl_list(netns: str | None) -> list[str]:
    """Names present under /proc/sys/net/ipv4/vs, in directory order."""
    pbuf, plen = ffi.new("char **"), ffi.new("size_t *")
    check(lib.pyipvs_sysctl_list(_c_netns(netns), pbuf, plen), None)
    raw = _take(pbuf, plen)
    return [n.decode("utf-8", "surrogateescape") for n in raw.split(b"\0") if n]


def sysctl_read(name: str, netns: str | None) -> bytes:
    """The raw text of one tunable (with the kernel's newline)."""
    pbuf, plen = ffi.new("char **"), ffi.new("size_t *")
    check(lib.pyipvs_sysctl_read(name.encode(), _c_netns(netns), pbuf, plen), None)
    return _take(pbuf, plen)


def sysctl_write(name: str, netns: str | None, value: bytes) -> None:
    """Write one tunable's text; the kernel's refusal raises its errno."""
    check(lib.pyipvs_sysctl_write(name.encode(), _c_netns(netns), value, len(value)), None)


# --- connection tables ---------------------------------------------------------
# The reader of /proc/net/ip_vs_conn and ip_vs_conn_sync (csrc/conn*.c). Rows
# cross from C as one bytes copy per chunk, unpacked with a struct layout
# built from cffi's own offsets: per-field cdata access would cost more than
# the C parse. Filters and group-by counts run in C (pyipvs.conns drives them).

CONN_TABLE_CONN: int = lib.PYIPVS_CONN_TABLE_CONN
CONN_TABLE_SYNC: int = lib.PYIPVS_CONN_TABLE_SYNC
CONN_PROTO_UNKNOWN: int = lib.PYIPVS_CONN_PROTO_UNKNOWN
CONN_ORIGIN_NONE: int = lib.PYIPVS_CONN_ORIGIN_NONE
CONN_ORIGIN_LOCAL: int = lib.PYIPVS_CONN_ORIGIN_LOCAL
CONN_ORIGIN_SYNC: int = lib.PYIPVS_CONN_ORIGIN_SYNC
CONN_BY_PROTO: int = lib.PYIPVS_CONN_BY_PROTO
CONN_BY_CLIENT: int = lib.PYIPVS_CONN_BY_CLIENT
CONN_BY_VADDR: int = lib.PYIPVS_CONN_BY_VADDR
CONN_BY_VPORT: int = lib.PYIPVS_CONN_BY_VPORT
CONN_BY_DADDR: int = lib.PYIPVS_CONN_BY_DADDR
CONN_BY_DPORT: int = lib.PYIPVS_CONN_BY_DPORT
CONN_BY_STATE: int = lib.PYIPVS_CONN_BY_STATE
CONN_BY_ORIGIN: int = lib.PYIPVS_CONN_BY_ORIGIN
_CONN_F_PE: int = lib.PYIPVS_CONN_F_PE
_INET6 = int(Family.INET6)


def _conn_state_names() -> dict[int, str]:
    name = ffi.new("const char **")
    return {
        code: ffi.string(name[0]).decode()
        for code in range(lib.PYIPVS_CONN_S_COUNT)
        if lib.pyipvs_conn_state_name(code, name) == 0
    }


#: PYIPVS_CONN_S_* code -> the kernel's state text (UNKNOWN has none).
CONN_STATE_NAMES: dict[int, str] = _conn_state_names()
CONN_STATE_CODES: dict[str, int] = {v: k for k, v in CONN_STATE_NAMES.items()}


def _conn_layout() -> struct.Struct:
    """struct pyipvs_conn as a struct.Struct: every field up to state_name, in
    declared order; the PE fields (273 bytes, rarely set) are sliced out only
    for rows that have them."""
    fields = (
        ("protocol", "i"), ("af", "H"), ("daf", "H"), ("caddr", "16s"), ("vaddr", "16s"),
        ("daddr", "16s"), ("cport", "H"), ("vport", "H"), ("dport", "H"), ("state", "H"),
        ("expires", "I"), ("origin", "B"), ("flags", "B"), ("proto_len", "B"),
        ("state_len", "B"), ("pe_name_len", "B"), ("pe_data_len", "H"),
        ("proto_name", "16s"), ("state_name", "24s"),
    )  # fmt: skip
    fmt, pos = "=", 0
    for name, code in fields:
        off = ffi.offsetof("struct pyipvs_conn", name)
        if off < pos:
            raise ImportError(f"struct pyipvs_conn layout: {name} out of order")
        fmt += f"{off - pos}x{code}"
        pos = off + struct.calcsize("=" + code)
    fmt += f"{ffi.sizeof('struct pyipvs_conn') - pos}x"
    layout = struct.Struct(fmt)
    if layout.size != ffi.sizeof("struct pyipvs_conn"):
        raise ImportError("struct pyipvs_conn layout does not match the C core")
    return layout


_CONN_ROW = _conn_layout()
_PE_NAME_AT: int = ffi.offsetof("struct pyipvs_conn", "pe_name")
_PE_DATA_AT: int = ffi.offsetof("struct pyipvs_conn", "pe_data")
_T = TypeVar("_T")
#: One summary group: protocol, proto text, client network, vaddr, vport, daddr,
#: dport, state code, state text, origin (None where not grouped by), count.
GroupTuple = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ConnMatch:
    """The C filter's tests; None (or no states) leaves a field untested."""

    protocol: int | None = None
    client: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    cport: int | None = None
    vaddr: IPAddress | None = None
    vport: int | None = None
    daddr: IPAddress | None = None
    dport: int | None = None
    states: frozenset[int] = frozenset()  # PYIPVS_CONN_S_* codes
    origin: int | None = None


@dataclass(frozen=True, slots=True)
class ConnCounts:
    """What a reader has seen: header is 0 (none), 1 (ip_vs_conn) or 2 (sync)."""

    bytes_read: int
    lines: int
    rows: int
    matched: int
    malformed: int
    blank: int
    header: int
    eof: bool


def _c_conn_filter(m: ConnMatch) -> Any:
    f = ffi.new("struct pyipvs_conn_filter *")
    bits = 0
    if m.protocol is not None:
        f.protocol, bits = m.protocol, bits | lib.PYIPVS_CONN_MATCH_PROTO
    if m.client is not None:
        f.caf = int(Family.INET6 if m.client.version == 6 else Family.INET)
        _put_addr(f.caddr, m.client.network_address)
        f.cprefix, bits = m.client.prefixlen, bits | lib.PYIPVS_CONN_MATCH_CLIENT
    if m.cport is not None:
        f.cport, bits = m.cport, bits | lib.PYIPVS_CONN_MATCH_CPORT
    if m.vaddr is not None:
        f.vaf = int(Family.INET6 if m.vaddr.version == 6 else Family.INET)
        _put_addr(f.vaddr, m.vaddr)
        bits |= lib.PYIPVS_CONN_MATCH_VADDR
    if m.vport is not None:
        f.vport, bits = m.vport, bits | lib.PYIPVS_CONN_MATCH_VPORT
    if m.daddr is not None:
        f.daf = int(Family.INET6 if m.daddr.version == 6 else Family.INET)
        _put_addr(f.daddr, m.daddr)
        bits |= lib.PYIPVS_CONN_MATCH_DADDR
    if m.dport is not None:
        f.dport, bits = m.dport, bits | lib.PYIPVS_CONN_MATCH_DPORT
    if m.states:
        f.states = sum(1 << s for s in set(m.states))
        bits |= lib.PYIPVS_CONN_MATCH_STATE
    if m.origin is not None:
        f.origin, bits = m.origin, bits | lib.PYIPVS_CONN_MATCH_ORIGIN
    f.match = bits
    return f


def _conn_check(rc: int, path: str | None, netns: str | None) -> None:
    if rc < 0:
        raise OSError(-rc, os.strerror(-rc), path, None, netns)


class _ConnDecoder:
    """Rows of one reader into objects; addresses and names come from caches
    (a table repeats its services, servers and state names on every row)."""

    __slots__ = ("names", "v4", "v6")

    def __init__(self) -> None:
        self.v4: dict[bytes, IPAddress] = {}
        self.v6: dict[bytes, IPAddress] = {}
        self.names: dict[bytes, str] = {}

    def _addr(self, af: int, raw: bytes) -> IPAddress:
        if af == _INET6:
            a: IPAddress = ipaddress.IPv6Address(raw)
            self.v6[raw] = a
        else:
            a = ipaddress.IPv4Address(raw[:4])
            self.v4[raw] = a
        return a

    def _name(self, raw: bytes, n: int) -> str:
        s = self.names[raw] = raw[:n].decode("ascii")
        return s

    def rows(self, data: bytes, factory: Callable[..., _T], origins: dict[int, Any]) -> list[_T]:
        """factory(proto, protocol, caddr, cport, vaddr, vport, daddr, dport,
        state, expires, pe_name, pe_data, origin) per row: the text as printed,
        protocol None for an unknown name, origin mapped through `origins`."""
        if len(self.v4) + len(self.v6) > 65536:  # clients rarely repeat: stay bounded
            self.v4.clear()
            self.v6.clear()
        if len(self.names) > 4096:  # only odd input has more than a few dozen
            self.names.clear()
        v4, v6, names, size = self.v4, self.v6, self.names, _CONN_ROW.size
        out: list[_T] = []
        append = out.append
        for i, (proto, af, daf, ca, va, da, cp, vp, dp, _st, exp, origin, flags, plen, slen,
                pnl, pdl, pn, sn) in enumerate(_CONN_ROW.iter_unpack(data)):  # fmt: skip
            cache = v6 if af == _INET6 else v4
            caddr = cache.get(ca) or self._addr(af, ca)
            vaddr = cache.get(va) or self._addr(af, va)
            daddr = (v6 if daf == _INET6 else v4).get(da) or self._addr(daf, da)
            pe_name = pe_data = None
            if flags & _CONN_F_PE:
                at = i * size
                pe_name = data[at + _PE_NAME_AT : at + _PE_NAME_AT + pnl].decode("ascii")
                raw = data[at + _PE_DATA_AT : at + _PE_DATA_AT + pdl]
                pe_data = raw.decode("utf-8", "surrogateescape")
            append(factory(
                names.get(pn) or self._name(pn, plen), proto if proto >= 0 else None,
                caddr, cp, vaddr, vp, daddr, dp, names.get(sn) or self._name(sn, slen), exp,
                pe_name, pe_data, origins.get(origin)))  # fmt: skip
        return out


class ConnReader:
    """One open connection table (a /proc file, another file, or bytes),
    read in chunks of rows that pass an optional C-side filter.
    Not thread-safe; close() it (pyipvs.conns.ConnCursor does)."""

    __slots__ = ("_chunk", "_dec", "_f", "_keep", "_netns", "_path", "_r", "_rows")

    def __init__(self, out: Any, match: ConnMatch | None, chunk: int, keep: Any,
                 path: str | None, netns: str | None) -> None:  # fmt: skip
        self._r: Any = ffi.gc(out[0], lib.pyipvs_conn_reader_free)
        self._f = _c_conn_filter(match) if match is not None else ffi.NULL
        self._chunk = max(1, chunk)
        self._rows: Any = None
        self._dec = _ConnDecoder()
        self._keep = keep
        self._path, self._netns = path, netns

    @staticmethod
    def _opts(bufsize: int, max_read: int, stop_at_blank: bool) -> Any:
        o = ffi.new("struct pyipvs_conn_opts *")
        o.bufsize, o.max_read = bufsize, max_read
        o.flags = lib.PYIPVS_CONN_OPT_STOP_AT_BLANK if stop_at_blank else 0
        return o

    @classmethod
    def open(cls, path: str | None = None, *, table: int = CONN_TABLE_CONN,
             netns: str | None = None, match: ConnMatch | None = None, chunk: int = 4096,
             bufsize: int = 0, max_read: int = 0,
             stop_at_blank: bool = False) -> ConnReader:  # fmt: skip
        """Open `path` (None: the table's /proc file, in netns if given)."""
        out = ffi.new("struct pyipvs_conn_reader **")
        c_path = os.fsencode(path) if path is not None else ffi.NULL
        c_ns = os.fsencode(netns) if netns is not None else ffi.NULL
        opts = cls._opts(bufsize, max_read, stop_at_blank)
        _conn_check(lib.pyipvs_conn_reader_open(out, c_path, table, c_ns, opts), path, netns)
        return cls(out, match, chunk, None, path, netns)

    @classmethod
    def from_bytes(cls, data: bytes, *, match: ConnMatch | None = None, chunk: int = 4096,
                   bufsize: int = 0, max_read: int = 0,
                   stop_at_blank: bool = False) -> ConnReader:  # fmt: skip
        out = ffi.new("struct pyipvs_conn_reader **")
        keep = ffi.from_buffer(data)
        opts = cls._opts(bufsize, max_read, stop_at_blank)
        _conn_check(lib.pyipvs_conn_reader_new_mem(out, keep, len(data), opts), None, None)
        return cls(out, match, chunk, (data, keep), None, None)

    def close(self) -> None:
        if self._r is not None:
            ffi.release(self._r)
            self._r = None
            self._keep = None

    def _live(self) -> Any:
        if self._r is None:
            raise ValueError("I/O operation on a closed connection table")
        return self._r

    def read(self, factory: Callable[..., _T], origins: dict[int, Any]) -> list[_T]:
        """The next chunk of rows, made by factory (see _ConnDecoder.rows);
        empty only at the end of the table."""
        r = self._live()
        if self._rows is None:
            self._rows = ffi.new("struct pyipvs_conn[]", self._chunk)
        n = ffi.new("size_t *")
        _conn_check(lib.pyipvs_conn_read(r, self._f, self._rows, self._chunk, n),
                    self._path, self._netns)  # fmt: skip
        data = ffi.buffer(self._rows, n[0] * _CONN_ROW.size)[:]
        return self._dec.rows(data, factory, origins)

    def scan(self, groupings: list[tuple[int, int, int, int]]) -> list[
            tuple[list[GroupTuple], int, int]]:  # fmt: skip
        """Read to the end, counting rows per group for each (by, v4_prefix,
        v6_prefix, max_groups); per grouping: its groups, total, overflow."""
        r = self._live()
        aggs = []
        try:
            for by, v4, v6, max_groups in groupings:
                out = ffi.new("struct pyipvs_conn_agg **")
                _conn_check(lib.pyipvs_conn_agg_new(out, by, v4, v6, max_groups), None, None)
                aggs.append(ffi.gc(out[0], lib.pyipvs_conn_agg_free))
            arr = ffi.new("struct pyipvs_conn_agg *[]", aggs) if aggs else ffi.NULL
            _conn_check(lib.pyipvs_conn_scan(r, self._f, arr, len(aggs)), self._path, self._netns)
            return [self._groups(a) for a in aggs]
        finally:
            for a in aggs:
                ffi.release(a)

    def _groups(self, agg: Any) -> tuple[list[GroupTuple], int, int]:
        ng, total, over = ffi.new("size_t *"), ffi.new("uint64_t *"), ffi.new("uint64_t *")
        lib.pyipvs_conn_agg_info(agg, ng, total, over)
        groups = ffi.new("struct pyipvs_conn_group[]", max(1, ng[0]))
        lib.pyipvs_conn_agg_groups(agg, groups, ng[0], ng)
        dec, out = self._dec, []
        for g in groups[0 : ng[0]]:
            by = g.by
            client: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
            if by & CONN_BY_CLIENT:
                raw = ffi.buffer(g.caddr)[:]
                client = (ipaddress.IPv6Network((raw, g.cprefix)) if g.af == _INET6
                          else ipaddress.IPv4Network((raw[:4], g.cprefix)))  # fmt: skip
            out.append((
                g.protocol if by & CONN_BY_PROTO else None,
                _text(g.proto_name) if by & CONN_BY_PROTO else None,
                client,
                dec._addr(g.af, ffi.buffer(g.vaddr)[:]) if by & CONN_BY_VADDR else None,
                g.vport if by & CONN_BY_VPORT else None,
                dec._addr(g.daf, ffi.buffer(g.daddr)[:]) if by & CONN_BY_DADDR else None,
                g.dport if by & CONN_BY_DPORT else None,
                g.state if by & CONN_BY_STATE else None,
                _text(g.state_name) if by & CONN_BY_STATE else None,
                g.origin if by & CONN_BY_ORIGIN else None,
                g.count,
            ))  # fmt: skip
        return out, total[0], over[0]

    def counts(self) -> ConnCounts:
        c = ffi.new("struct pyipvs_conn_counts *")
        lib.pyipvs_conn_reader_counts(self._live(), c)
        return ConnCounts(c.bytes, c.lines, c.rows, c.matched, c.malformed, c.blank, c.header,
                          bool(c.eof))  # fmt: skip


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
_dest_args = lib.pyipvs_batch_dest_args


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

    __slots__ = ("_b", "_svc", "_key")

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

    def service(self, cmd: int, what: Service | ServiceKey | None) -> None:
        if what is None:
            c = ffi.NULL
        elif isinstance(what, Service):
            c = _c_service(what)
        else:
            c = self._key_struct(what)
        check(lib.pyipvs_batch_service(self._b, cmd, c), None)

    def dest(self, cmd: int, key: ServiceKey, s: Server) -> int:
        """Append a server command; 0, or the negative errno of a refusal
        (the hot path of a batch: the caller explains refusals)."""
        a = s.address.packed
        return _dest_args(  # type: ignore[no-any-return]
            self._b, cmd, self._svc if key is self._key else self._key_struct(key), a, len(a),
            s.port, s.forward, s.weight, s.u_threshold, s.l_threshold, s.tun_type, s.tun_port,
            s.tun_flags,
        )  # fmt: skip

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
