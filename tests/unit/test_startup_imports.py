"""What the hot command lines import (host only).

In the emulated test VM every module costs 15-45 ms to import, more than
the work of most command lines, so the hot ones are held to what they need.
Each test runs the pure part of a command (everything up to the kernel, with
a client whose kernel calls are stood in) in a fresh interpreter and checks
the modules it must not have imported:

- `pyipvsadm -Ln`/`-Sn` (any format option): the C core formats the rows, so
  no pyipvs.format*, names, sorting or socket (only pyipvs.format_head).
- `pyipvsadm -Ln`/`-Sn`/`-Lnc` through the console script's thin start
  (pyipvs/cli/ipvsadm/quick.py): not even the model, the errors,
  dataclasses, enum, typing, ipaddress or re (run with `python -S`, as site
  and an editable install import some of those by themselves); and a
  failure hands over to the full path.
- `pyipvsadm -v`/`-h`: no importlib.metadata for the version; `-v` through
  the thin start, not even the model.
- `pyipvsadm -R`'s batched restore: no rollback code, no formatters.
- `pyipvs apply FILE` in save format (the records path): no json, no rollback
  code; `pyipvs diff FILE` not even the batch engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

# Client stand-in: an IPVS whose kernel calls (`_call`) answer without a
# kernel. The listing still goes through IPVS.numeric_listing and
# pyipvs.listing_native, so their imports count.
_FAKE = """
import io, sys
from pyipvs.ipvs import IPVS
from pyipvs.model import Info

class Fake(IPVS):
    def __init__(self):
        pass

    def close(self):
        pass

    def _call(self, fn):
        return (b"", 0)

main_mod = sys.modules["pyipvs.cli.ipvsadm.main"]
main_mod._try_open = lambda netns: (Fake(), Info((1, 2, 1), 4096))

def run(*args, stdin=""):
    out, err = io.StringIO(), io.StringIO()
    rc = main_mod.main(["ipvsadm", *args], io.StringIO(stdin), out, err)
    return rc, out.getvalue(), err.getvalue()
