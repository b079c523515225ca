"""Declarative reconciliation: make the live IPVS table equal a desired one,
changing only what differs (top layer: typed Python over `pyipvs.ipvs` and
`pyipvs.batch`).

    from pyipvs import IPVS
    from pyipvs.reconcile import Scope, load

    with IPVS() as ipvs:
        plan = ipvs.diff(load("ipvs.rules"))        # or a .json / .yaml file
        for line in plan_lines(plan): print(line)
        result = ipvs.apply(plan, atomic=True)

Modules: `table` (the settings-only table and reading the live one),
`desired` (loading files: ipvsadm save format, JSON, YAML), `fromjson`
(JSON data to the model), `plan` (pure planning over two `Side`s),
`records` (the fast path: save files and the live table as byte records
compared in C-speed set operations), `apply` (the batch engine), `render`
(text and JSON). docs/reconcile.md has the details.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .desired import DesiredError, load, loads, parse_data, parse_save
from .plan import (
    Action,
    Change,
    Plan,
    Scope,
    Side,
    TableSide,
    live_filter,
    make_plan,
    plan_sides,
    table_sides,
)
from .records import RecordSide, plan_for, prepare, prepare_file
from .render import change_line, plan_json, plan_lines, result_json, summary
from .table import Table, read_live

if TYPE_CHECKING:
    from .apply import ApplyResult, apply_plan


def __getattr__(name: str) -> Any:
    # `apply` is imported on first use: it brings in the batch engine, which
    # `pyipvs diff` and planning never need.
    if name in ("ApplyResult", "apply_plan"):
        from . import apply

        return getattr(apply, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Action",
    "ApplyResult",
    "Change",
    "DesiredError",
    "Plan",
    "RecordSide",
    "Scope",
    "Side",
    "Table",
    "TableSide",
    "apply_plan",
    "change_line",
    "live_filter",
    "load",
    "loads",
    "make_plan",
    "parse_data",
    "parse_save",
    "plan_for",
    "plan_json",
    "plan_lines",
    "plan_sides",
    "prepare",
    "prepare_file",
    "read_live",
    "result_json",
    "summary",
    "table_sides",
]
