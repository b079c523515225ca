"""The command being assembled from one command line (top layer: the
`pyipvsadm` front end).

ipvsadm fills one record as it walks the switches, in order, so that later
switches see what earlier ones set (`-r` copies the protocol and port parsed
so far, `-M` depends on whether the address seen so far was IPv6, `-6` needs
an earlier `-f`). `Entry` is that record; once the line is accepted it is
turned into the library's frozen model objects.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pyipvs.model import (
    U32_MAX,
    Daemon,
    DaemonState,
    Family,
    Forward,
    IPAddress,
    Protocol,
    Server,
    Service,
    ServiceFlag,
    ServiceKey,
    Timeouts,
    TunnelFlag,
    TunnelType,
)

from .matrix import Command
from .options import Opt

_ANY4 = ipaddress.IPv4Address(0)
_ANY6 = ipaddress.IPv6Address(0)


@dataclass
class Entry:
    """Everything one command line can set, with ipvsadm's starting values."""

    command: Command | None = None
    given: set[Opt] = field(default_factory=set)
    # service (family 0 until an address or -f is parsed, as in ipvsadm)
    family: int = 0
    protocol: int = 0
    address: IPAddress | None = None
    port: int = 0
    fwmark: int = 0
    scheduler: str = ""
    flags: int = 0
    timeout: int = 0
    netmask: int = U32_MAX
    pe_name: str = ""
    sched_flags_arg: str = ""
    # real server
    server_family: int = 0
    server_address: IPAddress | None = None
    server_port: int = 0
    forward: Forward = Forward.ROUTE
    weight: int = 1
    u_threshold: int = 0
    l_threshold: int = 0
    tun_type: TunnelType = TunnelType.IPIP
    tun_port: int = 0
    tun_flags: int = 0
    # --set
    timeouts: Timeouts = field(default_factory=Timeouts)
    # daemons
    daemon_state: DaemonState = DaemonState.MASTER
    mcast_ifn: str = ""
    syncid: int = 0
    sync_maxlen: int = 0
    mcast_group: IPAddress | None = None
    mcast_port: int = 0
    mcast_ttl: int = 0

    def has(self, opt: Opt) -> bool:
        return opt in self.given

    # -- conversion to the model --------------------------------------------

    def service_key(self) -> ServiceKey:
        family = Family(self.family) if self.family else Family.INET
        if self.fwmark:
            return ServiceKey(family, Protocol.TCP, None, 0, self.fwmark)
        address = self.address
        if address is None:
            address = _ANY6 if family == Family.INET6 else _ANY4
        return ServiceKey(family, Protocol(self.protocol), address, self.port)

    def is_null_service(self) -> bool:
        """What ipvsadm's zero call treats as "no service": no mark, no address, no port."""
        return (
            not self.fwmark and not self.port and (self.address is None or int(self.address) == 0)
        )

    def service(self) -> Service:
        return Service(
            key=self.service_key(),
            scheduler=self.scheduler,
            flags=ServiceFlag(self.flags),
            timeout=self.timeout,
            netmask=self.netmask,
            pe_name=self.pe_name,
        )

    def server(self) -> Server:
        address = self.server_address
        if address is None:
            address = _ANY6 if self.server_family == Family.INET6 else _ANY4
        return Server(
            address=address,
            port=self.server_port,
            forward=self.forward,
            weight=self.weight,
            u_threshold=self.u_threshold,
            l_threshold=self.l_threshold,
            tun_type=self.tun_type,
            tun_port=self.tun_port,
            tun_flags=TunnelFlag(self.tun_flags),
        )

    def daemon(self) -> Daemon:
        return Daemon(
            state=self.daemon_state,
            mcast_ifn=self.mcast_ifn,
            syncid=self.syncid,
            sync_maxlen=self.sync_maxlen or None,
            mcast_group=self.mcast_group,
            mcast_port=self.mcast_port or None,
            mcast_ttl=self.mcast_ttl or None,
        )
