"""Service listings (`-L` and its format options) as ipvsadm 1.31 prints them
(top layer: pure Python, no cffi). Behind pyipvs.format; import from there.

Lines come back without their newline. Speed matters: a listing may hold
200,000 real servers, so each mode formats its rows in one loop with `%`.
"""

# printf-style % mirrors the C format strings being reproduced, and is the fastest
# (UP031 is off for these modules in pyproject.toml).

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from pyipvs.format_addr import PORT_PROTO, addrport, ntop
from pyipvs.format_head import M32, ListFormat, s32
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

M64 = 0xFFFFFFFFFFFFFFFF
_SMALL = 100_000_000  # below this print_largenum is plain %9d

_PERSISTENT = int(ServiceFlag.PERSISTENT)
_ONEPACKET = int(ServiceFlag.ONEPACKET)
_SCHED1 = int(ServiceFlag.SCHED1)
_SCHED2 = int(ServiceFlag.SCHED2)
_SCHED3 = int(ServiceFlag.SCHED3)
_ANY_SCHED = _SCHED1 | _SCHED2 | _SCHED3

PROTO_NAME: dict[int, str] = {Protocol.TCP: "TCP", Protocol.UDP: "UDP", Protocol.SCTP: "SCTP"}

# Values outside 0..3 cannot reach here (the kernel masks with 7 and only
# knows 0..3); glibc would print "(null)" for ipvsadm's NULL name.
FWD_NAME: dict[int, str] = {
    Forward.MASQ: "Masq",
    Forward.LOCAL: "Local",
    Forward.TUNNEL: "Tunnel",
    Forward.ROUTE: "Route",
}
NULL_TEXT = "(null)"

# ipvsadm indexes a three-entry table with tun_flags; 3 (both bits) would
# read past it. We pick the remote-checksum entry whenever bit 2 is set.
_TUN_FLAG_TEXT = ("-c", "+c", "r+c", "r+c")


