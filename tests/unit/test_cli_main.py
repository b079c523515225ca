"""pyipvsadm's main(): which library calls a command line makes, exit statuses,
the -R loop, error wording and output buffering (host only).

A small recording stand-in replaces the library client here, only to see
which calls a command line produces; what the kernel does with them is the
business of tests/kernel/test_ipvsadm_diff.py, against the real ipvsadm.
"""

from __future__ import annotations

import errno
import importlib
import io
import ipaddress
import os
import shlex
import subprocess
from typing import Any

import pytest

from pyipvs.cli.ipvsadm.stdio import CStdout
from pyipvs.errors import IPVSError, Op
from pyipvs.format import ListFormat, save_lines, service_lines
from pyipvs.model import Info, Service, ServiceKey, ServiceStatus
from pyipvs.names import NumericResolver
from pyipvs.sorting import sort_services

M = importlib.import_module("pyipvs.cli.ipvsadm.main")


class Recorder:
    """Records calls; raises the errno queued for an operation name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: dict[str, int] = {}
        self.table: list[ServiceStatus] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            if name in self.fail:
                raise IPVSError(self.fail[name], None)
            if name == "services":
                return list(self.table)
            if name == "snapshot":  # the whole table in one call (pyipvs.snapshot)
                from pyipvs.snapshot import Snapshot

                return Snapshot(0.0, tuple(self.table), {s.key: () for s in self.table})
            if name == "numeric_listing":  # the same, formatted by the C core: stand-in
                return _numeric_listing(self.table, *args, **kwargs)
            if name in ("servers", "daemons"):
                return []
            return None

        return call


def _numeric_listing(
    table: list[ServiceStatus], fmt: ListFormat, save: bool = False
) -> tuple[str, int]:
    # Services without servers, through the Python formatters that the C
    # core reproduces (tests/unit/test_list_fmt.py holds them equal).
    lines = []
    for s in sort_services(table):
        if save:
            lines += save_lines(s, [], True, NumericResolver())
        else:
            lines += service_lines(s, [], fmt, NumericResolver())
    return "".join(line + "\n" for line in lines), len(table)


@pytest.fixture
def rec(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    r = Recorder()
    monkeypatch.setattr(M, "_try_open", lambda netns: (r, Info((1, 2, 1), 4096)))
    return r


def run(line: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = M.main(["ipvsadm", *shlex.split(line)], io.StringIO(stdin), out, err)
    return rc, out.getvalue(), err.getvalue()


def names(rec: Recorder) -> list[str]:
    return [n for n, _ in rec.calls if n != "close"]


def test_commands_map_to_library_calls(rec: Recorder) -> None:
    assert run("-A -t 10.0.0.1:80 -s rr")[0] == 0
    assert run("-E -f 3 -6")[0] == 0
    assert run("-D -u 10.0.0.1:53")[0] == 0
    assert run("-a -t 10.0.0.1:80 -r 10.0.0.2")[0] == 0
    assert run("-e -t 10.0.0.1:80 -r 10.0.0.2 -w 3")[0] == 0
    assert run("-d -t 10.0.0.1:80 -r 10.0.0.2")[0] == 0
    assert run("-Z")[0] == 0
    assert run("-Z -t 0.0.0.0:0")[0] == 0
    assert run("-Z -t 10.0.0.1:80")[0] == 0
    assert run("-C")[0] == 0
    assert run("--set 1 2 3")[0] == 0
    assert run("--start-daemon master")[0] == 0
    assert run("--stop-daemon backup --syncid 4")[0] == 0
    assert names(rec) == [
        "add_service", "edit_service", "delete_service", "add_server", "edit_server",
        "delete_server", "zero", "zero", "zero", "flush", "set_timeouts", "start_daemon",
        "stop_daemon",
    ]  # fmt: skip
    zeros = [args for n, args in rec.calls if n == "zero"]
    assert zeros[0] == (None,) and zeros[1] == (None,)
    assert zeros[2] == (ServiceKey.tcp("10.0.0.1", 80),)


def test_nothing_reaches_the_library_for_a_rejected_line(rec: Recorder) -> None:
    assert run("-A -t 10.0.0.1:80 -s rr -o") == (
        2,
        "",
        "One-Packet Scheduling is only for UDP virtual services\n",
    )
    assert names(rec) == []


def test_kernel_error_wording_and_status(rec: Recorder) -> None:
    rec.fail["add_service"] = errno.EEXIST
    assert run("-A -t 10.0.0.1:80") == (255, "", "Service already exists\n")
    rec.fail["add_server"] = errno.ESRCH
    assert run("-a -t 10.0.0.1:80 -r 10.0.0.2") == (255, "", "Service not defined\n")
    rec.fail["service"] = errno.ESRCH
    assert run("-L -t 10.0.0.1:80") == (1, "", "No such service\n")
    rec.fail["timeouts"] = errno.EPERM
    assert run("-L --timeout") == (1, "", "")


def test_flush_errors_are_worded_after_the_previous_operation(rec: Recorder) -> None:
    # ipvsadm's flush records no operation: after a failed -a in the same
    # restore, its ESRCH would read "Service not defined".
    rec.fail["add_server"] = errno.ESRCH
    rec.fail["flush"] = errno.ESRCH
    rc, _, err = run("-R", "-a -t 10.0.0.1:80 -r 10.0.0.2\n-C\n")
    assert (rc, err) == (255, "Service not defined\nService not defined\n")
    rc, _, err = run("-C")
    assert (rc, err) == (255, "No such process\n")


def test_restore_status_is_the_last_non_blank_line(rec: Recorder) -> None:
    rec.fail["delete_service"] = errno.ESRCH
    assert run("-R", "-D -t 10.0.0.1:80\n-A -t 10.0.0.1:80\n\n")[0] == 0
    assert run("-R", "-A -t 10.0.0.1:80\n-D -t 10.0.0.1:80\n  \n")[0] == 255
    assert run("-R", "-A -t 10.0.0.1:80\n-L --bogus\n")[0] == 255


def test_restore_stops_at_a_fatal_line(rec: Recorder) -> None:
    rc, out, err = run("-R", "-A -t 10.0.0.1:80\n-A -t 10.0.0.2:0\n-A -t 10.0.0.3:80\n")
    assert (rc, err) == (2, "Zero port specified for non-persistent service\n")
    assert names(rec) == ["add_service"]
    rc, out, err = run("-R", "# comment\n-A -t 10.0.0.3:80\n")
    assert rc == 255 and err.startswith("Try `ipvsadm -h'")
    rc, out, err = run("-R", "-R\n")
    assert rc == 255
    rc, out, err = run("-R", "-v\n-A -t 10.0.0.4:80\n")
    assert rc == 0 and out.startswith("pyipvsadm ")
    assert names(rec) == ["add_service"]


def test_crash_loses_buffered_output(rec: Recorder) -> None:
    rc, out, err = run("-R", "-L -n\n-A -t 10.0.0.1:80 -b ,\n")
    assert (rc, out, err) == (139, "", "")


def test_listing_fetches_in_ipvsadm_order(rec: Recorder) -> None:
    rec.table = [
        ServiceStatus(Service(ServiceKey.tcp("10.0.0.1", 80), scheduler="rr")),
        ServiceStatus(Service(ServiceKey.tcp("200.0.0.1", 80), scheduler="rr")),
    ]
    rc, out, err = run("-Ln")
    assert rc == 0 and err == ""
    assert out.splitlines()[0] == "IP Virtual Server version 1.2.1 (size=4096)"
    # 200.0.0.1 sorts first: ipvsadm compares addresses as wrapping ints
    assert out.splitlines()[3:] == ["TCP  200.0.0.1:80 rr", "TCP  10.0.0.1:80 rr"]
    assert names(rec) == ["numeric_listing"]  # one call: the whole table, formatted in C
    rec.fail["numeric_listing"] = errno.ENOMEM
    rc, out, err = run("-Sn")
    assert (rc, out, err) == (1, "", "Memory allocation problem\n")
    rec.calls.clear()
    assert run("-L")[0] == 0 and names(rec) == ["snapshot"]  # names are resolved in Python
    rec.fail["snapshot"] = errno.ENOMEM
    assert run("-L") == (
        1,
        "IP Virtual Server version 1.2.1 (size=4096)\n",
        "Memory allocation problem\n",
    )


def test_help_and_version_need_no_listing(rec: Recorder) -> None:
    rc, out, err = run("-h")
    assert rc == 0 and "--add-service" in out and err == ""
    assert run("--version")[0] == 0
    assert names(rec) == []


def test_init_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(netns: str | None) -> Any:
        raise IPVSError(errno.EPERM, Op.INIT)

    probes: list[int] = []

    def modprobe() -> int:
        probes.append(1)
        return 1

    monkeypatch.setattr(M, "_try_open", fail)
    monkeypatch.setattr(M, "_modprobe", modprobe)
    assert run("-h") == (
        2,
        "",
        (
            "Can't initialize ipvs: Permission denied (you must be root)\n"
            "Are you sure that IP Virtual Server is built in the kernel or as module?\n"
        ),
    )
    assert probes == [1]


def test_init_retries_after_modprobe(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    attempts: list[int] = []

    def open_once(netns: str | None) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise IPVSError(errno.ENOPROTOOPT, Op.INIT)
        return rec, Info((1, 2, 1), 4096)

    monkeypatch.setattr(M, "_try_open", open_once)
    monkeypatch.setattr(M, "_modprobe", lambda: 0)
    assert run("-C")[0] == 0 and len(attempts) == 2


def test_old_kernel_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    monkeypatch.setattr(M, "_try_open", lambda netns: (rec, Info((1, 1, 0), 4096)))
    rc, _out, err = run("-C")
    assert rc == 0
    assert err == (
        "Warning: IPVS version mismatch: \n  Kernel compiled with IPVS version 1.1.0\n"
        "  ipvsadm v1.31  requires minimum IPVS version 1.1.4\n\n"
    )


def test_c_stdout_writes_whole_blocks() -> None:
    target = io.StringIO()
    out = CStdout(target, block=8)
    out.write("abc")
    assert target.getvalue() == ""
    out.write("defghij")
    assert target.getvalue() == "abcdefgh"
    out.write("klmnopqrstuvwxyz!")
    assert target.getvalue() == "abcdefghijklmnopqrstuvwx"
    out.discard()
    out.flush()
    assert target.getvalue() == "abcdefghijklmnopqrstuvwx"
    line = io.StringIO()
    lb = CStdout(line, block=None)
    lb.write("ab")
    assert line.getvalue() == ""
    lb.write("c\nd")
    assert line.getvalue() == "abc\nd"


@pytest.mark.skipif(
    os.path.isdir("/proc/sys/net/ipv4/vs") or not os.access("/usr/sbin/ipvsadm", os.X_OK),
    reason="compares the two on a host without IPVS",
)
@pytest.mark.parametrize("args", [["-L"], ["-h"], ["-A", "-t", "x"], []])
def test_no_ipvs_on_this_host_same_as_ipvsadm(args: list[str]) -> None:
    real = subprocess.run(["/usr/sbin/ipvsadm", *args], capture_output=True, text=True)
    out, err = io.StringIO(), io.StringIO()
    rc = M.main(["ipvsadm", *args], io.StringIO(), out, err)
    # modprobe's own complaint goes to the real stderr in both cases
    want_err = "\n".join(line for line in real.stderr.splitlines() if "modprobe" not in line)
    assert (rc, out.getvalue(), err.getvalue().rstrip("\n")) == (
        real.returncode,
        real.stdout,
        want_err,
    )


def test_addresses_in_calls(rec: Recorder) -> None:
    run("-a -f 7 -6 -r [2001:db8::2]:8080 -m")
    (_, (key, server)), *_ = rec.calls
    assert key == ServiceKey.fw(7, key.family) and key.family == 10
    assert server.address == ipaddress.IPv6Address("2001:db8::2") and server.port == 8080


CONN_SAMPLE = (
    b"Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"
    b"TCP 0A000002 C350 CFAF2C6E 1F90 AC100002 1F90 ESTABLISHED     899\n"
    b"UDP 0A000002 D431 0A000001 0035 C0A8010A 0035 UDP             299\n"
)


def _conn_table(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    import pyipvs.conns as conns

    real = getattr(conns.ConnTable, "_real", conns.ConnTable)

    def table(**kw: Any) -> Any:
        return real(data=data)

    table._real = real  # type: ignore[attr-defined]
    monkeypatch.setattr(conns, "ConnTable", table)


def test_connection_listing(rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyipvs._pyipvs_cffi")
    _conn_table(monkeypatch, CONN_SAMPLE)
    assert run("-L -c -n") == (
        0,
        (
            "IPVS connection entries\n"
            "pro expire state       source             virtual            destination\n"
            "TCP 14:59  ESTABLISHED 10.0.0.2:50000     207.175.44.110:8080 172.16.0.2:8080\n"
            "UDP 04:59  UDP         10.0.0.2:54321     10.0.0.1:53        192.168.1.10:53\n"
        ),
        "",
    )
    _conn_table(monkeypatch, b"")
    assert run("-Lcn") == (1, "", "unexpected input from /proc/net/ip_vs_conn\n")
