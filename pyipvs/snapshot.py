"""Whole-table snapshots, counter rates and polling (top layer: typed Python
over `pyipvs.ipvs.IPVS`).

    from pyipvs import IPVS
    from pyipvs.snapshot import poll, rates

    with IPVS() as ipvs:
        prev = None
        for snap in poll(ipvs, 2.0):
            if prev is not None:
                r = rates(prev, snap)
                for key, rate in r.services.items():
                    print(key, rate.inbps)
            prev = snap

`take(ipvs)` (also `IPVS.snapshot()`) reads every service and every real
server of the namespace, with their 64-bit counters, into one immutable
`Snapshot`:

- `services`: `ServiceStatus` objects in the kernel's dump order;
- `servers`: a read-only mapping from each service's `ServiceKey` to its
  `ServerStatus` objects, in the kernel's order (built per service on first
  access from the raw rows the read returned: a caller that looks at a few
  services does not pay for the model objects of all the others);
- `taken`: `time.monotonic()` when the read finished.

Counters only. `take_counters(ipvs)` does the same read but returns
`Counters`: the service keys plus flat read-only memoryview columns of the
64-bit counters (and the servers' connection counts), with no Python object
per field or per server. It is the cheap way to poll a huge table:
`poll(ipvs, 2.0, read=take_counters)`.

Consistency. The kernel dumps services in one request but real servers one
service at a time, and it sets no "dump interrupted" flag for IPVS, so a
table that changes during the read could yield a mix of states. A snapshot
is only returned when the service list read before the server dumps equals
the one read after them (same services, same order, same settings); a
server dump the kernel had to split into several chunks (it resumes by
index, so a concurrent change could duplicate or skip a server) is not
trusted as it stands. Servers are first asked for in 4 KiB chunks (about
ten servers; far cheaper for the kernel when they fit, csrc/snapshot.c);
a split answer is asked for again in 32 KiB chunks (about 80 servers),
and one split even so is read twice, and the two must match. When the
service lists or those two reads differ, the read is retried, up to
`retries` more times, and then
`SnapshotInconsistentError` (an `IPVSError` with EAGAIN) is raised. A
one-chunk server dump is one pass under the kernel's IPVS mutex, so each
service's server list is exactly the list at one instant during the read;
different services' lists may come from different instants of it (no
kernel interface offers more). A poller's read starts from the service list
the same `IPVS` object's last read ended with, instead of dumping it first
(one service dump per read, not two); the check is the same, over a longer
window. If the table changed between the two reads, the read starts over
as a first read (that is not counted as a retry), and after such misses
the list is left aside for a while (1, 3, 7 ... 31 reads), so a table that
changes between most polls does not pay for the misses. A change sent
through the same `IPVS` object clears the list.

Rates. Every `Stats` already carries the kernel's own estimator rates
(`cps`, `inpps`, `outpps`, `inbps`, `outbps`): exponentially smoothed
averages the kernel refreshes every 2 s. `rates(prev, cur)` instead divides
counter deltas between two snapshots by the time between them: an exact
average over the interval, with no smoothing. The kernel also copies the
counters themselves only every 2 s (when its estimator runs), so intervals
shorter than that give lumpy deltas; poll every 2 s or more. A counter that
went down (zeroed with `ipvsadm -Z`, or a service deleted and re-added) is
taken as restarted from zero, the convention Prometheus uses for counters.
"""

from __future__ import annotations

import ipaddress
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeAlias, TypeVar, overload

from pyipvs import _native
from pyipvs._frozen import constructor
from pyipvs.listing_native import (
    DEFAULT_RETRIES,
    SnapshotInconsistentError,
    check_retries,
    listing_mode,
    numeric_listing,
)
from pyipvs.model import IPAddress, ServerStatus, ServiceKey, ServiceStatus, Stats

if TYPE_CHECKING:
    from pyipvs.ipvs import IPVS

# DEFAULT_RETRIES, SnapshotInconsistentError, listing_mode and numeric_listing
# live in pyipvs.listing_native (all `pyipvsadm -Ln` needs) and are re-exported.
__all__ = [
    "DEFAULT_RETRIES",
    "STATS_FIELDS",
    "Counters",
    "Rate",
    "Rates",
    "ServerId",
    "Snapshot",
    "SnapshotInconsistentError",
    "listing_mode",
    "numeric_listing",
    "poll",
    "rates",
    "take",
    "take_counters",
]

