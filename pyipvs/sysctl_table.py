"""The table of IPVS kernel tunables, as data (top layer: pure Python).

One `Tunable` per name the kernel has had under /proc/sys/net/ipv4/vs, in
the kernel's own order: how it is stored (`Kind`), the values pyipvs accepts,
the default of a fresh namespace, when it can be missing, and what it does in
our own words. `pyipvs.sysctl` reads, checks and writes by this table;
docs/tunables.md explains when to change each one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pyipvs.model import INT_MAX

ULONG_MAX = 2**64 - 1


class Kind(enum.Enum):
    """How the kernel stores a tunable, which fixes how we parse and check it."""

    INT = "int"  # an integer within [minimum, maximum]
    BOOL = "bool"  # a switch, 0 or 1
    POW2 = "pow2"  # a power of two, at least 1
    PAIR = "pair"  # two integers (sync_threshold)
    SECONDS = "seconds"  # kept in jiffies, shown and written in seconds
    ULONG = "ulong"  # an unsigned long
    CPULIST = "cpulist"  # a CPU list such as 0-3,6


@dataclass(frozen=True, slots=True)
class Tunable:
    """One entry of the table. `since` and `needs` say when it can be missing."""

    name: str
    kind: Kind
    default: str  # as the kernel shows it in a fresh namespace
    meaning: str
    minimum: int = 0
    maximum: int = INT_MAX
    since: str | None = None  # first kernel that has it, where it matters
    needs: str | None = None  # kernel option or module it depends on


# Kernel table order (net/netfilter/ipvs/ip_vs_ctl.c), then the scheduler
# modules' own entries. Meanings are ours; docs/tunables.md says more.
TUNABLES: tuple[Tunable, ...] = (
    Tunable(
        "amemthresh",
        Kind.INT,
        "1024",
        "free-memory threshold, in pages, below which the automatic defense modes switch on",
    ),
    Tunable(
        "am_droprate",
        Kind.INT,
        "10",
        "in drop_packet mode 3, drop one new-connection packet in this many",
    ),
    Tunable(
        "drop_entry",
        Kind.INT,
        "0",
        "defense: randomly expire connection entries (0 off, 1 auto, 2 auto and active, 3 always)",
        maximum=3,
    ),
    Tunable(
        "drop_packet",
        Kind.INT,
        "0",
        "defense: drop packets of new connections at a rate (0 off, 1 auto, 2 auto and active, 3 "
        "always)",
        maximum=3,
    ),
    Tunable(
        "conntrack",
        Kind.BOOL,
        "0",
        "keep netfilter conntrack entries for IPVS connections, for stateful firewalling of them",
        needs="CONFIG_IP_VS_NFCT",
    ),
    Tunable(
        "secure_tcp",
        Kind.INT,
        "0",
        "defense: use the stricter TCP state table (0 off, 1 auto, 2 auto and active, 3 always)",
        maximum=3,
    ),
    Tunable(
        "snat_reroute",
        Kind.BOOL,
        "1",
        "route NAT replies again once their source is the virtual address, as if the director "
        "sent them (policy routing)",
    ),
    Tunable(
        "sync_version",
        Kind.INT,
        "1",
        "connection-sync message format: 0 the old IPv4-only one, 1 the current one",
        maximum=1,
    ),
    Tunable(
        "sync_ports",
        Kind.POW2,
        "1",
        "number of sync threads and ports (a power of two); read when the daemon starts",
    ),
    Tunable(
        "sync_persist_mode",
        Kind.INT,
        "0",
        "1: for persistent services sync only the persistence templates, not every connection",
        maximum=1,
    ),
    Tunable(
        "sync_qlen_max",
        Kind.ULONG,
        "(1/32 of memory pages)",
        "most sync messages queued for sending before new ones are dropped",
        maximum=ULONG_MAX,
    ),
    Tunable(
        "sync_sock_size",
        Kind.INT,
        "0",
        "send (master) or receive (backup) buffer of the sync sockets in bytes; 0 keeps the "
        "system default",
    ),
    Tunable(
        "cache_bypass",
        Kind.BOOL,
        "0",
        "when no real server is usable, forward the packet to its original destination "
        "(transparent caches)",
    ),
    Tunable(
        "expire_nodest_conn",
        Kind.BOOL,
        "0",
        "expire an entry at its next packet once its real server is gone, so a retrying client is "
        "rescheduled",
    ),
    Tunable(
        "sloppy_tcp",
        Kind.BOOL,
        "0",
        "create entries from any TCP packet, not only SYN (lets a standby director take over live "
        "connections)",
    ),
    Tunable(
        "sloppy_sctp",
        Kind.BOOL,
        "0",
        "create entries from any SCTP packet, not only INIT",
    ),
    Tunable(
        "expire_quiescent_template",
        Kind.BOOL,
        "0",
        "expire persistence templates whose real server has weight 0, so clients move off it",
    ),
    Tunable(
        "sync_threshold",
        Kind.PAIR,
        "3\t50",
        "sync a connection after THRESHOLD packets, then every PERIOD packets (PERIOD 0: once)",
    ),
    Tunable(
        "sync_refresh_period",
        Kind.SECONDS,
        "0",
        "resync an unchanged connection at most this often, in seconds; 0 leaves it to "
        "sync_threshold",
    ),
    Tunable(
        "sync_retries",
        Kind.INT,
        "0",
        "repeat each sync message up to this many times, every sync_refresh_period/8 (0..3)",
        maximum=3,
    ),
    Tunable(
        "nat_icmp_send",
        Kind.BOOL,
        "0",
        "answer a NAT real server's packet that matches no entry with ICMP port unreachable",
    ),
    Tunable(
        "pmtu_disc",
        Kind.BOOL,
        "1",
        "refuse with ICMP fragmentation-needed the DF packets that exceed the path MTU; 0 "
        "fragments them (tunnels)",
    ),
    Tunable(
        "backup_only",
        Kind.BOOL,
        "0",
        "while the backup sync daemon runs, stop load balancing (avoids loops between DR/TUN "
        "directors)",
    ),
    Tunable(
        "conn_reuse_mode",
        Kind.INT,
        "1",
        "on client port reuse: 0 keep the old real server, 1 reschedule when safe, 2 also from "
        "FIN_WAIT (bitmap)",
        maximum=3,
    ),
    Tunable(
        "schedule_icmp",
        Kind.BOOL,
        "0",
        "balance ICMP packets that match no entry too (with sloppy_tcp/sctp: stateless, ECMP-like "
        "use)",
    ),
    Tunable(
        "ignore_tunneled",
        Kind.BOOL,
        "0",
        "leave packets of protocols IPVS does not handle (ipip, GRE) alone: no loops when a "
        "director is also a real server",
    ),
    Tunable(
        "run_estimation",
        Kind.BOOL,
        "1",
        "compute the per-second rates; 0 saves CPU on very large tables",
        since="5.19",
    ),
    Tunable(
        "est_cpulist",
        Kind.CPULIST,
        "(housekeeping CPUs)",
        "CPUs the rate-estimation kernel threads may run on",
        since="6.2",
    ),
    Tunable(
        "est_nice",
        Kind.INT,
        "0",
        "scheduling priority (nice) of the rate-estimation kernel threads",
        minimum=-20,
        maximum=19,
        since="6.2",
    ),
    Tunable(
        "debug_level",
        Kind.INT,
        "0",
        "verbosity of IPVS debug messages (0..12 and more); global, set in the initial namespace",
        needs="CONFIG_IP_VS_DEBUG",
    ),
    Tunable(
        "lblc_expiration",
        Kind.SECONDS,
        "86400",
        "idle time after which the lblc scheduler forgets a destination address",
        needs="ip_vs_lblc",
    ),
    Tunable(
        "lblcr_expiration",
        Kind.SECONDS,
        "86400",
        "idle time after which the lblcr scheduler forgets a destination address",
        needs="ip_vs_lblcr",
    ),
)

BY_NAME: dict[str, Tunable] = {t.name: t for t in TUNABLES}
