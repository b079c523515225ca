"""Connection tables filled by real traffic (issue 6): pyipvsadm's -Lc
listings against the real ipvsadm's, and pyipvs's iterator, native
summaries and live netlink counts against counts computed here,
independently, from ipvsadm -Lnc's text.

One namespace holds a table that stays still while it is compared: UDP
flows (IPv4 and IPv6) with a one-hour UDP timeout, TCP entries made
ESTABLISHED by the clients' SYN and ACK through direct-routing services
(one-hour tcp timeout), a persistent service with its templates, and a
fwmark service whose templates carry the mark. Expiry times still tick,
so they are masked; nothing else is.
"""

from __future__ import annotations

import collections
import io
import ipaddress
import platform
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
import traffic
from conftest import Netns, drop_netns, make_netns

from pyipvs.cli.ipvsadm import main as pyipvsadm
from pyipvs.conns import ConnCursor, ConnFilter, ConnState, ConnTable, GroupBy, Grouping
from pyipvs.conns_live import server_connections

N_UDP4, N_UDP6, N_MARK, N_TCP4, N_TCP6, N_PERSIST = 300, 100, 30, 40, 20, 30


def mask(listing: str) -> list[str]:
    """ipvsadm -Lc lines with the expiry column (after the 3-wide protocol) masked."""
    lines = listing.splitlines()
    return lines[:2] + [line[:4] + "##:##" + line[9:] for line in lines[2:]]


