"""IPVS connection entries: model, reading, filters, summaries (top layer:
pure Python over the native layer, never touching cffi itself).

/proc/net/ip_vs_conn (and ip_vs_conn_sync, the sync daemon's view) is the
only source of the connection table; there is no netlink call for it. The
C core parses it in large chunks and runs filters and group-by counts
itself, so a summary of millions of entries creates no object per entry;
`Connection` objects are made only when rows are iterated, as they are
taken (pyipvs._native.conn_cols).

`ConnCursor.rows` adapts rows to `pyipvs.format.ConnRow`, keeping the
kernel's protocol and state text and expiry exactly as printed, which is
what `ipvsadm -Lc` shows.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any, NamedTuple, TypeVar, final

from pyipvs import _native as _n
from pyipvs._frozen import constructor
from pyipvs.format_conn import ConnRow
from pyipvs.model import Family, IPAddress, ServiceKey

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_T = TypeVar("_T")
ConnCounts = _n.ConnCounts


class ConnState(enum.Enum):
    """The kernel's connection and template state names (TCP, UDP, SCTP)."""

    NONE = "NONE"
    ESTABLISHED = "ESTABLISHED"
    SYN_SENT = "SYN_SENT"
    SYN_RECV = "SYN_RECV"
    FIN_WAIT = "FIN_WAIT"
    TIME_WAIT = "TIME_WAIT"
    CLOSE = "CLOSE"
    CLOSE_WAIT = "CLOSE_WAIT"
    LAST_ACK = "LAST_ACK"
    LISTEN = "LISTEN"
    SYNACK = "SYNACK"
    UDP = "UDP"
    INIT1 = "INIT1"
    INIT = "INIT"
    COOKIE_SENT = "COOKIE_SENT"
    COOKIE_REPLIED = "COOKIE_REPLIED"
    COOKIE_WAIT = "COOKIE_WAIT"
    COOKIE_ECHOED = "COOKIE_ECHOED"
    SHUTDOWN_SENT = "SHUTDOWN_SENT"
    SHUTDOWN_RECEIVED = "SHUTDOWN_RECEIVED"
    SHUTDOWN_ACK_SENT = "SHUTDOWN_ACK_SENT"
    REJECTED = "REJECTED"
    CLOSED = "CLOSED"
    ASSURED = "ASSURED"  # persistence templates only
    BUG = "BUG!"
    ERR = "ERR!"


if {s.value for s in ConnState} != set(_n.CONN_STATE_NAMES.values()):
    raise ImportError("ConnState and the C core's state names differ")

_STATE_BY_TEXT = {s.value: s for s in ConnState}
_STATE_CODE = {s: _n.CONN_STATE_CODES[s.value] for s in ConnState}
_STATE_BY_CODE = {code: s for s, code in _STATE_CODE.items()}


class Origin(enum.Enum):
    """Where a sync-table entry came from (ip_vs_conn_sync's Origin column)."""

    LOCAL = "LOCAL"
    SYNC = "SYNC"  # created from a sync daemon message


_ORIGIN_CODE = {Origin.LOCAL: _n.CONN_ORIGIN_LOCAL, Origin.SYNC: _n.CONN_ORIGIN_SYNC}
_ORIGIN_BY_CODE = {code: o for o, code in _ORIGIN_CODE.items()}
_ORIGINS: dict[int, Any] = dict(_ORIGIN_BY_CODE)


class Connection(NamedTuple):
    """One connection entry (or persistence template) as the kernel lists it.

    `proto` and `state` are the kernel's text, kept as read (unknown names
    included); `protocol` is the IP protocol number, None for a name pyipvs
    does not know. Templates of fwmark services have proto "IP" (0) and the
    mark in `vaddr`. `origin` is set for rows of ip_vs_conn_sync only.

    A typed named tuple rather than a frozen dataclass like the rest of the
    model: a table has millions of rows, and a tuple can be made in C
    (tuple.__new__ over zip) where a slotted object needs a Python frame
    each, which alone costs more per row than the kernel spends printing
    it (6.16, in the emulated test VM).
    """

    proto: str
    protocol: int | None
    caddr: IPAddress
    cport: int
    vaddr: IPAddress
    vport: int
    daddr: IPAddress
    dport: int
    state: str
    expires: int  # seconds
    pe_name: str | None = None
    pe_data: str | None = None
    origin: Origin | None = None

    @property
    def conn_state(self) -> ConnState | None:
        return _STATE_BY_TEXT.get(self.state)

    @property
    def family(self) -> Family:
        return Family.INET6 if self.caddr.version == 6 else Family.INET

    @property
    def dest_family(self) -> Family:
        return Family.INET6 if self.daddr.version == 6 else Family.INET

    @property
    def fwmark(self) -> int | None:
        """The mark of a fwmark service's template (the kernel stores it as
        the first four address bytes, for IPv6 services too)."""
        if self.protocol != 0:
            return None
        return int.from_bytes(self.vaddr.packed[:4], "big")


