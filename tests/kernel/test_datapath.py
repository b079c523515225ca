"""End-to-end data path (issue 3): pyipvsadm configures direct routing, NAT
and IPIP tunnelling between network namespaces, and a real TCP request from
a client namespace reaches a real server and its answer comes back.

Topology (after the kernel's own selftest tools/testing/selftests/netfilter/
ipvs.sh; facts only, our own code):

    client ns ---- br0 ---- veth ---- director ns (IPVS) ---- veth ---- server ns
    10.0.0.2        |                  10.0.0.1 | 172.16.0.1          172.16.0.2
                    +---- veth -------------------------------------- 10.0.0.3
                          (server -> client directly: DR and tunnel replies)

The VIP 198.51.100.10 sits on the director's lo; for DR and tunnelling also
on the server's lo (the server must accept packets addressed to it, and
answers the client directly with the VIP as source). NAT removes the direct
link so the answers must go back through the director, which un-NATs them.

Everything runs in this process (sockets are created inside the namespaces),
except the few `ip` batches that build the topology.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import traffic
from conftest import Netns, drop_netns

from pyipvs.cli.ipvsadm import main as pyipvsadm
from pyipvs.conns import ConnFilter, ConnTable

VIP = "198.51.100.10"
PORT = 8080
CLIENT, GW, DIP, RIP, SIP = "10.0.0.2", "10.0.0.1", "172.16.0.1", "172.16.0.2", "10.0.0.3"


@dataclass
class Topo:
    client: Netns
    director: Netns
    server: Netns


def _ip(ns: Netns, script: str) -> None:
    r = subprocess.run(["ip", "-n", ns.name, "-batch", "-"], input=script, text=True,
                       capture_output=True)  # fmt: skip
    assert r.returncode == 0, f"ip -batch in {ns.name}: {r.stderr}\n{script}"


def _sysctl(ns: Netns, *names: str, value: int) -> None:
    """Write /proc/sys/net/NAME in ns (sysctl files follow the opener's netns)."""
    with traffic.inside(ns):
        for name in names:
            with open(f"/proc/sys/net/{name}", "w") as f:
                f.write(f"{value}\n")


@pytest.fixture
def topo() -> Iterator[Topo]:
    # The director is a fresh netns of its own: the fixture namespaces carry
    # dummy0 prefixes (10/8, 172.16/12) that would shadow these links.
    names = [f"dp{os.getpid()}{n}" for n in "cds"]
    made: list[Netns] = []
    try:
        for n in names:
            subprocess.run(["ip", "netns", "add", n], check=True)
            made.append(Netns(n))
        c, d, s = made
        subprocess.run(["ip", "link", "add", "veth01", "netns", c.name, "type", "veth", "peer",
                        "name", "veth10", "netns", d.name], check=True)  # fmt: skip
        subprocess.run(["ip", "link", "add", "veth02", "netns", c.name, "type", "veth", "peer",
                        "name", "veth20", "netns", s.name], check=True)  # fmt: skip
        subprocess.run(["ip", "link", "add", "veth12", "netns", d.name, "type", "veth", "peer",
                        "name", "veth21", "netns", s.name], check=True)  # fmt: skip
        _ip(c, "link set lo up\nlink add br0 type bridge\nlink set veth01 master br0\n"
               "link set veth02 master br0\nlink set veth01 up\nlink set veth02 up\n"
               f"link set br0 up\naddress add {CLIENT}/24 dev br0\n"
               f"route add {VIP}/32 via {GW} dev br0\n")  # fmt: skip
        _ip(d, f"link set lo up\nlink set veth10 up\naddress add {GW}/24 dev veth10\n"
               f"link set veth12 up\naddress add {DIP}/24 dev veth12\n"
               f"address add {VIP}/32 dev lo\n")  # fmt: skip
        _ip(s, f"link set lo up\nlink set veth21 up\naddress add {RIP}/24 dev veth21\n"
               f"link set veth20 up\naddress add {SIP}/24 dev veth20\n")  # fmt: skip
        _sysctl(d, "ipv4/ip_forward", value=1)
        yield Topo(c, d, s)
    finally:
        for ns in made:
            drop_netns(ns)


class EchoServer:
    """A TCP server in the server namespace: answers each request with
    "<its local address> got <request>" and records who connected."""

    def __init__(self, ns: Netns) -> None:
        self.sock = traffic.socket_in(ns)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", PORT))
        self.sock.listen(16)
        self.sock.settimeout(20)
        self.seen: list[tuple[str, str]] = []  # (peer address, local address)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            while True:
                conn, peer = self.sock.accept()
                with conn:
                    conn.settimeout(20)
                    local = conn.getsockname()[0]
                    data = conn.recv(4096)
                    self.seen.append((peer[0], local))
                    conn.sendall(f"{local} got ".encode() + data)
        except OSError:  # closed by stop(), or the test timed out
            return

    def stop(self) -> None:
        self.sock.close()
        self.thread.join(timeout=5)


def _request(ns: Netns, payload: bytes) -> bytes:
    with traffic.socket_in(ns) as s:
        s.settimeout(20)
        s.connect((VIP, PORT))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
        return b"".join(chunks)


def _pyipvsadm(ns: Netns, *argv: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    rc = pyipvsadm(["ipvsadm", *argv], io.StringIO(), out, err, netns=ns.name)
    assert rc == 0 and err.getvalue() == "", f"pyipvsadm {' '.join(argv)}: {rc} {err.getvalue()}"


def _exercise(t: Topo, forward_flag: str, expect_fwd: str) -> None:
    _pyipvsadm(t.director, "-A", "-t", f"{VIP}:{PORT}", "-s", "rr")
    _pyipvsadm(t.director, "-a", "-t", f"{VIP}:{PORT}", "-r", f"{RIP}:{PORT}", forward_flag)
    listing = t.director.ipvsadm_out("-Ln")  # the reference reads back what we set
    assert f"-> {RIP}:{PORT}" in listing and expect_fwd in listing, listing
    server = EchoServer(t.server)
    try:
        replies = [_request(t.client, f"request {i}".encode()) for i in range(3)]
    finally:
        server.stop()
    local = RIP if forward_flag == "-m" else VIP  # NAT rewrites the destination
    assert replies == [f"{local} got request {i}".encode() for i in range(3)]
    assert server.seen == [(CLIENT, local)] * 3
    # The director's IPVS handled them: three entries to the real server,
    # and counters that ipvsadm reads the same way.
    entries = list(ConnTable(netns=t.director.path).connections(ConnFilter.server(RIP, PORT)))
    assert len(entries) == 3 and {str(e.caddr) for e in entries} == {CLIENT}
    # Listed counters are the per-CPU ones summed by the kernel's estimator,
    # which runs every 2 s: wait for a pass (at most a few) before reading.
    for _ in range(12):
        stats = t.director.ipvsadm_out("-Ln", "--stats", "--exact").split()
        if stats[stats.index(f"{RIP}:{PORT}") + 1] != "0":
            break
        time.sleep(0.5)
    assert stats[stats.index(f"{RIP}:{PORT}") + 1] == "3", stats  # Conns column


def _real_server_owns_vip(ns: Netns, *ifaces: str) -> None:
    """The VIP on the server's lo, without answering ARP for it (the director
    owns it on the wire) and without reverse-path checks on the inbound side."""
    _ip(ns, f"address add {VIP}/32 dev lo\n")
    _sysctl(ns, "ipv4/conf/all/arp_ignore", value=1)
    _sysctl(ns, "ipv4/conf/all/arp_announce", value=2)
    _sysctl(ns, "ipv4/conf/all/rp_filter", *(f"ipv4/conf/{i}/rp_filter" for i in ifaces), value=0)


def test_nat(topo: Topo) -> None:
    # No direct way back: answers must cross the director to be un-NATed.
    _ip(topo.server, f"link del veth20\nroute add default via {DIP} dev veth21\n")
    _exercise(topo, "-m", "Masq")


def test_direct_routing(topo: Topo) -> None:
    _real_server_owns_vip(topo.server, "veth21")
    _exercise(topo, "-g", "Route")


def test_ipip_tunnel(topo: Topo) -> None:
    subprocess.run(["modprobe", "ipip"], check=True)
    # The director must not act as a router here, or it could forward the
    # client's packets itself instead of tunnelling them.
    _sysctl(topo.director, "ipv4/ip_forward", value=0)
    _ip(topo.director, "link set tunl0 up\n")
    _ip(topo.server, "link set tunl0 up\n")
    _real_server_owns_vip(topo.server, "veth21", "tunl0")
    _exercise(topo, "-i", "Tunnel")
