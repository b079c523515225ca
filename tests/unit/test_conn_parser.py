"""Host tests of the connection-table reader (C core via pyipvs.conns).

Fixtures in tests/data/conn/ are written in the kernel's exact formats
(reference §4.2, §4.3); larger tables are generated here with the same
format strings and checked against what was generated.
"""

# printf-style % mirrors the kernel's seq_printf formats being reproduced.
# ruff: noqa: UP031

from __future__ import annotations

import collections
import ipaddress
import os
import random
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pyipvs.conns import (
    Connection,
    ConnFilter,
    ConnState,
    ConnTable,
    GroupBy,
    Grouping,
    Origin,
)
from pyipvs.format import ConnRow
from pyipvs.jsonable import to_jsonable
from pyipvs.model import Family, ServiceKey

DATA = Path(__file__).resolve().parent.parent / "data" / "conn"
IP = ipaddress.ip_address
HEADER = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"


def kaddr(text: str) -> str:
    """An address as the kernel prints it: %08X or the full %pI6 form."""
    ip = IP(text)
    if ip.version == 4:
        return "%08X" % int(ip)
    h = ip.packed.hex()
    return ":".join(h[i : i + 4] for i in range(0, 32, 4))


def kline(c: Connection) -> str:
    tail = f" {c.pe_name} {c.pe_data}" if c.pe_name is not None else ""
    return "%-3s %s %04X %s %04X %s %04X %-11s %7u%s\n" % (
        c.proto, kaddr(str(c.caddr)), c.cport, kaddr(str(c.vaddr)), c.vport,
        kaddr(str(c.daddr)), c.dport, c.state, c.expires, tail)  # fmt: skip


def read(name: str, **kw: object) -> list[Connection]:
    return list(ConnTable(path=str(DATA / name)).connections(**kw))  # type: ignore[arg-type]


def random_conns(n: int, seed: int = 1) -> list[Connection]:
    rnd = random.Random(seed)
    protos = [("TCP", 6), ("UDP", 17), ("SCTP", 132), ("IP", 0), ("IP_50", 50)]
    states = [s.value for s in ConnState]
    out = []
    for _ in range(n):
        v6 = rnd.random() < 0.3
        d6 = rnd.random() < 0.2

        def addr(six: bool) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
            if six:
                return ipaddress.IPv6Address(rnd.getrandbits(128))
            return ipaddress.IPv4Address(rnd.choice([0x0A000000, 0xC0A80100]) + rnd.randrange(64))

        name, num = rnd.choice(protos)
        pe = rnd.random() < 0.1
        out.append(Connection(
            name, num, addr(v6), rnd.randrange(65536), addr(v6), rnd.choice([80, 443, 53]),
            addr(d6), rnd.randrange(65536), rnd.choice(states), rnd.randrange(2**32),
            "sip" if pe else None, ("id%d@h" % rnd.randrange(10**6)) if pe else None))  # fmt: skip
    return out


BIG = random_conns(3000)
BIG_TEXT = (HEADER + "".join(kline(c) for c in BIG)).encode()


def test_ipv4_rows() -> None:
    rows = read("ipv4.txt")
    assert rows[0] == Connection("TCP", 6, IP("10.0.0.2"), 50000, IP("207.175.44.110"), 8080,
                                 IP("172.16.0.2"), 8080, "ESTABLISHED", 899)  # fmt: skip
    assert [(r.proto, r.protocol) for r in rows[4:7]] == [("SCTP", 132), ("ICMP", 1), ("IP_50", 50)]
    assert rows[7].caddr == IP("255.255.255.255") and rows[7].cport == 65535
    assert rows[7].vaddr == IP("0.0.0.0") and rows[7].expires == 0
    assert rows[8].expires == 2**32 - 1
    assert all(r.family == Family.INET and r.origin is None and r.pe_name is None for r in rows)