"""

_FORMATTERS = {
    "pyipvs.format",
    "pyipvs.format_addr",
    "pyipvs.format_conn",
    "pyipvs.format_list",
    "pyipvs.format_save",
    "pyipvs.format_status",
    "pyipvs.names",
    "pyipvs.sorting",
    "pyipvs.cli.ipvsadm.listing_python",
}
_NEVER = {"importlib.metadata", "argparse", "json", "subprocess", "socket"}


def _run(code: str) -> tuple[set[str], Any]:
    """Run code in a fresh interpreter: the modules it has imported when it
    ends, and the value it left in `result`."""
    script = "import pyipvs.cli.ipvsadm.main\n" + _FAKE + textwrap.dedent(code)
    # the modules are taken before json is imported for the report
    script += "\nmodules = sorted(sys.modules)\nimport json\n"
    script += "print(json.dumps({'modules': modules, 'result': result}))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout.splitlines()[-1])
    return set(doc["modules"]), doc["result"]


@pytest.mark.parametrize(
    "argv",
    [["-Ln"], ["-Sn"], ["-Ln", "--stats", "--exact"], ["-L", "-n", "--rate", "--nosort"]],
)
def test_numeric_listing_imports_no_python_formatter(argv: list[str]) -> None:
    modules, result = _run(f"""
    rc, out, err = run(*{argv!r})
    result = [rc, out, err]
    """)
    rc, out, err = result
    assert (rc, err) == (0, "")
    if argv[0] != "-Sn":
        assert str(out).startswith("IP Virtual Server version 1.2.1 (size=4096)\nProt ")
    unwanted = (
        _FORMATTERS
        | _NEVER
        | {
            "pyipvs.cli.ipvsadm.helptext",
            "pyipvs.cli.ipvsadm.restore",
            "pyipvs._native.batch",
            "pyipvs.batch",
            "pyipvs.snapshot",  # its dataclasses: the listing is in pyipvs.listing_native
        }
    )
    assert not unwanted & modules, sorted(unwanted & modules)
    assert {"pyipvs.format_head", "pyipvs.listing_native"} <= modules


@pytest.mark.parametrize("switch", ["-v", "-h"])
def test_version_and_help_read_no_metadata(switch: str) -> None:
    modules, result = _run(f"""
    import pyipvs
    rc, out, err = run({switch!r})
    result = [rc, out.splitlines()[0], pyipvs.__version__]
    """)
    rc, first, version = result
    assert rc == 0
    assert first == f"pyipvsadm {version} (pyipvs; command-line compatible with ipvsadm v1.31)"
    unwanted = _FORMATTERS | _NEVER | {"pyipvs.cli.ipvsadm.listing", "pyipvs.batch"}
    assert not unwanted & modules, sorted(unwanted & modules)


def test_restore_fast_path_imports_no_rollback_or_formatter() -> None:
    # A fast-path line (C scanner) and one for the full parser, both added to
    # the batch as -R adds them; applying is the kernel's part.
    modules, result = _run("""
    from pyipvs.cli.ipvsadm import restore, restore_batch
    from pyipvs.cli.ipvsadm.session import Session
    from pyipvs.cli.ipvsadm.stdio import CStderr, CStdout

    out, err = io.StringIO(), io.StringIO()
    ipvs = Fake()
    s = Session(ipvs, Info((1, 2, 1), 4096), "ipvsadm", CStdout(out), CStderr(err), io.StringIO())
    run_ = restore_batch._Run(s)
    data = b"-A -t 10.0.0.1:80 -s rr\\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1\\n"
    pos = run_.feed(data)
    run_.slow("--add-service --tcp-service 10.0.0.2:80 --scheduler wlc\\n")
    result = [pos, len(data), len(run_.batch), err.getvalue()]
    """)
    pos, size, commands, err = result
    assert (pos, commands, err) == (size, 3, "")
    assert "pyipvs._native.batch" in modules
    unwanted = (
        _FORMATTERS
        | _NEVER
        | {
            "pyipvs.batch_rollback",
            "pyipvs.cli.ipvsadm.helptext",
            "pyipvs.cli.ipvsadm.listing",
        }
    )
    assert not unwanted & modules, sorted(unwanted & modules)


@pytest.mark.parametrize("command", ["apply", "diff"])
def test_reconcile_records_path_imports_no_json(command: str, tmp_path: Path) -> None:
    # `pyipvs apply|diff FILE`: the command line parsed, the save file read
    # as records, planned against an empty live table, the summary printed
    # (apply: with the apply module loaded, as before sending the batch).
    modules, result = _run(f"""
    path = {str(tmp_path)!r} + "/rules"
    with open(path, "w") as f:
        f.write("-A -t 10.0.0.1:80 -s rr\\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1\\n")
    from pyipvs.cli import pyipvs as cli
    from pyipvs import _native
    from pyipvs.cli import pyipvs_reconcile as rec
    from pyipvs.reconcile.records import RecordSide, plan_sides
    from pyipvs.reconcile.render import summary

    args = cli._parser({command!r}).parse_args([{command!r}, path])
    scope = rec._scope(args)
    desired = rec._desired(args, scope, io.StringIO())
    live = RecordSide(_native.restore_records(b""))
    plan = plan_sides(live, desired, scope)
    if {command!r} == "apply":
        from pyipvs.reconcile import apply_plan
    result = [type(desired).__name__, summary(plan)]
    """)
    kind, text = result
    assert kind == "RecordSide"
    assert text.startswith("services: 1 added")
    assert "argparse" in modules  # the extended CLI is argparse's
    unwanted = {"json", "importlib.metadata", "pyipvs.batch_rollback"}
    if command == "diff":
        unwanted |= {"pyipvs.batch", "pyipvs._native.batch", "pyipvs.reconcile.apply"}
    else:
        assert "pyipvs.reconcile.apply" in modules
    assert not unwanted & modules, sorted(unwanted & modules)


def test_numeric_connection_listing_imports_no_python_formatter(tmp_path: Path) -> None:
    # `pyipvsadm -Lnc` over a table in the kernel's format (the C core reads
    # and formats it; Python prints the titles).
    modules, result = _run(f"""
    import pyipvs.conns as conns_mod
    path = {str(tmp_path)!r} + "/ip_vs_conn"
    with open(path, "w") as f:
        f.write("Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\\n"
                "TCP 0A000001 1F90 0A000002 0050 0A000003 0050 ESTABLISHED 899\\n")
    real = conns_mod.ConnTable
    conns_mod.ConnTable = lambda netns=None: real(path=path)
    rc, out, err = run("-Lnc")
    result = [rc, out, err]
    """)
    rc, out, err = result
    assert (rc, err) == (0, "")
    assert str(out).splitlines()[0] == "IPVS connection entries"
    assert str(out).splitlines()[2].split() == [
        "TCP", "14:59", "ESTABLISHED", "10.0.0.1:8080", "10.0.0.2:80", "10.0.0.3:80"
    ]  # fmt: skip
    unwanted = (_FORMATTERS - {"pyipvs.format_conn"}) | _NEVER | {"pyipvs.format_addr"}
    unwanted.add("pyipvs._native.conn_cols")  # rows as objects: not for text
    assert not unwanted & modules, sorted(unwanted & modules)
    assert {"pyipvs.conns", "pyipvs.format_conn"} <= modules


# The thin start with the core's calls stood in (pyipvs._native.thin): the
# table text, the version word and the connection blocks, or a failure.
_THIN = """
import sys
from pyipvs._native import thin

