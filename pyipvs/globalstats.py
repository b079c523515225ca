"""System-wide IPVS counters and application helpers of one network namespace
(top layer: model and reading, over the native layer's /proc parsers).

The kernel keeps one set of totals per namespace, across every service:
connections scheduled, packets and bytes in each direction, and per-second
rates. Packets are counted per CPU at once; the estimator folds those counts
into the totals and computes the rates every 2 s (and not at all while the
run_estimation tunable is 0), so the totals lag the per-CPU rows by up to
2 s. /proc/net/ip_vs_stats shows the totals since the last zero
(`ipvsadm -Z`); /proc/net/ip_vs_stats_percpu adds the raw count of each CPU,
which a zero does not reset. Application helpers (ip_vs_ftp) are listed per
port in /proc/net/ip_vs_app.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from pyipvs import _native
from pyipvs.errors import IPVSError, IPVSUnavailableError, IPVSValueError
from pyipvs.ipvs import netns_path
from pyipvs.model import Protocol, Stats

# ip_vs_proto_name()'s spellings; anything else is printed IP_<n>.
_PROTOCOLS = {"IP": 0, "ICMP": 1, "TCP": 6, "UDP": 17, "ICMPv6": 58, "SCTP": 132}


@dataclass(frozen=True, slots=True)
class CpuStats:
    """The raw counters of one CPU (not reset by a zero)."""

    cpu: int
    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0


@dataclass(frozen=True, slots=True)
class GlobalStats:
    """A namespace's totals since the last zero with the current rates, and,
    when asked for, the per-CPU rows they are summed from."""

    stats: Stats
    per_cpu: tuple[CpuStats, ...] = ()


@dataclass(frozen=True, slots=True)
class AppHelper:
    """An application helper bound to one port (e.g. ftp on TCP 21).

    `usecnt` counts the connections using it right now.
    """

    name: str
    protocol: Protocol
    port: int
    usecnt: int = 0


def protocol_from_name(name: str) -> Protocol:
    """The protocol the kernel printed as `name` (TCP, UDP, IP_<n>, ...)."""
    number = _PROTOCOLS.get(name)
    if number is None and name.startswith("IP_") and name[3:].isdigit():
        number = int(name[3:])
    if number is None:
        raise IPVSError(errno.EINVAL, None, f"unexpected protocol {name!r} in /proc/net/ip_vs_app")
    return Protocol(number)


# --- parsing (texts from /proc or from fixtures) ------------------------------


def parse_stats(text: bytes) -> GlobalStats:
    """A GlobalStats from the text of /proc/net/ip_vs_stats."""
    return GlobalStats(_native.parse_global_stats(text))


def parse_stats_percpu(text: bytes) -> GlobalStats:
    """A GlobalStats with per-CPU rows from /proc/net/ip_vs_stats_percpu."""
    rows, total = _native.parse_global_stats_percpu(text)
    return GlobalStats(total, rows)


def parse_app_helpers(text: bytes) -> tuple[AppHelper, ...]:
    """The helpers listed in the text of /proc/net/ip_vs_app."""
    return _native.parse_app_helpers(text)


# --- reading a namespace --------------------------------------------------------


def _read(which: int, netns: str | None) -> bytes:
    path = netns_path(netns)
    try:
        return _native.procstat_read(which, path)
    except IPVSError as e:
        if e.errno != errno.ENOENT:
            raise
        if path is not None and not os.path.exists(path):
            raise IPVSValueError(f"no network namespace at {path}") from None
        raise IPVSUnavailableError(
            e.errno, None, "IPVS is not loaded (no /proc/net/ip_vs_stats)"
        ) from None


def read_global_stats(netns: str | None = None, *, per_cpu: bool = False) -> GlobalStats:
    """The namespace's totals and rates (None: the caller's namespace; a name
    means /run/netns/NAME). With per_cpu, one read of the per-CPU file gives
    the rows and the totals together, so they are consistent."""
    if per_cpu:
        return parse_stats_percpu(_read(_native.PROC_STATS_PERCPU, netns))
    return parse_stats(_read(_native.PROC_STATS, netns))


def read_app_helpers(netns: str | None = None) -> tuple[AppHelper, ...]:
    """Application helpers registered in the namespace, one per bound port."""
    return parse_app_helpers(_read(_native.PROC_APP, netns))
