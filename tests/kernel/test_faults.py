"""Faults on the kernel side and in the environment (kernel tests: run
through ci/vm-run.sh).

- No hang: a real stall of IPVS (a process that holds the kernel's IPVS
  mutex) must give a clear timeout error within the handle's timeout.
- No loss: a dump through a receive buffer starved to the kernel's minimum
  is complete and correct.
- Environment: no root / no CAP_NET_ADMIN, the ip_vs module absent (with and
  without a working modprobe), a scheduler module that cannot be loaded,
  a namespace that does not exist: pyipvsadm says exactly what the real
  ipvsadm 1.31 says, with the same status, and the library raises the
  matching exception.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import ipaddress
import mmap
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import IPVSADM, Netns, console_script, load_ipvs_modules

from pyipvs import (
    IPVS,
    Daemon,
    DaemonState,
    Forward,
    IPVSError,
    IPVSPermissionError,
    IPVSTimeoutError,
    IPVSUnavailableError,
    Server,
    Service,
    ServiceKey,
    _native,
)
from pyipvs.cli.ipvsadm.main import main as pyipvsadm_main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ip = ipaddress.ip_address
_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


# --- a process that holds the IPVS mutex --------------------------------------
#
# IP_VS_SO_GET_SERVICES copies the service table to the caller's buffer with
# the kernel's IPVS mutex held (net/netfilter/ipvs/ip_vs_ctl.c, 6.1 and 6.12).
# When the entries land on a page registered with userfaultfd (missing-page
# mode), that copy waits for the fault to be served, mutex held, until the
# userfaultfd is closed. Every IPVS command, on netlink or sockopt, in any
# namespace, then waits for the mutex: the stall a wedged keepalived or a
# stuck ipvsadm causes in production.

SYS_USERFAULTFD = 323  # x86_64
UFFDIO_API = 0xC018AA3F
UFFDIO_REGISTER = 0xC020AA00
UFFDIO_REGISTER_MODE_MISSING = 1
IP_VS_SO_GET_SERVICES = 1154
# struct ip_vs_get_services: a u32 count, then 8-aligned 104-byte entries.
GET_SERVICES_HDR, SERVICE_ENTRY = 8, 104
PAGE = mmap.PAGESIZE


def _check(rc: int, what: str) -> int:
    if rc < 0:
        raise OSError(ctypes.get_errno(), what)
    return rc


class IPVSMutexHolder:
    """Holds the IPVS mutex from a thread until release(); the namespace must
    hold at least one IPv4 service (the copy only starts with an entry)."""

    def __init__(self, netns_path: str) -> None:
        self.netns_path = netns_path
        self.uffd = _check(_libc.syscall(SYS_USERFAULTFD, os.O_CLOEXEC | os.O_NONBLOCK),
                           "userfaultfd")  # fmt: skip
        _check(_libc.ioctl(self.uffd, UFFDIO_API, (ctypes.c_uint64 * 3)(0xAA, 0, 0)), "UFFDIO_API")
        self.mem = mmap.mmap(-1, 2 * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self._view = ctypes.c_char.from_buffer(self.mem)
        self.base = ctypes.addressof(self._view)
        reg = (ctypes.c_uint64 * 4)(self.base + PAGE, PAGE, UFFDIO_REGISTER_MODE_MISSING, 0)
        _check(_libc.ioctl(self.uffd, UFFDIO_REGISTER, reg), "UFFDIO_REGISTER")
        # The header ends the first (ordinary) page; entry 0 starts the second.
        self.mem[PAGE - GET_SERVICES_HDR : PAGE] = (1).to_bytes(GET_SERVICES_HDR, "little")
        self.result: int | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        fd = os.open(self.netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), "setns")  # this thread only
        finally:
            os.close(fd)
        s = _check(_libc.socket(2, 3, 255), "socket")  # AF_INET, SOCK_RAW, IPPROTO_RAW
        size = ctypes.c_uint32(GET_SERVICES_HDR + SERVICE_ENTRY)
        self.started.set()
        rc = _libc.getsockopt(s, 0, IP_VS_SO_GET_SERVICES,
                              ctypes.c_void_p(self.base + PAGE - GET_SERVICES_HDR),
                              ctypes.byref(size))  # fmt: skip
        self.result = rc if rc == 0 else -ctypes.get_errno()
        os.close(s)

    def __enter__(self) -> IPVSMutexHolder:
        self.thread.start()
        assert self.started.wait(30)
        # The kernel has the mutex once the thread sits in the fault.
        deadline = time.monotonic() + 30
        while "handle_userfault" not in self.stack() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "handle_userfault" in self.stack(), f"no stall: {self.result} {self.stack()}"
        return self

    def stack(self) -> str:
        tid = self.thread.native_id
        try:
            with open(f"/proc/self/task/{tid}/stack") as f:
                return f.read()
        except OSError:
            return ""

    def __exit__(self, *exc: object) -> None:
        os.close(self.uffd)  # the fault is then served normally (a zero page)
        self.thread.join(30)
        assert not self.thread.is_alive()
        assert self.result == 0


def _call_with_deadline(fn: Callable[[], object], limit: float) -> tuple[object, float, bool]:
    """Run fn in a thread; (result or exception, seconds, still running)."""
    box: dict[str, object] = {}

    def run() -> None:
        t0 = time.monotonic()
        try:
            box["r"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            box["r"] = e
        box["t"] = time.monotonic() - t0

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(limit)
    return box.get("r"), float(box.get("t", limit)), t.is_alive()  # type: ignore[arg-type]


def _kernel_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pyipvs-kernel"]


# The kernel runs a generic netlink request in the sender's own sendmsg()
# (and a dump's next part in recvmsg()) and waits for the IPVS mutex there
# uninterruptibly, where poll()'s timeout never gets a chance. pyipvs makes
# its calls on a worker thread with a watchdog (pyipvs/runner.py); this shows
# the caller gets its error on time, a second call during the same stall
# does too, and once the holder lets go everything is whole again and the
# abandoned workers end.
def test_stalled_kernel_gives_a_timeout_not_a_hang(netns: Netns) -> None:
    key = ServiceKey.tcp("10.1.1.1", 80)
    failures: list[str] = []
    before = len(_kernel_workers())
    with IPVS(netns.name, timeout=1.0) as ipvs:
        ipvs.add_service(Service(key, "rr"))
        with IPVSMutexHolder(netns.path):
            # The reference ipvsadm has no timeout at all: it waits.
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            ref = subprocess.Popen(["nsenter", f"--net={netns.path}", IPVSADM, "-Ln"], **quiet)
            for what, call in (
                ("services()", ipvs.services),
                (
                    "add_service()",
                    lambda: ipvs.add_service(Service(ServiceKey.tcp("10.1.1.2", 80), "rr")),
                ),
            ):
                r, secs, alive = _call_with_deadline(call, 10)
                if alive:
                    failures.append(f"{what} still blocked 10 s into a 1 s timeout")
                elif not isinstance(r, IPVSTimeoutError) or secs > 4:
                    failures.append(f"{what} gave {r!r} after {secs:.1f} s")
            assert ref.poll() is None, "ipvsadm finished while the mutex was held"
            stuck = len(_kernel_workers()) - before
        # Released: everything waiting goes through; nothing was lost.
        assert ref.wait(60) == 0
        # The add never reached IPVS: its new socket was still asking generic
        # netlink for the IPVS family (that waits behind the stalled request
        # too) when it was abandoned, and an abandoned call sends nothing.
        assert [s.key for s in ipvs.services()] == [key]
    deadline = time.monotonic() + 30
    while len(_kernel_workers()) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "-A -t 10.1.1.1:80 -s rr" in netns.ipvsadm_out("-Sn")
    assert failures == []
    # The two abandoned workers were still in the kernel during the stall
    # (the next worker starts with the next call).
    assert stuck == 2, stuck
    assert len(_kernel_workers()) == before, "an abandoned worker did not end"


# The thin starts (pyipvsadm -Ln, -Sn, -Lnc; pyipvs diff/apply FILE of a
# table that matches) skip the library and its watchdog thread: their reads
# run guarded instead (pyipvs._native.thin.guarded), and a stall hands the
# command to the full path, which meets the same stall and reports it as it
# always does. Each thin start is run during a stall beside its full path,
# started the same way: both must have said so before the stall ends, and
# say the same.
_FULL_PYIPVSADM = "import sys; from pyipvs.cli.ipvsadm.main import entry; entry()"
_FULL_PYIPVS = "import sys; from pyipvs.cli.pyipvs import entry; entry()"


def _stderr_line(p: subprocess.Popen[bytes], deadline: float) -> bytes:
    """What p wrote to stderr, once it holds a whole line (or at deadline)."""
    assert p.stderr is not None
    fd = p.stderr.fileno()
    os.set_blocking(fd, False)
    got = b""
    while b"\n" not in got and time.monotonic() < deadline:
        with contextlib.suppress(BlockingIOError):
            got += os.read(fd, 4096) or b""
        time.sleep(0.1)
    os.set_blocking(fd, True)
    return got


def test_stalled_thin_starts_say_what_the_full_path_says(netns: Netns, tmp_path: object) -> None:
    netns.ipvsadm("-A", "-t", "10.1.1.1:80", "-s", "rr")
    rules = f"{tmp_path}/ipvs.rules"
    with open(rules, "w") as f:
        f.write(netns.ipvsadm_out("-Sn"))
    changed = f"{tmp_path}/changed.rules"  # an apply with something to do
    with open(changed, "w") as f:
        f.write(netns.ipvsadm_out("-Sn") + "-A -t 10.3.3.3:80 -s rr\n")
    restore = f"{tmp_path}/restore"  # (the thin -R takes input that is not a terminal)
    with open(restore, "w") as f:
        f.write("-A -t 10.2.2.2:80 -s rr\n")
    py, adm, cli = sys.executable, console_script("pyipvsadm"), console_script("pyipvs")
    pairs = {
        "-Ln": ([adm, "-Ln"], [py, "-c", _FULL_PYIPVSADM, "-Ln"]),
        "-Sn": ([adm, "-Sn"], [py, "-c", _FULL_PYIPVSADM, "-Sn"]),
        "-Lnc": ([adm, "-Lnc"], [py, "-c", _FULL_PYIPVSADM, "-Lnc"]),
        "diff": ([cli, "diff", rules], [py, "-c", _FULL_PYIPVS, "diff", rules]),
        "apply": ([cli, "apply", changed], [py, "-c", _FULL_PYIPVS, "apply", changed]),
        "-R": ([adm, "-R"], [py, "-c", _FULL_PYIPVSADM, "-R"]),
    }
    procs: dict[tuple[str, int], subprocess.Popen[bytes]] = {}
    early: dict[tuple[str, int], bytes] = {}
    with IPVSMutexHolder(netns.path):
        for name, argvs in pairs.items():
            for i, argv in enumerate(argvs):
                with open(restore if name == "-R" else os.devnull, "rb") as stdin:
                    procs[name, i] = subprocess.Popen(
                        ["nsenter", f"--net={netns.path}", *argv],
                        stdin=stdin,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                    )
        # Two timeouts of 5 s for a thin start (its own, then the full path's),
        # on top of start-ups of a few seconds each in the emulated VM.
        deadline = time.monotonic() + 90
        for key, p in procs.items():
            early[key] = _stderr_line(p, deadline)
    done = {key: p.communicate(timeout=60) for key, p in procs.items()}
    for name in pairs:
        (t_out, t_err), (f_out, f_err) = done[name, 0], done[name, 1]
        thin_, full = procs[name, 0], procs[name, 1]
        assert early[name, 0] and early[name, 0] == early[name, 1], (name, early)
        assert (thin_.returncode, t_out, early[name, 0] + t_err) == (
            full.returncode,
            f_out,
            early[name, 1] + f_err,
        ), name
        assert thin_.returncode != 0, (name, early[name, 0])
    # Neither restore nor apply sent its command: each gave up before.
    table = netns.ipvsadm_out("-Sn")
    assert "10.2.2.2" not in table and "10.3.3.3" not in table


# --- a reply the kernel never sends -------------------------------------------
#
# Stopping a sync daemon whose thread has not run yet (right after the start,
# on a busy machine) makes kthread_stop() return -EINTR, and netlink_rcv_skb()
# sends no reply at all for -EINTR: ipvsadm 1.31 then waits for ever. pyipvs
# notices at once (a request's answer is queued before sendmsg() returns) and
# stop_daemon() reports success, since the daemon is gone.


def test_stop_daemon_right_after_start(netns: Netns) -> None:
    master = Daemon(DaemonState.MASTER, "dummy0", 0)
    silent = slow = 0
    # Two busy loops keep both CPUs taken, so the daemon's new thread often
    # has not run yet when the stop comes (the case the kernel stays silent on).
    hogs = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(2)]
    try:
        with IPVS(netns.name) as ipvs:
            for i in range(120):
                ipvs.start_daemon(master)
                t0 = time.monotonic()
                if i % 2:
                    ipvs.stop_daemon(DaemonState.MASTER)
                else:  # the raw exchange, to count the silent stops
                    try:
                        ipvs._call(lambda h: h.daemon_cmd(_native.CMD_DEL_DAEMON, master, None))
                    except IPVSError as e:
                        if e.errno != errno.EINTR:
                            raise
                        silent += 1
                slow += time.monotonic() - t0 > 2
                assert ipvs.daemons() == [], f"round {i}: a daemon survived its stop"
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    print(f"stop right after start: no reply from the kernel {silent} times in 60 raw stops")
    assert slow == 0, f"{slow} stops took over 2 s"


# --- no loss: a starved receive buffer ----------------------------------------

N_SERVICES, N_SERVERS = 60, 50


def _big_table(netns: Netns) -> set[tuple[str, str]]:
    expected: set[tuple[str, str]] = set()
    with IPVS(netns.name) as ipvs, ipvs.batch() as b:
        for i in range(N_SERVICES):
            key = ServiceKey.tcp(f"10.1.{i // 250}.{i % 250 + 1}", 80)
            b.add_service(Service(key, "wrr"))
            for j in range(N_SERVERS):
                rip = ip(f"10.{100 + i // 200}.{i % 200}.{j + 1}")
                b.add_server(key, Server(rip, 8080, Forward.MASQ, j % 7))
                expected.add((f"{key.address}:80", f"{rip}:8080"))
    return expected


def _saved_pairs(text: str) -> set[tuple[str, str]]:
    pairs = set()
    for line in text.splitlines():
        w = line.split()
        if w[:1] == ["-a"]:
            pairs.add((w[2], w[4]))
    return pairs


def test_starved_receive_buffer_gives_the_whole_table(netns: Netns) -> None:
    expected = _big_table(netns)
    assert len(expected) == N_SERVICES * N_SERVERS
    normal = _native.Handle(netns.path, 5000)
    starved = _native.Handle(netns.path, 5000)
    try:
        accounted = starved.set_rcvbuf(1)
        assert accounted < 8192, accounted  # the kernel's minimum, not our 4 MiB
        got_services = starved.services()
        assert got_services == normal.services()
        assert len(got_services) == N_SERVICES
        pairs = set()
        for st in got_services:
            servers = starved.servers(st.key)
            assert servers == normal.servers(st.key)
            pairs |= {(f"{st.key.address}:80", f"{s.server.address}:8080") for s in servers}
        assert not starved.broken
    finally:
        starved.close()
        normal.close()
    assert pairs == expected
    assert _saved_pairs(netns.ipvsadm_out("-Sn")) == expected


# --- environment errors, compared with the real ipvsadm -----------------------

PYIPVSADM = [sys.executable, "-m", "pyipvs.cli.ipvsadm"]
ENV = {**os.environ, "PYTHONPATH": ROOT}


def _both(netns: Netns, prefix: list[str], args: list[str]) -> tuple[tuple, tuple]:  # type: ignore[type-arg]
    """(stdout, stderr, status) of ipvsadm and of pyipvsadm, run the same way."""
    out = []
    for prog in ([IPVSADM], PYIPVSADM):
        r = subprocess.run(["nsenter", f"--net={netns.path}", *prefix, *prog, *args],
                           capture_output=True, text=True, env=ENV, input="")  # fmt: skip
        out.append((r.stdout, r.stderr, r.returncode))
    return out[0], out[1]


NOT_ROOT = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
NO_NET_ADMIN = ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"]


@pytest.mark.parametrize("who", ["not-root", "no-cap-net-admin"])
def test_without_privilege_same_as_ipvsadm(netns: Netns, who: str) -> None:
    prefix = NOT_ROOT if who == "not-root" else NO_NET_ADMIN
    # -v too: ipvsadm reads IPVS's info first, and pyipvsadm's thin -v hands
    # the failure to the full path.
    for args in (["-Ln"], ["-A", "-t", "10.1.1.1:80"], ["-v"]):
        ref, ours = _both(netns, prefix, args)
        assert ours == ref, args
        assert ref[2] == 2 and "Permission denied (you must be root)" in ref[1]
    assert netns.ipvsadm_out("-Sn") == ""


def _ipvs_modules() -> list[str]:
    with open("/proc/modules") as f:
        return [line.split()[0] for line in f if line.startswith("ip_vs")]


def _unload_ipvs() -> None:
    mods = _ipvs_modules()
    # Schedulers and helpers first: they hold ip_vs.
    for m in sorted(mods, key=lambda m: m == "ip_vs"):
        r = subprocess.run(["rmmod", m], capture_output=True, text=True)
        assert r.returncode == 0, f"rmmod {m}: {r.stderr} (is a table left in another namespace?)"
    assert not os.path.isdir("/proc/sys/net/ipv4/vs")


@contextlib.contextmanager
def _kernel_modprobe(path: str) -> Iterator[None]:
    """The helper the kernel runs for request_module (family and scheduler autoload)."""
    with open("/proc/sys/kernel/modprobe") as f:
        old = f.read().strip()
    with open("/proc/sys/kernel/modprobe", "w") as f:
        f.write(path)
    try:
        yield
    finally:
        with open("/proc/sys/kernel/modprobe", "w") as f:
            f.write(old)


@contextlib.contextmanager
def _ipvs_reloaded_after() -> Iterator[None]:
    try:
        yield
    finally:
        load_ipvs_modules()  # conftest: the modules that must not load mid-test
        assert os.path.isdir("/proc/sys/net/ipv4/vs"), "could not reload ip_vs"


# ipvsadm runs /sbin/modprobe itself; in a private mount namespace that path
# is /bin/false, so the module cannot be loaded from user space either.
NO_MODPROBE = ["unshare", "-m", "sh", "-c", 'mount --bind /bin/false /sbin/modprobe && exec "$@"',
               "-"]  # fmt: skip


def test_ipvs_module_absent_same_as_ipvsadm(netns: Netns) -> None:
    with _ipvs_reloaded_after(), _kernel_modprobe("/bin/false"):
        _unload_ipvs()
        # Cannot be loaded at all: both give up with the same two lines.
        ref, ours = _both(netns, NO_MODPROBE, ["-Ln"])
        assert ours == ref
        assert ref[2] == 2 and ref[1].startswith("Can't initialize ipvs: Protocol not available\n")
        with pytest.raises(IPVSUnavailableError) as e:
            IPVS(netns.name)
        assert e.value.errno == errno.ENOPROTOOPT
        # modprobe works: each loads the module itself and lists the empty table.
        for prog in ([IPVSADM], PYIPVSADM):
            _unload_ipvs()
            r = subprocess.run(["nsenter", f"--net={netns.path}", *prog, "-Ln"],
                               capture_output=True, text=True, env=ENV)  # fmt: skip
            assert (r.returncode, r.stderr) == (0, ""), prog
            assert r.stdout.startswith("IP Virtual Server version"), prog
            assert "ip_vs" in _ipvs_modules()


def test_scheduler_module_missing_same_as_ipvsadm(netns: Netns) -> None:
    if "ip_vs_sed" in _ipvs_modules():
        subprocess.run(["rmmod", "ip_vs_sed"], check=True)
    with _kernel_modprobe("/bin/false"):
        for sched in ("sed", "nosuch"):
            ref, ours = _both(netns, [], ["-A", "-t", "10.1.1.1:80", "-s", sched])
            assert ours == ref, sched
            assert ref[2] != 0 and ref[1], ref
        with IPVS(netns.name) as ipvs, pytest.raises(IPVSError) as e:
            ipvs.add_service(Service(ServiceKey.tcp("10.1.1.1", 80), "sed"))
        assert e.value.errno == errno.ENOENT
        assert str(e.value) == "Scheduler or persistence engine not found"
    assert netns.ipvsadm_out("-Sn") == ""


def test_namespace_missing() -> None:
    out, err = io.StringIO(), io.StringIO()
    rc = pyipvsadm_main(["ipvsadm", "-Ln"], io.StringIO(), out, err, netns="/run/netns/nosuch")
    assert (rc, out.getvalue()) == (2, "")
    assert err.getvalue().startswith("Can't initialize ipvs: No such file or directory\n"), err
    with pytest.raises(IPVSError) as e:
        IPVS("nosuch")
    assert e.value.errno == errno.ENOENT
    r = subprocess.run([sys.executable, "-m", "pyipvs.cli.pyipvs", "--netns", "nosuch", "list"],
                       capture_output=True, text=True, env=ENV)  # fmt: skip
    assert r.returncode != 0 and r.stdout == ""
    assert "No such file or directory" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_permission_error_type(netns: Netns) -> None:
    # Without CAP_NET_ADMIN the library raises IPVSPermissionError (also a
    # PermissionError); checked in a child that drops the capability.
    code = (
        "import sys; from pyipvs import IPVS, IPVSPermissionError\n"
        "try:\n    IPVS(sys.argv[1]).services()\n"
        "except IPVSPermissionError as e:\n"
        "    print(type(e).__name__, e.errno, isinstance(e, PermissionError), e)\n"
    )
    r = subprocess.run([*NO_NET_ADMIN, sys.executable, "-c", code, netns.name],
                       capture_output=True, text=True, env=ENV)  # fmt: skip
    assert r.stdout.strip() == (
        f"{IPVSPermissionError.__name__} {errno.EPERM} True Permission denied (you must be root)"
    ), r.stderr
