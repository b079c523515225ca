"""Host tests of `pyipvs conns` over fixture files in the kernel's format
(on real tables: tests/kernel/test_conns.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from pyipvs.cli.pyipvs import main

DATA = Path(__file__).resolve().parent.parent / "data" / "conn"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(["pyipvs", "conns", *argv], io.StringIO(), out, err)
    return rc, out.getvalue(), err.getvalue()


def test_listing_as_json_lines_streams_every_row() -> None:
    rc, out, err = run("--file", str(DATA / "ipv4.txt"), "--json")
    assert (rc, err) == (0, "")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and all({"client", "virtual", "server", "state"} <= r.keys() for r in rows)


@pytest.mark.parametrize(
    ("args", "count"),
    [
        ((), 3),
        (("--protocol", "udp"), 1),
        (("--server", "192.168.1.10"), 2),
        (("--server", "[2001:db8::10]:80"), 1),
        (("--client", "2001:db8::/32"), 1),
    ],
)
def test_count_with_filters(args: tuple[str, ...], count: int) -> None:
    rc, out, err = run("--file", str(DATA / "mixed.txt"), "--count", *args)
    assert (rc, out, err) == (0, f"{count}\n", "")


def test_summary_json_totals_agree_with_the_listing() -> None:
    rc, out, _ = run("--file", str(DATA / "ipv4.txt"), "--by", "server", "--json")
    doc = json.loads(out)
    _, listing, _ = run("--file", str(DATA / "ipv4.txt"), "--json")
    assert rc == 0 and doc["total"] == len(listing.splitlines())
    assert sum(g["count"] for g in doc["groups"]) == doc["total"]


def test_sync_origins() -> None:
    rc, out, _ = run("--file", str(DATA / "sync.txt"), "--origin", "sync", "--count")
    assert (rc, out) == (0, "2\n")


@pytest.mark.parametrize(
    "args",
    [
        ("--state", "nonsense"),
        ("--service", "tcp:10.0.0.1"),
        ("--service", "icmp:10.0.0.1:1"),
        ("--client", "not-an-address"),
        ("--protocol", "udp", "--service", "tcp:10.0.0.1:80"),
        ("--live",),
    ],
)
def test_usage_errors(args: tuple[str, ...]) -> None:
    rc, out, err = run("--file", str(DATA / "ipv4.txt"), *args)
    assert rc == 2 and out == "" and err.startswith("pyipvs conns: ")
