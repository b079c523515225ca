"""A table's configuration, without counters: what reconciliation compares
(top layer: pure Python over the model, except `read_live`, which reads
through `pyipvs.ipvs.IPVS`).

`Table` holds services in order and, per service key, its real servers.
The desired table comes from a file (`pyipvs.reconcile.desired`); the live
one from the kernel (`read_live`). Only settings are kept: counters and
connection counts are not configuration and never make two tables differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeAlias

from pyipvs.model import IPAddress, Server, Service, ServiceKey

if TYPE_CHECKING:
    from pyipvs.ipvs import IPVS

#: How the kernel finds a real server inside its service.
ServerId: TypeAlias = tuple[IPAddress, int]

_NO_SERVERS: tuple[Server, ...] = ()


def server_id(server: Server) -> ServerId:
    return (server.address, server.port)


@dataclass(frozen=True, slots=True, eq=False)
class Table:
    """Services (in order) and the real servers of each, settings only."""

    services: tuple[Service, ...] = ()
    servers: Mapping[ServiceKey, tuple[Server, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def servers_of(self, key: ServiceKey) -> tuple[Server, ...]:
        return self.servers.get(key, _NO_SERVERS)

    def items(self) -> Iterator[tuple[Service, tuple[Server, ...]]]:
        servers = self.servers
        for svc in self.services:
            yield svc, servers.get(svc.key, _NO_SERVERS)

    def keys(self) -> list[ServiceKey]:
        return [s.key for s in self.services]

    def server_count(self) -> int:
        return sum(len(v) for v in self.servers.values())

    def __len__(self) -> int:
        return len(self.services)

    def __eq__(self, other: object) -> bool:
        """Same services with the same settings and the same servers, in any order."""
        if not isinstance(other, Table):
            return NotImplemented
        if {s.key: s for s in self.services} != {s.key: s for s in other.services}:
            return False
        return all(
            {server_id(x): x for x in srv} == {server_id(x): x for x in other.servers_of(svc.key)}
            for svc, srv in self.items()
        )

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def of(cls, items: Iterable[tuple[Service, Iterable[Server]]]) -> Table:
        """A table from (service, servers) pairs."""
        services: list[Service] = []
        servers: dict[ServiceKey, tuple[Server, ...]] = {}
        for svc, srv in items:
            services.append(svc)
            servers[svc.key] = tuple(srv)
        return cls(tuple(services), MappingProxyType(servers))


def read_live(ipvs: IPVS, select: Callable[[ServiceKey], bool] | None = None) -> Table:
    """The kernel's table as a `Table`.

    With no `select`, the whole table through `IPVS.snapshot()` (read twice
    over and checked consistent). With one, only the services it selects
    have their servers read: one dump per service is what reading costs,
    so a scoped reconcile of a shared table reads only its own part.
    """
    if select is None:
        snap = ipvs.snapshot()
        return Table(
            tuple(st.service for st in snap.services),
            MappingProxyType({k: tuple(ss.server for ss in v) for k, v in snap.servers.items()}),
        )
    services = tuple(st.service for st in ipvs.services() if select(st.service.key))
    return Table(
        services,
        MappingProxyType({s.key: tuple(ss.server for ss in ipvs.servers(s.key)) for s in services}),
    )
