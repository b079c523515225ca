"""The C listing formatter (csrc/list_fmt.c) against the Python formatters
it reproduces (unit test: tables built here as C arrays; the Python side,
pyipvs.format and pyipvs.sorting, is compared with the real ipvsadm by the
kernel suite's differential tests)."""

from __future__ import annotations

import errno
import random
from typing import Any

import pytest

from pyipvs import _native
from pyipvs._native.convert import _DEST_ROW, _SVC_ROW, server_rows, service_rows
from pyipvs._pyipvs_cffi import ffi
from pyipvs.errors import IPVSError
from pyipvs.format import ListFormat, save_lines, service_lines
from pyipvs.names import NumericResolver
from pyipvs.snapshot import STATS_FIELDS, listing_mode
from pyipvs.sorting import sort_servers, sort_services

AF_INET, AF_INET6 = 2, 10
BIG = (0, 1, 99_999_999, 100_000_000, 999_999_999, 10**9, 10**11 - 1, 10**11, 10**14, 2**64 - 1)
SCHEDULERS = (b"rr", b"wlc", b"sh", b"mh", b"", b"lblcr", b"x" * 15)


class Table:
    """A struct pyipvs_table over arrays kept alive here."""

    def __init__(self, services: list[dict[str, Any]], dests: list[list[dict[str, Any]]]) -> None:
        ns, nd = len(services), sum(len(d) for d in dests)
        self.svc = ffi.new("struct pyipvs_service[]", max(ns, 1))
        self.dst = ffi.new("struct pyipvs_dest[]", max(nd, 1))
        self.start = ffi.new("uint32_t[]", ns + 1)
        k = 0
        for i, (s, ds) in enumerate(zip(services, dests, strict=True)):
            _fill(self.svc[i], s)
            self.start[i] = k
            for d in ds:
                _fill(self.dst[k], d)
                k += 1
        self.start[ns] = k
        self.t = ffi.new("struct pyipvs_table *")
        self.t.services, self.t.nservices = self.svc, ns
        self.t.dests, self.t.ndests = self.dst, nd
        self.t.dest_start = self.start


