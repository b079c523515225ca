"""JSON (and YAML) data back into the model: the inverse of
`pyipvs.jsonable` for tables (top layer: pure Python, no cffi).

Accepted shapes (a YAML file holds the same data):

- what `pyipvs list --json` prints: ``{"services": [{"service": {...},
  "servers": [{"server": {...}, ...}], ...}]}``; counters, connection
  counts and `info` are ignored;
- a hand-written form with the wrapper objects left out and the key's
  fields next to the settings::

      {"services": [
        {"protocol": "tcp", "address": "10.0.0.1", "port": 80, "scheduler": "rr",
         "servers": [{"address": "10.1.0.1", "weight": 5}]},
        {"fwmark": 7, "family": "inet6", "servers": []}]}

  or just the list of services.

Enums are written as `pyipvs.jsonable` writes them (lower-case names) or as
numbers; flags as a list of names or a number; an IPv4 netmask may also be
dotted. Omitted settings take the model's defaults (scheduler wlc, direct
routing, weight 1), and an omitted server port is the service's, as with
ipvsadm's -r. Unknown fields are errors, so that a misspelt setting is not
silently dropped.
"""

from __future__ import annotations

# _socket, not socket: the C module has inet_pton without socket.py's imports
import _socket
import enum
import ipaddress
from collections.abc import Mapping
from typing import Any, TypeVar

from pyipvs.errors import IPVSValueError
from pyipvs.ipvs import check_server
from pyipvs.model import (
    INT_MAX,
    SETTABLE_SERVICE_FLAGS,
    Family,
    Forward,
    IPAddress,
    Protocol,
    Server,
    Service,
    ServiceFlag,
    ServiceKey,
    TunnelFlag,
    TunnelType,
    family_of,
)

from .table import Table

E = TypeVar("E", bound=enum.Enum)

_KEY_FIELDS = frozenset(("family", "protocol", "address", "port", "fwmark"))
_SERVICE_FIELDS = frozenset(("scheduler", "flags", "timeout", "netmask", "pe_name"))
_SERVER_FIELDS = frozenset(
    ("address", "port", "forward", "weight", "u_threshold", "l_threshold",
     "tun_type", "tun_port", "tun_flags")
)  # fmt: skip
# What `pyipvs list --json` adds around the settings: state, not configuration.
_SERVICE_STATUS = frozenset(("stats", "raw_flags"))
_SERVER_STATUS = frozenset(("active_conns", "inact_conns", "persist_conns", "stats"))


