"""The listings pyipvsadm formats in Python: the whole table with names (`-L`,
`-S`), one service (`-L SERVICE`), `--timeout` and `--daemon` (top layer:
the `pyipvsadm` front end).

listing.py picks the listing and imports this module when one of these
runs. Formatting is pyipvs.format's; sorting is pyipvs.sorting's (ipvsadm's
glibc merge sort with its wrap-around compare); names come from
pyipvs.names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from pyipvs import format as fmtmod
from pyipvs.errors import IPVSError, Op
from pyipvs.format import ListFormat
from pyipvs.model import IPAddress, ServerStatus, ServiceKey, ServiceStatus
from pyipvs.names import NumericResolver, Resolver, SystemResolver
from pyipvs.sorting import sort_servers, sort_services

from .entry import Entry
from .outcome import Exit
from .session import Session


def resolver_for(numeric: bool) -> Resolver:
    return NumericResolver() if numeric else SystemResolver()


def list_table(session: Session, fmt: ListFormat, save: bool) -> None:
    """Every service with its servers, after the version line (listing.list_all)."""
    try:
        # ipvsadm's service dump records no operation of its own. The whole
        # table comes in one consistent read (pyipvs.snapshot), not one
        # library call per service, on two threads as the numeric listings'.
        snap = session.ipvs.snapshot(threads=2)
    except IPVSError as exc:
        raise Exit(1, session.message(exc)) from exc
    services = list(snap.services)
    if save or not fmt.nosort:
        services = sort_services(services)
    if not save:
        session.out.lines(fmtmod.title_lines(fmt))
    resolver = resolver_for(fmt.numeric)
    if isinstance(resolver, SystemResolver):
        resolver.prefetch(_addresses(services, snap.servers_of))
    for status in services:
        _print_service(session, status, fmt, resolver, save, snap.servers_of(status.key))


def _addresses(
    services: Sequence[ServiceStatus], servers_of: Callable[[ServiceKey], Sequence[ServerStatus]]
) -> Iterator[IPAddress]:
    """Every address a named listing of these services prints."""
    for status in services:
        if status.key.address is not None:
            yield status.key.address
        for server in servers_of(status.key):
            yield server.server.address


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
    if fetched is None and isinstance(resolver, SystemResolver):  # -L SERVICE
        # (list_table asked for the whole table's names before its first service)
        resolver.prefetch(_addresses([status], lambda _: servers))
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
