"""`pyipvs`, the extended command line (top layer: argparse over the library).

Where `pyipvsadm` reproduces ipvsadm byte for byte, `pyipvs` offers what
ipvsadm cannot: JSON output, batched restores with a report, and the system-wide
state. Every subcommand is a function (args, stdin, stdout, stderr) -> int
registered in COMMANDS, and nothing below `entry` calls sys.exit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from ..errors import IPVSError, IPVSValueError

Handler = Callable[[argparse.Namespace, IO[str], IO[str], IO[str]], int]


def _cmd_version(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    from .. import __version__

    stdout.write(f"pyipvs {__version__}\n")
    return 0


def _cmd_list(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    from ..format import ListFormat, service_lines, title_lines, version_line
    from ..ipvs import IPVS
    from ..jsonable import to_jsonable
    from ..names import NumericResolver
    from ..sorting import sort_servers, sort_services

    # One consistent snapshot (services and servers read as one state), not
    # a services() call followed by per-service reads that can disagree; a
    # one-off read, so on two threads (pyipvs.snapshot.take).
    with IPVS(args.netns) as ipvs:
        info = ipvs.info()
        snap = ipvs.snapshot(threads=2)
    if args.json:
        import json

        # 64-bit counters and the kernel estimator's rates of every service
        # and server (Stats: conns..outbytes, then cps..outbps).
        doc: dict[str, Any] = {
            "info": to_jsonable(info),
            "services": [
                {**to_jsonable(status), "servers": to_jsonable(servers)}
                for status, servers in snap.items()
            ],
        }
        json.dump(doc, stdout, indent=2 if args.pretty else None)
        stdout.write("\n")
        return 0
    # Text: ipvsadm's exact-counter listing, sorted as ipvsadm sorts.
    fmt = ListFormat(numeric=True, stats=True, exact=True)
    resolver = NumericResolver()
    lines = [version_line(info), *title_lines(fmt)]
    for status in sort_services(list(snap.services)):
        servers = sort_servers(list(snap.servers_of(status.key)))
        lines += service_lines(status, servers, fmt, resolver)
    stdout.write("\n".join(lines) + "\n")
    return 0


def _no_arguments(p: argparse.ArgumentParser) -> None:
    pass


def _setup_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="the whole table as JSON")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")


def _without_stdin(
    handler: Callable[[argparse.Namespace, IO[str], IO[str]], int],
) -> Handler:
    def run(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
        return handler(args, stdout, stderr)

    return run


Setup = Callable[[argparse.ArgumentParser], None]
# name -> (help, argument setup, handler). Built-in ones are functions here;
# the others are "module:attribute" names inside pyipvs.cli, imported only
# when that subcommand runs: an interpreter start in the emulated test VM
# costs seconds, and most of it would be importing subcommands not asked for.
COMMANDS: dict[str, tuple[str, Setup | str, Handler | str]] = {
    "version": ("print the version", _no_arguments, _cmd_version),
    "list": ("list services and real servers with counters", _setup_list, _cmd_list),
    "restore": (
        "apply an ipvsadm restore file as one batch",
        "pyipvs_restore:setup",
        "pyipvs_restore:cmd_restore",
    ),
    "diff": (
        "show how the live table differs from a file",
        "pyipvs_reconcile:setup_diff",
        "pyipvs_reconcile:cmd_diff",
    ),
    "apply": (
        "make the live table equal a file, changing what differs",
        "pyipvs_reconcile:setup_apply",
        "pyipvs_reconcile:cmd_apply",
    ),
    "exporter": (
        "serve IPVS metrics to Prometheus",
        "pyipvs_exporter:setup",
        "pyipvs_exporter:cmd_exporter",
    ),
    "top": ("live view of rates per service and server", "pyipvs_top:setup", "pyipvs_top:cmd_top"),
    "conns": (
        "connection entries: filters, counts, summaries, JSON",
        "pyipvs_conns:setup",
        "pyipvs_conns:cmd_conns",
    ),
    # pyipvs_sys handlers take no stdin (wrapped in _resolve)
    "sysctl": (
        "show or set the IPVS kernel tunables (/proc/sys/net/ipv4/vs)",
        "pyipvs_sys:setup_sysctl",
        "pyipvs_sys:cmd_sysctl",
    ),
    "stats": (
        "global IPVS counters and rates of the namespace",
        "pyipvs_sys:setup_stats",
        "pyipvs_sys:cmd_stats",
    ),
    "helpers": (
        "application helpers (ip_vs_ftp, ...) and their ports",
        "pyipvs_sys:setup_helpers",
        "pyipvs_sys:cmd_helpers",
    ),
}
_NO_STDIN = {"sysctl", "stats", "helpers"}


def _resolve(name: str) -> tuple[Setup, Handler]:
    """The setup and handler of one subcommand, importing its module now."""
    _help, setup, handler = COMMANDS[name]

    def load(ref: Any) -> Any:
        if not isinstance(ref, str):
            return ref
        module, attr = ref.split(":")
        return getattr(importlib.import_module(f"{__package__}.{module}"), attr)

    run: Handler = load(handler)
    if name in _NO_STDIN:
        run = _without_stdin(run)  # type: ignore[arg-type]
    return load(setup), run


def _parser(wanted: str | None) -> argparse.ArgumentParser:
    """The parser; only the subcommand `wanted` gets its full arguments (the
    others get a name and a help line, enough for `pyipvs --help`)."""
    parser = argparse.ArgumentParser(prog="pyipvs", description="Program and inspect Linux IPVS.")
    parser.add_argument("--netns", help="network namespace: a name under /run/netns or a path")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, _setup, _handler) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == wanted:
            setup, handler = _resolve(name)
            setup(p)
            p.set_defaults(handler=handler)
    return parser


def _subcommand(args: Sequence[str]) -> str | None:
    """The first word naming a subcommand (skipping --netns and its value)."""
    it = iter(args)
    for word in it:
        if word == "--netns":
            next(it, None)
        elif word in COMMANDS:
            return word
        elif not word.startswith("-"):
            return None
    return None


def main(argv: Sequence[str], stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    parser = _parser(_subcommand(argv[1:]))
    try:
        args = parser.parse_args(list(argv[1:]))
    except SystemExit as e:  # argparse reports usage errors by exiting
        return int(e.code or 0)
    try:
        handler: Handler = args.handler
        return handler(args, stdin, stdout, stderr)
    except (IPVSError, IPVSValueError) as e:
        stderr.write(f"pyipvs: {e}\n")
        return 1


def entry() -> None:
    sys.exit(main(sys.argv, sys.stdin, sys.stdout, sys.stderr))


if __name__ == "__main__":
    entry()
