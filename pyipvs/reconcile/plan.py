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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pyipvs.model import Server, Service, ServiceKey

from .table import Table, server_id

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Action(str, enum.Enum):
    ADD_SERVICE = "add-service"
    EDIT_SERVICE = "edit-service"
    ADD_SERVER = "add-server"
    EDIT_SERVER = "edit-server"
    DRAIN_SERVER = "drain-server"  # weight set to 0; deleted after the wait
    DELETE_SERVER = "delete-server"
    DELETE_SERVICE = "delete-service"


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


def _same_servers(want: tuple[Server, ...], have: tuple[Server, ...]) -> bool:
    # The kernel lists a service's servers newest first, so a table written
    # in the desired order reads back reversed; that and the same order are
    # checked at C speed before any per-server work.
    return len(want) == len(have) and (want == have[::-1] or want == have)


def make_plan(
    live: Table, desired: Table, scope: Scope | None = None, *, drain: float = 0.0
) -> Plan:
    """The changes that make `live` equal `desired` within `scope`."""
    if scope is None:
        scope = Scope()
    if drain < 0:
        raise ValueError(f"drain must be a number of seconds >= 0, not {drain!r}")
    selects = scope.selects
    wanted = {s.key for s in desired.services}
    live_services = {
        s.key: s for s in live.services if selects(s.key) and (not scope.listed or s.key in wanted)
    }
    added: list[Change] = []
    edited: list[Change] = []
    new_servers: list[Change] = []
    edited_servers: list[Change] = []
    gone: list[tuple[ServiceKey, Server]] = []
    same_services = same_servers = ignored = 0
    for svc, want in desired.items():
        key = svc.key
        if not selects(key):
            ignored += 1
            continue
        cur = live_services.get(key)
        if cur is None:
            added.append(Change(Action.ADD_SERVICE, key, svc))
            added.extend(Change(Action.ADD_SERVER, key, s) for s in want)
            continue
        if cur != svc:
            edited.append(Change(Action.EDIT_SERVICE, key, svc, cur))
        else:
            same_services += 1
        have = live.servers_of(key)
        if _same_servers(want, have):
            same_servers += len(want)
            continue
        by_id = {server_id(s): s for s in have}
        for s in want:
            old = by_id.pop(server_id(s), None)
            if old is None:
                new_servers.append(Change(Action.ADD_SERVER, key, s))
            elif old != s:
                edited_servers.append(Change(Action.EDIT_SERVER, key, s, old))
            else:
                same_servers += 1
        gone.extend((key, s) for s in by_id.values())
    removed = [k for k in live_services if k not in wanted]

    drains: list[Change] = []
    later = drain > 0
    if later:
        targets = [*gone, *((k, s) for k in removed for s in live.servers_of(k))]
        drains = [
            Change(Action.DRAIN_SERVER, k, dataclasses.replace(s, weight=0), s)
            for k, s in targets
            if s.weight != 0
        ]
    deletions = [Change(Action.DELETE_SERVER, k, None, s, later) for k, s in gone]
    deletions += [Change(Action.DELETE_SERVICE, k, None, live_services[k], later) for k in removed]
    changes = (*added, *edited, *new_servers, *edited_servers, *drains, *deletions)
    return Plan(changes, drain, scope, same_services, same_servers, ignored)
