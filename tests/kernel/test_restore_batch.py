"""pyipvsadm -R over the batch engine against the real ipvsadm 1.31 -R.

The same input goes to `/usr/sbin/ipvsadm -R` in one namespace and to
pyipvsadm's `main(["ipvsadm", "-R"], ...)` in another, and again through the
console script's thin start (quick_restore.py, handing over to main);
stdout, stderr and the exit status must be identical, and so must the
tables as the real ipvsadm dumps them (`-Sn`). Inputs: every restore input of the differential
suite, failing lines first, in the middle and last among listings, popt
errors and run-ending lines, and a 20,000-line generated table with
failures spread through it.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from typing import TextIO

from conftest import IPVSADM, Netns

from pyipvs.cli.ipvsadm.main import main
from pyipvs.cli.ipvsadm.quick_restore import restore
from pyipvs.ipvs import IPVS

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from diffcases import _RESTORE_INPUTS

from benchmarks.gen_rules import restore_lines, restore_text, rules

Run = tuple[int, str, str]
_BIN: list[str] = []


def _ref_dir() -> str:
    """A tmpfs copy of /usr/sbin/ipvsadm (exec from the VM's 9p root is slow),
    run as `ipvsadm` so that messages quote the same program name as ours."""
    if not _BIN:
        d = tempfile.mkdtemp(prefix="ipvsadm-ref-")
        shutil.copy2(IPVSADM, os.path.join(d, "ipvsadm"))
        _BIN.append(d)
    return _BIN[0]


def _reference_runs(ns: Netns, texts: list[str], merged: bool = False) -> list[tuple[Run, str]]:
    """Each text through the real `ipvsadm -R`, then `-Sn`, then `-C`, all in
    one shell (process starts are what costs in the VM)."""
    work = tempfile.mkdtemp(prefix="restore-ref-")
    script = [f"PATH={_ref_dir()}:/usr/sbin:/usr/bin:/sbin:/bin"]
    for i, text in enumerate(texts):
        with open(
            os.path.join(work, f"in{i}"), "w", encoding="utf-8", errors="surrogateescape"
        ) as f:
            f.write(text)
        w = f"{work}/{i}"
        err = "&1" if merged else f"{w}.err"
        # a subshell that execs: a crash is reported as status 139, not by sh
        script.append(f"(exec ipvsadm -R) <{work}/in{i} >{w}.out 2>{err}; echo $? >{w}.rc")
        script.append(f"ipvsadm -Sn >{w}.table; ipvsadm -C")
    r = ns.run(["sh", "-c", "\n".join(script)])
    assert r.returncode == 0, r.stderr

    def read(name: str) -> str:
        with open(name, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()

    out = []
    for i in range(len(texts)):
        w = f"{work}/{i}"
        run = (int(read(f"{w}.rc")), read(f"{w}.out"), "" if merged else read(f"{w}.err"))
        out.append((run, read(f"{w}.table")))
    shutil.rmtree(work)
    return out


def _ours(ns: Netns, text: str, merged: bool = False) -> tuple[Run, str]:
    """pyipvsadm -R in-process, then our -Sn and a flush (the reference's
    tables come from the real ipvsadm)."""
    out = io.StringIO()
    err = out if merged else io.StringIO()
    rc = main(["ipvsadm", "-R"], io.StringIO(text), out, err, netns=ns.name)
    run = (rc, out.getvalue(), "" if merged else err.getvalue())
    table = io.StringIO()
    assert main(["ipvsadm", "-Sn"], io.StringIO(), table, io.StringIO(), netns=ns.name) == 0
    with IPVS(ns.name) as ipvs:
        ipvs.flush()
    return run, table.getvalue()


def _thin(ns: Netns, text: str, out: TextIO, err: TextIO) -> int:
    """pyipvsadm -R as the console script runs it: the thin start
    (quick_restore.py), and the full path for what it hands over."""
    raw = io.BytesIO(text.encode("utf-8", "surrogateescape"))
    status, carry = restore(raw, ns.path)
    if status is not None:
        return status
    rest = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="\n")
    return main(["ipvsadm", "-R"], rest, out, err, netns=ns.name, carry=carry)


def _ours_thin(ns: Netns, text: str, merged: bool = False) -> tuple[Run, str]:
    out = io.StringIO()
    err = out if merged else io.StringIO()
    rc = _thin(ns, text, out, err)
    run = (rc, out.getvalue(), "" if merged else err.getvalue())
    table = _table(ns)
    with IPVS(ns.name) as ipvs:
        ipvs.flush()
    return run, table


def _compare(a: Netns, b: Netns, inputs: list[tuple[str, str]], merged: bool = False) -> list[Run]:
    """Each input through the real ipvsadm, pyipvsadm's full path and its
    thin start: the same output, status and table."""
    want = _reference_runs(a, [text for _, text in inputs], merged)
    runs = []
    for (name, text), (ref, ref_table) in zip(inputs, want):
        for ours in (_ours, _ours_thin):
            got, table = ours(b, text, merged)
            if name in ("help", "version"):  # our own help and version texts, on purpose
                ref, got = (ref[0], "", ref[2]), (got[0], "", got[2])
            assert (got, table) == (ref, ref_table), f"restore input {name!r}, {ours.__name__}"
        runs.append(got)
    return runs


def _table(ns: Netns) -> str:
    return ns.run([IPVSADM, "-Sn"]).stdout


def test_every_restore_input_of_the_differential_suite(netns_pair: tuple[Netns, Netns]) -> None:
    _compare(*netns_pair, list(_RESTORE_INPUTS))


GOOD = "-A -t 10.1.1.1:80 -s rr\n-a -t 10.1.1.1:80 -r 10.2.0.1 -m\n"
MIXED = [
    # kernel failures first, in the middle and last, around listings
    "-D -t 10.9.9.9:80\n-d -t 10.9.9.9:80 -r 10.2.0.1\n" + GOOD + "-Ln\n-A -t 10.1.1.1:80\n"
    "-a -t 10.1.1.1:80 -r 10.2.0.1 -m\n-Sn\n-e -t 10.1.1.1:80 -r 10.2.0.7\n",
    # popt errors between batched lines keep their place among kernel errors
    GOOD + "-A -t 10.1.1.1:80\n-A -t 10.1.1.2:80 --bogus\n-A -t 10.1.1.1:80\n-a -t 10.1.1.1:80 -s\n"
    "-A -t 10.1.1.3:80\n",
    # a flush and zeroing record no operation (wording of later errors)
    GOOD + "-C\n-a -t 10.1.1.1:80 -r 10.2.0.1\n-Z\n-Z -t 10.1.1.1:80\n-E -t 10.1.1.1:80\n"
    "-L -n\n-D -t 10.1.1.1:80\n",
    # full-parser lines (names, odd spellings) between plain ones
    (
        "-A -t 127.0.0.1:http -s rr\n-a -t 127.0.0.1:80 -r localhost:8080 -m\n-At 10.1.1.5:81\n"
        "-A -t 10.1.1.5:81\n--set 10 20 30\n-L --timeout\n--set 900 120 300\n-a -f 7 -r 10.2.0.1\n"
        "-A -f 7 -6 -s wrr\n-a -f 7 -6 -r [2001:db8::7]:0 -g -w 4\n-A -f 7 -6\n"
    ),
    # a usage error ends the run after the failures before it are printed
    GOOD + "-A -t 10.1.1.1:80\n-A -t 10.1.1.9:0\n-A -t 10.1.1.8:80\n",
    # the last line fails and has no newline
    GOOD + "-Ln\n-a -t 10.1.1.1:80 -r 10.2.0.1 -m",
    # a listing of a missing service ends the run with status 1
    GOOD + "-A -t 10.1.1.1:80\n-L -n -t 10.9.9.9:80\n-A -t 10.1.1.4:80\n",
]


def test_failing_lines_listings_and_run_enders(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    inputs = [(f"mixed-{i}", text) for i, text in enumerate(MIXED)]
    runs = _compare(a, b, inputs)
    assert {rc for rc, _, _ in runs} == {0, 1, 2, 255}
    assert all(err for _, _, err in runs)  # every input has failing lines
    # stdout is block-buffered and stderr not, as in C: one stream shows the order
    _compare(a, b, inputs, merged=True)


def _large() -> str:
    lines = restore_lines(rules(1900, 9, seed=3))  # 19,000 lines
    out = ["-D -t 10.9.9.9:80"]  # fails first
    for i, line in enumerate(lines):
        out.append(line)
        if i % 997 == 5:
            out.append(line)  # fails: already exists
        if i % 4999 == 7:
            out.append("-d -t 198.18.0.1:81 -r 10.0.1.99")  # fails: no such destination
    out.insert(len(out) // 2, "-L -n --timeout")
    out.append(lines[0])  # fails last: the status is 255
    return "\n".join(out) + "\n"


def test_large_restore_matches_ipvsadm(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    text = _large()
    assert text.count("\n") > 19000
    ref = a.run(["sh", "-c", f"PATH={_ref_dir()}:/usr/sbin:/usr/bin; exec ipvsadm -R"], text)
    out, err = io.StringIO(), io.StringIO()
    rc = main(["ipvsadm", "-R"], io.StringIO(text), out, err, netns=b.name)
    assert (rc, out.getvalue(), err.getvalue()) == (ref.returncode, ref.stdout, ref.stderr)
    assert rc == 255 and err.getvalue().count("\n") >= 20
    table = _table(b)
    assert table == _table(a) and len(table.splitlines()) == 1900 * 10
    # The thin start: its first batch fails in part (first line, then every
    # 997th) and the listing halfway is the full parser's.
    b.ipvsadm("-C")
    out, err = io.StringIO(), io.StringIO()
    rc = _thin(b, text, out, err)
    assert (rc, out.getvalue(), err.getvalue()) == (ref.returncode, ref.stdout, ref.stderr)
    assert _table(b) == table


def test_thin_start_restores_plain_lines_by_itself(netns_pair: tuple[Netns, Netns]) -> None:
    # More commands than one batch holds, all plain: the thin start applies
    # them all and hands nothing over; the full path makes the same table.
    a, b = netns_pair
    text = restore_text(rules(2100, 9, seed=5))
    assert text.count("\n") == 21000
    assert restore(io.BytesIO(text.encode()), b.path) == (0, None)
    rc = main(["ipvsadm", "-R"], io.StringIO(text), io.StringIO(), io.StringIO(), netns=a.name)
    assert rc == 0
    table = _table(b)
    assert table == _table(a) and len(table.splitlines()) == 21000
