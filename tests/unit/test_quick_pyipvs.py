"""The `pyipvs` console script's thin start (pyipvs/cli/quick_pyipvs.py) on
the host: which command lines and files it takes, that its verdict "the
live table already matches" is the planner's "nothing to do", and that it
prints what the full path prints then. The live side is stood in by the
records of a second text; against the real kernel: kernel
test_reconcile.py.
"""

from __future__ import annotations

import errno
import io
import os
import random
import re
import sys
from pathlib import Path

import pytest

from pyipvs import _native
from pyipvs._native import thin_records
from pyipvs._native.thin_records import DEST_ID
from pyipvs.cli import quick_pyipvs
from pyipvs.reconcile import (
    Action,
    Plan,
    RecordSide,
    Scope,
    change_line,
    plan_lines,
    plan_sides,
    summary,
)
from pyipvs.reconcile.delta import diff

# The benchmarks' table generator, from the checkout (appended: the pyipvs
# under test stays the installed one in ci/test.sh).
sys.path.append(os.path.join(os.path.dirname(__file__), "..", ".."))
from benchmarks.gen_rules import restore_text, rules

BASE = restore_text(rules(12, 3, seed=7))
LINES = BASE.splitlines()


def _reordered() -> str:
    """The same table, services and the servers of each in reverse order."""
    blocks: list[list[str]] = []
    for line in LINES:
        if line.startswith("-A"):
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return "".join(f"{b[0]}\n" + "".join(f"{x}\n" for x in reversed(b[1:])) for b in blocks[::-1])


REORDERED = _reordered()


def _variants() -> list[tuple[str, str]]:
    """(name, text) pairs: the base table and tables that differ from it in
    one thing each, or only in order and spelling the records ignore."""
    svc = next(i for i, line in enumerate(LINES) if line.startswith("-A") and "-p" not in line)
    dest = next(i for i, line in enumerate(LINES) if line.startswith("-a") and "-w" in line)
    out = [("same", BASE), ("reordered", REORDERED)]
    out.append(("comments", "# saved\n\n" + BASE))
    w = LINES[dest].rsplit("-w ", 1)
    out.append(("weight", _swap(dest, f"{w[0]}-w {int(w[1].split()[0]) + 1}")))
    sched = LINES[svc].replace(" -s ", " -s sh -x ").split(" -x ")[0]
    out.append(("scheduler", _swap(svc, sched if sched != LINES[svc] else LINES[svc] + " -p")))
    out.append(("persistence", _swap(svc, LINES[svc] + " -p 77")))
    out.append(("server gone", "\n".join(LINES[:dest] + LINES[dest + 1 :]) + "\n"))
    added = LINES[dest].replace(" -r 10.0.0.1:80 ", " -r 10.9.9.9:80 ")
    assert added != LINES[dest]
    out.append(("server added", BASE + added + "\n"))
    out.append(("service added", BASE + "-A -u 10.77.0.1:53 -s rr\n"))
    out.append(("empty", ""))
    return out


def _swap(i: int, line: str) -> str:
    return "\n".join([*LINES[:i], line, *LINES[i + 1 :]]) + "\n"


VARIANTS = _variants()


@pytest.mark.parametrize("live", [name for name, _ in VARIANTS])
@pytest.mark.parametrize("want", [name for name, _ in VARIANTS])
def test_unchanged_is_the_planners_nothing_to_do(live: str, want: str) -> None:
    texts = dict(VARIANTS)
    a, b = texts[live].encode(), texts[want].encode()
    ra, rb = thin_records.text_records(a), thin_records.text_records(b)
    assert ra is not None and rb is not None
    plan = plan_sides(
        RecordSide(_native.restore_records(a)), RecordSide(_native.restore_records(b)), Scope()
    )
    assert thin_records.same(ra, rb) == (not plan), (live, want)


def test_a_text_for_the_full_parser_has_no_records() -> None:
    assert thin_records.text_records(b"-A --tcp-service 10.0.0.1:80\n") is None


def _stand_in(monkeypatch: pytest.MonkeyPatch, live: str) -> None:
    """The live table stood in by the records of a text."""

    def start(netns: object = None) -> object:
        return lambda: thin_records.text_records(live.encode())

    monkeypatch.setattr(thin_records, "start_live_records", start)


@pytest.fixture
def rules_file(tmp_path: Path) -> str:
    path = tmp_path / "ipvs.rules"
    path.write_text(BASE)
    return str(path)


def test_apply_prints_the_full_paths_summary(
    monkeypatch: pytest.MonkeyPatch, rules_file: str
) -> None:
    _stand_in(monkeypatch, REORDERED)
    out = io.StringIO()
    assert quick_pyipvs.thin_start("apply", rules_file, out, io.StringIO()) == 0
    records = RecordSide(_native.restore_records(BASE.encode()))
    plan = plan_sides(records, records, Scope())
    line = summary(plan, dict.fromkeys(Action, 0))
    assert out.getvalue().startswith(f"pyipvs apply: applied: {line} (read and plan ")
    assert out.getvalue().endswith(" s, apply 0.000 s)\n")
    assert "services: 0 added, 0 edited, 0 deleted, 12 unchanged; servers: 0 added" in line


