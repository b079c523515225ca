"""The short reports of `-L`: `--timeout` and `--daemon` (top layer: pure
Python, no cffi); the version header is format_head's. Behind pyipvs.format;
import from there.
"""

# printf-style % mirrors the C format strings being reproduced, and is the fastest
# (UP031 is off for these modules in pyproject.toml).

from __future__ import annotations

from collections.abc import Sequence

from pyipvs.format_addr import ntop
from pyipvs.format_head import M32, s32
from pyipvs.model import Daemon, DaemonState, Timeouts

_MASTER = int(DaemonState.MASTER)
_BACKUP = int(DaemonState.BACKUP)


def timeout_line(t: Timeouts) -> str:
    """`Timeout (tcp tcpfin udp): 900 120 300`."""
    return "Timeout (tcp tcpfin udp): %d %d %d" % (s32(t.tcp), s32(t.tcp_fin), s32(t.udp))


def daemon_lines(daemons: Sequence[Daemon]) -> list[str]:
    """One line per running sync daemon, master before backup as the kernel sends them.

    ipvsadm keeps two slots and puts a reply in the second once the first
    holds a state, so a third reply would overwrite the second; we keep that.
    """
    slots: list[Daemon | None] = [None, None]
    for d in daemons:
        first = slots[0]
        slots[1 if first is not None and int(first.state) else 0] = d
    lines = []
    for d in (s for s in slots if s is not None):
        state = int(d.state)
        if state & _MASTER:
            kind = "master"
        elif state & _BACKUP:
            kind = "backup"
        else:
            continue
        parts = ["%s sync daemon (mcast=%s, syncid=%d" % (kind, d.mcast_ifn, s32(d.syncid))]
        if d.sync_maxlen:
            parts.append(", maxlen=%d" % (d.sync_maxlen & M32))
        if d.mcast_group is not None:
            parts.append(", group=" + ntop(d.mcast_group))
        if d.mcast_port:
            parts.append(", port=%d" % (d.mcast_port & M32))
        if d.mcast_ttl:
            parts.append(", ttl=%d" % (d.mcast_ttl & M32))
        parts.append(")")
        lines.append("".join(parts))
    return lines
