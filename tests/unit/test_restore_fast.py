"""The restore fast path (csrc/restore_fast.c) against pyipvsadm's full
parser, on the host: the same lines go to both, and wherever the fast path
takes a line, the request it encodes must be byte for byte the one the full
path (split_line, parse_command_line, then commands._call's verb on a batch)
encodes; wherever the full parser refuses a line or ends the run, the fast
path must have left the line alone.

Lines: every restore input and command line of the differential suite
(tests/kernel/diffcases.py, random cases included), generated rule sets
(benchmarks/gen_rules.py), what `ipvsadm -S -n` writes for every kind of
setting, and seeded mutations of all of those.
"""

from __future__ import annotations

import os
import random
import sys
from typing import cast

import pytest

from pyipvs import _native
from pyipvs.batch import RESTORE_END, RESTORE_SLOW, Batch, BatchResult
from pyipvs.cli.ipvsadm.commands import _call
from pyipvs.cli.ipvsadm.matrix import Command
from pyipvs.cli.ipvsadm.outcome import Exit
from pyipvs.cli.ipvsadm.parse import parse_command_line
from pyipvs.cli.ipvsadm.restore import split_line
from pyipvs.cli.ipvsadm.restore_batch import _Into
from pyipvs.cli.ipvsadm.session import Session
from pyipvs.cli.ipvsadm.tokenizer import PoptError

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "kernel"))
sys.path.insert(0, ROOT)

import diffcases  # noqa: E402

from benchmarks.gen_rules import restore_lines, rules  # noqa: E402

_KERNEL_CMDS = {
    Command.ADD_SERVICE, Command.EDIT_SERVICE, Command.DELETE_SERVICE,
    Command.ADD_SERVER, Command.EDIT_SERVER, Command.DELETE_SERVER,
}  # fmt: skip

SAVE_FORMS = [
    "-A -t 10.1.1.1:80 -s sh -p 60 -M 255.255.255.0 -b sh-port",
    "-A -t 10.1.1.1:80 -s wlc",
    "-A -u 10.1.1.1:53 -s rr -p 300 -M 255.255.255.255 -o",
    "-A -u [2001:db8::1]:53 -s wlc -p 10 -M 64 --pe sip -o",
    "-A --sctp-service 192.168.0.1:9999 -s nq",
    "-A -f 9 -6 -s mh -b flag-3",
    "-A -f 4294967295 -s rr -p 1",
    "-A -f 1 -s rr -p 2678400 -M 0.0.0.0",
    "-a -t 10.1.1.1:80 -r 10.2.0.1:80 -m -w 3",
    "-a -t 10.1.1.1:80 -r 10.2.0.2:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum",
    "-a -t 10.1.1.1:80 -r 10.2.0.2:80 -i -w 1 --tun-type gre --tun-nocsum",
    "-a -t 10.1.1.1:80 -r 10.2.0.2:80 -i -w 1 --tun-type ipip",
    "-a -t 10.1.1.1:80 -r 172.16.0.99:80 -i -w 0 --tun-type gue --tun-port 1 --tun-remcsum",
    "-a -f 9 -6 -r [2001:db8::9]:0 -g -w 1",
    "-a -t [2001:db8::1]:80 -r 10.2.0.9:80 -i -w 2 --tun-type ipip",
    "-a -t 10.1.1.1:80 -r 10.2.0.1:8080 -m -w 2147483647 -x 100 -y 10",
    "-e -t 10.1.1.1:80 -r 10.2.0.1:8080 -m -w 5",
    "-d -t 10.1.1.1:80 -r 10.2.0.1:8080",
    "-d -t 10.1.1.1:80 -r [2001:db8::1]:1",
    "-D -t 10.1.1.1:80",
    "-D -f 7 -6",
    "-E -t 10.1.1.1:80 -s rr -p",
    "-E -f 3 -p -M 255.255.0.0",
    "-A -M 255.255.0.0 -t [2001:db8::5]:80 -p",
    "-A -t 10.1.1.1:0 -p 5",
    "-a -r 10.2.0.3 -t 10.1.1.1:80 -m",
    "-a -t 10.1.1.1:80 -r 10.2.0.3 -m",
    "ipvsadm -A ipvsadm -t 10.9.9.9:1 ipvsadm",
    "  -A\t-t 10.1.1.1:80 \r",
]


def _inputs() -> list[str]:
    """Lines of every kind, without newlines."""
    out: list[str] = list(SAVE_FORMS)
    cases = [*diffcases.FIXED, *diffcases.CONSOLE, *diffcases.random_cases(1031, 40, 10)]
    for case in cases:
        for step in case.steps:
            out.append(" ".join(step.argv))
            if step.stdin:
                out.extend(step.stdin.split("\n"))
    for _name, text in diffcases._RESTORE_INPUTS:
        out.extend(text.split("\n"))
    for seed in (1, 2):
        out.extend(restore_lines(rules(200, 4, seed=seed)))
    return out


_ODD = ["", "-", "--", "0", "00", "010", "256", "65536", "99999", "4294967296", "x", "-6",
        "[", "]", ":", "::", "[::]", "1.2.3", "1.2.3.4.5", "01.2.3.4", "+1", " ", "ipvsadm",
        "-t", "-r", "-s", "-p", "-M", "-w", "--pe", "-b", "--tun-port", "--tun-type", "gue",
        "\x00", "é", "!#:+", "-f", "-g", "-m", "-i", "-o", "0.0.0.0", "[2001:db8::1]",
        "[1.2.3.4]:80", "2001:db8::1", "localhost", "rr", "a" * 70, "2147483648",
        "360"]  # fmt: skip


