"""Bad input everywhere (kernel tests: run through ci/vm-run.sh).

- `pyipvsadm -R` on malformed lines, binary garbage, a line of megabytes,
  invalid UTF-8 and two million blank lines: the same output, messages and
  status as the real `ipvsadm -R`, the same resulting table, and bounded
  memory (peak RSS measured).
- `pyipvs restore`: bad lines reported with their numbers and nothing
  applied; a kernel failure with --atomic leaves the table as it was.
- Command-line values out of range: the same as ipvsadm.
- Library values of the wrong type or range: IPVSValueError or TypeError,
  and nothing reaches the kernel (the handle is never called).
"""

from __future__ import annotations

import io
import ipaddress
import os
import subprocess
import sys
from typing import Any

import pytest
from conftest import IPVSADM, Netns

from pyipvs import (
    IPVS,
    Daemon,
    DaemonState,
    Family,
    Forward,
    IPVSError,
    IPVSValueError,
    Protocol,
    Server,
    Service,
    ServiceKey,
    Timeouts,
)
from pyipvs.cli.ipvsadm.main import main as pyipvsadm_main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "PYTHONPATH": ROOT}
ip = ipaddress.ip_address

GOOD = b"-A -t 10.1.1.1:80 -s rr\n-a -t 10.1.1.1:80 -r 10.2.0.1:80 -m\n"


def _ours(netns: Netns, args: list[str], stdin: bytes) -> tuple[str, str, int]:
    """pyipvsadm in this process, with stdin decoded as its entry point does."""
    src = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8", errors="surrogateescape",
                           newline="\n")  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    rc = pyipvsadm_main([IPVSADM, *args], src, out, err, netns=netns.path)
    return out.getvalue(), err.getvalue(), rc


def _ref(netns: Netns, args: list[str], stdin: bytes) -> tuple[str, str, int]:
    r = subprocess.run(["nsenter", f"--net={netns.path}", IPVSADM, *args], input=stdin,
                       capture_output=True)  # fmt: skip
    dec = {"encoding": "utf-8", "errors": "surrogateescape"}
    return r.stdout.decode(**dec), r.stderr.decode(**dec), r.returncode


# Runs a module as __main__ and, at exit, writes the process's VmHWM (peak
# RSS since exec; ru_maxrss would also count the parent's size at fork).
_HWM = (
    "import atexit, os, runpy, sys\n"
    "def hwm():\n"
    "    with open('/proc/self/status') as f:\n"
    "        kib = f.read().split('VmHWM:')[1].split()[0]\n"
    "    with open(os.environ['HWM_FILE'], 'w') as f:\n"
    "        f.write(kib)\n"
    "atexit.register(hwm)\n"
    "sys.argv = ['ipvsadm', *sys.argv[2:]]\n"
    "runpy.run_module(MODULE, run_name='__main__')\n"
)


def _measured(netns: Netns, module: str, args: list[str], stdin: bytes,
              tmp: Any) -> tuple[bytes, bytes, int, int]:  # fmt: skip
    """Run `python -m module args` in netns; (stdout, stderr, status, peak RSS KiB)."""
    hwm = tmp / "hwm"
    code = _HWM.replace("MODULE", repr(module))
    r = subprocess.run(["nsenter", f"--net={netns.path}", sys.executable, "-c", code, module,
                        *args], input=stdin, capture_output=True,
                       env={**ENV, "HWM_FILE": str(hwm)})  # fmt: skip
    return r.stdout, r.stderr, r.returncode, int(hwm.read_text())


RESTORE_CASES = {
    "malformed": GOOD + b"-a -t 10.1.1.1:80 -r\n-A -t 10.1.1.2:99999\n-x\n-A -t 10.1.1.3:80\n",
    "garbage": GOOD + bytes(range(256)) * 8 + b"\n-A -t 10.1.1.4:80\n",
    "nul_and_cr": b"-A -t 10.1.1.1:80\0 -s rr\r\n-A\r-t 10.1.1.5:80\n",
    "invalid_utf8": GOOD + b"-A -t 10.1.1.6:80 -s \xff\xfe\n-A -t 10.1.1.7:80 --pe \xc3\n",
    "huge_line": GOOD + b"-A -t 10.1.1.8:80 -s " + b"r" * (3 << 20) + b"\n-A -t 10.1.1.9:80\n",
    "huge_token_run": b"-A " * (1 << 18) + b"\n" + GOOD,
    "unterminated": GOOD + b"-A -t 10.1.2.1:80  ",
}


