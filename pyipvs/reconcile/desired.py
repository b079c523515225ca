"""The desired table, loaded from a file (top layer: pure Python, no cffi).

Three formats:

- ipvsadm save/restore syntax (what `ipvsadm -S` writes), read with
  pyipvsadm's own line reader and command-line parser, the path `pyipvs
  restore` takes, so the grammar exists once. The lines are run against an
  empty table in memory, as `ipvsadm -R` would run them against an empty
  kernel table: -A/-a add, -E/-e replace, -D/-d delete, -C empties, -Z is
  ignored (counters are not configuration). What the kernel would refuse in
  that run (a second -A of a service, -a to a missing service) is an error
  with its line number and ipvsadm's message. `--set` and the daemon
  commands are not part of a service table and are refused. Lines starting
  with `#` are comments, as in `pyipvs restore`.
- JSON, and YAML (needs PyYAML: `pip install pyipvs[yaml]`): see
  `pyipvs.reconcile.fromjson` for the shape.

`load(path)` picks the format from the file name (.json, .yaml/.yml, else
the content); `loads(text)` from the content. Every problem in the file is
collected and raised at once in one `DesiredError`.
"""

from __future__ import annotations

import errno
import importlib
import os
from collections.abc import Iterable
from typing import IO, Any

from pyipvs.errors import IPVSValueError, Op, ipvs_strerror
from pyipvs.ipvs import check_server, check_service
from pyipvs.model import Server, Service, ServiceKey

from .formats import FORMATS, format_of_name, sniff
from .table import ServerId, Table


class DesiredError(IPVSValueError):
    """The desired table could not be read; `problems` lists every one
    ("line 7: ..." or "$.services[2].port: ...")."""

    def __init__(self, source: str, problems: list[str]) -> None:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{source}: {len(problems)} problems: {shown}{more}")
        self.source = source
        self.problems = problems


class _Run:
    """Save-format commands run against an empty table, in memory."""

    def __init__(self) -> None:
        self.services: dict[ServiceKey, Service] = {}
        self.servers: dict[ServiceKey, dict[ServerId, Server]] = {}

    def add_service(self, s: Service) -> str | None:
        if s.key in self.services:
            return ipvs_strerror(Op.ADD_SERVICE, errno.EEXIST)
        check_service(s)
        self.services[s.key] = s
        self.servers[s.key] = {}
        return None

    def edit_service(self, s: Service) -> str | None:
        if s.key not in self.services:
            return ipvs_strerror(Op.UPDATE_SERVICE, errno.ESRCH)
        check_service(s)
        self.services[s.key] = s
        return None

    def delete_service(self, key: ServiceKey) -> str | None:
        if key not in self.services:
            return ipvs_strerror(Op.DEL_SERVICE, errno.ESRCH)
        del self.services[key]
        del self.servers[key]
        return None

    def server(self, op: Op, key: ServiceKey, s: Server) -> str | None:
        servers = self.servers.get(key)
        if servers is None:
            return ipvs_strerror(op, errno.ESRCH)
        sid = (s.address, s.port)
        present = sid in servers
        if op is Op.ADD_DEST and present:
            return ipvs_strerror(op, errno.EEXIST)
        if op is not Op.ADD_DEST and not present:
            return ipvs_strerror(op, errno.ENOENT)
        if op is Op.DEL_DEST:
            del servers[sid]
        else:
            check_server(key, s)
            servers[sid] = s
        return None

    def flush(self) -> None:
        self.services.clear()
        self.servers.clear()

    def table(self) -> Table:
        return Table.of((s, self.servers[k].values()) for k, s in self.services.items())


