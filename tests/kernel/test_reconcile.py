"""`ipvs.diff` / `ipvs.apply` and `pyipvs diff` / `apply` against the real
kernel: random live and desired tables converge, a second apply changes
nothing, atomic applies roll back, scopes leave the rest alone. The real
ipvsadm 1.31 checks every result with `ipvsadm -Sn`; the library reads
back what -Sn does not show (thresholds, settings of non-persistent
services)."""

from __future__ import annotations

import ast
import dataclasses
import errno
import io
import ipaddress
import json
import random
import re
import sys

from conftest import Netns, console_script
from reconcile_gen import mutate, random_server, random_service, random_table, save_text

from pyipvs._native import thin_records
from pyipvs.cli.pyipvs import main
from pyipvs.ipvs import IPVS
from pyipvs.model import Server, Service, ServiceFlag, ServiceKey
from pyipvs.reconcile import Action, Scope, Table, loads, make_plan, read_live
from pyipvs.reconcile.records import plan_for, prepare


def table_unchanged(text: bytes, netns: str) -> tuple[int, int] | None:
    """The thin start's verdict (pyipvs/cli/quick_pyipvs.py), from the same
    calls: the numbers of services and servers when the live table is
    exactly the one the save-format text builds, compared as records; None
    when they differ or the text needs the full parser."""
    read_live_records = thin_records.start_live_records(netns)
    want = thin_records.text_records(text)
    live = read_live_records()
    if want is None or not thin_records.same(want, live):
        return None
    return live.sizes()


def build(ipvs: IPVS, table: Table) -> None:
    with ipvs.batch() as b:
        for svc, servers in table.items():
            b.add_service(svc)
            for s in servers:
                b.add_server(svc.key, s)


def test_random_tables_converge_and_a_second_apply_changes_nothing(netns: Netns) -> None:
    seeds = range(10)
    with IPVS(netns.name) as ipvs:
        for seed in seeds:
            rnd = random.Random(seed)
            ipvs.flush()
            live = random_table(rnd, services=10, servers=6)
            build(ipvs, live)
            assert read_live(ipvs) == live, seed
            desired = mutate(live, rnd)
            plan = ipvs.diff(desired, drain=0.01 if seed % 3 == 0 else 0.0)
            assert plan, seed
            result = ipvs.apply(plan)
            assert result.ok, (seed, [(c, r.message) for c, r in result.failures])
            assert read_live(ipvs) == desired, seed
            assert netns.ipvsadm_out("-Sn") == save_text(desired), seed
            # Idempotent: nothing left to do, and doing it changes nothing.
            again = ipvs.diff(desired)
            assert not again, (seed, again.changes)
            assert again.unchanged_services == len(desired)
            assert again.unchanged_servers == desired.server_count()
            assert ipvs.apply(again).results == ()
            assert read_live(ipvs) == desired, seed
        assert netns.ipvsadm_out("-Sn") == save_text(desired)


def _plain(t: Table) -> Table:
    """Without scheduler flags: -b lines are outside the records path."""
    sched = ServiceFlag.SCHED1 | ServiceFlag.SCHED2 | ServiceFlag.SCHED3
    return Table.of((dataclasses.replace(s, flags=s.flags & ~sched), v) for s, v in t.items())


def test_records_path_plans_as_the_model_path_and_converges(netns: Netns) -> None:
    """A save-format file is planned from byte records of the file and of
    the live table (pyipvs.reconcile.records); the plan must be the one the
    model path makes from the same kernel table, and applying it must
    converge."""
    taken = 0
    with IPVS(netns.name) as ipvs:
        for seed in range(12):
            rnd = random.Random(1000 + seed)
            ipvs.flush()
            live = random_table(rnd, services=10, servers=6)
            build(ipvs, live)
            desired = mutate(live, rnd)
            if seed % 4:
                desired = _plain(desired)
            text = save_text(desired)
            want = prepare(text)
            if isinstance(want, Table):
                continue  # -b: the model path's
            taken += 1
            drain = 0.01 if seed % 3 == 0 else 0.0
            plan = plan_for(ipvs, want, drain=drain)
            model = make_plan(read_live(ipvs), loads(text), drain=drain)
            assert [(c.action, c.key, c.new, c.old) for c in plan.changes] == [
                (c.action, c.key, c.new, c.old) for c in model.changes
            ], seed
            assert (plan.unchanged_services, plan.unchanged_servers) == (
                model.unchanged_services,
                model.unchanged_servers,
            )
            # The thin start's verdict (records of the file against the
            # kernel's, as sets) is the planner's, before and after.
            assert (table_unchanged(text.encode(), netns.path) is None) == bool(plan), seed
            assert ipvs.apply(plan).ok, seed
            assert netns.ipvsadm_out("-Sn") == text, seed
            sizes = (len(desired), desired.server_count())
            assert table_unchanged(text.encode(), netns.path) == sizes, seed
            # the file is what -Sn prints: no thresholds, so not `desired` itself
            assert read_live(ipvs) == loads(text), seed
            again = plan_for(ipvs, prepare(text))
            assert not again and again.unchanged_servers == desired.server_count(), seed
    assert taken >= 8


