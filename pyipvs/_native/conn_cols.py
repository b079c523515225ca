"""Connection rows as columns (middle layer, over csrc/conn_cols.c).

A table has millions of rows, and any Python code run per row costs more
than the kernel spends printing it. So C writes a chunk of rows as uint32
words, addresses and texts as numbers of values in a bounded table, and
reports the values that are new; Python makes each value's object once,
turns each column into a sequence in one C-level call (a column whose word
is the same in every row of the chunk becomes a `repeat`), and the caller
zips the columns into row objects. No Python frame runs per row.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable, Iterable
from itertools import repeat
from operator import itemgetter
from typing import Any

from pyipvs._pyipvs_cffi import ffi, lib

#: A chunk's columns, in the order of Connection's fields.
Columns = tuple[Iterable[Any], ...]

_WORDS: int = lib.PYIPVS_CONN_WORDS
_MAX_VALUES = 65536  # objects kept at most (clients rarely repeat)
# PYIPVS_CONN_PROTO_UNKNOWN as the uint32 word carries it
_UNKNOWN_WORD = lib.PYIPVS_CONN_PROTO_UNKNOWN & 0xFFFFFFFF
_MAKE_VALUE: dict[int, Callable[[bytes], Any]] = {
    lib.PYIPVS_CONN_V_INET: ipaddress.IPv4Address,
    lib.PYIPVS_CONN_V_INET6: ipaddress.IPv6Address,
    lib.PYIPVS_CONN_V_NAME: lambda b: b.decode("ascii"),
    lib.PYIPVS_CONN_V_DATA: lambda b: b.decode("utf-8", "surrogateescape"),
}

# What each word is, in Connection's field order.
_VALUE, _INT, _PROTOCOL, _ORIGIN = range(4)
_KIND = {
    lib.PYIPVS_CONN_W_PROTO: _VALUE,
    lib.PYIPVS_CONN_W_PROTOCOL: _PROTOCOL,
    lib.PYIPVS_CONN_W_CADDR: _VALUE,
    lib.PYIPVS_CONN_W_CPORT: _INT,
    lib.PYIPVS_CONN_W_VADDR: _VALUE,
    lib.PYIPVS_CONN_W_VPORT: _INT,
    lib.PYIPVS_CONN_W_DADDR: _VALUE,
    lib.PYIPVS_CONN_W_DPORT: _INT,
    lib.PYIPVS_CONN_W_STATE: _VALUE,
    lib.PYIPVS_CONN_W_EXPIRES: _INT,
    lib.PYIPVS_CONN_W_PE_NAME: _VALUE,
    lib.PYIPVS_CONN_W_PE_DATA: _VALUE,
    lib.PYIPVS_CONN_W_ORIGIN: _ORIGIN,
}
# Connection's fields end with pe_name, pe_data, origin
_FIELD_ORDER = (*range(lib.PYIPVS_CONN_W_ORIGIN), lib.PYIPVS_CONN_W_PE_NAME,
                lib.PYIPVS_CONN_W_PE_DATA, lib.PYIPVS_CONN_W_ORIGIN)  # fmt: skip
if sorted(_FIELD_ORDER) != list(range(_WORDS)) or set(_KIND) != set(_FIELD_ORDER):
    raise ImportError("the C core's connection words do not match pyipvs._native.conn_cols")
_PLAN = tuple((word, _KIND[word]) for word in _FIELD_ORDER)


def _protocol(word: int) -> int | None:
    return None if word == _UNKNOWN_WORD else word


class ColumnReader:
    """The column side of one ConnReader: its C value table, buffers, and
    the objects of the values (by number; 0 is None)."""

    __slots__ = ("_chunk", "_news", "_table", "_vals", "_words")

    def __init__(self, chunk: int, check: Callable[[int], None]) -> None:
        out = ffi.new("struct pyipvs_conn_values **")
        check(lib.pyipvs_conn_values_new(out, _MAX_VALUES))
        self._table: Any = ffi.gc(out[0], lib.pyipvs_conn_values_free)
        # C takes no more rows a call than could add max_values values:
        # buffers for more would go unused
        chunk = self._chunk = min(chunk, (_MAX_VALUES - 1) // lib.PYIPVS_CONN_VALUES_PER_ROW)
        self._words: Any = ffi.new("uint32_t[]", chunk * _WORDS)
        self._news: Any = ffi.new("uint8_t[]", chunk * lib.PYIPVS_CONN_NEW_PER_ROW)
        self._vals: list[Any] = [None]

    def read(self, reader: Any, match: Any, origins: dict[int, Any],
             check: Callable[[int], None]) -> Columns | None:  # fmt: skip
        """The reader's next chunk passing match (a C filter or NULL) as
        Connection's 13 columns (origin codes mapped through `origins`);
        None at the end of the table."""
        c = ffi.new("struct pyipvs_conn_chunk *")
        check(lib.pyipvs_conn_read_cols(reader, match, self._table, self._words, self._chunk,
                                        self._news, len(self._news), c))  # fmt: skip
        n = c.rows
        if n == 0:
            return None
        if c.reset:  # a new list: columns handed out before keep the old one
            self._vals = [None]
        vals = self._vals
        if c.first_new != len(vals):  # the two tables' numbers must agree
            raise RuntimeError("connection value table out of step with the C core")
        if c.new_len:
            self._add_values(ffi.buffer(self._news, c.new_len)[:])
        words = memoryview(ffi.buffer(self._words, n * _WORDS * 4)).cast("I")
        same, unknown = c.same, c.unknown_protocol
        cols: list[Iterable[Any]] = []
        for word, kind in _PLAN:
            if same >> word & 1:  # one value for the whole chunk
                x = words[word]
                one = (vals[x] if kind == _VALUE else origins.get(x) if kind == _ORIGIN
                       else _protocol(x) if kind == _PROTOCOL else x)  # fmt: skip
                cols.append(repeat(one, n))
                continue
            numbers = words[word::_WORDS].tolist()
            if kind == _VALUE:
                # one C call for the column; itemgetter of one number gives
                # the object itself, but n > 1 here (one row is all "same")
                cols.append(itemgetter(*numbers)(vals))
            elif kind == _ORIGIN:
                cols.append(map(origins.get, numbers))
            elif kind == _PROTOCOL and unknown:
                cols.append(map(_protocol, numbers))
            else:
                cols.append(numbers)
        return tuple(cols)

    def _add_values(self, news: bytes) -> None:
        """Objects for the values the C table reports as new: kind byte,
        16-bit length (host order), bytes."""
        append, at, end = self._vals.append, 0, len(news)
        while at < end:
            n = int.from_bytes(news[at + 1 : at + 3], sys.byteorder)
            append(_MAKE_VALUE[news[at]](news[at + 3 : at + 3 + n]))
            at += 3 + n
