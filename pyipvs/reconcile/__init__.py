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

from pyipvs import _lazy

# Every name is imported on first use (PEP 562): the `pyipvs` console
# script's thin start (pyipvs/cli/quick_pyipvs.py) loads `formats` alone,
# and `apply` brings in the batch engine, which `pyipvs diff` and planning
# never need. Not typing.TYPE_CHECKING: typing is start-up cost too (mypy
# takes any constant of that name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .apply import ApplyResult as ApplyResult
    from .apply import apply_plan as apply_plan
    from .desired import DesiredError as DesiredError
    from .desired import load as load
    from .desired import loads as loads
    from .desired import parse_data as parse_data
    from .desired import parse_save as parse_save
    from .plan import Action as Action
    from .plan import Change as Change
    from .plan import Plan as Plan
    from .plan import Scope as Scope
    from .plan import Side as Side
    from .plan import TableSide as TableSide
    from .plan import live_filter as live_filter
    from .plan import make_plan as make_plan
    from .plan import plan_sides as plan_sides
    from .plan import table_sides as table_sides
    from .records import RecordSide as RecordSide
    from .records import plan_for as plan_for
    from .records import prepare as prepare
    from .records import prepare_file as prepare_file
    from .render import change_line as change_line
    from .render import plan_json as plan_json
    from .render import plan_lines as plan_lines
    from .render import result_json as result_json
    from .render import summary as summary
    from .table import Table as Table
    from .table import read_live as read_live

_WHERE = {
    **dict.fromkeys(("ApplyResult", "apply_plan"), "apply"),
    **dict.fromkeys(("DesiredError", "load", "loads", "parse_data", "parse_save"), "desired"),
    **dict.fromkeys(
        (
            "Action",
            "Change",
            "Plan",
            "Scope",
            "Side",
            "TableSide",
            "live_filter",
            "make_plan",
            "plan_sides",
            "table_sides",
        ),
        "plan",
    ),
    **dict.fromkeys(("RecordSide", "plan_for", "prepare", "prepare_file"), "records"),
    **dict.fromkeys(("change_line", "plan_json", "plan_lines", "result_json", "summary"), "render"),
    **dict.fromkeys(("Table", "read_live"), "table"),
}
__getattr__, __dir__ = _lazy.exports(globals(), _WHERE)

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