def test_every_setting_is_edited_in_place(netns: Netns) -> None:
    """Scheduler, flags, timeouts, masks, engines, weights, thresholds,
    forwarding and tunnels all change through SET_SERVICE/SET_DEST: the plan
    holds edits only, and the kernel then holds every new setting."""
    rnd = random.Random(7)
    with IPVS(netns.name) as ipvs:
        live = random_table(rnd, services=10, servers=6)
        build(ipvs, live)
        for _ in range(4):
            desired = Table.of(
                (random_service(svc.key, rnd),
                 [random_server(svc.key, s.address, rnd) for s in servers])
                for svc, servers in live.items()
            )  # fmt: skip
            # Same identities (a server's port changes with its forwarding
            # method; keep it, as ipvsadm -e would).
            desired = Table.of(
                (svc, [dataclasses.replace(n, port=o.port) for n, o in
                       zip(servers, live.servers_of(svc.key))])
                for svc, servers in desired.items()
            )  # fmt: skip
            plan = ipvs.diff(desired)
            assert {c.action for c in plan.changes} <= {Action.EDIT_SERVICE, Action.EDIT_SERVER}
            result = ipvs.apply(plan)
            assert result.ok, [(c, r.message) for c, r in result.failures]
            assert read_live(ipvs) == desired
            live = desired


def test_atomic_apply_rolls_back_on_an_injected_failure(netns: Netns) -> None:
    rnd = random.Random(11)
    with IPVS(netns.name) as ipvs:
        live = random_table(rnd, services=10, servers=6)
        build(ipvs, live)
        before = netns.ipvsadm_out("-Sn")
        desired = mutate(live, rnd)
        bad = Service(ServiceKey.tcp("198.18.9.9", 80), scheduler="nosuch")  # no such module
        wanted = Table.of([*desired.items(), (bad, [])])
        plan = ipvs.diff(wanted)
        result = ipvs.apply(plan, atomic=True)
        assert result.rolled_back and not result.ok
        [(change, why)] = result.failures
        assert change.new == bad and why.errno == errno.ENOENT
        assert netns.ipvsadm_out("-Sn") == before
        assert read_live(ipvs) == live
        # Without --atomic the rest is applied and only that service fails.
        result = ipvs.apply(plan)
        assert [c.new for c, _ in result.failures] == [bad]
        assert read_live(ipvs) == desired
        assert netns.ipvsadm_out("-Sn") == save_text(desired)


def test_atomic_apply_with_drain_undoes_both_batches(netns: Netns) -> None:
    rnd = random.Random(12)
    with IPVS(netns.name) as ipvs:
        live = random_table(rnd, services=10, servers=6)
        gone = Service(ServiceKey.tcp("198.18.8.8", 80))
        idle = Server(ipaddress.ip_address("10.1.0.9"), 80, weight=0)
        live = Table.of([*live.items(), (gone, [idle])])
        build(ipvs, live)
        desired = mutate(Table.of(list(live.items())[:-1]), rnd)
        plan = ipvs.diff(desired, drain=0.05)
        assert plan.before_drain and plan.after_drain
        assert any(c.key == gone.key for c in plan.after_drain)
        # Someone else deletes that service between the plan and the apply:
        # its deletion, after the drain, fails.
        ipvs.delete_service(gone.key)
        before = netns.ipvsadm_out("-Sn")
        state = read_live(ipvs)
        result = ipvs.apply(plan, atomic=True)
        assert result.rolled_back and len(result.results) == 2
        assert [c.key for c, _ in result.failures] == [gone.key]
        assert netns.ipvsadm_out("-Sn") == before
        assert read_live(ipvs) == state


