"""Real traffic through IPVS, for kernel tests and benchmarks (test tooling).

Connection entries in tests come from real packets through the real stack,
never from text written by hand. Locally sent IPv4 and IPv6 packets to a
virtual address pass IPVS's LOCAL_OUT hook, so one namespace (the `netns`
fixture's) is enough to fill a connection table; `inside` and `socket_in`
serve topologies with several namespaces.

The packets come from trafficgen.c next to this file, compiled with gcc at
first use into .vmtmp/trafficgen-<hash>/ of the checkout (shared by later
VM boots and the host; gcc under emulation takes a minute), or the temp
directory where the checkout is read-only. It runs as one process per call
inside the namespace, so a million flows cost one process start.

Stable API (other tests import it; extend, do not change):

    udp_flows(ns, vip, vport, count, *, src=None, ports_per_addr=1000,
              sport=10000) -> int
        One UDP datagram from each of `count` (source address, source port)
        pairs to vip:vport: one IPVS entry each (state UDP). Sources are
        src, src+1, ... each with ports sport .. sport+ports_per_addr-1; they
        need not be local (raw socket). Returns the datagrams sent.
        mark=N (every function here) sets the packets' firewall mark (SO_MARK),
        which is how fwmark services get traffic without a firewall rule.
    tcp_syns(...same...) -> int
        One bare SYN per pair instead: entries in state SYN_RECV, nobody answers.
    tcp_established(...same...) -> int
        A SYN and then the client's ACK per pair, nobody answering: IPVS
        moves each entry to ESTABLISHED on the client's packets alone (as
        for direct-routing services, whose answers bypass the director), and
        it stays there for the tcp timeout (`ipvsadm --set`). Use a
        direct-routing (-g) service.
    tcp_handshakes(ns, vip, vport, count, *, end="close", listen=(), src=None,
                   ports_per_addr=1000, sport=10000) -> Handshakes
        Real connect()s; `end` is "close" (FIN) or "reset" (RST). `listen`:
        (address, port) pairs the generator accepts on, created in ns. The
        sources must be local where the generator runs: add_local_route(ns,
        "10.200.0.0/16") makes a whole prefix local (AnyIP; IPv6 included,
        the generator binds with freebind). Caveat, seen on 6.1: handshakes
        whose real server is an address of the IPVS namespace itself (NAT to
        a local address), from the same or from a client namespace, got no
        answer; real servers in a namespace of their own work (see
        test_datapath.py, which uses plain sockets and `socket_in`).
    hold_handshakes(...same, without end...) -> context manager -> Handshakes
        As tcp_handshakes, but the connections stay open (ESTABLISHED) until
        the with block ends.
    add_local_route(ns, prefix)
        "ip route add local PREFIX dev lo" in ns (AnyIP: bind to any address in it).
    client_namespace(ns, prefixes=(...), vips=(...)) -> context manager -> path
        A separate namespace of clients joined to ns by veth (see its
        docstring); pass it as `clients=` to any generator call above: the
        generator then sends from there (its listeners stay in ns), so the
        packets enter IPVS from a network, as in production.
    inside(ns) -> context manager; socket_in(ns, family, type) -> socket.socket
        Run code in, or create a socket in, another network namespace without
        a new process (the calling thread switches and switches back).

`ns` is anything with a `.path` (the conftest `Netns`), a path such as
/run/netns/NAME or /proc/PID/ns/net, a bare namespace name, or None (the
caller's own namespace).
"""

from __future__ import annotations

import ctypes
import hashlib
import ipaddress
import os
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trafficgen.c")
_CLONE_NEWNET = 0x40000000
DEFAULT_SRC4 = "10.200.0.1"
DEFAULT_SRC6 = "2001:db8:c8::1"


class _HasPath(Protocol):
    @property
    def path(self) -> str: ...


NsLike = _HasPath | str | None


@dataclass(frozen=True)
class Handshakes:
    """Outcome of a batch of connect()s: completed and failed handshakes."""

    ok: int
    failed: int


def ns_path(ns: NsLike) -> str | None:
    if ns is None:
        return None
    if isinstance(ns, str):
        return ns if "/" in ns else f"/run/netns/{ns}"
    return ns.path


def _prefix(ns: NsLike) -> list[str]:
    path = ns_path(ns)
    return [] if path is None else ["nsenter", f"--net={path}"]