@pytest.mark.parametrize("case", sorted(RESTORE_CASES))
def test_restore_bad_input_same_as_ipvsadm(netns_pair: tuple[Netns, Netns], case: str) -> None:
    a, b = netns_pair
    data = RESTORE_CASES[case]
    ref = _ref(a, ["-R"], data)
    ours = _ours(b, ["-R"], data)
    assert ours == ref
    assert a.ipvsadm_out("-Sn") == b.ipvsadm_out("-Sn")


def test_two_million_blank_lines_in_bounded_memory(
    netns_pair: tuple[Netns, Netns], tmp_path: Any
) -> None:
    # Streamed, not slurped: pyipvsadm -R (its own process, for a clean peak
    # RSS) on 2,000,001 lines (~8 MB) ends like ipvsadm, well inside a
    # memory bound that a whole-input copy of it per line would exceed.
    a, b = netns_pair
    data = b" \t \n" * 2_000_000 + b"-A -t 10.1.1.1:80\n"
    ref = _ref(a, ["-R"], data)
    out, err, rc, peak_kib = _measured(b, "pyipvs.cli.ipvsadm", ["-R"], data, tmp_path)
    assert (out.decode(), err.decode(), rc) == ref
    assert a.ipvsadm_out("-Sn") == b.ipvsadm_out("-Sn")
    print(f"pyipvsadm -R, 2,000,001 lines: peak RSS {peak_kib} KiB")
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB"


def test_a_million_line_restore_is_refused_whole(netns: Netns, tmp_path: Any) -> None:
    # `pyipvs restore`: one bad line among a million; it is reported with its
    # number, nothing is applied, and memory stays proportional to the input.
    path = tmp_path / "big.restore"
    lines = [f"-a -t 10.1.1.1:80 -r 10.{2 + i // 65025}.{i // 255 % 255}.{i % 255 + 1}:80 -m"
             for i in range(1_000_000)]  # fmt: skip
    lines.insert(0, "-A -t 10.1.1.1:80 -s rr")
    lines.insert(777_777, "-a -t 10.1.1.1:80 -r 10.9.9.9:99999 -m")
    path.write_text("\n".join(lines) + "\n")
    size = path.stat().st_size
    _, err_b, rc, peak_kib = _measured(
        netns, "pyipvs.cli.pyipvs", ["restore", "--atomic", str(path)], b"", tmp_path
    )
    r = subprocess.CompletedProcess([], rc, "", err_b.decode())
    assert r.returncode == 2, r.stderr
    assert "778" in r.stderr.splitlines()[0] and "99999" in r.stderr, r.stderr[:500]
    assert netns.ipvsadm_out("-Sn") == ""
    assert peak_kib * 1024 < 12 * size + (150 << 20), peak_kib


def _restore(netns: Netns, data: bytes, *args: str) -> tuple[str, str, int]:
    r = subprocess.run(
        ["nsenter", f"--net={netns.path}", sys.executable, "-m", "pyipvs.cli.pyipvs", "restore",
         *args], input=data, capture_output=True, env=ENV,
    )  # fmt: skip
    dec = {"encoding": "utf-8", "errors": "surrogateescape"}
    return r.stdout.decode(**dec), r.stderr.decode(**dec), r.returncode


def _numbers(stderr: str) -> list[int]:
    """The line numbers of `pyipvs restore: line N: ...` messages."""
    out = []
    for line in stderr.splitlines():
        head, _, rest = line.partition(": line ")
        if head == "pyipvs restore" and rest.split(":")[0].isdigit():
            out.append(int(rest.split(":")[0]))
    return out


