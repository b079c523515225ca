"""pyipvsadm's value parsers: ipvsadm 1.31's acceptance rules (host only)."""

from __future__ import annotations

import ipaddress

import pytest

from pyipvs.cli.ipvsadm import spec
from pyipvs.model import Protocol


@pytest.mark.parametrize(
    ("text", "lo", "hi", "want"),
    [
        ("5", 0, 10, 5),
        (" 5", 0, 10, 5),
        ("+5", 0, 10, 5),
        ("-0", 0, 10, 0),
        ("010", 0, 10, 10),
        ("5 ", 0, 10, None),
        ("0x5", 0, 10, None),
        ("", 0, 10, None),
        ("+", 0, 10, None),
        (" ", 0, 10, None),
        ("11", 0, 10, None),
        ("-1", 0, 10, None),
        ("99999999999999999999", 0, 2**62, None),
        ("\t\n7", 0, 10, 7),
    ],
)
def test_string_to_number(text: str, lo: int, hi: int, want: int | None) -> None:
    assert spec.string_to_number(text, lo, hi) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("1", 1),
        ("4294967295", 4294967295),
        ("0", None),
        ("-1", None),
        ("4294967296", None),
        ("7x", None),
    ],
)
def test_fwmark(text: str, want: int | None) -> None:
    assert spec.parse_fwmark(text) == want


def test_c_atoi_wraps_like_c() -> None:
    assert spec.c_atoi("64abc") == 64
    assert spec.c_atoi("4294967360") == 64
    assert spec.c_atoi("junk") == 0
    assert spec.c_atoi("-1") == -1
    assert spec.parse_netmask6("4294967360") == 64
    assert spec.parse_netmask6("-1") is None
    assert spec.parse_netmask6("129") is None


def test_c_truncate_counts_bytes() -> None:
    assert spec.c_truncate("abcdefghijklmnopq", 15) == "abcdefghijklmno"
    assert spec.c_truncate("rr", 15) == "rr"


A4 = ipaddress.IPv4Address
A6 = ipaddress.IPv6Address


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("10.0.0.1:80", (A4("10.0.0.1"), 80)),
        ("10.0.0.1", (A4("10.0.0.1"), None)),
        ("10.1:080", (A4("10.0.0.1"), 80)),
        ("0x0a000001:1", (A4("10.0.0.1"), 1)),
        ("127.1:http", (A4("127.0.0.1"), 80)),
        ("[2001:db8::1]:80", (A6("2001:db8::1"), 80)),
        ("2001:db8::1:80", (A6("2001:db8::1:80"), None)),
        ("[1.2.3.4]:80", (A4("1.2.3.4"), None)),
        ("[10.0.0.1:99]:80", (A4("10.0.0.1"), 99)),
        ("80", None),
        ("", None),
        ("[2001:db8::1]", None),
        ("[2001:db8::1", None),
        ("10.0.0.1:", None),
        ("10.0.0.1:65536", None),
        ("10.0.0.1:0x50", None),
        ("10.0.0.1:nosuchservice", None),
    ],
)
def test_host_port(text: str, want: tuple[object, int | None] | None) -> None:
    hp = spec.parse_host_port(text, Protocol.TCP)
    assert (None if hp is None else (hp.address, hp.port)) == want


def test_port_names_follow_the_protocol_parsed_so_far() -> None:
    assert spec.parse_host_port("10.0.0.1:domain", Protocol.UDP) is not None
    assert spec.parse_host_port("10.0.0.1:http", 0) is None  # -r before -t: no protocol yet
    assert spec.parse_host_port("10.0.0.1:80", 0) is not None


def test_netmask4_is_inet_aton() -> None:
    assert spec.parse_netmask4("255.255.255.0") == 0xFFFFFF00
    assert spec.parse_netmask4("24") == 24
    assert spec.parse_netmask4("no.such.host.invalid") is None


def test_mcast_group() -> None:
    assert spec.parse_mcast_group("239.1.1.1") == A4("239.1.1.1")
    assert spec.parse_mcast_group("10.0.0.1") is None
    assert spec.parse_mcast_group("224.1") is None  # inet_pton, not inet_aton
    assert spec.parse_mcast_group("ff02::1") == A6("ff02::1")
    assert spec.parse_mcast_group("2001:db8::1") is None
