"""Address and port text as ipvsadm 1.31 prints it (top layer: pure Python, no cffi).

Shared by the listing, save and connection formatters. Behind pyipvs.format;
import from there.
"""

# printf-style % mirrors the C format strings being reproduced, and is the fastest
# (UP031 is off for these modules in pyproject.toml).

from __future__ import annotations

import socket

from pyipvs.model import IPAddress, Protocol
from pyipvs.names import Resolver

#: ipvsadm renders "addr:port" into a 60-byte buffer, so 59 characters survive.
ADDRPORT_MAX = 59

# Port-name tables by IP protocol; ipvsadm names ports for these three only.
PORT_PROTO: dict[int, str] = {
    Protocol.TCP: "tcp",
    Protocol.UDP: "udp",
    Protocol.SCTP: "sctp",
}

_AF_INET6 = socket.AF_INET6
_inet_ntop = socket.inet_ntop


def ntop(address: IPAddress) -> str:
    """The address as inet_ntop writes it (what ipvsadm prints).

    IPv6 goes through the C library's own inet_ntop: Python's compressed
    form differs from glibc for IPv4-mapped (`::ffff:a.b.c.d`) and
    IPv4-compatible (`::a.b.c.d`) addresses, and is several times slower.
    """
    if address.version == 4:
        return "%d.%d.%d.%d" % tuple(address.packed)
    return _inet_ntop(_AF_INET6, address.packed)


def addrport(
    address: IPAddress,
    port: int,
    proto: str | None,
    numeric: bool,
    resolver: Resolver,
) -> str:
    """`a.b.c.d:port` / `[v6]:port`, or `host:service` / `[host]:service`.

    `proto` names the port table ("tcp", "udp", "sctp"); None keeps the port
    numeric. IPv6 hosts get brackets even when they are names (ipvsadm 1.31).
    """
    port &= 0xFFFF
    if numeric:
        if address.version == 4:
            return "%d.%d.%d.%d:%d" % (*address.packed, port)
        return "[%s]:%d" % (_inet_ntop(_AF_INET6, address.packed), port)
    host = resolver.host(address)
    if host is None:
        host = ntop(address)
    svc = resolver.service(port, proto) if proto is not None else None
    if svc is None:
        svc = str(port)
    if address.version == 4:
        text = "%s:%s" % (host, svc)
    else:
        text = "[%s]:%s" % (host, svc)
    return text[:ADDRPORT_MAX]
