"""The installed `pyipvsadm` console script against the real ipvsadm 1.31,
for every form its thin start takes (pyipvs/cli/ipvsadm/quick.py), one it
leaves to the full path, and an error; and `-R` (quick_restore.py), on
input it restores alone and on input it hands over.

Both programs run as processes in one namespace holding IPv4, IPv6 and
fwmark services with real servers and a few connections (`-R`: each in a
fresh namespace of its own); stdout, stderr and the exit status must be
byte for byte the same, and after `-R` the tables too. The script is the one
next to the interpreter running the tests (the installed wheel's venv in
ci/test.sh), not the checkout's module.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import traffic
from conftest import IPVSADM, Netns, console_script, drop_netns, make_netns

SETUP = [
    ["-A", "-t", "10.0.0.1:80", "-s", "rr"],
    ["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1:80", "-g", "-w", "3"],
    ["-a", "-t", "10.0.0.1:80", "-r", "10.1.0.2:8080", "-m", "-x", "100", "-y", "10"],
    ["-A", "-u", "10.0.0.1:53", "-s", "wlc", "-p", "600"],
    ["-a", "-u", "10.0.0.1:53", "-r", "10.1.0.3:53", "-m"],
    ["-A", "-t", "[2001:db8::1]:443", "-s", "sh", "-b", "sh-port"],
    ["-a", "-t", "[2001:db8::1]:443", "-r", "[2001:db8:1::1]:443", "-i"],
    ["-A", "-f", "7", "-s", "lc", "-p"],
    ["-a", "-f", "7", "-r", "10.1.0.4", "-g"],
    ["-A", "-f", "8", "-6", "-s", "rr"],
    ["-a", "-f", "8", "-6", "-r", "2001:db8:1::2", "-g"],
]

THIN = [
    ["-Ln"],
    ["-L", "-n"],
    ["-l", "-n"],
    ["--list", "--numeric"],
    ["-LnX"],
    ["-Ln", "--stats"],
    ["-Ln", "--rate"],
    ["-Ln", "--stats", "--exact"],
    ["-Ln", "--thresholds"],
    ["-Ln", "--persistent-conn"],
    ["-Ln", "--tun-info"],
    ["-Ln", "--nosort"],
    ["-Ln", "--rate", "--thresholds", "--nosort", "-X"],
    ["-Sn"],
    ["-S", "-n"],
    ["--save", "--numeric"],
    ["-Ln", "--sort"],
    ["-L", "--sort", "-n", "--stats", "--sort", "-X"],
    ["-Sn", "--sort"],
]
CONNS = [["-Lnc"], ["-L", "-c", "-n"], ["-Lnc", "--persistent-conn"], ["-Lnc", "--sort"]]
THIN += CONNS
FULL = [
    ["-Ln", "-t", "10.0.0.1:80"],  # one service: the full path
    ["-nL"],  # not a command first: try-help, 255
    ["-Ln", "-t", "10.9.9.9:80"],  # No such service, 1
    ["-Lnn"],  # multiple 'numeric' options, 2
    ["-Sn", "--stats"],  # illegal with save, 2
]


def _pyipvsadm() -> str:
    return console_script("pyipvsadm")


@pytest.fixture(scope="module")
def table() -> Iterator[Netns]:
    ns = make_netns()
    with ExitStack() as stack:
        stack.callback(drop_netns, ns)
        for argv in SETUP:
            r = ns.ipvsadm(*argv)
            assert r.returncode == 0, (argv, r.stderr)
        assert traffic.udp_flows(ns, "10.0.0.1", 53, 6, ports_per_addr=3) == 6
        assert traffic.tcp_syns(ns, "10.0.0.1", 80, 4, ports_per_addr=2) == 4
        yield ns


def _run(ns: Netns, program: str, argv: list[str]) -> tuple[int, bytes, bytes]:
    r = subprocess.run(
        ["nsenter", f"--net={ns.path}", program, *argv], capture_output=True, check=False
    )
    return r.returncode, r.stdout, r.stderr


def _both(ns: Netns, argv: list[str]) -> tuple[tuple[int, bytes, bytes], tuple[int, bytes, bytes]]:
    ours = _run(ns, _pyipvsadm(), argv)
    theirs = _run(ns, IPVSADM, argv)
    # Messages quote the program name (try-help).
    return (ours[0], ours[1], ours[2].replace(_pyipvsadm().encode(), IPVSADM.encode())), theirs


# A connection row's expiry: its protocol, then mm:ss.
_EXPIRE = re.compile(rb"^(\S+ )(\d\d):(\d\d)")


def _same_but_a_tick(ours: bytes, theirs: bytes) -> bool:
    """Two connection listings, ours taken first, the same but for expiry
    times that counted down by at most 2 s in between (a read straddling
    the turn of a second; the formatting of expiries is compared on one
    snapshot of the table in test_ipvsadm_traffic.py)."""
    a, b = ours.split(b"\n"), theirs.split(b"\n")
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        mx, my = _EXPIRE.match(x), _EXPIRE.match(y)
        if mx is None or my is None:
            if x != y:
                return False
            continue
        left = int(mx[2]) * 60 + int(mx[3]) - (int(my[2]) * 60 + int(my[3]))
        if not 0 <= left <= 2 or x[mx.end() :] != y[my.end() :] or mx[1] != my[1]:
            return False
    return True


@pytest.mark.parametrize("argv", THIN + FULL, ids=" ".join)
def test_same_as_ipvsadm(table: Netns, argv: list[str]) -> None:
    # Rates decay, entries expire and connection counts move by the second:
    # a difference is retried (these are reads), and one identical pair is
    # what counts; for connection listings, one that differs only in
    # expiries that ticked between the two reads.
    for _ in range(5):
        ours, theirs = _both(table, argv)
        if ours == theirs:
            break
        if argv in CONNS and ours[::2] == theirs[::2] and _same_but_a_tick(ours[1], theirs[1]):
            break
    else:
        assert ours == theirs


def test_empty_table_same_as_ipvsadm(netns: Netns) -> None:
    for argv in (["-Ln"], ["-Sn"], ["-Lnc"], ["-Ln", "--stats"]):
        ours, theirs = _both(netns, argv)
        assert ours == theirs


def test_version_like_ipvsadm(netns: Netns) -> None:
    # -v (thin start) prints pyipvsadm's own line where ipvsadm prints its
    # own (the prose differs on purpose), both on stdout, exit 0, nothing else.
    from pyipvs.cli.ipvsadm.helptext import version_text

    for argv in (["-v"], ["--version"]):
        ours, theirs = _both(netns, argv)
        assert (ours[0], ours[2]) == (theirs[0], theirs[2]) == (0, b""), argv
        assert theirs[1].startswith(b"ipvsadm v1.31 "), theirs
        assert ours[1] == version_text().encode(), ours


def _mixed_table_rules() -> str:
    """45 services of uneven sizes (none, a few, more than a small dump
    chunk holds, a dump the kernel resumes), as `ipvsadm -R` input: enough
    services for the core's read to split the server dumps with a helper
    thread (csrc/snapshot.c, read_all_dests)."""
    lines = []
    for i, n in enumerate([3, 0, 60, 3, 200, 11, 3, 60, 1, 12, 90, 0, 3, 7, 2] * 3):
        vip = f"10.40.{i}.1:{80 + i}"
        lines.append(f"-A -t {vip} -s {'wrr' if i % 2 else 'rr'}")
        lines += [
            f"-a -t {vip} -r 10.41.{j // 250}.{j % 250 + 1}:80 -m -w {j % 5}" for j in range(n)
        ]
    return "\n".join(lines) + "\n"


def test_table_read_by_two_threads_same_as_ipvsadm(netns: Netns) -> None:
    r = netns.ipvsadm("-R", input=_mixed_table_rules())
    assert r.returncode == 0, r.stderr
    for argv in (["-Ln"], ["-Sn"], ["-Ln", "--stats", "--exact"], ["-Ln", "--nosort"]):
        ours, theirs = _both(netns, argv)
        assert ours == theirs, argv
        assert ours[1].count(b"\n") > 1000


RESTORE = [
    # plain lines only: the thin start restores them by itself
    (
        "-A -t 10.2.0.1:80 -s rr\n-a -t 10.2.0.1:80 -r 10.3.0.1:80 -m -w 2\n\n"
        "-A -u 10.2.0.1:53 -s wlc\n"
    ),
    # a failing line, then a line for the full parser, a listing and a
    # failing last line: handed over at the failure
    (
        "-A -t 10.2.0.1:80 -s rr\n-A -t 10.2.0.1:80 -s rr\n-a -t 10.2.0.1:80 -r 10.3.0.1:80 -m\n"
        "--add-service -u 10.2.0.2:53\n-Sn\n-a -t 10.2.0.1:80 -r 10.3.0.1:80 -m\n"
    ),
]


@pytest.mark.parametrize("text", RESTORE, ids=["plain", "handed-over"])
def test_restore_same_as_ipvsadm(text: str) -> None:
    # Each program restores into a namespace of its own: output, status and
    # the resulting table must be the same.
    seen = []
    for program in (_pyipvsadm(), IPVSADM):
        ns = make_netns()
        try:
            r = subprocess.run(
                ["nsenter", f"--net={ns.path}", program, "-R"],
                input=text.encode(),
                capture_output=True,
                check=False,
            )
            err = r.stderr.replace(_pyipvsadm().encode(), IPVSADM.encode())
            seen.append((r.returncode, r.stdout, err, ns.ipvsadm_out("-Sn")))
        finally:
            drop_netns(ns)
    assert seen[0] == seen[1]
    assert seen[0][3].count("\n") >= 2
