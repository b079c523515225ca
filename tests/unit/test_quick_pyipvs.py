"""The `pyipvs` console script's thin start (pyipvs/cli/quick_pyipvs.py) on
the host: which command lines and files it takes, that its verdict "the
live table already matches" is the planner's "nothing to do", and that it
prints what the full path prints then. The live side is stood in by the
records of a second text; against the real kernel: kernel
test_reconcile.py.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from pyipvs import _native
from pyipvs._native import thin
from pyipvs.cli import quick_pyipvs
from pyipvs.reconcile import Action, RecordSide, Scope, plan_sides, summary

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
    ra, rb = thin.text_records(a), thin.text_records(b)
    assert ra is not None and rb is not None
    plan = plan_sides(
        RecordSide(_native.restore_records(a)), RecordSide(_native.restore_records(b)), Scope()
    )
    assert (ra == rb) == (not plan), (live, want)


def test_a_text_for_the_full_parser_has_no_records() -> None:
    assert thin.text_records(b"-A --tcp-service 10.0.0.1:80\n") is None


def _stand_in(monkeypatch: pytest.MonkeyPatch, live: str) -> None:
    monkeypatch.setattr(thin, "live_records", lambda netns=None: thin.text_records(live.encode()))


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
    assert quick_pyipvs.unchanged("apply", rules_file, out) == 0
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
    assert quick_pyipvs.unchanged("diff", rules_file, out) == 0
    assert out.getvalue() == ""


def test_what_it_leaves_to_the_full_path(
    monkeypatch: pytest.MonkeyPatch, rules_file: str, tmp_path: Path
) -> None:
    out = io.StringIO()
    _stand_in(monkeypatch, dict(VARIANTS)["weight"])
    assert quick_pyipvs.unchanged("apply", rules_file, out) is None  # a difference
    _stand_in(monkeypatch, BASE)
    for name, text in (("t.json", "[]"), ("t.yaml", BASE), ("t.rules", "services: []\n")):
        path = tmp_path / name
        path.write_text(text)
        assert quick_pyipvs.unchanged("apply", str(path), out) is None  # not a save file
    assert quick_pyipvs.unchanged("apply", "-", out) is None  # stdin
    assert quick_pyipvs.unchanged("apply", str(tmp_path / "missing"), out) is None

    def no_ipvs(netns: object = None) -> None:
        raise OSError(97, "stand-in")

    monkeypatch.setattr(thin, "live_records", no_ipvs)
    assert quick_pyipvs.unchanged("apply", rules_file, out) is None
    assert out.getvalue() == ""


def test_only_order_and_comments_are_the_same_table() -> None:
    records = {name: thin.text_records(text.encode()) for name, text in VARIANTS}
    alike = {"same", "reordered", "comments"}
    for name, r in records.items():
        assert (r == records["same"]) == (name in alike), name
    assert REORDERED != BASE