#: A real server's identity inside its service (the kernel's lookup key).
ServerId: TypeAlias = tuple[ServiceKey, IPAddress, int]

_EMPTY: tuple[ServerStatus, ...] = ()
_new_stats = constructor(Stats)  # a poller builds one per row (pyipvs._frozen)


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """The whole IPVS table of one namespace at one moment (see the module doc)."""

    taken: float
    services: tuple[ServiceStatus, ...]
    servers: Mapping[ServiceKey, tuple[ServerStatus, ...]]
    attempts: int = 1
    # Built by the first status() call: hashing a ServiceKey is about 0.5 us
    # on the host, and a poller that never looks a service up by key should
    # not pay for a dict of every service at every poll.
    _by_key: dict[ServiceKey, ServiceStatus] | None = field(init=False, repr=False, default=None)

    def status(self, key: ServiceKey) -> ServiceStatus | None:
        """The service `key` as listed (None if it is not in the table)."""
        by_key = self._by_key
        if by_key is None:
            by_key = {s.service.key: s for s in self.services}
            object.__setattr__(self, "_by_key", by_key)
        return by_key.get(key)

    def servers_of(self, key: ServiceKey) -> tuple[ServerStatus, ...]:
        """The servers of `key` (empty if it has none or is not in the table)."""
        return self.servers.get(key, _EMPTY)

    def items(self) -> Iterator[tuple[ServiceStatus, tuple[ServerStatus, ...]]]:
        """(service, its servers) pairs in the kernel's order."""
        servers = self.servers
        for status in self.services:
            yield status, servers.get(status.service.key, _EMPTY)

    def server_count(self) -> int:
        return sum(len(v) for v in self.servers.values())

    def __len__(self) -> int:
        return len(self.services)


@dataclass(frozen=True, slots=True)
class Rate:
    """Per-second averages of counter deltas over one interval."""

    cps: float = 0.0
    inpps: float = 0.0
    outpps: float = 0.0
    inbps: float = 0.0
    outbps: float = 0.0


@dataclass(frozen=True, slots=True, eq=False)
class Rates:
    """Rates between two snapshots: per service, and per real server keyed by
    (service key, server address, server port)."""

    interval: float
    services: Mapping[ServiceKey, Rate]
    servers: Mapping[ServerId, Rate]

    def server(self, key: ServiceKey, status: ServerStatus) -> Rate | None:
        s = status.server
        return self.servers.get((key, s.address, s.port))


def _delta(cur: int, prev: int) -> int:
    return cur - prev if cur >= prev else cur


def _rate(prev: Stats, cur: Stats, seconds: float) -> Rate:
    return Rate(
        _delta(cur.conns, prev.conns) / seconds,
        _delta(cur.inpkts, prev.inpkts) / seconds,
        _delta(cur.outpkts, prev.outpkts) / seconds,
        _delta(cur.inbytes, prev.inbytes) / seconds,
        _delta(cur.outbytes, prev.outbytes) / seconds,
    )


def rates(prev: Snapshot, cur: Snapshot) -> Rates:
    """Counter deltas from `prev` to `cur` divided by the seconds between
    them. Services and servers missing from either snapshot are left out."""
    seconds = cur.taken - prev.taken
    if not seconds > 0:
        raise ValueError("rates() needs a later snapshot second (cur.taken > prev.taken)")
    before = {s.service.key: s.stats for s in prev.services}
    svc: dict[ServiceKey, Rate] = {}
    srv: dict[ServerId, Rate] = {}
    for status, servers in cur.items():
        key = status.service.key
        old = before.get(key)
        if old is None:
            continue
        svc[key] = _rate(old, status.stats, seconds)
        old_servers = {(s.server.address, s.server.port): s.stats for s in prev.servers_of(key)}
        for s in servers:
            ident = (s.server.address, s.server.port)
            o = old_servers.get(ident)
            if o is not None:
                srv[(key, ident[0], ident[1])] = _rate(o, s.stats, seconds)
    return Rates(seconds, MappingProxyType(svc), MappingProxyType(srv))


