"""Host tests for pyipvs.format: every listing mode and quirk, with expected
text taken from the reference's [verified] ipvsadm 1.31 examples."""

from __future__ import annotations

import ipaddress
import random

import pytest

from pyipvs.format import (
    ConnRow,
    ListFormat,
    addrport,
    conn_header_lines,
    conn_line,
    daemon_lines,
    ntop,
    print_largenum,
    save_lines,
    service_lines,
    timeout_line,
    title_lines,
    version_line,
)
from pyipvs.model import (
    Daemon,
    DaemonState,
    Family,
    Forward,
    Info,
    IPAddress,
    Protocol,
    Server,
    ServerStatus,
    Service,
    ServiceFlag,
    ServiceKey,
    ServiceStatus,
    Stats,
    Timeouts,
    TunnelFlag,
    TunnelType,
)
from pyipvs.names import NumericResolver

F = ServiceFlag
NOFLAGS = ServiceFlag(0)
NUM = NumericResolver()
N = ListFormat(numeric=True)


class FakeResolver:
    def __init__(self, hosts: dict[str, str], services: dict[tuple[int, str], str]) -> None:
        self.hosts = hosts
        self.services = services
        self.asked: list[tuple[int, str]] = []

    def host(self, address: IPAddress) -> str | None:
        return self.hosts.get(str(address))

    def service(self, port: int, proto: str) -> str | None:
        self.asked.append((port, proto))
        return self.services.get((port, proto))


def svc(
    key: ServiceKey,
    sched: str = "wlc",
    flags: ServiceFlag = NOFLAGS,
    timeout: int = 0,
    netmask: int = -1,
    pe: str = "",
    stats: Stats | None = None,
) -> ServiceStatus:
    return ServiceStatus(Service(key, sched, flags, timeout, netmask, pe), stats or Stats())


def dst(
    addr: str,
    port: int,
    fwd: Forward = Forward.ROUTE,
    weight: int = 1,
    active: int = 0,
    inact: int = 0,
    persist: int = 0,
    stats: Stats | None = None,
    **kw: object,
) -> ServerStatus:
    server = Server(ipaddress.ip_address(addr), port, fwd, weight, **kw)  # type: ignore[arg-type]
    return ServerStatus(server, active, inact, persist, stats or Stats())


def line(status: ServiceStatus, fmt: ListFormat = N) -> str:
    return service_lines(status, [], fmt, NUM)[0]


def dline(d: ServerStatus, fmt: ListFormat = N, status: ServiceStatus | None = None) -> str:
    status = status or svc(ServiceKey.tcp("207.175.44.110", 80))
    return service_lines(status, [d], fmt, NUM)[1]


# -- print_largenum (reference 2.6) ----------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "        0"),
        (99_999_999, " 99999999"),
        (123_456_789, "  123456K"),
        (999_999_999, "  999999K"),
        (1_000_000_000, "    1000M"),
        (98_765_432_100, "   98765M"),
        (123_456_789_012, "     123G"),
        (99_999_999_999_999, "   99999G"),
        (100_000_000_000_000, "     100T"),
        (2**64 - 1, "18446744T"),
    ],
)
def test_largenum(value: int, text: str) -> None:
    assert print_largenum(value) == text


def test_largenum_exact() -> None:
    assert print_largenum(123_456_789, True) == " 123456789"
    assert print_largenum(12_345_678, True) == " 12345678"
    assert print_largenum(5, True) == "        5"
    assert print_largenum(2**64 - 1, True) == " 18446744073709551615"


# -- titles, version, timeouts, daemons --------------------------------------------


def test_titles() -> None:
    assert title_lines(ListFormat()) == [
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
    ]
    assert title_lines(ListFormat(tun_info=True))[1] == (
        "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn"
    )
    assert title_lines(ListFormat(stats=True)) == [
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
        "  -> RemoteAddress:Port",
    ]
    assert title_lines(ListFormat(rate=True))[0] == (
        "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS"
    )
    assert title_lines(ListFormat(thresholds=True))[0] == (
        "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn "
    )
    assert title_lines(ListFormat(persistent_conn=True))[0] == (
        "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn "
    )


