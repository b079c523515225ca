"""pyipvsadm-save and pyipvsadm-restore against Debian's ipvsadm-save and
ipvsadm-restore: the same table or input in two fresh namespaces must give
the same output, exit status and resulting table. Our side runs in-process
in its namespace; Debian's scripts run as they are, inside theirs."""

from __future__ import annotations

import io
import subprocess

import pytest
from conftest import Netns

from pyipvs.cli.companions import restore_input, restore_main, save_main

SAVE = "/usr/sbin/ipvsadm-save"
RESTORE = "/usr/sbin/ipvsadm-restore"

TABLE = """\
-A -t 10.1.1.1:80 -s rr
-a -t 10.1.1.1:80 -r 10.2.2.2:80 -m -w 3
-a -t 10.1.1.1:80 -r 10.2.2.3:8080 -g -w 1
-A -u 192.168.1.1:53 -s wlc -p 300 -M 255.255.255.0
-a -u 192.168.1.1:53 -r 192.168.2.2:53 -i -w 1
-A -f 7 -s sh -b sh-port
-a -f 7 -r 172.16.0.5:0 -g -w 2
-A -t [2001:db8::1]:443 -s lc
-a -t [2001:db8::1]:443 -r [2001:db8::2]:443 -m -w 1
"""

OLD_TABLE = "-A -t 10.9.9.9:80 -s rr\n-a -t 10.9.9.9:80 -r 10.9.9.10:80 -m -w 1\n"


def _same_table(ns: Netns, rules: str) -> None:
    r = ns.ipvsadm("-R", input=rules)
    assert r.returncode == 0, r.stderr


def _ours(fn: object, ns: Netns, argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = fn(argv, io.StringIO(stdin), out, err, netns=ns.path)  # type: ignore[operator]
    # The programs are called pyipvsadm*, the originals ipvsadm*.
    return rc, out.getvalue(), err.getvalue().replace("pyipvsadm", "ipvsadm")


def _theirs(ns: Netns, argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    r = ns.run(argv, input=stdin)
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["-n"],
        ["-n", "-n"],
        ["foo"],
        ["foo", "-n"],
        ["-x"],
        ["-n", "--help"],
        ["-"],
        ["-nn"],
        ["-h", "-n"],
    ],
)
def test_save_matches_debian(netns_pair: tuple[Netns, Netns], args: list[str]) -> None:
    a, b = netns_pair
    _same_table(a, TABLE)
    _same_table(b, TABLE)
    theirs = _theirs(a, [SAVE, *args])
    ours = _ours(save_main, b, ["pyipvsadm-save", *args])
    assert ours == theirs
    if args in ([], ["-n"]):
        assert theirs[0] == 0 and theirs[1].count("\n") == TABLE.count("\n")


def test_save_of_an_empty_table(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    assert _ours(save_main, b, ["pyipvsadm-save", "-n"]) == _theirs(a, [SAVE, "-n"]) == (0, "", "")


RESTORE_INPUTS = {
    "saved table with comments": "# saved by hand\n" + TABLE + "# end\n",
    "only comments": "# nothing\n#\n",
    "empty": "",
    "blank lines": "\n\n-A -t 10.1.1.1:80 -s rr\n\n\n",
    "indented comment is not one": (
        "-A -t 10.1.1.1:80 -s rr\n   # not dropped\n-A -t 10.1.1.2:80 -s rr\n"
    ),
    "trailing comment": "-A -t 10.1.1.1:80 -s rr # note\n-A -t 10.1.1.2:80 -s rr\n",
    "kernel error then success": (
        "-A -t 10.1.1.1:80 -s rr\n-A -t 10.1.1.1:80 -s rr\n-A -t 10.1.1.2:80 -s rr\n"
    ),
    "kernel error last": "-A -t 10.1.1.1:80 -s rr\n-a -t 10.1.1.5:80 -r 10.2.2.2:80\n",
    "fatal line stops": (
        "-A -t 10.1.1.1:80 -s rr\n-A -t 10.1.1.300:80 -s rr\n-A -t 10.1.1.2:80 -s rr\n"
    ),
    "crlf": "#c\r\n-A -t 10.1.1.1:80 -s rr\r\n-a -t 10.1.1.1:80 -r 10.2.2.2:80 -m\r\n",
    "no final newline": "-A -t 10.1.1.1:80 -s rr\n-A -u 10.1.1.1:53 -s rr",
    "trailing blanks at the end": "-A -t 10.1.1.1:80 -s rr\n-A -u 10.1.1.1:53 -s rr  ",
    "ipvsadm words": "ipvsadm -A -t 10.1.1.1:80 -s rr\n/sbin/ipvsadm -A -t 10.1.1.2:80\n",
    "listing inside": "-A -t 10.1.1.1:80 -s rr\n-L -n\n",
}


@pytest.mark.parametrize("case", list(RESTORE_INPUTS))
def test_restore_matches_debian(netns_pair: tuple[Netns, Netns], case: str) -> None:
    a, b = netns_pair
    text = RESTORE_INPUTS[case]
    _same_table(a, OLD_TABLE)
    _same_table(b, OLD_TABLE)
    theirs = _theirs(a, [RESTORE], text)
    ours = _ours(restore_main, b, ["pyipvsadm-restore"], text)
    assert ours == theirs
    assert b.ipvsadm_out("-Sn") == a.ipvsadm_out("-Sn")
    assert "10.9.9.9" not in a.ipvsadm_out("-Sn")  # the old table was cleared


def test_restore_ignores_arguments(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    theirs = _theirs(a, [RESTORE, "-x", "--bogus"], TABLE)
    ours = _ours(restore_main, b, ["pyipvsadm-restore", "-x", "--bogus"], TABLE)
    assert ours == theirs and ours[0] == 0
    assert b.ipvsadm_out("-Sn") == a.ipvsadm_out("-Sn") != ""


def test_save_then_restore_round_trip(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    _same_table(a, TABLE)
    rc, saved, _ = _ours(save_main, a, ["pyipvsadm-save", "-n"])
    assert rc == 0
    assert _ours(restore_main, b, ["pyipvsadm-restore"], saved)[0] == 0
    assert b.ipvsadm_out("-Sn") == a.ipvsadm_out("-Sn") == saved


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "#x",
        "#x\n",
        "a\n#b\nc",
        "a\n\n\n",
        "#a\n#b\n",
        "a\r\n#b\r\n",
        "  #x\n",
        "a",
        "\n\na\n\n#c\n\nb\n\n",
        "##\n#\n\n",
    ],
)
def test_restore_input_is_what_the_script_pipes(text: str) -> None:
    # The script's own lines, run by bash: drop "#" lines, then echo.
    r = subprocess.run(
        ["bash", "-c", 'INPUT="$(grep -v \'^#\')"\necho "$INPUT"'],
        input=text.encode(),
        capture_output=True,
        check=True,
    )
    assert restore_input(text) == r.stdout.decode()
