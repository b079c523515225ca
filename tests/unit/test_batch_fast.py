"""The batch's fast paths against slow references built here, field by field
(no kernel): add_servers' packed records, the one-call service fill and the
identity a service's servers carry encode exactly the messages the struct
path encodes, and refuse exactly what the library's checks refuse.
"""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytest

from pyipvs import _native
from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.batch import Batch
from pyipvs.errors import IPVSValueError
from pyipvs.ipvs import check_service
from pyipvs.model import (
    U32_MAX,
    Family,
    Forward,
    Protocol,
    Server,
    Service,
    ServiceFlag,
    ServiceKey,
    TunnelFlag,
    TunnelType,
    default_netmask,
)


def _batch() -> Batch:
    return Batch(None)  # type: ignore[arg-type]  # never applied here


def _messages(b: Batch) -> list[bytes]:
    nb = b._nb
    assert nb is not None
    return [nb.message(i) for i in range(len(nb))]


# --- references: structs filled one field at a time ---


def _ref_key(key: ServiceKey) -> Any:
    c = ffi.new("struct pyipvs_service *")
    c.af = int(key.family)
    if key.fwmark:
        c.fwmark = key.fwmark
        c.protocol = int(Protocol.TCP)
    else:
        c.protocol = int(key.protocol)
        packed = key.address.packed  # type: ignore[union-attr]
        ffi.memmove(c.addr, packed, len(packed))
        c.port = key.port
    c.flags_mask = U32_MAX
    c.netmask = default_netmask(key.family)
    return c


def _ref_service(s: Service) -> Any:
    c = _ref_key(s.key)
    c.sched_name = s.scheduler.encode()
    c.pe_name = s.pe_name.encode()
    c.flags = int(s.flags)
    c.timeout = s.timeout
    c.netmask = s.netmask
    return c


def _ref_dest(s: Server) -> Any:
    c = ffi.new("struct pyipvs_dest *")
    c.af = int(Family.INET6 if s.address.version == 6 else Family.INET)
    ffi.memmove(c.addr, s.address.packed, len(s.address.packed))
    c.port, c.fwd_method, c.weight = s.port, int(s.forward), s.weight
    c.u_threshold, c.l_threshold = s.u_threshold, s.l_threshold
    c.tun_type, c.tun_port, c.tun_flags = int(s.tun_type), s.tun_port, int(s.tun_flags)
    return c


def _ref_messages(calls: list[tuple[int, Any, Any]]) -> list[bytes]:
    nb = _native.Batch()
    for cmd, svc, dest in calls:
        if dest is None:
            assert lib.pyipvs_batch_service(nb._b, cmd, svc) == 0
        else:
            assert lib.pyipvs_batch_dest(nb._b, cmd, svc, dest) == 0
    return [nb.message(i) for i in range(len(nb))]


# --- random models ---


def _key(rnd: random.Random) -> ServiceKey:
    v6 = rnd.random() < 0.3
    if rnd.random() < 0.2:
        return ServiceKey.fw(rnd.randint(1, U32_MAX), Family.INET6 if v6 else Family.INET)
    addr: IPv4Address | IPv6Address = (
        IPv6Address(rnd.getrandbits(128)) if v6 else IPv4Address(rnd.getrandbits(32))
    )
    return ServiceKey.of(rnd.choice(list(Protocol)), addr, rnd.randint(0, 0xFFFF))


def _service(rnd: random.Random) -> Service:
    key = _key(rnd)
    v6 = key.family == Family.INET6
    return Service(
        key,
        rnd.choice(["rr", "wlc", "mh", "x" * 15, ""]),
        ServiceFlag(rnd.choice([0, 1, 2, 3, 0x10])),
        rnd.choice([0, 300, U32_MAX]),
        rnd.randint(0, 128) if v6 else rnd.choice([U32_MAX, 0xFFFFFF00, 0]),
        rnd.choice(["", "sip", "y" * 16]),
    )


def _server(rnd: random.Random, family: int) -> Server:
    tunnel = rnd.random() < 0.2
    v6 = (family == Family.INET6) != (tunnel and rnd.random() < 0.5)
    return Server(
        IPv6Address(rnd.getrandbits(128)) if v6 else IPv4Address(rnd.getrandbits(32)),
        rnd.randint(0, 0xFFFF),
        Forward.TUNNEL if tunnel else rnd.choice([Forward.MASQ, Forward.ROUTE, Forward.LOCAL]),
        rnd.choice([0, 1, 2**31 - 1]),
        rnd.choice([0, 5, 2**31 - 1]),
        rnd.choice([0, 3]),
        rnd.choice(list(TunnelType)),
        rnd.randint(0, 0xFFFF),
        rnd.choice(list(TunnelFlag)),
    )


@pytest.mark.parametrize("seed", range(20))
def test_fast_paths_encode_what_the_struct_path_encodes(seed: int) -> None:
    rnd = random.Random(seed)
    bulk, loop = _batch(), _batch()
    calls: list[tuple[int, Any, Any]] = []
    for _ in range(15):
        service = _service(rnd)
        servers = [_server(rnd, service.key.family) for _ in range(rnd.randint(0, 12))]
        bulk.add_service(service)
        bulk.add_servers(service.key, servers)
        loop.add_service(service)
        for s in servers:
            loop.add_server(service.key, s)
        calls.append((_native.CMD_NEW_SERVICE, _ref_service(service), None))
        calls.extend((_native.CMD_NEW_DEST, _ref_key(service.key), _ref_dest(s)) for s in servers)
    want = _ref_messages(calls)
    assert _messages(bulk) == want
    assert _messages(loop) == want


