"""`pyipvs sysctl`, `pyipvs stats` and `pyipvs helpers`: the system-wide
state of a namespace (top layer: subcommands of the extended CLI).

Each subcommand is a `setup(parser)` that declares its arguments and a
handler `(args, stdout, stderr) -> int`; `SUBCOMMANDS` lists them for
`pyipvs.cli.pyipvs` to register. `args.netns` (the top-level `--netns`) picks
the namespace. Text output is for people; `--json` output is for programs
and uses the same spellings as every other `--json` of pyipvs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import IO, Any

from pyipvs import sysctl
from pyipvs.errors import IPVSError, IPVSValueError
from pyipvs.globalstats import GlobalStats, read_app_helpers, read_global_stats
from pyipvs.jsonable import to_jsonable

Handler = Callable[[argparse.Namespace, IO[str], IO[str]], int]


def _netns(args: argparse.Namespace) -> str | None:
    return getattr(args, "netns", None)


def _dump(doc: Any, stdout: IO[str]) -> None:
    json.dump(doc, stdout, indent=2)
    stdout.write("\n")


def _guarded(name: str, handler: Handler) -> Handler:
    """Report library errors as `pyipvs NAME: message`: 2 for a value we
    refused, 1 for what the kernel or the system refused."""

    def run(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
        try:
            return handler(args, stdout, stderr)
        except IPVSValueError as e:
            stderr.write(f"pyipvs {name}: {e}\n")
            return 2
        except IPVSError as e:
            stderr.write(f"pyipvs {name}: {e}\n")
            return 1

    return run


# --- sysctl ---------------------------------------------------------------------


def setup_sysctl(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="sysctl_action", required=True, metavar="{show,set}")
    show = sub.add_parser("show", help="print the tunables (all, or the NAMEs given)")
    show.add_argument("names", nargs="*", metavar="NAME")
    show.add_argument("--json", action="store_true", help="typed values as a JSON object")
    show.add_argument(
        "--describe", action="store_true", help="add each tunable's default and meaning"
    )
    put = sub.add_parser(
        "set", help="validate, then write NAME=VALUE pairs (nothing is written if one is bad)"
    )
    put.add_argument("assignments", nargs="+", metavar="NAME=VALUE")


def _sysctl_show(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    tunables = sysctl.Sysctl(_netns(args))
    names = [sysctl.parse_assignment(f"{n}=")[0] for n in args.names]
    values = {n: tunables.get(n) for n in names} if names else tunables.get_all()
    if args.json:
        doc: dict[str, Any] = {}
        for name, value in values.items():
            t = sysctl.BY_NAME.get(name)
            if args.describe:
                doc[name] = {
                    "value": to_jsonable(value),
                    "kind": t.kind.value if t else None,
                    "default": t.default if t else None,
                    "meaning": t.meaning if t else None,
                }
            else:
                doc[name] = to_jsonable(value)
        _dump(doc, stdout)
        return 0
    width = max((len(n) for n in values), default=0)
    for name, value in values.items():
        line = f"{name:<{width}} = {sysctl.format_value(name, value)}"
        t = sysctl.BY_NAME.get(name)
        if args.describe and t is not None:
            line += f"\n{'':<{width}}   default {t.default!r}: {t.meaning}"
        stdout.write(line + "\n")
    return 0


def _sysctl_set(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    tunables = sysctl.Sysctl(_netns(args))
    pairs = dict(sysctl.parse_assignment(a) for a in args.assignments)
    tunables.set_many(pairs)
    # Show what the kernel holds now: it may differ from what was written
    # (defense modes 1 and 2 move by themselves, est_cpulist is masked).
    for name in pairs:
        stdout.write(f"{name} = {sysctl.format_value(name, tunables.get(name))}\n")
    return 0


def cmd_sysctl(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    handler = _sysctl_set if args.sysctl_action == "set" else _sysctl_show
    return _guarded("sysctl", handler)(args, stdout, stderr)


# --- stats -------------------------------------------------------------------------

_COLUMNS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
_RATES = ("cps", "inpps", "outpps", "inbps", "outbps")
_WIDTHS = (10, 12, 12, 16, 16)


def setup_stats(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="the counters as a JSON object")
    p.add_argument("--per-cpu", action="store_true", help="add each CPU's raw counters")


def _row(label: str, values: tuple[int, ...]) -> str:
    cells = "".join(f"{v:>{w}}" for v, w in zip(values, _WIDTHS))
    return f"{label:<12}{cells}\n"


def format_stats(g: GlobalStats) -> str:
    """The counters as a table: totals since the last zero, rates per second,
    then the per-CPU rows (raw, not reset by a zero) when present."""
    out = [
        f"{'':<12}"
        + "".join(
            f"{h:>{w}}"
            for h, w in zip(("Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"), _WIDTHS)
        )
        + "\n"
    ]
    out.append(_row("Total", tuple(getattr(g.stats, c) for c in _COLUMNS)))
    out.append(_row("Per second", tuple(getattr(g.stats, c) for c in _RATES)))
    for cpu in g.per_cpu:
        out.append(_row(f"CPU {cpu.cpu}", tuple(getattr(cpu, c) for c in _COLUMNS)))
    return "".join(out)


def _stats(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    g = read_global_stats(_netns(args), per_cpu=args.per_cpu)
    if args.json:
        doc = {"totals": to_jsonable(g.stats)}
        if args.per_cpu:
            doc["per_cpu"] = to_jsonable(g.per_cpu)
        _dump(doc, stdout)
    else:
        stdout.write(format_stats(g))
    return 0


def cmd_stats(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    return _guarded("stats", _stats)(args, stdout, stderr)


# --- helpers -------------------------------------------------------------------------


def setup_helpers(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="the helpers as a JSON list")


def _helpers(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    helpers = read_app_helpers(_netns(args))
    if args.json:
        _dump(to_jsonable(helpers), stdout)
        return 0
    stdout.write(f"{'Name':<12} {'Proto':<6} {'Port':>5} {'InUse':>7}\n")
    for h in helpers:
        stdout.write(f"{h.name:<12} {h.protocol.name:<6} {h.port:>5} {h.usecnt:>7}\n")
    return 0


def cmd_helpers(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    return _guarded("helpers", _helpers)(args, stdout, stderr)


# name -> (help, argument setup, handler), for pyipvs.cli.pyipvs to register.
SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {
    "sysctl": (
        "show or set the IPVS kernel tunables (/proc/sys/net/ipv4/vs)",
        setup_sysctl,
        cmd_sysctl,
    ),
    "stats": ("global IPVS counters and rates of the namespace", setup_stats, cmd_stats),
    "helpers": ("application helpers (ip_vs_ftp, ...) and their ports", setup_helpers, cmd_helpers),
}
