"""The whole table in one core call (bridge layer: pyipvs_table_read).

The core returns three flat C arrays (services, servers, per-service start
indices), unpacked with the struct layouts of `convert`. Servers stay in the
core's own array, which the snapshot keeps (no copy: at 200,000 servers it is
27 MB), and become model objects per service on first access
(`LazyServers`, by convert.server_rows), only for the services a caller
looks at.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Mapping
from typing import Any

from pyipvs._native._core import check
from pyipvs._native.convert import (
    _DEST_ROW,
    _SVC_ROW,
    _Cache,
    server_rows,
    service_keys,
    service_rows,
)
from pyipvs._native.handle import Handle
from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.errors import Op
from pyipvs.model import ServerStatus, ServiceKey, ServiceStatus

#: pyipvs_table_read's answer when every attempt saw the table change.
TABLE_CHANGED = -errno.EAGAIN


class LazyServers(Mapping[ServiceKey, tuple[ServerStatus, ...]]):
    """Servers per service, decoded from the rows of struct pyipvs_dest the
    first time a service's list is asked for (a poller that reads a few
    services, or only counters, never pays for the other model objects).
    raw: bytes, or an ffi.buffer over the core's array; owner: what keeps
    that array alive (the table's cdata: a buffer over a field of it does
    not). Read-only; iteration is in the kernel's service order."""

    __slots__ = ("_cache", "_done", "_index", "_keys", "_owner", "_raw", "_starts")

    def __init__(
        self,
        keys: tuple[ServiceKey, ...],
        raw: Any,
        starts: list[int],
        cache: _Cache,
        owner: Any = None,
    ) -> None:
        self._owner = owner
        self._keys = keys
        # Built on the first lookup: hashing a ServiceKey costs about 0.5 us
        # on the host (10 ms at 20,000 services), and a poller that only
        # walks the services never looks one up.
        self._index: dict[ServiceKey, int] | None = None
        self._raw = raw
        self._starts = starts
        self._done: dict[ServiceKey, tuple[ServerStatus, ...]] = {}
        self._cache = cache

    def __getitem__(self, key: ServiceKey) -> tuple[ServerStatus, ...]:
        got = self._done.get(key)
        if got is not None:
            return got
        i = self._lookup()[key]  # KeyError for a service not in the table
        lo, hi = self._starts[i] * _DEST_ROW.size, self._starts[i + 1] * _DEST_ROW.size
        got = tuple(server_rows(self._raw[lo:hi], self._cache, Op.GET_DESTS))
        self._done[key] = got
        return got

    def _lookup(self) -> dict[ServiceKey, int]:
        index = self._index
        if index is None:
            index = self._index = {k: i for i, k in enumerate(self._keys)}
        return index

    def __iter__(self) -> Iterator[ServiceKey]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._lookup()


class TableRead:
    """One consistent read: model objects plus how it went."""

    __slots__ = ("attempts", "readers", "requests", "servers", "service_dumps", "services")

    def __init__(
        self,
        services: tuple[ServiceStatus, ...],
        servers: LazyServers,
        attempts: int,
        requests: int,
        service_dumps: int,
        readers: int,
    ) -> None:
        self.services = services
        self.servers = servers
        self.attempts = attempts
        self.requests = requests
        self.service_dumps = service_dumps
        self.readers = readers  # threads that read the servers


#: Threads for a one-off whole-table listing (pyipvs_handle_set_read_threads):
#: its wall time counts. Snapshots, which pollers take, read on one thread:
#: a helper cost 1.3-1.65x the CPU time for 0.7-1.0x the wall time (the VM).
LISTING_READ_THREADS = 2


def _raw_table(h: Handle, retries: int, threads: int = 1) -> Any:
    """The core's table (cdata owning its arrays), or None if it kept changing."""
    out = ffi.new("struct pyipvs_table **")
    if threads == 1:
        rc = lib.pyipvs_table_read(h._h, retries, out)
    else:
        lib.pyipvs_handle_set_read_threads(h._h, threads)
        try:
            rc = lib.pyipvs_table_read(h._h, retries, out)
        finally:
            lib.pyipvs_handle_set_read_threads(h._h, 1)
    if rc == TABLE_CHANGED:
        return None
    check(rc, Op.GET_SERVICES)
    return ffi.gc(out[0], lib.pyipvs_table_free)