def test_pyipvs_restore_line_numbers_and_atomic(netns: Netns) -> None:
    bad = (b"-A -t 10.1.1.1:80 -s rr\n-A -t 10.1.1.2:80 -s\n\xff\xfe\x00garbage\n"
           b"-a -t 10.1.1.1:80 -r 10.2.0.1 -w -3\n-A -t 10.1.1.3:80\n")  # fmt: skip
    out, err, rc = _restore(netns, bad)
    assert (rc, out) == (2, ""), err
    assert _numbers(err) == [2, 3, 4], err
    assert err.endswith("3 invalid lines; nothing was applied\n"), err
    assert netns.ipvsadm_out("-Sn") == ""
    # Valid lines, one of which the kernel refuses: with --atomic the table
    # returns to what it was before (one existing service).
    netns.ipvsadm_out("-A", "-t", "10.1.1.9:80", "-s", "wlc")
    before = netns.ipvsadm_out("-Sn")
    text = (
        b"-A -t 10.1.1.1:80 -s rr\n-a -t 10.1.1.1:80 -r 10.2.0.1:80 -m\n"
        b"-E -t 10.1.1.9:80 -s rr\n-a -t 10.1.1.1:80 -r 10.2.0.1:80 -m\n"
    )
    out, err, rc = _restore(netns, text, "--atomic")
    assert rc == 1, err
    assert _numbers(err) == [4] and "Destination already exists" in err, err
    assert "rolled back" in err, err
    assert netns.ipvsadm_out("-Sn") == before


CLI_CASES = [
    ["-A", "-t", "10.1.1.1:65536"],
    ["-A", "-t", "10.1.1.1:-1"],
    ["-A", "-t", "10.1.1.1:80", "-p", "4294967296"],
    ["-A", "-t", "10.1.1.1:80", "-p", "-5"],
    ["-A", "-f", "4294967296"],
    ["-A", "-f", "0"],
    ["-A", "-t", "10.1.1.1:80", "-M", "255.255.0.255"],
    ["-A", "-t", "300.1.1.1:80"],
    ["-A", "-t", "10.1.1.1:80", "-s", "x" * 100],
    ["-a", "-t", "10.1.1.1:80", "-r", "10.2.0.1", "-w", "-1"],
    ["-a", "-t", "10.1.1.1:80", "-r", "10.2.0.1", "-w", "2147483648"],
    ["-a", "-t", "10.1.1.1:80", "-r", "10.2.0.1", "-x", "4294967296"],
    ["--set", "4294967296", "0", "0"],
    ["--set", "-1", "0", "0"],
    ["--start-daemon", "master", "--syncid", "256"],
    ["--start-daemon", "master", "--mcast-port", "70000"],
    ["--start-daemon", "master", "--mcast-ttl", "0"],
    ["--start-daemon", "master", "--mcast-interface", "x" * 40],
]


