"""Host and service-name resolution for listings (top layer: pure Python, no cffi).

The formatters never look names up themselves: they are handed a `Resolver`,
so numeric and named output are both testable without DNS. `NumericResolver`
knows no names (what `-n` amounts to), `SystemResolver` asks the C library
the way ipvsadm does (gethostbyaddr, getservbyport) and remembers answers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Protocol

from pyipvs.model import IPAddress

__all__ = ["LOOKUP_THREADS", "NumericResolver", "Resolver", "SystemResolver"]

#: How many host names SystemResolver.prefetch asks for at once.
LOOKUP_THREADS = 16


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
        name = self._hosts[address] = _host_name(address)
        return name

    def prefetch(self, addresses: Iterable[IPAddress]) -> None:
        """Look up the names of those `addresses` not yet known, up to
        LOOKUP_THREADS at a time, so that host() answers them from memory.

        ipvsadm asks for one name after another as it prints, so a table of
        thousands of real servers waits for thousands of resolver round
        trips in turn (each a timeout where DNS does not answer); asked
        together they overlap. A name does not depend on when it is asked
        for, so the listing is the same. The caller's thread alone touches
        the memo.

        Best effort: where it fails (no thread can start in a process at its
        limit, or a lookup raises what is not a lookup failure) it stops,
        and host() asks for the rest itself, as without it, raising then
        what it raises."""
        todo = list(dict.fromkeys(a for a in addresses if a not in self._hosts))
        if len(todo) < 2:
            return  # host() asks for it when it comes
        from concurrent.futures import ThreadPoolExecutor  # named listings only

        pool = ThreadPoolExecutor(min(LOOKUP_THREADS, len(todo)), "pyipvs-names")
        try:
            for address, name in zip(todo, pool.map(_host_name, todo)):
                self._hosts[address] = name
        except Exception:  # noqa: BLE001 - best effort (see above)
            pass
        finally:
            # On an exception the lookups not started are dropped (Ctrl-C
            # in a program that catches it included); at most
            # LOOKUP_THREADS finish.
            pool.shutdown(wait=True, cancel_futures=True)

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


def _host_name(address: IPAddress) -> str | None:
    """The C library's name for address (gethostbyaddr, as ipvsadm), or None.
    CPython calls gethostbyaddr_r without the GIL, so lookups on threads overlap."""
    try:
        return socket.gethostbyaddr(str(address))[0]
    except (OSError, UnicodeError):
        return None