def test_title_precedence() -> None:
    assert title_lines(ListFormat(rate=True, stats=True)) == title_lines(ListFormat(stats=True))
    assert title_lines(ListFormat(thresholds=True, rate=True)) == title_lines(ListFormat(rate=True))
    both = ListFormat(persistent_conn=True, thresholds=True, tun_info=True)
    assert title_lines(both) == title_lines(ListFormat(thresholds=True))
    assert title_lines(ListFormat(tun_info=True, persistent_conn=True)) == title_lines(
        ListFormat(persistent_conn=True)
    )


def test_version_timeout_daemon() -> None:
    assert version_line(Info((1, 2, 1), 4096)) == "IP Virtual Server version 1.2.1 (size=4096)"
    assert timeout_line(Timeouts(900, 120, 300)) == "Timeout (tcp tcpfin udp): 900 120 300"
    full = Daemon(DaemonState.MASTER, "eth0", 0, 1472, ipaddress.ip_address("224.0.0.81"), 8848, 1)
    old = Daemon(DaemonState.BACKUP, "eth0", 5)
    assert daemon_lines([full, old]) == [
        "master sync daemon (mcast=eth0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)",  # noqa: E501 - one verbatim output line
        "backup sync daemon (mcast=eth0, syncid=5)",
    ]
    v6 = Daemon(DaemonState.BACKUP, "br0", 255, 0, ipaddress.ip_address("ff02::1"), 0, 0)
    assert daemon_lines([v6]) == ["backup sync daemon (mcast=br0, syncid=255, group=ff02::1)"]
    assert daemon_lines([]) == []
    # Two slots: a third record overwrites the second.
    assert (
        daemon_lines([full, old, v6])[1]
        == "backup sync daemon (mcast=br0, syncid=255, group=ff02::1)"
    )


# -- service lines (reference 2.3, [verified] examples) -----------------------------

VERIFIED_SERVICES = [
    (svc(ServiceKey.tcp("207.175.44.110", 80), "rr"), "TCP  207.175.44.110:80 rr"),
    (
        svc(
            ServiceKey.udp("207.175.44.110", 53), "wlc", F.PERSISTENT | F.ONEPACKET, 300, 0xFFFFFF00
        ),
        "UDP  207.175.44.110:53 wlc persistent 300 mask 255.255.255.0 ops",
    ),
    (svc(ServiceKey.fw(1), "sh", F.SCHED1 | F.SCHED2), "FWM  1 sh (sh-fallback,sh-port)"),
    (
        svc(ServiceKey.tcp("10.0.0.1", 85), "rr", F.PERSISTENT, 100, 0xFFFF0000, "sip"),
        "TCP  10.0.0.1:85 rr persistent 100 mask 255.255.0.0 pe sip",
    ),
    (
        svc(ServiceKey.fw(9, Family.INET6), "lc", F.PERSISTENT, 300, 64),
        "FWM  9 IPv6 lc persistent 300 mask 64",
    ),
    (
        svc(
            ServiceKey.tcp("2001:db8:1234:5678:9abc:def0:1234:5678", 8080), "wlc", F.PERSISTENT, 300
        ),
        "TCP  [2001:db8:1234:5678:9abc:def0:1234:5678]:8080 wlc persistent 300",
    ),
    (svc(ServiceKey.tcp("10.0.0.1", 79), "none", F.ONEPACKET), "TCP  10.0.0.1:79 none ops"),
]


@pytest.mark.parametrize(("status", "text"), VERIFIED_SERVICES)
def test_verified_service_lines(status: ServiceStatus, text: str) -> None:
    assert line(status) == text
    # --thresholds, --persistent-conn and --tun-info use the default service line.
    for fmt in (
        ListFormat(True, thresholds=True),
        ListFormat(True, persistent_conn=True),
        ListFormat(True, tun_info=True),
    ):
        assert line(status, fmt) == text


