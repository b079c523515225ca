"""The `-L` and `-S` family: which listing a command line asks for, fetching it,
and handing it to its formatter (top layer: the `pyipvsadm` front end).

ipvsadm 1.31 picks one listing: `-c` the connection table, else a service
option that one service (no version line), else `--timeout`, else `--daemon`,
else everything. A fetch that fails ends the run with status 1 (also inside
`-R`): with ipvsadm's message for the service and server dumps, silently for
the timeouts and daemons.

The whole table with `-n` (`-Ln`, `-Sn`, with any format option) is
formatted by the C core, and this module holds all its Python side: only
pyipvs.format_head, no row formatter. Every other listing is formatted in
Python (listing_python.py), imported when one runs: pyipvs.format,
pyipvs.sorting and name resolution are start-up cost the numeric listings
do not need.
"""

from __future__ import annotations

from pyipvs.errors import IPVSError, Op
from pyipvs.format_head import ListFormat, title_lines, version_line

from .entry import Entry
from .options import Opt
from .outcome import Exit
from .session import Session


def list_format(entry: Entry) -> ListFormat:
    g = entry.given
    return ListFormat(
        numeric=Opt.NUMERIC in g,
        stats=Opt.STATS in g,
        rate=Opt.RATE in g,
        thresholds=Opt.THRESHOLDS in g,
        persistent_conn=Opt.PERSISTENT_CONN in g,
        tun_info=Opt.TUN_INFO in g,
        exact=Opt.EXACT in g,
        nosort=Opt.NOSORT in g,
    )


def list_command(session: Session, entry: Entry) -> None:
    """`-L`/`-l` with its options (already checked)."""
    fmt = list_format(entry)
    g = entry.given
    if Opt.CONNECTION in g:
        from .connlist import list_connections

        list_connections(session, fmt)
    elif Opt.SERVICE in g:
        from .listing_python import list_service

        list_service(session, entry, fmt)
    elif Opt.TIMEOUT in g:
        from .listing_python import list_timeouts

        list_timeouts(session)
    elif Opt.DAEMON in g:
        from .listing_python import list_daemons

        list_daemons(session)
    else:
        list_all(session, fmt)


def list_all(
    session: Session, fmt: ListFormat | None = None, *, numeric: bool = False, save: bool = False
) -> None:
    """Every service with its servers: `-L` (fmt) or `-S` (save, numeric)."""
    if fmt is None:
        fmt = ListFormat(numeric=numeric)
    if not save:
        session.out.line(version_line(session.info))
    if fmt.numeric:
        _list_numeric(session, fmt, save)
        return
    from .listing_python import list_table

    list_table(session, fmt, save)


def _list_numeric(session: Session, fmt: ListFormat, save: bool) -> None:
    """`-Ln`/`-Sn`: the same read and the same lines as listing_python's
    list_table, formatted by the C core (IPVS.numeric_listing): no model
    object per row."""
    try:
        text, count = session.ipvs.numeric_listing(fmt, save=save)
    except IPVSError as exc:
        raise Exit(1, session.message(exc)) from exc
    if count:
        session.last_op = Op.GET_DESTS  # as after listing_python's per-service dumps
    if not save:
        session.out.lines(title_lines(fmt))
    session.out.write(text)
