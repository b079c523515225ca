"""Differential cases for pyipvsadm against the real ipvsadm 1.31, as data.

A case is a sequence of command lines (with stdin for -R). Each runs once
with /usr/sbin/ipvsadm in one network namespace and once with pyipvsadm in
another; stdout, stderr and exit status of every step are compared, and at
the end both namespaces are dumped with the real ipvsadm (`FINAL`) and the
dumps compared. Steps that may print -h or -v text (ours differs on
purpose) are compared after ipvsadm's exact text is swapped for ours.

`random_cases` adds seeded random command sequences, valid and invalid.
"""

from __future__ import annotations

import random
import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    argv: tuple[str, ...]
    stdin: str | None = None
    console: bool = False  # run `python -m pyipvs.cli.ipvsadm` instead of main() in-process
    merged: bool = False  # console only: compare stdout and stderr as one stream (2>&1)
    own_text: bool = False  # may print -h/-v: swap ipvsadm's text for ours, then compare
    # Compare with the real ipvsadm run right after in *our* namespace: for
    # listings whose order depends on the kernel's dump order, which differs
    # between namespaces (the service hash mixes in the namespace's address)
    # and matters where ipvsadm's wrap-around compare is not transitive.
    # Only for listings: a run of them is replayed by ipvsadm in one go.
    crosscheck: bool = False

    def label(self) -> str:
        text = " ".join(shlex.quote(a) for a in self.argv)
        if self.stdin is not None:
            text += f"  <<< {self.stdin!r}"
        return text


@dataclass(frozen=True)
class Case:
    name: str
    steps: tuple[Step, ...]
    final: tuple[tuple[str, ...], ...] = field(default=(("-Sn",),))


# What both namespaces are dumped with at the end (by the real ipvsadm).
FINAL: tuple[tuple[str, ...], ...] = (("-Sn",),)
FULL: tuple[tuple[str, ...], ...] = (
    ("-Sn",),
    ("-Ln", "--thresholds"),
    ("-Ln", "--tun-info"),
    ("-L", "--timeout"),
    ("-L", "--daemon"),
)


def s(line: str, stdin: str | None = None) -> Step:
    return Step(tuple(shlex.split(line)), stdin)


def argv(*args: str, stdin: str | None = None) -> Step:
    return Step(tuple(args), stdin)


def R(stdin: str, extra: str = "") -> Step:
    return Step(("-R", *shlex.split(extra)), stdin)


def H(line: str) -> Step:
    return Step(tuple(shlex.split(line)), own_text=True)


def XC(line: str) -> Step:
    return Step(tuple(shlex.split(line)), crosscheck=True)


def X(line: str, stdin: str | None = None, merged: bool = False) -> Step:
    return Step(tuple(shlex.split(line)), stdin, console=True, merged=merged)


def C(name: str, *steps: Step | str, final: tuple[tuple[str, ...], ...] = FINAL) -> Case:
    return Case(name, tuple(st if isinstance(st, Step) else s(st) for st in steps), final)


V = "10.1.1.1"
V6 = "[2001:db8::1]"

# -- the man page, the kernel selftest -------------------------------------

MAN_PAGE = [
    C(
        "man-nat",
        "-A -t 207.175.44.110:80 -s rr",
        "-a -t 207.175.44.110:80 -r 192.168.10.1:80 -m",
        "-a -t 207.175.44.110:80 -r 192.168.10.2:80 -m",
        "-a -t 207.175.44.110:80 -r 192.168.10.3:80 -m",
        "-a -t 207.175.44.110:80 -r 192.168.10.4:80 -m",
        "-a -t 207.175.44.110:80 -r 192.168.10.5:80 -m",
        "-Ln",
        "-L",
        "-Sn",
        "-S",
        "-L -t 207.175.44.110:80",
        "-L -n -t 207.175.44.110:http",
    ),
    C(
        "man-fwmark",
        "-A -f 1 -s rr",
        "-a -f 1 -r 192.168.10.1:0 -m",
        "-a -f 1 -r 192.168.10.2:0 -m",
        "-a -f 1 -r 192.168.10.3:0 -m",
        "-Ln",
        "-L -f 1",
        "-Sn",
    ),
    C(
        "selftest-dr-nat-tun",
        "-A -t 207.175.44.110:8080 -s rr",
        "-a -t 207.175.44.110:8080 -r 172.16.0.2:8080",
        "-Ln",
        "-C",
        "-A -t 207.175.44.110:8080 -s rr",
        "-a -m -t 207.175.44.110:8080 -r 172.16.0.2:8080",
        "-Ln",
        "-C",
        "-A -t 207.175.44.110:8080 -s rr",
        "-a -i -t 207.175.44.110:8080 -r 172.16.0.2",
        "-Ln",
        H("-v"),
    ),
]

# -- popt behaviour ----------------------------------------------------------

POPT = [
    C(
        "popt-clusters-and-attached",
        "-At10.1.1.1:80 -srr",
        "-at 10.1.1.1:80 -r10.2.0.1 -mw3",
        "-a -t=10.1.1.1:80 -r=10.2.0.2 -w=4",
        "--add-server --tcp-service=10.1.1.1:80 --real-server=10.2.0.3:99"
        " --masquerading --weight=5",
        "-Lnt 10.1.1.1:80",
        "-Ln",
        "-L=",
        "-Ln=",
        "-L=n",
        "-Lq",
        "-Lnq",
        "-L --numeric=yes",
        "-L --nosuch",
        "--lis",
        "--list --numer",
        "-list",
        "-Ax",
        "-A -t",
        "-A -t 10.1.1.2:80 -s",
        "-A -t 10.1.1.2:80 -p",
        "-A -t 10.1.1.3:80 -p -s rr",
        "-A -t 10.1.1.4:80 -p600",
        "-A -t 10.1.1.5:80 -p=",
        "-A -t 10.1.1.5:80 --persistent=",
        "-A -t 10.1.1.6:80 --persistent=77",
        "-A -t 10.1.1.7:80 -p 1.2",
        "-A -t 10.1.1.8:80 -p foo",
        "-A -t 10.1.1.9:0 -p",
        "-A -t 10.1.1.10:80 -w -1",
        "-A -t -s",
        "-Ln",
    ),
    C(
        "popt-commands-and-words",
        argv(""),
        "foo",
        "foo -L -n",
        "-n -L",
        "-- -L",
        "-L -- -n",
        "-L -n -A",
        "-L -n -LA",
        "-L -h",
        "-L -v",
        "-L --start-daemon master",
        "-L --start-daemon=master",
        "-L -R",
        "-LS",
        "-L -",
        "-L --sort --sort -n",
        "-L -6",
        "-Z --sort",
        "-C -- x",
        "-C x y",
        "--set 1 2",
        "--set",
        "--set 1 2 3 4",
        "--set -- -1 2 3",
        "--set -1 2 3",
        "--set 10 20 30",
        "-L --timeout",
        "--set 0 0 0",
        "-L --timeout",
        "--set 2678400 0 1",
        "-L --timeout",
        "--set 2678401 1 1",
        "--set 900 120 300",
        "--set a b c",
        "--set 1 b c",
        H("-h"),
        H("--help"),
        H("-v"),
        H("--version"),
        H("-h --bogus"),
        H("-v -L"),
        H("-hv"),
        final=FULL,
    ),
    C(
        "popt-next-arg-mark",
        "-A -t 10.1.1.1:!#:+ -s rr 80",
        "-A -t !#:+ 10.1.1.2:81",
        "-A -t 10.1.1.3:82 -s r!#:+ r",
        "-A -t 10.1.1.4:83 -s !#:+!#:+ rr",
        "-A -t 10.1.1.5:84 -s rr!#:+",
        "-Ln",
    ),
]