def print_largenum(value: int, exact: bool = False) -> str:
    """A counter in a 9-column field, abbreviated K/M/G/T unless exact.

    Divisions truncate (ipvsadm does not round); exact numbers always keep
    one leading blank, widening the field past 8 digits.
    """
    value &= M64
    if exact:
        text = "%d" % value
        return " " + text if len(text) > 8 else "%9s" % text
    if value < _SMALL:
        return "%9d" % value
    if value < 1_000_000_000:
        return "%8dK" % (value // 1000)
    if value < 100_000_000_000:
        return "%8dM" % (value // 1_000_000)
    if value < 100_000_000_000_000:
        return "%8dG" % (value // 1_000_000_000)
    return "%8dT" % (value // 1_000_000_000_000)


def sched_flags_text(scheduler: str, flags: int) -> str:
    """The scheduler-flag list; empty for sh/mh with only flag-3 set (a 1.31 quirk)."""
    names: list[str] = []
    if scheduler in ("sh", "mh"):
        if flags & _SCHED1:
            names.append(scheduler + "-fallback")
        if flags & _SCHED2:
            names.append(scheduler + "-port")
    else:
        if flags & _SCHED1:
            names.append("flag-1")
        if flags & _SCHED2:
            names.append("flag-2")
        if flags & _SCHED3:
            names.append("flag-3")
    return ",".join(names)


def port_proto(status: ServiceStatus) -> str | None:
    """The port-name table for a service's servers; None (numeric) for fwmark.

    The kernel forces a fwmark service's protocol to TCP but its netlink dump
    carries no protocol at all, so ipvsadm 1.31 looks the ports up with
    protocol 0, finds no table and prints them as numbers (checked live).
    """
    key = status.service.key
    if key.fwmark:
        return None
    return PORT_PROTO.get(int(key.protocol))


def _listing_name(status: ServiceStatus, numeric: bool, resolver: Resolver) -> str:
    key = status.service.key
    if key.fwmark:
        # 1.31 prints the mark with a signed %d (fixed to %u after 1.31).
        suffix = " IPv6" if key.family == Family.INET6 else ""
        return "FWM  %d%s" % (s32(key.fwmark), suffix)
    address = key.address
    assert address is not None, "address service without an address"
    vname = addrport(address, key.port, PORT_PROTO.get(int(key.protocol)), numeric, resolver)
    name = "%-4s %s" % (PROTO_NAME.get(int(key.protocol), "?"), vname)
    # ipvsadm cuts the protocol+address column at 33 for IPv4 only.
    return name if key.family == Family.INET6 else name[:33]


def _service_line(status: ServiceStatus, fmt: ListFormat, resolver: Resolver) -> str:
    name = _listing_name(status, fmt.numeric, resolver)
    st = status.stats
    if fmt.stats:
        values = (st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes)
        return "%-33s" % name + "".join(print_largenum(v, fmt.exact) for v in values)
    if fmt.rate:
        values = (st.cps, st.inpps, st.outpps, st.inbps, st.outbps)
        return "%-33s" % name + "".join(print_largenum(v, fmt.exact) for v in values)
    svc = status.service
    flags = int(svc.flags)
    sched = svc.scheduler or "none"
    parts = [name, " ", sched]
    if flags & _ANY_SCHED:
        parts.append(" (%s)" % sched_flags_text(sched, flags))
    if flags & _PERSISTENT:
        parts.append(" persistent %d" % (svc.timeout & M32))
        parts.append(mask_text(svc.key.family, svc.netmask, " mask "))
        if svc.pe_name:
            parts.append(" pe " + svc.pe_name)
    if flags & _ONEPACKET:
        parts.append(" ops")
    return "".join(parts)


def mask_text(family: Family, netmask: int, label: str) -> str:
    """`label` + the persistence mask, or "" when it is the family's full mask."""
    if family == Family.INET6:
        return "" if netmask == 128 else "%s%d" % (label, s32(netmask))
    mask = netmask & M32
    return "" if mask == M32 else label + str(ipaddress.IPv4Address(mask))


def dest_names(
    servers: Sequence[ServerStatus],
    proto: str | None,
    numeric: bool,
    resolver: Resolver,
    cut: bool,
) -> list[str]:
    """Each server's addr:port text; `cut` applies the listing's 28-column cut to IPv4."""
    if numeric:
        # Numeric text is at most 53 characters: never cut. This is the hot
        # path of huge listings, hence inlined.
        out: list[str] = []
        append = out.append
        for st in servers:
            srv = st.server
            addr = srv.address
            if addr.version == 4:
                append("%d.%d.%d.%d:%d" % (*addr.packed, srv.port & 0xFFFF))
            else:
                append("[%s]:%d" % (ntop(addr), srv.port & 0xFFFF))
        return out
    names = []
    for st in servers:
        srv = st.server
        text = addrport(srv.address, srv.port, proto, False, resolver)
        names.append(text[:28] if cut and srv.address.version == 4 else text)
    return names


def _tun_info(forward: int, tun_type: int, tun_port: int, tun_flags: int) -> str:
    if forward != Forward.TUNNEL:
        return "n/a"
    if tun_type == TunnelType.IPIP:
        return "ipip"
    flag = _TUN_FLAG_TEXT[tun_flags & 3]
    if tun_type == TunnelType.GUE:
        return "gue:%d:%s" % (tun_port & 0xFFFF, flag)
    if tun_type == TunnelType.GRE:
        return "gre:" + flag
    return "n/a"


def _dest_lines(servers: Sequence[ServerStatus], names: list[str], fmt: ListFormat) -> list[str]:
    # 1.31's libipvs reads these real-server counters of the kernel's 64-bit
    # stats with a 32-bit getter (all but the byte counts): mod 2^32 on LE.
    if fmt.stats:
        lines = []
        for s, n in zip(servers, names):
            t = s.stats
            v = (t.conns & M32, t.inpkts & M32, t.outpkts & M32, t.inbytes & M64, t.outbytes & M64)
            if max(v) < _SMALL and not fmt.exact:
                lines.append("  -> %-28s%9d%9d%9d%9d%9d" % (n, *v))
            else:
                lines.append("  -> %-28s" % n + "".join(print_largenum(x, fmt.exact) for x in v))
        return lines
    if fmt.rate:
        lines = []
        for s, n in zip(servers, names):
            t = s.stats
            inbps, outbps = t.inbps & M32, t.outbps & M32
            head = "  -> %-28s %8d %8d %8d" % (n, t.cps & M32, t.inpps & M32, t.outpps & M32)
            if inbps < _SMALL and outbps < _SMALL and not fmt.exact:
                lines.append("%s%9d%9d" % (head, inbps, outbps))
            else:
                lines.append(
                    head + print_largenum(inbps, fmt.exact) + print_largenum(outbps, fmt.exact)
                )
        return lines
    if fmt.thresholds:
        return [
            "  -> %-28s %-10d %-10d %-10d %-10d"
            % (
                n,
                s.server.u_threshold & M32,
                s.server.l_threshold & M32,
                s.active_conns & M32,
                s.inact_conns & M32,
            )
            for s, n in zip(servers, names)
        ]
    if fmt.persistent_conn:
        return [
            "  -> %-28s %-9d %-11d %-10d %-10d"
            % (
                n,
                s.server.weight & M32,
                s.persist_conns & M32,
                s.active_conns & M32,
                s.inact_conns & M32,
            )
            for s, n in zip(servers, names)
        ]
    fwd = FWD_NAME
    if fmt.tun_info:
        lines = []
        for s, n in zip(servers, names):
            srv = s.server
            f = int(srv.forward)
            lines.append(
                "  -> %-28s %-7s %-13s %-6d %-10d %-10d"
                % (
                    n,
                    fwd.get(f, NULL_TEXT),
                    _tun_info(f, int(srv.tun_type), srv.tun_port, int(srv.tun_flags)),
                    s32(srv.weight),
                    s.active_conns & M32,
                    s.inact_conns & M32,
                )
            )
        return lines
    return [
        "  -> %-28s %-7s %-6d %-10d %-10d"
        % (
            n,
            fwd.get(s.server.forward, NULL_TEXT),
            s32(s.server.weight),
            s.active_conns & M32,
            s.inact_conns & M32,
        )
        for s, n in zip(servers, names)
    ]


def service_lines(
    status: ServiceStatus,
    servers: Sequence[ServerStatus],
    fmt: ListFormat,
    resolver: Resolver,
) -> list[str]:
    """One service's line followed by its servers' lines, in the order given."""
    names = dest_names(servers, port_proto(status), fmt.numeric, resolver, True)
    lines = [_service_line(status, fmt, resolver)]
    lines.extend(_dest_lines(servers, names, fmt))
    return lines