def test_scopes_leave_other_services_alone(netns: Netns) -> None:
    rnd = random.Random(21)
    with IPVS(netns.name) as ipvs:
        live = random_table(rnd, services=12, servers=5)
        build(ipvs, live)
        desired = mutate(live, rnd)
        scope = Scope.of(["198.18.0.0/31"], fwmarks=[1])
        plan = ipvs.diff(desired, scope=scope)
        assert ipvs.apply(plan).ok
        now = read_live(ipvs)
        for svc in live.services:
            if not scope.selects(svc.key):
                assert svc in now.services
                assert set(now.servers_of(svc.key)) == set(live.servers_of(svc.key))
        for svc in desired.services:
            if scope.selects(svc.key):
                assert svc in now.services
                assert set(now.servers_of(svc.key)) == set(desired.servers_of(svc.key))
        assert not ipvs.diff(desired, scope=scope)
        assert ipvs.diff(desired)  # outside the scope it still differs
        # --listed: a file naming one service changes only that one.
        svc = now.services[0]
        one = Table.of([(dataclasses.replace(svc, scheduler="nq"), ())])
        assert ipvs.apply(ipvs.diff(one, scope=Scope(listed=True))).ok
        after = read_live(ipvs)
        assert after == Table.of([*one.items(), *list(now.items())[1:]])


