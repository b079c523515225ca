"""The fresh network namespace every table benchmark builds its table in
(benchmarks layer): lo and dummy0 up, with IPv4 and IPv6 addresses routed
to dummy0 (the kernel refuses a real server whose address is not
routable). Removed servers linger per namespace and make re-adding
quadratic, so each contestant gets its own."""

from __future__ import annotations

import subprocess

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
