"""From a pyipvsadm command line to a checked Entry, or ipvsadm's message (host only)."""

from __future__ import annotations

import ipaddress
import shlex

import pytest

from pyipvs.cli.ipvsadm.entry import Entry
from pyipvs.cli.ipvsadm.matrix import Command
from pyipvs.cli.ipvsadm.outcome import Crash, Exit, ShowHelp, ShowVersion, TryHelp, UsageError
from pyipvs.cli.ipvsadm.parse import parse_command_line
from pyipvs.cli.ipvsadm.tokenizer import PoptError
from pyipvs.model import Family, Forward, ServiceFlag, TunnelFlag, TunnelType


def parse(line: str) -> Entry:
    return parse_command_line(["ipvsadm", *shlex.split(line)])


def fails(line: str) -> str:
    with pytest.raises(UsageError) as ei:
        parse(line)
    message = ei.value.message
    assert message is not None
    return message


@pytest.mark.parametrize(
    ("line", "exc"),
    [
        ("", TryHelp),
        ("foo", TryHelp),
        ("-n -L", TryHelp),
        ("--foo", TryHelp),
        ("-L=", TryHelp),
        ("--start-daemon", TryHelp),
        ("-h", ShowHelp),
        ("-h --bogus", ShowHelp),
        ("-v -L", ShowVersion),
        ("-A -t 1.2.3.4:80 -b ,", Crash),
    ],
)
def test_outcomes(line: str, exc: type[Exit]) -> None:
    with pytest.raises(exc):
        parse(line)


def test_popt_errors_after_the_command() -> None:
    with pytest.raises(PoptError):
        parse("-L --bogus")
    with pytest.raises(PoptError):
        parse("-A -t")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-L -n -A", "invalid option `-A'"),
        ("-L --start-daemon master", "invalid option `master'"),
        ("-L -h", "invalid option `-h'"),
        ("--start-daemon foo", "illegal start-daemon parameter specified"),
        ("--stop-daemon foo", "illegal start_daemon specified"),
        ("-A -t 1.2.3.4:80 -6", "-6 used before -f\n"),
        ("-A -t 80", "illegal virtual server address[:port] specified"),
        ("-A -f 0", "invalid fwmark value `0' specified"),
        ("-A -t 1.2.3.4:80 -p 0", "invalid timeout value `0' specified"),
        ("-A -t 1.2.3.4:80 -p=", "invalid timeout value `' specified"),
        ("-A -t 1.2.3.4:80 -M foo.invalid", "illegal virtual server persistent mask specified"),
        ("-A -t [::1]:80 -M 0", "illegal ipv6 netmask specified"),
        ("-a -t 1.2.3.4:80 -r 80", "illegal real server address[:port] specified"),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -w 2147483648", "illegal weight specified"),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -x -1", "illegal u_threshold specified"),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -y x", "illegal l_threshold specified"),
        ("--start-daemon master --syncid 256", "illegal syncid specified"),
        ("--start-daemon master --mcast-group 10.0.0.1", "invalid IPv4 mcast-group `10.0.0.1'"),
        ("--start-daemon master --mcast-group ::1", "invalid IPv6 mcast-group `::1'"),
        ("--start-daemon master --mcast-port 0", "illegal mcast-port specified"),
        ("--start-daemon master --mcast-ttl 256", "illegal mcast-ttl specified"),
        ("--start-daemon master --sync-maxlen 65508", "illegal sync-maxlen specified"),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-type x", "illegal tunnel type specified"),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-port 0", "illegal tunnel port specified"),
        ("-A -t 1.2.3.4:80 -s rr -s rr", "multiple 'scheduler' options specified"),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -g -m", "multiple 'forwarding-method' options specified"),
        ("-A -t bad -t 1.2.3.4:80", "illegal virtual server address[:port] specified"),
        ("-A -t 1.2.3.4:80 -t bad", "multiple 'service-address' options specified"),
        ("--set 1 2", "--set option requires 3 timeout values"),
        ("--set 1 2 x", "invalid timeout value `x' specified"),
        ("--set 1 2 3 4", "unexpected argument 4"),
        ("-C x", "unexpected argument x"),
        ("-A -t 1.2.3.4:80 -b bogus", "invalid scheduler flag `bogus'"),
        ("-A -t 1.2.3.4:80 -b sh-port", "incompatible scheduler flag `sh-port'"),
        ("-L -b bogus", "invalid scheduler flag `bogus'"),  # flags before the matrix
        ("-A -t 1.2.3.4:0", "Zero port specified for non-persistent service"),
        ("-A -t 1.2.3.4:53 -o", "One-Packet Scheduling is only for UDP virtual services"),
        (
            "-a -t 1.2.3.4:80 -r [::1]:80",
            "Different address family is allowed only for tunneling servers",
        ),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 --tun-csum", "Tunnel options conflict with forward method"),
        (
            "-a -t 1.2.3.4:80 -r 10.0.0.1 -i --tun-type gue",
            "You need to supply the 'tun-port' option for the 'gue' tunnel type",
        ),
        ("-L --timeout --stats", "options conflicts in the list command"),
        ("-L --daemon --persistent-conn", "options conflicts in the list command"),
        ("-C -n", "Illegal 'numeric' option with the 'flush' command"),
        ("-S --exact", "Illegal 'exact' option with the 'save' command"),
    ],
)
def test_messages(line: str, message: str) -> None:
    assert fails(line) == message


