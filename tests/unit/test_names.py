"""Host tests for pyipvs.names: the injected resolvers."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from pyipvs.names import NumericResolver, Resolver, SystemResolver


def test_numeric_resolver_knows_nothing() -> None:
    r: Resolver = NumericResolver()
    assert r.host(ipaddress.ip_address("127.0.0.1")) is None
    assert r.service(80, "tcp") is None


def test_system_resolver_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []

    def fake_gethostbyaddr(addr: str) -> tuple[str, list[str], list[str]]:
        calls.append(addr)
        if addr == "192.0.2.1":
            return ("web1.example", [], [addr])
        raise socket.herror(1, "Unknown host")

    def fake_getservbyport(port: int, proto: str) -> str:
        calls.append((port, proto))
        if (port, proto) == (80, "tcp"):
            return "http"
        raise OSError("port/proto not found")

    monkeypatch.setattr(socket, "gethostbyaddr", fake_gethostbyaddr)
    monkeypatch.setattr(socket, "getservbyport", fake_getservbyport)
    r = SystemResolver()
    a = ipaddress.ip_address("192.0.2.1")
    b = ipaddress.ip_address("2001:db8::1")
    for _ in range(3):
        assert r.host(a) == "web1.example"
        assert r.host(b) is None
        assert r.service(80, "tcp") == "http"
        assert r.service(80, "sctp") is None
    assert calls == ["192.0.2.1", "2001:db8::1", (80, "tcp"), (80, "sctp")]


def test_system_resolver_real_lookups() -> None:
    r = SystemResolver()
    try:
        expected = socket.getservbyport(22, "tcp")
    except OSError:
        pytest.skip("no /etc/services entry for 22/tcp")
    assert r.service(22, "tcp") == expected
    assert r.service(0, "tcp") is None or isinstance(r.service(0, "tcp"), str)
    # Loopback names come from /etc/hosts; either a name or None, never an error.
    host = r.host(ipaddress.ip_address("127.0.0.1"))
    assert host is None or isinstance(host, str)


def test_prefetch_asks_for_each_unknown_address_once_and_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    # Four lookups must be in progress at the same time to get past the
    # barrier: asked one after another, the first would time out.
    barrier = threading.Barrier(4, timeout=10)
    calls: list[str] = []
    lock = threading.Lock()

    def fake_gethostbyaddr(addr: str) -> tuple[str, list[str], list[str]]:
        with lock:
            calls.append(addr)
        barrier.wait()
        if addr.endswith(".4"):
            raise socket.herror(1, "Unknown host")
        return (f"h{addr.rsplit('.', 1)[1]}.example", [], [addr])

    monkeypatch.setattr(socket, "gethostbyaddr", fake_gethostbyaddr)
    r = SystemResolver()
    addrs = [ipaddress.ip_address(f"192.0.2.{i}") for i in (1, 2, 3, 4)]
    r.prefetch([*addrs, addrs[0], addrs[2]])
    assert sorted(calls) == [str(a) for a in addrs]
    assert [r.host(a) for a in addrs] == ["h1.example", "h2.example", "h3.example", None]
    r.prefetch(addrs)  # all known: nothing asked
    assert len(calls) == 4

    def one_at_a_time(addr: str) -> tuple[str, list[str], list[str]]:
        calls.append(addr)
        return ("x.example", [], [addr])

    monkeypatch.setattr(socket, "gethostbyaddr", one_at_a_time)
    r.prefetch([*addrs, ipaddress.ip_address("192.0.2.9")])  # one unknown: left to host()
    assert len(calls) == 4
    assert r.host(ipaddress.ip_address("192.0.2.9")) == "x.example" and len(calls) == 5


def test_prefetch_is_best_effort(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    addrs = [ipaddress.ip_address(f"192.0.2.{i}") for i in range(50)]
    calls: list[str] = []

    def broken(addr: str) -> tuple[str, list[str], list[str]]:
        calls.append(addr)
        raise RuntimeError("resolver bug")

    # A lookup raising what is not a lookup failure: host() raises it.
    monkeypatch.setattr(socket, "gethostbyaddr", broken)
    r = SystemResolver()
    r.prefetch(addrs)
    assert calls
    with pytest.raises(RuntimeError, match="resolver bug"):
        r.host(addrs[0])

    # No thread can start: nothing is prefetched, host() asks for each.
    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    def fine(addr: str) -> tuple[str, list[str], list[str]]:
        calls.append(addr)
        return ("x.example", [], [addr])

    monkeypatch.setattr(threading.Thread, "start", no_thread)
    monkeypatch.setattr(socket, "gethostbyaddr", fine)
    calls.clear()
    r = SystemResolver()
    r.prefetch(addrs)
    assert calls == []
    assert r.host(addrs[1]) == "x.example" and calls == [str(addrs[1])]
