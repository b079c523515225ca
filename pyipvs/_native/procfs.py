"""System-wide state from /proc: global counters, helpers, sysctls."""

from __future__ import annotations

from typing import Any

from pyipvs._native._core import _text, check
from pyipvs._native.convert import _stats
from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.model import (
    Stats,
)

# --- global counters ---------------------------------------------------------
# System-wide state from /proc: namespace totals, per-CPU counters, application
# helpers and the tunables under /proc/sys/net/ipv4/vs. The core opens each
# file inside the namespace (a path such as /run/netns/NAME, or None) and
# parses it; failures come back as IPVSError with op None, and pyipvs.sysctl /
# pyipvs.globalstats turn the ones users can cause into clearer messages.
# Their model classes live in pyipvs.globalstats, which imports this module,
# so they are imported where used.

PROC_STATS: int = lib.PYIPVS_PROC_STATS
PROC_STATS_PERCPU: int = lib.PYIPVS_PROC_STATS_PERCPU
PROC_APP: int = lib.PYIPVS_PROC_APP


def _c_netns(netns: str | None) -> Any:
    return ffi.NULL if netns is None else netns.encode("utf-8", "surrogateescape")


def _take(pbuf: Any, plen: Any) -> bytes:
    """Copy a malloc'ed buffer out of the core and free it."""
    try:
        return ffi.buffer(pbuf[0], plen[0])[:] if pbuf[0] != ffi.NULL else b""
    finally:
        lib.pyipvs_free(pbuf[0])


def procstat_read(which: int, netns: str | None) -> bytes:
    """The text of one PROC_* file of the namespace."""
    pbuf, plen = ffi.new("char **"), ffi.new("size_t *")
    check(lib.pyipvs_procstat_read(which, _c_netns(netns), pbuf, plen), None)
    return _take(pbuf, plen)


def parse_global_stats(text: bytes) -> Stats:
    """/proc/net/ip_vs_stats: totals since the last zero, and rates."""
    c = ffi.new("struct pyipvs_stats *")
    check(lib.pyipvs_gstats_parse(text, len(text), c), None)
    return _stats(c)


def parse_global_stats_percpu(text: bytes) -> tuple[tuple[Any, ...], Stats]:
    """/proc/net/ip_vs_stats_percpu: (CpuStats rows, totals and rates)."""
    from pyipvs.globalstats import CpuStats

    prows, pn = ffi.new("struct pyipvs_cpu_stats **"), ffi.new("size_t *")
    total = ffi.new("struct pyipvs_stats *")
    check(lib.pyipvs_gstats_percpu_parse(text, len(text), prows, pn, total), None)
    try:
        rows = tuple(
            CpuStats(r.cpu, r.conns, r.inpkts, r.outpkts, r.inbytes, r.outbytes)
            for r in (prows[0][i] for i in range(pn[0]))
        )
    finally:
        lib.pyipvs_free(prows[0])
    return rows, _stats(total)


def parse_app_helpers(text: bytes) -> tuple[Any, ...]:
    """/proc/net/ip_vs_app: one AppHelper per bound port."""
    from pyipvs.globalstats import AppHelper, protocol_from_name

    papps, pn = ffi.new("struct pyipvs_app **"), ffi.new("size_t *")
    check(lib.pyipvs_apps_parse(text, len(text), papps, pn), None)
    try:
        return tuple(
            AppHelper(_text(a.name), protocol_from_name(_text(a.proto_name)), a.port, a.usecnt)
            for a in (papps[0][i] for i in range(pn[0]))
        )
    finally:
        lib.pyipvs_free(papps[0])


def sysctl_list(netns: str | None) -> list[str]:
    """Names present under /proc/sys/net/ipv4/vs, in directory order."""
    pbuf, plen = ffi.new("char **"), ffi.new("size_t *")
    check(lib.pyipvs_sysctl_list(_c_netns(netns), pbuf, plen), None)
    raw = _take(pbuf, plen)
    return [n.decode("utf-8", "surrogateescape") for n in raw.split(b"\0") if n]


def sysctl_read(name: str, netns: str | None) -> bytes:
    """The raw text of one tunable (with the kernel's newline)."""
    pbuf, plen = ffi.new("char **"), ffi.new("size_t *")
    check(lib.pyipvs_sysctl_read(name.encode(), _c_netns(netns), pbuf, plen), None)
    return _take(pbuf, plen)


def sysctl_write(name: str, netns: str | None, value: bytes) -> None:
    """Write one tunable's text; the kernel's refusal raises its errno."""
    check(lib.pyipvs_sysctl_write(name.encode(), _c_netns(netns), value, len(value)), None)