def run_pyipvsadm(ns: Netns, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = pyipvsadm(["ipvsadm", *argv], io.StringIO(), out, err, netns=ns.name)
    return rc, out.getvalue(), err.getvalue()


@dataclass(frozen=True)
class Row:
    """One -Lnc line, parsed here by plain splitting (the independent count)."""

    proto: str
    state: str
    client: str
    virtual: str
    dest: str

    @property
    def template(self) -> bool:
        return self.client.endswith(":0")  # real clients never use port 0


def parse_lnc(text: str) -> list[Row]:
    rows = []
    for line in text.splitlines()[2:]:
        proto, _expire, state, client, virtual, dest = line.split()[:6]
        rows.append(Row(proto, state, client, virtual, dest))
    return rows


def ap(addr: object, port: int | None) -> str:
    a = ipaddress.ip_address(str(addr))
    return (f"[{a}]" if a.version == 6 else str(a)) + f":{port}"


@pytest.fixture(scope="module")
def table() -> Iterator[Netns]:
    ns = make_netns()
    with ExitStack() as stack:
        stack.callback(drop_netns, ns)
        for argv in (
            ["--set", "3600", "120", "3600"],
            ["-A", "-u", "10.0.0.1:53", "-s", "rr"],
            ["-a", "-u", "10.0.0.1:53", "-r", "10.1.0.1:53", "-m"],
            ["-a", "-u", "10.0.0.1:53", "-r", "10.1.0.2:53", "-m"],
            ["-A", "-u", "[2001:db8::1]:53"],
            ["-a", "-u", "[2001:db8::1]:53", "-r", "[2001:db8:1::1]:53", "-m"],
            ["-A", "-f", "7", "-p", "3600"],
            ["-a", "-f", "7", "-r", "10.1.0.4", "-g"],
            ["-A", "-t", "10.0.0.1:80"],
            ["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.5:80", "-g"],
            ["-A", "-t", "[2001:db8::1]:80"],
            ["-a", "-t", "[2001:db8::1]:80", "-r", "[2001:db8:1::5]:80", "-g"],
            ["-A", "-t", "10.0.0.2:80", "-p", "3600"],
            ["-a", "-t", "10.0.0.2:80", "-r", "10.1.0.3:80", "-g"],
        ):
            r = ns.ipvsadm(*argv)
            assert r.returncode == 0, (argv, r.stderr)
        assert traffic.udp_flows(ns, "10.0.0.1", 53, N_UDP4, ports_per_addr=50) == N_UDP4
        assert traffic.udp_flows(ns, "2001:db8::1", 53, N_UDP6, ports_per_addr=50) == N_UDP6
        assert traffic.udp_flows(ns, "10.0.0.3", 5000, N_MARK, mark=7, ports_per_addr=10,
                                 src="10.201.0.1") == N_MARK  # fmt: skip
        # TCP through direct-routing services: the client's SYN and ACK make
        # the entries ESTABLISHED (the answers would bypass the director).
        assert traffic.tcp_established(ns, "10.0.0.1", 80, N_TCP4, ports_per_addr=20,
                                       sport=20000) == N_TCP4  # fmt: skip
        assert traffic.tcp_established(ns, "2001:db8::1", 80, N_TCP6, ports_per_addr=20,
                                       sport=20000) == N_TCP6  # fmt: skip
        assert traffic.tcp_established(ns, "10.0.0.2", 80, N_PERSIST, ports_per_addr=10,
                                       sport=30000, src="10.200.1.1") == N_PERSIST  # fmt: skip
        yield ns


EXPECTED_ROWS = N_UDP4 + N_UDP6 + N_MARK + 3 + N_TCP4 + N_TCP6 + N_PERSIST + 3


def test_table_is_what_the_traffic_made(table: Netns) -> None:
    rows = parse_lnc(table.ipvsadm_out("-Lnc"))
    assert len(rows) == EXPECTED_ROWS
    # A TCP template turns ASSURED once a connection under it is established
    # (seen on 6.12); kernels without that state keep NONE.
    kinds = collections.Counter(
        (r.proto, "NONE" if r.template and r.state == "ASSURED" else r.state, r.template)
        for r in rows
    )
    assert kinds == {
        ("UDP", "UDP", False): N_UDP4 + N_UDP6 + N_MARK,
        ("IP", "NONE", True): 3,  # fwmark templates: 10.201.0.1-3, mark 7
        ("TCP", "ESTABLISHED", False): N_TCP4 + N_TCP6 + N_PERSIST,
        ("TCP", "NONE", True): 3,  # persistence templates: 10.200.1.1-3
    }
    assert {r.virtual for r in rows if r.proto == "IP"} == {"0.0.0.7:0"}


@pytest.mark.parametrize(
    "argv",
    [("-Lnc",), ("-Lc",), ("-L", "-c", "-n", "--persistent-conn"), ("-Lc", "--persistent-conn")],
)
def test_listing_identical_to_ipvsadm(table: Netns, argv: tuple[str, ...]) -> None:
    want = table.ipvsadm(*argv)
    rc, out, err = run_pyipvsadm(table, *argv)
    assert (rc, err) == (want.returncode, want.stderr)
    assert mask(out) == mask(want.stdout)
    assert len(out.splitlines()) == EXPECTED_ROWS + 2


def test_iterator_agrees_with_ipvsadm(table: Netns) -> None:
    want = collections.Counter(parse_lnc(table.ipvsadm_out("-Lnc")))
    got = collections.Counter(
        Row(c.proto, c.state, ap(c.caddr, c.cport), ap(c.vaddr, c.vport), ap(c.daddr, c.dport))
        for c in ConnTable(netns=table.path).connections()
    )
    assert got == want


def test_native_summaries_equal_independent_counts(table: Netns) -> None:
    rows = parse_lnc(table.ipvsadm_out("-Lnc"))
    t = ConnTable(netns=table.path)
    by_service, by_server, by_state, by_client = t.summarize(
        Grouping(GroupBy.SERVICE), Grouping(GroupBy.SERVER), Grouping(GroupBy.STATE),
        Grouping(GroupBy.CLIENT, 24, 64),
    )  # fmt: skip
    assert by_service.total == len(rows)
    assert {(k.proto, ap(k.vaddr, k.vport)): n for k, n in by_service.counts.items()} == (
        collections.Counter((r.proto, r.virtual) for r in rows)
    )
    assert {ap(k.daddr, k.dport): n for k, n in by_server.counts.items()} == (
        collections.Counter(r.dest for r in rows)
    )
    assert {k.state_text: n for k, n in by_state.counts.items()} == (
        collections.Counter(r.state for r in rows)
    )

    def prefix(client: str) -> str:
        host = client.rsplit(":", 1)[0].strip("[]")
        bits = 64 if ":" in host else 24
        return str(ipaddress.ip_network(f"{host}/{bits}", strict=False))

    assert {str(k.client): n for k, n in by_client.counts.items()} == (
        collections.Counter(prefix(r.client) for r in rows)
    )


def test_native_filters_equal_independent_counts(table: Netns) -> None:
    rows = parse_lnc(table.ipvsadm_out("-Lnc"))
    t = ConnTable(netns=table.path)
    from pyipvs.model import ServiceKey

    cases = [
        (ConnFilter(protocol=17), lambda r: r.proto == "UDP"),
        (ConnFilter.service(ServiceKey.udp("10.0.0.1", 53)), lambda r: r.virtual == "10.0.0.1:53"
         and r.proto == "UDP"),
        (ConnFilter.service(ServiceKey.fw(7)), lambda r: r.proto == "IP"),
        (ConnFilter.server("10.1.0.2", 53), lambda r: r.dest == "10.1.0.2:53"),
        (ConnFilter.client_in("10.200.0.0/30"),
         lambda r: r.client.split(":")[0] in ("10.200.0.1", "10.200.0.2", "10.200.0.3")),
        (ConnFilter.client_in("2001:db8:c8::/64"), lambda r: r.client.startswith("[2001:db8:c8:")),
        (ConnFilter.in_states(ConnState.ESTABLISHED), lambda r: r.state == "ESTABLISHED"),
    ]  # fmt: skip
    for flt, pred in cases:
        want = sum(1 for r in rows if pred(r))
        assert want > 0, flt
        assert t.count(flt) == want, flt
        assert sum(1 for _ in t.connections(flt)) == want, flt


def test_live_server_counts_match_the_table(table: Netns) -> None:
    """The netlink counters (the cheap source) agree with the table itself."""
    rows = parse_lnc(table.ipvsadm_out("-Lnc"))
    conns = collections.Counter(r.dest.rsplit(":", 1)[0] for r in rows if not r.template)
    temps = collections.Counter(r.dest.rsplit(":", 1)[0] for r in rows if r.template)
    established = collections.Counter(
        r.dest.rsplit(":", 1)[0] for r in rows if r.state == "ESTABLISHED"
    )
    live = server_connections(table.name)
    assert len(live) == 7
    for s in live:
        host = f"[{s.address}]" if s.address.version == 6 else str(s.address)
        assert s.active + s.inactive == conns[host], s
        assert s.persistent == temps[host], s
        assert s.active == established[host], s


def test_short_lived_states(netns: Netns) -> None:
    """Bare SYNs (SYN_RECV, one minute) next to ESTABLISHED entries of the
    default 15 minutes: the iterator and ipvsadm must agree on one reading
    (retried if a timer moved an entry between the two reads)."""
    netns.ipvsadm("-A", "-t", "10.0.0.1:80")
    netns.ipvsadm("-a", "-t", "10.0.0.1:80", "-r", "10.1.0.8:80", "-g")
    netns.ipvsadm("-A", "-t", "10.0.0.5:80")
    netns.ipvsadm("-a", "-t", "10.0.0.5:80", "-r", "10.1.0.9:80", "-m")
    assert traffic.tcp_established(netns, "10.0.0.1", 80, 30, ports_per_addr=10) == 30
    assert traffic.tcp_syns(netns, "10.0.0.5", 80, 25, ports_per_addr=5) == 25
    for _attempt in range(3):
        want = parse_lnc(netns.ipvsadm_out("-Lnc"))
        got = [
            Row(c.proto, c.state, ap(c.caddr, c.cport), ap(c.vaddr, c.vport),
                ap(c.daddr, c.dport))
            for c in ConnTable(netns=netns.path).connections()
        ]  # fmt: skip
        if collections.Counter(got) == collections.Counter(want):
            break
    assert collections.Counter(got) == collections.Counter(want)
    states = collections.Counter(r.state for r in want)
    assert states == {"SYN_RECV": 25, "ESTABLISHED": 30}, states


def test_pyipvs_conns_subcommand(table: Netns) -> None:
    """`pyipvs conns` on the live table: counts, summaries (file and netlink)
    and the JSON listing agree with ipvsadm's text."""
    import json

    from pyipvs.cli.pyipvs import main as pyipvs_main

    def conns(*argv: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        rc = pyipvs_main(["pyipvs", "--netns", table.name, "conns", *argv], io.StringIO(), out,
                         err)  # fmt: skip
        assert (rc, err.getvalue()) == (0, ""), argv
        return out.getvalue()

    rows = parse_lnc(table.ipvsadm_out("-Lnc"))
    assert conns("--count") == f"{len(rows)}\n"
    assert conns("--count", "--protocol", "tcp", "--state", "established") == (
        f"{sum(r.state == 'ESTABLISHED' for r in rows)}\n"
    )
    doc = json.loads(conns("--by", "server", "--json"))
    assert {g["server"]: g["count"] for g in doc["groups"]} == (
        collections.Counter(r.dest for r in rows)
    )
    listing = [json.loads(x) for x in conns("--json", "--client", "2001:db8:c8::/64").splitlines()]
    assert len(listing) == sum(r.client.startswith("[2001:db8:c8:") for r in rows)
    live = json.loads(conns("--by", "server", "--live", "--json"))
    assert sum(s["active"] + s["inactive"] for s in live) == sum(not r.template for r in rows)


def test_split_reader_reads_the_same_rows(table: Netns) -> None:
    """The second reading thread (csrc/conn_split.c) on the real /proc file
    of another namespace, on this small table (the first read waits for the
    helper's claim, else the reader would race through the table before the
    helper has probed its size): the same rows in the same order as one
    thread reads, in the listing, the iterator and the summaries."""
    from pyipvs import _native

    def cursor(split: bool) -> ConnCursor:
        return ConnCursor(_native.ConnReader.open(
            netns=table.path, split=split, split_min=4096, split_wait=True, split_always=True,
            bufsize=2048, max_read=1024))  # fmt: skip

    def masked(cur: ConnCursor) -> list[str]:  # the expiry column ticks
        return [ln[:4] + "##:##" + ln[9:] for ln in "".join(cur.numeric_listing()).splitlines()]

    def rows(cur: ConnCursor) -> list[tuple[object, ...]]:
        return [(c.proto, c.caddr, c.cport, c.daddr, c.state) for c in cur]

    for read in (masked, rows):
        with cursor(False) as cur:
            want = read(cur)
        assert len(want) == EXPECTED_ROWS
        with cursor(True) as cur:
            assert read(cur) == want
            assert cur.counts.split_at > 0
    spec = [(int(GroupBy.SERVER), 32, 128, 0), (int(GroupBy.CLIENT), 24, 64, 0)]
    with cursor(False) as cur:
        want_groups = [sorted(g, key=repr) for g, _, _ in cur._reader.scan(spec)]
    with cursor(True) as cur:  # the helper counts its rows itself
        assert [sorted(g, key=repr) for g, _, _ in cur._reader.scan(spec)] == want_groups
        assert cur.counts.split_at > 0 and cur.counts.rows == EXPECTED_ROWS


def _release() -> tuple[int, int]:
    major, minor = platform.release().split(".")[:2]
    return int(major), int(minor)


def test_helper_splits_only_where_reads_walk(netns: Netns) -> None:
    """Without the test hooks that force it, the helper first times page
    reads at split_min (1 MiB) against reads at the start, to see whether
    every read walks the table from its first entry; kernels before about
    6.14 do (Debian's 6.1 and 6.12 here), later ones resume where the last
    read stopped, and there a second thread would only repeat the reader's
    work. A ratio of 3 or more is a walk, 1.5 or less none; in between (a
    loaded machine) the release decides. So this fails only if the timing
    is wrong by a wide margin. The first read waits for the helper's
    decision (split_wait), so the decision, not a race, is what is checked."""
    from pyipvs import _native

    for argv in (["--set", "0", "0", "3600"], ["-A", "-u", "10.0.0.1:53", "-s", "rr"],
                 ["-a", "-u", "10.0.0.1:53", "-r", "10.1.0.1:53", "-m"]):  # fmt: skip
        assert netns.ipvsadm(*argv).returncode == 0
    n = 24000  # about 1.6 MB of text
    assert traffic.udp_flows(netns, "10.0.0.1", 53, n, ports_per_addr=1000) == n
    walks = _release() < (6, 14)
    for _ in range(2):
        r = _native.ConnReader.open(netns=netns.path, split=True, split_wait=True)
        with ConnCursor(r) as cur:
            assert sum(1 for _ in cur) == n
            assert (cur.counts.split_at > 0) == walks, (platform.release(), cur.counts)
            assert cur.counts.walk_ratio > 0, cur.counts
