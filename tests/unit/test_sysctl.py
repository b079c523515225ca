"""Host tests of the tunables table, value parsing, formatting and validation
(no kernel: the kernel side is tests/kernel/test_sysctl.py)."""

from __future__ import annotations

import pytest

from pyipvs import sysctl
from pyipvs.errors import IPVSValueError
from pyipvs.sysctl import BY_NAME, TUNABLES, Kind, validate

# What a fresh namespace of Debian's 6.1 and 6.12 kernels lists (6.12 adds
# est_cpulist and est_nice; lblc/lblcr appear with their modules).
KERNEL_61 = (
    "amemthresh",
    "am_droprate",
    "backup_only",
    "cache_bypass",
    "conn_reuse_mode",
    "conntrack",
    "drop_entry",
    "drop_packet",
    "expire_nodest_conn",
    "expire_quiescent_template",
    "ignore_tunneled",
    "nat_icmp_send",
    "pmtu_disc",
    "run_estimation",
    "schedule_icmp",
    "secure_tcp",
    "sloppy_sctp",
    "sloppy_tcp",
    "snat_reroute",
    "sync_persist_mode",
    "sync_ports",
    "sync_qlen_max",
    "sync_refresh_period",
    "sync_retries",
    "sync_sock_size",
    "sync_threshold",
    "sync_version",
)


def test_table_covers_every_kernel_name() -> None:
    names = [t.name for t in TUNABLES]
    assert len(names) == len(set(names))
    assert set(KERNEL_61) | {
        "est_cpulist",
        "est_nice",
        "lblc_expiration",
        "lblcr_expiration",
    } <= set(names)
    for t in TUNABLES:
        assert t.meaning and t.default
        assert t.minimum <= t.maximum


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("amemthresh", "1024\n", 1024),
        ("amemthresh", "-5\n", -5),
        ("pmtu_disc", "1\n", True),
        ("cache_bypass", "0\n", False),
        ("cache_bypass", "7\n", 7),  # written behind our back: shown as it is
        ("sync_threshold", "3\t50\n", (3, 50)),
        ("est_cpulist", "0-1\n", (0, 1)),
        ("est_cpulist", "0-2,5,7-8\n", (0, 1, 2, 5, 7, 8)),
        ("sync_qlen_max", "15191\n", 15191),
        ("conn_lfactor", "-4\n", "-4"),  # a newer kernel's name: raw text
    ],
)
def test_parse_value(name: str, text: str, value: object) -> None:
    got = sysctl.parse_value(name, text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("pmtu_disc", True, "1"),
        ("sync_threshold", (3, 50), "3\t50"),
        ("est_cpulist", (0, 1, 2, 5), "0-2,5"),
        ("est_cpulist", (3,), "3"),
        ("amemthresh", 1024, "1024"),
        ("conn_lfactor", "-4", "-4"),
    ],
)
def test_format_value(name: str, value: sysctl.Value, text: str) -> None:
    assert sysctl.format_value(name, value) == text
    assert sysctl.format_value(name, sysctl.parse_value(name, text + "\n")) == text


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("drop_entry", 3, "3"),
        ("drop_entry", "0", "0"),
        ("secure_tcp", 1, "1"),
        ("cache_bypass", True, "1"),
        ("cache_bypass", "off", "0"),
        ("cache_bypass", " yes ", "1"),
        ("sync_ports", 4, "4"),
        ("sync_ports", 1, "1"),
        ("sync_version", 0, "0"),
        ("sync_retries", 3, "3"),
        ("sync_threshold", (5, 60), "5\t60"),
        ("sync_threshold", "5 0", "5\t0"),
        ("sync_threshold", "0,10", "0\t10"),
        ("est_nice", -20, "-20"),
        ("est_nice", "19", "19"),
        ("est_cpulist", "1,0", "0-1"),
        ("est_cpulist", [2, 0, 1], "0-2"),
        ("sync_qlen_max", 2**40, str(2**40)),
        ("lblc_expiration", 3600, "3600"),
    ],
)
def test_validate_accepts(name: str, value: object, text: str) -> None:
    assert validate(name, value) == text


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("drop_entry", 4, "drop_entry: expected 0..3, got 4"),
        ("drop_packet", -1, "drop_packet: expected 0..3, got -1"),
        ("secure_tcp", "x", "secure_tcp: expected an integer, got 'x'"),
        ("cache_bypass", 2, "cache_bypass: expected 0 or 1, got 2"),
        ("sync_ports", 3, "sync_ports: expected a power of two (1, 2, 4, ...), got 3"),
        ("sync_ports", 0, "sync_ports: expected a power of two (1, 2, 4, ...), got 0"),
        ("sync_version", 2, "sync_version: expected 0..1, got 2"),
        ("sync_retries", 4, "sync_retries: expected 0..3, got 4"),
        (
            "sync_threshold",
            (5, 5),
            "sync_threshold: THRESHOLD must be below PERIOD (or PERIOD 0), got (5, 5)",
        ),
        ("sync_threshold", "7", "sync_threshold: expected two integers THRESHOLD PERIOD, got '7'"),
        (
            "sync_threshold",
            (-1, 0),
            "sync_threshold: THRESHOLD and PERIOD must be 0..2147483647, got (-1, 0)",
        ),
        ("est_nice", 20, "est_nice: expected -20..19, got 20"),
        ("est_nice", -21, "est_nice: expected -20..19, got -21"),
        ("est_cpulist", "", "est_cpulist: expected a non-empty list of CPUs, got ''"),
        ("est_cpulist", "3-1", "est_cpulist: expected a CPU list such as 0-3,6, got '3-1'"),
        ("amemthresh", -5, "amemthresh: expected 0..2147483647, got -5"),
        ("amemthresh", 2**31, "amemthresh: expected 0..2147483647, got 2147483648"),
        ("sync_qlen_max", -1, "sync_qlen_max: expected 0..18446744073709551615, got -1"),
        ("no_such_thing", 1, "unknown IPVS tunable 'no_such_thing'"),
    ],
)
def test_validate_refuses(name: str, value: object, message: str) -> None:
    with pytest.raises(IPVSValueError) as info:
        validate(name, value)
    assert str(info.value) == message


