"""Results and commands of batches (top layer: pure Python, no cffi).

`BatchResult` is what applying a batch returns: one `CommandResult` per
command, in order, with the kernel's errno and ipvsadm's message for it.
`Command` names one operation for `IPVS.apply_batch`. See pyipvs.batch.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

from pyipvs import _native
from pyipvs.errors import IPVSError, Op, ipvs_strerror
from pyipvs.model import Daemon, DaemonState, Server, Service, ServiceKey, Timeouts

_OP_OF_CMD = {
    _native.CMD_NEW_SERVICE: Op.ADD_SERVICE,
    _native.CMD_SET_SERVICE: Op.UPDATE_SERVICE,
    _native.CMD_DEL_SERVICE: Op.DEL_SERVICE,
    _native.CMD_ZERO: Op.ZERO_SERVICE,
    _native.CMD_FLUSH: Op.FLUSH,
    _native.CMD_NEW_DEST: Op.ADD_DEST,
    _native.CMD_SET_DEST: Op.UPDATE_DEST,
    _native.CMD_DEL_DEST: Op.DEL_DEST,
    _native.CMD_SET_CONFIG: Op.SET_TIMEOUT,
    _native.CMD_NEW_DAEMON: Op.START_DAEMON,
    _native.CMD_DEL_DAEMON: Op.STOP_DAEMON,
}


def op_of_command(cmd: int) -> Op:
    """The operation a batch command (a CMD_* byte) records, Op.ZERO_SERVICE
    for every zero (BatchResult.op tells a zero of everything apart)."""
    return _OP_OF_CMD[cmd]


_UNKNOWN_MESSAGE = (
    "outcome unknown: the kernel's reply was lost (receive buffer overflow); "
    "the command was executed once and not retried"
)


class Outcome(str, enum.Enum):
    APPLIED = "applied"
    FAILED = "failed"
    NOT_RUN = "not-run"  # never sent: an earlier failure stopped the batch
    UNKNOWN = "unknown"  # executed, but its reply was lost
    ROLLED_BACK = "rolled-back"  # applied, then undone by an atomic rollback


_OUTCOME = {
    _native.BATCH_OK: Outcome.APPLIED,
    _native.BATCH_FAILED: Outcome.FAILED,
    _native.BATCH_PENDING: Outcome.NOT_RUN,
    _native.BATCH_UNKNOWN: Outcome.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class CommandResult:
    index: int
    op: Op
    errno: int  # the kernel's errno; 0 when it succeeded (or did not run)
    message: str  # ipvsadm's message for (op, errno); "" when errno is 0
    outcome: Outcome

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.APPLIED


@dataclass(frozen=True, slots=True)
class BatchResult(Sequence[CommandResult]):
    """Per-command results, in command order. Items are built on access, and
    states are one byte per command, so even a result of 100,000 commands
    is counted and searched without a Python loop over all of them."""

    states: bytes  # one _native.BATCH_* code per command
    errnos: tuple[int, ...]
    cmds: bytes = field(repr=False, default=b"")  # one _native.CMD_* code per command
    zero_all: frozenset[int] = field(repr=False, default=frozenset())
    rolled_back: bool = False
    replays: int = 0  # times the batch was rolled back and replayed after lost replies
    chunks: int = 0  # sendmsg calls
    overruns: int = 0  # receive buffer overflows (ENOBUFS) seen

    def __len__(self) -> int:
        return len(self.states)

    @overload
    def __getitem__(self, i: int) -> CommandResult: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[CommandResult]: ...
    def __getitem__(self, i: int | slice) -> CommandResult | Sequence[CommandResult]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        op, err = self.op(i), self.errnos[i]
        outcome = _OUTCOME[self.states[i]]
        if self.rolled_back and outcome is Outcome.APPLIED:
            outcome = Outcome.ROLLED_BACK
        if outcome is Outcome.UNKNOWN:
            return CommandResult(i, op, err, _UNKNOWN_MESSAGE, outcome)
        return CommandResult(i, op, err, ipvs_strerror(op, err) if err else "", outcome)

    def __iter__(self) -> Iterator[CommandResult]:
        return (self[i] for i in range(len(self)))

    def op(self, i: int) -> Op:
        return Op.ZERO if i in self.zero_all else op_of_command(self.cmds[i])

    @property
    def failures(self) -> list[CommandResult]:
        """Commands that failed or whose outcome is unknown, in order."""
        found: list[int] = []
        for code in (_native.BATCH_FAILED, _native.BATCH_UNKNOWN):
            at = self.states.find(code)
            while at >= 0:
                found.append(at)
                at = self.states.find(code, at + 1)
        return [self[i] for i in sorted(found)]

    @property
    def ok(self) -> bool:
        return not self.rolled_back and self.states.count(_native.BATCH_OK) == len(self.states)

    def tally(self) -> dict[Outcome, int]:
        """How many commands ended in each outcome."""
        out: dict[Outcome, int] = {}
        for state, outcome in _OUTCOME.items():
            n = self.states.count(state)
            if self.rolled_back and outcome is Outcome.APPLIED:
                outcome = Outcome.ROLLED_BACK
            if n:
                out[outcome] = out.get(outcome, 0) + n
        return out

    def check(self) -> None:
        """Raise BatchError unless every command was applied."""
        if not self.ok:
            raise BatchError(self)


class BatchError(IPVSError):
    """A batch had failures; `result` holds every command's result."""

    def __init__(self, result: BatchResult, message: str | None = None) -> None:
        bad = result.failures
        first = bad[0] if bad else None
        if message is None:
            if first is None:
                message = "batch was not completely applied"
            else:
                message = f"command {first.index} ({first.op.value}): {first.message}"
                if len(bad) > 1:
                    message += f" (and {len(bad) - 1} more failures)"
                if result.rolled_back:
                    message += "; the batch was rolled back"
        super().__init__(first.errno if first else 0, first.op if first else None, message)
        self.result = result


