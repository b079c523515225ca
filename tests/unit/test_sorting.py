"""Host tests for pyipvs.sorting: ipvsadm 1.31's order (glibc merge sort with
wrap-around C comparators), checked against a literal replica and, where
the host has glibc, against glibc's own qsort through ctypes."""

from __future__ import annotations

import ctypes
import functools
import ipaddress
import platform
import random
from collections.abc import Callable
from typing import TypeVar

import pytest

from pyipvs.model import (
    Family,
    Protocol,
    Server,
    ServerStatus,
    Service,
    ServiceKey,
    ServiceStatus,
)
from pyipvs.sorting import sort_servers, sort_services

T = TypeVar("T")
M32 = 0xFFFFFFFF


def c_int(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v & 0x80000000 else v


def words(a: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> list[int]:
    if a is None:
        return [0, 0, 0, 0]
    if a.version == 4:
        return [int(a), 0, 0, 0]
    v = int(a)
    return [(v >> s) & M32 for s in (96, 64, 32, 0)]


def cmp_dests(d1: ServerStatus, d2: ServerStatus) -> int:
    """libipvs's ipvs_cmp_dests, transcribed field by field."""
    w1, w2 = words(d1.server.address), words(d2.server.address)
    r = 0
    if d1.server.address.version == 6:
        for i in range(4):
            if r:
                break
            r = c_int(w1[i] - w2[i])
    else:
        r = c_int(w1[0] - w2[0])
    return r if r else d1.server.port - d2.server.port


def cmp_services(s1: ServiceStatus, s2: ServiceStatus) -> int:
    """libipvs's ipvs_cmp_services, transcribed field by field."""
    k1, k2 = s1.key, s2.key
    r = c_int(k1.fwmark - k2.fwmark)
    if r:
        return r
    r = int(k1.family) - int(k2.family)
    if r:
        return r
    r = int(k1.protocol) - int(k2.protocol)
    if r:
        return r
    w1, w2 = words(k1.address), words(k2.address)
    if k1.family == Family.INET6:
        for i in range(4):
            if r:
                break
            r = c_int(w1[i] - w2[i])
    else:
        r = c_int(w1[0] - w2[0])
    return r if r else k1.port - k2.port


def ref_msort(items: list[T], cmp: Callable[[T, T], int]) -> list[T]:
    """glibc msort_with_tmp, literally."""
    n = len(items)
    if n <= 1:
        return list(items)
    n1 = n // 2
    b1, b2 = ref_msort(items[:n1], cmp), ref_msort(items[n1:], cmp)
    out: list[T] = []
    while b1 and b2:
        out.append(b1.pop(0) if cmp(b1[0], b2[0]) <= 0 else b2.pop(0))
    return out + b1 + b2


def glibc_sort(items: list[T], cmp: Callable[[T, T], int]) -> list[T] | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL("libc.so.6")
    proto = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)
    )
    libc.qsort.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, proto]
    libc.qsort.restype = None
    arr = (ctypes.c_int * len(items))(*range(len(items)))
    cb = proto(lambda a, b: cmp(items[a[0]], items[b[0]]))
    libc.qsort(arr, len(items), ctypes.sizeof(ctypes.c_int), cb)
    return [items[i] for i in arr]


def dest(addr: str | int, port: int = 80, weight: int = 1) -> ServerStatus:
    return ServerStatus(Server(ipaddress.ip_address(addr), port, weight=weight))


def addrs(servers: list[ServerStatus]) -> list[str]:
    return [f"{s.server.address}:{s.server.port}" for s in servers]


def test_wraparound_examples() -> None:
    # 200.0.0.1 - 10.0.0.1 is >= 2^31: C's int difference is negative.
    assert addrs(sort_servers([dest("10.0.0.1"), dest("200.0.0.1")])) == [
        "200.0.0.1:80",
        "10.0.0.1:80",
    ]
    assert addrs(sort_servers([dest("10.1.2.3"), dest("192.168.1.1")])) == [
        "192.168.1.1:80",
        "10.1.2.3:80",
    ]
    # Close addresses keep the natural order; the port breaks ties.
    assert addrs(sort_servers([dest("10.0.0.2"), dest("10.0.0.1", 81), dest("10.0.0.1", 80)])) == [
        "10.0.0.1:80",
        "10.0.0.1:81",
        "10.0.0.2:80",
    ]
    svcs = [ServiceStatus(Service(ServiceKey.tcp(a, 80))) for a in ("10.0.0.1", "192.168.0.1")]
    assert [str(s.key.address) for s in sort_services(svcs)] == ["192.168.0.1", "10.0.0.1"]


def test_three_private_ranges_rotate() -> None:
    # Fits an arc < 2^31 starting at 172.16/12: a consistent (rotated) order.
    servers = [dest(a) for a in ("10.0.0.1", "192.168.0.1", "172.16.0.1", "10.0.0.0")]
    assert addrs(sort_servers(servers)) == [
        "172.16.0.1:80",
        "192.168.0.1:80",
        "10.0.0.0:80",
        "10.0.0.1:80",
    ]