def _fwmark_address(fwmark: int, family: Family) -> IPAddress:
    head = fwmark.to_bytes(4, "big")
    if family == Family.INET6:
        return ipaddress.IPv6Address(head + bytes(12))
    return ipaddress.IPv4Address(head)


@dataclass(frozen=True, slots=True)
class ConnFilter:
    """Which rows to keep; each field left at None (or no states) matches all.
    Evaluated in C, before any Python object exists for a row."""

    protocol: int | None = None
    client: IPNetwork | None = None
    cport: int | None = None
    vaddr: IPAddress | None = None
    vport: int | None = None
    daddr: IPAddress | None = None
    dport: int | None = None
    states: frozenset[ConnState] = frozenset()
    origin: Origin | None = None

    @classmethod
    def service(cls, key: ServiceKey) -> ConnFilter:
        """Entries of a virtual service. For a fwmark service only its
        persistence templates carry the mark; its connections show the
        packet's own virtual address and cannot be told apart here."""
        if key.fwmark:
            return cls(protocol=0, vaddr=_fwmark_address(key.fwmark, key.family))
        return cls(protocol=int(key.protocol), vaddr=key.address, vport=key.port)

    @classmethod
    def server(cls, address: IPAddress | str, port: int | None = None) -> ConnFilter:
        return cls(daddr=ipaddress.ip_address(address), dport=port)

    @classmethod
    def client_in(cls, network: IPNetwork | IPAddress | str) -> ConnFilter:
        """Entries whose client address is in `network` (an address: exactly it)."""
        return cls(client=ipaddress.ip_network(network, strict=False))

    @classmethod
    def in_states(cls, *states: ConnState) -> ConnFilter:
        return cls(states=frozenset(states))

    def _match(self) -> _n.ConnMatch:
        return _n.ConnMatch(
            self.protocol, self.client, self.cport, self.vaddr, self.vport, self.daddr,
            self.dport, frozenset(_STATE_CODE[s] for s in self.states),
            _ORIGIN_CODE[self.origin] if self.origin is not None else None,
        )  # fmt: skip


class GroupBy(enum.IntFlag):
    """What a summary counts per; combine with |."""

    PROTOCOL = _n.CONN_BY_PROTO
    CLIENT = _n.CONN_BY_CLIENT  # client prefix, see Grouping
    VADDR = _n.CONN_BY_VADDR
    VPORT = _n.CONN_BY_VPORT
    DADDR = _n.CONN_BY_DADDR
    DPORT = _n.CONN_BY_DPORT
    STATE = _n.CONN_BY_STATE
    ORIGIN = _n.CONN_BY_ORIGIN
    SERVICE = PROTOCOL | VADDR | VPORT
    SERVER = DADDR | DPORT
    TOTAL = 0


@dataclass(frozen=True, slots=True)
class Grouping:
    """One summary: count rows per `by`. Client addresses are cut to the
    prefix lengths; at most `max_groups` groups are kept (0: no limit), the
    rows of any further key are counted in `Summary.overflow`."""

    by: GroupBy
    v4_prefix: int = 32
    v6_prefix: int = 128
    max_groups: int = 1 << 20