class DataError(ValueError):
    """One problem in the data, with where it is (a JSON path)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _enum(cls: type[E], value: Any, path: str) -> E:
    if isinstance(value, bool):
        raise DataError(path, f"expected a {cls.__name__} name or number, not {value!r}")
    if isinstance(value, int):
        try:
            return cls(value)
        except ValueError:
            raise DataError(path, f"unknown {cls.__name__} {value}") from None
    if isinstance(value, str):
        name = value.upper().replace("-", "_")
        member = cls.__members__.get(name)
        if member is not None:
            return member
        if cls is Protocol and name.startswith("IP_") and name[3:].isdigit():
            return cls(int(name[3:]))
    names = ", ".join(m.lower() for m in cls.__members__)
    raise DataError(path, f"unknown {cls.__name__} {value!r} (one of: {names})")


def _flags(cls: type[E], value: Any, path: str) -> E:
    if isinstance(value, int) and not isinstance(value, bool):
        return cls(value)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise DataError(path, f"expected a list of {cls.__name__} names, not {value!r}")
    total = 0
    for i, name in enumerate(value):
        total |= int(_enum(cls, name, f"{path}[{i}]").value)
    return cls(total)


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(path, f"expected an integer, not {value!r}")
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise DataError(path, f"expected a string, not {value!r}")
    return value


def _address(value: Any, path: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(_str(value, path))
    except ValueError:
        raise DataError(path, f"not an IP address: {value!r}") from None


def _object(value: Any, path: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DataError(path, f"expected an object, not {type(value).__name__}")
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise DataError(f"{path}.{unknown[0]}", "unknown field")
    return value


def _key(d: Mapping[str, Any], path: str) -> ServiceKey:
    fwmark = _int(d.get("fwmark", 0), f"{path}.fwmark")
    if fwmark:
        if d.get("address") is not None or d.get("port", 0):
            raise DataError(path, "a fwmark service has no address or port")
        family = _enum(Family, d.get("family", "inet"), f"{path}.family")
        return ServiceKey.fw(fwmark, family)
    if d.get("address") is None:
        raise DataError(path, "a service needs an address (and port) or a fwmark")
    address = _address(d["address"], f"{path}.address")
    if "family" in d and _enum(Family, d["family"], f"{path}.family") != family_of(address):
        raise DataError(f"{path}.family", f"does not match the address {address}")
    protocol = _enum(Protocol, d.get("protocol", "tcp"), f"{path}.protocol")
    return ServiceKey.of(protocol, address, _int(d.get("port", 0), f"{path}.port"))


def _netmask(value: Any, family: Family, path: str) -> int:
    if isinstance(value, str) and family == Family.INET:
        try:
            return int(ipaddress.IPv4Address(value))
        except ValueError:
            raise DataError(path, f"not an IPv4 netmask: {value!r}") from None
    return _int(value, path)


def service_from_data(d: Mapping[str, Any], path: str) -> Service:
    """A Service from `to_jsonable(service)` or the flat form."""
    if "key" in d:
        d = _object(d, path, _SERVICE_FIELDS | {"key"})
        key = _key(_object(d["key"], f"{path}.key", _KEY_FIELDS), f"{path}.key")
    else:
        d = _object(d, path, _SERVICE_FIELDS | _KEY_FIELDS)
        key = _key(d, path)
    svc = Service(key)
    flags = _flags(ServiceFlag, d.get("flags", 0), f"{path}.flags")
    if flags & ~SETTABLE_SERVICE_FLAGS:
        raise DataError(f"{path}.flags", "only persistent, onepacket and sched1-3 can be set")
    netmask = svc.netmask
    if "netmask" in d:
        netmask = _netmask(d["netmask"], key.family, f"{path}.netmask")
    return Service(
        key,
        _str(d.get("scheduler", svc.scheduler), f"{path}.scheduler"),
        flags,
        _int(d.get("timeout", 0), f"{path}.timeout"),
        netmask,
        _str(d.get("pe_name", ""), f"{path}.pe_name"),
    )


def _names(cls: type[E]) -> dict[Any, E]:
    return {**{m.name.lower(): m for m in cls}, **{m.value: m for m in cls}}


_FORWARD, _TUN_TYPE = _names(Forward), _names(TunnelType)
# Every spelling of tunnel flags: a number, or the list `to_jsonable` writes.
_TUN_FLAGS: dict[Any, TunnelFlag] = {
    **{int(f): TunnelFlag(f) for f in range(4)},
    **{tuple(m.name.lower() for m in TunnelFlag if m.value & f and m.name): TunnelFlag(f)
       for f in range(4)},
}  # fmt: skip


def _fast_server(d: Any, key: ServiceKey) -> Server | None:
    """The common case at dict-lookup speed (a table has ten times as many
    servers as services), checked as `check_server` checks; None hands
    anything unusual to the slow path, which words the error."""
    if type(d) is not dict or not d.keys() <= _SERVER_FIELDS:
        return None
    g = d.get
    a, port, w = g("address"), g("port", key.port), g("weight", 1)
    u, lo, tp = g("u_threshold", 0), g("l_threshold", 0), g("tun_port", 0)
    if type(a) is not str or not all(type(v) is int for v in (port, w, u, lo, tp)):
        return None
    if not (0 <= port <= 0xFFFF and 0 <= tp <= 0xFFFF and 0 <= w <= INT_MAX
            and 0 <= u <= INT_MAX and 0 <= lo <= INT_MAX):  # fmt: skip
        return None
    try:
        fwd = _FORWARD[g("forward", "route")]
        tt = _TUN_TYPE[g("tun_type", "ipip")]
        tf = g("tun_flags", 0)
        tf = _TUN_FLAGS[tuple(tf) if type(tf) is list else tf]
        # inet_pton: the C parser, strict (no short or octal IPv4 forms).
        if ":" in a:
            addr: IPAddress = ipaddress.IPv6Address(_socket.inet_pton(_socket.AF_INET6, a))
            family = Family.INET6
        else:
            addr = ipaddress.IPv4Address(_socket.inet_pton(_socket.AF_INET, a))
            family = Family.INET
    except (KeyError, TypeError, ValueError, OSError):
        return None
    if family != key.family and fwd != Forward.TUNNEL:
        return None
    return Server(addr, port, fwd, w, u, lo, tt, tp, tf)


def server_from_data(d: Mapping[str, Any], path: str, key: ServiceKey) -> Server:
    """A Server from `to_jsonable(server)` for the service `key`, checked
    (`check_server`); a missing port is the service's."""
    fast = _fast_server(d, key)
    if fast is not None:
        return fast
    server = _slow_server(d, path, key.port)
    try:
        check_server(key, server)
    except IPVSValueError as e:
        raise DataError(path, str(e)) from None
    return server


