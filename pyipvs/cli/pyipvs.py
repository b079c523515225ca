"""`pyipvs`, the extended command line (top layer: argparse over the library).

Where `pyipvsadm` reproduces ipvsadm byte for byte, `pyipvs` offers what
ipvsadm cannot: JSON output, batched restores with a report, and the system-wide
state. Every subcommand is a function (args, stdin, stdout, stderr) -> int
registered in COMMANDS, and nothing below `entry` calls sys.exit.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from .. import __version__
from ..errors import IPVSError, IPVSValueError
from ..format import ListFormat, service_lines, title_lines, version_line
from ..ipvs import IPVS
from ..jsonable import to_jsonable
from ..names import NumericResolver
from ..sorting import sort_servers, sort_services
from .pyipvs_restore import cmd_restore
from .pyipvs_restore import setup as restore_setup
from .pyipvs_sys import SUBCOMMANDS as SYS_SUBCOMMANDS

Handler = Callable[[argparse.Namespace, IO[str], IO[str], IO[str]], int]


def _cmd_version(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    stdout.write(f"pyipvs {__version__}\n")
    return 0


def _cmd_list(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    with IPVS(args.netns) as ipvs:
        info = ipvs.info()
        table = [(status, ipvs.servers(status.key)) for status in ipvs.services()]
    if args.json:
        doc: dict[str, Any] = {
            "info": to_jsonable(info),
            "services": [
                {**to_jsonable(status), "servers": to_jsonable(servers)}
                for status, servers in table
            ],
        }
        json.dump(doc, stdout, indent=2 if args.pretty else None)
        stdout.write("\n")
        return 0
    # Text: ipvsadm's exact-counter listing, sorted as ipvsadm sorts.
    fmt = ListFormat(numeric=True, stats=True, exact=True)
    resolver = NumericResolver()
    lines = [version_line(info), *title_lines(fmt)]
    servers_of = {id(status): servers for status, servers in table}
    for status in sort_services([status for status, _ in table]):
        lines += service_lines(status, sort_servers(servers_of[id(status)]), fmt, resolver)
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


# name -> (help, argument setup, handler)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {
    "version": ("print the version", _no_arguments, _cmd_version),
    "list": ("list services and real servers with counters", _setup_list, _cmd_list),
    "restore": ("apply an ipvsadm restore file as one batch", restore_setup, cmd_restore),
}
for _name, (_help, _setup, _handler) in SYS_SUBCOMMANDS.items():
    COMMANDS[_name] = (_help, _setup, _without_stdin(_handler))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyipvs", description="Program and inspect Linux IPVS.")
    parser.add_argument("--netns", help="network namespace: a name under /run/netns or a path")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, setup, handler) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        setup(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str], stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    parser = _parser()
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
