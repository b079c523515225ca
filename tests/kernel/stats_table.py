"""A small IPVS table with real traffic through it, for the exporter, top and
global-counter kernel tests (test tooling).

`build(ipvs)` creates four services of different kinds: TCP with two NAT
servers, UDP with one, a fwmark service, and IPv6 UDP by direct routing.
`send(ns, n)` sends real traffic through each from inside the namespace, in
this process (sockets made there with traffic.socket_in, no process start):
n TCP connections that exchange data with a listener, n UDP datagrams
answered by the real server, n datagrams carrying firewall mark 7 (SO_MARK)
that must arrive at the fwmark service's server, and n IPv6 datagrams.
Every datagram goes from a new socket, so each flow is a new connection.
The real servers are local (127.0.0.1 with NAT): locally sent packets pass
IPVS's LOCAL_OUT hook, and replies come back through it.

`settle(ipvs, conns)` waits until the kernel's estimator, which copies the
counters every 2 s, has published everything sent, so the numbers hold
still and can be compared.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
import time

import traffic
from conftest import Netns

from pyipvs import IPVS, Forward, Server, Service, ServiceKey
from pyipvs.snapshot import Snapshot, take

ip = ipaddress.ip_address

VIP = "10.0.0.254"  # dummy0's own address: a VIP clients in the namespace reach
WEB = ServiceKey.tcp(VIP, 80)
DNS = ServiceKey.udp(VIP, 53)
MARK = ServiceKey.fw(7)
V6 = ServiceKey.udp("2001:db8::100", 53)
WEB_PORTS = (8080, 8081)
DNS_PORT = 5353
MARK_PORT = 7007  # a fwmark server with port 0 keeps the packet's own port
KEYS = (WEB, DNS, MARK, V6)
SO_MARK = getattr(socket, "SO_MARK", 36)
PAYLOAD = b"p" * 300


def build(ipvs: IPVS) -> None:
    ipvs.add_service(Service(WEB, "rr"))
    for port in WEB_PORTS:
        ipvs.add_server(WEB, Server(ip("127.0.0.1"), port, Forward.MASQ, weight=2))
    ipvs.add_service(Service(DNS, "wlc"))
    ipvs.add_server(DNS, Server(ip("127.0.0.1"), DNS_PORT, Forward.MASQ, 5))
    ipvs.add_service(Service(MARK, "sh"))
    ipvs.add_server(MARK, Server(ip("127.0.0.1"), 0, Forward.MASQ))
    ipvs.add_service(Service(V6, "rr"))
    ipvs.add_server(V6, Server(ip("2001:db8::200"), 53, Forward.ROUTE))


def _recv_exact(s: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = s.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _serve_tcp(listeners: list[socket.socket], n: int, errors: list[BaseException]) -> None:
    try:
        done = 0
        while done < n:
            ready, _, _ = select.select(listeners, [], [], 20)
            assert ready, "no connection reached the real servers"
            for lsock in ready:
                conn, _ = lsock.accept()
                with conn:
                    conn.settimeout(20)
                    conn.sendall(_recv_exact(conn, len(PAYLOAD)) * 2)
                done += 1
    except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
        errors.append(e)


def _tcp(ns: Netns, n: int) -> None:
    listeners = []
    for port in WEB_PORTS:
        lsock = traffic.socket_in(ns)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", port))
        lsock.listen(n)
        listeners.append(lsock)
    errors: list[BaseException] = []
    server = threading.Thread(target=_serve_tcp, args=(listeners, n, errors))
    server.start()
    try:
        for _ in range(n):
            with traffic.socket_in(ns) as c:
                c.settimeout(20)
                c.connect((VIP, 80))
                c.sendall(PAYLOAD)
                assert _recv_exact(c, 2 * len(PAYLOAD)) == PAYLOAD * 2
    finally:
        server.join(60)
        for lsock in listeners:
            lsock.close()
    assert not errors, errors


def _udp(ns: Netns, n: int) -> None:
    dns = traffic.socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
    marked = traffic.socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
    with dns, marked:
        dns.bind(("127.0.0.1", DNS_PORT))
        marked.bind(("127.0.0.1", MARK_PORT))
        for s in (dns, marked):
            s.settimeout(20)
        for i in range(n):
            with traffic.socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM) as c:
                c.settimeout(20)
                c.sendto(b"q%d" % i, (VIP, 53))
                data, peer = dns.recvfrom(2048)
                dns.sendto(data * 2, peer)
                assert c.recvfrom(2048)[0] == data * 2
            with traffic.socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM) as c:
                c.setsockopt(socket.SOL_SOCKET, SO_MARK, 7)
                c.sendto(b"m%d" % i, (VIP, MARK_PORT))
                assert marked.recvfrom(2048)[0] == b"m%d" % i
    for i in range(n):
        # Direct routing to an address on dummy0's prefix: nothing answers,
        # IPVS counts what it forwarded.
        with traffic.socket_in(ns, socket.AF_INET6, socket.SOCK_DGRAM) as c:
            c.sendto(b"v%d" % i, (str(V6.address), 53))


def send(ns: Netns, n: int) -> None:
    """n flows through each of the four services (see the module doc)."""
    _tcp(ns, n)
    _udp(ns, n)


def _counters(snap: Snapshot) -> list[tuple[int, ...]]:
    out = []
    for status, servers in snap.items():
        for st in (status.stats, *(s.stats for s in servers)):
            out.append((st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes))
    return out


def settle(ipvs: IPVS, conns: int, timeout: float = 30.0) -> Snapshot:
    """A snapshot once every service shows `conns` connections and two reads
    one estimator period apart agree."""
    deadline = time.monotonic() + timeout
    prev: Snapshot | None = None
    while time.monotonic() < deadline:
        snap = take(ipvs)
        if all(s.stats.conns >= conns for s in snap.services):
            if prev is not None and _counters(prev) == _counters(snap):
                return snap
            prev = snap
            time.sleep(2.2)
        else:
            time.sleep(0.5)
    raise AssertionError(f"counters did not settle at {conns} connections: {take(ipvs)}")
