"""The connection-table reader (csrc/conn*.c)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyipvs._native._core import _text
from pyipvs._native.convert import _put_addr
from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.model import (
    Family,
    IPAddress,
)

if TYPE_CHECKING:  # imported when first used: pyipvsadm -Lnc needs no columns
    from pyipvs._native.conn_cols import ColumnReader, Columns

# --- connection tables ---------------------------------------------------------
# The reader of /proc/net/ip_vs_conn and ip_vs_conn_sync (csrc/conn*.c). Rows
# cross from C as columns of uint32 words (csrc/conn_cols.c), each column a
# list made in one C-level step, with addresses and texts as numbers of
# values made once; the caller zips the columns into row objects, so no
# Python frame runs per row. Filters and group-by counts run in C
# (pyipvs.conns drives them).

CONN_TABLE_CONN: int = lib.PYIPVS_CONN_TABLE_CONN
CONN_TABLE_SYNC: int = lib.PYIPVS_CONN_TABLE_SYNC
CONN_PROTO_UNKNOWN: int = lib.PYIPVS_CONN_PROTO_UNKNOWN
CONN_ORIGIN_NONE: int = lib.PYIPVS_CONN_ORIGIN_NONE
CONN_ORIGIN_LOCAL: int = lib.PYIPVS_CONN_ORIGIN_LOCAL
CONN_ORIGIN_SYNC: int = lib.PYIPVS_CONN_ORIGIN_SYNC
CONN_BY_PROTO: int = lib.PYIPVS_CONN_BY_PROTO
CONN_BY_CLIENT: int = lib.PYIPVS_CONN_BY_CLIENT
CONN_BY_VADDR: int = lib.PYIPVS_CONN_BY_VADDR
CONN_BY_VPORT: int = lib.PYIPVS_CONN_BY_VPORT
CONN_BY_DADDR: int = lib.PYIPVS_CONN_BY_DADDR
CONN_BY_DPORT: int = lib.PYIPVS_CONN_BY_DPORT
CONN_BY_STATE: int = lib.PYIPVS_CONN_BY_STATE
CONN_BY_ORIGIN: int = lib.PYIPVS_CONN_BY_ORIGIN
_INET6 = int(Family.INET6)


def _conn_state_names() -> dict[int, str]:
    name = ffi.new("const char **")
    return {
        code: ffi.string(name[0]).decode()
        for code in range(lib.PYIPVS_CONN_S_COUNT)
        if lib.pyipvs_conn_state_name(code, name) == 0
    }


#: PYIPVS_CONN_S_* code -> the kernel's state text (UNKNOWN has none).
CONN_STATE_NAMES: dict[int, str] = _conn_state_names()
CONN_STATE_CODES: dict[str, int] = {v: k for k, v in CONN_STATE_NAMES.items()}


#: One summary group: protocol, proto text, client network, vaddr, vport, daddr,
#: dport, state code, state text, origin (None where not grouped by), count.
GroupTuple = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ConnMatch:
    """The C filter's tests; None (or no states) leaves a field untested."""

    protocol: int | None = None
    client: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    cport: int | None = None
    vaddr: IPAddress | None = None
    vport: int | None = None
    daddr: IPAddress | None = None
    dport: int | None = None
    states: frozenset[int] = frozenset()  # PYIPVS_CONN_S_* codes
    origin: int | None = None


@dataclass(frozen=True, slots=True)
class ConnCounts:
    """What a reader has seen: header is 0 (none), 1 (ip_vs_conn) or 2 (sync)."""

    bytes_read: int
    lines: int
    rows: int
    matched: int
    malformed: int
    blank: int
    header: int
    eof: bool
    split_at: int = 0  # where a second thread's lines began (csrc/conn_split.c); 0: none
    read_ahead: bool = False  # a second thread read ahead instead (csrc/conn_ahead.c)
    # a page read's cost far into the table against one at its start, as the
    # helper measured it to decide (csrc/conn_split.c); 0.0: not measured
    walk_ratio: float = 0.0


