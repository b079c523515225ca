"""One pyipvsadm run: the open handle, the output streams, and the state that
outlives a single command line (top layer: the `pyipvsadm` front end).

That state is small but visible. ipvsadm reads the IPVS version once at
start (every later version line shows it), and it words a kernel error by the
last library function that recorded itself: flushing, reading the info and
dumping the services do not record themselves, so their errors are worded
after whatever ran before (in `-R`, the previous line's operation).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from pyipvs.errors import IPVSError, Op, ipvs_strerror
from pyipvs.model import Info

from .matrix import Command
from .outcome import TryHelp
from .parse import parse_command_line
from .stdio import CStderr, CStdout
from .tokenizer import PoptError

if TYPE_CHECKING:
    from pyipvs.ipvs import IPVS

    from .quick_restore import Carry


@dataclass
class Session:
    ipvs: IPVS
    info: Info
    argv0: str
    out: CStdout
    err: CStderr
    stdin: TextIO
    netns: str | None = None
    last_op: Op | None = Op.INIT
    carry: Carry | None = None  # a `-R` the thin start began (quick_restore.py)
    # popt's POSIXLY_CORRECT mode: switches end at the first plain word
    posix: bool = field(
        default_factory=lambda: bool({"POSIXLY_CORRECT", "POSIX_ME_HARDER"} & set(os.environ))
    )

    def message(self, exc: IPVSError) -> str:
        """ipvsadm's text for a kernel error, worded by the last recorded operation."""
        return ipvs_strerror(self.last_op, exc.errno if exc.errno is not None else 0)

    def process(self, argv: Sequence[str], reading_stdin: bool) -> int:
        """Run one command line; returns 0 or -1 (ipvsadm's process_options),
        or raises outcome.Exit where ipvsadm would exit."""
        try:
            entry = parse_command_line(argv, posix=self.posix)
        except PoptError as exc:
            self.err.line(f"{exc.word}: {exc.reason}")
            return -1
        if entry.command is Command.RESTORE:
            if reading_stdin:
                raise TryHelp()  # a -R inside -R input
            from .restore import restore

            return restore(self)
        from .commands import execute

        return execute(self, entry)
