"""Planning: the ordered changes that turn a live table into a desired one
(top layer: pure Python, no cffi, no kernel; a plan is a value).

What the kernel allows decides the shape of a plan. Checked in the VM
(Debian 6.1, tests/kernel/test_reconcile_edits.py): SET_SERVICE changes
every setting of a service in place (scheduler, including to and from
"none", flags, persistence timeout, netmask, persistence engine), and
SET_DEST every setting of a real server (weight, thresholds, forwarding
method, tunnel type, port and flags). So a service or server is only ever
deleted and added when its identity changes (protocol, address, port or
fwmark of a service; address or port of a server), and then the new one is
added first. Editing in place keeps its connections and counters.

Order, so that traffic keeps flowing:

1. new services, each with its servers;
2. edited services;
3. new servers of kept services, then edited ones;
4. with a drain time, every server that goes away (alone, or with its
   service) set to weight 0, the only step that sends no new connections
   to it while leaving its established ones alone;
5. deleted servers, then deleted services (after the drain wait, if any).

Whatever already matches is left out entirely. Counters are never compared.

Scope: a plan may cover only part of a shared table. Services outside the
scope are neither read for servers, changed nor deleted; desired services
outside it are ignored (and counted).
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from pyipvs.model import Server, Service, ServiceKey

from .delta import (
    ADD_SERVER,
    ADD_SERVICE,
    DELETE_SERVER,
    DELETE_SERVICE,
    EDIT_SERVER,
    EDIT_SERVICE,
    delta,
    diff,
)
from .table import Table

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: What a Side keys and compares by: any hashable value (model objects, bytes).
Ident: TypeAlias = Any


class Action(str, enum.Enum):
    ADD_SERVICE = "add-service"
    EDIT_SERVICE = "edit-service"
    ADD_SERVER = "add-server"
    EDIT_SERVER = "edit-server"
    DRAIN_SERVER = "drain-server"  # weight set to 0; deleted after the wait
    DELETE_SERVER = "delete-server"
    DELETE_SERVICE = "delete-service"


# delta.py names the actions for the thin start, which cannot load enum.
if {a.value for a in Action} != {
    ADD_SERVICE, EDIT_SERVICE, ADD_SERVER, EDIT_SERVER, "drain-server", DELETE_SERVER,
    DELETE_SERVICE,
}:  # fmt: skip
    raise RuntimeError("pyipvs.reconcile.delta's actions differ from Action")

_SERVICE_ACTIONS = (Action.ADD_SERVICE, Action.EDIT_SERVICE, Action.DELETE_SERVICE)


@dataclass(frozen=True, slots=True)
class Change:
    """One step. `new` is what is sent (None for a deletion of a service);
    `old` what the kernel had (None for an addition). For a deleted server
    `new` is None and `old` the server."""

    action: Action
    key: ServiceKey
    new: Service | Server | None = None
    old: Service | Server | None = None
    after_drain: bool = False

    @property
    def is_service(self) -> bool:
        return self.action in _SERVICE_ACTIONS

    @property
    def server(self) -> Server | None:
        s = self.new if self.new is not None else self.old
        return s if isinstance(s, Server) else None

    def changed_fields(self) -> list[tuple[str, object, object]]:
        """(field, old value, new value) for each setting an edit changes."""
        if self.old is None or self.new is None:
            return []
        return [
            (f.name, getattr(self.old, f.name), getattr(self.new, f.name))
            for f in dataclasses.fields(self.new)
            if getattr(self.old, f.name) != getattr(self.new, f.name)
        ]


@dataclass(frozen=True, slots=True)
class Scope:
    """Which services a plan may touch.

    `networks`, `ports`, `fwmarks`: if any is given, only services they
    select: an address service whose address is in one of the networks (if
    networks are given) and whose port is one of the ports (if ports are
    given); a fwmark service whose mark is one of the fwmarks. `listed`:
    only services the desired table lists (live ones it does not list are
    left alone instead of deleted).
    """

    networks: tuple[Network, ...] = ()
    ports: frozenset[int] = frozenset()
    fwmarks: frozenset[int] = frozenset()
    listed: bool = False

    @classmethod
    def of(
        cls, addresses: Iterable[str] = (), ports: Iterable[int] = (),
        fwmarks: Iterable[int] = (), listed: bool = False,
    ) -> Scope:  # fmt: skip
        """From addresses or networks as text ("10.0.0.1", "10.1.0.0/16", "2001:db8::/64")."""
        nets = tuple(ipaddress.ip_network(a, strict=False) for a in addresses)
        return cls(nets, frozenset(ports), frozenset(fwmarks), listed)

    @property
    def everything(self) -> bool:
        return not (self.networks or self.ports or self.fwmarks or self.listed)

    def selects(self, key: ServiceKey) -> bool:
        """Whether the address/port/fwmark selectors (not `listed`) take `key`."""
        if not (self.networks or self.ports or self.fwmarks):
            return True
        if key.fwmark:
            return key.fwmark in self.fwmarks
        if not (self.networks or self.ports):
            return False
        if self.ports and key.port not in self.ports:
            return False
        addr = key.address
        return not self.networks or any(
            addr is not None and addr.version == n.version and addr in n for n in self.networks
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """Ordered changes, and what was found to match already."""

    changes: tuple[Change, ...] = ()
    drain: float = 0.0  # seconds between the drain and the deletions
    scope: Scope = field(default_factory=Scope)
    unchanged_services: int = 0
    unchanged_servers: int = 0
    ignored: int = 0  # desired services outside the scope

    def __len__(self) -> int:
        return len(self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)

    @property
    def before_drain(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if not c.after_drain)

    @property
    def after_drain(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.after_drain)

    def counts(self) -> dict[Action, int]:
        """Changes per action, every action present (0 when none)."""
        out = dict.fromkeys(Action, 0)
        for c in self.changes:
            out[c.action] += 1
        return out


def live_filter(scope: Scope, desired: Table) -> Callable[[ServiceKey], bool] | None:
    """Which live services need reading for this scope (None: all of them)."""
    if scope.everything:
        return None
    if not scope.listed:
        return scope.selects
    wanted = {s.key for s in desired.services}
    return lambda key: key in wanted and scope.selects(key)


class Side:
    """One table as the planner compares it. `services` maps each service's
    identity to its settings, `servers` each real server's identity (which
    includes its service's) to its settings, both in the table's order;
    equal settings mean equal configuration, and both must be hashable, so
    that whole tables are compared with set operations and only what
    differs is looked at one by one. The methods make model objects of
    those few. Two kinds exist: `TableSide` (model objects as their own
    settings) and the byte records of pyipvs.reconcile.records."""

    services: Mapping[Ident, Ident]
    servers: Mapping[Ident, Ident]
    #: Servers left out of `servers` per service identity because they are
    #: known to be the same on both sides (counted as unchanged).
    same: Mapping[Ident, int] = {}

    def service_of(self, server_id: Ident) -> Ident:
        raise NotImplementedError

    def key(self, service_id: Ident) -> ServiceKey:
        raise NotImplementedError

    def service(self, service_id: Ident) -> Service:
        raise NotImplementedError

    def server(self, server_id: Ident) -> Server:
        raise NotImplementedError


class TableSide(Side):
    """A `Table` as a side: ServiceKey and (ServiceKey, address, port) are
    the identities, the frozen model objects their own settings. Made in
    pairs (`table_sides`)."""

    def __init__(self, table: Table, skip: Mapping[ServiceKey, int]) -> None:
        self.services = {s.key: s for s in table.services}
        self.servers = {
            (svc.key, s.address, s.port): s
            for svc, srv in table.items()
            if svc.key not in skip
            for s in srv
        }
        self.same = skip

    def service_of(self, server_id: Ident) -> Ident:
        return server_id[0]

    def key(self, service_id: Ident) -> ServiceKey:
        key: ServiceKey = service_id
        return key

    def service(self, service_id: Ident) -> Service:
        svc: Service = self.services[service_id]
        return svc

    def server(self, server_id: Ident) -> Server:
        srv: Server = self.servers[server_id]
        return srv


def table_sides(live: Table, desired: Table) -> tuple[TableSide, TableSide]:
    """Both tables as sides, leaving out the servers of every service whose
    list is the same in both (hashing model objects costs microseconds
    each; comparing two tuples of them stops at the first difference). The
    kernel lists a service's servers newest first, so a table written in
    the desired order reads back reversed: both orders are checked."""
    same: dict[ServiceKey, int] = {}
    have_all = live.servers
    for svc, want in desired.items():
        have = have_all.get(svc.key)
        if have is not None and len(want) == len(have) and (want == have[::-1] or want == have):
            same[svc.key] = len(want)
    return TableSide(live, same), TableSide(desired, same)


def make_plan(
    live: Table, desired: Table, scope: Scope | None = None, *, drain: float = 0.0
) -> Plan:
    """The changes that make `live` equal `desired` within `scope`."""
    return plan_sides(*table_sides(live, desired), scope, drain=drain)


def _in_scope(
    side: Side, keep: Callable[[Ident], bool]
) -> tuple[dict[Ident, Ident], dict[Ident, Ident]]:
    services = {k: v for k, v in side.services.items() if keep(k)}
    of = side.service_of
    return services, {k: v for k, v in side.servers.items() if of(k) in services}


def plan_sides(live: Side, want: Side, scope: Scope | None = None, *, drain: float = 0.0) -> Plan:
    """The changes that make `live` equal `want` within `scope` (both sides
    of one kind)."""
    if scope is None:
        scope = Scope()
    if drain < 0:
        raise ValueError(f"drain must be a number of seconds >= 0, not {drain!r}")
    ignored = 0
    if scope.everything:
        wsv, wsr = want.services, want.servers
        lsv, lsr = live.services, live.servers
    else:
        selects = scope.selects
        wsv, wsr = _in_scope(want, lambda k: selects(want.key(k)))
        ignored = len(want.services) - len(wsv)
        listed = scope.listed
        lsv, lsr = _in_scope(
            live, lambda k: selects(live.key(k)) and (not listed or k in want.services)
        )
    d = delta(diff(lsv, wsv), diff(lsr, wsr), wsv, want.service_of)
    of, key = want.service_of, want.key
    made: dict[str, Callable[[Ident], Change]] = {
        ADD_SERVICE: lambda k: Change(Action.ADD_SERVICE, key(k), want.service(k)),
        ADD_SERVER: lambda k: Change(Action.ADD_SERVER, key(of(k)), want.server(k)),
        EDIT_SERVICE: lambda k: Change(
            Action.EDIT_SERVICE, key(k), want.service(k), live.service(k)
        ),
        EDIT_SERVER: lambda k: Change(
            Action.EDIT_SERVER, key(of(k)), want.server(k), live.server(k)
        ),
    }
    changes = [made[a](k) for a, k in d.additions()]
    later = drain > 0
    if later:
        removed = set(d.removed)
        targets = [*d.gone, *(k for k in lsr if of(k) in removed)] if removed else d.gone
        for k in targets:
            s = live.server(k)
            if s.weight != 0:
                changes.append(
                    Change(Action.DRAIN_SERVER, key(of(k)), dataclasses.replace(s, weight=0), s)
                )
    for a, k in d.deletions():
        if a == DELETE_SERVER:
            changes.append(Change(Action.DELETE_SERVER, key(of(k)), None, live.server(k), later))
        else:
            changes.append(Change(Action.DELETE_SERVICE, key(k), None, live.service(k), later))
    services, servers = d.unchanged(len(wsv), len(wsr))
    skipped = sum(want.same.get(k, 0) for k in wsv) if want.same else 0
    return Plan(tuple(changes), drain, scope, services, servers + skipped, ignored)