def _mutations(lines: list[str], rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        toks = rng.choice(lines).split(" ")
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(6)
            i = rng.randrange(len(toks))
            if k == 0 and len(toks) > 1:
                del toks[i]
            elif k == 1:
                toks.insert(i, toks[rng.randrange(len(toks))])
            elif k == 2:
                toks.insert(i, rng.choice(_ODD))
            elif k == 3:
                toks[i] = rng.choice(_ODD)
            elif k == 4 and toks[i]:
                j = rng.randrange(len(toks[i]))
                ch = rng.choice("0123456789.:[]-x \t")
                toks[i] = toks[i][:j] + ch + toks[i][j + 1 :]
            else:
                j = rng.randrange(len(toks))
                toks[i], toks[j] = toks[j], toks[i]
        out.append(" ".join(toks))
    return out


def _full(line: str) -> bytes | None:
    """The request the full path encodes for the line, or None when it
    encodes none (blank, refused, or not a kernel-changing command)."""
    tokens = split_line(line + "\n")
    if not tokens:
        return None
    try:
        entry = parse_command_line(["ipvsadm", *tokens])
    except (Exit, PoptError):
        return None
    if entry.command not in _KERNEL_CMDS:
        return None
    b = Batch(None)  # type: ignore[arg-type]  # never applied
    _, call = _call(cast(Session, _Into(b)), entry)
    call()
    nb = b._nb
    assert nb is not None and len(nb) == 1
    return nb.message(0)


def _fast(line: str) -> bytes | str | None:
    """The fast path's request, None for a blank line, "slow" if it declined."""
    nb = _native.Batch()
    data = (line + "\n").encode("utf-8", "surrogateescape")
    scan = nb.scan_restore(data, 0, 4)
    if scan.stop == RESTORE_SLOW:
        assert scan.pos == 0 and scan.cmds == 0 and len(nb) == 0
        return "slow"
    assert scan.stop == RESTORE_END and scan.pos == len(data) and scan.lines == 1
    if scan.cmds == 0:
        return None
    assert len(nb) == 1
    return nb.message(0)


def _compare(lines: list[str]) -> tuple[int, int]:
    taken = declined = 0
    for line in lines:
        fast = _fast(line)
        if fast == "slow":
            declined += 1
            continue
        full = _full(line)
        assert fast == full, f"fast path differs on {line!r}"
        taken += fast is not None
    return taken, declined


def test_every_line_of_the_differential_suite_and_generated_sets() -> None:
    lines = _inputs()
    taken, declined = _compare(lines)
    assert taken > 1500 and declined > 100  # both sides really ran


def test_every_save_form_is_taken() -> None:
    for line in SAVE_FORMS:
        if "-b" in line.split() or ":0 -p" in line:
            continue
        assert _fast(line) not in ("slow", None), line


@pytest.mark.parametrize("seed", range(4))
def test_mutated_lines(seed: int) -> None:
    rng = random.Random(seed)
    base = [*SAVE_FORMS, *restore_lines(rules(30, 3, seed=seed))]
    taken, declined = _compare(_mutations(base, rng, 4000))
    assert taken > 100 and declined > 100


def test_scan_stops_at_the_slow_line_and_keeps_the_partial_rest() -> None:
    nb = _native.Batch()
    data = b"-A -t 10.1.1.1:80\n\n  \n-L -n\n-A -t 10.1.1.2:80\n-A -t 10.1.1.3:80"
    scan = nb.scan_restore(data, 0, 100, True)
    assert (scan.stop, scan.cmds, scan.lines, scan.line_starts) == (RESTORE_SLOW, 1, 3, [0])
    assert data[scan.pos :].startswith(b"-L -n\n")
    nxt = data.index(b"\n", scan.pos) + 1
    scan = nb.scan_restore(data, nxt, 100, True)
    assert (scan.stop, scan.cmds, scan.line_starts) == (RESTORE_END, 1, [nxt])
    assert data[scan.pos :] == b"-A -t 10.1.1.3:80"
    scan = nb.scan_restore(b"-D -t 10.1.1.1:80\n" * 5, 0, 3)
    assert (scan.stop, scan.cmds, scan.pos) == (_native.RESTORE_FULL, 3, 3 * 18)


@pytest.mark.parametrize(
    "line",
    [
        "-A -t 10.1.1.1:80",
        "-E -t 10.1.1.1:80 -s rr",
        "-D -u 10.1.1.1:53",
        "-a -f 5 -r 10.2.0.1",
        "-e -t 10.1.1.1:80 -r 10.2.0.1 -m",
        "-d -t 10.1.1.1:80 -r 10.2.0.1",
    ],
)
def test_fast_commands_are_worded_as_the_per_line_path_words_them(line: str) -> None:
    """pyipvsadm -R words a fast-path command's failure by the op its batch
    result names; the per-line path by the op commands._call records."""
    entry = parse_command_line(["ipvsadm", *line.split()])
    op, _ = _call(cast(Session, _Into(Batch(None))), entry)  # type: ignore[arg-type]
    b = Batch(None)  # type: ignore[arg-type]
    scan = b.add_restore_text((line + "\n").encode())
    assert scan.cmds == 1 and b._nb is not None
    _, _, cmds = b._nb.results(0, 1)
    assert BatchResult(b"\x02", (3,), cmds).op(0) is op