# -- the command/option matrix ------------------------------------------------

# A valid argument for each switch, to test legality only.
_OPT_ARGS: dict[str, str] = {
    "-n": "-n",
    "-c": "-c",
    "-t": "-t 10.9.9.9:80",
    "-f": "-f 5",
    "-s": "-s rr",
    "-p": "-p 100",
    "-M": "-M 255.255.255.0",
    "-r": "-r 10.2.9.9",
    "-g": "-g",
    "-w": "-w 2",
    "-x": "-x 10",
    "-y": "-y 5",
    "--mcast-interface": "--mcast-interface lo",
    "--timeout": "--timeout",
    "--daemon": "--daemon",
    "--stats": "--stats",
    "--rate": "--rate",
    "--thresholds": "--thresholds",
    "--persistent-conn": "--persistent-conn",
    "--nosort": "--nosort",
    "--syncid": "--syncid 3",
    "--exact": "--exact",
    "-o": "-o",
    "--pe": "--pe sip",
    "-b": "-b flag-1",
    "--mcast-group": "--mcast-group 239.1.1.1",
    "--mcast-port": "--mcast-port 9000",
    "--mcast-ttl": "--mcast-ttl 2",
    "--sync-maxlen": "--sync-maxlen 1400",
    "--tun-info": "--tun-info",
    "--tun-type": "--tun-type gue",
    "--tun-port": "--tun-port 6080",
    "--tun-nocsum": "--tun-nocsum",
    "--tun-csum": "--tun-csum",
    "--tun-remcsum": "--tun-remcsum",
    "-6": "-6",
    "--sort": "--sort",
}

# Each command with what it needs to get past the required-option checks;
# the probe option is appended. Daemon probes use an interface that does not
# exist (nothing starts), so probes leave no state behind but services.
_MATRIX_BASES: dict[str, str] = {
    "add-service": "-A -t 10.8.0.{i}:80",
    "edit-service": "-E -t 10.8.0.{i}:80",
    "delete-service": "-D -t 10.8.0.{i}:80",
    "flush": "-C",
    "list": "-L",
    "add-server": "-a -t 10.8.0.1:80 -r 10.3.0.{i}",
    "delete-server": "-d -t 10.8.0.1:80 -r 10.3.0.{i}",
    "edit-server": "-e -t 10.8.0.1:80 -r 10.3.0.{i}",
    "set": "--set 900 120 300",
    "start-daemon": "--start-daemon master --mcast-interface nosuch0",
    "stop-daemon": "--stop-daemon backup",
    "restore": "-R",
    "save": "-S",
    "zero": "-Z",
}


def _matrix_cases(every: int = 4) -> list[Case]:
    """Each command with every option it accepts and every `every`-th one it
    refuses (rotating, so each option is refused by several commands). The
    whole table is checked on the host by tests/unit/test_cli_matrix.py; a
    real process start per probe is what makes all ~470 cells too slow here."""
    from pyipvs.cli.ipvsadm.matrix import RULES, Command
    from pyipvs.cli.ipvsadm.options import by_long, by_short

    cases = []
    for c, (cmd, base) in enumerate(_MATRIX_BASES.items()):
        rule = RULES[Command(cmd)]
        legal = rule.required | rule.exclusive | rule.optional
        steps: list[Step] = []
        if cmd in ("add-server", "delete-server", "edit-server"):
            steps.append(s("-A -t 10.8.0.1:80"))
        for i, (opt, text) in enumerate(_OPT_ARGS.items(), start=2):
            sw = by_long(opt[2:]) if opt.startswith("--") else by_short(opt[1:])
            bit = sw.bit if sw is not None else None
            if bit is not None and bit not in legal and (i + c) % every:
                continue
            line = base.format(i=i)
            if cmd == "start-daemon" and opt == "--mcast-interface":
                text = "--mcast-interface nosuch1"
            # the base already has the switch: the probe repeats it
            steps.append(s(f"{line} {text}", stdin="" if cmd == "restore" else None))
        steps.append(s(base.format(i=1)))
        cases.append(C(f"matrix-{cmd}", *steps))
    cases.append(
        C(
            "matrix-required-and-exclusive",
            "-A",
            "-E -s rr",
            "-D",
            "-a -t 10.1.1.1:80",
            "-a -r 10.2.0.1",
            "-e",
            "-d -r 10.2.0.1",
            "-L -c -t 10.1.1.1:80",
            "-L -c --timeout",
            "-L --timeout --daemon",
            "-L -t 10.1.1.1:80 --daemon",
            "-L -c --stats",
            "-L --timeout --rate",
            "-L --daemon --thresholds",
            "-L --timeout --persistent-conn",
            "-L --daemon --persistent-conn",
            "-L -c --persistent-conn",
            "-L -c --tun-info",
            "-L --stats --rate --thresholds --persistent-conn --tun-info -n --exact --nosort",
            "-A -t 10.1.1.1:80 -t 10.1.1.2:80",
            "-A -t 10.1.1.1:80 -f 3",
            "-a -t 10.1.1.1:80 -r 10.2.0.1 -g -m",
            "-a -t 10.1.1.1:80 -r 10.2.0.1 -w 1 -w 2",
            "-L -n -n",
            "-L -X --exact",
            "-A -t 10.1.1.1:80 -s rr -s wlc",
            "-A -t 10.1.1.1:80 -b flag-1 -b flag-2",
            "-A -t 10.1.1.1:80 -p -p 10",
            "-A -t 10.1.1.1:80 -o -o",
            "-a -t 10.1.1.1:80 -r 10.2.0.1 -i --tun-csum --tun-csum",
            "-A -t bad -t 10.1.1.1:80",
            "-A -t 10.1.1.1:80 -t bad",
            "-A -s rr -s rr -t bad",
        )
    )
    return cases


