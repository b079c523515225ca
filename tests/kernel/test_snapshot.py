"""Whole-table snapshots against a real IPVS kernel (kernel tests: run
through ci/vm-run.sh): agreement with the per-service library reads and with
ipvsadm 1.31's own numbers under real traffic, rates from counter deltas,
pyipvsadm's listings of a table with live counters, and consistency while
another thread keeps changing the table.
"""

from __future__ import annotations

import io
import ipaddress
import itertools
import pickle
import random
import threading
import time
from collections.abc import Callable

import pytest
import traffic
from conftest import Netns

from pyipvs import (
    IPVS,
    Family,
    Forward,
    IPVSError,
    IPVSValueError,
    Protocol,
    Server,
    ServerStatus,
    Service,
    ServiceFlag,
    ServiceKey,
    Stats,
    TunnelFlag,
    TunnelType,
    _native,
)
from pyipvs.cli.ipvsadm.main import main as pyipvsadm_main
from pyipvs.snapshot import (
    Counters,
    Snapshot,
    SnapshotInconsistentError,
    poll,
    rates,
    take,
    take_counters,
)

ip = ipaddress.ip_address

WEB = ServiceKey.tcp("10.9.0.1", 80)
DNS = ServiceKey.udp("10.9.0.1", 53)
MARK = ServiceKey.fw(7)
V6 = ServiceKey.udp("2001:db8::100", 53)
IDLE = ServiceKey.tcp("10.9.0.2", 443)
WEB_SERVERS = [("10.0.1.1", 8080), ("10.0.1.2", 8080), ("10.0.1.3", 8080)]


def build_traffic_table(ipvs: IPVS, ns: Netns) -> None:
    """Services whose servers sit behind dummy0 (packets are counted, then
    dropped there: only the inbound counters move)."""
    ipvs.add_service(Service(WEB, "rr"))
    for addr, port in WEB_SERVERS:
        ipvs.add_server(WEB, Server(ip(addr), port, Forward.MASQ, weight=1))
    ipvs.add_service(Service(DNS, "wlc", ServiceFlag.PERSISTENT, 60))
    ipvs.add_server(DNS, Server(ip("10.0.2.1"), 53, Forward.ROUTE, 5, 100, 10))
    ipvs.add_server(DNS, Server(ip("10.0.2.2"), 53, Forward.ROUTE, 0))
    ipvs.add_service(Service(MARK, "sh"))
    ipvs.add_server(MARK, Server(ip("10.0.3.1"), 0, Forward.ROUTE))
    ipvs.add_server(
        MARK,
        Server(ip("10.0.3.2"), 0, Forward.TUNNEL, 2, 0, 0, TunnelType.GUE, 6080, TunnelFlag.CSUM),
    )
    ipvs.add_service(Service(V6, "rr"))
    ipvs.add_server(V6, Server(ip("2001:db8::200"), 53, Forward.ROUTE))
    ipvs.add_service(Service(IDLE, "wrr"))
    ipvs.add_server(IDLE, Server(ip("10.0.4.1"), 443, Forward.ROUTE, 3))


def send_traffic(ns: Netns, conns: int, dgrams: int, sport: int = 10000) -> None:
    """Real packets through IPVS: `conns` TCP SYNs (one new connection
    each) and `dgrams` UDP datagrams to each other service. Locally
    originated handshakes through a masquerading service to a local
    listener did not complete in this VM (the SYNs are counted, no reply
    ever is), so only inbound counters are exercised. A new `sport` makes
    new flows: a SYN of a flow IPVS already tracks is no new connection."""
    assert traffic.tcp_syns(ns, str(WEB.address), 80, conns, src="10.200.0.1", sport=sport) == conns
    traffic.udp_flows(ns, str(DNS.address), 53, dgrams, src="10.200.1.1", sport=sport)
    traffic.udp_flows(ns, "10.9.0.3", 9, dgrams, src="10.200.2.1", mark=7, sport=sport)
    traffic.udp_flows(ns, str(V6.address), 53, dgrams, src="2001:db8:c8::1", sport=sport)


