"""Planning (pyipvs.reconcile.plan) and its rendering, on the host: random
live and desired tables, the plan run against an in-memory table that
refuses what the kernel refuses (adding what exists, editing or deleting
what does not)."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "kernel"))

from reconcile_gen import mutate, random_table

from pyipvs.model import Forward, Server, Service, ServiceKey
from pyipvs.reconcile import (
    Action,
    Plan,
    Scope,
    Table,
    make_plan,
    parse_save,
    plan_lines,
)
from pyipvs.reconcile.table import server_id

SEEDS = range(300)


def run(live: Table, plan: Plan) -> Table:
    """Apply `plan` to a copy of `live` as the kernel would, strictly."""
    services = {s.key: s for s in live.services}
    servers = {k: {server_id(s): s for s in live.servers_of(k)} for k in services}
    for c in plan.changes:
        a, k = c.action, c.key
        if a is Action.ADD_SERVICE:
            assert k not in services, f"{k} added twice"
            assert isinstance(c.new, Service)
            services[k], servers[k] = c.new, {}
        elif a is Action.EDIT_SERVICE:
            assert k in services and isinstance(c.new, Service)
            services[k] = c.new
        elif a is Action.DELETE_SERVICE:
            assert k in services
            del services[k], servers[k]
        else:
            assert k in servers, f"server change {a} on a missing service"
            s = c.server
            assert s is not None
            sid = server_id(s)
            if a is Action.ADD_SERVER:
                assert sid not in servers[k]
                servers[k][sid] = s
            elif a is Action.DELETE_SERVER:
                assert servers[k].pop(sid, None) is not None
            else:
                assert sid in servers[k] and isinstance(c.new, Server)
                servers[k][sid] = c.new
    return Table.of((svc, servers[k].values()) for k, svc in services.items())


@pytest.mark.parametrize("drain", [0.0, 5.0])
def test_random_plans_reach_the_desired_table(drain: float) -> None:
    for seed in SEEDS:
        rnd = random.Random(seed)
        live = random_table(rnd)
        desired = mutate(live, rnd)
        plan = make_plan(live, desired, drain=drain)
        assert run(live, plan) == desired, seed
        assert not make_plan(run(live, plan), desired), seed
        assert not make_plan(desired, desired)
        assert bool(plan) == (live != desired), seed


def test_matching_entries_are_never_touched() -> None:
    for seed in SEEDS:
        rnd = random.Random(seed)
        live = random_table(rnd)
        desired = mutate(live, rnd)
        have = {s.key: s for s in live.services}
        want = {s.key: s for s in desired.services}
        for c in make_plan(live, desired).changes:
            if c.action is Action.EDIT_SERVICE:
                assert have[c.key] != want[c.key]
            if c.action is Action.EDIT_SERVER:
                assert c.old != c.new
                assert c.changed_fields()
            if c.action is Action.DELETE_SERVER:
                assert c.key in want  # servers of deleted services go with them
        # Identical services with identical servers produce no change at all.
        same = {
            k for k in have.keys() & want.keys()
            if have[k] == want[k]
            and set(live.servers_of(k)) == set(desired.servers_of(k))
        }  # fmt: skip
        assert not [c for c in make_plan(live, desired).changes if c.key in same]


def test_additions_and_edits_come_before_deletions() -> None:
    order = {
        Action.ADD_SERVICE: 0, Action.ADD_SERVER: 0, Action.EDIT_SERVICE: 0,
        Action.EDIT_SERVER: 0, Action.DRAIN_SERVER: 2, Action.DELETE_SERVER: 3,
        Action.DELETE_SERVICE: 4,
    }  # fmt: skip
    for seed in SEEDS:
        rnd = random.Random(seed)
        live = random_table(rnd)
        plan = make_plan(live, mutate(live, rnd), drain=1.0)
        ranks = [order[c.action] for c in plan.changes]
        assert ranks == sorted(ranks), seed
        for c in plan.changes:
            assert c.after_drain == (c.action in (Action.DELETE_SERVER, Action.DELETE_SERVICE))


def test_drain_zeroes_every_server_that_goes_away() -> None:
    key = ServiceKey.tcp("198.18.0.1", 80)
    gone_key = ServiceKey.tcp("198.18.0.2", 80)
    a = Server(ipaddress.ip_address("10.1.0.1"), 80, weight=3)
    b = Server(ipaddress.ip_address("10.1.0.2"), 80, weight=2)
    z = Server(ipaddress.ip_address("10.1.0.3"), 80, weight=0)
    live = Table.of([(Service(key), [a, b]), (Service(gone_key), [a, z])])
    desired = Table.of([(Service(key), [a])])
    plan = make_plan(live, desired, drain=30)
    assert [(c.action, c.key, c.server) for c in plan.before_drain] == [
        (Action.DRAIN_SERVER, key, dataclasses.replace(b, weight=0)),
        (Action.DRAIN_SERVER, gone_key, dataclasses.replace(a, weight=0)),
    ]
    assert [(c.action, c.key) for c in plan.after_drain] == [
        (Action.DELETE_SERVER, key),
        (Action.DELETE_SERVICE, gone_key),
    ]
    assert plan.drain == 30
    assert [c.action for c in make_plan(live, desired).changes] == [
        Action.DELETE_SERVER,
        Action.DELETE_SERVICE,
    ]
    with pytest.raises(ValueError, match="drain"):
        make_plan(live, desired, drain=-1)


def test_replacing_every_server_adds_first() -> None:
    key = ServiceKey.tcp("198.18.0.1", 80)
    old = [Server(ipaddress.ip_address(f"10.1.0.{i}"), 80) for i in (1, 2)]
    new = [Server(ipaddress.ip_address(f"10.2.0.{i}"), 80) for i in (1, 2)]
    plan = make_plan(Table.of([(Service(key), old)]), Table.of([(Service(key), new)]))
    assert [c.action for c in plan.changes] == [Action.ADD_SERVER] * 2 + [Action.DELETE_SERVER] * 2


def test_server_order_does_not_matter() -> None:
    key = ServiceKey.tcp("198.18.0.1", 80)
    srv = [Server(ipaddress.ip_address(f"10.1.0.{i}"), 80, weight=i) for i in range(1, 6)]
    live = Table.of([(Service(key), srv)])
    for order in (srv[::-1], srv[2:] + srv[:2]):
        plan = make_plan(live, Table.of([(Service(key), order)]))
        assert not plan and plan.unchanged_servers == 5 and plan.unchanged_services == 1


def test_edits_in_place_name_their_fields() -> None:
    key = ServiceKey.tcp("198.18.0.1", 80)
    s = Server(ipaddress.ip_address("10.1.0.1"), 80)
    live = Table.of([(Service(key, "rr"), [s])])
    desired = Table.of(
        [(Service(key, "wrr"), [dataclasses.replace(s, weight=5, forward=Forward.MASQ)])]
    )
    plan = make_plan(live, desired)
    assert [c.action for c in plan.changes] == [Action.EDIT_SERVICE, Action.EDIT_SERVER]
    assert plan_lines(plan) == [
        "~ -E -t 198.18.0.1:80 -s wrr  # scheduler rr -> wrr",
        "~ -e -t 198.18.0.1:80 -r 10.1.0.1:80 -m -w 5  # forward route -> masq, weight 1 -> 5",
    ]


def test_scope_selectors() -> None:
    sc = Scope.of(["198.18.0.0/30", "2001:db8::1"], [80], [3])
    assert sc.selects(ServiceKey.tcp("198.18.0.2", 80))
    assert not sc.selects(ServiceKey.tcp("198.18.0.2", 81))
    assert not sc.selects(ServiceKey.tcp("198.18.0.9", 80))
    assert sc.selects(ServiceKey.udp("2001:db8::1", 80))
    assert sc.selects(ServiceKey.fw(3))
    assert not sc.selects(ServiceKey.fw(4))
    assert not Scope.of(fwmarks=[3]).selects(ServiceKey.tcp("198.18.0.2", 80))
    assert Scope.of(ports=[80]).selects(ServiceKey.tcp("1.2.3.4", 80))
    assert not Scope.of(ports=[80]).selects(ServiceKey.fw(1))
    assert Scope().everything and not Scope.of(listed=True).everything


def test_scoped_plans_leave_the_rest_alone() -> None:
    for seed in SEEDS:
        rnd = random.Random(seed)
        live = random_table(rnd)
        desired = mutate(live, rnd)
        for scope in (Scope.of(["198.18.0.0/31"]), Scope.of(fwmarks=[1, 2]), Scope.of(listed=True)):
            plan = make_plan(live, desired, scope)
            listed = {s.key for s in desired.services}
            for c in plan.changes:
                assert scope.selects(c.key)
                if scope.listed:
                    assert c.key in listed
            after = run(live, plan)
            inside = [s for s in desired.services if scope.selects(s.key)]
            outside = [s for s in live.services if not scope.selects(s.key)]
            if scope.listed:
                outside = [s for s in live.services if s.key not in listed]
            want = Table.of(
                [(s, desired.servers_of(s.key)) for s in inside]
                + [(s, live.servers_of(s.key)) for s in outside]
            )
            assert after == want, (seed, scope)
            assert plan.ignored == len(desired) - len(inside)


def test_plan_text_is_ipvsadm_restore_syntax() -> None:
    # Everything added to an empty table: the lines, markers and comments
    # removed, read back through pyipvsadm's parser, give the table again.
    for seed in range(100):
        desired = random_table(random.Random(seed))
        lines = plan_lines(make_plan(Table(), desired))
        assert all(line.startswith("+ ") for line in lines)
        text = "".join(line[2:].split("  # ")[0] + "\n" for line in lines)
        assert parse_save(text.splitlines(True)) == desired, seed
