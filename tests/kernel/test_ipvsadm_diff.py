"""pyipvsadm against the real ipvsadm 1.31, step by step, on a real kernel.

Every case of diffcases.py runs twice: with /usr/sbin/ipvsadm in one fresh
network namespace and with pyipvsadm in another (in-process through
`main(..., netns=...)`, or through `python -m pyipvs.cli.ipvsadm` for the
console steps). stdout, stderr and the exit status of each step must be
identical, and so must the final dumps of both namespaces, taken with the
real ipvsadm. Where a step may print -h/-v text, ipvsadm's exact text is
swapped for ours before comparing (the prose differs on purpose; everything
around it must not). Listings whose order depends on the kernel's
per-namespace dump order are compared with ipvsadm run in our namespace
right after ours (crosscheck steps). Random sequences come from a fixed seed
(PYIPVS_DIFF_SEED to change it, PYIPVS_DIFF_RANDOM for how many).
Counters, rates and connections from real traffic: test_ipvsadm_traffic.py.

Process starts are what costs in the emulated VM (~0.3 s each), so the
reference side of every case runs as one shell script inside its namespace,
with the binary copied to a tmpfs (the same bytes, run as `ipvsadm` from
PATH so that messages quote the same program name), and two background
workers run the reference cases ahead while the tests run ours.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import io
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from conftest import NETNS_SETUP, Netns, drop_netns, make_netns
from diffcases import CONSOLE, FIXED, Case, Step, random_cases

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SEED = int(os.environ.get("PYIPVS_DIFF_SEED", "1031"))
N_RANDOM = int(os.environ.get("PYIPVS_DIFF_RANDOM", "12"))

CASES = FIXED + random_cases(SEED, N_RANDOM, 10) + CONSOLE

_main = importlib.import_module("pyipvs.cli.ipvsadm.main").main
_helptext = importlib.import_module("pyipvs.cli.ipvsadm.helptext")
help_text, version_text = _helptext.help_text, _helptext.version_text


@dataclass(frozen=True)
class Result:
    status: int
    stdout: bytes
    stderr: bytes
    ms: int = field(default=0, compare=False)


@dataclass
class Tally:
    cases: int = 0
    cases_ok: int = 0
    steps: int = 0
    steps_ok: int = 0
    finals: int = 0
    finals_ok: int = 0
    slow: list[str] = field(default_factory=list)
    quiet: list[str] = field(default_factory=list)


TALLY = Tally()


@pytest.fixture(scope="session", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None and TALLY.cases:
        tr.write_line(
            f"ipvsadm differential: {TALLY.cases_ok}/{TALLY.cases} cases, "
            f"{TALLY.steps_ok}/{TALLY.steps} steps, "
            f"{TALLY.finals_ok}/{TALLY.finals} final dumps identical"
        )
        for line in TALLY.slow:
            tr.write_line("  slow reference step: " + line)
        for line in TALLY.quiet:
            tr.write_line("  identical only when re-run alone: " + line)


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _status(rc: int) -> int:
    return 128 - rc if rc < 0 else rc  # a signal as the shell reports it


_bin_lock = threading.Lock()
_bin_dir: list[str] = []


def _ref_path() -> str:
    """PATH with a tmpfs copy of /usr/sbin/ipvsadm first (exec from 9p is slow)."""
    with _bin_lock:
        if not _bin_dir:
            d = tempfile.mkdtemp(prefix="ipvsadm-ref-")
            shutil.copy2("/usr/sbin/ipvsadm", os.path.join(d, "ipvsadm"))
            _bin_dir.append(d)
    return _bin_dir[0] + ":" + PATH


def run_reference(
    ns: Netns | None,
    steps: Sequence[Step],
    final: Sequence[Sequence[str]],
    *,
    crosschecks: bool = False,
) -> tuple[list[Result], list[Result]]:
    """All steps, then the final dumps, with the real ipvsadm in one shell: inside
    `ns`, or (None) inside a fresh anonymous namespace set up like conftest's,
    which costs fewer process starts and vanishes with the shell."""
    with tempfile.TemporaryDirectory(prefix="ipvsdiff-") as tmp:
        lines = ["cd " + shlex.quote(tmp)]
        if ns is None:
            with open(os.path.join(tmp, "setup"), "w") as sf:
                sf.write(NETNS_SETUP)
            lines.append("ip -batch setup >/dev/null 2>&1 || exit 99")
        cmds = [(st.argv, st.stdin, st.merged, st.crosscheck and not crosschecks) for st in steps]
        cmds += [(tuple(f), None, False, False) for f in final]
        for i, (args, stdin, merged, skip) in enumerate(cmds):
            if skip:  # compared in our namespace instead
                lines.append(f"echo 0 >rc.{i}; : >out.{i}; : >err.{i}")
                continue
            src = "/dev/null"
            if stdin is not None:
                with open(os.path.join(tmp, f"in.{i}"), "wb") as f:
                    f.write(_bytes(stdin))
                src = f"in.{i}"
            words = " ".join(shlex.quote(a) for a in args)
            err = "&1" if merged else f"err.{i}"
            lines.append(
                f"t0=${{EPOCHREALTIME/./}}; ipvsadm {words} <{src} >out.{i} 2>{err};"
                f" echo $? >rc.{i};"
                f" echo $(( (${{EPOCHREALTIME/./}} - t0) / 1000 )) >ms.{i}"
            )
        script = os.path.join(tmp, "run.sh")
        with open(script, "w") as sf:
            sf.write("\n".join(lines) + "\n")
        enter = ["unshare", "--net", "--"] if ns is None else ["nsenter", f"--net={ns.path}"]
        # Bounded: ipvsadm waits for ever for a reply the kernel never sends
        # (a sync daemon stopped before its thread ran; see test_faults.py).
        proc = subprocess.run(
            [*enter, "bash", script],
            env={"PATH": _ref_path(), "LC_ALL": "C"},
            capture_output=True,
            check=False,
            timeout=900,
        )
        assert proc.returncode != 99, "could not set up the reference namespace"
        results = []
        for i, (_args, _stdin, merged, _skip) in enumerate(cmds):
            results.append(
                Result(
                    int(_read(tmp, f"rc.{i}").strip() or b"-1"),
                    _read(tmp, f"out.{i}"),
                    b"" if merged else _read(tmp, f"err.{i}"),
                    int(_read(tmp, f"ms.{i}", b"0").strip() or b"0"),
                )
            )
    return results[: len(steps)], results[len(steps) :]


def _read(tmp: str, name: str, missing: bytes = b"<missing>") -> bytes:
    try:
        with open(os.path.join(tmp, name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return missing


def run_ours(ns: Netns, step: Step) -> Result:
    if step.console:
        proc = subprocess.run(
            ["nsenter", f"--net={ns.path}", sys.executable, "-m", "pyipvs.cli.ipvsadm", *step.argv],
            input=_bytes(step.stdin) if step.stdin is not None else b"",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if step.merged else subprocess.PIPE,
            env={"PATH": PATH, "LC_ALL": "C", "PYTHONPATH": REPO},
            cwd=REPO,
            check=False,
        )
        return Result(_status(proc.returncode), proc.stdout, b"" if step.merged else proc.stderr)
    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO(step.stdin if step.stdin is not None else "")
    try:
        status = _main(["ipvsadm", *step.argv], stdin, out, err, netns=ns.name)
    except Exception:  # noqa: BLE001 - a crash is a difference to report, not a test error
        return Result(-999, _bytes(out.getvalue()), _bytes(err.getvalue() + traceback.format_exc()))
    return Result(status, _bytes(out.getvalue()), _bytes(err.getvalue()))


def _describe(what: str, want: Result, got: Result) -> str:
    lines = [f"--- {what}"]
    if want.status != got.status:
        lines.append(f"  status: ipvsadm {want.status}, pyipvsadm {got.status}")
    for name in ("stdout", "stderr"):
        a, b = getattr(want, name), getattr(got, name)
        if a != b:
            lines.append(f"  {name}: ipvsadm")
            lines.extend("    | " + repr(x) for x in a.decode("utf-8", "replace").splitlines(True))
            lines.append(f"  {name}: pyipvsadm")
            lines.extend("    | " + repr(x) for x in b.decode("utf-8", "replace").splitlines(True))
    return "\n".join(lines)


_texts_lock = threading.Lock()
_texts: list[tuple[bytes, bytes]] = []


def _own_texts() -> list[tuple[bytes, bytes]]:
    """(ipvsadm's exact -h and -v output, ours), the help first: taken once
    from the real binary, run as `ipvsadm` like every reference step."""
    path = _ref_path()
    with _texts_lock:
        if not _texts:
            for opt, mine in (("-h", help_text("ipvsadm")), ("-v", version_text())):
                proc = subprocess.run(
                    ["ipvsadm", opt],
                    env={"PATH": path, "LC_ALL": "C"},
                    capture_output=True,
                    check=True,
                )
                assert proc.stdout.startswith(b"ipvsadm v1.31"), proc
                _texts.append((proc.stdout, _bytes(mine)))
    return _texts


def _expected(want: Result, st: Step) -> Result:
    """What pyipvsadm must print: ipvsadm's bytes, with its -h/-v text swapped
    for ours where the step may print one (our prose differs on purpose)."""
    if not st.own_text:
        return want
    stdout = want.stdout
    for theirs, mine in _own_texts():
        stdout = stdout.replace(theirs, mine)
    return Result(want.status, stdout, want.stderr, want.ms)


class SharedLock:
    """Many holders of `shared` at once, or one of `exclusive`; a waiting
    exclusive holder goes first. Everything that changes IPVS in some
    namespace holds `shared`; a quiet re-run holds `exclusive`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._holders = 0
        self._exclusive = False
        self._waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive and not self._waiting)
            self._holders += 1
        try:
            yield
        finally:
            with self._cond:
                self._holders -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            self._cond.wait_for(lambda: not self._exclusive and not self._holders)
            self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


