"""Metric families from IPVS readings (top layer: pure functions, model
objects in, prometheus_client metric families out; no kernel access).

Names follow node_exporter's ipvs collector (collector/ipvs_linux.go) where
the two overlap: its five global counters `node_ipvs_*_total` (from
/proc/net/ip_vs_stats) and its three per-backend gauges
`node_ipvs_backend_{connections_active,connections_inactive,weight}` with
the labels local_address, local_port, remote_address, remote_port, proto,
local_mark, valued as node_exporter values them from /proc/net/ip_vs.
What node_exporter lacks (per-service and per-backend counters, rates,
defense states, the scrape's own health) is named `pyipvs_*`.

Every `*_per_second` gauge is the kernel estimator's rate: a smoothed
average the kernel recomputes every 2 s. Nothing here computes deltas;
rates over a chosen window are Prometheus's `rate()` over the counters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from pyipvs.model import Family, ServerStatus, ServiceKey, Stats
from pyipvs.snapshot import Snapshot

MetricFamily: TypeAlias = CounterMetricFamily | GaugeMetricFamily

SOURCES = ("table", "global", "defense")
DEFENSE_STRATEGIES = ("drop_entry", "drop_packet", "secure_tcp")
DEFENSE_TUNABLES = (*DEFENSE_STRATEGIES, "amemthresh", "am_droprate")

SERVICE_LABELS = ["local_address", "local_port", "proto", "local_mark"]
# node_exporter's order (fullIpvsBackendLabels).
BACKEND_LABELS = [
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
]

# (name part, what it counts) of the five counters of a Stats, in field order.
_COUNTERS = (
    ("connections", "connections scheduled"),
    ("incoming_packets", "packets from clients"),
    ("outgoing_packets", "packets to clients"),
    ("incoming_bytes", "bytes from clients"),
    ("outgoing_bytes", "bytes to clients"),
)
# node_exporter's help texts for its global counters.
_NODE_GLOBAL_HELP = (
    "The total number of connections made.",
    "The total number of incoming packets.",
    "The total number of outgoing packets.",
    "The total amount of incoming data.",
    "The total amount of outgoing data.",
)
_RATE = "per second, the kernel estimator's smoothed rate (recomputed every 2 s)"


def _counters(s: Stats) -> tuple[int, ...]:
    return (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes)


def _rates(s: Stats) -> tuple[int, ...]:
    return (s.cps, s.inpps, s.outpps, s.inbps, s.outbps)


def _gauge(name: str, text: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, labels=list(labels))


def _stats_families(prefix: str, what: str, labels: Sequence[str]) -> list[MetricFamily]:
    """Five counters, then five estimator rates, in Stats field order."""
    fams: list[MetricFamily] = [
        CounterMetricFamily(f"{prefix}{name}_total", f"Total {text} {what}.", labels=list(labels))
        for name, text in _COUNTERS
    ]
    fams += [
        _gauge(f"{prefix}{name}_per_second", f"{text.capitalize()} {what}, {_RATE}.", labels)
        for name, text in _COUNTERS
    ]
    return fams


# --- labels ---------------------------------------------------------------------


def service_labels(key: ServiceKey) -> tuple[str, ...]:
    """(local_address, local_port, proto, local_mark) as node_exporter values
    them from /proc/net/ip_vs: a fwmark service has no address, port 0,
    proto FWM and its mark as 8 upper-case hex digits."""
    if key.is_fwmark:
        return ("", "0", "FWM", f"{key.fwmark:08X}")
    return (str(key.address), str(key.port), key.protocol.name, "")


def backend_labels(key: ServiceKey, server: ServerStatus) -> tuple[str, ...]:
    """BACKEND_LABELS' values for one real server of the service `key`."""
    addr, port, proto, mark = service_labels(key)
    s = server.server
    return (addr, port, str(s.address), str(s.port), proto, mark)


def _sum_into(
    rows: dict[tuple[str, ...], list[float]], labels: tuple[str, ...], values: Sequence[float]
) -> None:
    # Two services can share every label (an IPv4 and an IPv6 fwmark service
    # with one mark): node_exporter sums their backends, and so do we, since
    # one exposition must not hold the same series twice.
    row = rows.get(labels)
    if row is None:
        rows[labels] = list(values)
    else:
        for i, v in enumerate(values):
            row[i] += v


def _fill(fams: Sequence[MetricFamily], rows: Mapping[tuple[str, ...], list[float]]) -> None:
    for labels, row in rows.items():
        lv = list(labels)
        for fam, v in zip(fams, row):
            fam.add_metric(lv, v)


# --- the sources' families ---------------------------------------------------------


