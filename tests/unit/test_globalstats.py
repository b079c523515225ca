"""Host tests of the /proc/net/ip_vs_stats{,_percpu} and ip_vs_app parsers,
on files recorded from Debian's 6.1 and 6.12 kernels after real traffic
(tests/data/proc/) and on hand-made edge cases."""

from __future__ import annotations

import pathlib

import pytest

from pyipvs.errors import IPVSError, IPVSValueError
from pyipvs.globalstats import (
    AppHelper,
    CpuStats,
    GlobalStats,
    parse_app_helpers,
    parse_stats,
    parse_stats_percpu,
    read_global_stats,
)
from pyipvs.model import Protocol, Stats

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "proc"
KERNELS = ("6.1", "6.12")
FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")


def fixture(name: str, kernel: str) -> bytes:
    return (DATA / f"{name}-{kernel}").read_bytes()


def hex_rows(text: bytes) -> list[list[int]]:
    """Every all-hex row of a stats file, decoded independently of the C parser."""
    rows = []
    for line in text.decode().splitlines():
        words = line.replace("~", "").split()
        try:
            rows.append([int(w, 16) for w in words])
        except ValueError:
            continue
    return [r for r in rows if r]


@pytest.mark.parametrize("kernel", KERNELS)
def test_recorded_stats(kernel: str) -> None:
    text = fixture("ip_vs_stats", kernel)
    counters, rates = hex_rows(text)
    g = parse_stats(text)
    assert g == GlobalStats(Stats(*counters, *rates))
    assert g.stats.inpkts >= 300 and g.stats.outpkts >= 300 and g.stats.conns >= 2


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("name", ["ip_vs_stats_percpu", "ip_vs_stats_percpu-zeroed"])
def test_recorded_percpu(kernel: str, name: str) -> None:
    text = fixture(name, kernel)
    rows = hex_rows(text)
    cpus, total, rates = rows[:-2], rows[-2], rows[-1]
    g = parse_stats_percpu(text)
    assert g.per_cpu == tuple(CpuStats(*r) for r in cpus)
    assert g.stats == Stats(*total, *rates)
    assert [c.cpu for c in g.per_cpu] == [0, 1]
    sums = [sum(getattr(c, f) for c in g.per_cpu) for f in FIELDS]
    if "zeroed" in name:
        # A zero resets the totals but not the raw per-CPU counters.
        assert total == [0] * 5 and sums[1] > 0
    else:
        assert sums == total


@pytest.mark.parametrize("kernel", KERNELS)
def test_recorded_helpers(kernel: str) -> None:
    assert parse_app_helpers(fixture("ip_vs_app", kernel)) == (
        AppHelper("ftp", Protocol.TCP, 21, 0),
    )


def test_no_helpers() -> None:
    assert parse_app_helpers(b"prot port    usecnt name\n") == ()


def test_helpers_of_several_ports_and_protocols() -> None:
    text = (
        b"prot port    usecnt name\n"
        b"TCP  21      3      ftp              \n"
        b"TCP  2121    0      ftp              \n"
        b"UDP  5060    -1     sip              \n"
        b"IP_99  7     0      x                \n"
    )
    assert parse_app_helpers(text) == (
        AppHelper("ftp", Protocol.TCP, 21, 3),
        AppHelper("ftp", Protocol.TCP, 2121, 0),
        AppHelper("sip", Protocol.UDP, 5060, -1),
        AppHelper("x", Protocol(99), 7, 0),
    )


STATS_MAX = (
    b"   Total Incoming Outgoing         Incoming         Outgoing\n"
    b"   Conns  Packets  Packets            Bytes            Bytes\n"
    b"FFFFFFFF 1FFFFFFFF        0 FFFFFFFFFFFFFFFF                A\n"
    b"\n"
    b" Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n"
    b"       1        2        3                4                5\n"
)


def test_64_bit_counters() -> None:
    assert parse_stats(STATS_MAX).stats == Stats(
        2**32 - 1, 2**33 - 1, 0, 2**64 - 1, 10, 1, 2, 3, 4, 5
    )


def test_many_cpus_in_hex() -> None:
    head = (
        b"       Total Incoming Outgoing         Incoming         Outgoing\n"
        b"CPU    Conns  Packets  Packets            Bytes            Bytes\n"
    )
    rows = b"".join(b"%3X %8X %8X %8X %16X %16X\n" % (i, i, 0, 0, 0, 0) for i in range(300))
    tail = (
        b"  ~ %8X        0        0                0                0\n\n"
        b"     Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n"
        b"           0        0        0                0                0\n"
    ) % sum(range(300))
    g = parse_stats_percpu(head + rows + tail)
    assert len(g.per_cpu) == 300 and g.per_cpu[255] == CpuStats(255, 255)
    assert g.stats.conns == sum(range(300))


@pytest.mark.parametrize(
    "text",
    [
        b"",
        STATS_MAX.replace(b"FFFFFFFFFFFFFFFF", b"1FFFFFFFFFFFFFFFF"),  # 65 bits
        STATS_MAX.replace(b" A\n", b" G\n"),
        STATS_MAX.replace(b" A\n", b" A 7\n"),  # a sixth field
        STATS_MAX.replace(b"\n\n", b"\n"),
        STATS_MAX + b"trailing\n",
        STATS_MAX.replace(b"Conns/s", b"Rates"),
    ],
)
def test_malformed_stats_are_refused(text: bytes) -> None:
    with pytest.raises(IPVSError):
        parse_stats(text)


def test_the_two_files_are_not_confused() -> None:
    with pytest.raises(IPVSError):
        parse_stats_percpu(STATS_MAX)
    with pytest.raises(IPVSError):
        parse_stats(fixture("ip_vs_stats_percpu", "6.1"))


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"TCP  21      0      ftp\n",  # no header
        b"prot port    usecnt name\nTCP  70000   0      ftp\n",
        b"prot port    usecnt name\nTCP  21      0\n",
        b"prot port    usecnt name\nTCP  21      0      ftp   extra\n",
        b"prot port    usecnt name\nTCP  21      0      " + b"n" * 40 + b"\n",
        b"prot port    usecnt name\nBOGUS  21      0      ftp\n",
    ],
)
def test_malformed_helpers_are_refused(text: bytes) -> None:
    with pytest.raises(IPVSError):
        parse_app_helpers(text)


def test_missing_namespace_is_a_value_error() -> None:
    with pytest.raises(
        IPVSValueError, match="no network namespace at /run/netns/pyipvs-no-such-ns"
    ):
        read_global_stats("pyipvs-no-such-ns")
