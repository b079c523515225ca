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
    from pyipvs._native.convert import _SVC_ROW, service_keys, service_rows

    rows = [
        _SVC_ROW.pack(
            2, 6, bytes([10, 0, 0, 1]) + bytes(12), 80, 0, b"rr", b"", 0, 0, 0, 0, *range(10)
        ),
        _SVC_ROW.pack(10, 17, bytes(15) + b"\x01", 53, 0, b"wlc", b"", 0, 0, 0, 0, *range(10)),
        _SVC_ROW.pack(2, 0, bytes(16), 0, 7, b"sh", b"", 8, 0, 0, 0, *range(10)),
    ]
    memo: dict[object, object] = {}
    for raw in rows:
        assert service_keys(raw, {}, None) == [service_rows(raw, {}, None)[0].service.key]
        assert service_keys(raw, memo, None)[0] is service_rows(raw, memo, None)[0].service.key
    assert service_keys(b"".join(rows), {}, None) == [
        A,
        ServiceKey.udp("::1", 53),
        ServiceKey.fw(7),
    ]


def test_rows_decode_every_field_and_memoise_only_settings() -> None:
    # Rows are read as settings (bytes: the memo's key), then connection
    # counts and counters: distinct values in every place show that each
    # lands in its field, and rows that differ only in counts share the
    # model object of their settings.
    from pyipvs._native.convert import _DEST_ROW, _SVC_ROW, server_rows, service_rows
    from pyipvs.model import Forward, Stats

    head = (2, 6, bytes([10, 0, 0, 1]) + bytes(12), 80, 0, b"wlc", b"", 0x9, 300, 0xFFFFFFFF, 0)
    svc = [_SVC_ROW.pack(*head, *range(1 + k, 11 + k)) for k in (0, 100)]
    memo: dict[object, object] = {}
    a, b = service_rows(b"".join(svc), memo, None)
    assert a.service is b.service and a.raw_flags == b.raw_flags == 0x9
    assert a.service.scheduler == "wlc" and a.service.timeout == 300
    assert (a.stats, b.stats) == (Stats(*range(1, 11)), Stats(*range(101, 111)))
    conf = (2, bytes([10, 1, 0, 1]) + bytes(12), 8080, 0, 7, 50, 5, 0, 0, 0)
    dst = [_DEST_ROW.pack(*conf, 11 + k, 12 + k, 13 + k, *range(20 + k, 30 + k)) for k in (0, 100)]
    c, d = server_rows(b"".join(dst), memo, None)
    assert c.server is d.server and c.server.forward == Forward.MASQ
    assert (c.server.port, c.server.weight, c.server.u_threshold, c.server.l_threshold) == (
        8080,
        7,
        50,
        5,
    )
    assert (c.active_conns, c.inact_conns, c.persist_conns) == (11, 12, 13)
    assert (d.active_conns, d.inact_conns, d.persist_conns) == (111, 112, 113)
    assert (c.stats, d.stats) == (Stats(*range(20, 30)), Stats(*range(120, 130)))
    assert service_rows(b"", memo, None) == [] and server_rows(b"", memo, None) == []


def test_the_mapping_keeps_the_cores_array_it_reads_in_place() -> None:
    # read_table hands LazyServers an ffi.buffer over the table's dests field
    # and the table itself as owner: a buffer over a field does not keep the
    # table (whose destructor frees the array) alive, the owner does.
    import gc

    freed: list[int] = []
    arr = ffi.new("struct pyipvs_dest[]", 1)
    arr[0].af, arr[0].port = 2, 443
    table = ffi.new("struct pyipvs_table *")
    table.dests = arr
    owner = ffi.gc(ffi.cast("struct pyipvs_table *", table), lambda _: freed.append(1))
    m = LazyServers((A,), ffi.buffer(owner.dests, ffi.sizeof(arr)), [0, 1], {}, owner)
    del owner
    gc.collect()
    assert freed == []
    assert m[A][0].server.port == 443
    del m
    gc.collect()
    assert freed == [1]
