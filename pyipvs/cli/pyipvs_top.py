"""`pyipvs top`: a live, top-style view of IPVS rates (top layer: a
subcommand of the extended CLI; pyipvs.top renders, this module polls and
paints with curses).

On a terminal the screen refreshes every `--interval` seconds (2 by
default: the kernel's own counter refresh) until `q`; keys change the sort
column (`<` `>`), the order (`r`) and whether real servers are shown
(`s`). A resize repaints at the new size at once. Without a terminal, or
with `--batch`, each refresh is printed as plain text; `--once` prints one
frame (the kernel estimator's rates, no waiting) and `--iterations N`
stops after N refreshes, for scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import curses
import os
import shutil
import time
from typing import IO

from pyipvs.errors import IPVSError, IPVSValueError
from pyipvs.ipvs import IPVS
from pyipvs.snapshot import Rates, Snapshot, rates, take
from pyipvs.top import SORT_KEYS, View, render

_QUIT = {ord("q"), ord("Q"), 27}  # 27: Escape


def setup(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--interval", type=float, default=2.0, metavar="SECONDS", help="refresh period (default 2)"
    )
    p.add_argument(
        "--iterations",
        type=int,
        default=0,
        metavar="N",
        help="stop after N refreshes (0: run until q)",
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="print one frame as text and exit (kernel estimator rates)",
    )
    p.add_argument(
        "--batch", action="store_true", help="print frames as plain text even on a terminal"
    )
    p.add_argument(
        "--sort", choices=SORT_KEYS, default="inbps", help="initial sort column (default inbps)"
    )
    p.add_argument("--ascending", action="store_true", help="sort smallest first")
    p.add_argument("--no-servers", action="store_true", help="services only")
    p.add_argument(
        "--width",
        type=int,
        default=0,
        help="text width without a terminal (default: $COLUMNS or 100)",
    )
    p.add_argument(
        "--netns",
        default=argparse.SUPPRESS,
        help="network namespace to read (a name under /run/netns or a path)",
    )


def cmd_top(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    if not args.interval > 0 or args.iterations < 0:
        stderr.write("pyipvs top: --interval must be above 0 and --iterations 0 or more\n")
        return 2
    view = View(sort=args.sort, descending=not args.ascending, servers=not args.no_servers)
    iterations = 1 if args.once else args.iterations
    with IPVS(getattr(args, "netns", None)) as ipvs:
        if args.once or args.batch or not stdout.isatty():
            width = args.width or shutil.get_terminal_size((100, 40)).columns
            return _batch(ipvs, stdout, view, width, args.interval, iterations)
        # ncurses prefers LINES/COLUMNS to the terminal's real size; values
        # inherited from another terminal (or exported by a shell before a
        # resize) would draw the wrong size, so only the real size counts.
        for name in ("LINES", "COLUMNS"):
            os.environ.pop(name, None)
        return curses.wrapper(_Screen(ipvs, view, args.interval, iterations).run)


def _batch(ipvs: IPVS, stdout: IO[str], view: View, width: int, interval: float, n: int) -> int:
    prev: Snapshot | None = None
    done = 0
    deadline = time.monotonic()
    while True:
        cur = take(ipvs)
        r = rates(prev, cur) if prev is not None else None
        if done:
            stdout.write("\n")
        stdout.write("\n".join(render(cur, r, width, 1 << 30, view)) + "\n")
        stdout.flush()
        done += 1
        if n and done >= n:
            return 0
        prev = cur
        deadline += interval
        time.sleep(max(0.0, deadline - time.monotonic()))


class _Screen:
    """The curses loop: poll on schedule, repaint on keys and resizes."""

    def __init__(self, ipvs: IPVS, view: View, interval: float, iterations: int) -> None:
        self.ipvs, self.view, self.interval, self.iterations = ipvs, view, interval, iterations
        self.cur: Snapshot | None = None
        self.rates: Rates | None = None
        self.error: str | None = None

    def refresh(self) -> None:
        try:
            cur = take(self.ipvs)
        except (IPVSError, IPVSValueError) as e:
            self.error = str(e)  # keep the last good frame; try again next tick
            return
        self.rates = rates(self.cur, cur) if self.cur is not None else None
        self.cur, self.error = cur, None

    def paint(self, scr: curses.window) -> None:
        height, width = scr.getmaxyx()
        scr.erase()
        if self.cur is not None:
            lines = render(self.cur, self.rates, width, height, self.view, error=self.error)
        else:
            lines = [f"error: {self.error}"[:width]] if height > 0 else []
        for y, line in enumerate(lines):
            # Writing the bottom-right cell moves the cursor off the screen,
            # which curses reports as an error after drawing the text.
            with contextlib.suppress(curses.error):
                scr.addstr(y, 0, line)
        scr.refresh()

    def key(self, ch: int) -> bool:
        """Apply a key; False when it asks to quit."""
        if ch in _QUIT:
            return False
        if ch in (ord(">"), ord("."), curses.KEY_RIGHT):
            self.view = self.view.next_sort(1)
        elif ch in (ord("<"), ord(","), curses.KEY_LEFT):
            self.view = self.view.next_sort(-1)
        elif ch in (ord("r"), ord("R")):
            self.view = View(self.view.sort, not self.view.descending, self.view.servers)
        elif ch in (ord("s"), ord("S")):
            self.view = View(self.view.sort, self.view.descending, not self.view.servers)
        return True

    def run(self, scr: curses.window) -> int:
        with contextlib.suppress(curses.error):  # terminals without an invisible cursor
            curses.curs_set(0)
        scr.timeout(100)
        done = 0
        deadline = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline:
                if self.iterations and done >= self.iterations:
                    return 0
                self.refresh()
                done += 1
                deadline += self.interval * max(1, int((now - deadline) // self.interval) + 1)
                self.paint(scr)
            ch = scr.getch()
            if ch == -1:
                continue
            if ch != curses.KEY_RESIZE and not self.key(ch):
                return 0
            self.paint(scr)