def test_service_flag_quirks() -> None:
    # sh/mh with only flag-3: an empty "()"; other schedulers name flag-N.
    assert (
        line(
            svc(
                ServiceKey.tcp("10.0.0.1", 443),
                "sh",
                F.PERSISTENT | F.ONEPACKET | F.SCHED3,
                600,
                pe="sip",
            )
        )
        == "TCP  10.0.0.1:443 sh () persistent 600 pe sip ops"
    )
    assert (
        line(svc(ServiceKey.tcp("10.0.0.1", 1), "mh", F.SCHED2 | F.SCHED3))
        == "TCP  10.0.0.1:1 mh (mh-port)"
    )
    assert line(svc(ServiceKey.tcp("10.0.0.1", 1), "rr", F.SCHED1 | F.SCHED2 | F.SCHED3)) == (
        "TCP  10.0.0.1:1 rr (flag-1,flag-2,flag-3)"
    )
    # The PE shows only inside the persistent block; a full mask is not shown.
    assert line(svc(ServiceKey.tcp("10.0.0.1", 1), "rr", pe="sip")) == "TCP  10.0.0.1:1 rr"
    assert line(svc(ServiceKey.tcp("10.0.0.1", 1), "rr", F.PERSISTENT, 360)) == (
        "TCP  10.0.0.1:1 rr persistent 360"
    )
    # Any mask, even non-contiguous, in dotted form.
    assert line(svc(ServiceKey.udp("10.0.0.1", 1), "rr", F.PERSISTENT, 1, 24)) == (
        "UDP  10.0.0.1:1 rr persistent 1 mask 0.0.0.24"
    )


def test_fwmark_signed_and_protocols() -> None:
    assert line(svc(ServiceKey.fw(3_000_000_000), "rr")) == "FWM  -1294967296 rr"
    assert line(svc(ServiceKey.fw(0xFFFFFFFF, Family.INET6), "rr")) == "FWM  -1 IPv6 rr"
    assert line(svc(ServiceKey.sctp("10.0.0.1", 9), "rr")) == "SCTP 10.0.0.1:9 rr"
    odd = ServiceKey(Family.INET, Protocol(50), ipaddress.ip_address("10.0.0.1"), 9)
    assert line(svc(odd, "rr")) == "?    10.0.0.1:9 rr"


def test_stats_and_rate_service_lines() -> None:
    st = Stats(600, 28000, 22000, 3_800_000, 61_000_500_000, 1, 15, 12, 2000, 2**40)
    s4 = svc(ServiceKey.tcp("207.175.44.110", 80), stats=st)
    assert line(s4, ListFormat(True, stats=True)) == (
        "TCP  207.175.44.110:80".ljust(33) + "      600    28000    22000  3800000   61000M"
    )
    assert line(s4, ListFormat(True, rate=True)) == (
        "TCP  207.175.44.110:80".ljust(33) + "        1       15       12     2000    1099G"
    )
    assert line(s4, ListFormat(True, stats=True, rate=True)) == line(
        s4, ListFormat(True, stats=True)
    )
    assert line(s4, ListFormat(True, stats=True, exact=True)).endswith("  3800000 61000500000")
    # Service counters are full 64-bit.
    big = svc(ServiceKey.fw(1), stats=Stats(conns=2**32 + 5))
    assert (
        line(big, ListFormat(True, stats=True))
        == "FWM  1" + " " * 27 + "    4294M" + "        0" * 4
    )
    # IPv6 is never cut, so its numbers are pushed right.
    s6 = svc(ServiceKey.tcp("2001:db8::1", 80), stats=st)
    assert (
        line(s6, ListFormat(True, stats=True))
        == "TCP  [2001:db8::1]:80".ljust(33) + line(s4, ListFormat(True, stats=True))[33:]
    )


# -- destination lines (reference 2.5, [verified] examples) -------------------------


def test_verified_dest_lines() -> None:
    assert dline(dst("192.168.10.1", 80, Forward.MASQ, 1, 4, 12)) == (
        "  -> 192.168.10.1:80              Masq    1      4          12        "
    )
    assert dline(dst("192.168.10.3", 0, Forward.TUNNEL)) == (
        "  -> 192.168.10.3:0               Tunnel  1      0          0         "
    )
    assert dline(dst("2001:db8:1234:5678:9abc:def0:1234:9999", 8080, Forward.MASQ)) == (
        "  -> [2001:db8:1234:5678:9abc:def0:1234:9999]:8080 Masq    1      0          0         "
    )
    gue = dst("192.168.10.3", 0, Forward.TUNNEL, tun_type=TunnelType.GUE, tun_port=6080)
    assert dline(gue, ListFormat(True, tun_info=True)) == (
        "  -> 192.168.10.3:0               Tunnel  gue:6080:-c   1      0          0         "
    )
    th = dst("192.168.10.1", 53, u_threshold=1000, l_threshold=750)
    assert dline(th, ListFormat(True, thresholds=True)) == (
        "  -> 192.168.10.1:53              1000       750        0          0         "
    )
    pc = dst("192.168.10.1", 53, weight=2, persist=7)
    assert dline(pc, ListFormat(True, persistent_conn=True)) == (
        "  -> 192.168.10.1:53              2         7           0          0         "
    )
    st = Stats(600, 28000, 22000, 3_800_000, 61_000_999_999, 1, 15, 12, 2000, 75000)
    assert dline(dst("192.168.10.1", 80, stats=st), ListFormat(True, stats=True)) == (
        "  -> 192.168.10.1:80                   600    28000    22000  3800000   61000M"
    )
    assert dline(dst("192.168.10.1", 80, stats=st), ListFormat(True, rate=True)) == (
        "  -> 192.168.10.1:80                     1       15       12     2000    75000"
    )


