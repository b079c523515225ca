"""pyipvsadm's thin start: which command lines it takes (quick.recognise).

Every form it recognises must be one the full parser accepts with the same
meaning (checked against parse_command_line); everything else, including
near misses that ipvsadm rejects or lists differently, must go to the full
path.
"""

from __future__ import annotations

import pytest

from pyipvs.cli.ipvsadm.matrix import Command
from pyipvs.cli.ipvsadm.options import OPT_NAMES, Opt
from pyipvs.cli.ipvsadm.parse import parse_command_line
from pyipvs.cli.ipvsadm.quick import recognise

F = frozenset

RECOGNISED = [
    ("-Ln", ("list", F())),
    ("-L -n", ("list", F())),
    ("-l -n", ("list", F())),
    ("-ln", ("list", F())),
    ("--list --numeric", ("list", F())),
    ("--list -n", ("list", F())),
    ("-L --numeric", ("list", F())),
    ("-Ln --stats", ("list", F({"stats"}))),
    ("-L --rate -n", ("list", F({"rate"}))),
    ("-Ln --exact --stats", ("list", F({"exact", "stats"}))),
    ("-LnX", ("list", F({"exact"}))),
    ("-LXn --rate", ("list", F({"exact", "rate"}))),
    ("-L -X -n --thresholds", ("list", F({"exact", "thresholds"}))),
    ("-Ln --persistent-conn", ("list", F({"persistent-conn"}))),
    ("-Ln --tun-info --nosort", ("list", F({"tun-info", "nosort"}))),
    (
        "-Ln --stats --rate --thresholds --persistent-conn --tun-info --exact --nosort",
        (
            "list",
            F({"stats", "rate", "thresholds", "persistent-conn", "tun-info", "exact", "nosort"}),
        ),
    ),
    ("-Sn", ("save", F())),
    ("-S -n", ("save", F())),
    ("--save --numeric", ("save", F())),
    ("--save -n", ("save", F())),
    ("-Lnc", ("conns", F())),
    ("-Lcn", ("conns", F())),
    ("-L -n -c", ("conns", F())),
    ("-L -c -n", ("conns", F())),
    ("-l -nc", ("conns", F())),
    ("--list --numeric --connection", ("conns", F())),
    ("-Lnc --persistent-conn", ("conns", F({"persistent-conn"}))),
    # --sort: a no-op to ipvsadm, taken any number of times
    ("-Ln --sort", ("list", F())),
    ("-L --sort -n --stats --sort", ("list", F({"stats"}))),
    ("-Sn --sort", ("save", F())),
    ("-Lnc --sort --persistent-conn", ("conns", F({"persistent-conn"}))),
]

NOT_RECOGNISED = [
    "",  # no arguments: the table with names
    "-L",  # names
    "-l",
    "--list",
    "-S",
    "-Lc",  # connections with names
    "-L -c",
    "-nL",  # the command must come first (ipvsadm: try-help, 255)
    "-n -L",
    "--numeric --list",
    "-cLn",
    "-Ln -t 10.0.0.1:80",  # one service
    "-Lnt 10.0.0.1:80",
    "-Ln -f 1",
    "-Ln -u 10.0.0.1:53",
    "-Ln --sctp-service 10.0.0.1:80",
    "-Ln --timeout",
    "-Ln --daemon",
    "-L --daemon",
    "-Ln --syncid 1",
    "--sort -Ln",  # the command first, always
    "-Ln --sort=1",
    "-Ln --sor",
    "-L --sort",  # names
    "-Ln -6",
    "-Lnn",  # multiple 'numeric' options
    "-Ln -n",
    "-Ln --numeric",
    "-Ln --stats --stats",
    "-LnX --exact",
    "-Lnc -c",
    "-LnL",  # a second command: invalid option
    "-Ln -L",
    "-Ln -S",
    "-Sn -L",
    "-Ln --list",
    "-SnL",
    "-Sn --stats",  # illegal with save
    "-Sn -c",
    "-Sn -X",
    "-Sn --nosort",
    "-Lnc --stats",  # legal but ignored by ipvsadm: left to the full path
    "-Lnc --exact",
    "-Lnc --nosort",
    "-Lnc --tun-info",
    "-Ln foo",  # unexpected argument
    "foo -Ln",
    "-Ln -",
    "-Ln --",
    "-Ln -- -c",
    "-Ln --bogus",
    "-Ln -q",
    "-Lnq",
    "--lis -n",  # no abbreviations
    "--list=1 -n",
    "-Ln --stats=1",
    "--numeric=x --list",
    "-Ln --Stats",
    "-Ln -h",
    "-Ln -v",
    "-h",
    "-v",
    "-Zn",
    "-Cn",
    "-Rn",
    "-An",
    "-L -n -p",
    "-Ln -s rr",
    "-",
    "--",
    "-Ln ''",
]


@pytest.mark.parametrize(("line", "expected"), RECOGNISED)
def test_recognised(line: str, expected: tuple[str, frozenset[str]]) -> None:
    assert recognise(line.split()) == expected


@pytest.mark.parametrize("line", NOT_RECOGNISED)
def test_not_recognised(line: str) -> None:
    args = [w.strip("'") for w in line.split()]
    assert recognise(args) is None


_NAMES = {v: k for k, v in OPT_NAMES.items()}


@pytest.mark.parametrize(("line", "expected"), RECOGNISED)
def test_recognised_forms_mean_the_same_to_the_full_parser(
    line: str, expected: tuple[str, frozenset[str]]
) -> None:
    kind, options = expected
    entry = parse_command_line(["ipvsadm", *line.split()])
    want = {Opt.NUMERIC} | {_NAMES[name] for name in options}
    if kind == "conns":
        want.add(Opt.CONNECTION)
    assert entry.command is (Command.SAVE if kind == "save" else Command.LIST)
    assert entry.given == want