def wait_for(ipvs: IPVS, ready: Callable[[Snapshot], bool], timeout: float = 15.0) -> Snapshot:
    """The first snapshot for which ready() holds (counters move every 2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        snap = ipvs.snapshot()
        if ready(snap):
            return snap
        assert time.monotonic() < deadline, "counters never reached the expected values"
        time.sleep(0.3)


def stats(snap: Snapshot, key: ServiceKey) -> Stats:
    status = snap.status(key)
    assert status is not None, key
    return status.stats


def settled(conns: int, dgrams: int) -> Callable[[Snapshot], bool]:
    """All the traffic sent so far is in every counter of the table."""

    def ready(s: Snapshot) -> bool:
        ok = stats(s, WEB).conns == conns
        ok = ok and sum(x.stats.conns for x in s.servers_of(WEB)) == conns
        for key in (DNS, MARK, V6):
            ok = ok and stats(s, key).inpkts == dgrams
            ok = ok and sum(x.stats.inpkts for x in s.servers_of(key)) == dgrams
        return ok

    return ready


def counters_of(snap: Snapshot) -> list[object]:
    return [(s.stats, [v.stats for v in servers]) for s, servers in snap.items()]


def stable(ipvs: IPVS, read: Callable[[], str]) -> tuple[Snapshot, str]:
    """A snapshot and an ipvsadm text taken with no estimator tick between
    them (the same counters before and after the text)."""
    for _ in range(8):
        a = ipvs.snapshot()
        text = read()
        b = ipvs.snapshot()
        if counters_of(a) == counters_of(b):
            return b, text
        time.sleep(0.2)
    raise AssertionError("counters kept moving")


def service_label(key: ServiceKey) -> tuple[str, str]:
    if key.is_fwmark:
        return "FWM", str(key.fwmark)
    return Protocol(key.protocol).name, endpoint(key.address, key.port)


def endpoint(address: object, port: int) -> str:
    a = ipaddress.ip_address(address)  # type: ignore[arg-type]
    return f"[{a}]:{port}" if a.version == 6 else f"{a}:{port}"


def parse_numbers(text: str) -> dict[tuple[str, ...], list[int]]:
    """ipvsadm -Ln --stats/--rate --exact: numbers per service and server line."""
    out: dict[tuple[str, ...], list[int]] = {}
    current: tuple[str, str] | None = None
    for line in text.splitlines()[3:]:
        words = line.split()
        if words[0] == "->":
            assert current is not None
            out[(*current, words[1])] = [int(w) for w in words[2:]]
        else:
            current = (words[0], words[1])
            out[current] = [int(w) for w in words[2:]]
    return out


def snapshot_numbers(snap: Snapshot, fields: tuple[str, ...]) -> dict[tuple[str, ...], list[int]]:
    out: dict[tuple[str, ...], list[int]] = {}
    for status, servers in snap.items():
        label = service_label(status.key)
        out[label] = [getattr(status.stats, f) for f in fields]
        for s in servers:
            out[(*label, endpoint(s.server.address, s.server.port))] = [
                getattr(s.stats, f) for f in fields
            ]
    return out


COUNTERS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
RATES = ("cps", "inpps", "outpps", "inbps", "outbps")


def pyipvsadm(ns: Netns, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = pyipvsadm_main(["ipvsadm", *args], io.StringIO(), out, err, netns=ns.path)
    return rc, out.getvalue(), err.getvalue()


# --- tests -------------------------------------------------------------------


def test_snapshot_equals_per_service_reads(netns: Netns) -> None:
    with IPVS(netns.path) as ipvs:
        build_traffic_table(ipvs, netns)
        snap = ipvs.snapshot()
        assert snap.attempts == 1
        assert list(snap.services) == ipvs.services()
        assert snap.status(DNS) == ipvs.service(DNS) and snap.status(BIG) is None
        for status in snap.services:
            assert list(snap.servers_of(status.key)) == ipvs.servers(status.key)
        assert len(snap) == 5 and snap.server_count() == 9
        assert snap.servers_of(ServiceKey.tcp("10.77.0.1", 1)) == ()
        tunnel = [s for s in snap.servers_of(MARK) if s.server.forward == Forward.TUNNEL]
        assert tunnel[0].server.tun_type == TunnelType.GUE
        assert tunnel[0].server.tun_port == 6080
        # An empty table is a snapshot too.
        ipvs.flush()
        empty = take(ipvs)
        assert empty.services == () and dict(empty.servers) == {}


def test_dump_chunks_follow_the_tables_shape(netns: Netns) -> None:
    # csrc/snapshot.c (read_dests): a service's servers are first asked for
    # on the socket that receives small chunks; a dump that overflows one
    # moves the next services to the main socket, and one that would have
    # fit moves them back. Whatever the shape, the read is what per-service
    # reads give.
    def fill(ipvs: IPVS, counts: list[int]) -> None:
        ipvs.flush()
        with ipvs.batch() as b:
            for i, n in enumerate(counts):
                key = ServiceKey.tcp(f"10.90.{i // 250}.{i % 250 + 1}", 80)
                b.add_service(Service(key, "wrr"))
                for j in range(n):
                    b.add_server(key, Server(ip(f"10.91.{j // 250}.{j % 250 + 1}"), 8080 + i))

    def requests(ipvs: IPVS, threads: int = 1, readers: int = 1) -> int:
        read = ipvs._call(lambda h: _native.read_table(h, 0, threads=threads))
        assert read is not None and read.readers == readers
        return read.requests

    with IPVS(netns.path) as ipvs:
        fill(ipvs, [3] * 40)  # each fits one small chunk: one request each
        assert requests(ipvs) == 40
        assert requests(ipvs, threads=2, readers=2) == 40
        fill(ipvs, [60] * 10)  # one small try, then the main socket (one chunk each)
        assert requests(ipvs) == 11
        assert requests(ipvs, threads=2, readers=1) == 11  # too few services for a helper
        fill(ipvs, [200] * 3)  # one small try, then two main-socket reads each (resumed dumps)
        assert requests(ipvs) == 7
        counts = [3, 0, 60, 3, 200, 11, 3, 60, 60, 1, 12, 3, 90, 0, 3] * 3
        overflows = {}  # servers -> their dump overflows a small chunk (11 fits, 12 not, on 6.1)
        for n in set(counts):
            fill(ipvs, [n])
            overflows[n] = requests(ipvs) > 1
        assert overflows[11] != overflows[60]
        fill(ipvs, counts)
        snap = ipvs.snapshot()
        assert snap.attempts == 1
        assert list(snap.services) == ipvs.services()
        assert sorted(len(snap.servers_of(s.key)) for s in snap.services) == sorted(counts)
        for status in snap.services:
            assert list(snap.servers_of(status.key)) == ipvs.servers(status.key)
        # Two readers (45 services: the helper thread reads the second half
        # on sockets of its own, which follow the shape the same way) read
        # the same table.
        two = take(ipvs, threads=2)
        assert two.attempts == 1 and list(two.services) == list(snap.services)
        for status in snap.services:
            assert two.servers_of(status.key) == snap.servers_of(status.key)
        # The helper starts on its small socket. One reader that reaches the
        # middle on the main socket (the service before overflowed a small
        # chunk) saves the helper's small try when the one there overflows
        # too. Which services meet there is the kernel's dump order: a hash
        # that mixes in the address of the namespace's IPVS state.
        size = [len(snap.servers_of(s.key)) for s in snap.services]
        mid = len(size) // 2
        extra = int(overflows[size[mid - 1]] and overflows[size[mid]])
        assert requests(ipvs, threads=2, readers=2) == requests(ipvs) + extra
        # And the listings the core formats from a two-reader read are ipvsadm's.
        for args in (["-Ln"], ["-Sn"], ["-Ln", "--stats", "--exact"]):
            rc, out, err = pyipvsadm(netns, *args)
            assert (rc, out, err) == (0, netns.ipvsadm_out(*args), ""), args
        with pytest.raises(ValueError, match="threads must be 1 or 2"):
            take(ipvs, threads=3)


def test_a_poll_starts_from_the_last_reads_service_list(netns: Netns) -> None:
    # csrc/snapshot.c: a read takes the list the handle's last read ended
    # with as its first one (one service dump instead of two), forgets it
    # when the handle sends a change, and starts over, as a first read would,
    # when someone else changed the table in between; after such a miss it
    # does without the list for one read (then 3, 7 ... after further misses).
    def read(ipvs: IPVS) -> tuple[int, int, list[ServiceKey]]:
        r = ipvs._call(lambda h: _native.read_table(h, 0))
        assert r is not None
        return r.service_dumps, r.attempts, [s.service.key for s in r.services]

    with IPVS(netns.path) as ipvs, IPVS(netns.path) as other:
        ipvs.add_service(Service(WEB, "rr"))
        ipvs.add_server(WEB, Server(ip("10.0.1.1"), 8080))
        assert read(ipvs) == (2, 1, [WEB])  # a first read
        assert read(ipvs) == (1, 1, [WEB])
        ipvs.add_service(Service(DNS, "rr"))  # sent on this handle: forgotten
        dumps, attempts, keys = read(ipvs)
        assert (dumps, attempts, set(keys)) == (2, 1, {WEB, DNS})
        assert read(ipvs)[0] == 1

        other.add_service(Service(IDLE, "wlc"))  # the kept list misses IDLE
        dumps, attempts, keys = read(ipvs)
        assert (dumps, attempts, set(keys)) == (3, 1, {WEB, DNS, IDLE})
        assert read(ipvs)[0] == 2  # one read without it after a miss
        assert read(ipvs)[0] == 1

        other.delete_service(DNS)  # its server dump fails: a miss too
        dumps, attempts, keys = read(ipvs)
        assert (dumps, attempts, set(keys)) == (3, 1, {WEB, IDLE})
        assert [read(ipvs)[0] for _ in range(2)] == [2, 1]

        other.edit_service(Service(WEB, "wlc"))  # settings count, not only keys
        assert read(ipvs)[0] == 3
        assert ipvs.snapshot().status(WEB).service.scheduler == "wlc"  # type: ignore[union-attr]

        # A streamed batch changes the table on a socket of its own; the
        # IPVS that ran it forgets its list all the same.
        assert [read(ipvs)[0] for _ in range(8)][-1] == 1  # past the backoff
        with ipvs.batch(stream=True) as b:
            b.add_service(Service(DNS, "rr"))
        dumps, attempts, keys = read(ipvs)
        assert (dumps, attempts, set(keys)) == (2, 1, {WEB, IDLE, DNS})


def test_counters_reuse_keys_while_the_service_list_stays(netns: Netns) -> None:
    # pyipvs/_native/snapshot.py (_keys): a counters read reuses the last
    # one's key tuple while the core's list serial stays, and only then.
    with IPVS(netns.path) as ipvs, IPVS(netns.path) as other:
        ipvs.add_service(Service(WEB, "rr"))
        ipvs.add_service(Service(DNS, "rr"))
        first = take_counters(ipvs)
        second = take_counters(ipvs)
        assert second.keys is first.keys and set(first.keys) == {WEB, DNS}
        take(ipvs)  # another kind of read in between keeps the serial
        assert take_counters(ipvs).keys is first.keys
        other.edit_service(Service(WEB, "wlc"))  # settings: a new serial, same keys
        edited = take_counters(ipvs)
        assert edited.keys is not first.keys and edited.keys == first.keys
        other.add_service(Service(IDLE, "rr"))
        assert set(take_counters(ipvs).keys) == {WEB, DNS, IDLE}
        other.delete_service(DNS)
        assert set(take_counters(ipvs).keys) == {WEB, IDLE}
        # A new IPVS has lists of its own: its serials never match this one's.
        with IPVS(netns.path) as fresh:
            assert set(take_counters(fresh).keys) == {WEB, IDLE}


def test_snapshot_counters_agree_with_ipvsadm(netns: Netns) -> None:
    with IPVS(netns.path) as ipvs:
        build_traffic_table(ipvs, netns)
        send_traffic(netns, 60, 40)
        wait_for(ipvs, settled(60, 40))
        for args, fields in (
            (("-Ln", "--stats", "--exact"), COUNTERS),
            (("-Ln", "--rate", "--exact"), RATES),
        ):
            snap, text = stable(ipvs, lambda a=args: netns.ipvsadm_out(*a))  # type: ignore[misc]
            assert parse_numbers(text) == snapshot_numbers(snap, fields), args
        # Real, non-zero numbers on both sides (not two empty tables agreeing).
        web = stats(snap, WEB)
        assert web.conns == 60 and web.inpkts == 60 and web.inbytes >= 60 * 40
        assert sum(s.stats.conns for s in snap.servers_of(WEB)) == 60
        assert snap.servers_of(DNS)[0].stats.inpkts + snap.servers_of(DNS)[1].stats.inpkts == 40

        # The counters-only view holds the same numbers, row for row.
        for _ in range(8):
            c = take_counters(ipvs)
            again = ipvs.snapshot()
            if counters_of(again) == counters_of(snap):
                break
            snap = again
        assert list(c.keys) == [st.key for st in snap.services] and c.attempts >= 1
        assert c.server_count() == snap.server_count() == 9
        assert len(c.service_stats) == 50 and len(c.server_stats) == 90
        for i, (status, servers) in enumerate(snap.items()):
            assert c.stats(c.service_stats, i) == status.stats
            rows = c.server_range(i)
            assert len(rows) == len(servers)
            for row, srv in zip(rows, servers, strict=True):
                assert c.stats(c.server_stats, row) == srv.stats
                assert c.server_id(row) == (srv.server.address, srv.server.port)
                conns = (srv.active_conns, srv.inact_conns, srv.persist_conns)
                assert tuple(c.server_conns[row * 3 : row * 3 + 3]) == conns
        assert c.service_stats.readonly and c.server_stats.format == "Q"

        # pyipvsadm lists this live table exactly as ipvsadm does, in every mode.
        modes = [
            ("-Ln",),
            ("-Ln", "--stats"),
            ("-Ln", "--stats", "--exact"),
            ("-Ln", "--rate"),
            ("-Ln", "--rate", "--exact"),
            ("-Ln", "--thresholds"),
            ("-Ln", "--persistent-conn"),
            ("-Ln", "--tun-info"),
            ("-Ln", "--sort"),
            ("-Ln", "--nosort"),
            ("-Sn",),
        ]
        for mode in modes:
            for _ in range(8):
                want = netns.ipvsadm(*mode)
                rc, got, err = pyipvsadm(netns, *mode)
                again = netns.ipvsadm(*mode)
                if want.stdout == again.stdout:  # no estimator tick in between
                    break
            assert (rc, got, err) == (want.returncode, want.stdout, want.stderr), mode


def test_rates_from_counter_deltas(netns: Netns) -> None:
    with IPVS(netns.path) as ipvs:
        build_traffic_table(ipvs, netns)
        send_traffic(netns, 30, 20)
        prev = wait_for(ipvs, settled(30, 20))
        send_traffic(netns, 45, 20, sport=20000)
        cur = wait_for(ipvs, settled(75, 40))
        r = rates(prev, cur)
        assert r.interval == pytest.approx(cur.taken - prev.taken)
        web = r.services[WEB]
        assert web.cps * r.interval == pytest.approx(45)
        assert web.inpps > 0 and web.inbps > web.inpps
        per_server = [r.server(WEB, s) for s in cur.servers_of(WEB)]
        assert all(x is not None for x in per_server)
        assert sum(x.cps for x in per_server if x is not None) * r.interval == pytest.approx(45)
        assert r.services[IDLE].cps == 0 and r.services[IDLE].inbps == 0
        assert r.services[DNS].inpps * r.interval == pytest.approx(
            stats(cur, DNS).inpkts - stats(prev, DNS).inpkts
        )
        with pytest.raises(ValueError, match="later snapshot"):
            rates(cur, prev)
        # Zeroed counters count as restarted from zero: rates never go negative.
        ipvsadm_zero = netns.ipvsadm("-Z")
        assert ipvsadm_zero.returncode == 0
        zeroed = wait_for(ipvs, lambda s: stats(s, WEB).conns == 0)
        rz = rates(cur, zeroed)
        assert all(v >= 0 for x in rz.services.values() for v in (x.cps, x.inpps, x.inbps))
        # Services only in one snapshot are left out.
        ipvs.delete_service(IDLE)
        gone = ipvs.snapshot()
        assert IDLE not in rates(zeroed, gone).services


def test_poll_yields_fresh_snapshots_on_schedule(netns: Netns) -> None:
    with IPVS(netns.path) as ipvs:
        build_traffic_table(ipvs, netns)
        start = time.monotonic()
        snaps = []
        for snap in poll(ipvs, 0.5):
            snaps.append(snap)
            if len(snaps) == 3:
                ipvs.delete_service(IDLE)
            if len(snaps) == 4:
                break
        assert [len(s) for s in snaps] == [5, 5, 5, 4]
        assert all(b.taken > a.taken for a, b in itertools.pairwise(snaps))
        # Three intervals of 0.5 s: the schedule holds (a read is far shorter).
        assert snaps[-1].taken - start >= 1.5
        with pytest.raises(ValueError, match="interval"):
            next(poll(ipvs, 0))
        # The counters view on the same schedule (read=take_counters): the
        # service that went away is gone from it too.
        start = time.monotonic()
        polled = list(itertools.islice(poll(ipvs, 0.5, read=take_counters), 2))
        assert all(isinstance(c, Counters) for c in polled)
        # From the start, not between the two: `taken` is when a read ended,
        # and a second read shorter than the first ends < 0.5 s after it.
        assert polled[1].taken - start >= 0.5
        assert set(polled[1].keys) == {s.service.key for s in snaps[-1].services}
        assert IDLE not in polled[1].keys


# --- consistency under a concurrent writer --------------------------------------

STABLE = [ServiceKey.tcp(f"10.50.{i // 250}.{i % 250 + 1}", 80) for i in range(60)]
BIG = ServiceKey.tcp("10.60.0.1", 80)  # enough servers for a dump of several chunks
BIG_SERVERS = [Server(ip(f"10.61.{i // 250}.{i % 250 + 1}"), 80) for i in range(400)]


def stable_servers(i: int) -> list[Server]:
    return [Server(ip(f"10.51.{i}.{j + 1}"), 80) for j in range(3)]


class Writer(threading.Thread):
    """Keeps changing the table and records every state each service's
    server set and the volatile service set went through."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.ops = 0
        self.service_sets: list[frozenset[ServiceKey]] = [frozenset()]
        self.server_sets: dict[ServiceKey, list[frozenset[tuple[object, int]]]] = {}
        self.error: Exception | None = None

    def note(self, key: ServiceKey, servers: set[tuple[object, int]]) -> None:
        self.server_sets.setdefault(key, []).append(frozenset(servers))

    def run(self) -> None:
        rnd = random.Random(5)
        volatile: list[ServiceKey] = []
        extra: dict[ServiceKey, set[tuple[object, int]]] = {}
        try:
            with IPVS(self.path) as ipvs:
                n = 0
                next_service = time.monotonic()
                while not self.stop.is_set():
                    n += 1
                    # Service changes are paced by time, so that under heavy
                    # emulation load some reads still see a quiet service list.
                    if time.monotonic() >= next_service:  # a volatile service comes or goes
                        next_service = time.monotonic() + 0.5
                        if len(volatile) < 4 or rnd.random() < 0.5:
                            key = ServiceKey.udp(f"10.70.0.{n % 250 + 1}", 1000 + n)
                            ipvs.add_service(Service(key, "rr"))
                            volatile.append(key)
                            self.note(key, set())
                            self.service_sets.append(frozenset(volatile))
                            srv = Server(ip("10.71.0.1"), 1000)
                            ipvs.add_server(key, srv)
                            self.note(key, {(srv.address, srv.port)})
                        else:
                            key = volatile.pop(rnd.randrange(len(volatile)))
                            ipvs.delete_service(key)
                            self.service_sets.append(frozenset(volatile))
                    else:  # a server comes or goes in a stable or the big service
                        key = BIG if n % 3 == 0 else STABLE[rnd.randrange(len(STABLE))]
                        have = extra.setdefault(key, set())
                        base = (
                            {(s.address, s.port) for s in BIG_SERVERS}
                            if key == BIG
                            else {(s.address, s.port) for s in stable_servers(STABLE.index(key))}
                        )
                        if have and rnd.random() < 0.5:
                            addr, port = have.pop()
                            ipvs.delete_server(key, Server(addr, port))  # type: ignore[arg-type]
                        else:
                            srv = Server(ip(f"10.72.{n // 250 % 250}.{n % 250 + 1}"), 80)
                            ipvs.add_server(key, srv)
                            have.add((srv.address, srv.port))
                        self.note(key, base | have)
                    self.ops += 1
                    time.sleep(rnd.random() * 0.004)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def check_consistent(snap: Snapshot, w: Writer) -> None:
    keys = [s.key for s in snap.services]
    assert len(keys) == len(set(keys)), "duplicate service"
    volatile = frozenset(k for k in keys if k.protocol == Protocol.UDP)
    assert volatile in w.service_sets, "a service list that never existed"
    for key in [*STABLE, BIG]:
        assert key in keys, "a service that existed throughout is missing"
    for status, servers in snap.items():
        ids = [(s.server.address, s.server.port) for s in servers]
        assert len(ids) == len(set(ids)), f"duplicate server in {status.key}"
        history = w.server_sets[status.key]
        assert frozenset(ids) in history, f"a server set of {status.key} that never existed"