def take(ipvs: IPVS, *, retries: int = DEFAULT_RETRIES, threads: int = 1) -> Snapshot:
    """Read the whole table consistently (see the module doc). threads=2
    splits the servers' dumps with a helper thread (tables of 32 services or
    more): for a one-off read, where wall time counts, not for a poller (in
    the emulated test VM with two CPUs, 0.7-1.0x the time for 1.3-1.65x the
    CPU)."""
    check_retries(retries)
    if threads not in (1, 2) or isinstance(threads, bool):
        raise ValueError(f"threads must be 1 or 2, not {threads!r}")
    got = ipvs._call(lambda h: _native.read_table(h, retries, ipvs._memo, threads))
    if got is None:
        raise SnapshotInconsistentError(retries + 1)
    return Snapshot(time.monotonic(), got.services, got.servers, got.attempts)


#: The ten columns of each row of `Counters.service_stats` / `.server_stats`.
STATS_FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes",
                "cps", "inpps", "outpps", "inbps", "outbps")  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class Counters:
    """Counters only, array-backed: what a poller needs without one Python
    object per field (see `take_counters`).

    Every column is a flat, read-only memoryview in native byte order, row
    after row: `service_stats` ('Q', 10 per service, in `STATS_FIELDS` order,
    services in `keys` order), `server_stats` ('Q', 10 per server), and
    `server_conns` ('I', 3 per server: active, inactive, persistent). The
    servers of service i are rows `server_range(i)`. numpy users can wrap a
    column without copying: `np.frombuffer(c.server_stats, np.uint64).reshape(-1, 10)`.
    """

    taken: float
    keys: tuple[ServiceKey, ...]
    service_stats: memoryview
    server_stats: memoryview
    server_conns: memoryview
    server_start: memoryview
    ids: bytes = field(repr=False)
    attempts: int = 1

    def server_range(self, i: int) -> range:
        return range(self.server_start[i], self.server_start[i + 1])

    def server_count(self) -> int:
        return len(self.server_conns) // 3

    def stats(self, column: memoryview, row: int) -> Stats:
        """One row of `service_stats` or `server_stats` as a `Stats`."""
        return _new_stats(*column[row * 10 : row * 10 + 10])

    def server_id(self, row: int) -> tuple[IPAddress, int]:
        """The address and port of server row `row`."""
        raw = self.ids[row * 20 : row * 20 + 20]
        af = int.from_bytes(raw[0:2], sys.byteorder)
        port = int.from_bytes(raw[2:4], sys.byteorder)
        if af == 10:
            return ipaddress.IPv6Address(raw[4:20]), port
        return ipaddress.IPv4Address(raw[4:8]), port


def take_counters(ipvs: IPVS, *, retries: int = DEFAULT_RETRIES) -> Counters:
    """The same consistent read as `take`, kept as columns (see `Counters`)."""
    check_retries(retries)
    got = ipvs._call(lambda h: _native.read_counters(h, retries, ipvs._memo))
    if got is None:
        raise SnapshotInconsistentError(retries + 1)
    return Counters(
        time.monotonic(),
        got.keys,
        memoryview(got.service_stats).cast("Q"),
        memoryview(got.server_stats).cast("Q"),
        memoryview(got.server_conns).cast("I"),
        memoryview(got.server_start).cast("I"),
        got.ids,
        got.attempts,
    )


_R = TypeVar("_R", Snapshot, Counters)


@overload
def poll(ipvs: IPVS, interval: float, *, retries: int = ...) -> Iterator[Snapshot]: ...
@overload
def poll(
    ipvs: IPVS, interval: float, *, retries: int = ..., read: Callable[..., _R]
) -> Iterator[_R]: ...
def poll(
    ipvs: IPVS,
    interval: float,
    *,
    retries: int = DEFAULT_RETRIES,
    read: Callable[..., Snapshot | Counters] = take,
) -> Iterator[Snapshot | Counters]:
    """A snapshot now, then one every `interval` seconds, on a fixed
    schedule: a read that overruns skips the ticks it missed instead of
    bunching up. Runs until the caller stops iterating. read=take_counters
    polls the counters view instead (`Counters`, the cheap way for a huge
    table)."""
    if not interval > 0:
        raise ValueError(f"interval must be a positive number of seconds, not {interval!r}")
    deadline = time.monotonic()
    while True:
        yield read(ipvs, retries=retries)
        deadline += interval
        now = time.monotonic()
        if deadline < now:
            deadline += ((now - deadline) // interval + 1) * interval
        time.sleep(deadline - now)