def test_dest_forward_and_tunnel_info() -> None:
    ti = ListFormat(True, tun_info=True)
    assert dline(dst("10.0.0.2", 80, Forward.LOCAL), ti).startswith(
        "  -> 10.0.0.2:80                  Local   n/a           1 "
    )
    assert dline(dst("10.0.0.2", 80), ti)[34:56] == "Route   n/a           "
    assert dline(dst("10.0.0.2", 80, Forward.TUNNEL), ti)[34:56] == "Tunnel  ipip          "
    gre = dst("10.0.0.2", 80, Forward.TUNNEL, tun_type=TunnelType.GRE, tun_flags=TunnelFlag.CSUM)
    assert dline(gre, ti)[34:56] == "Tunnel  gre:+c        "
    gue = dst(
        "10.0.0.2",
        80,
        Forward.TUNNEL,
        tun_type=TunnelType.GUE,
        tun_port=65535,
        tun_flags=TunnelFlag.REMCSUM,
    )
    assert dline(gue, ti)[34:56] == "Tunnel  gue:65535:r+c "


def test_dest_precedence_and_widths() -> None:
    d = dst("10.0.0.2", 80, weight=3, active=1, inact=2, persist=4, u_threshold=9)
    # thresholds > persistent-conn > tun-info > default.
    assert dline(d, ListFormat(True, thresholds=True, persistent_conn=True, tun_info=True)) == (
        dline(d, ListFormat(True, thresholds=True))
    )
    assert dline(d, ListFormat(True, persistent_conn=True, tun_info=True)) == (
        dline(d, ListFormat(True, persistent_conn=True))
    )
    assert dline(d, ListFormat(True, rate=True, thresholds=True)) == dline(
        d, ListFormat(True, rate=True)
    )
    # Weight is %d (signed) except under --persistent-conn (%u).
    neg = dst("10.0.0.2", 80, weight=0xFFFFFFFF)
    assert dline(neg) == "  -> 10.0.0.2:80                  Route   -1     0          0         "
    assert dline(neg, ListFormat(True, persistent_conn=True)).startswith(
        "  -> 10.0.0.2:80                  4294967295 0 "
    )


def test_dest_counters_truncated_to_32_bits() -> None:
    w = 2**32
    st = Stats(w + 5, w + 6, w + 7, w + 8, w + 9, w + 1, w + 2, w + 3, w + 4, w + 10)
    d = dst("10.0.0.2", 80, stats=st)
    assert dline(d, ListFormat(True, stats=True)) == (
        "  -> " + "10.0.0.2:80".ljust(28) + "        5        6        7    4294M    4294M"
    )
    assert dline(d, ListFormat(True, rate=True)) == (
        "  -> " + "10.0.0.2:80".ljust(28) + "        1        2        3        4       10"
    )
    # --rate's packet and connection rates are never abbreviated.
    fast = dst("10.0.0.2", 80, stats=Stats(cps=123_456_789, inbps=123_456_789))
    assert dline(fast, ListFormat(True, rate=True)) == (
        "  -> " + "10.0.0.2:80".ljust(28) + " 123456789        0        0  123456K        0"
    )
    assert dline(fast, ListFormat(True, rate=True, exact=True)).endswith(" 123456789        0")


# -- names, cuts and the 59-character buffer (reference 2.4) ------------------------

LONG4 = "averyveryveryverylongname.example"
RES = FakeResolver(
    {"10.0.0.1": LONG4, "2001:db8::1": "six.example", "10.0.0.2": "web2"},
    {(80, "tcp"): "http", (53, "udp"): "domain", (80, "sctp"): "http"},
)


