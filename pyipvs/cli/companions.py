"""`pyipvsadm-save` and `pyipvsadm-restore` (top layer: thin companions of
the `pyipvsadm` front end).

They behave like the two wrapper scripts Debian ships with ipvsadm 1.31 and
run `pyipvsadm` where those run `ipvsadm`, in-process:

* save: every argument is looked at; `-n` asks for numeric output, any other
  argument starting with `-` prints a two-line note on stderr and exits 1,
  anything else is ignored. Then `-S [-n]`, with its exit status.
* restore: arguments are ignored. Input lines starting with `#` are dropped,
  the table is cleared (`-C`, whose status does not matter), then the rest is
  fed to `-R` exactly as the script's `echo "$(grep -v '^#')"` would: with
  trailing newlines removed and one added. The exit status is `-R`'s.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from pyipvs.cli.ipvsadm.main import main as ipvsadm_main

IPVSADM = "pyipvsadm"


def save_main(
    argv: Sequence[str], stdin: TextIO, stdout: TextIO, stderr: TextIO, *, netns: str | None = None
) -> int:
    """`pyipvsadm-save [-n]` (argv[0] is the program name)."""
    numeric = False
    for arg in argv[1:]:
        if arg == "-n":
            numeric = True
        elif arg.startswith("-"):
            prog = os.path.basename(argv[0]) if argv and argv[0] else "pyipvsadm-save"
            stderr.write(
                f"{prog}: Script to save the IPVS table to stdout.\n"
                "   With the -n option, prints out the table in numeric format.\n"
            )
            return 1
    return ipvsadm_main(
        [IPVSADM, "-S", *(["-n"] if numeric else [])], stdin, stdout, stderr, netns=netns
    )


def restore_input(text: str) -> str:
    """What the script pipes into `ipvsadm -R` for the input `text`."""
    text = text.removesuffix("\n")
    kept = [line for line in text.split("\n") if not line.startswith("#")] if text else []
    return "\n".join(kept).rstrip("\n") + "\n"


def restore_main(
    argv: Sequence[str], stdin: TextIO, stdout: TextIO, stderr: TextIO, *, netns: str | None = None
) -> int:
    """`pyipvsadm-restore < rules` (argv is not used, as in the script)."""
    rules = restore_input(stdin.read())
    ipvsadm_main([IPVSADM, "-C"], io.StringIO(""), stdout, stderr, netns=netns)
    return ipvsadm_main([IPVSADM, "-R"], io.StringIO(rules), stdout, stderr, netns=netns)


def _raw_streams() -> None:
    # As for pyipvsadm: bytes that are not UTF-8 pass through unchanged, and
    # only LF ends an input line (a CR is an ordinary blank to -R).
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8", errors="surrogateescape")
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(encoding="utf-8", errors="surrogateescape", newline="\n")


def save_entry() -> None:
    """The `pyipvsadm-save` console script."""
    _raw_streams()
    sys.exit(save_main(sys.argv, sys.stdin, sys.stdout, sys.stderr))


def restore_entry() -> None:
    """The `pyipvsadm-restore` console script."""
    _raw_streams()
    sys.exit(restore_main(sys.argv, sys.stdin, sys.stdout, sys.stderr))
