"""The exporter's sources, collector and HTTP server (top layer: the kernel
reads of pyipvs.snapshot, pyipvs.globalstats and pyipvs.sysctl behind a
prometheus_client Collector).

One scrape reads three sources, each on its own, so that one failing does
not hide the others: `table` (a consistent snapshot of every service and
real server over netlink), `global` (/proc/net/ip_vs_stats) and `defense`
(the DoS-defense tunables). A failure becomes pyipvs_scrape_success 0,
a pyipvs_scrape_error series carrying the message, and a log warning; the
server keeps serving.

Caching. The kernel copies its counters and recomputes its rates only every
2 s, so two reads within a second of each other mostly return the same
numbers. A reading younger than `max_age` (1 s by default; 0 reads afresh
for every scrape) is served again instead of dumping the table once more:
that coalesces the scrapes of redundant Prometheus servers and concurrent
requests to the threaded HTTP server, and never serves numbers older than
the kernel's own refresh plus that second. Reads are serialised by a lock.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prometheus_client.registry import Collector, CollectorRegistry

from pyipvs import globalstats
from pyipvs.errors import IPVSValueError
from pyipvs.exporter.metrics import DEFENSE_TUNABLES, SOURCES, Reading, reading_families
from pyipvs.ipvs import IPVS, netns_path
from pyipvs.model import Stats
from pyipvs.snapshot import Snapshot, take
from pyipvs.sysctl import Sysctl

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.core import Metric

log = logging.getLogger("pyipvs.exporter")

DEFAULT_MAX_AGE = 1.0


class Reader:
    """Reads the three sources of one namespace (None: the caller's; a name
    means /run/netns/NAME), keeping one IPVS handle open between scrapes and
    reopening it after any failure."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns_path(netns)
        self._ipvs: IPVS | None = None
        self._ino: int | None = None

    def _ns_inode(self) -> int | None:
        if self.netns is None:
            return None
        try:
            return os.stat(self.netns).st_ino
        except OSError:
            raise IPVSValueError(f"no network namespace at {self.netns}") from None

    def table(self) -> Snapshot:
        # An open handle keeps its namespace alive after `ip netns del`, and
        # a namespace re-created under the same name is another one: follow
        # the name, not the handle.
        ino = self._ns_inode()
        if self._ipvs is not None and ino != self._ino:
            self.close()
        try:
            if self._ipvs is None:
                self._ipvs, self._ino = IPVS(self.netns), ino
            return take(self._ipvs)
        except BaseException:
            self.close()
            raise

    def global_stats(self) -> Stats:
        return globalstats.read_global_stats(self.netns).stats

    def defense(self) -> dict[str, int]:
        sysctl = Sysctl(self.netns)
        out: dict[str, int] = {}
        for name in DEFENSE_TUNABLES:
            value = sysctl.get(name)
            if not isinstance(value, int):
                raise IPVSValueError(f"{name}: unexpected value {value!r}")
            out[name] = int(value)
        return out

    def close(self) -> None:
        if self._ipvs is not None:
            self._ipvs.close()
        self._ipvs = self._ino = None


class IPVSCollector(Collector):
    """A prometheus_client collector serving one namespace (see the module
    doc for what and how fresh). `reader` and `clock` are replaceable for
    tests of the caching and error paths."""

    def __init__(
        self,
        netns: str | None = None,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        reader: Reader | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader if reader is not None else Reader(netns)
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Reading | None = None
        self._errors_total = dict.fromkeys(SOURCES, 0)

    def read(self) -> Reading:
        """The last reading if younger than max_age, else a fresh one."""
        with self._lock:
            if self._last is None or not self._clock() - self._last.at < self.max_age:
                self._last = self._read_fresh()
            return self._last

    def _read_fresh(self) -> Reading:
        reads: dict[str, Callable[[], object]] = {
            "table": self.reader.table,
            "global": self.reader.global_stats,
            "defense": self.reader.defense,
        }
        values: dict[str, object] = {}
        errors: dict[str, str] = {}
        durations: dict[str, float] = {}
        for source, read in reads.items():
            start = time.perf_counter()
            try:
                values[source] = read()
            except Exception as e:  # noqa: BLE001 - one failing source must not fail the scrape
                errors[source] = str(e) or type(e).__name__
                self._errors_total[source] += 1
                log.warning("reading %s failed: %s", source, errors[source])
            durations[source] = time.perf_counter() - start
        snap, stats, defense = values.get("table"), values.get("global"), values.get("defense")
        return Reading(
            at=self._clock(),
            snapshot=snap if isinstance(snap, Snapshot) else None,
            global_stats=stats if isinstance(stats, Stats) else None,
            defense=defense if isinstance(defense, dict) else None,
            errors=errors,
            durations=durations,
        )

    def collect(self) -> Iterable[Metric]:
        reading = self.read()
        with self._lock:
            errors_total = dict(self._errors_total)
        return reading_families(reading, self._clock(), errors_total)

    def close(self) -> None:
        with self._lock:
            self.reader.close()


def registry_for(collector: IPVSCollector) -> CollectorRegistry:
    """A registry holding only this collector (no process or GC metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def start_server(
    collector: IPVSCollector, addr: str, port: int
) -> tuple[WSGIServer, threading.Thread]:
    """Serve the metrics on addr:port (any path; /metrics by convention)
    from prometheus_client's threaded WSGI server in a daemon thread. Port
    0 picks a free port: read it back from httpd.server_port."""
    from prometheus_client.exposition import start_wsgi_server

    return start_wsgi_server(port, addr, registry_for(collector))