def table_families(snap: Snapshot) -> list[MetricFamily]:
    """Per-service and per-backend metrics of one snapshot."""
    services: dict[tuple[str, ...], list[float]] = {}
    backends: dict[tuple[str, ...], list[float]] = {}
    info = _gauge(
        "pyipvs_service_info",
        "A virtual service's scheduler and address family (value 1).",
        [*SERVICE_LABELS, "scheduler", "family"],
    )
    for status, servers in snap.items():
        key = status.service.key
        labels = service_labels(key)
        st = status.stats
        _sum_into(services, labels, (*_counters(st), *_rates(st), len(servers)))
        family = "inet6" if key.family is Family.INET6 else "inet"
        info.add_metric([*labels, status.service.scheduler, family], 1)
        for srv in servers:
            s = srv.stats
            values = (srv.active_conns, srv.inact_conns, srv.server.weight, srv.persist_conns)
            _sum_into(backends, backend_labels(key, srv), (*values, *_counters(s), *_rates(s)))

    svc = _stats_families("pyipvs_service_", "of the virtual service", SERVICE_LABELS)
    svc.append(
        _gauge("pyipvs_service_backends", "Real servers of the virtual service.", SERVICE_LABELS)
    )
    _fill(svc, services)
    be: list[MetricFamily] = [
        _gauge(
            "node_ipvs_backend_connections_active",
            "The current active connections by local and remote address.",
            BACKEND_LABELS,
        ),
        _gauge(
            "node_ipvs_backend_connections_inactive",
            "The current inactive connections by local and remote address.",
            BACKEND_LABELS,
        ),
        _gauge(
            "node_ipvs_backend_weight",
            "The current backend weight by local and remote address.",
            BACKEND_LABELS,
        ),
        _gauge(
            "pyipvs_backend_connections_persistent",
            "Persistence templates pointing at the real server.",
            BACKEND_LABELS,
        ),
        *_stats_families("pyipvs_backend_", "of the real server", BACKEND_LABELS),
    ]
    _fill(be, backends)
    totals = [
        GaugeMetricFamily(
            "pyipvs_services", "Virtual services in the table.", value=len(snap.services)
        ),
        GaugeMetricFamily(
            "pyipvs_backends", "Real servers in the table.", value=snap.server_count()
        ),
    ]
    return [*svc, info, *be, *totals]


def global_families(stats: Stats) -> list[MetricFamily]:
    """node_exporter's five global counters, and the kernel's global rates."""
    out: list[MetricFamily] = [
        CounterMetricFamily(f"node_ipvs_{name}_total", text, value=v)
        for (name, _), text, v in zip(_COUNTERS, _NODE_GLOBAL_HELP, _counters(stats))
    ]
    for (name, text), v in zip(_COUNTERS, _rates(stats)):
        help_text = f"{text.capitalize()}, all services, {_RATE}."
        out.append(GaugeMetricFamily(f"pyipvs_global_{name}_per_second", help_text, value=v))
    return out


def defense_families(values: Mapping[str, int]) -> list[MetricFamily]:
    """The DoS-defense modes and the memory threshold that engages them. The
    kernel moves an automatic strategy between 1 (idle) and 2 (engaged) by
    itself when free memory crosses amemthresh."""
    mode = _gauge(
        "pyipvs_defense_mode",
        "DoS-defense strategy mode: 0 off, 1 auto (idle), 2 auto (engaged), 3 always.",
        ["strategy"],
    )
    active = _gauge(
        "pyipvs_defense_active",
        "1 when the DoS-defense strategy acts now (mode 2 or 3).",
        ["strategy"],
    )
    for name in DEFENSE_STRATEGIES:
        if name in values:
            mode.add_metric([name], values[name])
            active.add_metric([name], 1 if values[name] in (2, 3) else 0)
    out: list[MetricFamily] = [mode, active]
    if "amemthresh" in values:
        out.append(
            GaugeMetricFamily(
                "pyipvs_defense_amemthresh_pages",
                "Free-memory threshold, in pages, below which automatic defense modes engage.",
                value=values["amemthresh"],
            )
        )
    if "am_droprate" in values:
        out.append(
            GaugeMetricFamily(
                "pyipvs_defense_am_droprate",
                "In drop_packet mode 3, one new-connection packet in this many is dropped.",
                value=values["am_droprate"],
            )
        )
    return out


# --- one scrape -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """What one read of the sources produced: each source's value, or the
    error that stopped it, and how long it took. `at` is the clock when the
    read finished."""

    at: float
    snapshot: Snapshot | None = None
    global_stats: Stats | None = None
    defense: Mapping[str, int] | None = None
    errors: Mapping[str, str] = field(default_factory=dict)
    durations: Mapping[str, float] = field(default_factory=dict)


def reading_families(r: Reading, now: float, errors_total: Mapping[str, int]) -> list[MetricFamily]:
    """Everything one scrape serves, its own health included. `now` is the
    clock at the scrape (for the snapshot's age); `errors_total` counts the
    failed reads of each source so far."""
    out: list[MetricFamily] = []
    if r.snapshot is not None:
        out += table_families(r.snapshot)
        age = max(0.0, now - r.snapshot.taken)
        out.append(
            GaugeMetricFamily(
                "pyipvs_snapshot_age_seconds",
                "Seconds since the served table snapshot was read.",
                value=age,
            )
        )
    if r.global_stats is not None:
        out += global_families(r.global_stats)
    if r.defense is not None:
        out += defense_families(r.defense)
    ok = _gauge(
        "pyipvs_scrape_success",
        "1 when the source was read, 0 when it failed (see pyipvs_scrape_error).",
        ["source"],
    )
    took = _gauge(
        "pyipvs_scrape_duration_seconds", "Seconds the last read of the source took.", ["source"]
    )
    err = _gauge(
        "pyipvs_scrape_error",
        "The error that stopped the last read of the source (value 1).",
        ["source", "message"],
    )
    count = CounterMetricFamily(
        "pyipvs_scrape_errors_total",
        "Failed reads of the source since the exporter started.",
        labels=["source"],
    )
    for source in SOURCES:
        ok.add_metric([source], 0 if source in r.errors else 1)
        took.add_metric([source], r.durations.get(source, 0.0))
        if source in r.errors:
            err.add_metric([source, r.errors[source]], 1)
        count.add_metric([source], errors_total.get(source, 0))
    return [*out, ok, took, err, count]
