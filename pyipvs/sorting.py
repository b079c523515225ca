"""Service and real-server order exactly as ipvsadm 1.31 lists them (top layer:
pure Python, no cffi).

ipvsadm sorts with glibc's qsort, which is a stable top-down merge sort
(split n//2 | n - n//2, merge taking the left element when cmp <= 0), and
with comparators that subtract unsigned 32-bit fields in C `int`. The
wrap-around makes addresses 2^31 or more apart compare "backwards"
(200.0.0.1 lists before 10.0.0.1) and the relation is not transitive, so the
final order depends on the algorithm: Python's sorted() with the same
comparator gives a different order on such inputs.

Field by field (libipvs 1.31): services by fwmark, address family,
protocol, address (four words for IPv6, else one), port; real servers by
address (the loop is chosen by the *first* operand's family) then port.

Speed (200,000 real servers may be sorted): when every compared field's
values lie on an arc shorter than 2^31 of the 32-bit circle, the comparator
is a consistent total order (the natural order of the values rotated to
start the arc), and any stable sort gives the merge sort's result, so
C-speed sorted() is used. Otherwise the merge sort runs literally, on one
int key per element (one arithmetic test per step when only the leading
field wraps, as for IPv4 servers spread over the address space).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pyipvs.model import ServerStatus, ServiceStatus

__all__ = ["sort_servers", "sort_services"]

T = TypeVar("T")

_M32 = 0xFFFFFFFF
_HALF = 0x80000000
_CIRCLE = 0x100000000


def _s32(value: int) -> int:
    value &= _M32
    return value - _CIRCLE if value & _HALF else value


def _rotation(column: Sequence[int]) -> int | None:
    """Where the arc holding all values starts, or None if no arc < 2^31 holds them."""
    values = sorted(set(column))
    if len(values) <= 1:
        return 0
    # The largest gap on the circle, the wrap-around one included.
    gap = values[0] + _CIRCLE - values[-1]
    start = values[0]
    prev = values[0]
    for v in values:
        if v - prev > gap:
            gap = v - prev
            start = v
        prev = v
    return start if _CIRCLE - gap < _HALF else None


def _msort(keys: list[int]) -> list[int]:
    """glibc's msort on ints made of 32-bit slots, the lowest holding the index.

    Slots compare as C does, `(int)(a - b)`, most significant first; the
    first slot that differs decides. The index slot never ties and always
    favours the left run (whose elements all came from lower positions),
    which is what "take left when cmp <= 0" does on true ties.
    """
    n = len(keys)
    if n <= 1:
        return keys
    n1 = n >> 1
    n2 = n - n1
    left = _msort(keys[:n1])
    right = _msort(keys[n1:])
    out: list[int] = []
    append = out.append
    i = j = 0
    a = left[0]
    b = right[0]
    while True:
        s = ((a ^ b).bit_length() - 1) & -32
        if ((a >> s) - (b >> s)) & _HALF:
            append(a)
            i += 1
            if i == n1:
                out += right[j:]
                return out
            a = left[i]
        else:
            append(b)
            j += 1
            if j == n2:
                out += left[i:]
                return out
            b = right[j]


def _msort_top(keys: list[int], mask: int, threshold: int) -> list[int]:
    """glibc's msort when only the top field wraps (the usual hard case: IPv4
    real servers spread over the address space). One test per step.

    Keys are `w << (Q + 1) | q`: w the 32-bit wrapping field, q < 2^Q the
    rest (natural order, index in its low bits, so never equal). For
    D = (a - b) mod 2^(Q+33): D >= 2^(Q+32) - 2^Q exactly when w's C
    difference is negative, or w ties and q_a < q_b; the spare bit keeps
    q's borrow from reaching that boundary.
    """
    n = len(keys)
    if n <= 2:
        if n == 2 and ((keys[0] - keys[1]) & mask) < threshold:
            return [keys[1], keys[0]]
        return keys
    n1 = n >> 1
    n2 = n - n1
    left = _msort_top(keys[:n1], mask, threshold)
    right = _msort_top(keys[n1:], mask, threshold)
    out: list[int] = []
    append = out.append
    i = j = 0
    a = left[0]
    b = right[0]
    while True:
        if ((a - b) & mask) >= threshold:
            append(a)
            i += 1
            if i == n1:
                out += right[j:]
                return out
            a = left[i]
        else:
            append(b)
            j += 1
            if j == n2:
                out += left[i:]
                return out
            b = right[j]


def _order(columns: list[list[int]], n: int) -> list[int]:
    """Positions in ipvsadm's order for rows given as 32-bit columns (most significant first)."""
    rotations = [_rotation(col) for col in columns]
    keys = [0] * n
    if all(r is not None for r in rotations[1:]):
        for col, rot in zip(columns[1:], rotations[1:]):
            c = rot or 0
            keys = [(k << 32) | ((v - c) & _M32) for k, v in zip(keys, col)]
        if rotations[0] is not None:
            c = rotations[0]
            top = [(v - c) & _M32 for v in columns[0]]
            keys = [(w << (32 * len(columns) - 32)) | k for w, k in zip(top, keys)]
            return sorted(range(n), key=keys.__getitem__)
        q_bits = 32 * len(columns)  # the lower columns plus the index slot
        keys = [
            (w << (q_bits + 1)) | (k << 32) | i for i, (w, k) in enumerate(zip(columns[0], keys))
        ]
        mask = (1 << (q_bits + 33)) - 1
        threshold = (1 << (q_bits + 32)) - (1 << q_bits)
        return [k & _M32 for k in _msort_top(keys, mask, threshold)]
    for col in columns:
        keys = [(k << 32) | v for k, v in zip(keys, col)]
    return [k & _M32 for k in _msort([(k << 32) | i for i, k in enumerate(keys)])]


