"""pyipvsadm -R's line reader (host only)."""

from __future__ import annotations

import io

import pytest

from pyipvs.cli.ipvsadm.restore import read_tokens, split_line


@pytest.mark.parametrize(
    ("line", "want"),
    [
        ("-A -t 10.0.0.1:80\n", ["-A", "-t", "10.0.0.1:80"]),
        ("\n", []),
        ("  \t \r\n", []),
        ("-C\r\n", ["-C"]),
        ("ipvsadm -C ipvsadm\n", ["-C"]),
        ("/sbin/ipvsadm -C\n", ["/sbin/ipvsadm", "-C"]),
        ("# comment\n", ["#", "comment"]),
        ('"-A" x\n', ['"-A"', "x"]),
        ("a\vb\n", ["a\vb"]),  # only blank, tab, CR and LF separate
        ("-s rr\x00junk\n", ["-s", "rr"]),  # a NUL ends a C string
        ("ipvsadm\x00x\n", []),
        ("\x00\n", [""]),
        # the last line, without a newline
        ("-C", ["-C"]),
        ("-C ", ["-C"]),
        ("-C\r", ["-C"]),
        ("  -C", ["-C"]),
        ("-C  ", None),
        ("-C\t\r", None),
        ("   ", None),
        ("", None),
        ("ipvsadm", None),
    ],
)
def test_split_line(line: str, want: list[str] | None) -> None:
    assert split_line(line) == want


def test_long_tokens_are_split_at_4096_bytes() -> None:
    toks = split_line("-s " + "x" * 5000 + "\n")
    assert toks == ["-s", "x" * 4096, "x" * 904]


def test_only_lf_ends_a_line() -> None:
    stream = io.StringIO("-A -t 1:80\r-C\n-L\n")
    assert read_tokens(stream) == ["-A", "-t", "1:80", "-C"]
    assert read_tokens(stream) == ["-L"]
    assert read_tokens(stream) is None