FAIL = {fail!r}

def info_and_table(mode):
    if FAIL:
        raise OSError(97, "stand-in")
    # As the real one: a view of the core's text, not bytes.
    return 0x010201, 4096, memoryview(b"" if mode is None else {text!r})

class ConnText:
    def __init__(self, persistent_conn):
        self.blocks = [b"TCP 14:59  ESTABLISHED 10.0.0.1:8080 10.0.0.2:80 10.0.0.3:80\\n"]

    def block(self):
        return self.blocks.pop() if self.blocks else b""

    def seen(self):
        return 100, False

    def close(self):
        pass

thin.info_and_table = info_and_table
thin.ConnText = ConnText
"""

_QUICK_NEVER = (
    _FORMATTERS
    | _NEVER
    | {
        "pyipvs.model",
        "pyipvs.errors",
        "pyipvs.ipvs",
        "pyipvs.format_head",
        "pyipvs._native._core",
        "pyipvs.cli.ipvsadm.main",
        "pyipvs.cli.ipvsadm.options",
        "dataclasses",
        "enum",
        "typing",
        "ipaddress",
        "re",
        "signal",
        "__future__",
    }
)


EXIT_NOW = "<exit_now>"


def _run_quick(
    argv: list[str], *, fail: bool = False, text: bytes = b"", pre: str = "", stdin: bytes = b"",
    module: str = "pyipvs.cli.ipvsadm.quick",
) -> tuple[set[str], int, bytes]:  # fmt: skip
    """pyipvsadm's console entry (quick.entry) for argv in a fresh `python -S`
    (no site: pyipvs and cffi are found through PYTHONPATH): the modules it
    imported, its exit status and its stdout. A run that ended through
    pyipvs.cli.exit_now (os._exit, stood in here so that the script can
    report) has the marker EXIT_NOW among its modules."""
    import _cffi_backend

    import pyipvs

    script = _THIN.format(fail=fail, text=text) + textwrap.dedent(pre)
    script += f"""
sys.argv = ["pyipvsadm", *{argv!r}]
import os
fast = []
def _exit(code):
    fast.append(code)
    raise SystemExit(code)
os._exit = _exit
from {module} import entry
try:
    entry()
    rc = 0
except SystemExit as exc:
    rc = exc.code
modules = sorted(sys.modules) + ([{EXIT_NOW!r}] if fast else [])
import json
sys.stdout.flush()
print("\\n" + json.dumps({{"modules": modules, "rc": rc}}))
"""
    paths = {
        os.path.dirname(os.path.dirname(os.path.abspath(pyipvs.__file__))),
        os.path.dirname(os.path.abspath(_cffi_backend.__file__)),
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sorted(paths))}
    done = subprocess.run(
        [sys.executable, "-S", "-c", script],
        input=stdin,
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    out, _, last = done.stdout.rstrip(b"\n").rpartition(b"\n")
    doc = json.loads(last)
    return set(doc["modules"]), doc["rc"], out


_TABLE = b"TCP  10.0.0.1:80 wlc\n  -> 10.0.1.1:80                  Masq    1      0    0 \n"


@pytest.mark.parametrize(
    ("argv", "head"),
    [
        (["-Ln"], "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler"),
        (["-L", "-n", "--stats", "-X"], "IP Virtual Server version 1.2.1 (size=4096)\nProt "),
        (["-Sn"], ""),
        (["-Lnc"], "IPVS connection entries\npro expire state"),
    ],
)
def test_thin_start_imports_no_model(argv: list[str], head: str) -> None:
    modules, rc, out = _run_quick(argv, text=_TABLE)
    assert rc == 0
    assert out.decode().startswith(head)
    if argv[0] != "-Lnc":
        assert out.endswith(_TABLE)
    assert not _QUICK_NEVER & modules, sorted(_QUICK_NEVER & modules)
    assert {"pyipvs.cli.ipvsadm.quick", "pyipvs._native.thin", "pyipvs.format_titles"} <= modules
    assert EXIT_NOW in modules  # no interpreter teardown after a thin start


# The full path with the stand-in client of _FAKE (its listing text is empty).
_FULL = (
    """