def test_diff_of_a_matching_table_is_silent(
    monkeypatch: pytest.MonkeyPatch, rules_file: str
) -> None:
    _stand_in(monkeypatch, BASE)
    out = io.StringIO()
    assert quick_pyipvs.thin_start("diff", rules_file, out, io.StringIO()) == 0
    assert out.getvalue() == ""


def test_what_it_leaves_to_the_full_path(
    monkeypatch: pytest.MonkeyPatch, rules_file: str, tmp_path: Path
) -> None:
    out = io.StringIO()
    _stand_in(monkeypatch, BASE)
    for name, text in (("t.json", "[]"), ("t.yaml", BASE), ("t.rules", "services: []\n")):
        path = tmp_path / name
        path.write_text(text)
        assert quick_pyipvs.thin_start("apply", str(path), out, out) is None  # not a save file
    assert quick_pyipvs.thin_start("apply", "-", out, out) is None  # stdin
    assert quick_pyipvs.thin_start("apply", str(tmp_path / "missing"), out, out) is None

    def no_ipvs(netns: object = None) -> None:
        raise OSError(97, "stand-in")

    monkeypatch.setattr(thin_records, "start_live_records", no_ipvs)
    assert quick_pyipvs.thin_start("apply", rules_file, out, out) is None
    assert out.getvalue() == ""


@pytest.mark.parametrize("seed", range(5))
def test_diff_of_tables_that_differ_prints_the_plan(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seed: int
) -> None:
    rnd = random.Random(200 + seed)
    have, want = _random_text(rnd), _random_text(rnd)
    path = tmp_path / "ipvs.rules"
    path.write_text(want)
    _stand_in(monkeypatch, have)
    out = io.StringIO()
    assert quick_pyipvs.thin_start("diff", str(path), out, out) == 1
    lines = plan_lines(_plan(have, want))
    assert lines and out.getvalue() == "\n".join(lines) + "\n"


def test_a_cut_short_apply_is_left_to_the_full_path(
    monkeypatch: pytest.MonkeyPatch, rules_file: str
) -> None:
    # A transport failure or a stall while sending: the full path reads the
    # table again and plans what is left.
    _stand_in(monkeypatch, dict(VARIANTS)["server gone"])
    out = io.StringIO()

    def timed_out(changes: list[tuple[int, bytes]], netns: object = None) -> object:
        n = len(changes)
        return bytes([_native.BATCH_UNKNOWN] * n), [0] * n, bytes(n), errno.ETIMEDOUT

    def stalled(changes: list[tuple[int, bytes]], netns: object = None) -> object:
        raise OSError(errno.ETIMEDOUT, "IPVS did not answer in time")

    for stand_in in (timed_out, stalled):
        monkeypatch.setattr(thin_records, "apply_records", stand_in)
        assert quick_pyipvs.thin_start("apply", rules_file, out, out) is None
    assert out.getvalue() == ""


def _sent(monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None) -> list[tuple[int, bytes]]:
    """Stand in for the kernel's side of apply_records: the changes sent
    are kept; the one at fail_at fails with ENOENT."""
    got: list[tuple[int, bytes]] = []

    def apply_records(changes: list[tuple[int, bytes]], netns: object = None) -> object:
        got.extend(changes)
        if fail_at is None:
            return None
        n = len(changes)
        states = [_native.BATCH_OK] * n
        errs = [0] * n
        states[fail_at], errs[fail_at] = _native.BATCH_FAILED, errno.ENOENT
        return bytes(states), errs, bytes(c for c, _ in changes), 0

    monkeypatch.setattr(thin_records, "apply_records", apply_records)
    return got


def _timings(text: str) -> str:
    return re.sub(r"\(read and plan [0-9.]+ s, apply [0-9.]+ s\)", "(...)", text)


def _plan(live: str, want: str) -> Plan:
    return plan_sides(
        RecordSide(_native.restore_records(live.encode())),
        RecordSide(_native.restore_records(want.encode())),
        Scope(),
    )


@pytest.mark.parametrize("live", [name for name, _ in VARIANTS if name != "same"])
@pytest.mark.parametrize("backwards", [False, True])
def test_apply_sends_the_plans_changes_in_its_order(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, live: str, backwards: bool
) -> None:
    texts = dict(VARIANTS)
    have, want = (BASE, texts[live]) if backwards else (texts[live], BASE)
    sent = _check_sent(monkeypatch, tmp_path, have, want)
    if live in ("reordered", "comments"):
        assert not sent