def test_cli_values_out_of_range_same_as_ipvsadm(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    a.ipvsadm_out("-A", "-t", "10.1.1.1:80")
    b.ipvsadm_out("-A", "-t", "10.1.1.1:80")
    diffs = []
    for args in CLI_CASES:
        ref, ours = _ref(a, args, b""), _ours(b, args, b"")
        if ref != ours:
            diffs.append((args, ref, ours))
        assert ref[2] != 0, args
    assert diffs == []
    assert a.ipvsadm_out("-Sn") == b.ipvsadm_out("-Sn")


class _Spy:
    """Stands between IPVS and its real handle and records every call that
    would reach the kernel; the calls still go through."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, []  # type: ignore[var-annotated]

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if callable(attr):

            def record(*a: Any, **k: Any) -> Any:
                self.calls.append(name)
                return attr(*a, **k)

            return record
        return attr


KEY = ServiceKey.tcp("10.1.1.1", 80)
SRV = Server(ip("10.2.0.1"), 80, Forward.MASQ)
BAD_CALLS: list[tuple[str, Any]] = [
    ("port 65536", lambda i: i.add_service(Service(ServiceKey.tcp("10.1.1.1", 65536), "rr"))),
    ("port -1", lambda i: i.add_service(Service(ServiceKey.tcp("10.1.1.1", -1), "rr"))),
    ("port str", lambda i: i.add_service(Service(ServiceKey.tcp("10.1.1.1", "80"), "rr"))),
    ("fwmark 2**32", lambda i: i.add_service(Service(ServiceKey.fw(2**32), "rr"))),
    ("sched too long", lambda i: i.add_service(Service(KEY, "x" * 16))),
    ("sched bytes", lambda i: i.add_service(Service(KEY, b"rr"))),
    ("pe too long", lambda i: i.add_service(Service(KEY, "rr", pe_name="x" * 17))),
    ("timeout -1", lambda i: i.add_service(Service(KEY, "rr", timeout=-1))),
    ("netmask 2**32", lambda i: i.add_service(Service(KEY, "rr", netmask=2**32))),
    (
        "family mix",
        lambda i: i.add_service(
            Service(ServiceKey(Family.INET, Protocol.TCP, ip("2001:db8::1"), 80), "rr")
        ),
    ),
    ("weight -1", lambda i: i.add_server(KEY, Server(ip("10.2.0.1"), 80, Forward.MASQ, -1))),
    ("weight 2**31", lambda i: i.add_server(KEY, Server(ip("10.2.0.1"), 80, Forward.MASQ, 2**31))),
    ("weight float", lambda i: i.add_server(KEY, Server(ip("10.2.0.1"), 80, Forward.MASQ, 1.5))),
    ("address str", lambda i: i.add_server(KEY, Server("10.2.0.1", 80))),
    ("address None", lambda i: i.add_server(KEY, Server(None, 80))),
    ("u_threshold -1", lambda i: i.add_server(KEY, Server(ip("10.2.0.1"), 80, u_threshold=-1))),
    ("server v6 masq", lambda i: i.add_server(KEY, Server(ip("2001:db8::2"), 80, Forward.MASQ))),
    ("key not a key", lambda i: i.add_server("10.1.1.1:80", SRV)),
    ("service None", lambda i: i.add_service(None)),
    ("timeouts -1", lambda i: i.set_timeouts(Timeouts(-1, 0, 0))),
    ("timeouts 2**32", lambda i: i.set_timeouts(Timeouts(2**32, 0, 0))),
    ("ifname too long", lambda i: i.start_daemon(Daemon(DaemonState.MASTER, "x" * 16, 1))),
]


def test_library_refuses_bad_values_before_sending(netns: Netns) -> None:
    # One namespace for every case: each must fail before the handle is used.
    problems = []
    with IPVS(netns.name) as ipvs:
        spy = _Spy(ipvs._runner._handle)
        ipvs._runner._handle = spy  # type: ignore[assignment]
        for what, call in BAD_CALLS:
            try:
                call(ipvs)
                problems.append(f"{what}: accepted")
            except (IPVSValueError, TypeError) as e:
                if not str(e):
                    problems.append(f"{what}: {type(e).__name__} without a message")
            except Exception as e:  # noqa: BLE001 - any other outcome is the failure
                problems.append(f"{what}: {type(e).__name__}: {e}")
            if spy.calls:
                problems.append(f"{what}: reached the kernel via {spy.calls}")
                spy.calls.clear()
        ipvs._runner._handle = spy.real
    assert problems == []
    assert netns.ipvsadm_out("-Sn") == ""


def test_values_only_the_kernel_can_judge(netns: Netns) -> None:
    # Encodable but meaningless values go to the kernel, which must refuse
    # them with its own errno; none may be accepted as something else (a
    # syncid the kernel kept in 8 bits would silently be another one).
    with IPVS(netns.name) as ipvs:
        # 300 is no IP protocol, yet the kernel's netlink path would store it
        # (seen on 6.1): the library refuses it before sending.
        odd = ServiceKey(Family.INET, 300, ip("10.1.1.1"), 80)  # type: ignore[arg-type]
        with pytest.raises(IPVSValueError, match="protocol"):
            ipvs.add_service(Service(odd, "rr"))
        with pytest.raises(IPVSError):
            ipvs.start_daemon(Daemon(7, "dummy0", 1))  # type: ignore[arg-type]
        try:
            ipvs.start_daemon(Daemon(DaemonState.MASTER, "dummy0", 256))
        except IPVSValueError:
            pass
        else:
            got = [d.syncid for d in ipvs.daemons()]
            ipvs.stop_daemon(DaemonState.MASTER)
            assert got == [256], f"syncid 256 became {got}"
        assert ipvs.services() == []