@pytest.mark.parametrize("threads", [1, 2])
def test_consistent_under_concurrent_writer(netns: Netns, threads: int) -> None:
    with IPVS(netns.path) as ipvs:
        with ipvs.batch() as b:
            for i, key in enumerate(STABLE):
                b.add_service(Service(key, "rr"))
                for s in stable_servers(i):
                    b.add_server(key, s)
            b.add_service(Service(BIG, "rr"))
            for s in BIG_SERVERS:
                b.add_server(BIG, s)
        quiet = ipvs.snapshot()
        assert quiet.attempts == 1 and len(quiet) == 61
        assert len(quiet.servers_of(BIG)) == 400

        w = Writer(netns.path)
        w.note(BIG, {(s.address, s.port) for s in BIG_SERVERS})
        for i, key in enumerate(STABLE):
            w.note(key, {(s.address, s.port) for s in stable_servers(i)})
        snaps: list[Snapshot] = []
        refused = 0
        errors: list[tuple[int | None, int]] = []
        w.start()
        try:
            # Twelve snapshots, and on until the writer has done enough to
            # matter: a faster read must not end the test before the writer ran.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (len(snaps) < 12 or w.ops <= 50):
                try:
                    snaps.append(take(ipvs, retries=3, threads=threads))
                except SnapshotInconsistentError as exc:
                    errors.append((exc.errno, exc.attempts))
                    refused += 1
        finally:
            w.stop.set()
            w.join(30)
        print(f"\nwriter ops {w.ops}, snapshots {len(snaps)}, refused {refused}, "
              f"attempts {[s.attempts for s in snaps]}")  # fmt: skip
        assert w.error is None, w.error
        assert all(e == (11, 4) for e in errors), errors
        assert w.ops > 50, "the writer barely ran"
        for snap in snaps:
            check_consistent(snap, w)
        # The checks ran against a changing table and the retry path was taken.
        assert len(snaps) >= 3, (len(snaps), refused)
        assert any(s.attempts > 1 for s in snaps) or refused > 0


def test_errors_surface_as_ipvs_errors(netns: Netns) -> None:
    ipvs = IPVS(netns.path)
    ipvs.close()
    with pytest.raises(IPVSValueError):
        ipvs.snapshot()
    with IPVS(netns.path) as live, pytest.raises(ValueError, match="retries"):
        take(live, retries=-1)
    # A SnapshotInconsistentError is an IPVSError with EAGAIN, and pickles.
    exc = pickle.loads(pickle.dumps(SnapshotInconsistentError(3)))
    assert isinstance(exc, IPVSError) and exc.errno == 11 and exc.attempts == 3


def test_model_types(netns: Netns) -> None:
    with IPVS(netns.path) as ipvs:
        ipvs.add_service(Service(ServiceKey.tcp("2001:db8::5", 80), "rr"))
        ipvs.add_server(
            ServiceKey.tcp("2001:db8::5", 80), Server(ip("2001:db8::6"), 80, Forward.MASQ)
        )
        snap = ipvs.snapshot()
        (status,) = snap.services
        assert status.key.family == Family.INET6
        (srv,) = snap.servers_of(status.key)
        assert isinstance(srv, ServerStatus) and srv.server.forward == Forward.MASQ
