"""Which options each command allows, and which each tunnel type allows, as data
(top layer: the `pyipvsadm` front end).

ipvsadm 1.31 checks a parsed command line against a command x option table:
an option is required, illegal, optional, or one of an exclusive group. The
bits are checked in ascending order and the first problem is reported, so the
order of `Opt` decides which message a bad line gets. Tunnel options of `-a`
and `-e` go through a second, smaller table keyed by tunnel type.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from pyipvs.model import TunnelType

from .options import OPT_NAMES, Opt
from .outcome import UsageError


class Command(enum.Enum):
    """The commands, valued by the name ipvsadm's messages use."""

    ADD_SERVICE = "add-service"
    EDIT_SERVICE = "edit-service"
    DELETE_SERVICE = "delete-service"
    FLUSH = "flush"
    LIST = "list"
    ADD_SERVER = "add-server"
    DELETE_SERVER = "delete-server"
    EDIT_SERVER = "edit-server"
    SET = "set"
    START_DAEMON = "start-daemon"
    STOP_DAEMON = "stop-daemon"
    RESTORE = "restore"
    SAVE = "save"
    ZERO = "zero"


@dataclass(frozen=True, slots=True)
class Rule:
    """One row: anything not named is illegal."""

    required: frozenset[Opt] = frozenset()
    exclusive: frozenset[Opt] = frozenset()
    optional: frozenset[Opt] = frozenset()


def _rule(
    required: Iterable[Opt] = (), exclusive: Iterable[Opt] = (), optional: Iterable[Opt] = ()
) -> Rule:
    return Rule(frozenset(required), frozenset(exclusive), frozenset(optional))


_SERVICE_SETTINGS = (
    Opt.SCHEDULER,
    Opt.PERSISTENT,
    Opt.NETMASK,
    Opt.ONEPACKET,
    Opt.PE,
    Opt.SCHED_FLAGS,
)
_TUNNEL = (Opt.TUN_TYPE, Opt.TUN_PORT, Opt.TUN_NOCSUM, Opt.TUN_CSUM, Opt.TUN_REMCSUM)
_SERVER_SETTINGS = (Opt.FORWARD, Opt.WEIGHT, Opt.U_THRESHOLD, Opt.L_THRESHOLD, *_TUNNEL)

RULES: dict[Command, Rule] = {
    Command.ADD_SERVICE: _rule(required=[Opt.SERVICE], optional=_SERVICE_SETTINGS),
    Command.EDIT_SERVICE: _rule(required=[Opt.SERVICE], optional=_SERVICE_SETTINGS),
    Command.DELETE_SERVICE: _rule(required=[Opt.SERVICE]),
    Command.FLUSH: _rule(),
    Command.LIST: _rule(
        exclusive=[Opt.CONNECTION, Opt.SERVICE, Opt.TIMEOUT, Opt.DAEMON],
        optional=[
            Opt.NUMERIC,
            Opt.STATS,
            Opt.RATE,
            Opt.THRESHOLDS,
            Opt.PERSISTENT_CONN,
            Opt.NOSORT,
            Opt.SYNCID,
            Opt.EXACT,
            Opt.TUN_INFO,
        ],
    ),
    Command.ADD_SERVER: _rule(required=[Opt.SERVICE, Opt.SERVER], optional=_SERVER_SETTINGS),
    Command.DELETE_SERVER: _rule(required=[Opt.SERVICE, Opt.SERVER]),
    Command.EDIT_SERVER: _rule(required=[Opt.SERVICE, Opt.SERVER], optional=_SERVER_SETTINGS),
    Command.SET: _rule(),
    Command.START_DAEMON: _rule(
        optional=[
            Opt.MCAST_INTERFACE,
            Opt.SYNCID,
            Opt.MCAST_GROUP,
            Opt.MCAST_PORT,
            Opt.MCAST_TTL,
            Opt.SYNC_MAXLEN,
        ]
    ),
    Command.STOP_DAEMON: _rule(optional=[Opt.SYNCID]),
    Command.RESTORE: _rule(),
    Command.SAVE: _rule(optional=[Opt.NUMERIC]),
    Command.ZERO: _rule(optional=[Opt.SERVICE]),
}


# Every option in the table's bit order (iterating the enum itself costs a
# generator step per member, on every line of a restore).
_ALL_OPTS = tuple(Opt)


def check_command(command: Command, given: frozenset[Opt] | set[Opt]) -> None:
    """Raise UsageError with ipvsadm's message for the first offending bit."""
    _check(RULES[command], _ALL_OPTS, given, f"the '{command.value}' command")


# The tunnel table only looks at these four bits, in this order.
TUNNEL_BITS = (Opt.TUN_PORT, Opt.TUN_NOCSUM, Opt.TUN_CSUM, Opt.TUN_REMCSUM)
_CSUMS = (Opt.TUN_NOCSUM, Opt.TUN_CSUM, Opt.TUN_REMCSUM)

TUNNEL_RULES: dict[TunnelType, Rule] = {
    TunnelType.IPIP: _rule(),
    TunnelType.GUE: _rule(required=[Opt.TUN_PORT], exclusive=_CSUMS),
    TunnelType.GRE: _rule(exclusive=[Opt.TUN_NOCSUM, Opt.TUN_CSUM]),
}

TUNNEL_NAMES: dict[TunnelType, str] = {
    TunnelType.IPIP: "ipip",
    TunnelType.GUE: "gue",
    TunnelType.GRE: "gre",
}


def check_tunnel(tun_type: TunnelType, given: frozenset[Opt] | set[Opt]) -> None:
    """The tunnel-type table's check, with its own wording ("... tunnel type")."""
    _check(
        TUNNEL_RULES[tun_type], TUNNEL_BITS, given, f"the '{TUNNEL_NAMES[tun_type]}' tunnel type"
    )


def _check(rule: Rule, bits: Iterable[Opt], given: frozenset[Opt] | set[Opt], what: str) -> None:
    first_exclusive: Opt | None = None
    for bit in bits:
        if bit not in given:
            if bit in rule.required:
                raise UsageError(f"You need to supply the '{OPT_NAMES[bit]}' option for {what}")
            continue
        name = OPT_NAMES[bit]
        if bit in rule.exclusive:
            if first_exclusive is None:
                first_exclusive = bit
                continue
            other = OPT_NAMES[first_exclusive]
            raise UsageError(f"The option '{name}' conflicts with the '{other}' option in {what}")
        if bit not in rule.required and bit not in rule.optional:
            raise UsageError(f"Illegal '{name}' option with {what}")
