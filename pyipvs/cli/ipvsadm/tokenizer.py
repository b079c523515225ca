"""A popt-compatible command-line tokenizer (top layer: the `pyipvsadm` front end).

ipvsadm 1.31 parses its arguments with libpopt 1.19, and several of its
user-visible behaviours are popt's rather than ipvsadm's: short switches
cluster (`-Lnt ADDR`), an argument may be attached (`-t10.0.0.1:80`,
`-p600`, `-t=ADDR`), `--name=value` works but names are never abbreviated,
a value given to a switch that takes none is an error (`-L=`, `--numeric=x`),
single-dash long names are clusters (`-list` is `-l -i -s t`), a required
argument is the next word even if it starts with '-', `-p`'s optional
argument is the next word only if it does not, words that are not switches
are collected for later (the command line is permuted), `--` ends the
switches, and `!#:+` inside an argument is replaced by the next free word.
Errors name the last word consumed, which is what popt's poptBadOption returns.

This module reproduces that state machine over the table in `options.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .options import Arg, Switch, by_long, by_short

MISSING_ARGUMENT = "missing argument"
UNKNOWN_OPTION = "unknown option"
UNWANTED_ARGUMENT = "option does not take an argument"

# popt substitutes this marker in an argument with the next free word.
_NEXT_ARG_MARK = "!#:+"


@dataclass(frozen=True, slots=True)
class Token:
    """A switch as popt returns it, with its argument (None if none was taken)
    and the last word consumed (what error messages quote)."""

    switch: Switch
    arg: str | None
    word: str


class PoptError(Exception):
    """popt refused a word; ipvsadm prints "<word>: <reason>"."""

    def __init__(self, word: str, reason: str) -> None:
        super().__init__(f"{word}: {reason}")
        self.word = word
        self.reason = reason


class Popt:
    """Hands out the switches of one command line, one at a time.

    `posix` mirrors popt's POSIXLY_CORRECT mode: the first word that is not a
    switch makes every later word a plain argument.
    """

    def __init__(self, argv: Sequence[str], *, posix: bool = False) -> None:
        self._argv = list(argv)
        self._next = 1  # argv[0] is the program name
        self._cluster: str | None = None  # rest of a short-switch cluster
        self._rest_are_args = False
        self._posix = posix
        self._taken: set[int] = set()  # words consumed by `!#:+`
        self._leftovers: list[str] = []
        self._leftover_pos = 0

    # -- the state machine -------------------------------------------------

    def next_token(self) -> Token | None:
        """The next switch, or None when the words are used up; raises PoptError."""
        argv = self._argv
        while True:
            if self._cluster is None and self._next == len(argv):
                return None
            long_arg: str | None = None
            switch: Switch | None = None
            if self._cluster is None:
                if self._next in self._taken:
                    self._next += 1
                    continue
                word = argv[self._next]
                self._next += 1
                if self._rest_are_args or not word.startswith("-") or word == "-":
                    if self._posix:
                        self._rest_are_args = True
                    self._leftovers.append(word)
                    continue
                if word == "--":
                    self._rest_are_args = True
                    continue
                if word.startswith("--"):
                    name, eq, value = word[2:].partition("=")
                    if eq:
                        long_arg = value
                    switch = by_long(name)
                    if switch is None:
                        raise PoptError(self._last_word(), UNKNOWN_OPTION)
                else:
                    # No switch of ipvsadm's is a single-dash long name, so the
                    # word is a cluster of one-letter switches.
                    self._cluster = word[1:]
            if self._cluster is not None:
                chars = self._cluster
                self._cluster = None
                switch = by_short(chars[0]) if chars else None
                if switch is None:
                    raise PoptError(self._last_word(), UNKNOWN_OPTION)
                if len(chars) > 1:
                    self._cluster = chars[1:]
            assert switch is not None
            arg = self._argument(switch, long_arg)
            return Token(switch, arg, self._last_word())

    def _argument(self, switch: Switch, long_arg: str | None) -> str | None:
        if switch.arg is Arg.NONE:
            given = self._cluster is not None and self._cluster.startswith("=")
            if long_arg is not None or given:
                raise PoptError(self._last_word(), UNWANTED_ARGUMENT)
            return None
        if long_arg is not None:
            return self._expand(long_arg)
        if self._cluster is not None:
            attached = self._cluster
            self._cluster = None
            return self._expand(attached[1:] if attached.startswith("=") else attached)
        if self._next == len(self._argv):
            if switch.arg is Arg.REQUIRED:
                raise PoptError(self._last_word(), MISSING_ARGUMENT)
            return None
        word = self._argv[self._next]
        if switch.arg is Arg.OPTIONAL and word.startswith("-"):
            return None
        self._next += 1
        return self._expand(word)

    def _expand(self, text: str) -> str:
        if _NEXT_ARG_MARK not in text:
            return text
        out: list[str] = []
        found: str | None = None
        i = 0
        while i < len(text):
            c = text[i]
            i += 1
            if c == "!" and text.startswith("#:+", i):
                if found is None:
                    found = self._take_free_word()
                if found is not None:
                    out.append(found)
                    i += 3
                    continue
            out.append(c)
        return "".join(out)

    def _take_free_word(self) -> str | None:
        for i in range(self._next, len(self._argv)):
            if i in self._taken or self._argv[i].startswith("-"):
                continue
            self._taken.add(i)
            return self._argv[i]
        return None

    def _last_word(self) -> str:
        return self._argv[self._next - 1]

    # -- the words that were not switches ---------------------------------

    def next_arg(self) -> str | None:
        """The next collected non-switch word (popt's poptGetArg)."""
        if self._leftover_pos < len(self._leftovers):
            self._leftover_pos += 1
            return self._leftovers[self._leftover_pos - 1]
        return None
