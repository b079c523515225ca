"""The command x option matrix and the tunnel table of pyipvsadm (host only).

The expected table is transcribed a second time here, column by column from
the reference (bits 0..33: x illegal, + required, 1 exclusive, . optional),
so a slip in either transcription shows up.
"""

from __future__ import annotations

import pytest

from pyipvs.cli.ipvsadm.matrix import Command, check_command, check_tunnel
from pyipvs.cli.ipvsadm.options import OPT_NAMES, Opt
from pyipvs.cli.ipvsadm.outcome import UsageError
from pyipvs.model import TunnelType

X = "x"
TABLE: dict[Command, str] = {
    Command.ADD_SERVICE: "xx+..." + X * 15 + "..." + X * 10,
    Command.EDIT_SERVICE: "xx+..." + X * 15 + "..." + X * 10,
    Command.DELETE_SERVICE: "xx+" + X * 31,
    Command.FLUSH: X * 34,
    Command.LIST: ".11" + X * 9 + "11" + "." * 7 + X * 7 + "." + X * 5,
    Command.ADD_SERVER: "xx+xxx+...." + X * 18 + "." * 5,
    Command.DELETE_SERVER: "xx+xxx+" + X * 27,
    Command.EDIT_SERVER: "xx+xxx+...." + X * 18 + "." * 5,
    Command.SET: X * 34,
    Command.START_DAEMON: X * 11 + "." + X * 7 + "." + X * 4 + "." * 4 + X * 6,
    Command.STOP_DAEMON: X * 19 + "." + X * 14,
    Command.RESTORE: X * 34,
    Command.SAVE: "." + X * 33,
    Command.ZERO: "xx." + X * 31,
}


def test_table_shape() -> None:
    assert len(TABLE) == len(Command)
    for row in TABLE.values():
        assert len(row) == 34


def _required(cmd: Command) -> set[Opt]:
    return {Opt(i) for i, c in enumerate(TABLE[cmd]) if c == "+"}


def _message(cmd: Command, given: set[Opt]) -> str | None:
    try:
        check_command(cmd, given)
    except UsageError as exc:
        return exc.message
    return None


@pytest.mark.parametrize("cmd", list(Command), ids=lambda c: c.value)
def test_every_cell(cmd: Command) -> None:
    base = _required(cmd)
    assert _message(cmd, base) is None
    for bit in Opt:
        cell = TABLE[cmd][bit]
        got = _message(cmd, base | {bit})
        if cell == "x":
            assert got == f"Illegal '{OPT_NAMES[bit]}' option with the '{cmd.value}' command"
        else:
            assert got is None, (cmd, bit)


@pytest.mark.parametrize("cmd", [c for c in Command if "+" in TABLE[c]], ids=lambda c: c.value)
def test_required(cmd: Command) -> None:
    first = min(_required(cmd))
    assert _message(cmd, set()) == (
        f"You need to supply the '{OPT_NAMES[first]}' option for the '{cmd.value}' command"
    )


def test_checked_in_bit_order() -> None:
    # bit 2 (service-address) is required before bit 6 (real-server)
    assert _message(Command.ADD_SERVER, {Opt.SERVER}) == (
        "You need to supply the 'service-address' option for the 'add-server' command"
    )
    assert _message(Command.ADD_SERVER, {Opt.SERVICE}) == (
        "You need to supply the 'real-server' option for the 'add-server' command"
    )
    # an illegal lower bit wins over a missing higher one
    assert _message(Command.ADD_SERVER, {Opt.NUMERIC}) == (
        "Illegal 'numeric' option with the 'add-server' command"
    )


def test_exclusive_group_names_the_first_one() -> None:
    assert _message(Command.LIST, {Opt.CONNECTION, Opt.SERVICE}) == (
        "The option 'service-address' conflicts with the 'connection' option in the 'list' command"
    )
    assert _message(Command.LIST, {Opt.TIMEOUT, Opt.DAEMON, Opt.SERVICE}) == (
        "The option 'timeout' conflicts with the 'service-address' option in the 'list' command"
    )


def _tunnel(tun: TunnelType, given: set[Opt]) -> str | None:
    try:
        check_tunnel(tun, given)
    except UsageError as exc:
        return exc.message
    return None


def test_tunnel_table() -> None:
    assert _tunnel(TunnelType.IPIP, set()) is None
    assert _tunnel(TunnelType.IPIP, {Opt.TUN_CSUM}) == (
        "Illegal 'tun-csum' option with the 'ipip' tunnel type"
    )
    assert _tunnel(TunnelType.GUE, set()) == (
        "You need to supply the 'tun-port' option for the 'gue' tunnel type"
    )
    assert _tunnel(TunnelType.GUE, {Opt.TUN_PORT, Opt.TUN_CSUM, Opt.TUN_REMCSUM}) == (
        "The option 'tun-remcsum' conflicts with the 'tun-csum' option in the 'gue' tunnel type"
    )
    assert _tunnel(TunnelType.GRE, {Opt.TUN_PORT}) == (
        "Illegal 'tun-port' option with the 'gre' tunnel type"
    )
    assert _tunnel(TunnelType.GRE, {Opt.TUN_REMCSUM}) == (
        "Illegal 'tun-remcsum' option with the 'gre' tunnel type"
    )
    assert _tunnel(TunnelType.GRE, {Opt.TUN_CSUM}) is None
    # the tunnel table ignores every other option
    assert _tunnel(TunnelType.IPIP, {Opt.TUN_TYPE, Opt.WEIGHT}) is None
