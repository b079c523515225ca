"""The `pyipvs top` screen as a pure function: hand-built snapshot pairs in,
lines out, at every terminal size (host only)."""

from __future__ import annotations

import curses
import ipaddress
from types import MappingProxyType

import pytest

from pyipvs.cli.pyipvs_top import _Screen
from pyipvs.model import (
    Forward,
    Server,
    ServerStatus,
    Service,
    ServiceKey,
    ServiceStatus,
    Stats,
)
from pyipvs.snapshot import Snapshot, rates
from pyipvs.top import SORT_KEYS, View, human, render

WEB = ServiceKey.tcp("10.0.0.1", 80)
DNS = ServiceKey.udp("2001:db8::1", 53)
FW = ServiceKey.fw(7)


def st(n: int, conns: int, inb: int, outb: int, *, kernel_inbps: int = 0) -> Stats:
    return Stats(conns * n, 10 * n, 10 * n, inb * n, outb * n, 0, 0, 0, kernel_inbps, 0)


def srv(addr: str, port: int, stats: Stats, act: int = 0, inact: int = 0) -> ServerStatus:
    return ServerStatus(
        Server(ipaddress.ip_address(addr), port, Forward.MASQ), act, inact, 0, stats
    )


def snap(taken: float, n: int) -> Snapshot:
    """n scales every counter: snap(t1, a) -> snap(t2, b) has deltas (b - a) x base."""
    services = (
        ServiceStatus(Service(WEB), st(n, 4, 1000, 50000, kernel_inbps=123)),
        ServiceStatus(Service(DNS), st(n, 1, 90000, 100)),
        ServiceStatus(Service(FW), st(n, 0, 0, 0)),
    )
    servers = {
        WEB: (
            srv("127.0.0.1", 8080, st(n, 3, 300, 40000), act=2, inact=1),
            srv("10.0.0.2", 8080, st(n, 1, 700, 10000), act=5),
        ),
        DNS: (srv("2001:db8::2", 53, st(n, 1, 90000, 100)),),
        FW: (),
    }
    return Snapshot(taken, services, MappingProxyType(servers))


PREV, CUR = snap(10.0, 1), snap(12.0, 3)  # 2 s apart, deltas = 2 x base
RATES = rates(PREV, CUR)


def body(lines: list[str]) -> list[str]:
    return lines[4:]  # title, sort/help, column heads, TOTAL


def test_delta_rates_sorted_by_inbound_bytes() -> None:
    lines = render(CUR, RATES, 120, 40)
    assert "deltas over 2.0s" in lines[0]
    assert "3 services, 3 servers" in lines[0]
    assert lines[1].startswith("sort: InByte/s v")
    assert lines[2].split()[:3] == ["Prot", "LocalAddress:Port", "Conn/s"]
    # Services by InByte/s descending (DNS 90000/s, WEB 1000/s, FW 0), each
    # followed by its servers sorted the same way.
    assert [ln.split()[1] for ln in body(lines)] == [
        "[2001:db8::1]:53",
        "[2001:db8::2]:53",
        "10.0.0.1:80",
        "10.0.0.2:8080",
        "127.0.0.1:8080",
        "7",
    ]
    web = next(ln for ln in lines if "10.0.0.1:80" in ln).split()
    # Conn/s InPkt/s OutPkt/s InByte/s OutByte/s ActConn InActConn
    assert web[2:] == ["4", "10", "10", "1000", "50000", "7", "1"]
    total = next(ln for ln in lines if ln.startswith("TOTAL")).split()
    assert total[1:] == ["5", "30", "30", "91000", "50100", "7", "1"]


def test_first_frame_uses_the_kernel_estimator() -> None:
    lines = render(CUR, None, 120, 40)
    assert "rates: kernel estimator" in lines[0]
    web = next(ln for ln in lines if "10.0.0.1:80" in ln).split()
    assert web[5] == "123"  # InByte/s from Stats.inbps


def test_sort_by_name_ascending_and_hidden_servers() -> None:
    view = View(sort="name", descending=False, servers=False)
    lines = render(CUR, RATES, 120, 40, view)
    assert lines[1].startswith("sort: name ^")
    assert [ln.split()[1] for ln in body(lines)] == ["10.0.0.1:80", "[2001:db8::1]:53", "7"]


def test_sort_by_active_connections() -> None:
    lines = render(CUR, RATES, 120, 40, View(sort="active"))
    assert body(lines)[0].split()[1] == "10.0.0.1:80"
    assert body(lines)[1].split()[1] == "10.0.0.2:8080"  # 5 active before 2


def test_new_service_has_no_delta_rate() -> None:
    prev = Snapshot(10.0, PREV.services[:1], MappingProxyType({WEB: PREV.servers[WEB]}))
    lines = render(CUR, rates(prev, CUR), 120, 40)
    dns = next(ln for ln in lines if "[2001:db8::1]:53" in ln).split()
    assert dns[2:7] == ["-"] * 5


@pytest.mark.parametrize("width", [0, 1, 5, 13, 14, 23, 24, 40, 80, 200])
@pytest.mark.parametrize("height", [0, 1, 2, 3, 5, 8, 50])
def test_every_size_fits(width: int, height: int) -> None:
    lines = render(CUR, RATES, width, height)
    assert len(lines) <= height
    assert all(len(ln) <= width for ln in lines)
    if width and height:
        assert lines[0].startswith("pyipvs top"[:width])


def test_columns_drop_from_the_right_when_narrow() -> None:
    heads = render(CUR, RATES, 40, 40)[2].split()
    assert heads[2:] == ["Conn/s", "InPkt/s"]
    assert heads[1] == "LocalAddress:Po"  # the name column is cut, not wrapped


def test_short_terminal_says_what_is_hidden() -> None:
    lines = render(CUR, RATES, 120, 7)
    assert len(lines) == 7
    assert lines[-1] == "... 4 more lines"


def test_error_replaces_the_key_help() -> None:
    lines = render(CUR, RATES, 120, 40, error="IPVS is gone")
    assert lines[1] == "error: IPVS is gone"


def test_human() -> None:
    assert [human(v) for v in (None, 0, 0.5, 9.0, 12345, 99999, 100000, 2.5e6, 7e9)] == [
        "-",
        "0",
        "0.5",
        "9",
        "12345",
        "99999",
        "100.0K",
        "2500.0K",
        "7000.0M",
    ]
    assert all(len(human(10.0**e)) <= 9 for e in range(19))


def test_keys_change_the_view() -> None:
    screen = _Screen(None, View(), 2.0, 0)  # type: ignore[arg-type]
    assert screen.key(ord(">")) and screen.view.sort == "outbps"
    assert screen.key(ord("<")) and screen.view.sort == "inbps"
    assert screen.key(ord("r")) and not screen.view.descending
    assert screen.key(ord("s")) and not screen.view.servers
    assert screen.key(curses.KEY_LEFT) and screen.view.sort == "outpps"
    assert not screen.key(ord("q"))
    view = View(sort=SORT_KEYS[-1])
    assert view.next_sort(1).sort == SORT_KEYS[0]