def _run_line(run: _Run, entry: Any) -> str | None:
    # Imported here: the CLI package is only needed for the save format.
    from pyipvs.cli.ipvsadm.matrix import Command

    cmd = entry.command
    if cmd is Command.ADD_SERVICE:
        return run.add_service(entry.service())
    if cmd is Command.EDIT_SERVICE:
        return run.edit_service(entry.service())
    if cmd is Command.DELETE_SERVICE:
        return run.delete_service(entry.service_key())
    if cmd is Command.ADD_SERVER:
        return run.server(Op.ADD_DEST, entry.service_key(), entry.server())
    if cmd is Command.EDIT_SERVER:
        return run.server(Op.UPDATE_DEST, entry.service_key(), entry.server())
    if cmd is Command.DELETE_SERVER:
        return run.server(Op.DEL_DEST, entry.service_key(), entry.server())
    if cmd is Command.FLUSH:
        run.flush()
        return None
    if cmd is Command.ZERO:
        return None
    if cmd in (Command.SET, Command.START_DAEMON, Command.STOP_DAEMON):
        return "timeouts and sync daemons are not part of a service table"
    return f"{cmd.value if cmd else 'this'} is not allowed in a desired table"


def parse_save(lines: Iterable[str], source: str = "<save>") -> Table:
    """A table from ipvsadm save/restore lines (see the module docstring)."""
    from pyipvs.cli.ipvsadm.outcome import Exit
    from pyipvs.cli.ipvsadm.parse import parse_command_line
    from pyipvs.cli.ipvsadm.restore import split_line
    from pyipvs.cli.ipvsadm.tokenizer import PoptError
    from pyipvs.cli.pyipvs_restore import _line_message

    run = _Run()
    problems: list[str] = []
    for number, line in enumerate(lines, 1):
        if line.startswith("#"):
            continue
        tokens = split_line(line)
        if not tokens:
            continue
        try:
            message = _run_line(run, parse_command_line(["ipvsadm", *tokens]))
        except (Exit, PoptError) as exc:
            message = _line_message(exc, tokens)
        except IPVSValueError as exc:
            message = str(exc)
        if message is not None:
            problems.append(f"line {number}: {line.rstrip()}: {message}")
    if problems:
        raise DesiredError(source, problems)
    return run.table()


def parse_data(data: Any, source: str = "<data>") -> Table:
    """A table from parsed JSON/YAML data (see `pyipvs.reconcile.fromjson`)."""
    # Imported here: a save file (the common case) needs none of it.
    from .fromjson import DataError, table_from_data

    table, problems = table_from_data(data)  # servers are checked there
    for svc in table.services:
        try:
            check_service(svc)
        except IPVSValueError as e:
            problems.append(DataError(f"service {svc.key}", str(e)))
    if problems:
        raise DesiredError(source, [str(p) for p in problems])
    return table


def _yaml_load(text: str, source: str) -> Any:
    try:
        yaml: Any = importlib.import_module("yaml")
    except ImportError:
        raise DesiredError(
            source, ["YAML needs PyYAML: pip install 'pyipvs[yaml]' (or PyYAML)"]
        ) from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # a safe loader: plain data only
    except yaml.YAMLError as e:
        raise DesiredError(source, [f"not valid YAML: {e}"]) from None


def loads(text: str, fmt: str = "auto", source: str = "<string>") -> Table:
    """A desired table from the text of a file in `fmt` (or sniffed)."""
    if fmt not in FORMATS:
        raise IPVSValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt == "auto":
        fmt = sniff(text)
    if fmt == "save":
        return parse_save(text.splitlines(True), source)
    if fmt == "json":
        import json  # here: the json package is start-up cost for save files

        try:
            data = json.loads(text)
        except ValueError as e:
            raise DesiredError(source, [f"not valid JSON: {e}"]) from None
    else:
        data = _yaml_load(text, source)
    return parse_data(data, source)


def load(file: str | os.PathLike[str] | IO[str], fmt: str = "auto") -> Table:
    """A desired table from a path ("-" is not special here) or an open text file."""
    if isinstance(file, (str, os.PathLike)):
        name = os.fspath(file)
        if fmt == "auto":
            fmt = format_of_name(name)
        with open(name, encoding="utf-8", errors="surrogateescape") as f:
            return loads(f.read(), fmt, name)
    return loads(file.read(), fmt, getattr(file, "name", "<stream>"))