@dataclass(frozen=True, slots=True)
class Command:
    """One batched operation, for `IPVS.apply_batch`; build with the class
    methods, which are named as IPVS's own verbs."""

    op: Op
    service: Service | None = None
    key: ServiceKey | None = None
    server: Server | None = None
    timeouts: Timeouts | None = None
    daemon: Daemon | None = None

    @classmethod
    def add_service(cls, s: Service) -> Command:
        return cls(Op.ADD_SERVICE, service=s)

    @classmethod
    def edit_service(cls, s: Service) -> Command:
        return cls(Op.UPDATE_SERVICE, service=s)

    @classmethod
    def delete_service(cls, key: ServiceKey) -> Command:
        return cls(Op.DEL_SERVICE, key=key)

    @classmethod
    def add_server(cls, key: ServiceKey, server: Server) -> Command:
        return cls(Op.ADD_DEST, key=key, server=server)

    @classmethod
    def edit_server(cls, key: ServiceKey, server: Server) -> Command:
        return cls(Op.UPDATE_DEST, key=key, server=server)

    @classmethod
    def delete_server(cls, key: ServiceKey, server: Server) -> Command:
        return cls(Op.DEL_DEST, key=key, server=server)

    @classmethod
    def zero(cls, key: ServiceKey | None = None) -> Command:
        return cls(Op.ZERO_SERVICE if key is not None else Op.ZERO, key=key)

    @classmethod
    def flush(cls) -> Command:
        return cls(Op.FLUSH)

    @classmethod
    def set_timeouts(cls, t: Timeouts) -> Command:
        return cls(Op.SET_TIMEOUT, timeouts=t)

    @classmethod
    def start_daemon(cls, d: Daemon) -> Command:
        return cls(Op.START_DAEMON, daemon=d)

    @classmethod
    def stop_daemon(cls, state: DaemonState, syncid: int = 0) -> Command:
        return cls(Op.STOP_DAEMON, daemon=Daemon(state, "", syncid))


def transport_failure(err: int, note: str, result: BatchResult) -> IPVSError:
    """The exception for a transport failure (a timeout, a send error),
    carrying what is known of every command as `.result`."""
    e = _native._error(err, None)
    e = type(e)(err, None, f"{e.strerror}{note}")
    e.result = result  # type: ignore[attr-defined]
    return e