def _cli(ns: Netns, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(["pyipvs", "--netns", ns.name, *argv], io.StringIO(stdin), out, err)
    return rc, out.getvalue(), err.getvalue()


def test_cli_diff_and_apply(netns: Netns, tmp_path: object) -> None:
    rnd = random.Random(31)
    with IPVS(netns.name) as ipvs:
        live = random_table(rnd, services=8, servers=4)
        build(ipvs, live)
    desired = mutate(live, rnd)
    path = f"{tmp_path}/desired.rules"
    with open(path, "w") as f:
        f.write(save_text(desired))
    before = netns.ipvsadm_out("-Sn")
    rc, out, err = _cli(netns, "diff", path)
    assert (rc, err) == (1, "") and out and all(line[0] in "+~-" for line in out.splitlines())
    rc, doc, _ = _cli(netns, "diff", "--json", path)
    assert rc == 1 and json.loads(doc)["differ"] is True
    assert len(json.loads(doc)["changes"]) == len(out.splitlines())
    rc, dry, _ = _cli(netns, "apply", "--dry-run", path)
    assert rc == 0 and dry.startswith(out) and "dry run, nothing changed" in dry
    assert netns.ipvsadm_out("-Sn") == before
    rc, out, err = _cli(netns, "apply", "-", stdin=save_text(desired))
    assert (rc, err) == (0, "") and out.startswith("pyipvs apply: applied: services:")
    assert netns.ipvsadm_out("-Sn") == save_text(desired)
    # The thresholds -S does not save came from the live table: set them
    # to the file's (0) by the apply above, so the file and table agree.
    assert _cli(netns, "diff", path) == (0, "", "")
    rc, out, _ = _cli(netns, "apply", "--json", path)
    assert rc == 0 and json.loads(out)["applied"]["add-server"] == 0
    # JSON in, from stdin: `pyipvs list --json` of this table is a desired table.
    rc, listing, _ = _cli(netns, "list", "--json")
    assert rc == 0 and _cli(netns, "diff", "-", stdin=listing)[0] == 0
    # A failing apply: exit 1, the failure named, atomic rolls back.
    rc, out, err = _cli(netns, "apply", "--atomic", "-", stdin="-A -t 198.18.9.9:80 -s nosuch\n")
    assert rc == 1 and "Scheduler or persistence engine not found" in err and "rolled back" in err
    assert netns.ipvsadm_out("-Sn") == save_text(desired)


def _timings(out: str) -> str:
    return re.sub(r"\(read and plan [0-9.]+ s, apply [0-9.]+ s\)", "(...)", out)


def test_console_script_apply_twice_and_diff(netns: Netns, tmp_path: object) -> None:
    # The installed `pyipvs`: the first apply changes the table (full path),
    # the second finds it matching (thin start, quick_pyipvs.py) and says
    # what the full path says then; diff likewise, until the table changes.
    rnd = random.Random(41)
    table = _plain(random_table(rnd, services=9, servers=5))
    path = f"{tmp_path}/ipvs.rules"
    with open(path, "w") as f:
        f.write(save_text(table))
    assert thin_records.text_records(save_text(table).encode()) is not None  # the records path's

    def run(*argv: str) -> tuple[int, str, str]:
        r = netns.run([console_script("pyipvs"), *argv])
        return r.returncode, r.stdout, r.stderr

    rc, first, err = run("apply", path)
    assert (rc, err) == (0, "") and f"services: {len(table)} added" in first
    rc, again, err = run("apply", path)
    assert (rc, err) == (0, "")
    assert f"0 deleted, {len(table)} unchanged; servers: 0 added" in again
    rc, full, _ = _cli(netns, "apply", path)
    assert rc == 0 and _timings(again) == _timings(full)
    assert run("diff", path) == (0, "", "")
    # It was the thin start: no argparse, no planner.
    probe = (
        "import sys; from pyipvs.cli.quick_pyipvs import thin_start;"
        f"rc = thin_start('apply', {path!r}, sys.stdout, sys.stderr);"
        "print(rc, 'argparse' in sys.modules, 'pyipvs.reconcile.plan' in sys.modules)"
    )
    r = netns.run([sys.executable, "-c", probe])
    assert r.returncode == 0 and r.stdout.endswith("\n0 False False\n"), r.stdout + r.stderr
    # A change: diff prints it, apply makes it (both thin starts).
    key = next(k for k, v in table.servers.items() if v)
    server = table.servers_of(key)[0]
    with IPVS(netns.name) as ipvs:
        ipvs.edit_server(key, dataclasses.replace(server, weight=server.weight + 1))
    rc, out, _ = run("diff", path)
    assert rc == 1 and out.startswith("~")
    rc, out, _ = run("apply", path)
    assert rc == 0 and "1 edited" in out
    assert run("diff", path) == (0, "", "")


_THIN_START = """
import io, sys
from pyipvs.cli.quick_pyipvs import thin_start
out, err = io.StringIO(), io.StringIO()
rc = thin_start(sys.argv[1], sys.argv[2], out, err)
loaded = [m for m in ("argparse", "pyipvs.reconcile.plan", "pyipvs.model") if m in sys.modules]
print(repr((rc, out.getvalue(), err.getvalue(), loaded)))
"""


def test_thin_start_applies_what_the_full_path_applies(netns: Netns, tmp_path: object) -> None:
    # `pyipvs diff FILE` and `apply FILE` of a table that differs, as the
    # console script starts them (quick_pyipvs.thin_start: records compared
    # in C, changes sent without the model), against the full path on the
    # same live table: the same output, the same table after; a failing
    # change reported as the full path reports it.
    path = f"{tmp_path}/desired.rules"
    cases = []
    for seed in range(5):
        rnd = random.Random(2000 + seed)
        live = _plain(random_table(rnd, services=8, servers=5))
        cases.append((live, save_text(_plain(mutate(live, rnd)))))
    live = cases[0][0]
    cases.append((live, save_text(live) + "-A -t 198.18.9.9:80 -s nosuch\n"))
    for i, (live, text) in enumerate(cases):
        assert thin_records.text_records(text.encode()) is not None, i  # the records path's
        with open(path, "w") as f:
            f.write(text)
        outcomes = []
        for thin in (True, False):
            with IPVS(netns.name) as ipvs:
                ipvs.flush()
                build(ipvs, live)
            outcome = []
            for command in ("diff", "apply"):
                if thin:
                    r = netns.run([sys.executable, "-c", _THIN_START, command, path])
                    assert r.returncode == 0, r.stderr
                    rc, out, err, loaded = ast.literal_eval(r.stdout)
                    assert rc is not None, (i, command, out, err)  # not handed on
                    if command == "apply" and rc == 0:  # no model, no planner
                        assert loaded == [], (i, loaded)
                else:
                    rc, out, err = _cli(netns, command, path)
                outcome.append((rc, _timings(out), err))
            outcomes.append((outcome, netns.ipvsadm_out("-Sn")))
        assert outcomes[0] == outcomes[1], i
        (diffed, applied), table = outcomes[0]
        assert diffed[0] == 1 and diffed[1], i
        if i < 5:
            assert applied[0] == 0 and table == text, i
        else:
            assert applied[0] == 1 and "Scheduler or persistence engine not found" in applied[2]
