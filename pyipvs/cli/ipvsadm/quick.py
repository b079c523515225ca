"""The `pyipvsadm` console script, with a thin start for the hot whole-table
listings (top layer: the `pyipvsadm` front end).

Importing Python modules is most of what a pyipvsadm run costs where
process starts are slow (about 2 s of a 5 s `-Ln` in the emulated test
VM): main.py's path imports the model, the errors, dataclasses, enum,
typing, ipaddress and the option table before argv is even read. The
numeric whole-table listings need none of them, since the C core reads and
formats their rows, so this module recognises them from argv, with a
whitelist, and prints them with nothing but the core and the heads of
pyipvs.format_titles (which the full path prints too):

- `-L -n` (`-l`, `--list`, `--numeric`), alone or with any of `--stats`,
  `--rate`, `--thresholds`, `--persistent-conn`, `--tun-info`, `--exact`
  (`-X`), `--nosort`: the C formatter's options;
- `--sort`, after the command, any number of times, in any of these forms:
  ipvsadm 1.31 ignores it (its listings are sorted unless `--nosort`);
- `-S -n` (`--save`, `--numeric`), with nothing else;
- `-L -n -c` (`--connection`), alone or with `--persistent-conn`;
- `-R` (`--restore`) alone, by quick_restore.py, which may hand a restore
  it began over to the full path part-way;
- `-v` (`--version`) alone: pyipvsadm's version line, after IPVS's info
  has been read as the full path reads it.

The command comes first (ipvsadm 1.31 answers `-nL` with its try-help
message), each option at most once (a repeat is ipvsadm's "multiple ...
options specified"), short options clustered or not, and nothing else: no
words, no `--`, no values. Everything else, and any failure
before output is written (no IPVS, a netlink error, a table that never
held still, an empty connection table, an unexpected exception), goes to
main.entry unchanged, which runs the command again from the start (these
are reads) and prints ipvsadm's own messages and status.

What this path imports is pinned by tests/unit/test_startup_imports.py. Its
modules (this one, pyipvs._native's package and thin, helptext) do without `from
__future__ import annotations`: even __future__ is one more module to load.
"""

import sys

from pyipvs.cli import exit_now

# Not typing.TYPE_CHECKING: typing is start-up cost (mypy takes any constant
# of that name as true). _signal, not signal: signal wraps _signal's
# functions in enums, and enum is start-up cost too (_signal has no stub).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from typing import BinaryIO
else:
    import _signal

_COMMANDS = {"L": "list", "l": "list", "S": "save", "-list": "list", "-save": "save"}
_SHORT = {"n": "numeric", "c": "connection", "X": "exact"}
_LONG = frozenset(
    {
        "numeric",
        "connection",
        "exact",
        "stats",
        "rate",
        "thresholds",
        "persistent-conn",
        "tun-info",
        "nosort",
    }
)
_LIST_OPTIONS = frozenset(
    {"stats", "rate", "thresholds", "persistent-conn", "tun-info", "exact", "nosort"}
)
MIN_VERSION = (1, 1, 4)  # main.MIN_VERSION: below it the full path warns


def recognise(args: list[str]) -> tuple[str, frozenset[str]] | None:
    """argv without the program name as ("list" | "save" | "conns", its
    format options by long name, numeric and connection left out), or None
    when it is not a whitelisted form."""
    if not args or len(args[0]) < 2 or args[0][0] != "-":
        return None
    first = args[0]
    command = _COMMANDS.get(first[1:]) if first.startswith("--") else _COMMANDS.get(first[1])
    if command is None:
        return None
    words = ["-" + first[2:]] if first[1] != "-" and len(first) > 2 else []
    words += args[1:]
    given: set[str] = set()
    for word in words:
        if word == "--sort":
            continue  # ipvsadm takes it anywhere, any number of times, and ignores it
        if word.startswith("--"):
            names = [word[2:]] if word[2:] in _LONG else [""]
        elif word.startswith("-") and len(word) > 1:
            names = [_SHORT.get(c, "") for c in word[1:]]
        else:
            return None
        for name in names:
            if not name or name in given:
                return None
            given.add(name)
    if "numeric" not in given:
        return None
    options = frozenset(given - {"numeric", "connection"})
    if command == "save":
        return ("save", options) if not options and len(given) == 1 else None
    if "connection" in given:
        return ("conns", options) if options <= {"persistent-conn"} else None
    return ("list", options) if options <= _LIST_OPTIONS else None