# -- values --------------------------------------------------------------------

# fmt: off
VALUES = [
    C(
        "values-service-address",
        *(
            f"-A -t {a}"
            for a in [
                "''", "80", "0080", "10.1.1.1:", "10.1.1.1:99999", "10.1.1.1:65535",
                "10.1.1.1:0x50",
                "10.1.1.1:080", "10.1.1.1:+81", "'10.1.1.1: 82'", "10.1.1.1:-1",
                "[2001:db8::1]", "[2001:db8::1]:80", "[2001:db8::2]:", "[2001:db8::3",
                "2001:db8::4:80",
                "[2001:db8::5]x", "[1.2.3.4]:80", "[10.1.1.2:83]:90", "10.1", "0x0a010103:84",
                "127.1:85",
                "localhost:http", "localhost:nosuchservice", "no.such.host.invalid:80",
                "10.1.1.4:http",
                "10.1.1.4:https", "'10.1.1.5 :86'", "' 10.1.1.6:87'", "10.1.1.7:88:89", "::",
                "[::]:90",
                "0.0.0.0:91", "[::ffff:1.2.3.4]:92", "10.256.1.1:93", "10.1.1.8.:94",
                "ip6-localhost:95",
                "[fe80::1%lo]:96", "1.2.3.4/24:97", "[2001:DB8::AB]:98",
            ]
        ),
        "-A -u 10.1.1.9:domain",
        "-A -u 10.1.1.9:http",
        "-A --sctp-service 10.1.1.9:http",
        "-A --sctp-service 10.1.1.9:99",
        "-A -u [2001:db8::9]:ntp",
        "-Ln",
        "-L",
        "-S",
    ),
    C(
        "values-fwmark",
        *(
            f"-A -f {m}"
            for m in [
                "0", "-1", "1", "4294967295", "4294967296", "2147483647", "2147483648",
                "3000000000",
                "' 7'", "7x", "0x10", "010", "+11", "''", "99999999999999999999",
            ]
        ),
        "-A -f 3000000000 -6",
        "-A -f 12 -6 -6",
        "-A -6 -f 13",
        "-A -t 10.1.1.1:80 -6",
        # marks 2**31 apart compare "backwards": the order depends on the
        # kernel's (per-namespace) dump order, so listings are cross-checked
        XC("-Ln"),
        XC("-L"),
        XC("-Sn"),
        "-L -n -f 3000000000",
        "-L -n -f 3000000000 -6",
        "-L -n -f 4294967295",
        "-L -n -f 99",
        XC("-Ln --stats"),
        "-D -f 4294967295",
        XC("-Ln"),
        final=(),
    ),
    C(
        "values-numbers",
        "-A -t 10.1.1.1:80",
        *(
            f"-a -t 10.1.1.1:80 -r 10.2.0.{i} -w {w}"
            for i, w in enumerate(
                ["-1", "0", "65535", "65536", "2147483647", "2147483648", "' 5'", "+6", "'7 '",
                 "0x10",
                 "010", "''", "1e3", "99999999999999999999", "-0"],
                start=1,
            )
        ),
        "-a -t 10.1.1.1:80 -r 10.2.1.1 -x 2147483647 -y 2147483647",
        "-a -t 10.1.1.1:80 -r 10.2.1.2 -x 2147483648",
        "-a -t 10.1.1.1:80 -r 10.2.1.3 -y 5",
        "-a -t 10.1.1.1:80 -r 10.2.1.4 -x 5 -y 6",
        "-a -t 10.1.1.1:80 -r 10.2.1.5 -x 6 -y 5",
        "-a -t 10.1.1.1:80 -r 10.2.1.6 -x -1",
        "-a -t 10.1.1.1:80 -r 10.2.1.7 -y x",
        "-Ln --thresholds",
        "-Sn",
        final=FULL,
    ),
    C(
        "values-persistence-and-netmask",
        "-A -t 10.1.1.1:80 -p 0",
        "-A -t 10.1.1.1:80 -p 1",
        "-A -t 10.1.1.2:80 -p 2678400",
        "-A -t 10.1.1.3:80 -p 2678401",
        "-A -t 10.1.1.4:80 -p -M 255.255.255.0",
        "-A -t 10.1.1.5:80 -p -M 24",
        "-A -t 10.1.1.6:80 -p -M 255.0.255.0",
        "-A -t 10.1.1.7:80 -p -M foo",
        "-A -t 10.1.1.8:80 -p -M localhost",
        "-A -t 10.1.1.9:80 -M 255.255.0.0",
        "-A -t 10.1.1.10:80 -p -M 0.0.0.0",
        "-A -t [2001:db8::1]:80 -p -M 64",
        "-A -t [2001:db8::2]:80 -p -M 0",
        "-A -t [2001:db8::3]:80 -p -M 129",
        "-A -t [2001:db8::4]:80 -p -M 64abc",
        "-A -t [2001:db8::5]:80 -p -M 4294967360",
        "-A -t [2001:db8::6]:80 -p -M 255.255.255.0",
        "-A -M 255.255.255.0 -t [2001:db8::7]:80 -p",
        "-A -M 56 -t [2001:db8::8]:80 -p",
        "-A -t [2001:db8::9]:80 -p 30 -M ' +48'",
        "-A -f 21 -6 -p -M 96",
        "-A -f 22 -M 255.255.255.0 -6 -p",
        "-A -f 23 -p -M 255.255.255.128",
        "-A -t 10.1.1.11:80 -p 100 --pe sip",
        "-A -t 10.1.1.12:80 --pe sip",
        "-A -u 10.1.1.13:5060 --pe nosuchpe",
        "-A -t 10.1.1.14:80 -p --pe abcdefghijklmnopq",
        "-Ln",
        "-L",
        "-Sn",
        "-Ln --persistent-conn",
        "-E -t 10.1.1.4:80",
        "-E -t 10.1.1.11:80 -p 50",
        "-E -t [2001:db8::1]:80 -p",
        "-Sn",
    ),
    C(
        "values-scheduler-and-flags",
        "-A -t 10.1.1.1:80 -s rr",
        "-A -t 10.1.1.2:80 -s nosuch",
        "-A -t 10.1.1.3:80 -s ''",
        "-A -t 10.1.1.4:80 -s abcdefghijklmnopqrst",
        "-A -t 10.1.1.5:80 -s sh -b sh-fallback,sh-port",
        "-A -t 10.1.1.6:80 -b sh-port -s sh",
        "-A -t 10.1.1.7:80 -s sh -b flag-3",
        "-A -t 10.1.1.8:80 -s mh -b mh-fallback",
        "-A -t 10.1.1.9:80 -s mh -b mh-port,flag-3",
        "-A -t 10.1.1.10:80 -s mh -b flag-3",
        "-A -t 10.1.1.11:80 -s wrr -b flag-1,flag-2,flag-3",
        "-A -t 10.1.1.12:80 -b flag-2",
        "-A -t 10.1.1.13:80 -b sh-port",
        "-A -t 10.1.1.14:80 -s rr -b mh-port",
        "-A -t 10.1.1.15:80 -s sh -b nosuch",
        "-A -t 10.1.1.16:80 -s sh -b sh-port,nosuch",
        "-A -t 10.1.1.17:80 -s sh -b nosuch,flag-9",
        "-A -t 10.1.1.18:80 -s sh -b ''",
        "-A -t 10.1.1.19:80 -s sh -b ,sh-port,,",
        "-A -t 10.1.1.20:80 -s lc -b Flag-1",
        "-A -t 10.1.1.21:80 -b ,",
        "-A -t 10.1.1.22:80 -b ,,,",
        "-A -u 10.1.1.23:53 -o",
        "-A -t 10.1.1.24:80 -o",
        "-A -f 24 -o",
        "-A --sctp-service 10.1.1.25:80 -o",
        "-A -u 10.1.1.26:0 -o",
        "-A -u 10.1.1.26:0 -o -p",
        "-A -t 10.1.1.27:0",
        "-A -f 25 -s twos",
        "-A -t 10.1.1.28:80 -s lblc",
        "-A -t 10.1.1.29:80 -s none",
        "-Ln",
        "-L",
        "-Sn",
        "-E -t 10.1.1.5:80",
        "-E -t 10.1.1.5:80 -s sh -b flag-3",
        "-E -t 10.1.1.99:80 -s rr",
        "-E -t 10.1.1.1:80 -s nosuch",
        "-E -t 10.1.1.1:80 -s rr --pe nosuch",
        "-Sn",
    ),
    C(
        "values-daemon-args",
        "--start-daemon",
        "--start-daemon foo",
        "--start-daemon Master",
        "--stop-daemon foo",
        "--stop-daemon",
        "--start-daemon master --syncid 256",
        "--start-daemon master --syncid -1",
        "--start-daemon master --mcast-port 0",
        "--start-daemon master --mcast-port 65536",
        "--start-daemon master --mcast-ttl 0",
        "--start-daemon master --mcast-ttl 256",
        "--start-daemon master --sync-maxlen 0",
        "--start-daemon master --sync-maxlen 65508",
        "--start-daemon master --mcast-group 10.0.0.1",
        "--start-daemon master --mcast-group 224.0.0.1x",
        "--start-daemon master --mcast-group ::1",
        "--start-daemon master --mcast-group ff02::zz",
        "--start-daemon master --mcast-group 240.0.0.1",
        "--start-daemon master --mcast-group 239.255.255.255 --mcast-interface nosuch0",
        "--start-daemon master",
        "--start-daemon backup --mcast-interface abcdefghijklmnopqrstuvwxyz",
        "-L --daemon",
        final=FULL,
    ),
    C(
        "values-tunnels",
        "-A -t 10.1.1.1:80",
        "-a -t 10.1.1.1:80 -r 10.2.0.1 -i",
        "-a -t 10.1.1.1:80 -r 10.2.0.2 -i --tun-type ipip",
        "-a -t 10.1.1.1:80 -r 10.2.0.3 -i --tun-type gue",
        "-a -t 10.1.1.1:80 -r 10.2.0.4 -i --tun-type gue --tun-port 6080",
        "-a -t 10.1.1.1:80 -r 10.2.0.5 -i --tun-type gue --tun-port 6081 --tun-csum",
        "-a -t 10.1.1.1:80 -r 10.2.0.6 -i --tun-type gue --tun-port 6082 --tun-remcsum",
        "-a -t 10.1.1.1:80 -r 10.2.0.7 -i --tun-type gue --tun-port 6083 --tun-nocsum",
        "-a -t 10.1.1.1:80 -r 10.2.0.8 -i --tun-type gue --tun-port 6084 --tun-csum --tun-remcsum",
        "-a -t 10.1.1.1:80 -r 10.2.0.9 -i --tun-type gre",
        "-a -t 10.1.1.1:80 -r 10.2.0.10 -i --tun-type gre --tun-csum",
        "-a -t 10.1.1.1:80 -r 10.2.0.11 -i --tun-type gre --tun-remcsum",
        "-a -t 10.1.1.1:80 -r 10.2.0.12 -i --tun-type gre --tun-port 1",
        "-a -t 10.1.1.1:80 -r 10.2.0.13 -i --tun-type ipip --tun-csum",
        "-a -t 10.1.1.1:80 -r 10.2.0.14 -i --tun-port 5",
        "-a -t 10.1.1.1:80 -r 10.2.0.15 -m --tun-type gue --tun-port 5",
        "-a -t 10.1.1.1:80 -r 10.2.0.16 --tun-csum",
        "-a -t 10.1.1.1:80 -r 10.2.0.17 -i --tun-type foo",
        "-a -t 10.1.1.1:80 -r 10.2.0.18 -i --tun-type gue --tun-port 0",
        "-a -t 10.1.1.1:80 -r 10.2.0.19 -i --tun-type gue --tun-port 65536",
        "-a -t 10.1.1.1:80 -r 10.2.0.20 -i --tun-type GRE",
        "-a -t 10.1.1.1:80 -r [2001:db8::20]:80 -i",
        "-a -t 10.1.1.1:80 -r [2001:db8::21]:80 -m",
        "-a -t 10.1.1.1:80 -r [2001:db8::22]:80",
        "-A -t [2001:db8::1]:80",
        "-a -t [2001:db8::1]:80 -r 10.2.0.30 -i --tun-type gue --tun-port 7000 --tun-remcsum",
        "-a -t [2001:db8::1]:80 -r 10.2.0.31 -g",
        "-Ln",
        "-Ln --tun-info",
        "-L --tun-info",
        "-Sn",
        "-e -t 10.1.1.1:80 -r 10.2.0.4 -i --tun-type gre --tun-csum",
        "-e -t 10.1.1.1:80 -r 10.2.0.5 -m",
        "-e -t 10.1.1.1:80 -r 10.2.0.6:99 -m",
        "-Ln --tun-info",
        "-d -t 10.1.1.1:80 -r 10.2.0.5",
        "-d -t 10.1.1.1:80 -r 10.2.0.6:99",
        "-d -t 10.1.1.1:80 -r [2001:db8::20]",
        "-d -t 10.1.1.1:80 -r [2001:db8::20]:80",
        "-Sn",
        final=FULL,
    ),
]
# fmt: on

