"""The fast way to a plan: both tables as byte records (top layer: typed
Python over the bridge's csrc/records.c).

Planning over model objects costs about a millisecond per real server in
the emulated test VM (building the objects of the file and of the live
table, then comparing them), so a 20,000-server apply spent its time there,
not in the kernel. Here the desired file in ipvsadm save format is scanned
in C by the restore fast path's line parser into records, the live table
is read in C into records of the same layout, and `plan_sides` compares
the two as dicts of bytes; only the entries that differ become model
objects. The plan is the same value `make_plan` computes from `Table`s
(tests/unit/test_reconcile_records.py compares them).

The records path is taken when the file is in save format, the scope is
the whole table, and the C scan takes every line (comments, blank lines,
and -A/-a lines in the fast path's subset that an empty table accepts).
Anything else goes the general way (`loads`, `read_live`, `make_plan`),
which also words every problem: a scoped plan reads only its own services'
servers, and a file with an error gets the full parser's message with its
line number.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pyipvs import _native
from pyipvs.model import Server, Service, ServiceKey

from .desired import loads
from .formats import format_of_name, sniff
from .plan import Ident, Plan, Scope, Side, live_filter, make_plan, plan_sides
from .table import Table, read_live

if TYPE_CHECKING:
    from pyipvs.ipvs import IPVS


class RecordSide(Side):
    """A table as records: identities and settings are bytes."""

    def __init__(self, pairs: tuple[Any, Any]) -> None:
        services, servers = pairs
        self.services = dict(services)
        self.servers = dict(servers)
        self._cut = int(_native.RECORD_SVC_ID)
        self._cache: dict[Any, Any] = {}

    def service_of(self, server_id: Ident) -> Ident:
        return server_id[: self._cut]

    def key(self, service_id: Ident) -> ServiceKey:
        key: ServiceKey = _native.record_key(service_id, self._cache)
        return key

    def service(self, service_id: Ident) -> Service:
        svc: Service = _native.record_service(service_id, self.services[service_id], self._cache)
        return svc

    def server(self, server_id: Ident) -> Server:
        srv: Server = _native.record_server(server_id, self.servers[server_id], self._cache)
        return srv


def save_side(text: bytes) -> RecordSide | None:
    """The table of save-format text as records, or None when the C scan
    does not take all of it (the general path must read it)."""
    got = _native.restore_records(text)
    return None if isinstance(got, int) else RecordSide(got)


def live_side(ipvs: IPVS, retries: int | None = None) -> RecordSide:
    """The live table as records, read consistently (as `IPVS.snapshot`)."""
    from pyipvs.snapshot import DEFAULT_RETRIES, SnapshotInconsistentError

    n = DEFAULT_RETRIES if retries is None else retries
    got = ipvs._call(lambda h: _native.read_records(h, n))
    if got is None:
        raise SnapshotInconsistentError(n + 1)
    return RecordSide(got)


def prepare(
    text: str, fmt: str = "auto", source: str = "<string>", scope: Scope | None = None
) -> RecordSide | Table:
    """The desired table of a file's text (in `fmt`, or sniffed), read and
    checked completely: as records where the records path applies (see the
    module docstring), else as a `Table` (raising DesiredError for every
    problem in it)."""
    scope = scope or Scope()
    if scope.everything and (fmt == "save" or (fmt == "auto" and sniff(text) == "save")):
        want = save_side(text.encode("utf-8", "surrogateescape"))
        if want is not None:
            return want
    return loads(text, fmt, source)


def prepare_file(path: str | os.PathLike[str], fmt: str = "auto",
                 scope: Scope | None = None) -> RecordSide | Table:  # fmt: skip
    """`prepare` for a file (format from its name when `fmt` is "auto")."""
    name = os.fspath(path)
    if fmt == "auto":
        fmt = format_of_name(name)
    with open(name, encoding="utf-8", errors="surrogateescape") as f:
        return prepare(f.read(), fmt, name, scope)


def plan_for(
    ipvs: IPVS, desired: RecordSide | Table, scope: Scope | None = None, *, drain: float = 0.0
) -> Plan:
    """The plan that makes the live table equal `desired` within `scope`:
    records against records, or a `Table` against the live one read as a
    `Table` (only the scope's services)."""
    scope = scope or Scope()
    if isinstance(desired, RecordSide) and scope.everything:
        return plan_sides(live_side(ipvs), desired, scope, drain=drain)
    if isinstance(desired, RecordSide):
        raise ValueError("records are planned against the whole table; use a Table for a scope")
    return make_plan(read_live(ipvs, live_filter(scope, desired)), desired, scope, drain=drain)
