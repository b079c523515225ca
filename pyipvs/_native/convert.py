"""Model objects to C structs and back (the bridge's conversions)."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from typing import Any

from pyipvs._frozen import constructor
from pyipvs._native._core import (
    _DAEMON_STATE,
    _FAMILY,
    _FORWARD,
    _HAS_MCAST_GROUP,
    _HAS_MCAST_PORT,
    _HAS_MCAST_TTL,
    _HAS_PE_NAME,
    _HAS_SYNC_MAXLEN,
    _PROTOCOL,
    _SERVICE_FLAGS,
    _TUN_FLAGS,
    _TUN_TYPE,
    _ZERO_STATS,
    _bad_reply,
    _member,
    _text,
)
from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.errors import Op
from pyipvs.model import (
    SETTABLE_SERVICE_FLAGS,
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

# --- model -> C -------------------------------------------------------------


def _put_addr(dst: Any, address: IPAddress) -> None:
    packed = address.packed
    ffi.memmove(dst, packed, len(packed))


_service_args = lib.pyipvs_service_args


def _c_key(key: ServiceKey, out: Any | None = None) -> Any:
    """A service struct identifying `key`, with the settings ipvsadm sends
    alongside an identity (no scheduler, no flags, the family's netmask)."""
    return _c_fill(_key_fields(key, b"", b"", 0, 0, default_netmask(key.family)), out)


def _c_service(service: Service) -> Any:
    """Conversion errors raise (TypeError, OverflowError, AttributeError,
    ValueError for what C refuses); callers check first or word them with
    pyipvs.ipvs.check_service."""
    return _c_fill(_service_fields(service))


def _service_fields(s: Service) -> tuple[Any, ...]:
    """A service as the arguments of pyipvs_service_args (and, after the
    batch's own, pyipvs_batch_service_args): one call that converts every
    field instead of a store per field (a batch's add_service runs this)."""
    return _key_fields(
        s.key, s.scheduler.encode("utf-8", "surrogateescape"),
        s.pe_name.encode("utf-8", "surrogateescape"), s.flags, s.timeout, s.netmask,
    )  # fmt: skip


def _key_fields(
    key: ServiceKey, sched: bytes, pe: bytes, flags: int, timeout: int, netmask: int
) -> tuple[Any, ...]:
    fwmark = key.fwmark
    a = b"" if fwmark or key.address is None else key.address.packed
    return (key.family, key.protocol, a, len(a), key.port, fwmark, sched, len(sched), pe,
            len(pe), flags, timeout, netmask)  # fmt: skip


def _c_fill(fields: tuple[Any, ...], out: Any | None = None) -> Any:
    c = out if out is not None else ffi.new("struct pyipvs_service *")
    rc = _service_args(c, *fields)
    if rc < 0:
        raise ValueError(f"service refused by the encoder (errno {-rc})")
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
    c.mcast_ifn = d.mcast_ifn.encode("utf-8", "surrogateescape")
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


def _layout(ctype: str, fields: str, size: int | None = None) -> struct.Struct:
    """A reader of `ctype` yielding the named fields ("name:code ...") in
    order, over its first `size` bytes (default: all of it)."""
    t = ffi.typeof(ctype)
    members = dict(t.fields)
    end = ffi.sizeof(t) if size is None else size
    fmt, pos = "=", 0
    for item in fields.split():
        name, code = item.split(":")
        f = members[name]
        width = struct.calcsize("=" + code)
        if f.offset < pos or width != ffi.sizeof(f.type):
            raise RuntimeError(f"{ctype}.{name} does not match '{code}'")
        fmt += "x" * (f.offset - pos) + code
        pos = f.offset + width
    layout = struct.Struct(fmt + "x" * (end - pos))
    if layout.size != end:
        raise RuntimeError(f"layout of {ctype} is {layout.size} bytes, not {end}")
    return layout


# A row is its settings, then (servers) three connection counts, then the
# ten counters. The settings, as bytes, key the memo below: the counters
# change from read to read, the settings rarely do. One bytes object and one
# hash per row, instead of a tuple of twenty fields hashed field by field (a
# third less per row on the host).
_SVC_CONF_FIELDS = (
    "af:H protocol:H addr:16s port:H fwmark:I sched_name:16s pe_name:17s flags:I"
    " timeout:I netmask:I present:I"
)
_DEST_CONF_FIELDS = (
    "af:H addr:16s port:H fwd_method:I weight:i u_threshold:I l_threshold:I tun_type:B"
    " tun_port:H tun_flags:H"
)
_SVC_SETTINGS = ffi.offsetof("struct pyipvs_service", "stats")
_DEST_SETTINGS = ffi.offsetof("struct pyipvs_dest", "active_conns")
_SVC_ROW = _layout("struct pyipvs_service", _SVC_CONF_FIELDS + " stats:10Q")
_DEST_ROW = _layout(
    "struct pyipvs_dest",
    _DEST_CONF_FIELDS + " active_conns:I inact_conns:I persist_conns:I stats:10Q",
)
# The settings bytes of a row decoded (a memo miss).
_SVC_CONF = _layout("struct pyipvs_service", _SVC_CONF_FIELDS, _SVC_SETTINGS)
_DEST_CONF = _layout("struct pyipvs_dest", _DEST_CONF_FIELDS, _DEST_SETTINGS)
# A whole row as (settings bytes, [three counts,] ten counters), for
# struct.iter_unpack: one C loop over the array instead of a slice and an
# unpack_from call per row (a tenth less per server row on the host).
_SVC_SPLIT = struct.Struct(f"={_SVC_SETTINGS}s10Q")
_DEST_SPLIT = struct.Struct(
    f"={_DEST_SETTINGS}s3I"
    + "x" * (ffi.offsetof("struct pyipvs_dest", "stats") - _DEST_SETTINGS - 12)
    + "10Q"
)
if _SVC_SPLIT.size != _SVC_ROW.size or _DEST_SPLIT.size != _DEST_ROW.size:
    raise RuntimeError("a service or server row is not its settings and then its counters")
if len({_SVC_SETTINGS, _DEST_SETTINGS, 16, 17}) != 4:  # the memo's bytes keys, by kind
    raise RuntimeError("row settings as long as a name: the memo's keys would mix")

# Memo of decoded objects: addresses by (af, raw bytes), names by raw bytes
# (16 or 17 of them), and the settings of a service or server row (bytes, a
# length of their own: _SVC_SETTINGS or _DEST_SETTINGS) by its (Service, raw
# flags) or Server.
# Servers and schedulers repeat a lot, and ipaddress and model objects are
# costly to build (about 10 us a row on the host, 0.3 ms under the test VM's
# emulation). A listing uses a fresh one; a snapshot reuses its IPVS
# object's from read to read (pyipvs.snapshot), so a poller builds only the
# counters of what did not change. The model is immutable, so sharing is safe.
_Cache = dict[Any, Any]

# The per-row objects of a full-table read, built without the frozen
# __init__'s per-field cost (pyipvs._frozen).
_new_stats = constructor(Stats)
_new_service_status = constructor(ServiceStatus)
_new_server_status = constructor(ServerStatus)
# Built once per distinct row and kept in the memo, so they matter on a
# first read: a fresh snapshot of 5,000 services spent about a third of its Python time
# in the frozen __init__s of ServiceKey and Service (host, 2026-11-28).
_new_key = constructor(ServiceKey)
_new_service = constructor(Service)
_new_server = constructor(Server)


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
    return _new_stats(*v) if any(v) else _ZERO_STATS


def _services(buf: Any, cache: _Cache, op: Op | None) -> Iterator[tuple[Any, Any]]:
    """(row, (Service, raw flags)) of every row of an array of struct
    pyipvs_service, row as _SVC_SPLIT reads it, the pair from the memo where
    the row's settings are in it."""
    get = cache.get
    for row in _SVC_SPLIT.iter_unpack(buf):
        hit = get(row[0])
        if hit is None:
            conf = _SVC_CONF.unpack(row[0])
            hit = cache[row[0]] = (_service_conf(conf, cache, op), conf[7])
        yield row, hit


def service_rows(buf: Any, cache: _Cache, op: Op | None) -> list[ServiceStatus]:
    """Every row of an array of struct pyipvs_service (bytes, or a buffer
    over one) as a ServiceStatus."""
    out = []
    for row, (service, flags) in _services(buf, cache, op):
        counters = row[1:]
        stats = _new_stats(*counters) if any(counters) else _ZERO_STATS
        out.append(_new_service_status(service, stats, flags))
    return out


def service_keys(buf: Any, cache: _Cache, op: Op | None) -> list[ServiceKey]:
    """Only the keys of service_rows (the counters view): no status object."""
    return [hit[0].key for _, hit in _services(buf, cache, op)]


def _service_conf(conf: tuple[Any, ...], cache: _Cache, op: Op | None) -> Service:
    af, proto, addr, port, fwmark, sched, pe, raw, timeout, netmask, present = conf
    family = _member(_FAMILY, Family, af, op)
    if fwmark:
        key = _new_key(family, Protocol.TCP, None, 0, fwmark)
    else:
        protocol = _member(_PROTOCOL, Protocol, proto, op)
        key = _new_key(family, protocol, _address(cache, af, addr, op), port)
    flags = _SERVICE_FLAGS.get(raw)
    if flags is None:
        flags = _SERVICE_FLAGS[raw] = ServiceFlag(raw & SETTABLE_SERVICE_FLAGS)
    pe_name = _name(cache, pe) if present & _HAS_PE_NAME else ""
    return _new_service(key, _name(cache, sched), flags, timeout, netmask, pe_name)


def server_rows(buf: Any, cache: _Cache, op: Op | None) -> list[ServerStatus]:
    """Every row of an array of struct pyipvs_dest (bytes, or a buffer over
    one) as a ServerStatus."""
    get = cache.get
    out = []
    for row in _DEST_SPLIT.iter_unpack(buf):
        server: Server | None = get(row[0])
        if server is None:
            server = cache[row[0]] = _server_conf(_DEST_CONF.unpack(row[0]), cache, op)
        counters = row[4:]
        stats = _new_stats(*counters) if any(counters) else _ZERO_STATS
        out.append(_new_server_status(server, row[1], row[2], row[3], stats))
    return out


def _server_conf(conf: tuple[Any, ...], cache: _Cache, op: Op | None) -> Server:
    af, addr, port, fwd, weight, u_th, l_th, tun_type, tun_port, tun_flags = conf
    return _new_server(
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


def _service(c: Any, op: Op | None) -> ServiceStatus:
    return service_rows(ffi.buffer(c)[:], {}, op)[0]


def _server(c: Any, op: Op | None) -> ServerStatus:
    return server_rows(ffi.buffer(c)[:], {}, op)[0]


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
