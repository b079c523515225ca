"""`-R`: command lines from stdin, with ipvsadm 1.31's line reader (top layer:
the `pyipvsadm` front end).

The reader splits a line into runs of anything but blank, tab, CR and LF
(runs longer than 4096 bytes are split; a NUL ends the token, as a C string
would). It knows no quoting and no comments (`#` is an ordinary token), it
drops every token that is exactly `ipvsadm`, and it silently drops a last
line that has no newline but ends in two or more blanks. Each non-empty line
then runs as its own command line: a kernel or popt error makes it fail and
the restore goes on, while anything ipvsadm would exit() on (a usage error,
a bad command, a failed listing, -h, -v) ends the whole run at once. The
status of the run is the status of the last non-empty line.
"""

from __future__ import annotations

import re
from typing import TextIO

from .session import Session

MAX_TOKEN = 4096
_TOKEN = re.compile(rb"[^ \t\r\n]{1,%d}" % MAX_TOKEN)
_BLANKS = b" \t\r"


def split_line(line: str) -> list[str] | None:
    """The tokens of one line as read by `readline` (newline kept).

    None means ipvsadm's reader reported end of input for this line, i.e. it
    is the unterminated last line and either holds no token (other than
    `ipvsadm`) or ends in two or more blanks; its tokens are then dropped.
    """
    raw = line.encode("utf-8", "surrogateescape")
    tokens = []
    for run in _TOKEN.findall(raw):
        tok = run.split(b"\0", 1)[0]
        if tok != b"ipvsadm":
            tokens.append(tok.decode("utf-8", "surrogateescape"))
    if raw.endswith(b"\n"):
        return tokens
    if not tokens:
        return None
    stripped = raw.rstrip(_BLANKS)
    if len(raw) - len(stripped) >= 2:
        return None
    return tokens


def read_tokens(stdin: TextIO) -> list[str] | None:
    """The next line's tokens (possibly none), or None at the end of input."""
    line = stdin.readline()
    if not line:
        return None
    return split_line(line)


def restore(session: Session) -> int:
    # Batched through the engine (restore_batch.py), with the same output;
    # typed input runs line by line as it comes, and so does a session over
    # anything but the real client (the batch engine needs its C handle).
    from pyipvs.ipvs import IPVS

    if isinstance(session.ipvs, IPVS) and not _is_tty(session.stdin):
        from .restore_batch import restore_batched

        return restore_batched(session)
    return restore_per_line(session)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, OSError, ValueError):
        return False


def restore_per_line(session: Session) -> int:
    result = 0
    while (tokens := read_tokens(session.stdin)) is not None:
        if tokens:
            result = session.process([session.argv0, *tokens], reading_stdin=True)
    return result