def test_ipv6_and_mixed_families() -> None:
    rows = read("ipv6.txt")
    assert rows[0].caddr == IP("2001:db8::2") and rows[0].dport == 80
    assert rows[2].proto == "ICMPv6" and rows[2].protocol == 58
    assert rows[3].caddr == IP("::")
    assert rows[3].daddr == IP("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    m = read("mixed.txt")
    assert (m[0].family, m[0].dest_family) == (Family.INET, Family.INET6)
    assert (m[1].family, m[1].dest_family) == (Family.INET6, Family.INET)
    assert m[1].daddr == IP("192.168.1.10")


def test_every_state_and_unknown_text() -> None:
    rows = read("states.txt")
    known = {r.state for r in rows if r.conn_state is not None}
    assert known == {s.value for s in ConnState}
    unknown = [(r.proto, r.protocol, r.state) for r in rows if r.conn_state is None]
    assert unknown == [("TCP", 6, "?"), ("XYZ", None, "WEIRD_STATE")]
    assert [r.protocol for r in rows if r.proto.startswith("IP")] == [0, 99]


def test_templates() -> None:
    rows = read("templates.txt")
    assert [r.fwmark for r in rows] == [7, 7, 1, None, None]
    assert rows[1].state == "ASSURED" and rows[1].conn_state is ConnState.ASSURED
    assert rows[2].vaddr == IP("0:1::") and rows[2].family == Family.INET6
    fw = ConnFilter.service(ServiceKey.fw(7))
    assert [r.daddr for r in ConnTable(path=str(DATA / "templates.txt")).connections(fw)] == [
        IP("192.168.1.10"), IP("192.168.1.11")]  # fmt: skip
    assert len(list(ConnTable(path=str(DATA / "templates.txt")).connections(
        ConnFilter.service(ServiceKey.fw(1, Family.INET6))))) == 1  # fmt: skip


def test_pe_data_and_conn_rows() -> None:
    rows = read("pe.txt")
    assert [(r.pe_name, r.pe_data) for r in rows] == [
        ("sip", "1234abcd@host"), ("sip", ""), ("sip", "a" * 255),
        ("sip", "call id with spaces"), (None, None)]  # fmt: skip
    with ConnTable(path=str(DATA / "pe.txt")).open() as cur:
        crs = list(cur.rows())
    assert crs[0] == ConnRow("UDP", IP("10.0.0.2"), 5060, IP("10.0.0.1"), 5060, IP("192.168.1.10"),
                             5060, "UDP", 299, "sip", "1234abcd@host")  # fmt: skip
    # ipvsadm's sscanf %s: no PE columns for empty data, first word otherwise.
    assert [(r.pe_name, r.pe_data) for r in crs[1:]] == [
        ("sip", None),
        ("sip", "a" * 255),
        ("sip", "call"),
        (None, None),
    ]


def test_sync_table() -> None:
    t = ConnTable(path=str(DATA / "sync.txt"))
    with t.open() as cur:
        rows = list(cur)
        assert cur.counts.header == 2
    assert [r.origin for r in rows] == [Origin.LOCAL, Origin.SYNC, Origin.SYNC, Origin.LOCAL]
    assert [r.expires for r in rows] == [899, 898, 120, 3599]
    assert rows[2].family == Family.INET6 and rows[2].dest_family == Family.INET
    assert [r.cport for r in t.connections(ConnFilter(origin=Origin.SYNC))] == [50001, 53]


def test_malformed_lines_are_counted_and_skipped() -> None:
    with ConnTable(path=str(DATA / "malformed.txt")).open() as cur:
        rows = list(cur)
        c = cur.counts
    assert len(rows) == 2 and rows[0] == rows[1]
    assert (c.rows, c.malformed, c.blank, c.header) == (2, 19, 1, 1)
    assert c.lines == 23 and c.eof


def test_stop_at_blank_like_ipvsadm() -> None:
    with ConnTable(path=str(DATA / "malformed.txt")).open(stop_at_blank=True) as cur:
        assert len(list(cur)) == 1


def test_empty_and_header_only() -> None:
    for name, header in (("empty.txt", 0), ("header_only.txt", 1)):
        with ConnTable(path=str(DATA / name)).open() as cur:
            assert list(cur) == []
            c = cur.counts
        assert (c.rows, c.header, c.eof) == (0, header, True)
        assert (c.bytes_read == 0) == (name == "empty.txt")


def test_headerless_and_unterminated_last_line() -> None:
    line = kline(BIG[0]).rstrip("\n").encode()
    assert list(ConnTable(data=line).connections()) == [BIG[0]]
    assert list(ConnTable(data=line + b"\n" + line).connections()) == [BIG[0], BIG[0]]


def test_address_forms_ipvsadm_also_reads() -> None:
    # Not what the kernel prints, but what ipvsadm's parser takes too.
    text = (
        b"TCP 10.0.0.2 C350 10.0.0.1 0050 2001:db8::10 0050 ESTABLISHED 899\n"
        b"UDP 2001:DB8::2 0035 2001:db8:0:0:0:0:0:1 0035 192.168.1.10 0035 UDP 5\n"
    )
    rows = list(ConnTable(data=text).connections())
    assert [(r.caddr, r.vaddr, r.daddr) for r in rows] == [
        (IP("10.0.0.2"), IP("10.0.0.1"), IP("2001:db8::10")),
        (IP("2001:db8::2"), IP("2001:db8::1"), IP("192.168.1.10")),
    ]


def test_connections_open_late_and_close(tmp_path: Path) -> None:
    path = tmp_path / "ip_vs_conn"
    path.write_bytes(BIG_TEXT)

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = fds()
    it = ConnTable(path=str(path), split=False).connections()
    assert fds() == before  # opened when the first row is taken
    assert next(it) == BIG[0] and fds() == before + 1
    del it  # dropped half-way: closed
    assert fds() == before
    assert list(ConnTable(path=str(path), split=False).connections()) == BIG
    assert fds() == before


def test_connection_as_json_data() -> None:
    c = BIG[0]._replace(origin=Origin.SYNC)
    doc = to_jsonable(c)
    assert list(doc) == list(Connection._fields)
    assert doc["caddr"] == str(c.caddr) and doc["cport"] == c.cport and doc["origin"] == "sync"


def test_generated_round_trip() -> None:
    got = list(ConnTable(data=BIG_TEXT).connections())
    assert got == BIG and all(type(c) is Connection for c in got)
    assert [c._asdict() for c in got] == [c._asdict() for c in BIG]


@pytest.mark.parametrize("max_read", [1, 2, 3, 7, 61, 127, 1000, 4096, 0])
def test_chunk_boundaries(max_read: int) -> None:
    # 2048 is the smallest buffer: lines are carried across every read and
    # every compaction of the buffer.
    text = BIG_TEXT[: 40000 if max_read < 8 else len(BIG_TEXT)]
    want = list(ConnTable(data=text).connections())
    got = list(ConnTable(data=text, bufsize=2048, max_read=max_read).connections())
    assert got == want and len(want) > 100


def test_oversized_line_across_chunks() -> None:
    good = kline(BIG[1]).encode()
    text = good + b"Y" * 5000 + b"\n" + good + b"Z" * 1500 + b" tail\n" + good
    for max_read in (1, 100, 0):
        with ConnTable(data=text, bufsize=2048, max_read=max_read).open() as cur:
            assert list(cur) == [BIG[1]] * 3
            assert cur.counts.malformed == 2


@pytest.mark.parametrize("chunk", [1, 3, 4, 5, 4096])
def test_value_table_emptied_between_chunks(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    # At most 29 values: the C table (csrc/conn_cols.c) is emptied every four
    # rows at most, and Python's copy with it; rows made from earlier chunks,
    # held or made later, keep their own values.
    monkeypatch.setattr("pyipvs._native.conn_cols._MAX_VALUES", 29)
    with ConnTable(data=BIG_TEXT).open(chunk=chunk) as cur:
        got = list(cur)
    assert got == BIG and all(type(c) is Connection for c in got)
    with ConnTable(data=BIG_TEXT).open(chunk=chunk) as cur:
        assert [c for part in cur.chunks() for c in part] == BIG
    with ConnTable(data=BIG_TEXT).open(chunk=chunk) as cur:
        want = list(ConnTable(data=BIG_TEXT).open().rows())
        assert list(cur.rows()) == want


def test_small_chunks_of_rows() -> None:
    with ConnTable(data=BIG_TEXT).open(chunk=7) as cur:
        sizes = [len(c) for c in cur.chunks()]
    assert sum(sizes) == len(BIG) and max(sizes) == 7


def _py_filter(f: ConnFilter, c: Connection) -> bool:
    return ((f.protocol is None or c.protocol == f.protocol)
            and (f.client is None or (c.caddr.version == f.client.version and c.caddr in f.client))
            and (f.vaddr is None or c.vaddr == f.vaddr) and (f.vport is None or c.vport == f.vport)
            and (f.daddr is None or c.daddr == f.daddr) and (f.dport is None or c.dport == f.dport)
            and (not f.states or c.conn_state in f.states))  # fmt: skip


@pytest.mark.parametrize("flt", [
    ConnFilter(protocol=6),
    ConnFilter.service(ServiceKey.tcp(BIG[5].vaddr, BIG[5].vport)),
    ConnFilter.server(BIG[9].daddr, BIG[9].dport),
    ConnFilter.server(BIG[9].daddr),
    ConnFilter.client_in("10.0.0.0/27"),
    ConnFilter.client_in("10.0.0.0/0"),
    ConnFilter.client_in(BIG[3].caddr),
    ConnFilter.in_states(ConnState.ESTABLISHED, ConnState.ASSURED, ConnState.ERR),
    ConnFilter(protocol=17, vport=53, states=frozenset({ConnState.UDP})),
])  # fmt: skip
def test_filters_match_python(flt: ConnFilter) -> None:
    want = [c for c in BIG if _py_filter(flt, c)]
    assert want, "the filter should select something"
    assert list(ConnTable(data=BIG_TEXT).connections(flt)) == want
    assert ConnTable(data=BIG_TEXT).count(flt) == len(want)


def test_summaries_match_python() -> None:
    t = ConnTable(data=BIG_TEXT)
    svc, srv, st, cl, tot = t.summarize(
        Grouping(GroupBy.SERVICE), Grouping(GroupBy.SERVER), Grouping(GroupBy.STATE),
        Grouping(GroupBy.CLIENT, 26, 16), Grouping(GroupBy.TOTAL))  # fmt: skip
    assert tot.total == len(BIG) and tot.counts == {next(iter(tot.counts)): len(BIG)}
    per_service = {(k.protocol, k.vaddr, k.vport): n for k, n in svc.counts.items()}
    assert per_service == collections.Counter((c.protocol, c.vaddr, c.vport) for c in BIG)
    assert {(k.daddr, k.dport): n for k, n in srv.counts.items()} == collections.Counter(
        (c.daddr, c.dport) for c in BIG)  # fmt: skip
    assert {k.state: n for k, n in st.counts.items()} == collections.Counter(
        c.conn_state for c in BIG)  # fmt: skip
    nets = collections.Counter(ipaddress.ip_network((c.caddr, 26 if c.caddr.version == 4 else 16),
                                                    strict=False) for c in BIG)  # fmt: skip
    assert {k.client: n for k, n in cl.counts.items()} == nets
    assert sum(svc.counts.values()) == svc.total == len(BIG) and svc.overflow == 0
    assert svc.most_common(1)[0][1] == max(svc.counts.values())


def test_summary_with_filter_and_group_cap() -> None:
    t = ConnTable(data=BIG_TEXT)
    (s,) = t.summarize(Grouping(GroupBy.CLIENT, max_groups=10), filter=ConnFilter(protocol=6))
    assert len(s.counts) == 10 and s.total == sum(c.protocol == 6 for c in BIG)
    assert sum(s.counts.values()) + s.overflow == s.total and s.overflow > 0
    assert t.per_state()[next(iter(t.per_state()))] > 0
    assert sum(t.per_client_prefix(8, 8).values()) == len(BIG)


def test_unknown_names_in_groups() -> None:
    (s,) = ConnTable(path=str(DATA / "states.txt")).summarize(
        Grouping(GroupBy.PROTOCOL | GroupBy.STATE))  # fmt: skip
    odd = {(k.protocol, k.proto, k.state, k.state_text): n for k, n in s.counts.items()
           if k.state is None or k.protocol is None}  # fmt: skip
    assert odd == {(6, "TCP", None, "?"): 1, (None, "XYZ", None, "WEIRD_STATE"): 1}


def test_open_errors() -> None:
    with pytest.raises(FileNotFoundError):
        ConnTable(path=str(DATA / "missing.txt")).open()
    with pytest.raises(FileNotFoundError):
        ConnTable(path=str(DATA / "ipv4.txt"), netns="/nonexistent/ns").open()
    cur = ConnTable(data=b"").open()
    cur.close()
    with pytest.raises(ValueError, match="closed"):
        list(cur)


def _can_unshare() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return (
        subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0
    )


needs_root = pytest.mark.skipif(not _can_unshare(), reason="needs root and unshare -n")


@needs_root
def test_netns_open_reads_the_target_namespace() -> None:
    # A fixture path is opened inside the namespace too (setns and back).
    assert len(read("ipv4.txt")) == len(list(ConnTable(
        path=str(DATA / "ipv4.txt"), netns="/proc/self/ns/net").connections()))  # fmt: skip
    # /proc/net/dev through the reader: a fresh namespace has only lo, so its
    # file has 3 lines (2 titles) where ours has more.
    proc = subprocess.Popen(["unshare", "-n", "sleep", "30"])
    try:
        ns = f"/proc/{proc.pid}/ns/net"
        deadline = time.monotonic() + 5
        while os.readlink(ns) == os.readlink("/proc/self/ns/net"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with ConnTable(path="/proc/net/dev", netns=ns).open() as cur:
            assert list(cur) == []  # nothing there looks like a row
            assert cur.counts.lines == 3
        with ConnTable(path="/proc/net/dev").open() as cur:
            list(cur)
            assert cur.counts.lines > 3
        # From another thread too: /proc/net would show the main thread's
        # namespace there, the reader goes through /proc/thread-self.
        lines: list[int] = []

        def in_thread() -> None:
            with ConnTable(path="/proc/net/dev", netns=ns).open() as cur:
                list(cur)
                lines.append(cur.counts.lines)

        t = threading.Thread(target=in_thread)
        t.start()
        t.join()
        assert lines == [3]
        assert os.readlink("/proc/thread-self/ns/net") == os.readlink("/proc/self/ns/net")
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("persistent", [False, True])
def test_numeric_listing_matches_python_formatter(persistent: bool) -> None:
    """The C core's -Lnc lines equal pyipvs.format.conn_line's, row for row,
    on every fixture (IPv6, mixed families, PE data, odd states) and on a
    generated table large enough to span several output blocks."""
    from pyipvs.format import conn_line
    from pyipvs.names import NumericResolver

    texts = [p.read_bytes() for p in sorted(DATA.glob("*.txt"))]
    texts.append((HEADER + "".join(kline(c) for c in random_conns(20000, seed=7))).encode())
    for data in texts:
        table = ConnTable(data=data)
        with table.open(stop_at_blank=True) as cur:
            want = "".join(
                conn_line(r, True, persistent, NumericResolver()) + "\n" for r in cur.rows()
            )
        with table.open(stop_at_blank=True) as cur:
            blocks = list(cur.numeric_listing(persistent))
        assert "".join(blocks) == want
        assert all(b.endswith("\n") for b in blocks)