def test_servers_of_a_key_alone_carry_the_same_identity() -> None:
    rnd = random.Random(5)
    for _ in range(50):
        service = _service(rnd)
        server = _server(rnd, service.key.family)
        after, alone = _batch(), _batch()
        after.add_service(service)
        after.add_servers(service.key, [server])
        alone.add_servers(service.key, [server])
        assert _messages(after)[1] == _messages(alone)[0]


_BAD_SERVERS = [
    Server(ip_address("10.0.0.9"), 70000),
    Server(ip_address("10.0.0.9"), 80, weight=-1),
    Server(ip_address("10.0.0.9"), 80, u_threshold=2**31),
    Server(ip_address("10.0.0.9"), 80, l_threshold=-1),
    Server(ip_address("2001:db8::9"), 80),  # another family, not tunnelled
    Server(ip_address("10.0.0.9"), 80, tun_type=256),  # type: ignore[arg-type]
    Server(ip_address("10.0.0.9"), 80, weight=1.5),  # type: ignore[arg-type]
    "not a server",
]


@pytest.mark.parametrize("bad", _BAD_SERVERS, ids=range(len(_BAD_SERVERS)))
def test_add_servers_refuses_as_the_loop_does(bad: Any) -> None:
    key = ServiceKey.tcp("10.0.0.1", 80)
    good = [Server(ip_address(f"10.0.0.{i}"), 80) for i in (2, 3)]
    bulk, loop = _batch(), _batch()
    with pytest.raises(IPVSValueError) as by_bulk:
        bulk.add_servers(key, [*good, bad, good[0]])

    def each(servers: list[Any]) -> None:
        for s in servers:
            loop.add_server(key, s)

    with pytest.raises(IPVSValueError) as by_loop:
        each([*good, bad, good[0]])
    assert str(by_bulk.value) == str(by_loop.value)
    assert _messages(bulk) == _messages(loop) and len(bulk) == 2


def _odd_service(rnd: random.Random) -> Service:
    """A service with one field pushed to or past what can be encoded."""
    s = _service(rnd)
    key = s.key
    field, value = rnd.choice(
        [
            ("scheduler", "x" * 16),
            ("scheduler", "r\0r"),
            ("scheduler", 5),
            ("pe_name", "y" * 17),
            ("pe_name", "s\0p"),
            ("flags", -1),
            ("flags", U32_MAX + 1),
            ("timeout", U32_MAX + 1),
            ("timeout", 1.5),
            ("netmask", 129),
            ("netmask", 128),
            ("netmask", U32_MAX + 1),
            ("key", (Family.INET, Protocol.TCP, IPv6Address(1), 80, 0)),
            ("key", (Family.INET6, Protocol.TCP, IPv4Address(1), 80, 0)),
            ("key", (Family.INET, 300, IPv4Address(1), 80, 0)),
            ("key", (Family.INET, Protocol.TCP, IPv4Address(1), 65536, 0)),
            ("key", (Family.INET, Protocol.TCP, None, 80, 0)),
            ("key", (Family.INET, Protocol.TCP, None, 0, U32_MAX + 1)),
            ("key", (7, Protocol.TCP, IPv4Address(1), 80, 0)),
            ("key", key),
        ]
    )
    fields = {f: getattr(s, f) for f in Service.__dataclass_fields__}
    fields[field] = (
        _bypass(ServiceKey, value) if field == "key" and isinstance(value, tuple) else value
    )
    return _bypass(Service, fields)


def _bypass(cls: type, fields: dict[str, Any] | tuple[Any, ...]) -> Any:
    """A frozen model object with fields its constructor might refuse."""
    if isinstance(fields, tuple):
        fields = dict(zip(cls.__dataclass_fields__, fields))  # type: ignore[attr-defined]
    obj = object.__new__(cls)
    for name, value in fields.items():
        object.__setattr__(obj, name, value)
    return obj


def _refusal(s: Service) -> str | None:
    try:
        check_service(s)
    except IPVSValueError as e:
        return str(e)
    return None


def test_add_service_refuses_exactly_what_check_service_refuses() -> None:
    rnd = random.Random(9)
    refused = accepted = 0
    for _ in range(400):
        s = _odd_service(rnd)
        why = _refusal(s)
        if why is not None:
            refused += 1
            with pytest.raises(IPVSValueError) as info:
                _batch().add_service(s)
            assert str(info.value) == why
            continue
        accepted += 1
        b = _batch()
        b.add_service(s)
        assert _messages(b) == _ref_messages([(_native.CMD_NEW_SERVICE, _ref_service(s), None)])
    assert refused > 100 and accepted > 50


@pytest.mark.parametrize("bad", [ServiceKey.tcp("10.0.0.1", 80), "web", None])
def test_add_service_wants_a_service(bad: Any) -> None:
    b = _batch()
    with pytest.raises(IPVSValueError, match="expected a Service"):
        b.add_service(bad)
    with pytest.raises(IPVSValueError, match="expected a Service"):
        b.edit_service(bad)
    assert len(b) == 0
