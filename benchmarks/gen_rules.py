"""Generated IPVS rule sets for the restore benchmarks (benchmarks layer).

`rules(services, servers)` gives a deterministic table of `services` virtual
services with `servers` real servers each, mixed the way real tables are:
TCP, UDP and fwmark services (some IPv6), eight schedulers, some persistent,
direct routing, masquerading and tunnelling, assorted weights. The same
table comes out as ipvsadm restore text (`restore_text`) and as pyipvs model
objects (`model`), so every contestant programs exactly the same rules.

Real-server addresses lie in 10.0.0.0/8 and 2001:db8::/32, which
tests/kernel/conftest.py and ci/guest-setup.sh route to dummy0 (the kernel
refuses unroutable servers).

    python benchmarks/gen_rules.py 1000 10 > rules.txt
"""

from __future__ import annotations

import ipaddress
import random
import sys
from dataclasses import dataclass

from pyipvs.model import (
    Family,
    Forward,
    Protocol,
    Server,
    Service,
    ServiceFlag,
    ServiceKey,
)

SCHEDULERS = ("rr", "wrr", "wlc", "lc", "sh", "dh", "sed", "nq")
_FWD_FLAG = {Forward.ROUTE: "-g", Forward.MASQ: "-m", Forward.TUNNEL: "-i"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One service and its servers."""

    service: Service
    servers: tuple[Server, ...]


def _service(i: int, rnd: random.Random) -> Service:
    kind = i % 10
    if kind < 7:  # address services: 0-4 TCP, 5-6 UDP; every 16th IPv6
        proto = Protocol.TCP if kind < 5 else Protocol.UDP
        if i % 16 == 15:
            addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(
                (0x20010DB8_FFFF << 80) | i
            )
        else:
            addr = ipaddress.IPv4Address(0xC6120000 + i)  # 198.18.0.0/15 (benchmarking)
        key = ServiceKey.of(proto, addr, 80 + i % 7)
    else:
        key = ServiceKey.fw(i + 1, Family.INET6 if i % 16 == 15 else Family.INET)
    flags = ServiceFlag(0)
    timeout = 0
    if i % 5 == 0:
        flags |= ServiceFlag.PERSISTENT
        timeout = 300
    return Service(key, SCHEDULERS[rnd.randrange(len(SCHEDULERS))], flags, timeout)


def _server(svc: Service, i: int, j: int, rnd: random.Random) -> Server:
    fwd = (Forward.ROUTE, Forward.MASQ, Forward.TUNNEL)[rnd.randrange(3)]
    if svc.key.family == Family.INET6:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(
            (0x20010DB8_0001 << 80) | (i << 16) | (j + 1)
        )
    else:
        addr = ipaddress.IPv4Address((10 << 24) | (i << 8) | (j + 1))
    # ipvsadm sends the service's port for -g and -i; -m keeps the given one.
    port = svc.key.port if fwd != Forward.MASQ else 8000 + j % 100
    if svc.key.is_fwmark and fwd != Forward.MASQ:
        port = 0
    return Server(addr, port, fwd, rnd.randrange(0, 101))


def rules(services: int, servers: int, seed: int = 1) -> list[Rule]:
    if not 0 < services <= 0xFFFF or not 0 <= servers <= 254:
        raise ValueError("at most 65535 services of at most 254 servers")
    rnd = random.Random(seed)
    out = []
    for i in range(services):
        svc = _service(i, rnd)
        out.append(Rule(svc, tuple(_server(svc, i, j, rnd) for j in range(servers))))
    return out


def _spec(key: ServiceKey) -> str:
    if key.is_fwmark:
        return f"-f {key.fwmark}" + (" -6" if key.family == Family.INET6 else "")
    flag = {Protocol.TCP: "-t", Protocol.UDP: "-u", Protocol.SCTP: "--sctp-service"}[key.protocol]
    host = f"[{key.address}]" if key.family == Family.INET6 else str(key.address)
    return f"{flag} {host}:{key.port}"


def _host(s: Server) -> str:
    return f"[{s.address}]:{s.port}" if s.address.version == 6 else f"{s.address}:{s.port}"


def restore_lines(table: list[Rule]) -> list[str]:
    lines = []
    for r in table:
        svc = r.service
        spec = _spec(svc.key)
        line = f"-A {spec} -s {svc.scheduler}"
        if svc.persistent:
            line += f" -p {svc.timeout}"
        lines.append(line)
        for s in r.servers:
            lines.append(f"-a {spec} -r {_host(s)} {_FWD_FLAG[s.forward]} -w {s.weight}")
    return lines


def restore_text(table: list[Rule]) -> str:
    return "\n".join(restore_lines(table)) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        sys.stderr.write("usage: gen_rules.py SERVICES SERVERS [SEED]\n")
        return 2
    seed = int(argv[3]) if len(argv) == 4 else 1
    sys.stdout.write(restore_text(rules(int(argv[1]), int(argv[2]), seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