@dataclass(frozen=True, slots=True)
class GroupKey:
    """A group's key; fields outside the grouping are None. An unknown
    protocol or state shows as protocol/state None with its text kept."""

    protocol: int | None = None
    proto: str | None = None
    client: IPNetwork | None = None
    vaddr: IPAddress | None = None
    vport: int | None = None
    daddr: IPAddress | None = None
    dport: int | None = None
    state: ConnState | None = None
    state_text: str | None = None
    origin: Origin | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts per group, in the order groups first appeared in the table."""

    grouping: Grouping
    counts: dict[GroupKey, int] = field(hash=False)
    total: int  # rows counted (those passing the filter)
    overflow: int  # rows left out because max_groups was reached

    def most_common(self, n: int | None = None) -> list[tuple[GroupKey, int]]:
        ranked = sorted(self.counts.items(), key=lambda kv: -kv[1])
        return ranked if n is None else ranked[:n]


def _group_key(t: _n.GroupTuple) -> GroupKey:
    protocol, proto, client, vaddr, vport, daddr, dport, code, text, origin, _count = t
    return GroupKey(
        None if protocol is None or protocol < 0 else protocol, proto, client, vaddr, vport,
        daddr, dport, _STATE_BY_CODE.get(code) if code is not None else None, text,
        _ORIGIN_BY_CODE.get(origin) if origin is not None else None,
    )  # fmt: skip


# ipvsadm 1.31 reads the PE part with sscanf's %s: the first word of the
# data, and no PE columns at all when the kernel printed empty data.
_C_WORD = re.compile(r"[^ \t\n\v\f\r]+")


def _pe_word(data: str | None) -> str | None:
    m = _C_WORD.search(data) if data is not None else None
    return m.group() if m is not None else None


_new_conn_row = constructor(ConnRow)
_tuple_new = tuple.__new__


def _connections(cols: _n.Columns) -> Iterator[Connection]:
    # no Python frame per row: zip makes each row's tuple, tuple.__new__ copies
    # it into a Connection (zip then reuses its tuple for the next row)
    return map(_tuple_new, repeat(Connection), zip(*cols))


def _conn_rows(cols: _n.Columns) -> Iterator[ConnRow]:
    return map(_conn_row, *cols)


def _conn_row(
    proto: str, _protocol: int | None, caddr: IPAddress, cport: int, vaddr: IPAddress,
    vport: int, daddr: IPAddress, dport: int, state: str, expires: int, pe_name: str | None,
    pe_data: str | None, _origin: Origin | None,
) -> ConnRow:  # fmt: skip
    """The native layer's row factory for ConnRow (same arguments as Connection)."""
    return _new_conn_row(proto, caddr, cport, vaddr, vport, daddr, dport, state, expires,
                         pe_name, _pe_word(pe_data))  # fmt: skip


