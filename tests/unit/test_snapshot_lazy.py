"""The lazily decoded server mapping of a snapshot, over a C array built
here (unit test: the bridge's decoding only; real reads are kernel tests)."""

from __future__ import annotations

import ipaddress

import pytest

from pyipvs._native.snapshot import LazyServers
from pyipvs._pyipvs_cffi import ffi
from pyipvs.model import Forward, ServiceKey, Stats

A = ServiceKey.tcp("10.0.0.1", 80)
B = ServiceKey.udp("10.0.0.2", 53)
C = ServiceKey.fw(4)


def make(cache: dict[object, object] | None = None, outbps: int = 9) -> LazyServers:
    arr = ffi.new("struct pyipvs_dest[]", 3)
    for i in range(3):
        d = arr[i]
        d.af = 2
        ffi.memmove(d.addr, bytes([10, 1, 0, i + 1]), 4)
        d.port = 80 + i
        d.fwd_method = int(Forward.MASQ)
        d.weight = i
        d.active_conns = 7 * i
        d.stats.conns = 100 + i
        d.stats.outbps = outbps
    # A has servers 0 and 1, B none, C server 2.
    return LazyServers(
        (A, B, C), bytes(ffi.buffer(arr)), [0, 2, 2, 3], {} if cache is None else cache
    )


def test_lazy_servers_mapping() -> None:
    m = make()
    assert list(m) == [A, B, C] and len(m) == 3 and B in m
    a = m[A]
    assert [s.server.address for s in a] == [
        ipaddress.ip_address("10.1.0.1"),
        ipaddress.ip_address("10.1.0.2"),
    ]
    assert [s.server.port for s in a] == [80, 81] and a[1].active_conns == 7
    assert a[1].stats == Stats(101, outbps=9) and a[0].server.forward == Forward.MASQ
    assert m[A] is a  # decoded once
    assert m[B] == ()
    assert m[C][0].server.weight == 2
    assert m.get(ServiceKey.fw(9)) is None
    with pytest.raises(KeyError):
        m[ServiceKey.fw(9)]
    assert dict(m.items())[C] == m[C]


def test_a_shared_memo_reuses_settings_and_never_counters() -> None:
    """A snapshot reuses the decoded objects of its IPVS's previous read
    (convert._Cache): the same Server objects, new counters."""
    memo: dict[object, object] = {}
    first = make(memo)[A]
    second = make(memo, outbps=5)[A]
    assert [s.server for s in second] == [s.server for s in first]
    assert all(a.server is b.server for a, b in zip(first, second, strict=True))
    assert second[1].stats == Stats(101, outbps=5) and first[1].stats == Stats(101, outbps=9)
    assert make({})[A] == first  # a fresh memo decodes the same values


def test_the_memo_is_emptied_when_it_outgrows_the_table() -> None:
    from pyipvs._native.snapshot import _fit

    memo: dict[object, object] = {i: i for i in range(4 * 100 + 4096)}
    assert len(_fit(memo, 100)) == 4 * 100 + 4096  # still within bounds
    memo[-1] = -1
    assert _fit(memo, 100) == {}


def test_the_counters_view_keys_match_the_snapshot_keys() -> None:
    from pyipvs._native.convert import _SVC_ROW, _service_key, _service_row

    rows = [
        _SVC_ROW.pack(
            2, 6, bytes([10, 0, 0, 1]) + bytes(12), 80, 0, b"rr", b"", 0, 0, 0, 0, *range(10)
        ),
        _SVC_ROW.pack(10, 17, bytes(15) + b"\x01", 53, 0, b"wlc", b"", 0, 0, 0, 0, *range(10)),
        _SVC_ROW.pack(2, 0, bytes(16), 0, 7, b"sh", b"", 8, 0, 0, 0, *range(10)),
    ]
    memo: dict[object, object] = {}
    for raw in rows:
        row = _SVC_ROW.unpack(raw)
        assert _service_key(row, {}, None) == _service_row(row, {}, None).service.key
        assert _service_key(row, memo, None) is _service_row(row, memo, None).service.key
    assert [_service_key(_SVC_ROW.unpack(r), {}, None) for r in rows] == [
        A,
        ServiceKey.udp("::1", 53),
        ServiceKey.fw(7),
    ]