def _msort_cmp(items: list[T], cmp: Callable[[T, T], int]) -> list[T]:
    """glibc's msort with an arbitrary comparator (the rare mixed-family case)."""
    n = len(items)
    if n <= 1:
        return items
    n1 = n >> 1
    left = _msort_cmp(items[:n1], cmp)
    right = _msort_cmp(items[n1:], cmp)
    out: list[T] = []
    i = j = 0
    while i < n1 and j < n - n1:
        if cmp(left[i], right[j]) <= 0:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    out += left[i:]
    out += right[j:]
    return out


def sort_services(services: list[ServiceStatus]) -> list[ServiceStatus]:
    """A new list in ipvsadm's service order."""
    n = len(services)
    if n <= 1:
        return list(services)
    fwmarks, afs, protos, ports = [], [], [], []
    words: list[list[int]] = [[], [], [], []]
    for st in services:
        key = st.service.key
        fwmarks.append(key.fwmark & _M32)
        afs.append(int(key.family))
        protos.append(int(key.protocol) & 0xFFFF)
        ports.append(key.port & 0xFFFF)
        # An IPv4 address is the first of four words, the rest zero (libipvs's union).
        a = key.address
        v = 0 if a is None else (int(a) if a.version == 6 else int(a) << 96)
        words[0].append(v >> 96)
        words[1].append((v >> 64) & _M32)
        words[2].append((v >> 32) & _M32)
        words[3].append(v & _M32)
    order = _order([fwmarks, afs, protos, *words, ports], n)
    return [services[i] for i in order]


def _dest_cmp(d1: tuple[int, tuple[int, ...], int], d2: tuple[int, tuple[int, ...], int]) -> int:
    # (version, words, port); libipvs loops over four words only if d1 is IPv6.
    w1, w2 = d1[1], d2[1]
    r = _s32(w1[0] - w2[0])
    if d1[0] == 6:
        i = 1
        while not r and i < 4:
            r = _s32(w1[i] - w2[i])
            i += 1
    return r if r else d1[2] - d2[2]


def sort_servers(servers: list[ServerStatus]) -> list[ServerStatus]:
    """A new list in ipvsadm's real-server order."""
    n = len(servers)
    if n <= 1:
        return list(servers)
    versions = {st.server.address.version for st in servers}
    ports = [st.server.port & 0xFFFF for st in servers]
    if versions == {4}:
        addrs = [int(st.server.address) for st in servers]
        return [servers[i] for i in _order([addrs, ports], n)]
    values = [int(st.server.address) for st in servers]
    if versions == {6}:
        columns = [[(v >> sh) & _M32 for v in values] for sh in (96, 64, 32, 0)]
        return [servers[i] for i in _order([*columns, ports], n)]
    # Mixed families (tunnelling servers): the comparator is not even
    # antisymmetric, so run the merge sort with it literally.
    rows = []
    for st, v, p in zip(servers, values, ports):
        if st.server.address.version == 6:
            w = (v >> 96, (v >> 64) & _M32, (v >> 32) & _M32, v & _M32)
            rows.append((6, w, p))
        else:
            rows.append((4, (v, 0, 0, 0), p))
    order = _msort_cmp(list(range(n)), lambda x, y: _dest_cmp(rows[x], rows[y]))
    return [servers[i] for i in order]