@final
class ConnCursor:
    """An open pass over a connection table. Iterate it for `Connection`s, or
    use `chunks`, `rows` (ipvsadm's ConnRow) or `row_chunks`; `counts` tells
    what was read (bytes, lines, malformed lines, the header seen)."""

    __slots__ = ("_reader",)

    def __init__(self, reader: _n.ConnReader) -> None:
        self._reader = reader

    def _chunks(self, make: Callable[[_n.Columns], Iterator[_T]]) -> Iterator[Iterator[_T]]:
        while (cols := self._reader.columns(_ORIGINS)) is not None:
            yield make(cols)

    def chunks(self) -> Iterator[list[Connection]]:
        return map(list, self._chunks(_connections))

    def __iter__(self) -> Iterator[Connection]:
        # rows are made as they are taken, so a caller that drops each one
        # leaves the cyclic GC nothing to collect (a whole chunk at once
        # would trigger collections costing about as much as the rows)
        return chain.from_iterable(self._chunks(_connections))

    def row_chunks(self) -> Iterator[list[ConnRow]]:
        return map(list, self._chunks(_conn_rows))

    def rows(self) -> Iterator[ConnRow]:
        return chain.from_iterable(self._chunks(_conn_rows))

    def numeric_listing(self, persistent_conn: bool = False) -> Iterator[str]:
        """The rows as the lines of `ipvsadm -Lnc` (with `--persistent-conn`),
        in blocks of text formatted by the C core; the cursor's filter does
        not apply (ipvsadm has none)."""
        while data := self._reader.listing(persistent_conn):
            yield data.decode("utf-8", "surrogateescape")

    @property
    def counts(self) -> ConnCounts:
        return self._reader.counts()

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> ConnCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class ConnTable:
    """Where to read a connection table from.

    By default the kernel's /proc/net/ip_vs_conn (ip_vs_conn_sync with
    `sync`) as the calling thread sees it; `netns` (a path such as
    /run/netns/NAME) opens it inside another network namespace (needs
    CAP_SYS_ADMIN); `path` reads any file in the kernel's format and `data`
    such text held in memory. Both layouts are recognised per row, so `sync`
    only picks the default file.
    """

    path: str | None = None
    sync: bool = False
    netns: str | None = None
    data: bytes | None = None
    bufsize: int = 0  # 0: the C core's default (256 KiB)
    max_read: int = 0  # cap on each read(); for tests of short reads
    # A second thread reads the tail of the table (csrc/conn_split.c): two
    # CPUs share the kernel's O(n^2) walk of kernels before ~6.14. None: for
    # the kernel's own table only (path None or under /proc).
    split: bool | None = None
    split_min: int = 0  # a smaller table is read by one thread (0: 1 MiB)

    def open(self, filter: ConnFilter | None = None, *, chunk: int = 4096,
             stop_at_blank: bool = False) -> ConnCursor:  # fmt: skip
        """Start a pass. `stop_at_blank` ends it at a blank line, as ipvsadm
        1.31 -Lc does (the kernel never writes one)."""
        match = filter._match() if filter is not None else None
        if self.data is not None:
            reader = _n.ConnReader.from_bytes(
                self.data, match=match, chunk=chunk, bufsize=self.bufsize,
                max_read=self.max_read, stop_at_blank=stop_at_blank)  # fmt: skip
        else:
            table = _n.CONN_TABLE_SYNC if self.sync else _n.CONN_TABLE_CONN
            split = self.split
            if split is None:
                split = self.path is None or self.path.startswith("/proc/")
            reader = _n.ConnReader.open(
                self.path, table=table, netns=self.netns, match=match, chunk=chunk,
                bufsize=self.bufsize, max_read=self.max_read, stop_at_blank=stop_at_blank,
                split=split, split_min=self.split_min)  # fmt: skip
        return ConnCursor(reader)

    def connections(self, filter: ConnFilter | None = None) -> Iterator[Connection]:
        """The rows as `Connection`s; the table is opened when the first is
        taken and closed after the last (or when the iterator is dropped)."""
        # chained over the chunks: a generator around the rows would run a
        # frame per row
        return chain.from_iterable(self._chunks(filter))

    def _chunks(self, filter: ConnFilter | None) -> Iterator[Iterator[Connection]]:
        with self.open(filter) as cursor:
            yield from cursor._chunks(_connections)

    def summarize(self, *groupings: Grouping, filter: ConnFilter | None = None) -> list[Summary]:
        """Every grouping's counts from one pass over the table (on kernels
        before ~6.14 each pass costs O(n^2) in the kernel, so share it)."""
        specs = [(int(g.by), g.v4_prefix, g.v6_prefix, g.max_groups) for g in groupings]
        with self.open(filter) as cursor:
            results = cursor._reader.scan(specs)
        return [
            Summary(g, {_group_key(t): t[-1] for t in groups}, total, overflow)
            for g, (groups, total, overflow) in zip(groupings, results, strict=True)
        ]

    def count(self, filter: ConnFilter | None = None) -> int:
        return self.summarize(Grouping(GroupBy.TOTAL), filter=filter)[0].total

    def _per(self, grouping: Grouping, filter: ConnFilter | None) -> dict[GroupKey, int]:
        return self.summarize(grouping, filter=filter)[0].counts

    def per_service(self, filter: ConnFilter | None = None) -> dict[GroupKey, int]:
        return self._per(Grouping(GroupBy.SERVICE), filter)

    def per_server(self, filter: ConnFilter | None = None) -> dict[GroupKey, int]:
        return self._per(Grouping(GroupBy.SERVER), filter)

    def per_state(self, filter: ConnFilter | None = None) -> dict[GroupKey, int]:
        return self._per(Grouping(GroupBy.STATE), filter)

    def per_client_prefix(self, v4_prefix: int = 24, v6_prefix: int = 64,
                          filter: ConnFilter | None = None) -> dict[GroupKey, int]:  # fmt: skip
        return self._per(Grouping(GroupBy.CLIENT, v4_prefix, v6_prefix), filter)


def connections(filter: ConnFilter | None = None, *, netns: str | None = None,
                sync: bool = False) -> Iterator[Connection]:  # fmt: skip
    """The kernel's connection entries, optionally filtered."""
    return ConnTable(sync=sync, netns=netns).connections(filter)