import io
import pyipvs.cli.ipvsadm.main
"""
    + _FAKE
)


@pytest.mark.parametrize(
    "argv", [["-Ln"], ["-Sn"], ["-Ln", "--rate", "--nosort"], ["-l", "-nX", "--thresholds"]]
)
def test_thin_start_prints_what_the_full_path_prints(argv: list[str]) -> None:
    # The same (empty) table through both: the thin start's heads are the
    # full path's; and a failure of the thin start's core call hands over.
    _, rc, quick = _run_quick(argv)
    modules, rc_full, full = _run_quick(argv, fail=True, pre=_FULL)
    assert (rc, rc_full) == (0, 0)
    assert quick == full
    assert "pyipvs.cli.ipvsadm.main" in modules
    assert EXIT_NOW not in modules  # the full path exits as ever


def test_thin_start_hands_over_what_it_does_not_take() -> None:
    modules, rc, out = _run_quick(["-Ln", "--sort"], pre=_FULL)
    assert rc == 0
    assert out.startswith(b"IP Virtual Server version 1.2.1 (size=4096)\nProt ")
    assert {"pyipvs.cli.ipvsadm.main", "pyipvs.cli.ipvsadm.parse"} <= modules


@pytest.mark.parametrize("switch", ["-v", "--version"])
def test_thin_version_imports_no_model_and_hands_over_failures(switch: str) -> None:
    # The thin -v prints the full path's line once IPVS's info is read; when
    # the read fails the full path runs (and, here, reads the stand-in).
    modules, rc, out = _run_quick([switch])
    assert rc == 0
    assert not _QUICK_NEVER & modules, sorted(_QUICK_NEVER & modules)
    assert EXIT_NOW in modules
    full_modules, rc_full, full = _run_quick([switch], fail=True, pre=_FULL)
    assert (rc_full, full) == (0, out)
    assert out.startswith(b"pyipvsadm ") and out.count(b"\n") == 1
    assert "pyipvs.cli.ipvsadm.main" in full_modules and EXIT_NOW not in full_modules


# -R's thin start with the kernel stood in: the real scan, an apply that
# fails nothing and prints what it was given.
_RESTORE = """
class RestoreBatch(thin.RestoreBatch):
    def __init__(self, netns=None):
        self.version, self.last_cmd, self._b = 0x010201, None, self._new()
        self._pending = None

    def _apply(self, b, n):
        print("applied", n)

thin.RestoreBatch = RestoreBatch
"""


def test_thin_restore_imports_no_model() -> None:
    lines = b"-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m\n" * 3
    modules, rc, out = _run_quick(["-R"], pre=_RESTORE, stdin=lines)
    assert (rc, out) == (0, b"applied 6\n")
    assert not _QUICK_NEVER & modules, sorted(_QUICK_NEVER & modules)
    assert EXIT_NOW in modules
    assert {"pyipvs.cli.ipvsadm.quick_restore", "pyipvs._native.thin"} <= modules


@pytest.mark.parametrize("live", ["same", "other"])
def test_pyipvs_thin_start_imports_no_model_or_argparse(tmp_path: Path, live: str) -> None:
    # `pyipvs apply FILE` of a table the live one already matches, and of
    # one it differs from (the live side stood in by a file's records, the
    # kernel's side of the apply by a function that takes the changes).
    path = tmp_path / "ipvs.rules"
    path.write_text("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1\n")
    other = tmp_path / "other.rules"
    other.write_text("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 2\n")
    pre = f"""
from pyipvs._native import thin_records
text = open({str(path if live == "same" else other)!r}, "rb").read()
thin_records.start_live_records = lambda netns=None: lambda: thin_records.text_records(text)
thin_records.apply_records = lambda changes, netns=None: None
"""
    modules, rc, out = _run_quick(["apply", str(path)], pre=pre, module="pyipvs.cli.quick_pyipvs")
    assert rc == 0
    edited = "0" if live == "same" else "1"
    assert out.startswith(
        b"pyipvs apply: applied: services: 0 added, 0 edited, 0 deleted, 1 unchanged; "
        + f"servers: 0 added, {edited} edited".encode()
    )
    # struct: only the planner splits records into pairs (thin_records.pair_structs).
    unwanted = _QUICK_NEVER | {"argparse", "pyipvs.reconcile.plan", "pyipvs.cli.pyipvs", "struct"}
    assert not unwanted & modules, sorted(unwanted & modules)
    assert {"pyipvs.cli.quick_pyipvs", "pyipvs.reconcile.formats"} <= modules
    assert EXIT_NOW in modules