def _fit(cache: _Cache, rows: int) -> _Cache:
    """The caller's memo of decoded objects (convert._Cache), emptied when it
    holds far more than this table needs: about two entries per row stay
    useful (the row's settings and its address); the rest is what earlier
    tables held and this one no longer does."""
    if len(cache) > 4 * rows + 4096:
        cache.clear()
    return cache


def read_table(
    h: Handle, retries: int, cache: _Cache | None = None, threads: int = 1
) -> TableRead | None:
    """Every service with its servers (None: the table kept changing). cache:
    decoded objects kept from an earlier read (see convert._Cache). threads:
    pyipvs_handle_set_read_threads's, for this read."""
    t = _raw_table(h, retries, threads)
    if t is None:
        return None
    ns, nd = t.nservices, t.ndests
    cache = _fit({} if cache is None else cache, ns + nd)
    services: tuple[ServiceStatus, ...] = ()
    if ns:
        raw_svc = ffi.buffer(t.services, ns * _SVC_ROW.size)[:]
        services = tuple(service_rows(raw_svc, cache, Op.GET_SERVICES))
    starts = ffi.unpack(t.dest_start, ns + 1) if ns else [0]
    keys = tuple([s.service.key for s in services])
    counts = int(t.attempts), int(t.requests), int(t.service_dumps), int(t.readers)
    # The servers' mapping owns t (and so the core's arrays) from here on; a
    # table without servers is freed now.
    if not nd:
        ffi.release(t)
        return TableRead(services, LazyServers(keys, b"", starts, cache), *counts)
    raw = ffi.buffer(t.dests, nd * _DEST_ROW.size)
    return TableRead(services, LazyServers(keys, raw, starts, cache, t), *counts)


class CounterColumns:
    """The counters-only read: raw little columns and the service keys."""

    __slots__ = ("attempts", "ids", "keys", "server_conns", "server_start", "server_stats",
                 "service_stats")  # fmt: skip

    def __init__(self, keys: tuple[ServiceKey, ...], svc: memoryview, dst: memoryview,
                 conns: memoryview, ids: bytes, start: bytes, attempts: int) -> None:  # fmt: skip
        self.keys = keys
        self.service_stats = svc
        self.server_stats = dst
        self.server_conns = conns
        self.ids = ids
        self.server_start = start
        self.attempts = attempts


_ID_SIZE = 20  # struct pyipvs_dest_id

# Columns the core fills completely: not cleared first, nor copied after (at
# 200,000 servers the counters alone are 16 MB).
_uncleared = ffi.new_allocator(should_clear_after_alloc=False)


def _column(ctype: str, n: int) -> tuple[Any, memoryview]:
    """n items of ctype for the core to fill (NULL when n is 0), and a
    read-only view of their bytes that keeps them alive."""
    if not n:
        return ffi.NULL, memoryview(b"")
    c = _uncleared(ctype, n)
    return c, memoryview(ffi.buffer(c)).toreadonly()


# The memo's entry for the last counters read's service keys: (the core's
# list serial, the keys). A str: the memo's other keys are bytes and tuples.
_LAST_KEYS = "last service keys"


def _keys(t: Any, ns: int, cache: _Cache) -> tuple[ServiceKey, ...]:
    """The service keys of table t, reused from the last read whose service
    list had the same serial (struct pyipvs_table.list_serial: the same
    identities and settings), else decoded from the rows. A poller's lists
    rarely change; on the host, at 5,000 services, this function's caller
    took 2.1 ms with the keys decoded and 0.7 ms with them reused."""
    serial = int(t.list_serial)
    last = cache.get(_LAST_KEYS)
    if serial and last is not None and last[0] == serial:
        keys: tuple[ServiceKey, ...] = last[1]
        return keys
    raw_svc = ffi.buffer(t.services, ns * _SVC_ROW.size)[:]
    keys = tuple(service_keys(raw_svc, cache, Op.GET_SERVICES))
    cache[_LAST_KEYS] = (serial, keys)
    return keys