def _c_conn_filter(m: ConnMatch) -> Any:
    f = ffi.new("struct pyipvs_conn_filter *")
    bits = 0
    if m.protocol is not None:
        f.protocol, bits = m.protocol, bits | lib.PYIPVS_CONN_MATCH_PROTO
    if m.client is not None:
        f.caf = int(Family.INET6 if m.client.version == 6 else Family.INET)
        _put_addr(f.caddr, m.client.network_address)
        f.cprefix, bits = m.client.prefixlen, bits | lib.PYIPVS_CONN_MATCH_CLIENT
    if m.cport is not None:
        f.cport, bits = m.cport, bits | lib.PYIPVS_CONN_MATCH_CPORT
    if m.vaddr is not None:
        f.vaf = int(Family.INET6 if m.vaddr.version == 6 else Family.INET)
        _put_addr(f.vaddr, m.vaddr)
        bits |= lib.PYIPVS_CONN_MATCH_VADDR
    if m.vport is not None:
        f.vport, bits = m.vport, bits | lib.PYIPVS_CONN_MATCH_VPORT
    if m.daddr is not None:
        f.daf = int(Family.INET6 if m.daddr.version == 6 else Family.INET)
        _put_addr(f.daddr, m.daddr)
        bits |= lib.PYIPVS_CONN_MATCH_DADDR
    if m.dport is not None:
        f.dport, bits = m.dport, bits | lib.PYIPVS_CONN_MATCH_DPORT
    if m.states:
        f.states = sum(1 << s for s in set(m.states))
        bits |= lib.PYIPVS_CONN_MATCH_STATE
    if m.origin is not None:
        f.origin, bits = m.origin, bits | lib.PYIPVS_CONN_MATCH_ORIGIN
    f.match = bits
    return f


def _conn_check(rc: int, path: str | None, netns: str | None) -> None:
    if rc < 0:
        raise OSError(-rc, os.strerror(-rc), path, None, netns)


def _address(af: int, raw: bytes) -> IPAddress:
    return ipaddress.IPv6Address(raw) if af == _INET6 else ipaddress.IPv4Address(raw[:4])


