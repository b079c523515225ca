"""Snapshot helpers and rates() on hand-built snapshots (unit tests: pure
logic, no kernel; reading real tables is tests/kernel/test_snapshot.py)."""

from __future__ import annotations

import ipaddress
import pickle
from types import MappingProxyType

import pytest

from pyipvs.errors import IPVSError
from pyipvs.model import Server, ServerStatus, Service, ServiceKey, ServiceStatus, Stats
from pyipvs.snapshot import Rate, Snapshot, SnapshotInconsistentError, poll, rates

A = ServiceKey.tcp("10.0.0.1", 80)
B = ServiceKey.udp("10.0.0.2", 53)
S1 = Server(ipaddress.ip_address("10.1.0.1"), 80)
S2 = Server(ipaddress.ip_address("10.1.0.2"), 80)


def snap(taken: float, table: dict[ServiceKey, tuple[Stats, dict[Server, Stats]]]) -> Snapshot:
    services = tuple(ServiceStatus(Service(k), st) for k, (st, _) in table.items())
    servers = {
        k: tuple(ServerStatus(s, stats=v) for s, v in srv.items()) for k, (_, srv) in table.items()
    }
    return Snapshot(taken, services, MappingProxyType(servers))


def test_helpers() -> None:
    s = snap(1.0, {A: (Stats(), {S1: Stats(), S2: Stats()}), B: (Stats(), {})})
    assert len(s) == 2 and s.server_count() == 2
    assert [st.key for st, _ in s.items()] == [A, B]
    assert [x.server for x in s.servers_of(A)] == [S1, S2]
    assert s.servers_of(ServiceKey.fw(5)) == ()
    status = s.status(B)
    assert status is not None and status.key == B
    assert s.status(ServiceKey.fw(5)) is None
    assert s.attempts == 1


def test_rates_are_deltas_over_elapsed_time() -> None:
    prev = snap(
        10.0, {A: (Stats(10, 100, 50, 10_000, 5_000), {S1: Stats(4, 40, 20, 4_000, 2_000)})}
    )
    cur = snap(
        12.5, {A: (Stats(35, 350, 100, 60_000, 7_500), {S1: Stats(9, 90, 20, 9_000, 2_000)})}
    )
    r = rates(prev, cur)
    assert r.interval == 2.5
    assert r.services[A] == Rate(10.0, 100.0, 20.0, 20_000.0, 1_000.0)
    assert r.server(A, cur.servers_of(A)[0]) == Rate(2.0, 20.0, 0.0, 2_000.0, 0.0)
    assert r.servers[(A, S1.address, S1.port)] == r.server(A, cur.servers_of(A)[0])


def test_kernel_rates_are_not_used() -> None:
    # The estimator's own rates (cps ... outbps in Stats) play no part.
    prev = snap(0.0, {A: (Stats(0, 0, 0, 0, 0, 999, 999, 999, 999, 999), {})})
    cur = snap(1.0, {A: (Stats(1, 0, 0, 0, 0, 5, 5, 5, 5, 5), {})})
    assert rates(prev, cur).services[A] == Rate(1.0, 0.0, 0.0, 0.0, 0.0)


def test_counter_that_went_down_restarted_from_zero() -> None:
    prev = snap(0.0, {A: (Stats(1000, 1000), {S1: Stats(500)})})
    cur = snap(2.0, {A: (Stats(6, 10), {S1: Stats(4)})})
    r = rates(prev, cur)
    assert r.services[A].cps == 3.0 and r.services[A].inpps == 5.0
    assert r.server(A, cur.servers_of(A)[0]) == Rate(2.0)


def test_entries_in_only_one_snapshot_are_left_out() -> None:
    prev = snap(0.0, {A: (Stats(), {S1: Stats()}), B: (Stats(), {})})
    cur = snap(1.0, {A: (Stats(), {S2: Stats()}), ServiceKey.fw(3): (Stats(), {})})
    r = rates(prev, cur)
    assert set(r.services) == {A}
    assert r.servers == {}
    assert r.server(A, cur.servers_of(A)[0]) is None


def test_order_and_elapsed_time_checked() -> None:
    a = snap(5.0, {})
    with pytest.raises(ValueError, match="later snapshot"):
        rates(a, a)
    with pytest.raises(ValueError, match="later snapshot"):
        rates(snap(6.0, {}), a)


def test_inconsistent_error() -> None:
    exc = SnapshotInconsistentError(6)
    assert isinstance(exc, IPVSError) and exc.errno == 11 and exc.attempts == 6
    assert "6 listing attempts" in str(exc)
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is SnapshotInconsistentError and again.attempts == 6


def test_poll_schedule_with_any_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # poll()'s schedule on a fake clock, with a read of our own (read= is how
    # a poller asks for the counters view): ticks at 0, 2, 4; a read that
    # overruns to 7.5 skips the ticks at 6 and the next one lands on 8.
    now = [0.0]
    sleeps: list[float] = []
    cost = iter([0.1, 0.1, 3.5, 0.1])

    def read(ipvs: object, *, retries: int) -> Snapshot:
        assert ipvs == "handle" and retries == 7
        start = now[0]
        now[0] += next(cost)
        return Snapshot(start, (), MappingProxyType({}))

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    monkeypatch.setattr("pyipvs.snapshot.time.monotonic", lambda: now[0])
    monkeypatch.setattr("pyipvs.snapshot.time.sleep", sleep)
    it = poll("handle", 2.0, retries=7, read=read)  # type: ignore[arg-type]
    assert [next(it).taken for _ in range(4)] == [0.0, 2.0, 4.0, 8.0]
    assert sleeps == pytest.approx([1.9, 1.9, 0.5])
