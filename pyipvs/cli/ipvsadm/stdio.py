"""stdout and stderr the way a C program's stdio behaves (top layer: the
`pyipvsadm` front end).

ipvsadm writes listings through glibc's stdout, which is line-buffered on a
terminal and otherwise fully buffered in blocks of the file's st_blksize
(4096 for pipes), while stderr is unbuffered. Where both are redirected to
one file, error messages therefore land before listing text that was still
in the buffer (in `-R`, an error of line 5 before a short listing of line 3).
`CStdout` reproduces that: text leaves in whole blocks, the rest at exit.
When ipvsadm crashes the buffered rest is lost, hence `discard`.
"""

from __future__ import annotations

import os
from typing import TextIO

DEFAULT_BLOCK = 4096


def _block_size(stream: TextIO) -> int | None:
    """None for a terminal (line buffering), else the block size of its file."""
    try:
        if stream.isatty():
            return None
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return DEFAULT_BLOCK
    try:
        size = os.fstat(fd).st_blksize
    except OSError:
        return DEFAULT_BLOCK
    return size if size > 0 else DEFAULT_BLOCK


class CStdout:
    """A write-only text sink with glibc's stdout buffering over `target`."""

    __slots__ = ("_block", "_pending", "_size", "_target")

    def __init__(self, target: TextIO, block: int | bool | None = True) -> None:
        self._target = target
        self._block: int | None = _block_size(target) if block is True else (block or None)
        self._pending: list[str] = []
        self._size = 0

    def write(self, text: str) -> None:
        if not text:
            return
        self._pending.append(text)
        self._size += len(text)
        if self._block is None:
            if "\n" in text:
                self.flush()
        elif self._size >= self._block:
            data = "".join(self._pending)
            cut = len(data) - len(data) % self._block
            self._emit(data[:cut])
            rest = data[cut:]
            self._pending = [rest] if rest else []
            self._size = len(rest)

    def line(self, text: str) -> None:
        self.write(text + "\n")

    def lines(self, texts: list[str]) -> None:
        if texts:
            self.write("\n".join(texts) + "\n")

    def flush(self) -> None:
        if self._pending:
            data = "".join(self._pending)
            self._pending = []
            self._size = 0
            self._emit(data)

    def discard(self) -> None:
        """Drop what is still buffered (a crashed C program never writes it)."""
        self._pending = []
        self._size = 0

    def _emit(self, data: str) -> None:
        self._target.write(data)
        self._target.flush()


class CStderr:
    """Unbuffered: every message reaches `target` at once."""

    __slots__ = ("_target",)

    def __init__(self, target: TextIO) -> None:
        self._target = target

    def line(self, text: str) -> None:
        self._target.write(text + "\n")
        self._target.flush()