class ConnReader:
    """One open connection table (a /proc file, another file, or bytes),
    read in chunks of rows that pass an optional C-side filter.
    Not thread-safe; close() it (pyipvs.conns.ConnCursor does)."""

    __slots__ = ("_chunk", "_cols", "_f", "_keep", "_netns", "_path", "_r")

    def __init__(self, out: Any, match: ConnMatch | None, chunk: int, keep: Any,
                 path: str | None, netns: str | None) -> None:  # fmt: skip
        self._r: Any = ffi.gc(out[0], lib.pyipvs_conn_reader_free)
        self._f = _c_conn_filter(match) if match is not None else ffi.NULL
        self._chunk = max(1, chunk)
        self._cols: ColumnReader | None = None
        self._keep = keep
        self._path, self._netns = path, netns

    @staticmethod
    def _opts(bufsize: int, max_read: int, stop_at_blank: bool, split: bool = False,
              split_min: int = 0) -> Any:  # fmt: skip
        o = ffi.new("struct pyipvs_conn_opts *")
        o.bufsize, o.max_read, o.split_min = bufsize, max_read, split_min
        o.flags = (lib.PYIPVS_CONN_OPT_STOP_AT_BLANK if stop_at_blank else 0) | (
            lib.PYIPVS_CONN_OPT_SPLIT if split else 0
        )
        return o

    @classmethod
    def open(cls, path: str | None = None, *, table: int = CONN_TABLE_CONN,
             netns: str | None = None, match: ConnMatch | None = None, chunk: int = 4096,
             bufsize: int = 0, max_read: int = 0, stop_at_blank: bool = False,
             split: bool = False, split_min: int = 0, split_cap: int = 0,
             split_wait: bool = False, split_always: bool = False) -> ConnReader:  # fmt: skip
        """Open `path` (None: the table's /proc file, in netns if given);
        `split` reads the tail in a second thread (csrc/conn_split.c)."""
        out = ffi.new("struct pyipvs_conn_reader **")
        c_path = os.fsencode(path) if path is not None else ffi.NULL
        c_ns = os.fsencode(netns) if netns is not None else ffi.NULL
        opts = cls._opts(bufsize, max_read, stop_at_blank, split, split_min)
        opts.split_cap = split_cap
        if split_wait:  # tests: the first read waits for the helper's decision
            opts.flags |= lib.PYIPVS_CONN_OPT_SPLIT_WAIT
        if split_always:  # tests: split where reads do not walk (regular files)
            opts.flags |= lib.PYIPVS_CONN_OPT_SPLIT_ALWAYS
        _conn_check(lib.pyipvs_conn_reader_open(out, c_path, table, c_ns, opts), path, netns)
        return cls(out, match, chunk, None, path, netns)

    @classmethod
    def from_bytes(cls, data: bytes, *, match: ConnMatch | None = None, chunk: int = 4096,
                   bufsize: int = 0, max_read: int = 0,
                   stop_at_blank: bool = False) -> ConnReader:  # fmt: skip
        out = ffi.new("struct pyipvs_conn_reader **")
        keep = ffi.from_buffer(data)
        opts = cls._opts(bufsize, max_read, stop_at_blank)
        _conn_check(lib.pyipvs_conn_reader_new_mem(out, keep, len(data), opts), None, None)
        return cls(out, match, chunk, (data, keep), None, None)

    def close(self) -> None:
        if self._r is not None:
            ffi.release(self._r)
            self._r = None
            self._keep = None

    def _live(self) -> Any:
        if self._r is None:
            raise ValueError("I/O operation on a closed connection table")
        return self._r

    def columns(self, origins: dict[int, Any]) -> Columns | None:
        """The next chunk of rows as 13 columns in the order of Connection's
        fields (`proto`, `protocol`, ..., `pe_name`, `pe_data`, `origin`:
        text as printed, protocol None for an unknown name, origin mapped
        through `origins`), to be consumed together (zip). None only at the
        end of the table. See pyipvs._native.conn_cols."""
        r = self._live()
        if self._cols is None:
            from pyipvs._native.conn_cols import ColumnReader

            self._cols = ColumnReader(self._chunk, self._check)
        return self._cols.read(r, self._f, origins, self._check)

    def _check(self, rc: int) -> None:
        _conn_check(rc, self._path, self._netns)

    def scan(self, groupings: list[tuple[int, int, int, int]]) -> list[
            tuple[list[GroupTuple], int, int]]:  # fmt: skip
        """Read to the end, counting rows per group for each (by, v4_prefix,
        v6_prefix, max_groups); per grouping: its groups, total, overflow."""
        r = self._live()
        aggs = []
        try:
            for by, v4, v6, max_groups in groupings:
                out = ffi.new("struct pyipvs_conn_agg **")
                _conn_check(lib.pyipvs_conn_agg_new(out, by, v4, v6, max_groups), None, None)
                aggs.append(ffi.gc(out[0], lib.pyipvs_conn_agg_free))
            arr = ffi.new("struct pyipvs_conn_agg *[]", aggs) if aggs else ffi.NULL
            _conn_check(lib.pyipvs_conn_scan(r, self._f, arr, len(aggs)), self._path, self._netns)
            return [self._groups(a) for a in aggs]
        finally:
            for a in aggs:
                ffi.release(a)

    def _groups(self, agg: Any) -> tuple[list[GroupTuple], int, int]:
        ng, total, over = ffi.new("size_t *"), ffi.new("uint64_t *"), ffi.new("uint64_t *")
        lib.pyipvs_conn_agg_info(agg, ng, total, over)
        groups = ffi.new("struct pyipvs_conn_group[]", max(1, ng[0]))
        lib.pyipvs_conn_agg_groups(agg, groups, ng[0], ng)
        out = []
        for g in groups[0 : ng[0]]:
            by = g.by
            client: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
            if by & CONN_BY_CLIENT:
                raw = ffi.buffer(g.caddr)[:]
                client = (ipaddress.IPv6Network((raw, g.cprefix)) if g.af == _INET6
                          else ipaddress.IPv4Network((raw[:4], g.cprefix)))  # fmt: skip
            out.append((
                g.protocol if by & CONN_BY_PROTO else None,
                _text(g.proto_name) if by & CONN_BY_PROTO else None,
                client,
                _address(g.af, ffi.buffer(g.vaddr)[:]) if by & CONN_BY_VADDR else None,
                g.vport if by & CONN_BY_VPORT else None,
                _address(g.daf, ffi.buffer(g.daddr)[:]) if by & CONN_BY_DADDR else None,
                g.dport if by & CONN_BY_DPORT else None,
                g.state if by & CONN_BY_STATE else None,
                _text(g.state_name) if by & CONN_BY_STATE else None,
                g.origin if by & CONN_BY_ORIGIN else None,
                g.count,
            ))  # fmt: skip
        return out, total[0], over[0]

    def listing(self, persistent: bool, cap: int = 1 << 20) -> bytes:
        """The next rows as `ipvsadm -Lnc` lines, formatted by the C core
        (csrc/conn_fmt.c); b"" at the end of the table."""
        buf = ffi.new("char[]", max(cap, 4096))
        n, rows = ffi.new("size_t *"), ffi.new("size_t *")
        flags = lib.PYIPVS_CONN_FMT_PERSISTENT if persistent else 0
        rc = lib.pyipvs_conn_format(self._live(), flags, buf, len(buf), n, rows)
        _conn_check(rc, self._path, self._netns)
        text: bytes = ffi.buffer(buf, n[0])[:]
        return text

    def counts(self) -> ConnCounts:
        c = ffi.new("struct pyipvs_conn_counts *")
        lib.pyipvs_conn_reader_counts(self._live(), c)
        return ConnCounts(c.bytes, c.lines, c.rows, c.matched, c.malformed, c.blank, c.header,
                          bool(c.eof), c.split_at, bool(c.read_ahead),
                          c.walk_pct / 100)  # fmt: skip
