"""`pyipvsadm`'s entry points (top layer: the `pyipvsadm` front end).

`main` runs one invocation against given streams and returns its exit
status; only `entry`, the console script, calls sys.exit. As in ipvsadm 1.31,
IPVS is opened and its version read before argv is even looked at (so `-h`
and `-v` need a working IPVS too), with one `/sbin/modprobe -- ip_vs` and a
retry when that fails; no arguments at all lists the table with names.
"""

from __future__ import annotations

import errno
import io
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from pyipvs.errors import IPVSError, IPVSUnavailableError, ipvs_strerror
from pyipvs.model import Info

from .outcome import Crash, Exit, ShowHelp, ShowVersion, TryHelp
from .session import Session
from .stdio import CStderr, CStdout

if TYPE_CHECKING:
    from pyipvs.ipvs import IPVS

    from .quick_restore import Carry

MODPROBE = ("/sbin/modprobe", "--", "ip_vs")
MIN_VERSION = (1, 1, 4)
_IP_VS_SO_GET_INFO = 1153  # the legacy sockopt ipvsadm falls back to


def main(
    argv: Sequence[str],
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    *,
    netns: str | None = None,
    carry: Carry | None = None,
) -> int:
    """Run `argv` (argv[0] is the program name) as ipvsadm 1.31 would;
    `carry`: the `-R` the thin start began (quick_restore.py), to finish."""
    out = CStdout(stdout)
    err = CStderr(stderr)
    argv0 = argv[0] if argv else "ipvsadm"
    ipvs: IPVS | None = None
    try:
        ipvs, info = _open(netns, err)
        if info.version < MIN_VERSION:
            have = ".".join(map(str, info.version))
            need = ".".join(map(str, MIN_VERSION))
            err.line(
                "Warning: IPVS version mismatch: \n"
                f"  Kernel compiled with IPVS version {have}\n"
                f"  ipvsadm v1.31  requires minimum IPVS version {need}\n"
            )
        session = Session(ipvs, info, argv0, out, err, stdin, netns, carry=carry)
        if len(argv) <= 1:
            from .listing import list_all

            list_all(session)
            return 0
        return session.process(argv, reading_stdin=False) & 0xFF
    except Crash:
        out.discard()
        return 139
    except ShowHelp:
        from .helptext import help_text  # this text is no start-up cost for other runs

        out.write(help_text(argv0))
        return 0
    except ShowVersion:
        from .helptext import version_text

        out.write(version_text())
        return 0
    except TryHelp:
        err.line(f"Try `{argv0} -h' or '{argv0} --help' for more information.")
        return 255
    except Exit as exc:
        if exc.message is not None:
            err.line(exc.message)
        return exc.status & 0xFF
    finally:
        out.flush()
        if ipvs is not None:
            ipvs.close()


def _open(netns: str | None, err: CStderr) -> tuple[IPVS, Info]:
    """Open IPVS and read its info, loading the module once if that fails."""
    try:
        return _try_open(netns)
    except IPVSError as first:
        failure = first
    if _modprobe() == 0:
        try:
            return _try_open(netns)
        except IPVSError as second:
            failure = second
    code = _init_errno(failure, netns)
    raise Exit(
        2,
        f"Can't initialize ipvs: {ipvs_strerror(None, code)}\n"
        "Are you sure that IP Virtual Server is built in the kernel or as module?",
    )


def _try_open(netns: str | None) -> tuple[IPVS, Info]:
    from pyipvs.ipvs import IPVS

    ipvs = IPVS(netns)
    try:
        return ipvs, ipvs.info()
    except BaseException:
        ipvs.close()
        raise


def _modprobe() -> int:
    # modprobe's own messages go straight to our stderr, as with ipvsadm.
    import subprocess

    sys.stderr.flush()
    try:
        return subprocess.run(MODPROBE, check=False).returncode
    except OSError:
        return 1


def _init_errno(exc: IPVSError, netns: str | None) -> int:
    """The errno ipvsadm would report. Without the IPVS netlink family it falls
    back to the old socket option, whose answer we ask for here (EPERM for
    a user who may not open a raw socket, else normally ENOPROTOOPT)."""
    code = exc.errno if exc.errno is not None else errno.EINVAL
    if not isinstance(exc, IPVSUnavailableError) or netns is not None:
        return code
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
            s.getsockopt(socket.IPPROTO_IP, _IP_VS_SO_GET_INFO, 12)
    except OSError as oe:
        return oe.errno if oe.errno is not None else code
    return code


def entry(carry: Carry | None = None) -> None:
    """The `pyipvsadm` console script (after quick.py's thin start, which
    may pass a restore it began)."""
    # Die of SIGPIPE and SIGINT as a C program does (`pyipvsadm -L | head`),
    # instead of Python's BrokenPipeError and KeyboardInterrupt tracebacks.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            # Arguments that are not UTF-8 are echoed back byte for byte.
            stream.reconfigure(encoding="utf-8", errors="surrogateescape")
    if isinstance(sys.stdin, io.TextIOWrapper):
        # -R reads raw lines: only LF ends one, a CR is an ordinary blank.
        sys.stdin.reconfigure(encoding="utf-8", errors="surrogateescape", newline="\n")
    sys.exit(main(sys.argv, sys.stdin, sys.stdout, sys.stderr, carry=carry))