# -- kernel errors ---------------------------------------------------------------

KERNEL_ERRORS = [
    C(
        "kernel-errors",
        "-A -t 10.1.1.1:80",
        "-A -t 10.1.1.1:80",
        "-A -t 10.1.1.1:80 -s rr",
        "-E -t 10.1.1.2:80",
        "-D -t 10.1.1.2:80",
        "-Z -t 10.1.1.2:80",
        "-Z -f 9",
        "-Z -t 0.0.0.0:0",
        "-Z -t 0.0.0.0",
        "-Z -t [::]:0",
        "-Z",
        "-Z -t 10.1.1.1:80",
        "-a -t 10.1.1.2:80 -r 10.2.0.1",
        "-e -t 10.1.1.2:80 -r 10.2.0.1",
        "-d -t 10.1.1.2:80 -r 10.2.0.1",
        "-a -t 10.1.1.1:80 -r 10.2.0.1",
        "-a -t 10.1.1.1:80 -r 10.2.0.1",
        "-a -t 10.1.1.1:80 -r 10.2.0.1:99 -m",
        "-e -t 10.1.1.1:80 -r 10.2.0.9",
        "-d -t 10.1.1.1:80 -r 10.2.0.9",
        "-d -t 10.1.1.1:80 -r 10.2.0.1:99",
        "-a -t 10.1.1.1:80 -r 0.0.0.0",
        "-a -t 10.1.1.1:80 -r 224.1.1.1",
        "-a -t 10.1.1.1:80 -r 255.255.255.255",
        "-a -t 10.1.1.1:80 -r 8.8.8.8",
        "-a -t 10.1.1.1:80 -r 10.255.255.255",
        "-a -t 10.1.1.1:80 -r 10.0.0.254 -m",
        "-a -t 10.1.1.1:80 -r 127.0.0.1 -m",
        "-a -t 10.1.1.1:80 -r localhost:8080 -m",
        "-a -t 10.1.1.1:80 -r 10.2.0.2 -w 0",
        "-A -t [2001:db8::1]:80",
        "-a -t [2001:db8::1]:80 -r [ff02::1]:80",
        "-a -t [2001:db8::1]:80 -r [fe80::1]:80",
        "-a -t [2001:db8::1]:80 -r [::1]:80 -m",
        "-a -t [2001:db8::1]:80 -r [2001:db8::fffe]:80 -m",
        "-L -t 10.9.9.9:80",
        "-L -n -t 10.9.9.9:80",
        "-L -f 77",
        "-L -f 77 -6",
        "-Ln",
        "-L",
        "-Sn",
        "-D -t 10.1.1.1:80",
        "-D -t 10.1.1.1:80",
        "-C",
        "-C",
        "-Ln",
        final=FULL,
    ),
    C(
        "kernel-error-wording-leaks",
        # flush and the service dump record no operation: their errors (none
        # here) would be worded after the previous one; check the recorded
        # ones stay right across lines of one restore.
        R(
            "-A -t 10.1.1.1:80\n-a -t 10.1.1.9:80 -r 10.2.0.1\n-C\n-D -t 10.1.1.1:80\n"
            "-L -n\n-E -t 10.1.1.1:80\n--stop-daemon master\n-Z -t 10.1.1.1:80\n"
        ),
    ),
]

