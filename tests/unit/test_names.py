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
