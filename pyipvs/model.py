"""Typed, immutable model of an IPVS table (top layer: pure Python, no cffi).

A virtual service's identity (`ServiceKey`) is kept apart from its settings
(`Service`) and from what the kernel counts (`ServiceStatus`); likewise a real
server's settings (`Server`) and its live state (`ServerStatus`). Everything is
a frozen, slotted dataclass on `ipaddress` types, so values can be hashed,
compared and shared between threads.

Ports are host-order integers; byte order is the C core's business.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from typing import TypeAlias

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

INT_MAX = 2**31 - 1
U32_MAX = 2**32 - 1


class Family(enum.IntEnum):
    """Address family (values are Linux's AF_* numbers)."""

    INET = 2
    INET6 = 10


class Protocol(enum.IntEnum):
    """Transport protocol of a virtual service (IP protocol numbers).

    The kernel's netlink interface does not validate the protocol, so a
    service may carry any number; unknown ones become pseudo-members named
    ``IP_<n>`` instead of failing the whole listing.
    """

    TCP = 6
    UDP = 17
    SCTP = 132

    @classmethod
    def _missing_(cls, value: object) -> Protocol | None:
        if isinstance(value, int) and 0 <= value <= 0xFFFF:
            member = int.__new__(cls, value)
            member._name_ = f"IP_{value}"
            member._value_ = value
            return member
        return None


class Forward(enum.IntEnum):
    """Packet-forwarding method of a real server (IP_VS_CONN_F_* values)."""

    MASQ = 0  # NAT, ipvsadm -m
    LOCAL = 1  # local node; the kernel picks it for local addresses
    TUNNEL = 2  # ipvsadm -i
    ROUTE = 3  # direct routing, ipvsadm -g (the default)


class TunnelType(enum.IntEnum):
    """Encapsulation of a tunnelling real server (kernel 5.2+, GRE 5.3+)."""

    IPIP = 0
    GUE = 1
    GRE = 2


class TunnelFlag(enum.IntFlag):
    """Checksum options of GUE/GRE tunnels (kernel 5.3+). NOCSUM is no bit."""

    NOCSUM = 0
    CSUM = 1
    REMCSUM = 2


class ServiceFlag(enum.IntFlag):
    """Virtual-service flags (IP_VS_SVC_F_*)."""

    PERSISTENT = 0x1
    HASHED = 0x2  # kernel-internal; reported in dumps, never sent
    ONEPACKET = 0x4
    SCHED1 = 0x8  # sh-fallback / mh-fallback
    SCHED2 = 0x10  # sh-port / mh-port
    SCHED3 = 0x20


#: The flags a user may set (HASHED is the kernel's own bookkeeping).
SETTABLE_SERVICE_FLAGS = (
    ServiceFlag.PERSISTENT
    | ServiceFlag.ONEPACKET
    | ServiceFlag.SCHED1
    | ServiceFlag.SCHED2
    | ServiceFlag.SCHED3
)
SCHED_FLAGS = ServiceFlag.SCHED1 | ServiceFlag.SCHED2 | ServiceFlag.SCHED3


class DaemonState(enum.IntEnum):
    """Role of a connection-synchronisation daemon."""

    MASTER = 1
    BACKUP = 2


def family_of(address: IPAddress) -> Family:
    return Family.INET6 if address.version == 6 else Family.INET


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """What identifies a virtual service: protocol/address/port, or a fwmark.

    For fwmark services the kernel forces the protocol to TCP and ignores
    address and port; `address` is then None and `port` 0.
    """

    family: Family
    protocol: Protocol = Protocol.TCP
    address: IPAddress | None = None
    port: int = 0
    fwmark: int = 0

    @classmethod
    def of(cls, protocol: Protocol, address: IPAddress | str, port: int) -> ServiceKey:
        addr = ipaddress.ip_address(address)
        return cls(family_of(addr), Protocol(protocol), addr, port)

    @classmethod
    def tcp(cls, address: IPAddress | str, port: int) -> ServiceKey:
        return cls.of(Protocol.TCP, address, port)

    @classmethod
    def udp(cls, address: IPAddress | str, port: int) -> ServiceKey:
        return cls.of(Protocol.UDP, address, port)

    @classmethod
    def sctp(cls, address: IPAddress | str, port: int) -> ServiceKey:
        return cls.of(Protocol.SCTP, address, port)

    @classmethod
    def fw(cls, fwmark: int, family: Family = Family.INET) -> ServiceKey:
        return cls(Family(family), Protocol.TCP, None, 0, fwmark)

    @property
    def is_fwmark(self) -> bool:
        return self.fwmark != 0


def default_netmask(family: Family) -> int:
    """IPv4: all-ones mask as a 32-bit number; IPv6: prefix length 128."""
    return 128 if family == Family.INET6 else U32_MAX


@dataclass(frozen=True, slots=True)
class Service:
    """A virtual service's identity and settings (what -A/-E send).

    `netmask` is the persistence granularity: for IPv4 a 32-bit mask as a
    number (0xFFFFFF00 is 255.255.255.0; ipvsadm accepts any mask, even
    non-contiguous ones), for IPv6 a prefix length. `timeout` is the
    persistence timeout in seconds; it only matters with PERSISTENT set.
    """

    key: ServiceKey
    scheduler: str = "wlc"
    flags: ServiceFlag = ServiceFlag(0)
    timeout: int = 0
    netmask: int = -1  # -1: the family's default, filled in below
    pe_name: str = ""

    def __post_init__(self) -> None:
        if self.netmask == -1:
            object.__setattr__(self, "netmask", default_netmask(self.key.family))

    @property
    def persistent(self) -> bool:
        return bool(self.flags & ServiceFlag.PERSISTENT)


@dataclass(frozen=True, slots=True)
class Stats:
    """Counters since the last zero, and the estimator's rates (per second).

    All values are 64-bit; kernels before 4.1 only report 32-bit counters.
    """

    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """A service as the kernel reports it: settings plus counters."""

    service: Service
    stats: Stats = field(default_factory=Stats)
    # Raw flags as dumped (includes HASHED); service.flags has only settable bits.
    raw_flags: int = 0

    @property
    def key(self) -> ServiceKey:
        return self.service.key


@dataclass(frozen=True, slots=True)
class Server:
    """A real server's address and settings (what -a/-e send).

    `family` may differ from the service's only for tunnelling servers.
    For direct routing and tunnelling the kernel uses the service's port
    whatever is sent (ipvsadm sends the service's port itself).
    """

    address: IPAddress
    port: int = 0
    forward: Forward = Forward.ROUTE
    weight: int = 1
    u_threshold: int = 0
    l_threshold: int = 0
    tun_type: TunnelType = TunnelType.IPIP
    tun_port: int = 0
    tun_flags: TunnelFlag = TunnelFlag.NOCSUM

    @property
    def family(self) -> Family:
        return family_of(self.address)


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """A real server as the kernel reports it: settings, live counts, counters."""

    server: Server
    active_conns: int = 0
    inact_conns: int = 0
    persist_conns: int = 0
    stats: Stats = field(default_factory=Stats)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Protocol timeouts in seconds; 0 in a set request means "unchanged"."""

    tcp: int = 0
    tcp_fin: int = 0
    udp: int = 0


@dataclass(frozen=True, slots=True)
class Daemon:
    """A connection-synchronisation daemon's configuration.

    Fields left at None are not sent when starting (the kernel's defaults
    apply) and are absent in replies from kernels before 4.3.
    """

    state: DaemonState
    mcast_ifn: str = "eth0"
    syncid: int = 0
    sync_maxlen: int | None = None
    mcast_group: IPAddress | None = None
    mcast_port: int | None = None
    mcast_ttl: int | None = None


@dataclass(frozen=True, slots=True)
class Info:
    """IPVS version and the size of the connection hash table."""

    version: tuple[int, int, int]
    conn_tab_size: int

    @property
    def version_code(self) -> int:
        a, b, c = self.version
        return (a << 16) | (b << 8) | c