def test_named_listing_cuts() -> None:
    fmt = ListFormat()
    s = svc(ServiceKey.tcp("10.0.0.1", 80), "rr")
    lines = service_lines(
        s, [dst("10.0.0.1", 80), dst("2001:db8::1", 80, Forward.TUNNEL)], fmt, RES
    )
    assert lines[0] == ("TCP  " + LONG4 + ":http")[:33] + " rr"
    assert lines[1] == "  -> " + (LONG4 + ":http")[:28] + " Route   1      0          0         "
    assert (
        lines[2]
        == "  -> " + "[six.example]:http".ljust(28) + " Tunnel  1      0          0         "
    )
    s6 = svc(ServiceKey.udp("2001:db8::1", 53), "rr")
    assert service_lines(s6, [], fmt, RES)[0] == "UDP  [six.example]:domain rr"
    # Unknown hosts fall back to numbers; SCTP uses its own table.
    sc = svc(ServiceKey.sctp("192.0.2.9", 80), "rr")
    assert service_lines(sc, [], fmt, RES)[0] == "SCTP 192.0.2.9:http rr"


def test_fwmark_dests_and_unknown_proto_are_numeric() -> None:
    r = FakeResolver({}, {(80, "tcp"): "http"})
    out = service_lines(svc(ServiceKey.fw(5), "rr"), [dst("10.0.0.9", 80)], ListFormat(), r)
    assert out[1].startswith("  -> 10.0.0.9:80 ")
    assert r.asked == []
    r2 = FakeResolver({}, {})
    odd = ServiceKey(Family.INET, Protocol(50), ipaddress.ip_address("10.0.0.1"), 80)
    service_lines(svc(odd, "rr"), [dst("10.0.0.9", 80)], ListFormat(), r2)
    assert r2.asked == []


def test_addrport_caps_at_59() -> None:
    name = "h" * 70
    r = FakeResolver({"10.0.0.1": name, "2001:db8::1": name}, {})
    assert addrport(ipaddress.ip_address("10.0.0.1"), 80, "tcp", False, r) == name[:59]
    assert addrport(ipaddress.ip_address("2001:db8::1"), 80, "tcp", False, r) == "[" + name[:58]
    # IPv6 is never cut at 28 in listings, but the 59 cap still applies.
    line6 = service_lines(
        svc(ServiceKey.tcp("10.0.0.1", 80)), [dst("2001:db8::1", 80)], ListFormat(), r
    )
    assert line6[1].startswith("  -> [" + name[:58] + " Route")
    assert (
        addrport(ipaddress.ip_address("::ffff:1.2.3.4"), 1, None, True, NUM) == "[::ffff:1.2.3.4]:1"
    )