_built: str | None = None


def build() -> str:
    """Path of the compiled generator (compiled once per source version)."""
    global _built
    if _built is not None:
        return _built
    with open(_SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(_SOURCE)))
    base = os.path.join(repo, ".vmtmp")
    if not os.access(repo, os.W_OK):
        base = tempfile.gettempdir()
    out_dir = os.path.join(base, f"trafficgen-{digest}")
    exe = os.path.join(out_dir, "trafficgen")
    if not os.access(exe, os.X_OK):
        os.makedirs(out_dir, exist_ok=True)
        tmp = f"{exe}.{os.getpid()}.{os.urandom(4).hex()}"  # two VMs may share a pid
        subprocess.run(["gcc", "-O2", "-o", tmp, _SOURCE], check=True)
        os.replace(tmp, exe)
    _built = exe
    return exe


def _pairs(vip: str, count: int, src: str | None, ports_per_addr: int,
           sport: int) -> list[str]:  # fmt: skip
    family = ipaddress.ip_address(vip).version
    if src is None:
        src = DEFAULT_SRC6 if family == 6 else DEFAULT_SRC4
    if count <= 0:
        raise ValueError("count must be positive")
    per = min(ports_per_addr, count)
    if count % per:
        raise ValueError(f"count {count} is not a multiple of ports_per_addr {per}")
    return [src, str(count // per), str(per), str(sport)]


def _gen(ns: NsLike, mark: int, clients: NsLike = None) -> list[str]:
    """The generator's command line: it runs in `clients` when given, with
    its listeners in ns; else everything runs in ns."""
    opts = ["--mark", str(mark)] if mark else []
    if clients is not None:
        return [*_prefix(clients), build(), *opts, "--listen-ns", str(ns_path(ns))]
    return [*_prefix(ns), build(), *opts]


def _run(ns: NsLike, argv: Sequence[str], mark: int, clients: NsLike = None) -> str:
    r = subprocess.run([*_gen(ns, mark, clients), *argv], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"trafficgen {' '.join(argv)}: exit {r.returncode}: {r.stderr}")
    return r.stdout


def udp_flows(ns: NsLike, vip: str, vport: int, count: int, *, src: str | None = None,
              ports_per_addr: int = 1000, sport: int = 10000, mark: int = 0,
              clients: NsLike = None) -> int:  # fmt: skip
    argv = ["udp", *_pairs(vip, count, src, ports_per_addr, sport), vip, str(vport)]
    out = _run(ns, argv, mark, clients)
    return int(out.split()[1])


def tcp_syns(ns: NsLike, vip: str, vport: int, count: int, *, src: str | None = None,
             ports_per_addr: int = 1000, sport: int = 10000, mark: int = 0,
             clients: NsLike = None) -> int:  # fmt: skip
    argv = ["syn", *_pairs(vip, count, src, ports_per_addr, sport), vip, str(vport)]
    out = _run(ns, argv, mark, clients)
    return int(out.split()[1])


def tcp_established(ns: NsLike, vip: str, vport: int, count: int, *, src: str | None = None,
                    ports_per_addr: int = 1000, sport: int = 10000, mark: int = 0,
                    clients: NsLike = None) -> int:  # fmt: skip
    pairs = [*_pairs(vip, count, src, ports_per_addr, sport), vip, str(vport)]
    _run(ns, ["syn", *pairs], mark, clients)
    out = _run(ns, ["ack", *pairs], mark, clients)
    return int(out.split()[1])


def _listen_args(listen: Sequence[tuple[str, int]]) -> list[str]:
    return [x for addr, port in listen for x in (addr, str(port))]


def _parse_handshakes(line: str) -> Handshakes:
    words = line.split()
    if len(words) != 4 or words[0] != "ok":
        raise RuntimeError(f"trafficgen: unexpected output {line!r}")
    return Handshakes(int(words[1]), int(words[3]))


def tcp_handshakes(ns: NsLike, vip: str, vport: int, count: int, *, end: str = "close",
                   listen: Sequence[tuple[str, int]] = (), src: str | None = None,
                   ports_per_addr: int = 1000, sport: int = 10000,
                   mark: int = 0, clients: NsLike = None) -> Handshakes:  # fmt: skip
    if end not in ("close", "reset"):
        raise ValueError("end is 'close' or 'reset'")
    pairs = _pairs(vip, count, src, ports_per_addr, sport)
    out = _run(ns, ["tcp", *pairs, vip, str(vport), end, *_listen_args(listen)], mark, clients)
    return _parse_handshakes(out)


@contextmanager
def hold_handshakes(ns: NsLike, vip: str, vport: int, count: int, *,
                    listen: Sequence[tuple[str, int]] = (), src: str | None = None,
                    ports_per_addr: int = 1000, sport: int = 10000, mark: int = 0,
                    clients: NsLike = None) -> Iterator[Handshakes]:  # fmt: skip
    pairs = _pairs(vip, count, src, ports_per_addr, sport)
    argv = [*_gen(ns, mark, clients), "tcp", *pairs, vip, str(vport), "hold", *_listen_args(listen)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = proc.stdout.readline()
        if not line:
            err = proc.stderr.read() if proc.stderr is not None else ""
            raise RuntimeError(f"trafficgen hold: no result: {err}")
        yield _parse_handshakes(line)
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()


def add_local_route(ns: NsLike, prefix: str) -> None:
    family = "-6" if ipaddress.ip_network(prefix, strict=False).version == 6 else "-4"
    subprocess.run([*_prefix(ns), "ip", family, "route", "add", "local", prefix, "dev", "lo"],
                   check=True, capture_output=True)  # fmt: skip


_client_count = 0
# The link between a client namespace and the namespace under test.
_LINK4 = ("198.18.0.1", "198.18.0.2")  # benchmarking range (RFC 2544), not in dummy0's
_LINK6 = ("fd00:c1::1", "fd00:c1::2")


@contextmanager
def client_namespace(ns: NsLike, prefixes: Sequence[str] = ("10.200.0.0/16", "2001:db8:c8::/64"),
                     vips: Sequence[str] = ()) -> Iterator[str]:  # fmt: skip
    """A namespace of clients for ns, joined to it by a veth pair: every
    address in `prefixes` is a local source there (AnyIP), and ns routes
    those prefixes back over the link. Each address in `vips` is made local
    in ns (so its packets come in through IPVS's LOCAL_IN, as from a real
    network). Yields the client namespace's path for the `clients=` arguments."""
    global _client_count
    _client_count += 1
    name = f"pyipvs-clients-{os.getpid()}-{_client_count}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        target = ns_path(ns)
        peer = ["netns", target] if target is not None else []
        subprocess.run(["ip", "-n", name, "link", "add", "cl0", "type", "veth", "peer", "name",
                        f"cl{_client_count}", *peer], check=True)  # fmt: skip
        client = [
            "link set lo up", "link set cl0 up",
            f"address add {_LINK4[1]}/30 dev cl0", f"address add {_LINK6[1]}/64 dev cl0 nodad",
            f"route add default via {_LINK4[0]}", f"route add default via {_LINK6[0]}",
            *(f"route add local {p} dev lo" for p in prefixes),
        ]  # fmt: skip
        director = [
            f"link set cl{_client_count} up",
            f"address add {_LINK4[0]}/30 dev cl{_client_count}",
            f"address add {_LINK6[0]}/64 dev cl{_client_count} nodad",
            *(f"route add {p} via {_LINK6[1] if ':' in p else _LINK4[1]}" for p in prefixes),
            *(f"route add local {v}/{128 if ':' in v else 32} dev lo" for v in vips),
        ]  # fmt: skip
        for argv, script in ((["ip", "-n", name], client), ([*_prefix(ns), "ip"], director)):
            r = subprocess.run([*argv, "-batch", "-"], input="\n".join(script) + "\n",
                               text=True, capture_output=True)  # fmt: skip
            if r.returncode != 0:
                raise RuntimeError(f"client_namespace: ip -batch: {r.stderr}")
        yield f"/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), "setns")


@contextmanager
def inside(ns: NsLike) -> Iterator[None]:
    """The calling thread runs in ns's network namespace for the block."""
    path = ns_path(ns)
    if path is None:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


def socket_in(ns: NsLike, family: int = socket.AF_INET,
              type: int = socket.SOCK_STREAM) -> socket.socket:  # fmt: skip
    """A socket that lives in ns (it stays there whichever thread uses it)."""
    with inside(ns):
        return socket.socket(family, type)