_kernel = SharedLock()
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ipvsadm-ref")
_dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netns-drop")
_futures: dict[str, Future[tuple[list[Result], list[Result]]]] = {}


_libc = ctypes.CDLL(None, use_errno=True)
_MNT_DETACH = 2


def _drop(ns: Netns) -> None:
    """`ip netns del` without the process start: detach and remove the mount."""
    with _kernel.shared():
        _drop_now(ns)


def _drop_now(ns: Netns) -> None:
    if _libc.umount2(ns.path.encode(), _MNT_DETACH) != 0:
        drop_netns(ns)
        return
    with contextlib.suppress(OSError):
        os.unlink(ns.path)


def _reference_case(case: Case) -> tuple[list[Result], list[Result]]:
    return run_reference(None, case.steps, case.final)


def _pooled_reference(case: Case) -> tuple[list[Result], list[Result]]:
    with _kernel.shared():
        return _reference_case(case)


def reference(case: Case) -> tuple[list[Result], list[Result]]:
    fut = _futures.get(case.name)
    if fut is None:
        fut = _futures[case.name] = _pool.submit(_pooled_reference, case)
    return fut.result()


@pytest.fixture(scope="module", autouse=True)
def _pools(request: pytest.FixtureRequest) -> Iterator[None]:
    # Start the reference side of every selected case now, in test order.
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("case") if callspec is not None else None
        if isinstance(case, Case) and case.name not in _futures:
            _futures[case.name] = _pool.submit(_pooled_reference, case)
    yield
    for fut in _futures.values():
        fut.cancel()
    _pool.shutdown(wait=True)
    _dropper.shutdown(wait=True)


