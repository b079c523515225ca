"""Live connection counts per real server, from netlink (top layer: typed
Python over `pyipvs.ipvs`).

"How many connections does each real server have?" does not need the
connection table. The kernel keeps three live counters on every real server
(active entries, inactive entries, persistence templates) and returns them
in the destination dump, so the answer costs one service dump plus one
destination dump per service, whatever the size of the table; reading
/proc/net/ip_vs_conn instead costs time linear in the table (quadratic in
the kernel before ~6.14). pyipvs uses this source for that question
(`pyipvs conns --by server --live`).

The kernel counts an entry as active while its protocol state says so (TCP
ESTABLISHED; UDP and other protocols count as inactive on 6.x kernels),
and per real server of a service: a server shared by two services appears
once per service.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyipvs.ipvs import IPVS
from pyipvs.model import Forward, IPAddress, ServiceKey


@dataclass(frozen=True, slots=True)
class ServerConns:
    """One real server of one service, with the kernel's live counts."""

    service: ServiceKey
    address: IPAddress
    port: int
    forward: Forward
    active: int
    inactive: int
    persistent: int  # persistence templates pointing at this server

    @property
    def connections(self) -> int:
        """Entries that are connections (templates excluded)."""
        return self.active + self.inactive


def server_connections(netns: str | None = None) -> list[ServerConns]:
    """Every real server of every service with its live counts, in the
    kernel's order. `netns`: as for `IPVS` (a name or a path)."""
    out: list[ServerConns] = []
    with IPVS(netns) as ipvs:
        for status in ipvs.services():
            for s in ipvs.servers(status.key):
                srv = s.server
                out.append(ServerConns(status.key, srv.address, srv.port, srv.forward,
                                       s.active_conns, s.inact_conns, s.persist_conns))  # fmt: skip
    return out