def _slow_server(d: Mapping[str, Any], path: str, service_port: int) -> Server:
    d = _object(d, path, _SERVER_FIELDS)
    if "address" not in d:
        raise DataError(path, "a server needs an address")
    return Server(
        _address(d["address"], f"{path}.address"),
        _int(d.get("port", service_port), f"{path}.port"),
        _enum(Forward, d.get("forward", "route"), f"{path}.forward"),
        _int(d.get("weight", 1), f"{path}.weight"),
        _int(d.get("u_threshold", 0), f"{path}.u_threshold"),
        _int(d.get("l_threshold", 0), f"{path}.l_threshold"),
        _enum(TunnelType, d.get("tun_type", "ipip"), f"{path}.tun_type"),
        _int(d.get("tun_port", 0), f"{path}.tun_port"),
        _flags(TunnelFlag, d.get("tun_flags", 0), f"{path}.tun_flags"),
    )


def _entry(d: Any, path: str) -> tuple[Service, list[Server]]:
    if not isinstance(d, Mapping):
        raise DataError(path, f"expected an object, not {type(d).__name__}")
    if "service" in d:
        outer = _object(d, path, _SERVICE_STATUS | {"service", "servers"})
        svc = service_from_data(outer["service"], f"{path}.service")
    else:
        flat = {k: v for k, v in d.items() if k != "servers" and k not in _SERVICE_STATUS}
        svc = service_from_data(flat, path)
    raw = d.get("servers", [])
    if not isinstance(raw, list):
        raise DataError(f"{path}.servers", "expected a list")
    servers = []
    for j, s in enumerate(raw):
        where = f"{path}.servers[{j}]"
        if isinstance(s, Mapping) and "server" in s:
            _object(s, where, _SERVER_STATUS | {"server"})
            s, where = s["server"], f"{where}.server"
        servers.append(server_from_data(s, where, svc.key))
    return svc, servers


def table_from_data(data: Any) -> tuple[Table, list[DataError]]:
    """A table from parsed JSON/YAML, and every problem found (the table
    holds what could be read; use it only when there are no problems)."""
    problems: list[DataError] = []
    if isinstance(data, Mapping):
        extra = [k for k in data if k not in ("services", "info")]
        if extra:
            problems.append(DataError(f"$.{extra[0]}", "unknown field"))
        data = data.get("services", [])
        base = "$.services"
    else:
        base = "$"
    if not isinstance(data, list):
        return Table(), [DataError(base, "expected a list of services")]
    items: list[tuple[Service, list[Server]]] = []
    seen: dict[ServiceKey, int] = {}
    for i, d in enumerate(data):
        path = f"{base}[{i}]"
        try:
            svc, servers = _entry(d, path)
        except DataError as e:
            problems.append(e)
            continue
        if svc.key in seen:
            problems.append(DataError(path, f"the same service as {base}[{seen[svc.key]}]"))
            continue
        seen[svc.key] = i
        ids: dict[tuple[object, int], int] = {}
        for j, s in enumerate(servers):
            sid = (s.address, s.port)
            if sid in ids:
                problems.append(
                    DataError(f"{path}.servers[{j}]", f"the same server as servers[{ids[sid]}]")
                )
            ids.setdefault(sid, j)
        items.append((svc, servers))
    return Table.of(items), problems
