"""`-S` / `--save` rules as ipvsadm 1.31 prints them (top layer: pure Python, no
cffi). Behind pyipvs.format; import from there.

The output is meant to be fed back to `-R`, but 1.31 loses some settings
(thresholds are never saved) and we keep that: byte-identical is the goal.
"""

# printf-style % mirrors the C format strings being reproduced, and is the fastest
# (UP031 is off for these modules in pyproject.toml).

from __future__ import annotations

from collections.abc import Sequence

from pyipvs.format_addr import PORT_PROTO, addrport
from pyipvs.format_head import M32, s32
from pyipvs.format_list import (
    NULL_TEXT,
    dest_names,
    mask_text,
    port_proto,
    sched_flags_text,
)
from pyipvs.model import (
    Family,
    Forward,
    Protocol,
    ServerStatus,
    ServiceFlag,
    ServiceStatus,
    TunnelType,
)
from pyipvs.names import Resolver

_PERSISTENT = int(ServiceFlag.PERSISTENT)
_ONEPACKET = int(ServiceFlag.ONEPACKET)
_ANY_SCHED = int(ServiceFlag.SCHED1 | ServiceFlag.SCHED2 | ServiceFlag.SCHED3)

_PROTO_OPTION: dict[int, str] = {
    Protocol.TCP: "-t",
    Protocol.UDP: "-u",
    Protocol.SCTP: "--sctp-service",
}

# LOCALNODE has no switch of its own; ipvsadm saves it as -g.
FWD_SWITCH: dict[int, str] = {
    Forward.MASQ: "-m",
    Forward.LOCAL: "-g",
    Forward.TUNNEL: "-i",
    Forward.ROUTE: "-g",
}

# Indexed by tun_flags; 3 (both bits) is past ipvsadm's table, see format_list.
_TUN_FLAG_OPTION = ("--tun-nocsum", "--tun-csum", "--tun-remcsum", "--tun-remcsum")


def _rule_name(status: ServiceStatus, numeric: bool, resolver: Resolver) -> str:
    key = status.service.key
    if key.fwmark:
        # Signed %d in 1.31, as in the listing.
        suffix = " -6" if key.family == Family.INET6 else ""
        return "-f %d%s" % (s32(key.fwmark), suffix)
    address = key.address
    assert address is not None, "address service without an address"
    proto = int(key.protocol)
    vname = addrport(address, key.port, PORT_PROTO.get(proto), numeric, resolver)
    return "%s %s" % (_PROTO_OPTION.get(proto, "--xxx-service"), vname)


def _service_rule(status: ServiceStatus, name: str) -> str:
    svc = status.service
    flags = int(svc.flags)
    sched = svc.scheduler or "none"
    parts = ["-A ", name, " -s ", sched]
    if flags & _PERSISTENT:
        parts.append(" -p %d" % (svc.timeout & M32))
        parts.append(mask_text(svc.key.family, svc.netmask, " -M "))
    # Unlike the listing, the PE is saved whether or not the service persists.
    if svc.pe_name:
        parts.append(" --pe " + svc.pe_name)
    if flags & _ONEPACKET:
        parts.append(" -o")
    if flags & _ANY_SCHED:
        # May leave "-b " with nothing after it (sh/mh with only flag-3).
        parts.append(" -b " + sched_flags_text(sched, flags))
    return "".join(parts)


def _tunnel_tail(tun_type: int, tun_port: int, tun_flags: int) -> str:
    if tun_type == TunnelType.IPIP:
        return " --tun-type ipip"
    if tun_type == TunnelType.GUE:
        return " --tun-type gue --tun-port %d %s" % (
            tun_port & 0xFFFF,
            _TUN_FLAG_OPTION[tun_flags & 3],
        )
    if tun_type == TunnelType.GRE:
        return " --tun-type gre " + _TUN_FLAG_OPTION[tun_flags & 3]
    return ""


def save_lines(
    status: ServiceStatus,
    servers: Sequence[ServerStatus],
    numeric: bool,
    resolver: Resolver,
) -> list[str]:
    """The `-A` rule of a service and the `-a` rules of its servers, in the order given.

    Thresholds are not saved (1.31 never did); every tunnelling server gets
    its `--tun-type`, even `ipip` from kernels that know no tunnel types.
    """
    name = _rule_name(status, numeric, resolver)
    lines = [_service_rule(status, name)]
    names = dest_names(servers, port_proto(status), numeric, resolver, False)
    head = "-a " + name + " -r "
    for st, dname in zip(servers, names):
        srv = st.server
        fwd = int(srv.forward)
        line = "%s%s %s -w %d" % (head, dname, FWD_SWITCH.get(fwd, NULL_TEXT), s32(srv.weight))
        if fwd == Forward.TUNNEL:
            line += _tunnel_tail(int(srv.tun_type), srv.tun_port, int(srv.tun_flags))
        lines.append(line)
    return lines
