"""Seeded random IPVS tables for the reconcile tests (test helper; used by
tests/unit/test_reconcile*.py on the host and tests/kernel/test_reconcile*.py
in the VM).

Tables the kernel and ipvsadm 1.31 both accept, drawn from a small universe
of service and server identities so that two random tables overlap: the
same service with other settings, the same server with another weight or
forwarding method. `mutate` derives a desired table from a live one by
keeping, editing, dropping and adding at random. Real servers lie in
10.0.0.0/8 and 2001:db8::/32, which the test namespaces route to dummy0.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import random

from pyipvs.format_save import save_lines
from pyipvs.model import (
    Family,
    Forward,
    Protocol,
    Server,
    ServerStatus,
    Service,
    ServiceFlag,
    ServiceKey,
    ServiceStatus,
    TunnelFlag,
    TunnelType,
)
from pyipvs.names import NumericResolver
from pyipvs.reconcile import Table
from pyipvs.sorting import sort_servers, sort_services

SCHEDULERS = ("rr", "wrr", "wlc", "lc", "sh", "dh", "sed", "nq", "mh")


def _key(rnd: random.Random) -> ServiceKey:
    kind = rnd.randrange(10)
    if kind < 2:
        return ServiceKey.fw(rnd.randrange(1, 6), Family.INET6 if kind == 1 else Family.INET)
    proto = (Protocol.TCP, Protocol.TCP, Protocol.UDP, Protocol.SCTP)[rnd.randrange(4)]
    if kind == 2:
        return ServiceKey.of(proto, f"2001:db8:ffff::{rnd.randrange(1, 4)}", 80 + rnd.randrange(2))
    return ServiceKey.of(proto, f"198.18.0.{rnd.randrange(1, 5)}", 80 + rnd.randrange(3))


def random_service(key: ServiceKey, rnd: random.Random) -> Service:
    sched = rnd.choice(SCHEDULERS)
    flags = ServiceFlag(0)
    timeout = 0
    netmask = -1
    pe = ""
    if rnd.random() < 0.3:
        flags |= ServiceFlag.PERSISTENT
        timeout = rnd.choice((1, 60, 360, 3600))
        if key.family == Family.INET6:
            netmask = rnd.choice((64, 96, 128))
        else:
            netmask = rnd.choice((0xFFFFFFFF, 0xFFFFFF00, 0xFFFF0000))
        if rnd.random() < 0.2:
            pe = "sip"
    if sched in ("sh", "mh") and rnd.random() < 0.5:
        flags |= rnd.choice((ServiceFlag.SCHED1, ServiceFlag.SCHED2))
    if key.protocol == Protocol.UDP and not key.is_fwmark and rnd.random() < 0.3:
        flags |= ServiceFlag.ONEPACKET
    return Service(key, sched, flags, timeout, netmask, pe)


def _server_address(
    key: ServiceKey, rnd: random.Random
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if key.family == Family.INET6:
        return ipaddress.IPv6Address(f"2001:db8:1::{rnd.randrange(1, 9):x}")
    return ipaddress.IPv4Address(f"10.1.0.{rnd.randrange(1, 9)}")


def random_server(key: ServiceKey, address: object, rnd: random.Random) -> Server:
    fwd = rnd.choice((Forward.ROUTE, Forward.MASQ, Forward.TUNNEL))
    # As ipvsadm does for -g and -i: the service's port (0 for fwmarks).
    port = key.port if fwd != Forward.MASQ else rnd.choice((8080, 8081))
    if key.is_fwmark and fwd != Forward.MASQ:
        port = 0
    u = rnd.choice((0, 0, 100, 1000))
    lo = rnd.choice((0, u // 2)) if u else 0
    tun = {"tun_type": TunnelType.IPIP, "tun_port": 0, "tun_flags": TunnelFlag.NOCSUM}
    if fwd == Forward.TUNNEL:
        kind = rnd.choice((TunnelType.IPIP, TunnelType.GUE, TunnelType.GRE))
        flags = rnd.choice((TunnelFlag.NOCSUM, TunnelFlag.CSUM, TunnelFlag.REMCSUM))
        if kind == TunnelType.GUE:
            tun = {"tun_type": kind, "tun_port": rnd.choice((6080, 6081)), "tun_flags": flags}
        elif kind == TunnelType.GRE:  # ipvsadm: no remote checksum offload for GRE
            flags = rnd.choice((TunnelFlag.NOCSUM, TunnelFlag.CSUM))
            tun = {"tun_type": kind, "tun_port": 0, "tun_flags": flags}
    assert isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address))
    return Server(address, port, fwd, rnd.randrange(0, 6), u, lo, **tun)  # type: ignore[arg-type]


def random_table(rnd: random.Random, services: int = 8, servers: int = 5) -> Table:
    keys: dict[ServiceKey, None] = {}
    for _ in range(services * 3):
        if len(keys) >= services:
            break
        keys[_key(rnd)] = None
    items = []
    for key in keys:
        by_id: dict[tuple[object, int], Server] = {}
        for _ in range(rnd.randrange(0, servers + 1)):
            s = random_server(key, _server_address(key, rnd), rnd)
            by_id.setdefault((s.address, s.port), s)
        items.append((random_service(key, rnd), list(by_id.values())))
    return Table.of(items)


def mutate(table: Table, rnd: random.Random, rate: float = 0.3) -> Table:
    """A table near `table`: each service kept, edited or dropped, each
    server kept, re-weighted, re-configured or dropped, some added."""
    items = []
    for svc, servers in table.items():
        if rnd.random() < rate / 2:
            continue  # dropped
        if rnd.random() < rate:
            svc = random_service(svc.key, rnd)
        out: dict[tuple[object, int], Server] = {}
        for s in servers:
            r = rnd.random()
            if r < rate / 3:
                continue
            if r < rate * 2 / 3:
                s = dataclasses.replace(s, weight=(s.weight + 1) % 6)
            elif r < rate:
                s = random_server(svc.key, s.address, rnd)
            out.setdefault((s.address, s.port), s)
        for _ in range(rnd.randrange(0, 3) if rnd.random() < rate else 0):
            s = random_server(svc.key, _server_address(svc.key, rnd), rnd)
            out.setdefault((s.address, s.port), s)
        items.append((svc, list(out.values())))
    extra = random_table(rnd, services=3)
    have = {s.key for s, _ in items}
    items += [(s, list(v)) for s, v in extra.items() if s.key not in have]
    rnd.shuffle(items)
    return Table.of(items)


def save_text(table: Table) -> str:
    """The table as `ipvsadm -Sn` prints it (ipvsadm's order and spelling)."""
    resolver = NumericResolver()
    statuses = {svc.key: ServiceStatus(svc) for svc in table.services}
    lines: list[str] = []
    for st in sort_services(list(statuses.values())):
        servers = sort_servers([ServerStatus(s) for s in table.servers_of(st.key)])
        lines += save_lines(st, servers, True, resolver)
    return "".join(line + "\n" for line in lines)