# -- listings -------------------------------------------------------------------

# fmt: off
_SORT_SERVICES = [
    "-A -t 200.0.0.1:80", "-A -t 10.0.0.1:80", "-A -t 192.168.1.1:80", "-A -t 100.0.0.1:80",
    "-A -t 1.2.3.4:80", "-A -t 128.0.0.1:80", "-A -t 127.255.255.255:80", "-A -t 10.0.0.1:8080",
    "-A -t 10.0.0.1:65535", "-A -u 10.0.0.1:80", "-A -u 200.0.0.1:53",
    "-A --sctp-service 10.0.0.1:80",
    "-A -t [2001:db8::1]:80", "-A -t [ffff::1]:80", "-A -t [8000::1]:80", "-A -t [::1]:80",
    "-A -u [2001:db8::1]:53", "-A -f 1", "-A -f 2147483648", "-A -f 3000000000", "-A -f 7 -6",
    "-A -f 4294967295", "-A -f 2", "-A -f 1 -6",
]
_SORT_SERVERS = [
    f"-a -t 10.0.0.1:80 -r {r} -m"
    for r in [
        "10.0.0.10", "192.168.0.1", "172.16.0.1", "10.200.0.1", "192.168.0.1:8080",
        "192.168.0.1:81",
        "10.0.0.10:1", "172.31.255.255", "10.128.0.1", "10.0.0.11",
    ]
] + [
    f"-a -t [2001:db8::1]:80 -r {r} -m"
    for r in ["[2001:db8::10]:80", "[2001:db8:8000::1]:80", "[2001:db8:ffff::1]:80",
              "[2001:db8::2]:80"]
]
# fmt: on

