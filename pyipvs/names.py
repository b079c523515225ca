"""Host and service-name resolution for listings (top layer: pure Python, no cffi).

The formatters never look names up themselves: they are handed a `Resolver`,
so numeric and named output are both testable without DNS. `NumericResolver`
knows no names (what `-n` amounts to), `SystemResolver` asks the C library
the way ipvsadm does (gethostbyaddr, getservbyport) and remembers answers.
"""

from __future__ import annotations

import socket
from typing import Protocol

from pyipvs.model import IPAddress

__all__ = ["NumericResolver", "Resolver", "SystemResolver"]


class Resolver(Protocol):
    """Turns addresses and ports into names; None means "print it numerically"."""

    def host(self, address: IPAddress) -> str | None:
        """The host name for an address, or None."""
        ...

    def service(self, port: int, proto: str) -> str | None:
        """The service name of a port for "tcp", "udp" or "sctp", or None."""
        ...


class NumericResolver:
    """Knows no names at all."""

    __slots__ = ()

    def host(self, address: IPAddress) -> str | None:
        return None

    def service(self, port: int, proto: str) -> str | None:
        return None


class SystemResolver:
    """The C library's resolver (NSS: /etc/hosts, DNS, /etc/services).

    ipvsadm asks again for every address and port it prints; with a stable
    NSS the answers are the same, so each one is asked once per instance
    (a listing of many real servers on one port would otherwise hit
    /etc/services thousands of times). Not thread-safe; use one per listing.
    """

    __slots__ = ("_hosts", "_services")

    def __init__(self) -> None:
        self._hosts: dict[IPAddress, str | None] = {}
        self._services: dict[tuple[int, str], str | None] = {}

    def host(self, address: IPAddress) -> str | None:
        try:
            return self._hosts[address]
        except KeyError:
            pass
        name: str | None
        try:
            name = socket.gethostbyaddr(str(address))[0]
        except (OSError, UnicodeError):
            name = None
        self._hosts[address] = name
        return name

    def service(self, port: int, proto: str) -> str | None:
        key = (port, proto)
        try:
            return self._services[key]
        except KeyError:
            pass
        name: str | None
        try:
            name = socket.getservbyport(port, proto)
        except (OSError, OverflowError):
            name = None
        self._services[key] = name
        return name
