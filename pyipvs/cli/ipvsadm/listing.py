"""The `-L` and `-S` family: which listing a command line asks for, fetching it,
and handing it to the shared formatters (top layer: the `pyipvsadm` front end).

ipvsadm 1.31 picks one listing: `-c` the connection table, else a service
option that one service (no version line), else `--timeout`, else `--daemon`,
else everything. A fetch that fails ends the run with status 1 (also inside
`-R`): with ipvsadm's message for the service and server dumps, silently for
the timeouts and daemons. Formatting is pyipvs.format's; sorting is
pyipvs.sorting's (ipvsadm's glibc merge sort with its wrap-around compare).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyipvs import format as fmtmod
from pyipvs.errors import IPVSError, Op
from pyipvs.format import ListFormat
from pyipvs.model import ServerStatus, ServiceStatus
from pyipvs.names import NumericResolver, Resolver, SystemResolver
from pyipvs.sorting import sort_servers, sort_services

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


def resolver_for(numeric: bool) -> Resolver:
    return NumericResolver() if numeric else SystemResolver()


def list_command(session: Session, entry: Entry) -> None:
    """`-L`/`-l` with its options (already checked)."""
    fmt = list_format(entry)
    g = entry.given
    if Opt.CONNECTION in g:
        from .connlist import list_connections

        list_connections(session, fmt)
    elif Opt.SERVICE in g:
        list_service(session, entry, fmt)
    elif Opt.TIMEOUT in g:
        list_timeouts(session)
    elif Opt.DAEMON in g:
        list_daemons(session)
    else:
        list_all(session, fmt)


def list_all(
    session: Session, fmt: ListFormat | None = None, *, numeric: bool = False, save: bool = False
) -> None:
    """Every service with its servers: `-L` (fmt) or `-S` (save, numeric)."""
    if fmt is None:
        fmt = ListFormat(numeric=numeric)
    out = session.out
    if not save:
        out.line(fmtmod.version_line(session.info))
    if fmt.numeric:
        _list_numeric(session, fmt, save)
        return
    try:
        # ipvsadm's service dump records no operation of its own. The whole
        # table comes in one consistent read (pyipvs.snapshot), not one
        # library call per service.
        snap = session.ipvs.snapshot()
    except IPVSError as exc:
        raise Exit(1, session.message(exc)) from exc
    services = list(snap.services)
    if save or not fmt.nosort:
        services = sort_services(services)
    if not save:
        out.lines(fmtmod.title_lines(fmt))
    resolver = resolver_for(fmt.numeric)
    for status in services:
        _print_service(session, status, fmt, resolver, save, snap.servers_of(status.key))


def _list_numeric(session: Session, fmt: ListFormat, save: bool) -> None:
    """`-Ln`/`-Sn`: the same read and the same lines, formatted by the C core
    (IPVS.numeric_listing): no model object per row."""
    try:
        text, count = session.ipvs.numeric_listing(fmt, save=save)
    except IPVSError as exc:
        raise Exit(1, session.message(exc)) from exc
    if count:
        session.last_op = Op.GET_DESTS  # as after the per-service dumps below
    if not save:
        session.out.lines(fmtmod.title_lines(fmt))
    session.out.write(text)


def _print_service(
    session: Session,
    status: ServiceStatus,
    fmt: ListFormat,
    resolver: Resolver,
    save: bool,
    fetched: Sequence[ServerStatus] | None = None,
) -> None:
    session.last_op = Op.GET_DESTS
    try:
        servers = list(fetched) if fetched is not None else session.ipvs.servers(status.key)
    except IPVSError as exc:
        raise Exit(1, session.message(exc)) from exc
    if save or not fmt.nosort:
        servers = sort_servers(servers)
    if save:
        session.out.lines(fmtmod.save_lines(status, servers, fmt.numeric, resolver))
    else:
        session.out.lines(fmtmod.service_lines(status, servers, fmt, resolver))


def list_service(session: Session, entry: Entry, fmt: ListFormat) -> None:
    """`-L` with a service option: that service only, no version line."""
    session.last_op = Op.GET_SERVICE
    try:
        status = session.ipvs.service(entry.service_key())
    except IPVSError as exc:
        raise Exit(1, session.message(exc)) from exc
    session.out.lines(fmtmod.title_lines(fmt))
    _print_service(session, status, fmt, resolver_for(fmt.numeric), False)


def list_timeouts(session: Session) -> None:
    session.last_op = Op.GET_TIMEOUT
    try:
        timeouts = session.ipvs.timeouts()
    except IPVSError as exc:
        raise Exit(1) from exc  # ipvsadm says nothing here
    session.out.line(fmtmod.timeout_line(timeouts))


def list_daemons(session: Session) -> None:
    session.last_op = Op.GET_DAEMON
    try:
        daemons = session.ipvs.daemons()
    except IPVSError as exc:
        raise Exit(1) from exc  # ipvsadm says nothing here
    session.out.lines(fmtmod.daemon_lines(daemons))