# fmt: off
LISTINGS = [
    C(
        "listing-sorting",
        *_SORT_SERVICES,
        *_SORT_SERVERS,
        *(
            XC(line)
            for line in [
                "-Ln", "-L", "-Sn", "-S", "-Ln --stats", "-Ln --rate", "-Ln --thresholds",
                "-Ln --persistent-conn", "-Ln --tun-info", "-Ln --stats --exact", "-Ln --rate -X",
                "-L --stats", "-Ln --stats --rate", "-Ln --thresholds --persistent-conn",
                "-Ln --persistent-conn --tun-info", "-Ln --rate --thresholds", "-Ln --syncid 3",
            ]
        ),
        "-L -n -t 10.0.0.1:80",
        "-L -n -t 10.0.0.1:80 --stats",
        "-L -t 10.0.0.1:80 --thresholds",
        "-L -n -t [2001:db8::1]:80 --persistent-conn",
        "-L -n -f 7 -6",
        "-L -n -u 200.0.0.1:domain",
        "-l -n --sctp-service 10.0.0.1:80",
        final=(),
    ),
    C(
        "listing-nosort-one-service",
        "-A -t 10.0.0.1:80",
        *[f"-a -t 10.0.0.1:80 -r {r} -m"
          for r in ["10.0.0.10", "192.168.0.1", "172.16.0.1", "10.0.0.2"]],
        "-Ln --nosort",
        "-L --nosort",
        "-Ln --nosort --stats",
        "-Ln --nosort -t 10.0.0.1:80",
    ),
    C(
        "listing-names",
        "-A -t 127.0.0.1:http",
        # (never a UDP/TCP service on 127.0.0.1:53: it would capture the
        # resolver's own queries, and every name lookup would time out)
        "-A -u 10.255.255.253:domain",
        "-A --sctp-service 127.0.0.1:80",
        "-A -t [::1]:https",
        "-A -f 5",
        "-A -t 10.255.255.254:22",
        "-a -t 127.0.0.1:http -r 127.0.0.1:http -m",
        "-a -t 127.0.0.1:http -r localhost:ssh -m",
        "-a -u 10.255.255.253:domain -r 10.2.0.1:domain -m",
        "-a --sctp-service 127.0.0.1:80 -r 10.2.0.1:80 -m",
        "-a -t [::1]:https -r [::1]:https -m",
        "-a -f 5 -r 10.2.0.2:22 -m",
        "-a -f 5 -r 127.0.0.1:22 -m",
        "-L",
        "-S",
        "-L --stats",
        "-L --rate",
        "-L --thresholds",
        "-L --persistent-conn",
        "-L --tun-info",
        "-L -t localhost:http",
        "-l",
        "-Sn",
        argv(),
        "-L -c",
        "-L -c -n",
        "-L -c --persistent-conn",
        "-L -cn --persistent-conn",
        "-L -c --nosort --exact",
        "-L -c --syncid 1",
    ),
    C(
        "listing-long-names",
        "-A -t 192.168.100.100:65535",
        "-A -u 192.168.100.100:65535",
        "-A -t [2001:db8:1234:5678:9abc:def0:1234:5678]:65535",
        "-a -t 192.168.100.100:65535 -r 192.168.200.200:65535 -m -w 65535"
        " -x 2147483647 -y 2147483647",
        "-a -t [2001:db8:1234:5678:9abc:def0:1234:5678]:65535"
        " -r [2001:db8:1234:5678:9abc:def0:1234:9999]:65535 -m",
        "-a -t [2001:db8:1234:5678:9abc:def0:1234:5678]:65535 -r 172.16.0.99 -i",
        "-Ln",
        "-Ln --stats",
        "-Ln --rate",
        "-Ln --thresholds",
        "-Ln --persistent-conn",
        "-Ln --tun-info",
        "-Sn",
    ),
    C(
        "listing-empty",
        "-Ln",
        "-L",
        "-S",
        "-Sn",
        "-Ln --stats",
        "-L --timeout",
        "-L --daemon",
        "-L -c",
        "-Z",
        "-C",
        argv(),
    ),
]
# fmt: on

# -- daemons and timeouts ----------------------------------------------------------

DAEMONS = [
    C(
        "daemons",
        "-L --daemon",
        "--stop-daemon master",
        "--stop-daemon backup",
        "--start-daemon master --mcast-interface dummy0",
        "--start-daemon master --mcast-interface dummy0",
        "-L --daemon",
        "--start-daemon backup --mcast-interface dummy0 --syncid 7 --mcast-group 239.1.2.3"
        " --mcast-port 9000 --mcast-ttl 3 --sync-maxlen 1400",
        "-L --daemon",
        "-Ln --daemon --syncid 2",
        "--stop-daemon master --syncid 9",
        "-L --daemon",
        "--stop-daemon master",
        "--stop-daemon backup",
        "--start-daemon master --mcast-interface dummy0 --mcast-group ff02::1:3 --syncid 255",
        "-L --daemon",
        "--stop-daemon master",
        "--start-daemon master",
        "--start-daemon master --mcast-interface lo",
        "-L --daemon",
        "--stop-daemon master",
        "-L --daemon",
        final=FULL,
    ),
    C(
        "timeouts",
        "-L --timeout",
        "--set 1 2 3",
        "-L --timeout",
        "--set 0 50 0",
        "-L --timeout",
        "--set 2678400 2678400 2678400",
        "-L --timeout",
        "-Ln --timeout",
        "--set 900 120 300",
        "--set 1 2",
        "--set x 1 2",
        "--set 1 2 3 4",
        final=FULL,
    ),
]

# -- restore -------------------------------------------------------------------------

_GOOD = "-A -t 10.1.1.1:80 -s rr\n-a -t 10.1.1.1:80 -r 10.2.0.1 -m\n"