# Cases known to differ from the real ipvsadm 1.31 run as xfail (an
# unexpected pass shows as XPASS). Empty: every case must be identical; a
# deliberate deviation belongs in docs/compat.md and is compared, not excused.
KNOWN_DIFFERENCES: dict[str, str] = {}


def _params() -> list[object]:
    out: list[object] = []
    for c in CASES:
        why = KNOWN_DIFFERENCES.get(c.name)
        marks = [pytest.mark.xfail(reason=f"known difference: {why}", strict=False)] if why else []
        out.append(pytest.param(c, id=c.name, marks=marks))
    return out


def _run_ours_case(case: Case) -> tuple[list[Result], dict[int, Result], list[Result]]:
    """Our side of a case in a fresh namespace: our results per step, ipvsadm's
    crosscheck listings taken in that namespace, and ipvsadm's final dumps."""
    our_ns = make_netns()
    cross: dict[int, Result] = {}
    pending: list[int] = []  # crosscheck steps ipvsadm has yet to run in our namespace

    def crosscheck(final: Sequence[Sequence[str]]) -> list[Result]:
        # Crosschecks are listings (they change nothing), so a run of them
        # costs one reference script, and the last one also takes the dumps.
        refs, dumps = run_reference(
            our_ns, [case.steps[i] for i in pending], final, crosschecks=True
        )
        cross.update(zip(pending, refs))
        pending.clear()
        return dumps

    try:
        got_steps = []
        for i, st in enumerate(case.steps):
            if pending and not st.crosscheck:
                crosscheck(())
            got_steps.append(run_ours(our_ns, st))
            if st.crosscheck:
                pending.append(i)
        got_final = crosscheck(case.final)
    finally:
        _dropper.submit(_drop, our_ns)  # slow under emulation: off the critical path
    return got_steps, cross, got_final