def test_python_sorted_differs_but_we_match_msort() -> None:
    rng = random.Random(7)
    differs = 0
    for _ in range(200):
        servers = [
            dest(rng.getrandbits(32), rng.choice((80, 443))) for _ in range(rng.randint(3, 12))
        ]
        ours = sort_servers(servers)
        assert ours == ref_msort(servers, cmp_dests)
        if ours != sorted(servers, key=functools.cmp_to_key(cmp_dests)):
            differs += 1
    assert differs > 50


def test_known_input_where_timsort_differs() -> None:
    servers = [dest(a) for a in ("10.0.0.1", "100.0.0.1", "200.0.0.1", "50.0.0.1")]
    ours = addrs(sort_servers(servers))
    timsort = addrs(sorted(servers, key=functools.cmp_to_key(cmp_dests)))
    assert ours == addrs(ref_msort(servers, cmp_dests))
    assert ours != timsort


GENERATORS: dict[str, Callable[[random.Random], str | int]] = {
    "v4-spread": lambda r: r.getrandbits(32),
    "v4-near": lambda r: 0x0A000000 + r.getrandbits(16),
    "v4-top-bytes": lambda r: r.choice((1, 10, 100, 172, 192, 200, 250)) << 24 | r.getrandbits(2),
    "v6-spread": lambda r: ipaddress.IPv6Address(r.getrandbits(128)).exploded,
    "v6-top-word": lambda r: (
        ipaddress.IPv6Address(r.getrandbits(32) << 96 | r.getrandbits(3)).exploded
    ),
    "v6-low-word": lambda r: ipaddress.IPv6Address(0x20010DB8 << 96 | r.getrandbits(32)).exploded,
    "mixed": lambda r: (
        r.getrandbits(32)
        if r.random() < 0.5
        else ipaddress.IPv6Address(r.getrandbits(32) << 96 | r.getrandbits(2)).exploded
    ),
}


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_servers_match_literal_msort_and_glibc(kind: str) -> None:
    rng = random.Random(kind)
    gen = GENERATORS[kind]
    for _ in range(60):
        servers = [
            dest(gen(rng), rng.choice((0, 80, 443)), rng.randint(0, 5))
            for _ in range(rng.randint(0, 40))
        ]
        if servers and rng.random() < 0.3:
            servers.append(servers[0])  # a true tie keeps its input order
        ours = sort_servers(servers)
        assert ours == ref_msort(servers, cmp_dests)
        real = glibc_sort(servers, cmp_dests)
        if real is not None:
            assert ours == real


def random_service(rng: random.Random) -> ServiceStatus:
    kind = rng.random()
    if kind < 0.3:
        fam = rng.choice((Family.INET, Family.INET6))
        return ServiceStatus(
            Service(ServiceKey.fw(rng.choice((1, 2, 7, 0x80000001, 0xFFFFFFFF)), fam))
        )
    proto = Protocol(rng.choice((6, 17, 132)))
    if kind < 0.7:
        addr: str | int = rng.choice((rng.getrandbits(32), 0x0A000000 + rng.getrandbits(4)))
    else:
        addr = ipaddress.IPv6Address(rng.getrandbits(32) << 96 | rng.getrandbits(2)).exploded
    return ServiceStatus(
        Service(ServiceKey.of(proto, ipaddress.ip_address(addr), rng.choice((80, 443))))
    )


def test_services_match_literal_msort_and_glibc() -> None:
    rng = random.Random(3)
    for _ in range(150):
        services = [random_service(rng) for _ in range(rng.randint(0, 30))]
        ours = sort_services(services)
        assert ours == ref_msort(services, cmp_services)
        real = glibc_sort(services, cmp_services)
        if real is not None:
            assert ours == real


def test_services_order_fields() -> None:
    s = [
        ServiceStatus(Service(ServiceKey.fw(2))),
        ServiceStatus(Service(ServiceKey.fw(1, Family.INET6))),
        ServiceStatus(Service(ServiceKey.fw(1))),
        ServiceStatus(Service(ServiceKey.sctp("10.0.0.1", 80))),
        ServiceStatus(Service(ServiceKey.tcp("2001:db8::1", 80))),
        ServiceStatus(Service(ServiceKey.udp("10.0.0.1", 80))),
        ServiceStatus(Service(ServiceKey.tcp("10.0.0.1", 80))),
    ]
    got = [(k.fwmark, int(k.family), int(k.protocol)) for k in (x.key for x in sort_services(s))]
    assert got == [(0, 2, 6), (0, 2, 17), (0, 2, 132), (0, 10, 6), (1, 2, 6), (1, 10, 6), (2, 2, 6)]


def test_large_spread_list_matches_literal_msort() -> None:
    rng = random.Random(11)
    servers = [dest(rng.getrandbits(32), rng.choice((80, 443))) for _ in range(3000)]
    assert sort_servers(servers) == ref_msort(servers, cmp_dests)
    servers6 = [dest(ipaddress.IPv6Address(rng.getrandbits(128)).exploded) for _ in range(1500)]
    assert sort_servers(servers6) == ref_msort(servers6, cmp_dests)


def test_returns_new_list() -> None:
    one = [dest("10.0.0.1")]
    assert sort_servers(one) == one and sort_servers(one) is not one
    assert sort_services([]) == []