# Restore inputs: each runs as -R, then the table is listed and cleared.
_RESTORE_INPUTS: list[tuple[str, str]] = [
    ("good", _GOOD + "-A -u 10.1.1.1:53\n-a -u 10.1.1.1:53 -r 10.2.0.2\n"),
    ("empty", ""),
    ("blank-lines", "\n\n \t \n"),
    ("kernel-error-first", "-D -t 10.9.9.9:80\n" + _GOOD),
    ("kernel-error-middle", _GOOD + "-A -t 10.1.1.1:80\n-A -t 10.1.1.2:80\n"),
    ("kernel-error-last", _GOOD + "-A -t 10.1.1.1:80\n"),
    ("kernel-error-then-blank", _GOOD + "-A -t 10.1.1.1:80\n\n   \n"),
    ("usage-error-first", "-A -t 10.1.1.1:99999\n" + _GOOD),
    ("usage-error-middle", _GOOD + "-a -t 10.1.1.1:80 -r 10.2.0.3 -w x\n-A -t 10.1.1.3:80\n"),
    ("usage-error-last", _GOOD + "-A -t 10.1.1.3:80 -6\n"),
    ("popt-error-middle", _GOOD + "-A -t 10.1.1.2:80 --bogus\n-A -t 10.1.1.3:80\n"),
    ("popt-error-last", _GOOD + "-A -t 10.1.1.2:80 -s\n"),
    ("tryhelp", _GOOD + "foo\n-A -t 10.1.1.3:80\n"),
    ("comment-line", "# saved rules\n" + _GOOD),
    ("trailing-comment", "-A -t 10.1.1.1:80 # web\n-A -t 10.1.1.2:80\n"),
    ("nested", _GOOD + "-R\n-A -t 10.1.1.3:80\n"),
    ("help", _GOOD + "-h\n-A -t 10.1.1.3:80\n"),
    ("version", _GOOD + "-v\n-A -t 10.1.1.3:80\n"),
    (
        "listing-inside",
        _GOOD + "-L -n\n-S -n\n--set 1 2 3\n-L --timeout\n--set 900 120 300\n-A -t 10.1.1.4:80\n",
    ),
    ("listing-missing-service", _GOOD + "-L -n -t 10.9.9.9:80\n-A -t 10.1.1.4:80\n"),
    (
        "ipvsadm-tokens",
        (
            "ipvsadm -A -t 10.1.1.1:80\n-A ipvsadm -t 10.1.1.2:80 ipvsadm\nipvsadm\n"
            "/sbin/ipvsadm -A -t 10.1.1.3:80\n"
        ),
    ),
    ("crlf-tabs", "-A -t 10.1.1.1:80\r\n\t-A\t-t 10.1.1.2:80 \r\n\r\n-A -t 10.1.1.3:80\r\r\n"),
    ("cr-only", "-A -t 10.1.1.1:80\r-A -t 10.1.1.2:80\n"),
    ("no-final-newline", _GOOD + "-A -t 10.1.1.5:80"),
    ("no-final-newline-one-blank", _GOOD + "-A -t 10.1.1.5:80 "),
    ("no-final-newline-two-blanks", _GOOD + "-A -t 10.1.1.5:80  "),
    ("no-final-newline-tab-cr", _GOOD + "-A -t 10.1.1.5:80\t\r"),
    ("no-final-newline-error", _GOOD + "-A -t 10.1.1.1:80"),
    ("no-final-newline-blanks-only", _GOOD + "-A -t 10.1.1.1:80\n  "),
    ("no-final-newline-ipvsadm-only", _GOOD + "-A -t 10.1.1.1:80\nipvsadm"),
    ("long-token", "-A -t 10.1.1.1:80 -s " + "x" * 5000 + "\n-A -t 10.1.1.2:80\n"),
    ("long-token-4096", "-A -t 10.1.1.1:80 -s " + "x" * 4096 + "\n"),
    ("long-token-split", "-A -t " + " " * 3 + "1" * 4096 + "10.1.1.1:80\n"),
    ("quotes", '"-A" -t 10.1.1.1:80\n'),
    ("quoted-arg", '-A -t "10.1.1.1:80"\n-A -t 10.1.1.2:80 -s "rr"\n'),
    ("nul-byte", "-A -t 10.1.1.1:80\x00junk -s rr\n-A -t 10.1.1.2:80 -s \x00\n"),
    ("crash", _GOOD + "-L -n\n-A -t 10.1.1.5:80 -b ,\n-A -t 10.1.1.6:80\n"),
]


def _restore_cases(per_case: int = 8) -> list[Case]:
    cases = []
    for start in range(0, len(_RESTORE_INPUTS), per_case):
        chunk = _RESTORE_INPUTS[start : start + per_case]
        steps: list[Step] = []
        for name, text in chunk:
            run = R(text)
            if name in ("help", "version"):
                run = Step(run.argv, run.stdin, own_text=True)
            steps += [run, s("-Ln"), s("-C")]
        names = chunk[0][0] + ".." + chunk[-1][0]
        cases.append(C(f"restore-{names}", *steps))
    return cases


RESTORE = [
    *_restore_cases(),
    C("restore-with-options", R(_GOOD, "-n"), R(_GOOD, "--foo"), "-R -R", R(_GOOD, "x"), "-Ln"),
    C(
        "restore-from-save",
        "-A -t 10.1.1.1:80 -s sh -b sh-port -p 60 -M 255.255.255.0",
        "-a -t 10.1.1.1:80 -r 10.2.0.1 -m -w 3 -x 10 -y 5",
        "-a -t 10.1.1.1:80 -r 10.2.0.2 -i --tun-type gue --tun-port 6080 --tun-csum",
        "-A -f 9 -6 -s mh -b flag-3",
        "-a -f 9 -6 -r [2001:db8::9]:0 -g",
        "-A -u [2001:db8::1]:53 -o -p 10 -M 64 --pe sip",
        R(
            "-A -t 10.1.1.1:80 -s sh -b sh-port -p 60 -M 255.255.255.0\n"
            "-a -t 10.1.1.1:80 -r 10.2.0.1:80 -m -w 3\n"
            "-A -t 10.1.1.2:80 -s sh -p 1 -b \n"
        ),
        "-Sn",
        "-C",
        R(
            "-A -t 10.1.1.1:80 -s sh -p 60 -M 255.255.255.0 -b sh-port\n"
            "-a -t 10.1.1.1:80 -r 10.2.0.1:80 -m -w 3\n"
            "-a -t 10.1.1.1:80 -r 10.2.0.2:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum\n"
            "-A -f 9 -6 -s mh -b flag-3\n"
            "-a -f 9 -6 -r [2001:db8::9]:0 -g -w 1\n"
            "-A -u [2001:db8::1]:53 -s wlc -p 10 -M 64 --pe sip -o\n"
        ),
        "-Sn",
        "-Ln",
        final=FULL,
    ),
]

# -- through the console entry (a real process start; slow in the VM) -------------

CONSOLE = [
    C(
        "console-entry",
        "-A -t 10.1.1.1:80 -s rr",
        # one process start: argv handling, stdin, the stdout/stderr order of
        # a C program (listings buffered, errors first), and the program name
        # in the hint that ends the run
        X(
            "-R",
            stdin="-L -n\n-S -n\n-A -t 10.1.1.1:80\n-L --bogus\nbogus\n-A -t 10.1.1.2:80\n",
            merged=True,
        ),
    ),
]

