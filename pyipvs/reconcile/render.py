"""Plans and apply results as text and JSON (top layer: pure functions, model
in, text out).

One line per change: a marker (`+` add, `~` edit, `-` delete), then the
change as an ipvsadm command in restore syntax (`-A`/`-E`/`-D`,
`-a`/`-e`/`-d`, with -x/-y when thresholds are set), then for edits a `#`
comment naming each setting that changes, old -> new:

    + -A -t 10.0.0.1:80 -s rr
    + -a -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 1
    ~ -e -t 10.0.0.2:80 -r 10.1.0.2:80 -m -w 5  # weight 1 -> 5, forward route -> masq
    - -D -t 10.0.0.3:80

Service and server names are spelt as `ipvsadm -Sn` spells them (its own
formatter is used).
"""

from __future__ import annotations

import enum
import ipaddress
from typing import TYPE_CHECKING, Any

from pyipvs.jsonable import to_jsonable
from pyipvs.model import Family, Server, ServerStatus, Service, ServiceKey, ServiceStatus

from .formats import summary_line
from .plan import Action, Change, Plan

if TYPE_CHECKING:
    from .apply import ApplyResult

_MARK = {
    Action.ADD_SERVICE: "+ -A",
    Action.EDIT_SERVICE: "~ -E",
    Action.DELETE_SERVICE: "- -D",
    Action.ADD_SERVER: "+ -a",
    Action.EDIT_SERVER: "~ -e",
    Action.DRAIN_SERVER: "~ -e",
    Action.DELETE_SERVER: "- -d",
}


def save_lines(*args: Any) -> list[str]:
    # Imported on first use: the formatter and the resolver (which imports
    # socket) are start-up cost for an apply that prints no plan.
    from pyipvs.format_save import save_lines as lines

    return lines(*args)


def _resolver() -> Any:
    global _RESOLVER
    if _RESOLVER is None:
        from pyipvs.names import NumericResolver

        _RESOLVER = NumericResolver()
    return _RESOLVER


_RESOLVER: Any = None


def _value(name: str, v: object, family: Family) -> str:
    if isinstance(v, enum.IntFlag):
        return "|".join(m.name.lower() for m in type(v) if m.value and m in v and m.name) or "none"
    if isinstance(v, enum.Enum):
        return v.name.lower() if v.name else str(v.value)
    if name == "netmask" and family == Family.INET and isinstance(v, int):
        return str(ipaddress.IPv4Address(v & 0xFFFFFFFF))
    if isinstance(v, str):
        return repr(v) if not v or " " in v else v
    return str(v)


def _service_text(svc: Service) -> tuple[str, str]:
    """(name as -Sn spells it, the options after it)."""
    line = save_lines(ServiceStatus(svc), (), True, _resolver())[0]
    rest = line[3:]  # after "-A "
    at = rest.index(" -s ")
    return rest[:at], rest[at:]


def _server_text(key: ServiceKey, s: Server) -> tuple[str, str]:
    """(name, host) of a server and its options, as -Sn spells them."""
    line = save_lines(ServiceStatus(Service(key)), (ServerStatus(s),), True, _resolver())[1]
    rest = line[3:]  # after "-a "
    at = rest.index(" -r ")
    name, tail = rest[:at], rest[at + 4 :]
    host, _, opts = tail.partition(" ")
    if s.u_threshold:
        opts += f" -x {s.u_threshold}"
    if s.l_threshold:
        opts += f" -y {s.l_threshold}"
    return f"{name} -r {host}", opts


def change_line(c: Change) -> str:
    """The change as one line (see the module docstring)."""
    head = _MARK[c.action]
    if c.is_service:
        svc = c.new if isinstance(c.new, Service) else c.old
        assert isinstance(svc, Service)
        name, opts = _service_text(svc)
        text = f"{head} {name}" if c.action is Action.DELETE_SERVICE else f"{head} {name}{opts}"
    else:
        server = c.server
        assert server is not None
        name, opts = _server_text(c.key, server)
        text = f"{head} {name}" if c.action is Action.DELETE_SERVER else f"{head} {name} {opts}"
    notes = [
        f"{f} {_value(f, a, c.key.family)} -> {_value(f, b, c.key.family)}"
        for f, a, b in c.changed_fields()
    ]
    if c.action is Action.DRAIN_SERVER:
        notes.insert(0, "drain")
    if c.after_drain:
        notes.append("after the drain")
    return f"{text}  # {', '.join(notes)}" if notes else text


def plan_lines(plan: Plan) -> list[str]:
    return [change_line(c) for c in plan.changes]


def change_json(c: Change) -> dict[str, Any]:
    return {
        "action": c.action.value,
        "service": to_jsonable(c.key),
        "new": to_jsonable(c.new),
        "old": to_jsonable(c.old),
        "fields": {f: [to_jsonable(a), to_jsonable(b)] for f, a, b in c.changed_fields()},
        "after_drain": c.after_drain,
        "command": change_line(c).split("  # ", 1)[0][2:],
    }


def counts_json(plan: Plan) -> dict[str, Any]:
    return {
        **{a.value: n for a, n in plan.counts().items()},
        "unchanged-services": plan.unchanged_services,
        "unchanged-servers": plan.unchanged_servers,
        "ignored-out-of-scope": plan.ignored,
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "differ": bool(plan),
        "drain": plan.drain,
        "summary": counts_json(plan),
        "changes": [change_json(c) for c in plan.changes],
    }


def summary(plan: Plan, applied: dict[Action, int] | None = None) -> str:
    """What changed (or, without `applied`, what would change), in one line."""
    n = applied if applied is not None else plan.counts()
    return summary_line(
        (n[Action.ADD_SERVICE], n[Action.EDIT_SERVICE], n[Action.DELETE_SERVICE],
         plan.unchanged_services),
        (n[Action.ADD_SERVER], n[Action.EDIT_SERVER], n[Action.DRAIN_SERVER],
         n[Action.DELETE_SERVER], plan.unchanged_servers),
        plan.ignored,
    )  # fmt: skip


def result_json(res: ApplyResult) -> dict[str, Any]:
    return {
        "ok": res.ok,
        "rolled_back": res.rolled_back,
        "stopped_before_deletions": res.stopped,
        "seconds": round(res.seconds, 6),
        "applied": {a.value: n for a, n in res.applied().items()},
        "planned": counts_json(res.plan),
        "failures": [
            {**change_json(c), "errno": r.errno, "message": r.message} for c, r in res.failures
        ],
    }
