"""Connection-table rows (`-L -c`) as ipvsadm 1.31 prints them (top layer:
pure Python, no cffi). Behind pyipvs.format; import from there, except on
paths that count their start-up: `pyipvsadm -Lnc` takes `ConnRow` and the
titles from here without the other formatters, name resolution or `socket`
(tests/unit/test_startup_imports.py).

The rows come from /proc/net/ip_vs_conn, parsed elsewhere into `ConnRow`.
"""

# printf-style % mirrors the C format strings being reproduced, and is the fastest
# (UP031 is off for these modules in pyproject.toml).

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyipvs.format_titles import M32, conn_titles

if TYPE_CHECKING:
    from pyipvs.model import IPAddress
    from pyipvs.names import Resolver

# ipvsadm names ports only for these protocol texts; the rest (IP templates
# of fwmark services, ICMP, ...) stay numeric.
_CONN_PORT_PROTO = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}


@dataclass(frozen=True, slots=True)
class ConnRow:
    """One line of /proc/net/ip_vs_conn.

    `proto` and `state` are the kernel's text as read; `expires` is in
    seconds. `pe_name`/`pe_data` are None when the line has no PE part.
    """

    proto: str
    caddr: IPAddress
    cport: int
    vaddr: IPAddress
    vport: int
    daddr: IPAddress
    dport: int
    state: str
    expires: int
    pe_name: str | None = None
    pe_data: str | None = None


def conn_header_lines(persistent_conn: bool) -> list[str]:
    """`IPVS connection entries` and the column titles."""
    return conn_titles(persistent_conn)


def _expire_text(expires: int) -> str:
    # ipvsadm keeps the seconds in an unsigned int, so a negative value
    # wraps to 2^32 - n before the minute/second split.
    u = expires & M32
    return "%02d:%02d" % (u // 60, u % 60)


def conn_line(row: ConnRow, numeric: bool, persistent_conn: bool, resolver: Resolver) -> str:
    """One connection row. With --persistent-conn and PE data present, the
    destination column is 16 wide (the title says 18: a 1.31 quirk)."""
    from pyipvs.format_addr import addrport  # here: it brings socket and names

    if numeric:
        # Inlined IPv4 text: connection tables run to hundreds of thousands of rows.
        c, v, d = row.caddr, row.vaddr, row.daddr
        cname = (
            "%d.%d.%d.%d:%d" % (*c.packed, row.cport & 0xFFFF)
            if c.version == 4
            else addrport(c, row.cport, None, True, resolver)
        )
        vname = (
            "%d.%d.%d.%d:%d" % (*v.packed, row.vport & 0xFFFF)
            if v.version == 4
            else addrport(v, row.vport, None, True, resolver)
        )
        dname = (
            "%d.%d.%d.%d:%d" % (*d.packed, row.dport & 0xFFFF)
            if d.version == 4
            else addrport(d, row.dport, None, True, resolver)
        )
    else:
        proto = _CONN_PORT_PROTO.get(row.proto)
        cname = addrport(row.caddr, row.cport, proto, False, resolver)
        vname = addrport(row.vaddr, row.vport, proto, False, resolver)
        dname = addrport(row.daddr, row.dport, proto, False, resolver)
    expire = _expire_text(row.expires)
    if persistent_conn and row.pe_name is not None and row.pe_data is not None:
        return "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s" % (
            row.proto,
            expire,
            row.state,
            cname,
            vname,
            dname,
            row.pe_name,
            row.pe_data,
        )
    return "%-3s %-6s %-11s %-18s %-18s %s" % (row.proto, expire, row.state, cname, vname, dname)
