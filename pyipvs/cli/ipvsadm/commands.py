"""Carrying out a checked command through the library (top layer: the
`pyipvsadm` front end).

Each command is one library call. Before it, the session records the
operation the way ipvsadm's library does, so an error is worded as ipvsadm
words it; a failed call prints that text and makes the line fail (-1, exit
status 255), it never stops a restore. Listings live in `listing.py`,
imported when a listing runs: formatting, sorting and name resolution are
start-up cost that a restore or a single change does not need.
"""

from __future__ import annotations

from collections.abc import Callable

from pyipvs.errors import IPVSError, Op

from .entry import Entry
from .matrix import Command
from .options import Opt
from .session import Session


def execute(session: Session, entry: Entry) -> int:
    cmd = entry.command
    if cmd in (Command.LIST, Command.SAVE):
        from .listing import list_all, list_command

    if cmd is Command.LIST:
        list_command(session, entry)
        return 0
    if cmd is Command.SAVE:
        list_all(session, numeric=Opt.NUMERIC in entry.given, save=True)
        return 0
    op, call = _call(session, entry)
    if op is not None:
        session.last_op = op
    try:
        call()
    except IPVSError as exc:
        session.err.line(session.message(exc))
        return -1
    return 0


def _call(session: Session, entry: Entry) -> tuple[Op | None, Callable[[], None]]:
    ipvs = session.ipvs
    cmd = entry.command
    if cmd is Command.FLUSH:
        return None, ipvs.flush  # records no operation in ipvsadm's library
    if cmd is Command.ADD_SERVICE:
        service = entry.service()
        return Op.ADD_SERVICE, lambda: ipvs.add_service(service)
    if cmd is Command.EDIT_SERVICE:
        service = entry.service()
        return Op.UPDATE_SERVICE, lambda: ipvs.edit_service(service)
    if cmd is Command.DELETE_SERVICE:
        key = entry.service_key()
        return Op.DEL_SERVICE, lambda: ipvs.delete_service(key)
    if cmd is Command.ZERO:
        # ipvsadm's library sends no service at all when mark, address and
        # port are all zero (so `-Z -t 0.0.0.0:0` zeroes everything).
        zkey = None if entry.is_null_service() else entry.service_key()
        return Op.ZERO_SERVICE, lambda: ipvs.zero(zkey)
    if cmd in (Command.ADD_SERVER, Command.EDIT_SERVER, Command.DELETE_SERVER):
        key = entry.service_key()
        server = entry.server()
        if cmd is Command.ADD_SERVER:
            return Op.ADD_DEST, lambda: ipvs.add_server(key, server)
        if cmd is Command.EDIT_SERVER:
            return Op.UPDATE_DEST, lambda: ipvs.edit_server(key, server)
        return Op.DEL_DEST, lambda: ipvs.delete_server(key, server)
    if cmd is Command.SET:
        timeouts = entry.timeouts
        return Op.SET_TIMEOUT, lambda: ipvs.set_timeouts(timeouts)
    if cmd is Command.START_DAEMON:
        daemon = entry.daemon()
        return Op.START_DAEMON, lambda: ipvs.start_daemon(daemon)
    if cmd is Command.STOP_DAEMON:
        state, syncid = entry.daemon_state, entry.syncid
        return Op.STOP_DAEMON, lambda: ipvs.stop_daemon(state, syncid)
    raise AssertionError(f"unexpected command {cmd}")
