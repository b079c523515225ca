"""The fixed text at the head of the listings, from plain values (top layer:
pure Python that imports nothing).

`pyipvsadm`'s thin start (pyipvs/cli/ipvsadm/quick.py) prints these heads
without the model or any dataclass, and the full path's
pyipvs.format_head and pyipvs.format_conn take them from here, so one piece
of code writes each head on both paths.
"""

# printf-style % mirrors the C format strings being reproduced, and is the fastest
# (UP031 is off for these modules in pyproject.toml).

M32 = 0xFFFFFFFF


def s32(value: int) -> int:
    """A 32-bit value as C's `%d` shows it (two's complement)."""
    value &= M32
    return value - 0x100000000 if value & 0x80000000 else value


def version_text(major: int, minor: int, patch: int, conn_tab_size: int) -> str:
    """`IP Virtual Server version 1.2.1 (size=4096)`."""
    return "IP Virtual Server version %d.%d.%d (size=%d)" % (
        major & 0xFF,
        minor & 0xFF,
        patch & 0xFF,
        s32(conn_tab_size),
    )


def list_titles(
    stats: bool, rate: bool, thresholds: bool, persistent_conn: bool, tun_info: bool
) -> list[str]:
    """The two column-title lines of `-L` (some end in a blank: ipvsadm pads
    the last title). Several options may be set; ipvsadm's precedence applies."""
    if stats:
        head = "%-33s %8s %8s %8s %8s %8s" % (
            "Prot LocalAddress:Port",
            "Conns",
            "InPkts",
            "OutPkts",
            "InBytes",
            "OutBytes",
        )
    elif rate:
        head = "%-33s %8s %8s %8s %8s %8s" % (
            "Prot LocalAddress:Port",
            "CPS",
            "InPPS",
            "OutPPS",
            "InBPS",
            "OutBPS",
        )
    elif thresholds:
        head = "%-33s %-10s %-10s %-10s %-10s" % (
            "Prot LocalAddress:Port",
            "Uthreshold",
            "Lthreshold",
            "ActiveConn",
            "InActConn",
        )
    elif persistent_conn:
        head = "%-33s %-9s %-11s %-10s %-10s" % (
            "Prot LocalAddress:Port",
            "Weight",
            "PersistConn",
            "ActiveConn",
            "InActConn",
        )
    elif tun_info:
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


def conn_titles(persistent_conn: bool) -> list[str]:
    """`IPVS connection entries` and the column titles of `-L -c`."""
    if persistent_conn:
        head = "pro expire %-11s %-18s %-18s %-18s %-16s %s" % (
            "state",
            "source",
            "virtual",
            "destination",
            "pe name",
            "pe_data",
        )
    else:
        head = "pro expire %-11s %-18s %-18s %s" % ("state", "source", "virtual", "destination")
    return ["IPVS connection entries", head]