def test_service_defaults_and_full_replace() -> None:
    e = parse("-E -t 10.0.0.1:80")
    svc = e.service()
    assert e.command is Command.EDIT_SERVICE
    assert svc.scheduler == "wlc" and svc.flags == 0 and svc.timeout == 0
    assert svc.netmask == 0xFFFFFFFF and svc.pe_name == ""


def test_persistence_and_masks() -> None:
    svc = parse("-A -t 10.0.0.1:80 -p -M 255.255.255.0").service()
    assert svc.flags == ServiceFlag.PERSISTENT and svc.timeout == 360
    assert svc.netmask == 0xFFFFFF00
    assert parse("-A -t 10.0.0.1:80 -p -M 24").service().netmask == 24
    # an IPv6 address resets the mask to 128, whatever came before
    assert parse("-A -M 255.255.255.0 -t [2001:db8::1]:80 -p").service().netmask == 128
    assert parse("-A -t [2001:db8::1]:80 -p -M 64").service().netmask == 64
    assert parse("-A -f 5 -6 -p -M 96").service().netmask == 96
    key = parse("-A -f 5 -6").service_key()
    assert key.family == Family.INET6 and key.fwmark == 5


def test_sched_flags_are_parsed_last() -> None:
    flags = parse("-A -t 10.0.0.1:80 -b sh-port,sh-fallback -s sh").service().flags
    assert flags == ServiceFlag.SCHED1 | ServiceFlag.SCHED2
    assert parse("-A -t 10.0.0.1:80 -b '' -s sh").service().flags == 0


def test_truncation() -> None:
    assert parse("-A -t 10.0.0.1:80 -s abcdefghijklmnopqrs").scheduler == "abcdefghijklmno"
    assert parse("-A -t 10.0.0.1:80 --pe abcdefghijklmnopqrs").pe_name == "abcdefghijklmnop"


def test_server_port_rules() -> None:
    # direct routing and tunnelling keep the virtual port
    assert parse("-a -t 10.0.0.1:80 -r 10.0.0.2:99").server().port == 80
    assert parse("-a -t 10.0.0.1:80 -r 10.0.0.2:99 -i").server().port == 80
    assert parse("-a -t 10.0.0.1:80 -r 10.0.0.2:99 -m").server().port == 99
    assert parse("-a -t 10.0.0.1:80 -r 10.0.0.2 -m").server().port == 80
    # but -d sends the port as parsed, and -r before -t sees no port yet
    assert parse("-d -t 10.0.0.1:80 -r 10.0.0.2:99").server().port == 99
    assert parse("-d -r 10.0.0.2 -t 10.0.0.1:80").server().port == 0
    # fwmark services keep the given port
    assert parse("-a -f 3 -r 10.0.0.2:99").server().port == 99


def test_server_settings() -> None:
    srv = parse(
        "-a -t 10.0.0.1:80 -r 10.0.0.2 -i -w 7 -x 9 -y 3"
        " --tun-type gue --tun-port 6080 --tun-remcsum"
    ).server()
    assert srv.address == ipaddress.IPv4Address("10.0.0.2")
    assert srv.forward == Forward.TUNNEL and srv.weight == 7
    assert (srv.u_threshold, srv.l_threshold) == (9, 3)
    assert srv.tun_type == TunnelType.GUE and srv.tun_port == 6080
    assert srv.tun_flags == TunnelFlag.REMCSUM


def test_daemon_defaults() -> None:
    d = parse("--start-daemon backup").daemon()
    assert d.mcast_ifn == "eth0" and d.syncid == 0 and d.sync_maxlen is None
    assert parse("--stop-daemon master").mcast_ifn == ""


def test_timeouts() -> None:
    t = parse("--set -- 0 120 300").timeouts
    assert (t.tcp, t.tcp_fin, t.udp) == (0, 120, 300)