def test_every_kind_refuses_garbage() -> None:
    for t in TUNABLES:
        with pytest.raises(IPVSValueError):
            validate(t.name, "garbage")
        if t.kind in (Kind.INT, Kind.SECONDS, Kind.ULONG):
            assert validate(t.name, t.maximum) == str(t.maximum)
            assert validate(t.name, t.minimum) == str(t.minimum)
    assert validate("sync_ports", 2**30) == str(2**30)


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("drop_entry=3", ("drop_entry", "3")),
        ("net.ipv4.vs.secure_tcp = 1", ("secure_tcp", "1")),
        ("net/ipv4/vs/sync_threshold=3 50", ("sync_threshold", "3 50")),
    ],
)
def test_parse_assignment(text: str, pair: tuple[str, str]) -> None:
    assert sysctl.parse_assignment(text) == pair


@pytest.mark.parametrize("text", ["drop_entry", "=3", ""])
def test_parse_assignment_refuses(text: str) -> None:
    with pytest.raises(IPVSValueError):
        sysctl.parse_assignment(text)


def test_missing_namespace_is_a_value_error() -> None:
    with pytest.raises(
        IPVSValueError, match="no network namespace at /run/netns/pyipvs-no-such-ns"
    ):
        sysctl.Sysctl("pyipvs-no-such-ns").get("drop_entry")


def test_names_with_slashes_never_reach_the_kernel() -> None:
    with pytest.raises(IPVSValueError):
        sysctl.Sysctl().get("../../ipv4/ip_forward")
    with pytest.raises(IPVSValueError):
        sysctl.Sysctl().set("../ip_forward", 1)


def test_defaults_parse() -> None:
    for t in TUNABLES:
        if not t.default.startswith("("):
            assert sysctl.format_value(t.name, sysctl.parse_value(t.name, t.default)) == t.default
    assert BY_NAME["sync_threshold"].default == "3\t50"