# (the console case goes last, when the reference workers are done: a Python
# start competing with them for the VM's two CPUs takes a minute)
FIXED: list[Case] = [
    *MAN_PAGE,
    *POPT,
    *_matrix_cases(),
    *VALUES,
    *KERNEL_ERRORS,
    *LISTINGS,
    *DAEMONS,
    *RESTORE,
]


# -- seeded random sequences ----------------------------------------------------------

# fmt: off
_SVCS = [
    "-t 10.1.1.1:80", "-t 10.1.1.1:80", "-u 10.1.1.1:53", "-t 10.1.1.2:443", "-t [2001:db8::1]:80",
    "--sctp-service 10.1.1.3:99", "-f 7", "-f 7 -6", "-f 3000000000", "-t 10.1.1.1",
    "-t 10.1.1.1:0",
    "-t [2001:db8::1]", "-t 10.1.1.1:99999", "-u foo:53", "-t localhost:http", "-f 0", "-t 80",
]
_SRVS = [
    "-r 10.2.0.1", "-r 10.2.0.1:8080", "-r 10.2.0.2", "-r 192.168.3.3:80", "-r [2001:db8::2]:80",
    "-r [2001:db8::3]", "-r 172.16.1.1:0", "-r 127.0.0.1", "-r 224.0.0.1", "-r bad:1",
    "-r 10.2.0.1:http",
]
_SVC_OPTS = [
    "-s rr", "-s wlc", "-s sh", "-s mh", "-s nosuch", "-p", "-p 60", "-p 0", "-M 255.255.0.0",
    "-M 64",
    "-o", "--pe sip", "-b flag-1", "-b sh-port", "-b mh-fallback,mh-port", "-b bogus", "-6",
]
_SRV_OPTS = [
    "-g", "-m", "-i", "-w 0", "-w 5", "-w 70000", "-x 10", "-y 5", "-x 5 -y 10", "--tun-type gue",
    "--tun-port 6080", "--tun-csum", "--tun-type gre", "--tun-nocsum",
]
_LIST_OPTS = [
    "-n", "-n", "--stats", "--rate", "--thresholds", "--persistent-conn", "--tun-info", "--exact",
    "--nosort", "-c", "--timeout", "--daemon", "--sort",
]
_TIMEOUTS = ["0", "1", "30", "900", "-1", "x", "99999999999", "2147483647"]
_DAEMON_STATES = ["master", "backup", "master", "bogus"]
_DAEMON_OPTS = [
    "--mcast-interface dummy0", "--mcast-interface dummy0", "--mcast-interface lo",
    "--mcast-interface nosuchif", "--syncid 5", "--syncid 300", "--sync-maxlen 1400",
    "--mcast-group 239.1.1.1", "--mcast-group ff02::1", "--mcast-group 10.1.1.1",
    "--mcast-port 9000", "--mcast-ttl 2", "--mcast-ttl 0",
]
_NOISE = ["-q", "--bogus", "extra", "-", "--", "-n", "-t", "-6", "-h", "-v", "-A"]
# fmt: on


def _pick(rng: random.Random, pool: list[str], k_max: int) -> list[str]:
    return [rng.choice(pool) for _ in range(rng.randint(0, k_max))]


def _random_line(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.25:
        cmd = rng.choice(["-A", "-E", "-A", "-D"])
        parts = [cmd, rng.choice(_SVCS), *_pick(rng, _SVC_OPTS, 3)]
    elif kind < 0.6:
        cmd = rng.choice(["-a", "-a", "-e", "-d"])
        parts = [cmd, rng.choice(_SVCS), rng.choice(_SRVS), *_pick(rng, _SRV_OPTS, 3)]
    elif kind < 0.85:
        parts = [rng.choice(["-L", "-l", "-S"]), *_pick(rng, _LIST_OPTS, 2)]
        if rng.random() < 0.3:
            parts.append(rng.choice(_SVCS))
    elif kind < 0.92:
        parts = [rng.choice(["-Z", "-C", "-Z"])]
        if rng.random() < 0.5:
            parts.append(rng.choice(_SVCS))
    elif kind < 0.96:
        parts = _system_line(rng)
    else:
        parts = [rng.choice(["-A", "-a", "-L", "-e"]), *_pick(rng, _SVCS + _SRVS + _SRV_OPTS, 3)]
    if rng.random() < 0.12:
        parts.insert(rng.randint(1, len(parts)), rng.choice(_NOISE))
    if rng.random() < 0.15:
        rng.shuffle(parts)
    return " ".join(parts)


def _system_line(rng: random.Random) -> list[str]:
    """Timeouts and sync daemons: --set, --start-daemon, --stop-daemon and their listings."""
    kind = rng.random()
    if kind < 0.3:
        return ["--set", *(rng.choice(_TIMEOUTS) for _ in range(rng.choice((3, 3, 2, 4))))]
    if kind < 0.7:
        cmd = rng.choice(["--start-daemon", "--start-daemon", "--stop-daemon"])
        return [cmd, rng.choice(_DAEMON_STATES), *_pick(rng, _DAEMON_OPTS, 3)]
    return ["-L", rng.choice(["--timeout", "--daemon"]), *_pick(rng, ["-n", "--exact"], 1)]


def _restorable_line(rng: random.Random) -> str:
    # -h and -v would print our own texts inside a -R run
    while True:
        line = _random_line(rng)
        if not {"-h", "-v"} & set(line.split()):
            return line


def random_cases(seed: int, count: int, steps: int) -> list[Case]:
    """`count` sequences of up to `steps` random lines (some as a -R run)."""
    rng = random.Random(seed)
    cases = []
    for n in range(count):
        seq: list[Step] = []
        for _ in range(rng.randint(steps // 2, steps)):
            if rng.random() < 0.1:
                lines = [_restorable_line(rng) for _ in range(rng.randint(1, 5))]
                seq.append(R("\n".join(lines) + ("\n" if rng.random() < 0.8 else "")))
            else:
                line = _random_line(rng)
                if "-h" in line.split() or "-v" in line.split():
                    seq.append(H(line))
                else:
                    seq.append(s(line))
        seq.append(s("-Ln"))
        cases.append(C(f"random-{seed}-{n}", *seq, final=(("-Sn",), ("-Ln", "--thresholds"))))
    return cases
