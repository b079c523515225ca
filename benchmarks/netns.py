"""The fresh network namespace every table benchmark builds its table in
(benchmarks layer): lo and dummy0 up, with IPv4 and IPv6 addresses routed
to dummy0 (the kernel refuses a real server whose address is not
routable). Removed servers linger per namespace and make re-adding
quadratic, so each contestant gets its own."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from typing import Any

NETNS_SETUP = """\
link set lo up
link add dummy0 type dummy
link set dummy0 up
address add 10.0.0.254/8 dev dummy0
address add 2001:db8::fffe/32 dev dummy0 nodad
"""


def add_netns(name: str) -> None:
    """Create namespace `name` and set it up (ip netns add, then one batch)."""
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "-batch", "-"], input=NETNS_SETUP, text=True, check=True)


def best_of(argv: list[str], env: dict[str, str], times: int = 3) -> float:
    """The fastest of `times` runs of argv, in seconds (a process start)."""
    best = float("inf")
    for _ in range(times):
        t = time.perf_counter()
        subprocess.run(argv, check=True, env=env, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def best_in_netns(run: Callable[[str, list[str]], tuple[Any, ...]], argv: list[str],
                  times: int = 3) -> float:  # fmt: skip
    """The fastest of `times` runs of argv by `run(namespace, argv)` (whose
    first value is the seconds it took) in a namespace made for them: a
    process start measured as a benchmark runs its contestants."""
    ns = f"start-{os.getpid()}"
    add_netns(ns)
    try:
        return float(min(run(ns, argv)[0] for _ in range(times)))
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