@dataclass
class Compared:
    problems: list[str]
    steps_ok: int
    finals_ok: int


def _compare(
    case: Case,
    ours: tuple[list[Result], dict[int, Result], list[Result]],
    ref: tuple[list[Result], list[Result]],
) -> Compared:
    got_steps, cross, got_final = ours
    want_steps = [cross.get(i, want) for i, want in enumerate(ref[0])]
    out = Compared([], 0, 0)
    for st, want, got in zip(case.steps, want_steps, got_steps, strict=True):
        want = _expected(want, st)
        if want == got:
            out.steps_ok += 1
        else:
            out.problems.append(_describe("ipvsadm " + st.label(), want, got))
    for f, want, got in zip(case.final, ref[1], got_final, strict=True):
        if want == got:
            out.finals_ok += 1
        else:
            out.problems.append(_describe("final state: ipvsadm " + " ".join(f), want, got))
    return out


@pytest.mark.parametrize("case", _params())
def test_differential(case: Case) -> None:
    with _kernel.shared():
        ours = _run_ours_case(case)
    ref = reference(case)
    for st, want in zip(case.steps, ref[0], strict=True):
        if want.ms > 3000:
            TALLY.slow.append(f"{want.ms} ms  {case.name}: ipvsadm {st.label()[:100]}")
    result = _compare(case, ours, ref)
    if result.problems:
        result = _quiet_rerun(case, ours, result)
    TALLY.cases += 1
    TALLY.steps += len(case.steps)
    TALLY.finals += len(case.final)
    TALLY.steps_ok += result.steps_ok
    TALLY.finals_ok += result.finals_ok
    if not result.problems:
        TALLY.cases_ok += 1
    assert not result.problems, "\n".join(result.problems)


def _same_but_order(a: Result, b: Result) -> bool:
    """The same status, stderr and stdout lines, in any order of the lines."""
    return (
        a.status == b.status
        and a.stderr == b.stderr
        and Counter(a.stdout.splitlines(True)) == Counter(b.stdout.splitlines(True))
    )


def _quiet_rerun(
    case: Case, first: tuple[list[Result], dict[int, Result], list[Result]], failed: Compared
) -> Compared:
    """Both sides again with nothing else touching IPVS in any namespace.

    The 6.1 and 6.12 kernels keep one service table for all namespaces and a
    dump resumes by position in it, so a service added or removed in *another*
    namespace between two parts of ipvsadm's dump makes it list a service
    twice or skip one (seen: `FWM  24 wlc ops` twice). Cases run side by side
    here, so a difference is re-run alone. It passes only if the quiet run is
    identical and every step of ours printed the same lines as in the first
    run: pyipvsadm itself must not depend on the luck of the schedule (its
    listing reads the table twice and retries when the reads disagree).

    Only the order may differ from the first run: the service hash mixes in
    the namespace's own address, so the quiet run's fresh namespace dumps in
    another order, and ipvsadm's sort (wrap-around compare, not transitive)
    gives another listing for another input order (seen: listing-sorting).
    The quiet run's order is checked against ipvsadm's, exactly.
    """
    with _kernel.exclusive():
        # Namespaces dropped a moment ago are torn down by a kernel worker that
        # also edits the shared table; two identical reference runs in a row
        # show it has finished.
        ref = _reference_case(case)
        for _ in range(3):
            again = _reference_case(case)
            if again == ref:
                break
            ref = again
        ours = _run_ours_case(case)
    result = _compare(case, ours, ref)
    moved = [
        _describe("pyipvsadm, first run vs quiet run: " + st.label(), a, b)
        for st, a, b in zip(case.steps, first[0], ours[0], strict=True)
        if not _same_but_order(a, b)
    ]
    if result.problems or moved:
        result.problems = [
            "first run:",
            *failed.problems,
            "quiet re-run:",
            *result.problems,
            *moved,
        ]
        return result
    TALLY.quiet.append(f"{case.name} ({len(failed.problems)} differences in the first run)")
    return result