def read_counters(h: Handle, retries: int, cache: _Cache | None = None) -> CounterColumns | None:
    """Counters as flat native-endian columns (None: the table kept changing).
    Only the service keys become objects (reused from cache where an earlier
    read decoded them); everything else stays flat: read-only views of the
    columns the core filled, and the identities as bytes."""
    if ffi.sizeof("struct pyipvs_dest_id") != _ID_SIZE:
        raise RuntimeError("struct pyipvs_dest_id is not 20 bytes")
    t = _raw_table(h, retries)
    if t is None:
        return None
    try:
        ns, nd = t.nservices, t.ndests
        svc, svc_view = _column("uint64_t[]", ns * 10)
        dst, dst_view = _column("uint64_t[]", nd * 10)
        conns, conns_view = _column("uint32_t[]", nd * 3)
        ids, ids_view = _column("struct pyipvs_dest_id[]", nd)
        check(lib.pyipvs_table_columns(t, svc, dst, conns, ids), Op.GET_SERVICES)
        keys: tuple[ServiceKey, ...] = ()
        if ns:
            cache = _fit({} if cache is None else cache, ns + nd)
            keys = _keys(t, ns, cache)
        start = bytes(ffi.buffer(t.dest_start, (ns + 1) * 4)) if ns else bytes(4)
        return CounterColumns(keys, svc_view, dst_view, conns_view, bytes(ids_view), start,
                              int(t.attempts))  # fmt: skip
    finally:
        ffi.release(t)


#: pyipvs_table_format's modes (csrc/list_fmt.c), by ipvsadm option.
LIST_STATS = int(lib.PYIPVS_LIST_STATS)
LIST_RATE = int(lib.PYIPVS_LIST_RATE)
LIST_THRESHOLDS = int(lib.PYIPVS_LIST_THRESHOLDS)
LIST_PERSISTENT = int(lib.PYIPVS_LIST_PERSISTENT)
LIST_TUN_INFO = int(lib.PYIPVS_LIST_TUN_INFO)
LIST_EXACT = int(lib.PYIPVS_LIST_EXACT)
LIST_NOSORT = int(lib.PYIPVS_LIST_NOSORT)
LIST_SAVE = int(lib.PYIPVS_LIST_SAVE)


def table_text(t: Any, mode: int) -> bytes:
    """A table the core read (cdata struct pyipvs_table *) as numeric listing
    or save lines, formatted by the core (csrc/list_fmt.c)."""
    out = ffi.new("char **")
    n = ffi.new("size_t *")
    rc = lib.pyipvs_table_format(t, mode, out, n)
    if rc == -errno.EINVAL:
        # A value the model has no member for: decoding says which, as the
        # model-object listing would have.
        service_rows(ffi.buffer(t.services, t.nservices * _SVC_ROW.size)[:], {}, Op.GET_SERVICES)
        server_rows(ffi.buffer(t.dests, t.ndests * _DEST_ROW.size)[:], {}, Op.GET_DESTS)
    check(rc, Op.GET_SERVICES)
    try:
        return bytes(ffi.buffer(out[0], n[0])) if n[0] else b""
    finally:
        lib.pyipvs_text_free(out[0])


def read_table_text(h: Handle, retries: int, mode: int) -> tuple[bytes, int] | None:
    """The whole table read consistently and formatted in C: (text, number of
    services), or None when the table kept changing (as read_table). Read
    on two threads (LISTING_READ_THREADS)."""
    t = _raw_table(h, retries, LISTING_READ_THREADS)
    if t is None:
        return None
    try:
        return table_text(t, mode), int(t.nservices)
    finally:
        ffi.release(t)