def test_ntop_is_glibc_text() -> None:
    # glibc prints IPv4-mapped and IPv4-compatible forms with a dotted quad.
    for text, want in (
        ("::1.2.3.4", "::1.2.3.4"),
        ("::ffff:0:0", "::ffff:0.0.0.0"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("::1", "::1"),
        ("1:0:0:1::", "1:0:0:1::"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("0:0:0:0:0:1:0:0", "::1:0:0"),
    ):
        assert ntop(ipaddress.IPv6Address(text)) == want
    assert ntop(ipaddress.IPv4Address("1.2.3.4")) == "1.2.3.4"
    rng = random.Random(5)
    for _ in range(500):
        a = ipaddress.IPv4Address(rng.getrandbits(32))
        assert ntop(a) == str(a)


# -- save (reference 2.11, [verified] example) --------------------------------------


def test_verified_save_example() -> None:
    v4 = "207.175.44.110"
    v6 = "2001:db8:1234:5678:9abc:def0:1234:5678"
    table = [
        (
            svc(ServiceKey.tcp(v4, 80), "rr"),
            [dst("192.168.10.1", 80, Forward.MASQ), dst("192.168.10.2", 80, Forward.MASQ)],
        ),
        (
            svc(ServiceKey.udp(v4, 53), "wlc", F.PERSISTENT | F.ONEPACKET, 300, 0xFFFFFF00),
            [dst("192.168.10.1", 53, weight=2, u_threshold=100, l_threshold=5)],
        ),
        (
            svc(ServiceKey.fw(1), "sh", F.SCHED1 | F.SCHED2),
            [dst("192.168.10.3", 0, Forward.TUNNEL, tun_type=TunnelType.GUE, tun_port=6080)],
        ),
        (
            svc(
                ServiceKey.tcp("10.0.0.1", 443),
                "sh",
                F.PERSISTENT | F.ONEPACKET | F.SCHED3,
                600,
                pe="sip",
            ),
            [],
        ),
        (
            svc(ServiceKey.fw(9, Family.INET6), "lc", F.PERSISTENT, 300, 64),
            [dst("2001:db8::10", 0)],
        ),
        (
            svc(ServiceKey.tcp(v6, 8080), "wlc", F.PERSISTENT, 300),
            [dst("172.16.0.99", 8080, Forward.TUNNEL)],
        ),
    ]
    out = [ln for s, ds in table for ln in save_lines(s, ds, True, NUM)]
    assert out == [
        "-A -t 207.175.44.110:80 -s rr",
        "-a -t 207.175.44.110:80 -r 192.168.10.1:80 -m -w 1",
        "-a -t 207.175.44.110:80 -r 192.168.10.2:80 -m -w 1",
        "-A -u 207.175.44.110:53 -s wlc -p 300 -M 255.255.255.0 -o",
        "-a -u 207.175.44.110:53 -r 192.168.10.1:53 -g -w 2",
        "-A -f 1 -s sh -b sh-fallback,sh-port",
        "-a -f 1 -r 192.168.10.3:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum",
        "-A -t 10.0.0.1:443 -s sh -p 600 --pe sip -o -b ",
        "-A -f 9 -6 -s lc -p 300 -M 64",
        "-a -f 9 -6 -r [2001:db8::10]:0 -g -w 1",
        "-A -t [2001:db8:1234:5678:9abc:def0:1234:5678]:8080 -s wlc -p 300",
        "-a -t [2001:db8:1234:5678:9abc:def0:1234:5678]:8080 -r 172.16.0.99:8080 -i -w 1 --tun-type ipip",  # noqa: E501 - one verbatim output line
    ]


def test_save_quirks() -> None:
    s = svc(ServiceKey.sctp("10.0.0.1", 80), "rr", pe="sip")
    ds = [
        dst("10.0.0.2", 80, Forward.LOCAL, weight=0xFFFFFFFF),
        dst("10.0.0.3", 80, Forward.TUNNEL, tun_type=TunnelType.GRE, tun_flags=TunnelFlag.REMCSUM),
        dst(
            "10.0.0.4",
            80,
            Forward.TUNNEL,
            tun_type=TunnelType.GUE,
            tun_port=1,
            tun_flags=TunnelFlag.CSUM,
        ),
    ]
    assert save_lines(s, ds, True, NUM) == [
        "-A --sctp-service 10.0.0.1:80 -s rr --pe sip",
        "-a --sctp-service 10.0.0.1:80 -r 10.0.0.2:80 -g -w -1",
        "-a --sctp-service 10.0.0.1:80 -r 10.0.0.3:80 -i -w 1 --tun-type gre --tun-remcsum",
        "-a --sctp-service 10.0.0.1:80 -r 10.0.0.4:80 -i -w 1 --tun-type gue --tun-port 1 --tun-csum",  # noqa: E501 - one verbatim output line
    ]
    odd = ServiceKey(Family.INET, Protocol(50), ipaddress.ip_address("10.0.0.1"), 80)
    assert save_lines(svc(odd, "rr"), [], True, NUM) == ["-A --xxx-service 10.0.0.1:80 -s rr"]
    assert save_lines(svc(ServiceKey.fw(3_000_000_000, Family.INET6), "rr"), [], True, NUM) == [
        "-A -f -1294967296 -6 -s rr"
    ]


def test_save_names_never_cut_but_capped() -> None:
    out = save_lines(svc(ServiceKey.tcp("10.0.0.1", 80), "rr"), [dst("10.0.0.1", 80)], False, RES)
    assert out == [f"-A -t {LONG4}:http -s rr", f"-a -t {LONG4}:http -r {LONG4}:http -g -w 1"]
    # A fwmark service's servers keep numeric ports even when names are asked for.
    fw = save_lines(svc(ServiceKey.fw(7), "rr"), [dst("10.0.0.1", 80)], False, RES)
    assert fw == ["-A -f 7 -s rr", f"-a -f 7 -r {LONG4}:80 -g -w 1"]


# -- connection table (reference 2.10, [verified] example) --------------------------


def row(
    proto: str,
    c: str,
    cp: int,
    v: str,
    vp: int,
    d: str,
    dp: int,
    state: str,
    exp: int,
    pe: str | None = None,
    data: str | None = None,
) -> ConnRow:
    ip = ipaddress.ip_address
    return ConnRow(proto, ip(c), cp, ip(v), vp, ip(d), dp, state, exp, pe, data)


def test_verified_conn_listing() -> None:
    rows = [
        row(
            "TCP", "10.0.0.2", 50000, "207.175.44.110", 8080, "172.16.0.2", 8080, "ESTABLISHED", 899
        ),
        row("UDP", "10.0.0.2", 54321, "10.0.0.1", 53, "192.168.1.10", 53, "UDP", 299),
        row("IP", "10.0.0.2", 0, "0.0.0.7", 0, "192.168.1.10", 0, "NONE", 299),
        row("TCP", "10.0.0.2", 0, "10.0.0.1", 80, "192.168.1.10", 80, "ASSURED", 3599),
        row("TCP", "2001:db8::2", 50000, "2001:db8::1", 80, "2001:db8::10", 80, "SYN_RECV", 59),
        row("TCP", "10.0.0.2", 50001, "10.0.0.1", 80, "2001:db8::10", 80, "ESTABLISHED", 899),
        row("SCTP", "10.0.0.2", 50002, "10.0.0.1", 80, "192.168.1.10", 80, "ESTABLISHED", 899),
    ]
    out = conn_header_lines(False) + [conn_line(r, True, False, NUM) for r in rows]
    assert out == [
        "IPVS connection entries",
        "pro expire state       source             virtual            destination",
        "TCP 14:59  ESTABLISHED 10.0.0.2:50000     207.175.44.110:8080 172.16.0.2:8080",
        "UDP 04:59  UDP         10.0.0.2:54321     10.0.0.1:53        192.168.1.10:53",
        "IP  04:59  NONE        10.0.0.2:0         0.0.0.7:0          192.168.1.10:0",
        "TCP 59:59  ASSURED     10.0.0.2:0         10.0.0.1:80        192.168.1.10:80",
        "TCP 00:59  SYN_RECV    [2001:db8::2]:50000 [2001:db8::1]:80   [2001:db8::10]:80",
        "TCP 14:59  ESTABLISHED 10.0.0.2:50001     10.0.0.1:80        [2001:db8::10]:80",
        "SCTP 14:59  ESTABLISHED 10.0.0.2:50002     10.0.0.1:80        192.168.1.10:80",
    ]
    # Without PE data --persistent-conn changes only the header.
    assert conn_line(rows[0], True, True, NUM) == out[2]


def test_conn_persistent_pe_row() -> None:
    assert conn_header_lines(True)[1] == (
        "pro expire state       source             virtual            destination        pe name          pe_data"  # noqa: E501 - one verbatim output line
    )
    sip = row(
        "UDP",
        "10.0.0.2",
        5060,
        "10.0.0.1",
        5060,
        "192.168.1.10",
        5060,
        "UDP",
        299,
        "sip",
        "1234abcd@host",
    )
    assert conn_line(sip, True, True, NUM) == (
        "UDP 04:59  UDP         10.0.0.2:5060      10.0.0.1:5060      192.168.1.10:5060 sip                1234abcd@host"  # noqa: E501 - one verbatim output line
    )
    # PE data is shown only with --persistent-conn.
    assert conn_line(sip, True, False, NUM).endswith("192.168.1.10:5060")


def test_conn_expire_and_names() -> None:
    r = row("TCP", "10.0.0.2", 80, "10.0.0.1", 80, "10.0.0.9", 80, "ESTABLISHED", 6000)
    assert conn_line(r, True, False, NUM)[:10] == "TCP 100:00"
    # ipvsadm keeps expires in an unsigned int: -1 wraps before the split.
    neg = row("TCP", "10.0.0.2", 80, "10.0.0.1", 80, "10.0.0.9", 80, "CLOSE", -1)
    assert conn_line(neg, True, False, NUM)[:16] == "TCP 71582788:15 "
    assert conn_line(r, False, False, RES) == (
        f"TCP 100:00 ESTABLISHED web2:http          {LONG4}:http 10.0.0.9:http"
    )
    tmpl = row("IP", "10.0.0.2", 80, "2001:db8::1", 80, "10.0.0.2", 80, "NONE", 1)
    assert conn_line(tmpl, False, False, RES) == (
        "IP  00:01  NONE        web2:80            [six.example]:80   web2:80"
    )
