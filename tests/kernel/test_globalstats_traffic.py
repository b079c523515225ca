"""Global IPVS counters under real traffic through several kinds of service
(kernel tests: run through ci/vm-run.sh).

The namespace-wide totals of /proc/net/ip_vs_stats, read by pyipvs, must
grow with every round of real traffic, equal what the kernel prints there
(decoded here independently), equal the sum of the per-service counters
(every packet IPVS handles is counted once for its real server, once for its
service and once in the totals), and survive the zeroing of one service.
"""

from __future__ import annotations

import time

import stats_table
import traffic
from conftest import Netns

from pyipvs import IPVS
from pyipvs.globalstats import read_global_stats
from pyipvs.model import Stats
from pyipvs.snapshot import Snapshot

FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
RATES = ("cps", "inpps", "outpps", "inbps", "outbps")


def proc_text(ns: Netns) -> list[int]:
    """The ten numbers of /proc/net/ip_vs_stats (totals, then rates), decoded
    here from the kernel's hex, read in-process from inside the namespace."""
    with traffic.inside(ns), open("/proc/thread-self/net/ip_vs_stats") as f:
        lines = f.read().splitlines()
    return [int(x, 16) for x in lines[2].split() + lines[5].split()]


def as_list(s: Stats) -> list[int]:
    return [getattr(s, f) for f in FIELDS + RATES]


def settled_totals(ns: Netns) -> Stats:
    """pyipvs's read of the totals, equal to the kernel's text just before and
    after it and unchanged over one estimator period (2 s)."""
    deadline = time.monotonic() + 20
    last: list[int] | None = None
    while time.monotonic() < deadline:
        before = proc_text(ns)
        mine = read_global_stats(ns.path).stats
        if as_list(mine) == before == proc_text(ns):
            if last is not None and last[:5] == before[:5]:
                return mine
            last = before
            time.sleep(2.2)
    raise AssertionError("the global totals never settled")


def service_sum(snap: Snapshot) -> list[int]:
    return [sum(getattr(s.stats, f) for s in snap.services) for f in FIELDS]


def server_sum(snap: Snapshot) -> list[int]:
    return [sum(getattr(s.stats, f) for _, srvs in snap.items() for s in srvs) for f in FIELDS]


def totals(s: Stats) -> list[int]:
    return [getattr(s, f) for f in FIELDS]


def test_global_counters_grow_and_sum_the_services(netns: Netns) -> None:
    with IPVS(netns.path) as ipvs:
        stats_table.build(ipvs)
        assert totals(read_global_stats(netns.path).stats) == [0] * 5  # fresh namespace

        stats_table.send(netns, 5)
        snap1 = stats_table.settle(ipvs, 5)
        g1 = settled_totals(netns)
        assert all(v > 0 for v in totals(g1)), g1
        assert g1.conns == 4 * 5  # one per TCP handshake and per UDP flow, 4 services
        assert totals(g1) == service_sum(snap1) == server_sum(snap1)

        stats_table.send(netns, 5)
        snap2 = stats_table.settle(ipvs, 10)
        g2 = settled_totals(netns)
        assert g2.conns == 4 * 10
        assert all(b > a for a, b in zip(totals(g1), totals(g2))), (g1, g2)
        assert totals(g2) == service_sum(snap2) == server_sum(snap2)

        # Zeroing one service leaves the namespace's totals alone.
        ipvs.zero(stats_table.WEB)
        assert totals(read_global_stats(netns.path).stats) == totals(g2)
        assert proc_text(netns)[:5] == totals(g2)

        # Nothing was zeroed globally, so the raw per-CPU rows still sum to them.
        per_cpu = read_global_stats(netns.path, per_cpu=True)
        assert totals(per_cpu.stats) == totals(g2)
        sums = [sum(getattr(c, f) for c in per_cpu.per_cpu) for f in FIELDS]
        assert sums == totals(g2)
