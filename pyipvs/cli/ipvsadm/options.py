"""The ipvsadm 1.31 option table, as data (top layer: the `pyipvsadm` front end).

Every switch ipvsadm accepts, with its long and short spelling, whether it
takes an argument, and the bit it occupies in the command/option matrix
(`matrix.py`). The tokenizer (`tokenizer.py`) reads this table the way popt
reads ipvsadm's, so the order of the rows matters where two rows share a name:
`--list` belongs to `-L` because `-L` comes first.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Arg(enum.Enum):
    """What follows a switch."""

    NONE = 0
    REQUIRED = 1
    OPTIONAL = 2  # only `-p`: taken unless the next word starts with '-'


class Opt(enum.IntEnum):
    """Matrix bits (the numbering is ipvsadm's, as its messages depend on it)."""

    NUMERIC = 0
    CONNECTION = 1
    SERVICE = 2
    SCHEDULER = 3
    PERSISTENT = 4
    NETMASK = 5
    SERVER = 6
    FORWARD = 7
    WEIGHT = 8
    U_THRESHOLD = 9
    L_THRESHOLD = 10
    MCAST_INTERFACE = 11
    TIMEOUT = 12
    DAEMON = 13
    STATS = 14
    RATE = 15
    THRESHOLDS = 16
    PERSISTENT_CONN = 17
    NOSORT = 18
    SYNCID = 19
    EXACT = 20
    ONEPACKET = 21
    PE = 22
    SCHED_FLAGS = 23
    MCAST_GROUP = 24
    MCAST_PORT = 25
    MCAST_TTL = 26
    SYNC_MAXLEN = 27
    TUN_INFO = 28
    TUN_TYPE = 29
    TUN_PORT = 30
    TUN_NOCSUM = 31
    TUN_CSUM = 32
    TUN_REMCSUM = 33


#: The name each bit has in ipvsadm's messages ("multiple 'x' options ...").
OPT_NAMES: dict[Opt, str] = {
    Opt.NUMERIC: "numeric",
    Opt.CONNECTION: "connection",
    Opt.SERVICE: "service-address",
    Opt.SCHEDULER: "scheduler",
    Opt.PERSISTENT: "persistent",
    Opt.NETMASK: "netmask",
    Opt.SERVER: "real-server",
    Opt.FORWARD: "forwarding-method",
    Opt.WEIGHT: "weight",
    Opt.U_THRESHOLD: "u-threshold",
    Opt.L_THRESHOLD: "l-threshold",
    Opt.MCAST_INTERFACE: "mcast-interface",
    Opt.TIMEOUT: "timeout",
    Opt.DAEMON: "daemon",
    Opt.STATS: "stats",
    Opt.RATE: "rate",
    Opt.THRESHOLDS: "thresholds",
    Opt.PERSISTENT_CONN: "persistent-conn",
    Opt.NOSORT: "nosort",
    Opt.SYNCID: "syncid",
    Opt.EXACT: "exact",
    Opt.ONEPACKET: "ops",
    Opt.PE: "pe",
    Opt.SCHED_FLAGS: "sched-flags",
    Opt.MCAST_GROUP: "mcast-group",
    Opt.MCAST_PORT: "mcast-port",
    Opt.MCAST_TTL: "mcast-ttl",
    Opt.SYNC_MAXLEN: "sync-maxlen",
    Opt.TUN_INFO: "tun-info",
    Opt.TUN_TYPE: "tun-type",
    Opt.TUN_PORT: "tun-port",
    Opt.TUN_NOCSUM: "tun-nocsum",
    Opt.TUN_CSUM: "tun-csum",
    Opt.TUN_REMCSUM: "tun-remcsum",
}


@dataclass(frozen=True, slots=True)
class Switch:
    """One row of the table.

    `key` names what the switch does (the executor dispatches on it); `bit` is
    its matrix bit, or None for switches the matrix does not see (commands,
    `-6`, `--sort`, `-h`, `-v`).
    """

    key: str
    long: str | None
    short: str | None
    arg: Arg = Arg.NONE
    bit: Opt | None = None
    command: bool = False


def _cmd(key: str, long: str, short: str | None, arg: Arg = Arg.NONE) -> Switch:
    return Switch(key, long, short, arg, None, True)


# Row order follows popt's search order in ipvsadm 1.31 (first match wins).
SWITCHES: tuple[Switch, ...] = (
    _cmd("add-service", "add-service", "A"),
    _cmd("edit-service", "edit-service", "E"),
    _cmd("delete-service", "delete-service", "D"),
    _cmd("flush", "clear", "C"),
    _cmd("list", "list", "L"),
    _cmd("list", "list", "l"),
    _cmd("zero", "zero", "Z"),
    _cmd("add-server", "add-server", "a"),
    _cmd("edit-server", "edit-server", "e"),
    _cmd("delete-server", "delete-server", "d"),
    _cmd("set", "set", None),
    _cmd("help", "help", "h"),
    _cmd("version", "version", "v"),
    _cmd("restore", "restore", "R"),
    _cmd("save", "save", "S"),
    _cmd("start-daemon", "start-daemon", None, Arg.REQUIRED),
    _cmd("stop-daemon", "stop-daemon", None, Arg.REQUIRED),
    Switch("tcp-service", "tcp-service", "t", Arg.REQUIRED, Opt.SERVICE),
    Switch("udp-service", "udp-service", "u", Arg.REQUIRED, Opt.SERVICE),
    Switch("sctp-service", "sctp-service", None, Arg.REQUIRED, Opt.SERVICE),
    Switch("fwmark-service", "fwmark-service", "f", Arg.REQUIRED, Opt.SERVICE),
    Switch("scheduler", "scheduler", "s", Arg.REQUIRED, Opt.SCHEDULER),
    Switch("persistent", "persistent", "p", Arg.OPTIONAL, Opt.PERSISTENT),
    Switch("netmask", "netmask", "M", Arg.REQUIRED, Opt.NETMASK),
    Switch("real-server", "real-server", "r", Arg.REQUIRED, Opt.SERVER),
    Switch("masquerading", "masquerading", "m", Arg.NONE, Opt.FORWARD),
    Switch("ipip", "ipip", "i", Arg.NONE, Opt.FORWARD),
    Switch("gatewaying", "gatewaying", "g", Arg.NONE, Opt.FORWARD),
    Switch("weight", "weight", "w", Arg.REQUIRED, Opt.WEIGHT),
    Switch("u-threshold", "u-threshold", "x", Arg.REQUIRED, Opt.U_THRESHOLD),
    Switch("l-threshold", "l-threshold", "y", Arg.REQUIRED, Opt.L_THRESHOLD),
    Switch("numeric", "numeric", "n", Arg.NONE, Opt.NUMERIC),
    Switch("connection", "connection", "c", Arg.NONE, Opt.CONNECTION),
    Switch("mcast-interface", "mcast-interface", None, Arg.REQUIRED, Opt.MCAST_INTERFACE),
    Switch("syncid", "syncid", None, Arg.REQUIRED, Opt.SYNCID),
    Switch("timeout", "timeout", None, Arg.NONE, Opt.TIMEOUT),
    Switch("daemon", "daemon", None, Arg.NONE, Opt.DAEMON),
    Switch("stats", "stats", None, Arg.NONE, Opt.STATS),
    Switch("rate", "rate", None, Arg.NONE, Opt.RATE),
    Switch("thresholds", "thresholds", None, Arg.NONE, Opt.THRESHOLDS),
    Switch("persistent-conn", "persistent-conn", None, Arg.NONE, Opt.PERSISTENT_CONN),
    Switch("nosort", "nosort", None, Arg.NONE, Opt.NOSORT),
    Switch("sort", "sort", None),
    Switch("exact", "exact", "X", Arg.NONE, Opt.EXACT),
    Switch("ipv6", "ipv6", "6"),
    Switch("ops", "ops", "o", Arg.NONE, Opt.ONEPACKET),
    Switch("pe", "pe", None, Arg.REQUIRED, Opt.PE),
    Switch("sched-flags", "sched-flags", "b", Arg.REQUIRED, Opt.SCHED_FLAGS),
    Switch("mcast-group", "mcast-group", None, Arg.REQUIRED, Opt.MCAST_GROUP),
    Switch("mcast-port", "mcast-port", None, Arg.REQUIRED, Opt.MCAST_PORT),
    Switch("mcast-ttl", "mcast-ttl", None, Arg.REQUIRED, Opt.MCAST_TTL),
    Switch("sync-maxlen", "sync-maxlen", None, Arg.REQUIRED, Opt.SYNC_MAXLEN),
    Switch("tun-info", "tun-info", None, Arg.NONE, Opt.TUN_INFO),
    Switch("tun-type", "tun-type", None, Arg.REQUIRED, Opt.TUN_TYPE),
    Switch("tun-port", "tun-port", None, Arg.REQUIRED, Opt.TUN_PORT),
    Switch("tun-nocsum", "tun-nocsum", None, Arg.NONE, Opt.TUN_NOCSUM),
    Switch("tun-csum", "tun-csum", None, Arg.NONE, Opt.TUN_CSUM),
    Switch("tun-remcsum", "tun-remcsum", None, Arg.NONE, Opt.TUN_REMCSUM),
)


def by_long(name: str) -> Switch | None:
    """The first row whose long name is exactly `name` (no abbreviations)."""
    return _BY_LONG.get(name)


def by_short(char: str) -> Switch | None:
    """The row for a one-letter switch."""
    return _BY_SHORT.get(char)


def _index_long() -> dict[str, Switch]:
    table: dict[str, Switch] = {}
    for sw in SWITCHES:
        if sw.long is not None:
            table.setdefault(sw.long, sw)
    return table


_BY_LONG = _index_long()
_BY_SHORT = {sw.short: sw for sw in SWITCHES if sw.short is not None}
