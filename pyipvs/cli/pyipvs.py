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
from ..errors import IPVSError
from ..ipvs import IPVS
from ..jsonable import to_jsonable
from .pyipvs_restore import cmd_restore
from .pyipvs_restore import setup as restore_setup

Handler = Callable[[argparse.Namespace, IO[str], IO[str], IO[str]], int]


def _cmd_version(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    stdout.write(f"pyipvs {__version__}\n")
    return 0


def _cmd_list(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    with IPVS(args.netns) as ipvs:
        info = ipvs.info()
        services = []
        for status in ipvs.services():
            services.append({**to_jsonable(status), "servers": to_jsonable(ipvs.servers(status.key))})
    doc: dict[str, Any] = {"info": to_jsonable(info), "services": services}
    if args.json:
        json.dump(doc, stdout, indent=2 if args.pretty else None)
        stdout.write("\n")
    else:
        v = ".".join(map(str, info.version))
        stdout.write(f"IPVS {v}, connection table size {info.conn_tab_size}, {len(services)} services\n")
        for svc in services:
            s = svc["service"]
            stdout.write(f"{s['key']} {s['scheduler']} servers={len(svc['servers'])} conns={svc['stats']['conns']}\n")
    return 0


# name -> (help, argument setup, handler)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {
    "version": ("print the version", lambda p: None, _cmd_version),
    "list": (
        "list services and real servers with counters",
        lambda p: (p.add_argument("--json", action="store_true"), p.add_argument("--pretty", action="store_true")),
        _cmd_list,
    ),
    "restore": ("apply an ipvsadm restore file as one batch", restore_setup, cmd_restore),
}


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
    except IPVSError as e:
        stderr.write(f"pyipvs: {e}\n")
        return 1


def entry() -> None:
    sys.exit(main(sys.argv, sys.stdin, sys.stdout, sys.stderr))
