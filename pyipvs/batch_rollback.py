"""Snapshots and rollback for atomic batches (top layer: typed Python over
`pyipvs._native`).

A snapshot holds the configuration of exactly what a batch touches: the
services it names (present or absent) with all their real servers, every
service when the batch flushes, and the timeouts when it sets them. Rolling
back reads that part of the table again, sends the difference as one more
batch (delete what is new, re-create what is gone, edit what changed), and
reads it back once more: the rollback is done only when the table equals the
snapshot. Otherwise `RollbackError` says what still differs, so nobody has
to guess what state the table was left in.

Counters, rates and connection counts are not configuration: they are
neither compared nor restored (a re-created service starts from zero; a
re-added server may revive from the kernel's trash with its old counters).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from dataclasses import dataclass

from pyipvs import _native
from pyipvs.errors import IPVSError
from pyipvs.model import (
    Family,
    IPAddress,
    Protocol,
    Server,
    Service,
    ServiceKey,
    Timeouts,
)

ServerId = tuple[IPAddress, int]  # (address, port): how the kernel finds a server


@dataclass(frozen=True, slots=True)
class TableState:
    """Services (key -> settings) and their servers, for one set of keys."""

    services: dict[ServiceKey, Service]
    servers: dict[ServiceKey, dict[ServerId, Server]]
    timeouts: Timeouts | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    keys: frozenset[ServiceKey]  # touched services, present or not
    everything: bool  # the batch flushes: every service counts
    state: TableState


class RollbackError(IPVSError):
    """An atomic batch failed and its rollback did not restore the table.

    `differences` lists, in ipvsadm's terms, what still differs from the
    state before the batch.
    """

    def __init__(self, reason: str, differences: list[str]) -> None:
        shown = "; ".join(differences[:10])
        more = f" (and {len(differences) - 10} more)" if len(differences) > 10 else ""
        super().__init__(
            errno.EIO,
            None,
            f"rollback failed ({reason}): the table is not as it was before the batch; "
            f"{len(differences)} differences remain: {shown}{more}",
        )
        self.differences = differences


def _read(
    h: _native.Handle, keys: Iterable[ServiceKey], everything: bool, timeouts: bool
) -> TableState:
    present = {s.key: s.service for s in h.services()}
    wanted = set(present) if everything else set(keys)
    services = {k: v for k, v in present.items() if k in wanted}
    servers = {
        k: {(s.server.address, s.server.port): s.server for s in h.servers(k)} for k in services
    }
    return TableState(services, servers, h.timeouts() if timeouts else None)


def take_snapshot(
    h: _native.Handle, keys: Iterable[ServiceKey], everything: bool, timeouts: bool
) -> Snapshot:
    keys = frozenset(keys)
    return Snapshot(keys, everything, _read(h, keys, everything, timeouts))


def describe_key(key: ServiceKey) -> str:
    if key.fwmark:
        return f"-f {key.fwmark}" + (" -6" if key.family == Family.INET6 else "")
    flag = {Protocol.TCP: "-t", Protocol.UDP: "-u", Protocol.SCTP: "--sctp-service"}.get(
        key.protocol, f"protocol {int(key.protocol)}"
    )
    host = f"[{key.address}]" if key.family == Family.INET6 else str(key.address)
    return f"{flag} {host}:{key.port}"


def _describe_server(key: ServiceKey, sid: ServerId) -> str:
    addr, port = sid
    host = f"[{addr}]" if ":" in str(addr) else str(addr)
    return f"{describe_key(key)} -r {host}:{port}"


def differences(want: TableState, have: TableState) -> list[str]:
    out = []
    for key in sorted(set(want.services) | set(have.services), key=str):
        w, h = want.services.get(key), have.services.get(key)
        if w is None:
            out.append(f"service {describe_key(key)} should not exist")
            continue
        if h is None:
            out.append(f"service {describe_key(key)} is missing")
            continue
        if w != h:
            out.append(f"service {describe_key(key)} has other settings")
        ws, hs = want.servers.get(key, {}), have.servers.get(key, {})
        for sid in ws.keys() - hs.keys():
            out.append(f"server {_describe_server(key, sid)} is missing")
        for sid in hs.keys() - ws.keys():
            out.append(f"server {_describe_server(key, sid)} should not exist")
        for sid in ws.keys() & hs.keys():
            if ws[sid] != hs[sid]:
                out.append(f"server {_describe_server(key, sid)} has other settings")
    if want.timeouts is not None and want.timeouts != have.timeouts:
        out.append(f"timeouts are {have.timeouts}, not {want.timeouts}")
    return out


def _fix(want: TableState, have: TableState) -> _native.Batch:
    """The commands that turn `have` into `want` (deletions first)."""
    nb = _native.Batch()
    for key in have.services.keys() - want.services.keys():
        nb.service(_native.CMD_DEL_SERVICE, key)
    for key, svc in want.services.items():
        cur = have.services.get(key)
        if cur is None:
            nb.service(_native.CMD_NEW_SERVICE, svc)
        elif cur != svc:
            nb.service(_native.CMD_SET_SERVICE, svc)
        ws = want.servers.get(key, {})
        hs = have.servers.get(key, {}) if cur is not None else {}
        for sid in hs.keys() - ws.keys():
            nb.dest(_native.CMD_DEL_DEST, key, hs[sid])
        for sid, server in ws.items():
            if sid not in hs:
                nb.dest(_native.CMD_NEW_DEST, key, server)
            elif hs[sid] != server:
                nb.dest(_native.CMD_SET_DEST, key, server)
    if want.timeouts is not None and want.timeouts != have.timeouts:
        nb.timeouts(want.timeouts)
    return nb


def rollback(h: _native.Handle, snap: Snapshot, attempts: int = 3) -> None:
    """Put the snapshot's part of the table back; verify by reading it back."""
    want = snap.state
    timeouts = want.timeouts is not None
    failures: list[str] = []
    for _ in range(attempts):
        have = _read(h, snap.keys, snap.everything, timeouts)
        if not differences(want, have):
            return
        nb = _fix(want, have)
        try:
            r = nb.apply(h, 0, len(nb))
            if r.err:
                raise _native._error(r.err, None)
            states, errs, _ = nb.results(0, len(nb))
            failures = [f"errno {e}" for s, e in zip(states, errs) if s == _native.BATCH_FAILED]
        finally:
            nb.close()
    have = _read(h, snap.keys, snap.everything, timeouts)
    diff = differences(want, have)
    if diff:
        reason = (
            f"{len(failures)} corrective commands failed" if failures else "the table kept changing"
        )
        raise RollbackError(reason, diff)