@pytest.mark.parametrize("seed", range(20))
def test_apply_of_random_tables_sends_the_plans_changes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seed: int
) -> None:
    rnd = random.Random(100 + seed)
    assert _check_sent(monkeypatch, tmp_path, _random_text(rnd), _random_text(rnd))


def _check_sent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, have: str, want: str
) -> list[tuple[int, bytes]]:
    """The thin start's apply of want over have (stood in) sends the
    planner's changes, in order, as records of the same objects, and prints
    the full path's summary; what it sent."""
    path = tmp_path / "ipvs.rules"
    path.write_text(want)
    _stand_in(monkeypatch, have)
    sent = _sent(monkeypatch)
    out = io.StringIO()
    assert quick_pyipvs.thin_start("apply", str(path), out, out) == 0
    plan = _plan(have, want)
    assert len(sent) == len(plan.changes)
    cut, cache = int(_native.RECORD_SVC_ID), {}
    for (cmd, rec), c in zip(sent, plan.changes, strict=True):
        assert cmd == thin_records.COMMANDS[c.action.value]
        if c.is_service:
            ident, settings = rec[:cut], rec[cut:]
            assert _native.record_key(ident, cache) == c.key
            if c.new is not None:
                assert _native.record_service(ident, settings, cache) == c.new
        else:
            server = c.new if c.new is not None else c.old
            assert _native.record_key(rec[:cut], cache) == c.key
            assert _native.record_server(rec[:DEST_ID], rec[DEST_ID:], cache) == server
    line = summary(plan, plan.counts())
    assert _timings(out.getvalue()) == f"pyipvs apply: applied: {line} (...)\n"
    return sent


def test_a_failed_change_is_reported_as_the_full_path_reports_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    texts = dict(VARIANTS)
    path = tmp_path / "ipvs.rules"
    path.write_text(texts["service added"])
    _stand_in(monkeypatch, texts["server gone"])
    plan = _plan(texts["server gone"], texts["service added"])
    assert len(plan.changes) == 2  # the service added, the server added back
    _sent(monkeypatch, fail_at=0)
    out, err = io.StringIO(), io.StringIO()
    assert quick_pyipvs.thin_start("apply", str(path), out, err) == 1
    assert err.getvalue() == (
        f"pyipvs apply: failed: {change_line(plan.changes[0])}: "
        "Scheduler or persistence engine not found\n"
    )
    counts = dict.fromkeys(Action, 0)
    counts[plan.changes[1].action] = 1
    assert _timings(out.getvalue()) == f"pyipvs apply: failed: {summary(plan, counts)} (...)\n"


def test_only_order_and_comments_are_the_same_table() -> None:
    records = {name: thin_records.text_records(text.encode()) for name, text in VARIANTS}
    alike = {"same", "reordered", "comments"}
    for name, r in records.items():
        assert thin_records.same(r, records["same"]) == (name in alike), name
    assert REORDERED != BASE


def _random_text(rnd: random.Random) -> str:
    """BASE with servers dropped, re-weighted or moved to another address,
    services dropped, added or given another scheduler, in a shuffled
    service order."""
    blocks: list[list[str]] = []
    for line in LINES:
        if line.startswith("-A"):
            blocks.append([re.sub(r"-s \w+", "-s sh", line) if rnd.random() < 0.2 else line])
        elif rnd.random() < 0.85:
            if rnd.random() < 0.2:
                line = line.rsplit("-w ", 1)[0] + f"-w {rnd.randrange(5)}"
            if rnd.random() < 0.1:
                line = line.replace("-r 10.", "-r 11.", 1)
            blocks[-1].append(line)
    blocks = [b for b in blocks if rnd.random() < 0.9]
    blocks += [[f"-A -u 10.77.0.{i}:53 -s rr"] for i in range(rnd.randrange(3))]
    rnd.shuffle(blocks)
    return "".join(line + "\n" for b in blocks for line in b)


@pytest.mark.parametrize("seed", range(30))
def test_the_c_comparison_is_the_planners(seed: int) -> None:
    # thin_records.differences (csrc/records.c pyipvs_records_diff) against
    # pyipvs.reconcile.delta.diff over the same records.
    rnd = random.Random(seed)
    live, want = _random_text(rnd), _random_text(rnd) if seed % 3 else BASE
    lt, wt = thin_records.text_records(live.encode()), thin_records.text_records(want.encode())
    assert lt is not None and wt is not None
    services, servers, recs = thin_records.differences(wt, lt)
    for got, (lp, wp) in zip((services, servers), zip(lt.pairs(), wt.pairs(), strict=True),
                             strict=True):  # fmt: skip
        ld, wd = dict(lp), dict(wp)
        expected = diff(ld, wd)
        assert got == (expected.added, expected.edited, expected.gone), seed
        for k in (*expected.added, *expected.edited):
            assert recs[k] == k + wd[k]
        for k in expected.gone:
            assert recs[k] == k + ld[k]
    assert thin_records.same(wt, lt) == (live == want or not (any(services) or any(servers)))
