"""The records path of reconciliation (csrc/records.c through
pyipvs.reconcile.records), on the host: the same plans as the model path,
and every file it must not take handed to the full parser."""

from __future__ import annotations

import dataclasses
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "kernel"))

from reconcile_gen import mutate, random_table, save_text

from pyipvs import _native
from pyipvs._pyipvs_cffi import ffi
from pyipvs.model import SETTABLE_SERVICE_FLAGS, ServiceFlag
from pyipvs.reconcile import DesiredError, Scope, Table, loads, make_plan
from pyipvs.reconcile.plan import plan_sides
from pyipvs.reconcile.records import save_side

_SCHED_FLAGS = ServiceFlag.SCHED1 | ServiceFlag.SCHED2 | ServiceFlag.SCHED3


def _plain(t: Table) -> Table:
    """Without scheduler flags (-b is outside the fast subset)."""
    return Table.of(
        (dataclasses.replace(s, flags=s.flags & ~_SCHED_FLAGS), v) for s, v in t.items()
    )


def _changes(plan):  # type: ignore[no-untyped-def]
    return [(c.action, c.key, c.new, c.old, c.after_drain) for c in plan.changes]


def test_layouts_match_the_header() -> None:
    assert _native.RECORD_SVC_ID == ffi.sizeof("struct pyipvs_svc_id") == 28
    assert ffi.sizeof("struct pyipvs_svc_rec") == 76
    assert ffi.offsetof("struct pyipvs_dest_rec", "fwd_method") == 48
    assert ffi.sizeof("struct pyipvs_dest_rec") == 72
    assert int(_native.records.SETTABLE_SVC_FLAGS) == int(SETTABLE_SERVICE_FLAGS)


def test_random_tables_plan_as_the_model_path_does() -> None:
    taken = 0
    for seed in range(300):
        rnd = random.Random(seed)
        live = random_table(rnd, services=10, servers=6)
        desired = mutate(live, rnd) if rnd.random() < 0.8 else random_table(rnd)
        if seed % 4:
            live, desired = _plain(live), _plain(desired)
        lt, dt = save_text(live), save_text(desired)
        ls, ds = save_side(lt.encode()), save_side(dt.encode())
        if ls is None or ds is None:
            continue  # a line outside the fast subset (e.g. -b); checked below
        taken += 1
        # the records hold what the full parser reads from the same text
        assert {ds.service(k) for k in ds.services} == set(loads(dt, "save").services)
        for drain in (0.0, 3.0):
            want = make_plan(loads(lt, "save"), loads(dt, "save"), drain=drain)
            got = plan_sides(ls, ds, drain=drain)
            assert _changes(got) == _changes(want), seed
            assert (got.unchanged_services, got.unchanged_servers) == (
                want.unchanged_services,
                want.unchanged_servers,
            )
        scope = Scope.of(ports=[80, 443], fwmarks=[1, 2, 3], listed=seed % 2 == 1)
        want = make_plan(loads(lt, "save"), loads(dt, "save"), scope)
        got = plan_sides(ls, ds, scope)
        assert _changes(got) == _changes(want), seed
        assert got.ignored == want.ignored
    assert taken > 150  # the tables without -b are in the fast subset


def test_the_same_table_plans_nothing() -> None:
    text = save_text(_plain(random_table(random.Random(7), services=30, servers=10)))
    side = save_side(text.encode())
    assert side is not None
    plan = plan_sides(save_side(text.encode()) or side, side)
    assert not plan and plan.unchanged_services == 30


A = "-A -t 10.0.0.1:80 -s rr\n"
S = "-a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (A + A, 2),  # a service added twice: EEXIST at line 2
        (S + A, 1),  # a server before its service: ESRCH
        (A + S + S, 3),  # a server added twice
        (A + "-E -t 10.0.0.1:80 -s wlc\n", 2),  # edits are the full parser's
        (A + "-C\n", 2),
        (A + "-Z\n", 2),
        (A + "-a -t 10.0.0.1:80 -r 10.1.0.1 -b sh-port\n", 2),
        ("-A -t 10.0.0.1:80 -s rr\r-s wlc\n", 1),  # a lone CR splits the line for Python
        (A + "--set 1 2 3\n", 2),
        ("-A -t 10.0.0.01:80\n", 1),  # octal to inet_aton
    ],
)
def test_text_outside_the_subset_goes_to_the_full_parser(text: str, line: int) -> None:
    got = _native.restore_records(text.encode())
    assert got == line
    assert save_side(text.encode()) is None


def test_comments_blank_lines_and_crlf_are_taken() -> None:
    text = "# desired\n\n" + A.replace("\n", "\r\n") + "   \n" + S + "#-C\n"
    side = save_side(text.encode())
    assert side is not None
    assert len(side.services) == 1 and len(side.servers) == 1
    assert {side.service(k) for k in side.services} == set(loads(text, "save").services)


def test_errors_keep_the_full_parsers_wording() -> None:
    with pytest.raises(DesiredError) as e:
        loads(A + A, "save")
    assert "line 2" in str(e.value)
