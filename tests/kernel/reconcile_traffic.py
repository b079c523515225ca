"""Real TCP traffic through IPVS inside a test namespace, from this process
(test helper for tests/kernel/test_reconcile_traffic.py).

Sockets belong to the network namespace of the thread that creates them,
so `in_netns` runs a function on a short-lived thread that has first
joined the namespace (setns on a thread is allowed for network
namespaces); the sockets it returns then work from any thread. No process
is started: under emulation each one costs seconds.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(path: str, fn: Callable[[], T]) -> T:
    box: dict[str, object] = {}

    def run() -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({path}): {os.strerror(err)}")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 (handed to the caller's thread)
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def write_sysctl(path: str, name: str, value: str) -> None:
    """Set a per-namespace sysctl (net.*) as seen from the namespace."""

    def w() -> None:
        with open(f"/proc/sys/{name.replace('.', '/')}", "w") as f:
            f.write(value)

    in_netns(path, w)


class EchoServer:
    """A TCP listener in the namespace that echoes every connection."""

    def __init__(self, netns_path: str, host: str, port: int) -> None:
        def make() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(16)
            return s

        self.sock = in_netns(netns_path, make)
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


def connect(netns_path: str, host: str, port: int, timeout: float = 5.0) -> socket.socket:
    def make() -> socket.socket:
        return socket.create_connection((host, port), timeout=timeout)

    return in_netns(netns_path, make)


def echoes(sock: socket.socket, payload: bytes, timeout: float = 5.0) -> bool:
    """Whether `payload` comes back on an established connection in time."""
    sock.settimeout(timeout)
    try:
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = sock.recv(len(payload) - len(got))
            if not chunk:
                return False
            got += chunk
        return got == payload
    except OSError:
        return False