def entry() -> None:
    """The `pyipvsadm` console script."""
    # As main.entry: die of SIGPIPE and SIGINT as a C program does.
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    args = sys.argv[1:]
    form = recognise(args)
    carry = None
    if form is not None:
        status = _listing(*form)
    elif args == ["-v"] or args == ["--version"]:
        status = _version()
    elif args == ["-R"] or args == ["--restore"]:
        from .quick_restore import restore

        status, carry = restore()
    else:
        status = None
    if status is not None:
        exit_now(status)
    from .main import entry as full_entry

    full_entry(carry)


def version_of(word: int) -> tuple[int, int, int]:
    return (word >> 16) & 0xFF, (word >> 8) & 0xFF, word & 0xFF


_TITLE_OPTIONS = ("stats", "rate", "thresholds", "persistent-conn", "tun-info")


def _listing(kind: str, options: frozenset[str]) -> int | None:
    """Print the listing and return the exit status, or None (nothing
    printed) for the full path to take over."""
    try:
        out = sys.stdout.buffer
        if kind == "conns":
            return _connections(out, "persistent-conn" in options)
        text = _table(kind == "save", options)
    except Exception:  # noqa: BLE001 - any failure: the full path runs and reports it
        return None
    if text is None:
        return None
    for part in text:
        out.write(part)
    out.flush()
    return 0


def _table(save: bool, options: frozenset[str]) -> tuple[bytes | memoryview, ...] | None:
    """`-Ln` (with options) or `-Sn` as the full path prints it (main.py,
    listing.py's list_all), in parts to write one after the other (the
    table's text is the core's, not copied), or None where that path prints
    a warning."""
    from pyipvs import _native
    from pyipvs.format_titles import list_titles, version_text

    modes = _native.LIST_OPTION_MODES
    mode = modes["save"] if save else 0
    for name in options:
        mode |= modes[name]
    word, size, text = _native.info_and_table(mode)
    if version_of(word) < MIN_VERSION:
        return None
    if save:
        return (text,)
    titles = list_titles(*(name in options for name in _TITLE_OPTIONS))
    return ("\n".join([version_text(*version_of(word), size), *titles]) + "\n").encode(), text


def _version() -> int | None:
    """`-v` as the full path prints it, once IPVS has answered as it must
    there (ipvsadm reads IPVS's info before its options, so -v needs a
    working IPVS too); None (nothing printed) for the full path to report
    what went wrong."""
    try:
        from pyipvs import _native

        word, _size, _ = _native.info_and_table(None)
        if version_of(word) < MIN_VERSION:
            return None
        from .helptext import version_text

        text = version_text().encode()
    except Exception:  # noqa: BLE001 - any failure: the full path runs and reports it
        return None
    sys.stdout.buffer.write(text)
    sys.stdout.buffer.flush()
    return 0


def _connections(out: "BinaryIO", persistent_conn: bool) -> int | None:
    """`-Lnc` as connlist.py prints it: None (nothing printed) where it
    prints a message; once the first rows are out, the rest follows block
    by block, and a failure is no longer handed over."""
    from pyipvs import _native
    from pyipvs.format_titles import conn_titles

    word, _size, _ = _native.info_and_table(None)
    if version_of(word) < MIN_VERSION:
        return None
    conns = _native.ConnText(persistent_conn)
    try:
        block = conns.block()
        read, blank = conns.seen()
        if read == 0 or blank:  # ipvsadm's message, or status 1: the full path's
            return None
        out.write(("\n".join(conn_titles(persistent_conn)) + "\n").encode())
        while block:
            out.write(block)
            block = conns.block()
        out.flush()
        return 1 if conns.seen()[1] else 0  # a blank line: ipvsadm exits 1, silently
    finally:
        conns.close()
