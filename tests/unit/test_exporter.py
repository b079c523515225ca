"""The Prometheus collector on hand-built snapshots: metric names, labels and
values, parsed back with prometheus_client's own parser; caching; error
paths; the HTTP server over a real socket (host only, no IPVS needed)."""

from __future__ import annotations

import ipaddress
import urllib.request
from types import MappingProxyType
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pyipvs.cli.pyipvs_exporter import parse_listen
from pyipvs.errors import IPVSError, IPVSValueError
from pyipvs.exporter import BACKEND_LABELS, IPVSCollector, Reader, registry_for, start_server
from pyipvs.model import (
    Family,
    Forward,
    Server,
    ServerStatus,
    Service,
    ServiceKey,
    ServiceStatus,
    Stats,
)
from pyipvs.snapshot import Snapshot

TCP = ServiceKey.tcp("10.0.0.1", 80)
V6 = ServiceKey.udp("2001:db8::1", 53)
FW4 = ServiceKey.fw(5)
FW6 = ServiceKey.fw(5, Family.INET6)
BIG = 2**40 + 7  # a 64-bit counter value beyond 32 bits


def server(addr: str, port: int, stats: Stats, *, weight: int = 1, act: int = 0) -> ServerStatus:
    s = Server(ipaddress.ip_address(addr), port, Forward.MASQ, weight)
    return ServerStatus(s, act, 2, 1, stats)


def make_snapshot(taken: float = 100.0) -> Snapshot:
    services = (
        ServiceStatus(Service(TCP, "rr"), Stats(3, 10, 8, BIG, 2000, 1, 2, 3, 4, 5)),
        ServiceStatus(Service(V6, "wlc"), Stats(1, 1, 1, 60, 70)),
        ServiceStatus(Service(FW4, "sh"), Stats(2, 0, 0, 0, 0)),
        ServiceStatus(Service(FW6, "sh"), Stats(5, 0, 0, 0, 0)),
    )
    servers = {
        TCP: (
            server("127.0.0.1", 8080, Stats(2, 6, 5, BIG, 1500, 1, 1, 1, 9, 9), weight=3, act=4),
            server("10.0.0.2", 8080, Stats(1, 4, 3, 0, 500)),
        ),
        V6: (server("2001:db8::2", 53, Stats(1, 1, 1, 60, 70)),),
        FW4: (server("10.0.0.3", 0, Stats(2)),),
        FW6: (server("2001:db8::3", 0, Stats(5)),),
    }
    return Snapshot(taken, services, MappingProxyType(servers))


class FakeReader:
    """Stands in for the kernel reads: counts calls, raises on request."""

    def __init__(self, snap: Snapshot | None = None) -> None:
        self.snap = snap or make_snapshot()
        self.calls = 0
        self.fail: dict[str, Exception] = {}

    def _maybe_fail(self, source: str) -> None:
        if source in self.fail:
            raise self.fail[source]

    def table(self) -> Snapshot:
        self.calls += 1
        self._maybe_fail("table")
        return self.snap

    def global_stats(self) -> Stats:
        self._maybe_fail("global")
        return Stats(11, 22, 33, BIG, 55, 1, 2, 3, 4, 5)

    def defense(self) -> dict[str, int]:
        self._maybe_fail("defense")
        return {
            "drop_entry": 2,
            "drop_packet": 0,
            "secure_tcp": 3,
            "amemthresh": 1024,
            "am_droprate": 10,
        }

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 100.5

    def __call__(self) -> float:
        return self.now


