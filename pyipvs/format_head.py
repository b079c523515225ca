"""The head of a `-L` listing: its format options (`ListFormat`), the version
line and the column titles, and C's view of a 32-bit value (top layer: pure
Python, no cffi). Behind pyipvs.format; import from there.

Kept apart from the row formatters because `pyipvsadm -Ln` and `-Sn` need
only this much in Python (the C core formats their rows): importing it costs
no name resolution, sorting or socket module, each a start-up cost (about
15-45 ms a module in the emulated test VM).
"""

# printf-style % mirrors the C format strings being reproduced, and is the fastest
# (UP031 is off for these modules in pyproject.toml).

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyipvs.model import Info

M32 = 0xFFFFFFFF


def s32(value: int) -> int:
    """A 32-bit value as C's `%d` shows it (two's complement)."""
    value &= M32
    return value - 0x100000000 if value & 0x80000000 else value


@dataclass(frozen=True, slots=True)
class ListFormat:
    """The `-L` format options. Several may be set; ipvsadm's precedence applies."""

    numeric: bool = False
    stats: bool = False
    rate: bool = False
    thresholds: bool = False
    persistent_conn: bool = False
    tun_info: bool = False
    exact: bool = False
    nosort: bool = False


def version_line(info: Info) -> str:
    """`IP Virtual Server version 1.2.1 (size=4096)`."""
    major, minor, patch = info.version
    return "IP Virtual Server version %d.%d.%d (size=%d)" % (
        major & 0xFF,
        minor & 0xFF,
        patch & 0xFF,
        s32(info.conn_tab_size),
    )


def title_lines(fmt: ListFormat) -> list[str]:
    """The two column-title lines (some end in a blank: ipvsadm pads the last title)."""
    if fmt.stats:
        head = "%-33s %8s %8s %8s %8s %8s" % (
            "Prot LocalAddress:Port",
            "Conns",
            "InPkts",
            "OutPkts",
            "InBytes",
            "OutBytes",
        )
    elif fmt.rate:
        head = "%-33s %8s %8s %8s %8s %8s" % (
            "Prot LocalAddress:Port",
            "CPS",
            "InPPS",
            "OutPPS",
            "InBPS",
            "OutBPS",
        )
    elif fmt.thresholds:
        head = "%-33s %-10s %-10s %-10s %-10s" % (
            "Prot LocalAddress:Port",
            "Uthreshold",
            "Lthreshold",
            "ActiveConn",
            "InActConn",
        )
    elif fmt.persistent_conn:
        head = "%-33s %-9s %-11s %-10s %-10s" % (
            "Prot LocalAddress:Port",
            "Weight",
            "PersistConn",
            "ActiveConn",
            "InActConn",
        )
    elif fmt.tun_info:
        return [
            "Prot LocalAddress:Port Scheduler Flags",
            "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn",
        ]
    else:
        return [
            "Prot LocalAddress:Port Scheduler Flags",
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        ]
    return [head, "  -> RemoteAddress:Port"]
