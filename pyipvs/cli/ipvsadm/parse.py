"""From argv to a checked `Entry`, exactly in ipvsadm 1.31's order (top layer:
the `pyipvsadm` front end).

The first switch must be a command; every later switch is applied as popt
hands it over, so a bad value fails before anything after it is even looked
at, and a repeated matrix option fails at its second occurrence. Then come
the positional words (`--set`'s three timeouts, anything else is
unexpected), the scheduler flags (parsed last, so `-b sh-port -s sh`
works), the command/option matrix, and the semantic checks.

Failures raise the exceptions of `outcome.py`; a popt error after the
command raises `tokenizer.PoptError`, which ipvsadm reports without exiting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyipvs.model import (
    INT_MAX,
    DaemonState,
    Family,
    Forward,
    Protocol,
    ServiceFlag,
    Timeouts,
    TunnelFlag,
    TunnelType,
)

from . import spec
from .entry import Entry
from .matrix import Command, check_command, check_tunnel
from .options import OPT_NAMES, Opt
from .outcome import Crash, ShowHelp, ShowVersion, TryHelp, UsageError
from .tokenizer import Popt, PoptError, Token

MAX_TIMEOUT = 86400 * 31
PERSISTENT_DEFAULT = 360  # what ipvsadm sends for a bare -p (its man page says 300)
DEFAULT_SCHEDULER = "wlc"
DEFAULT_MCAST_IFN = "eth0"
SCHEDNAME_MAX = 15  # bytes kept of -s
PENAME_MAX = 16  # bytes kept of --pe
IFNAME_MAX = 15  # bytes kept of --mcast-interface
SCHED_FLAGS_MAX = 127  # bytes kept of -b

_COMMANDS: dict[str, Command] = {
    "add-service": Command.ADD_SERVICE,
    "edit-service": Command.EDIT_SERVICE,
    "delete-service": Command.DELETE_SERVICE,
    "flush": Command.FLUSH,
    "list": Command.LIST,
    "zero": Command.ZERO,
    "add-server": Command.ADD_SERVER,
    "edit-server": Command.EDIT_SERVER,
    "delete-server": Command.DELETE_SERVER,
    "set": Command.SET,
    "restore": Command.RESTORE,
    "save": Command.SAVE,
    "start-daemon": Command.START_DAEMON,
    "stop-daemon": Command.STOP_DAEMON,
}

_PROTOCOLS = {
    "tcp-service": Protocol.TCP,
    "udp-service": Protocol.UDP,
    "sctp-service": Protocol.SCTP,
}
_FORWARDS = {"masquerading": Forward.MASQ, "ipip": Forward.TUNNEL, "gatewaying": Forward.ROUTE}
_TUN_TYPES = {"ipip": TunnelType.IPIP, "gue": TunnelType.GUE, "gre": TunnelType.GRE}
_TUN_FLAGS = {
    "tun-nocsum": TunnelFlag.NOCSUM,
    "tun-csum": TunnelFlag.CSUM,
    "tun-remcsum": TunnelFlag.REMCSUM,
}

# -b tokens: (flag bit, the only scheduler allowed, or None for any)
_SCHED_FLAGS: dict[str, tuple[ServiceFlag, str | None]] = {
    "flag-1": (ServiceFlag.SCHED1, None),
    "flag-2": (ServiceFlag.SCHED2, None),
    "flag-3": (ServiceFlag.SCHED3, None),
    "sh-fallback": (ServiceFlag.SCHED1, "sh"),
    "sh-port": (ServiceFlag.SCHED2, "sh"),
    "mh-fallback": (ServiceFlag.SCHED1, "mh"),
    "mh-port": (ServiceFlag.SCHED2, "mh"),
}


def parse_command_line(argv: Sequence[str], *, posix: bool = False) -> Entry:
    """Parse and check one command line (argv[0] is the program name)."""
    popt = Popt(argv, posix=posix)
    entry = Entry()
    try:
        first = popt.next_token()
    except PoptError as exc:  # a bad or incomplete first switch
        raise TryHelp() from exc
    if first is None or not first.switch.command:
        raise TryHelp()
    _set_command(entry, first)
    while (token := popt.next_token()) is not None:
        _apply(entry, token)
    if entry.command is Command.SET:
        words = [popt.next_arg() for _ in range(3)]
        if None in words:
            raise UsageError("--set option requires 3 timeout values")
        tcp, fin, udp = (_timeout(w, 0) for w in words)
        entry.timeouts = Timeouts(tcp, fin, udp)
    extra = popt.next_arg()
    if extra is not None:
        raise UsageError(f"unexpected argument {extra}")
    if entry.sched_flags_arg:
        _apply_sched_flags(entry)
    _check(entry)
    return entry


def _set_command(entry: Entry, token: Token) -> None:
    key = token.switch.key
    if key == "help":
        raise ShowHelp()
    if key == "version":
        raise ShowVersion()
    entry.command = _COMMANDS[key]
    if key in ("start-daemon", "stop-daemon"):
        states = {"master": DaemonState.MASTER, "backup": DaemonState.BACKUP}
        if token.arg not in states:
            # sic: ipvsadm words the two differently
            raise UsageError(
                "illegal start-daemon parameter specified"
                if key == "start-daemon"
                else "illegal start_daemon specified"
            )
        entry.daemon_state = states[token.arg]


def _mark(entry: Entry, opt: Opt) -> None:
    if opt in entry.given:
        raise UsageError(f"multiple '{OPT_NAMES[opt]}' options specified")
    entry.given.add(opt)


def _arg(token: Token) -> str:
    assert token.arg is not None
    return token.arg


def _timeout(text: str | None, lo: int) -> int:
    if text is None:
        return PERSISTENT_DEFAULT
    value = spec.string_to_number(text, lo, MAX_TIMEOUT)
    if value is None:
        raise UsageError(f"invalid timeout value `{text}' specified")
    return value


def _number(text: str, lo: int, hi: int, message: str) -> int:
    value = spec.string_to_number(text, lo, hi)
    if value is None:
        raise UsageError(message)
    return value


def _apply(entry: Entry, token: Token) -> None:
    sw = token.switch
    if sw.command:
        raise UsageError(f"invalid option `{token.word}'")
    if sw.bit is not None:
        _mark(entry, sw.bit)
    handler = _HANDLERS.get(sw.key)
    if handler is not None:
        handler(entry, token)


def _service_address(entry: Entry, token: Token) -> None:
    entry.protocol = _PROTOCOLS[token.switch.key]
    hp = spec.parse_host_port(_arg(token), entry.protocol)
    if hp is None:
        raise UsageError("illegal virtual server address[:port] specified")
    entry.family = hp.family
    entry.address = hp.address
    if hp.family == Family.INET6:
        entry.netmask = 128
    if hp.port is not None:
        entry.port = hp.port


def _fwmark(entry: Entry, token: Token) -> None:
    entry.family = Family.INET
    entry.protocol = Protocol.TCP
    mark = spec.parse_fwmark(_arg(token))
    if mark is None:
        raise UsageError(f"invalid fwmark value `{token.arg}' specified")
    entry.fwmark = mark


def _ipv6(entry: Entry, token: Token) -> None:
    if not entry.fwmark:
        raise UsageError("-6 used before -f\n")  # sic: ipvsadm's text ends in a newline
    entry.family = Family.INET6
    entry.netmask = 128


def _persistent(entry: Entry, token: Token) -> None:
    entry.flags |= ServiceFlag.PERSISTENT
    entry.timeout = _timeout(token.arg, 1)


def _netmask(entry: Entry, token: Token) -> None:
    text = _arg(token)
    if entry.family != Family.INET6:
        mask = spec.parse_netmask4(text)
        if mask is None:
            raise UsageError("illegal virtual server persistent mask specified")
    else:
        mask = spec.parse_netmask6(text)
        if mask is None:
            raise UsageError("illegal ipv6 netmask specified")
    entry.netmask = mask


def _real_server(entry: Entry, token: Token) -> None:
    # Parsed against the service as it stands: its protocol names the port,
    # and its port is the default (even if -t only comes later).
    hp = spec.parse_host_port(_arg(token), entry.protocol)
    if hp is None:
        raise UsageError("illegal real server address[:port] specified")
    entry.server_family = hp.family
    entry.server_address = hp.address
    entry.server_port = hp.port if hp.port is not None else entry.port


def _set_str(attr: str, limit: int) -> Callable[[Entry, Token], None]:
    def handler(entry: Entry, token: Token) -> None:
        setattr(entry, attr, spec.c_truncate(_arg(token), limit))

    return handler


def _set_num(attr: str, lo: int, hi: int, message: str) -> Callable[[Entry, Token], None]:
    def handler(entry: Entry, token: Token) -> None:
        setattr(entry, attr, _number(_arg(token), lo, hi, message))

    return handler


def _forward(entry: Entry, token: Token) -> None:
    entry.forward = _FORWARDS[token.switch.key]


def _onepacket(entry: Entry, token: Token) -> None:
    entry.flags |= ServiceFlag.ONEPACKET


def _mcast_group(entry: Entry, token: Token) -> None:
    text = _arg(token)
    group = spec.parse_mcast_group(text)
    if group is None:
        kind = "IPv6" if ":" in text else "IPv4"
        raise UsageError(f"invalid {kind} mcast-group `{text}'")
    entry.mcast_group = group


def _tun_type(entry: Entry, token: Token) -> None:
    tun = _TUN_TYPES.get(_arg(token))
    if tun is None:
        raise UsageError("illegal tunnel type specified")
    entry.tun_type = tun


def _tun_flag(entry: Entry, token: Token) -> None:
    entry.tun_flags |= _TUN_FLAGS[token.switch.key]


_HANDLERS: dict[str, Callable[[Entry, Token], None]] = {
    "tcp-service": _service_address,
    "udp-service": _service_address,
    "sctp-service": _service_address,
    "fwmark-service": _fwmark,
    "ipv6": _ipv6,
    "scheduler": _set_str("scheduler", SCHEDNAME_MAX),
    "persistent": _persistent,
    "netmask": _netmask,
    "real-server": _real_server,
    "masquerading": _forward,
    "ipip": _forward,
    "gatewaying": _forward,
    # Debian's ipvsadm 1.31 takes weights up to INT_MAX (not 65535)
    "weight": _set_num("weight", 0, INT_MAX, "illegal weight specified"),
    "u-threshold": _set_num("u_threshold", 0, INT_MAX, "illegal u_threshold specified"),
    "l-threshold": _set_num("l_threshold", 0, INT_MAX, "illegal l_threshold specified"),
    "mcast-interface": _set_str("mcast_ifn", IFNAME_MAX),
    "syncid": _set_num("syncid", 0, 255, "illegal syncid specified"),
    "ops": _onepacket,
    "pe": _set_str("pe_name", PENAME_MAX),
    "sched-flags": _set_str("sched_flags_arg", SCHED_FLAGS_MAX),
    "mcast-group": _mcast_group,
    "mcast-port": _set_num("mcast_port", 1, 65535, "illegal mcast-port specified"),
    "mcast-ttl": _set_num("mcast_ttl", 1, 255, "illegal mcast-ttl specified"),
    "sync-maxlen": _set_num("sync_maxlen", 1, 65535 - 20 - 8, "illegal sync-maxlen specified"),
    "tun-type": _tun_type,
    "tun-port": _set_num("tun_port", 1, 65535, "illegal tunnel port specified"),
    "tun-nocsum": _tun_flag,
    "tun-csum": _tun_flag,
    "tun-remcsum": _tun_flag,
}


def _apply_sched_flags(entry: Entry) -> None:
    scheduler = entry.scheduler or DEFAULT_SCHEDULER
    names = [name for name in entry.sched_flags_arg.split(",") if name]
    if not names:
        raise Crash()  # ipvsadm 1.31 dereferences strtok's NULL here
    flags = 0
    for name in names:
        known = _SCHED_FLAGS.get(name)
        if known is None:
            raise UsageError(f"invalid scheduler flag `{name}'")
        bit, only_for = known
        if only_for is not None and scheduler != only_for:
            raise UsageError(f"incompatible scheduler flag `{name}'")
        flags |= bit
    sched_bits = ServiceFlag.SCHED1 | ServiceFlag.SCHED2 | ServiceFlag.SCHED3
    entry.flags = (entry.flags & ~sched_bits) | flags


def _check(entry: Entry) -> None:
    cmd = entry.command
    assert cmd is not None
    check_command(cmd, entry.given)
    if cmd in (Command.ADD_SERVICE, Command.EDIT_SERVICE):
        if not entry.fwmark and not entry.port and not entry.flags & ServiceFlag.PERSISTENT:
            raise UsageError("Zero port specified for non-persistent service")
        if (
            entry.flags & ServiceFlag.ONEPACKET
            and not entry.fwmark
            and entry.protocol != Protocol.UDP
        ):
            raise UsageError("One-Packet Scheduling is only for UDP virtual services")
        if not entry.scheduler:
            entry.scheduler = DEFAULT_SCHEDULER
    if cmd is Command.START_DAEMON and not entry.mcast_ifn:
        entry.mcast_ifn = DEFAULT_MCAST_IFN
    if cmd in (Command.ADD_SERVER, Command.EDIT_SERVER):
        # Direct routing and tunnels keep the virtual port: ipvsadm overrides
        # whatever port -r gave (not for -d, which sends it as parsed).
        if not entry.fwmark and entry.forward in (Forward.TUNNEL, Forward.ROUTE):
            entry.server_port = entry.port
        if entry.server_family != entry.family and entry.forward != Forward.TUNNEL:
            raise UsageError("Different address family is allowed only for tunneling servers")
        tunnel_opts = {Opt.TUN_TYPE, Opt.TUN_PORT, Opt.TUN_NOCSUM, Opt.TUN_CSUM, Opt.TUN_REMCSUM}
        if entry.given & tunnel_opts and entry.forward != Forward.TUNNEL:
            raise UsageError("Tunnel options conflict with forward method")
        check_tunnel(entry.tun_type, entry.given)
    if cmd is Command.LIST:
        g = entry.given
        if (
            g & {Opt.CONNECTION, Opt.TIMEOUT, Opt.DAEMON}
            and g & {Opt.STATS, Opt.RATE, Opt.THRESHOLDS}
        ) or (g & {Opt.TIMEOUT, Opt.DAEMON} and Opt.PERSISTENT_CONN in g):
            raise UsageError("options conflicts in the list command")