def scrape(collector: IPVSCollector) -> dict[str, list[Any]]:
    """name -> samples, from the text exposition parsed back."""
    text = generate_latest(registry_for(collector)).decode()
    out: dict[str, list[Any]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append(s)
    return out


def value(samples: dict[str, list[Any]], name: str, **labels: str) -> float:
    found = [s.value for s in samples[name] if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, samples.get(name))
    return float(found[0])


def collector(reader: FakeReader | None = None, **kw: Any) -> IPVSCollector:
    return IPVSCollector(reader=reader or FakeReader(), clock=kw.pop("clock", Clock()), **kw)  # type: ignore[arg-type]


def test_node_exporter_global_counters_and_kernel_rates() -> None:
    m = scrape(collector())
    assert value(m, "node_ipvs_connections_total") == 11
    assert value(m, "node_ipvs_incoming_packets_total") == 22
    assert value(m, "node_ipvs_outgoing_packets_total") == 33
    assert value(m, "node_ipvs_incoming_bytes_total") == BIG
    assert value(m, "node_ipvs_outgoing_bytes_total") == 55
    assert value(m, "pyipvs_global_connections_per_second") == 1
    assert value(m, "pyipvs_global_outgoing_bytes_per_second") == 5


def test_backend_gauges_use_node_exporter_labels() -> None:
    m = scrape(collector())
    labels = {
        "local_address": "10.0.0.1",
        "local_port": "80",
        "remote_address": "127.0.0.1",
        "remote_port": "8080",
        "proto": "TCP",
        "local_mark": "",
    }
    for s in m["node_ipvs_backend_weight"]:
        assert sorted(s.labels) == sorted(BACKEND_LABELS)
    assert value(m, "node_ipvs_backend_weight", **labels) == 3
    assert value(m, "node_ipvs_backend_connections_active", **labels) == 4
    assert value(m, "node_ipvs_backend_connections_inactive", **labels) == 2
    assert value(m, "pyipvs_backend_connections_persistent", **labels) == 1
    assert value(m, "pyipvs_backend_incoming_bytes_total", **labels) == BIG
    assert value(m, "pyipvs_backend_outgoing_bytes_total", **labels) == 1500
    assert value(m, "pyipvs_backend_incoming_bytes_per_second", **labels) == 9
    # IPv6 addresses in their compressed text, as node_exporter prints net.IP.
    assert (
        value(m, "pyipvs_backend_connections_total", local_address="2001:db8::1", proto="UDP") == 1
    )
    assert len(m["node_ipvs_backend_weight"]) == 5  # FW4 and FW6 differ by remote address


def test_service_metrics_and_fwmark_labels() -> None:
    m = scrape(collector())
    tcp = {"local_address": "10.0.0.1", "local_port": "80", "proto": "TCP", "local_mark": ""}
    assert value(m, "pyipvs_service_connections_total", **tcp) == 3
    assert value(m, "pyipvs_service_incoming_bytes_total", **tcp) == BIG
    assert value(m, "pyipvs_service_connections_per_second", **tcp) == 1
    assert value(m, "pyipvs_service_outgoing_bytes_per_second", **tcp) == 5
    assert value(m, "pyipvs_service_backends", **tcp) == 2
    assert value(m, "pyipvs_service_info", scheduler="rr", family="inet", **tcp) == 1
    # node_exporter's spelling of a fwmark service: no address, port 0,
    # proto FWM, the mark in 8 upper-case hex digits. The IPv4 and IPv6
    # services with mark 5 share every label, so they are summed (2 + 5).
    fw = {"local_address": "", "local_port": "0", "proto": "FWM", "local_mark": "00000005"}
    assert value(m, "pyipvs_service_connections_total", **fw) == 7
    assert value(m, "pyipvs_service_backends", **fw) == 2
    assert len(m["pyipvs_service_info"]) == 4  # the family label keeps them apart
    assert value(m, "pyipvs_services") == 4
    assert value(m, "pyipvs_backends") == 5


def test_counter_types_and_suffixes() -> None:
    text = generate_latest(registry_for(collector())).decode()
    types = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert types["node_ipvs_connections"] == "counter"
    assert types["pyipvs_backend_incoming_bytes"] == "counter"
    assert types["node_ipvs_backend_weight"] == "gauge"
    assert types["pyipvs_service_incoming_bytes_per_second"] == "gauge"


def test_defense_states() -> None:
    m = scrape(collector())
    assert value(m, "pyipvs_defense_mode", strategy="drop_entry") == 2
    assert value(m, "pyipvs_defense_active", strategy="drop_entry") == 1
    assert value(m, "pyipvs_defense_mode", strategy="drop_packet") == 0
    assert value(m, "pyipvs_defense_active", strategy="drop_packet") == 0
    assert value(m, "pyipvs_defense_active", strategy="secure_tcp") == 1
    assert value(m, "pyipvs_defense_amemthresh_pages") == 1024
    assert value(m, "pyipvs_defense_am_droprate") == 10


def test_failing_source_is_reported_not_raised() -> None:
    reader = FakeReader()
    reader.fail["table"] = IPVSError(2, None, "IPVS is gone")
    clock = Clock()
    c = collector(reader, clock=clock, max_age=0)
    m = scrape(c)
    assert value(m, "pyipvs_scrape_success", source="table") == 0
    assert value(m, "pyipvs_scrape_success", source="global") == 1
    assert value(m, "pyipvs_scrape_error", source="table", message="IPVS is gone") == 1
    assert value(m, "pyipvs_scrape_errors_total", source="table") == 1
    assert "pyipvs_service_connections_total" not in m
    assert value(m, "node_ipvs_connections_total") == 11  # the others still served
    m = scrape(c)
    assert value(m, "pyipvs_scrape_errors_total", source="table") == 2
    # Recovery: the next read succeeds and the error series disappears.
    del reader.fail["table"]
    m = scrape(c)
    assert value(m, "pyipvs_scrape_success", source="table") == 1
    assert "pyipvs_scrape_error" not in m
    assert value(m, "pyipvs_scrape_errors_total", source="table") == 2


def test_unexpected_exception_is_contained() -> None:
    reader = FakeReader()
    reader.fail["defense"] = RuntimeError()
    m = scrape(collector(reader))
    assert value(m, "pyipvs_scrape_error", source="defense", message="RuntimeError") == 1
    assert "pyipvs_defense_mode" not in m


def test_cache_reuses_a_young_reading_only() -> None:
    reader, clock = FakeReader(), Clock()
    c = collector(reader, clock=clock, max_age=1.0)
    scrape(c)
    clock.now += 0.9
    m = scrape(c)
    assert reader.calls == 1
    assert value(m, "pyipvs_snapshot_age_seconds") == pytest.approx(1.4)
    clock.now += 0.2
    scrape(c)
    assert reader.calls == 2
    c0 = collector(reader, clock=clock, max_age=0)
    scrape(c0)
    scrape(c0)
    assert reader.calls == 4


def test_reader_reports_a_missing_namespace() -> None:
    with pytest.raises(IPVSValueError, match="no network namespace at /nonexistent/ns"):
        Reader("/nonexistent/ns").table()


def test_http_server_over_a_real_socket() -> None:
    c = collector()
    httpd, thread = start_server(c, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{httpd.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
            text = resp.read().decode()
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"node_ipvs_connections", "node_ipvs_backend_weight", "pyipvs_defense_mode"} <= names


def test_parse_listen() -> None:
    assert parse_listen(":9917") == ("0.0.0.0", 9917)
    assert parse_listen("127.0.0.1:80") == ("127.0.0.1", 80)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    for bad in ("9917", "::1:80", "host:port", "1.2.3.4:70000"):
        with pytest.raises(Exception, match=r"ADDR:PORT|brackets"):
            parse_listen(bad)
