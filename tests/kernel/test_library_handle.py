"""The library client's handle against a real IPVS kernel: errors with the
kernel's own errno, values refused before sending, permissions, namespaces,
time-outs, ENOBUFS, threads and fork (kernel tests: run through ci/vm-run.sh).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest
from conftest import Netns

from pyipvs import (
    IPVS,
    Daemon,
    DaemonState,
    Family,
    Forward,
    IPVSError,
    IPVSExistsError,
    IPVSNotFoundError,
    IPVSTimeoutError,
    IPVSValueError,
    Op,
    Protocol,
    Server,
    Service,
    ServiceFlag,
    ServiceKey,
    Timeouts,
    TunnelType,
    _native,
)

ip = ipaddress.ip_address
F = ServiceFlag
GUE = TunnelType.GUE
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TCP80 = ServiceKey.tcp("10.1.1.1", 80)
UDP53 = ServiceKey.udp("10.1.1.1", 53)
V6 = ServiceKey.tcp("2001:db8::1", 8080)


def test_errors_carry_the_kernels_errno(netns: Netns) -> None:
    with IPVS(netns.name) as ipvs:
        svc = Service(TCP80, "rr")
        ipvs.add_service(svc)
        with pytest.raises(IPVSExistsError) as e:
            ipvs.add_service(svc)
        assert isinstance(e.value, FileExistsError) and e.value.errno == errno.EEXIST
        assert (str(e.value), e.value.op) == ("Service already exists", Op.ADD_SERVICE)

        cases: list[tuple[Callable[[], object], int, str]] = [
            (lambda: ipvs.add_service(Service(UDP53, "nosuchsched")), errno.ENOENT,
             "Scheduler or persistence engine not found"),
            (lambda: ipvs.add_service(Service(UDP53, "rr", pe_name="nosuchpe")), errno.ENOENT,
             "Scheduler or persistence engine not found"),
            (lambda: ipvs.edit_service(Service(UDP53, "rr")), errno.ESRCH, "No such service"),
            (lambda: ipvs.delete_service(UDP53), errno.ESRCH, "No such service"),
            (lambda: ipvs.zero(UDP53), errno.ESRCH, "No such service"),
            (lambda: ipvs.service(UDP53), errno.ESRCH, "No such service"),
            (lambda: ipvs.add_server(UDP53, Server(ip("10.2.2.2"), 53)), errno.ESRCH,
             "Service not defined"),
            (lambda: ipvs.edit_server(TCP80, Server(ip("10.2.2.2"), 80)), errno.ENOENT,
             "No such destination"),
            (lambda: ipvs.delete_server(TCP80, Server(ip("10.2.2.2"), 80)), errno.ENOENT,
             "No such destination"),
            (lambda: ipvs.stop_daemon(DaemonState.BACKUP), errno.ESRCH, "No daemon is running"),
        ]  # fmt: skip
        for call, err, msg in cases:
            with pytest.raises(IPVSNotFoundError) as nf:
                call()
            assert isinstance(nf.value, LookupError)
            assert (nf.value.errno, str(nf.value)) == (err, msg)

        ipvs.add_server(TCP80, Server(ip("10.2.2.2"), 80))
        with pytest.raises(IPVSExistsError, match="Destination already exists"):
            ipvs.add_server(TCP80, Server(ip("10.2.2.2"), 80))
        # Left to the kernel on purpose: ipvsadm prints the kernel's ERANGE.
        with pytest.raises(IPVSError) as rng:
            ipvs.add_server(TCP80, Server(ip("10.2.2.3"), 80, u_threshold=5, l_threshold=10))
        assert (rng.value.errno, str(rng.value)) == (errno.ERANGE, "Numerical result out of range")
        with pytest.raises(IPVSError) as inval:  # GUE without a port
            ipvs.add_server(TCP80, Server(ip("10.2.2.4"), 80, Forward.TUNNEL, tun_type=GUE))
        assert inval.value.errno == errno.EINVAL
        with pytest.raises(IPVSError) as nodev:
            ipvs.start_daemon(Daemon(DaemonState.MASTER, "nosuchdev0"))
        assert (nodev.value.errno, str(nodev.value)) == (errno.ENODEV, "No such device")
        # The handle is still good after all of that.
        assert [s.server.address for s in ipvs.servers(TCP80)] == [ip("10.2.2.2")]


def test_values_refused_before_sending(netns: Netns) -> None:
    with IPVS(netns.name) as ipvs:
        bad: list[Callable[[], object]] = [
            lambda: ipvs.add_service(
                Service(ServiceKey(Family.INET, Protocol.TCP, ip("10.1.1.1"), 65536))
            ),
            lambda: ipvs.add_service(Service(ServiceKey(Family.INET, Protocol.TCP, ip("::1"), 80))),
            lambda: ipvs.add_service(Service(ServiceKey.fw(2**32))),
            lambda: ipvs.add_service(Service(TCP80, "x" * 16)),
            lambda: ipvs.add_service(Service(TCP80, "rr", pe_name="p" * 17)),
            lambda: ipvs.add_service(Service(V6, "rr", F.PERSISTENT, 300, 129)),
            lambda: ipvs.add_service(Service(TCP80, "rr", netmask=2**32)),
            lambda: ipvs.add_server(TCP80, Server(ip("10.2.2.2"), 80, weight=-1)),
            lambda: ipvs.add_server(TCP80, Server(ip("10.2.2.2"), 80, weight=2**31)),
            lambda: ipvs.add_server(TCP80, Server(ip("10.2.2.2"), 80, u_threshold=2**31)),
            lambda: ipvs.add_server(TCP80, Server(ip("10.2.2.2"), 80, tun_port=65536)),
            lambda: ipvs.add_server(TCP80, Server(ip("2001:db8::5"), 80, Forward.MASQ)),
            lambda: ipvs.start_daemon(Daemon(DaemonState.MASTER, "x" * 16)),
            lambda: ipvs.set_timeouts(Timeouts(-1, 0, 0)),
        ]  # fmt: skip
        for call in bad:
            with pytest.raises(IPVSValueError):
                call()
        assert netns.ipvsadm_out("-Sn") == ""


def _capless(netns: Netns, code: str) -> subprocess.CompletedProcess[str]:
    # Still uid 0 (the interpreter lives under /root), but with an empty
    # bounding set: no capability at all after exec.
    return netns.run(
        ["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-c", code],
    )


def test_eperm_without_cap_net_admin(netns: Netns) -> None:
    code = (
        f"import sys; sys.path.insert(0, {ROOT!r})\n"
        "from pyipvs import IPVS, IPVSPermissionError\n"
        "ipvs = IPVS()\n"
        "for call in (ipvs.info, ipvs.services, ipvs.flush):\n"
        "    try:\n"
        "        call()\n"
        "    except IPVSPermissionError as e:\n"
        "        print(e.errno, e.op.value, e)\n"
        f"try:\n    IPVS({netns.path!r})\n"
        "except IPVSPermissionError as e:\n"
        "    print(e.errno, e.op.value, e)\n"
    )
    r = _capless(netns, code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "1 get_info Permission denied (you must be root)",
        "1 get_services Permission denied (you must be root)",
        "1 flush Permission denied (you must be root)",
        "1 init Permission denied (you must be root)",
    ]


def test_missing_netns() -> None:
    for where in ("/run/netns/pyipvs-no-such-ns", "pyipvs-no-such-ns"):
        with pytest.raises(IPVSNotFoundError) as e:
            IPVS(where)
        assert (e.value.errno, e.value.op) == (errno.ENOENT, Op.INIT)


SOL_NETLINK, NETLINK_NO_ENOBUFS = 270, 5


def _flood(ipvs: IPVS, quiet: bool) -> None:
    """Fill the handle's receive queue with replies to requests it never made,
    so the kernel has to drop what comes next."""
    h = ipvs._runner._handle
    assert h is not None
    s = socket.socket(fileno=os.dup(h.fileno()))
    try:
        if quiet:  # drop without reporting ENOBUFS: the reply just never comes
            s.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        for seq in range(1, 64):
            msg = _native.encode_service(_native.CMD_GET_INFO, None, family_id=h.family_id, seq=seq)
            s.sendto(msg, (0, 0))
    finally:
        s.close()


def test_timeout_then_reopen(netns: Netns) -> None:
    with IPVS(netns.name, timeout=0.5) as ipvs:
        ipvs.add_service(Service(TCP80, "rr"))
        _flood(ipvs, quiet=True)
        with pytest.raises(IPVSTimeoutError) as e:
            ipvs.info()
        assert isinstance(e.value, TimeoutError) and e.value.errno == errno.ETIMEDOUT
        # The next call gets a fresh socket.
        assert [s.key for s in ipvs.services()] == [TCP80]


def test_enobufs_is_an_error_not_a_short_answer(netns: Netns) -> None:
    with IPVS(netns.name) as ipvs:
        _flood(ipvs, quiet=False)
        with pytest.raises(IPVSError) as e:
            ipvs.services()
        assert e.value.errno == errno.ENOBUFS
        assert ipvs.services() == []


def test_one_handle_shared_by_threads(netns: Netns) -> None:
    errors: list[BaseException] = []
    with IPVS(netns.name) as ipvs:

        def work(n: int) -> None:
            try:
                key = ServiceKey.tcp(f"10.5.5.{n}", 80)
                for _ in range(20):
                    ipvs.add_service(Service(key, "rr"))
                    assert ipvs.service(key).key == key
                    ipvs.info()
                    ipvs.delete_service(key)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert ipvs.services() == []


def test_closed_handle(netns: Netns) -> None:
    ipvs = IPVS(netns.name)
    ipvs.close()
    ipvs.close()  # idempotent
    with pytest.raises(IPVSValueError):
        ipvs.info()


def test_forked_child_gets_its_own_socket(netns: Netns) -> None:
    with IPVS(netns.name) as ipvs:
        ipvs.info()
        pid = os.fork()
        if pid == 0:  # the child: must not read its parent's replies
            code = 1
            try:
                ipvs.add_service(Service(UDP53, "rr"))
                code = 0 if [s.key for s in ipvs.services()] == [UDP53] else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert [s.key for s in ipvs.services()] == [UDP53]


def test_without_the_stall_guard_calls_run_on_the_callers_thread(netns: Netns) -> None:
    workers = [t for t in threading.enumerate() if t.name == "pyipvs-kernel"]
    with IPVS(netns.name, stall_guard=False) as ipvs:
        ipvs.add_service(Service(TCP80, "rr"))
        assert [s.key for s in ipvs.services()] == [TCP80]
        assert [t for t in threading.enumerate() if t.name == "pyipvs-kernel"] == workers
    assert "-A -t" in netns.ipvsadm_out("-Sn")
