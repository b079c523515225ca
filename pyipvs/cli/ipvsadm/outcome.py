"""How a command line ends when it does not simply return (top layer: the
`pyipvsadm` front end).

ipvsadm 1.31 leaves through exit() from deep inside its parser and listers,
which in `-R` mode also ends the whole restore. Here those exits are
exceptions that carry what ipvsadm would print and the status it would
exit with; `main` and the restore loop turn them into output and a return
value, and nothing ever calls sys.exit.
"""

from __future__ import annotations


class Exit(Exception):
    """Stop everything with `status`, after printing `message` (+ newline) to stderr."""

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or f"exit {status}")
        self.status = status
        self.message = message


class UsageError(Exit):
    """A line ipvsadm refuses (its `fail(2, ...)`): message, exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(2, message)


class TryHelp(Exit):
    """No usable command: the "Try ... -h" hint, exit status 255."""

    def __init__(self) -> None:
        super().__init__(255)


class ShowHelp(Exit):
    """`-h` as the command: help text on stdout, exit status 0."""

    def __init__(self) -> None:
        super().__init__(0)


class ShowVersion(Exit):
    """`-v` as the command: version line on stdout, exit status 0."""

    def __init__(self) -> None:
        super().__init__(0)


class Crash(Exit):
    """Where ipvsadm 1.31 dies of SIGSEGV (`-b ,`): the shell sees 128+11, and
    whatever stdout still held in its buffer is lost."""

    def __init__(self) -> None:
        super().__init__(139)
