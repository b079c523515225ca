"""Prometheus exporter of one namespace's IPVS state (top layer: a
prometheus_client Collector over pyipvs.snapshot, pyipvs.globalstats and
pyipvs.sysctl; needs the optional dependency prometheus_client, installed
with the `exporter` extra).

- `metrics`: pure functions from readings (snapshots, global counters,
  defense tunables) to metric families; names and labels.
- `collector`: the sources, the collector with its cache, the HTTP server.

docs/exporter.md lists every metric, where each rate comes from, and how
fresh the numbers are.
"""

from __future__ import annotations

from pyipvs.exporter.collector import IPVSCollector, Reader, registry_for, start_server
from pyipvs.exporter.metrics import (
    BACKEND_LABELS,
    DEFENSE_STRATEGIES,
    DEFENSE_TUNABLES,
    SERVICE_LABELS,
    SOURCES,
    Reading,
    backend_labels,
    reading_families,
    service_labels,
)

__all__ = [
    "BACKEND_LABELS",
    "DEFENSE_STRATEGIES",
    "DEFENSE_TUNABLES",
    "SERVICE_LABELS",
    "SOURCES",
    "IPVSCollector",
    "Reader",
    "Reading",
    "backend_labels",
    "reading_families",
    "registry_for",
    "service_labels",
    "start_server",
]
