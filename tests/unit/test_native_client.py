"""Error mapping, validation and the IPVS-less host (host tests).

The build host's kernel has no IPVS, which makes it a real environment for
the "IPVS absent" path: opening a handle must fail the way ipvsadm does.
"""

from __future__ import annotations

import errno
import ipaddress
import os

import pytest

from pyipvs import (
    IPVS,
    Daemon,
    DaemonState,
    Family,
    Forward,
    IPVSError,
    IPVSExistsError,
    IPVSNotFoundError,
    IPVSPermissionError,
    IPVSTimeoutError,
    IPVSUnavailableError,
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
from pyipvs import ipvs as client

ip = ipaddress.ip_address
KEY = ServiceKey.tcp("10.0.0.1", 80)


def test_ipvs_absent_on_this_host() -> None:
    with pytest.raises(IPVSUnavailableError) as e:
        IPVS()
    assert isinstance(e.value, IPVSError) and isinstance(e.value, OSError)
    assert (e.value.errno, e.value.op, str(e.value)) == (
        errno.ENOPROTOOPT,
        Op.INIT,
        "Protocol not available",
    )


def test_missing_namespace_path() -> None:
    with pytest.raises(IPVSNotFoundError) as e:
        IPVS("/nonexistent/pyipvs-netns")
    assert (e.value.errno, e.value.op) == (errno.ENOENT, Op.INIT)


@pytest.mark.skipif(os.geteuid() != 0, reason="entering a namespace needs CAP_SYS_ADMIN")
def test_namespace_path_is_entered_and_left() -> None:
    # Our own namespace through its path: creation succeeds, resolution fails
    # as above, and the thread is back where it started.
    before = os.readlink("/proc/thread-self/ns/net")
    with pytest.raises(IPVSUnavailableError):
        IPVS("/proc/self/ns/net")
    assert os.readlink("/proc/thread-self/ns/net") == before


@pytest.mark.parametrize(
    ("err", "op", "cls", "message"),
    [
        (errno.EEXIST, Op.ADD_SERVICE, IPVSExistsError, "Service already exists"),
        (errno.ESRCH, Op.DEL_SERVICE, IPVSNotFoundError, "No such service"),
        (errno.ENOENT, Op.DEL_DEST, IPVSNotFoundError, "No such destination"),
        (errno.EPERM, Op.GET_INFO, IPVSPermissionError, "Permission denied (you must be root)"),
        (errno.ETIMEDOUT, Op.GET_SERVICES, IPVSTimeoutError, "Connection timed out"),
        (errno.ENOPROTOOPT, Op.INIT, IPVSUnavailableError, "Protocol not available"),
        (errno.ENOPROTOOPT, Op.ADD_SERVICE, IPVSError, "Protocol not available"),
        (errno.ERANGE, Op.ADD_DEST, IPVSError, "Numerical result out of range"),
    ],
)
def test_return_codes_become_exceptions(err: int, op: Op, cls: type, message: str) -> None:
    _native.check(0, op)
    _native.check(5, op)
    with pytest.raises(IPVSError) as e:
        _native.check(-err, op)
    assert type(e.value) is cls
    assert (e.value.errno, e.value.op, str(e.value)) == (err, op, message)


def test_netns_names_and_paths() -> None:
    assert client.netns_path(None) is None
    assert client.netns_path("blue") == "/run/netns/blue"
    assert client.netns_path("/proc/1/ns/net") == "/proc/1/ns/net"
    for bad in ("", ".", ".."):
        with pytest.raises(IPVSValueError):
            client.netns_path(bad)


def test_timeout_must_be_positive() -> None:
    for bad in (0, -1, float("nan")):
        with pytest.raises(IPVSValueError):
            IPVS(timeout=bad)


GOOD_SERVICES = [
    Service(KEY, "rr"),
    Service(KEY, "x" * 15, ServiceFlag(0xFFFFFFFF), 2**32 - 1, 0, "p" * 16),
    Service(ServiceKey.fw(2**32 - 1, Family.INET6), "", netmask=0),
    Service(ServiceKey(Family.INET, Protocol(255), ip("10.0.0.1"), 65535)),
]

BAD_SERVICES = [
    Service(ServiceKey(Family.INET, Protocol.TCP, ip("10.0.0.1"), -1)),
    Service(ServiceKey(Family.INET, Protocol.TCP, ip("10.0.0.1"), 65536)),
    Service(ServiceKey(Family.INET6, Protocol.TCP, ip("10.0.0.1"), 80)),
    Service(ServiceKey(Family.INET, Protocol.TCP, None, 80)),
    Service(ServiceKey.fw(2**32)),
    Service(ServiceKey.fw(-5)),
    Service(KEY, "x" * 16),
    Service(KEY, "ü" * 8),  # 16 bytes in UTF-8
    Service(KEY, "r\0r"),
    Service(KEY, pe_name="p" * 17),
    Service(KEY, timeout=2**32),
    Service(KEY, netmask=2**32),
    Service(ServiceKey.tcp("2001:db8::1", 80), netmask=129),
]


@pytest.mark.parametrize("svc", GOOD_SERVICES)
def test_services_that_can_be_sent(svc: Service) -> None:
    client.check_service(svc)
    _native.encode_service(_native.CMD_NEW_SERVICE, svc)


@pytest.mark.parametrize("svc", BAD_SERVICES)
def test_services_refused(svc: Service) -> None:
    with pytest.raises(IPVSValueError):
        client.check_service(svc)


def test_servers() -> None:
    ok = [
        Server(ip("10.0.0.2"), 0, weight=0),
        Server(ip("10.0.0.2"), 65535, Forward.MASQ, 2**31 - 1, 2**31 - 1, 2**31 - 1),
        Server(ip("2001:db8::2"), 80, Forward.TUNNEL, tun_type=TunnelType.GUE, tun_port=65535),
        # Left to the kernel (ERANGE), as ipvsadm leaves it:
        Server(ip("10.0.0.2"), 80, u_threshold=1, l_threshold=2),
    ]
    for s in ok:
        client.check_server(KEY, s)
    bad = [
        Server(ip("10.0.0.2"), 65536),
        Server(ip("10.0.0.2"), 80, weight=-1),
        Server(ip("10.0.0.2"), 80, weight=2**31),
        Server(ip("10.0.0.2"), 80, u_threshold=2**31),
        Server(ip("10.0.0.2"), 80, l_threshold=-1),
        Server(ip("10.0.0.2"), 80, tun_port=70000),
        Server(ip("2001:db8::2"), 80, Forward.MASQ),
        Server("10.0.0.2", 80),  # type: ignore[arg-type]
    ]
    for s in bad:
        with pytest.raises(IPVSValueError):
            client.check_server(KEY, s)
    # Deleting finds a server by address and port: any family goes.
    client.check_server(KEY, Server(ip("2001:db8::2"), 80), same_family=False)


def test_daemons_and_timeouts() -> None:
    client.check_daemon(
        Daemon(DaemonState.MASTER, "e" * 15, 2**32 - 1, 65535, ip("ff02::1"), 65535, 255)
    )
    for bad in (
        Daemon(DaemonState.MASTER, "e" * 16),
        Daemon(DaemonState.MASTER, syncid=-1),
        Daemon(DaemonState.MASTER, sync_maxlen=65536),
        Daemon(DaemonState.MASTER, mcast_port=65536),
        Daemon(DaemonState.MASTER, mcast_ttl=256),
        Daemon(DaemonState.MASTER, mcast_group="224.0.0.1"),  # type: ignore[arg-type]
    ):
        with pytest.raises(IPVSValueError):
            client.check_daemon(bad)
    client.check_timeouts(Timeouts(0, 2**32 - 1, 5))
    with pytest.raises(IPVSValueError):
        client.check_timeouts(Timeouts(2**32, 0, 0))
