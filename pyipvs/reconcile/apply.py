"""Carrying out a plan through the batch engine (top layer: typed Python
over `pyipvs.batch`).

Each change is one batched command, sent ~2,000 per system call, so an
apply costs what the changes cost in the kernel plus reading the table
once. Without a drain time the plan is one batch. With one, the changes
before the drain (additions, edits, weights set to 0) are one batch, then
the wait, then the deletions are a second batch; the second is not sent if
anything in the first failed, so a failed addition never leaves a service
with fewer servers than before.

`atomic=True`: if any command fails, the table is put back as it was
before the apply (the batch engine's rollback, read back and checked). With
a drain time that covers both batches: a failure after the wait also undoes
the first batch, from a snapshot of every service the plan touches taken
before it started.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyipvs.batch import Batch, BatchResult, CommandResult
from pyipvs.ipvs import IPVS
from pyipvs.model import Server, Service

from .plan import Action, Change, Plan

if TYPE_CHECKING:
    from pyipvs.batch_rollback import Snapshot


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What an apply did: per batch the engine's result, and every failure
    with the change it belongs to."""

    plan: Plan
    results: tuple[BatchResult, ...] = ()
    failures: tuple[tuple[Change, CommandResult], ...] = ()
    rolled_back: bool = False
    stopped: bool = False  # the deletions after the drain were not sent
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures and not self.rolled_back and not self.stopped

    def applied(self) -> dict[Action, int]:
        """Changes that took effect (and stayed), per action."""
        out = dict.fromkeys(Action, 0)
        if self.rolled_back:
            return out
        failed = {id(c) for c, _ in self.failures}
        sent = self.plan.changes if not self.stopped else self.plan.before_drain
        for c in sent:
            if id(c) not in failed:
                out[c.action] += 1
        return out


def _add(b: Batch, c: Change) -> None:
    a, new = c.action, c.new
    if a is Action.ADD_SERVER:
        assert isinstance(new, Server)
        b.add_server(c.key, new)
    elif a is Action.EDIT_SERVER or a is Action.DRAIN_SERVER:
        assert isinstance(new, Server)
        b.edit_server(c.key, new)
    elif a is Action.DELETE_SERVER:
        assert isinstance(c.old, Server)
        b.delete_server(c.key, c.old)
    elif a is Action.ADD_SERVICE:
        assert isinstance(new, Service)
        b.add_service(new)
    elif a is Action.EDIT_SERVICE:
        assert isinstance(new, Service)
        b.edit_service(new)
    else:
        b.delete_service(c.key)


def _run(
    ipvs: IPVS, changes: Sequence[Change], atomic: bool,
    progress: Callable[[int, int], None] | None,
) -> tuple[BatchResult, list[tuple[Change, CommandResult]]]:  # fmt: skip
    b = ipvs.batch(atomic=atomic)
    try:
        for c in changes:
            _add(b, c)
        result = b.apply(progress)
    finally:
        b.close()
    return result, _failures(changes, result)


def _failures(changes: Sequence[Change], result: BatchResult) -> list[tuple[Change, CommandResult]]:
    return [(changes[r.index], r) for r in result.failures]


def sent_result(plan: Plan, result: BatchResult, seconds: float) -> ApplyResult:
    """What an apply did whose plan, without a drain, was sent as one batch
    by other means (the `pyipvs` console script's thin start sends it as
    records): `result` holds one result per change, in the plan's order."""
    if len(result) != len(plan.changes) or plan.after_drain:
        raise ValueError("the result is not one batch of this plan's changes")
    return ApplyResult(plan, (result,), tuple(_failures(plan.changes, result)), seconds=seconds)


def apply_plan(
    ipvs: IPVS, plan: Plan, *, atomic: bool = False,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ApplyResult:  # fmt: skip
    """Make the changes of `plan` (see the module docstring). Failures are
    reported in the result, not raised; transport errors (a timeout, IPVS
    gone) raise as from any batch."""
    t0 = time.perf_counter()
    first, second = plan.before_drain, plan.after_drain
    snap: Snapshot | None = None
    if atomic and first and second:
        # only then: the rollback code is start-up cost for any other apply
        from pyipvs.batch_rollback import rollback, take_snapshot

        keys = {c.key for c in plan.changes}
        snap = ipvs._call(lambda h: take_snapshot(h, keys, False, False))
    results: list[BatchResult] = []
    failures: list[tuple[Change, CommandResult]] = []
    rolled_back = stopped = False
    if first:
        r, f = _run(ipvs, first, atomic, progress)
        results.append(r)
        failures += f
        rolled_back = r.rolled_back
    if second and (failures or rolled_back):
        stopped = True
    elif second:
        if first and plan.drain > 0:
            sleep(plan.drain)
        r, f = _run(ipvs, second, atomic, progress)
        results.append(r)
        failures += f
        if r.rolled_back and snap is not None:
            done = snap
            ipvs._call(lambda h: rollback(h, done))
        rolled_back = r.rolled_back
    return ApplyResult(
        plan, tuple(results), tuple(failures), rolled_back, stopped, time.perf_counter() - t0
    )