def _fill(c: Any, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name in ("addr", "sched_name", "pe_name"):
            ffi.memmove(getattr(c, name), value, len(value))
        elif name == "stats":
            for f, v in zip(STATS_FIELDS, value, strict=True):
                setattr(c.stats, f, v)
        else:
            setattr(c, name, value)


def _addr(rng: random.Random, af: int) -> bytes:
    if af == AF_INET6:
        # Known prefixes, and random first words (the leading word wraps too).
        head = rng.choice([b"\x20\x01\x0d\xb8", b"\x00\x00\x00\x00", b"\xfe\x80\x00\x00",
                           rng.randbytes(4)])  # fmt: skip
        tail = rng.choice([bytes(8) + b"\x00\x00\xff\xff", bytes(12), rng.randbytes(12)])
        return head + tail[:8] + rng.randbytes(4) if rng.random() < 0.5 else head + tail
    # Spread over the whole 32-bit space, so the wrapping compare matters.
    return rng.randbytes(4) + bytes(12)


def _stats(rng: random.Random) -> list[int]:
    return [rng.choice(BIG) if rng.random() < 0.3 else rng.randrange(1000) for _ in range(10)]


def _service(rng: random.Random) -> dict[str, Any]:
    af = AF_INET6 if rng.random() < 0.25 else AF_INET
    s: dict[str, Any] = {"af": af, "stats": _stats(rng)}
    if rng.random() < 0.25:
        s["fwmark"] = rng.choice([1, 7, 2**31 - 1, 2**31, 2**32 - 1, rng.randrange(1, 2**32)])
        s["addr"] = bytes(16)
    else:
        s["protocol"] = rng.choice([6, 6, 17, 132, 50])
        s["addr"] = _addr(rng, af)
        s["port"] = rng.choice([0, 80, 443, 65535, rng.randrange(65536)])
    s["sched_name"] = rng.choice(SCHEDULERS)
    s["flags"] = rng.randrange(64) | 2  # HASHED is set in every reply
    s["timeout"] = rng.choice([0, 300, 2**32 - 1])
    if af == AF_INET6:
        s["netmask"] = rng.choice([128, 64, 0, 2**32 - 1])
    else:
        s["netmask"] = rng.choice([0xFFFFFFFF, 0xFFFFFF00, 0, 0x80000000])
    if rng.random() < 0.3:
        s["pe_name"] = rng.choice([b"sip", b"p" * 16, b""])
        s["present"] = 4
    return s


def _dest(rng: random.Random, svc_af: int) -> dict[str, Any]:
    af = svc_af if rng.random() < 0.9 else (AF_INET6 if svc_af == AF_INET else AF_INET)
    return {
        "af": af,
        "addr": _addr(rng, af),
        "port": rng.choice([0, 80, 8080, 65535, rng.randrange(65536)]),
        "fwd_method": rng.randrange(4),
        "weight": rng.choice([0, 1, 100, 65535, -1, 2**31 - 1, -(2**31)]),
        "u_threshold": rng.choice([0, 10, 2**32 - 1]),
        "l_threshold": rng.choice([0, 5, 2**31]),
        "tun_type": rng.randrange(3),
        "tun_port": rng.randrange(65536),
        "tun_flags": rng.randrange(4),
        "active_conns": rng.choice([0, 3, 2**32 - 1]),
        "inact_conns": rng.randrange(100),
        "persist_conns": rng.choice([0, 9, 2**31]),
        "stats": _stats(rng),
    }


def _table(rng: random.Random) -> Table:
    services = [_service(rng) for _ in range(rng.choice([0, 1, 2, 5, 20, 60]))]
    if services and rng.random() < 0.3:  # duplicates of one key: the sort must stay stable
        services.append(dict(services[0], stats=_stats(rng)))
    dests = []
    for s in services:
        n = rng.choice([0, 1, 2, 3, 10, 40])
        ds = [_dest(rng, s["af"]) for _ in range(n)]
        if ds and rng.random() < 0.3:
            ds.append(dict(ds[-1], weight=5))
        dests.append(ds)
    return Table(services, dests)


class Python:
    """What pyipvsadm's model-object path prints for the same table (decoded
    and sorted once, then formatted in every mode)."""

    def __init__(self, tb: Table) -> None:
        t = tb.t
        services = service_rows(ffi.buffer(t.services, t.nservices * _SVC_ROW.size)[:], {}, None)
        dests = ffi.buffer(t.dests, t.ndests * _DEST_ROW.size)[:]
        start = [i * _DEST_ROW.size for i in ffi.unpack(t.dest_start, t.nservices + 1)]
        servers = [
            server_rows(dests[start[i] : start[i + 1]], {}, None) for i in range(len(services))
        ]
        self.kernel = list(zip(services, servers))
        by_id = {id(s): ds for s, ds in self.kernel}  # duplicates may compare equal
        self.sorted = [(s, sort_servers(by_id[id(s)])) for s in sort_services(services)]

    def text(self, fmt: ListFormat, save: bool) -> str:
        resolver = NumericResolver()
        lines: list[str] = []
        for s, ds in self.sorted if save or not fmt.nosort else self.kernel:
            if save:
                lines += save_lines(s, ds, True, resolver)
            else:
                lines += service_lines(s, ds, fmt, resolver)
        return "".join(line + "\n" for line in lines)


MODES = [
    ListFormat(numeric=True),
    ListFormat(numeric=True, nosort=True),
    ListFormat(numeric=True, stats=True),
    ListFormat(numeric=True, stats=True, exact=True),
    ListFormat(numeric=True, rate=True),
    ListFormat(numeric=True, rate=True, exact=True, nosort=True),
    ListFormat(numeric=True, thresholds=True),
    ListFormat(numeric=True, persistent_conn=True),
    ListFormat(numeric=True, tun_info=True),
    ListFormat(numeric=True, thresholds=True, nosort=True),
    ListFormat(numeric=True, persistent_conn=True, exact=True),
    ListFormat(numeric=True, tun_info=True, nosort=True),
    ListFormat(numeric=True, stats=True, exact=True, nosort=True),
    # ipvsadm's precedence when several are given
    ListFormat(numeric=True, stats=True, rate=True, tun_info=True),
    ListFormat(numeric=True, rate=True, thresholds=True, persistent_conn=True),
    ListFormat(numeric=True, thresholds=True, persistent_conn=True, tun_info=True),
    ListFormat(numeric=True, persistent_conn=True, tun_info=True),
]


@pytest.mark.parametrize("seed", range(30))
def test_c_listing_equals_the_python_formatters(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(10):  # 300 tables in all
        tb = _table(rng)
        ref = Python(tb)
        for fmt in MODES:
            got = _native.table_text(tb.t, listing_mode(fmt)).decode("utf-8", "surrogateescape")
            assert got == ref.text(fmt, False), fmt
        got = _native.table_text(tb.t, listing_mode(MODES[0], True)).decode(
            "utf-8", "surrogateescape"
        )
        assert got == ref.text(MODES[0], True)


def test_wrapping_order_of_ipv4_servers() -> None:
    """200.0.0.1 lists before 10.0.0.1: 32-bit differences wrap in ipvsadm's compare."""
    svc = {"af": AF_INET, "protocol": 6, "addr": bytes([10, 0, 0, 1]) + bytes(12), "port": 80}
    ds = [
        {"af": AF_INET, "addr": bytes([a, 0, 0, 1]) + bytes(12), "port": 80, "fwd_method": 3}
        for a in (10, 200)
    ]
    tb = Table([svc], [ds])  # kept: it owns the arrays the struct points into
    text = _native.table_text(tb.t, 0).decode()
    assert text.index("-> 200.0.0.1:80") < text.index("-> 10.0.0.1:80")
    assert text == Python(tb).text(MODES[0], False)


@pytest.mark.parametrize(
    ("where", "field", "value", "what"),
    [
        ("dest", "fwd_method", 4, "Forward 4"),
        ("dest", "tun_type", 3, "TunnelType 3"),
        ("dest", "af", 7, "address family 7"),
        ("service", "af", 3, "Family 3"),
    ],
)
def test_values_the_model_refuses_are_reported_like_the_decoder(
    where: str, field: str, value: int, what: str
) -> None:
    svc = {"af": AF_INET, "protocol": 6, "addr": bytes(16), "port": 80}
    dest = {"af": AF_INET, "addr": bytes(16), "port": 80, "fwd_method": 0}
    (dest if where == "dest" else svc)[field] = value
    tb = Table([svc], [[dest]])
    with pytest.raises(IPVSError) as info:
        _native.table_text(tb.t, 0)
    assert info.value.errno == errno.EINVAL and what in str(info.value)


def test_an_empty_table_is_no_text() -> None:
    tb = Table([], [])
    assert _native.table_text(tb.t, 0) == b""
