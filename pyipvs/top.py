"""The `pyipvs top` screen as a pure function (top layer: snapshots in, lines
of text out; no terminal, no kernel).

`render` turns the latest snapshot, the rates since the one before, a view
(sort column, order, whether servers are shown) and a terminal size into
the lines to draw, each at most `width` characters and at most `height` of
them, so the curses loop in pyipvs.cli.pyipvs_top only paints and the
screen can be tested on the host.

Rates. With two snapshots the rates are counter deltas divided by the time
between them (`pyipvs.snapshot.rates`): an exact average over the refresh
interval. For the first frame there is no earlier snapshot, and the
kernel estimator's own smoothed rates are shown instead; the header says
which. The kernel refreshes its counters every 2 s, so intervals shorter
than that make delta rates lumpy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from pyipvs.model import Family, ServerStatus, ServiceKey, Stats
from pyipvs.snapshot import Rate, Rates, Snapshot

#: Sortable columns: (key, heading). Rates first, then live connection counts.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("cps", "Conn/s"),
    ("inpps", "InPkt/s"),
    ("outpps", "OutPkt/s"),
    ("inbps", "InByte/s"),
    ("outbps", "OutByte/s"),
    ("active", "ActConn"),
    ("inactive", "InActConn"),
)
SORT_KEYS = ("name", *(key for key, _ in COLUMNS))
T = TypeVar("T")
_NUM = 10  # width of a number column, its leading space included
_MIN_NAME = 14
KEYS_HELP = "<> sort  r reverse  s servers  q quit"


@dataclass(frozen=True, slots=True)
class View:
    """What the user chose: sort column, descending or not, servers shown."""

    sort: str = "inbps"
    descending: bool = True
    servers: bool = True

    def next_sort(self, step: int) -> View:
        i = SORT_KEYS.index(self.sort) if self.sort in SORT_KEYS else 0
        return replace(self, sort=SORT_KEYS[(i + step) % len(SORT_KEYS)])


def _stats_rate(s: Stats) -> Rate:
    return Rate(float(s.cps), float(s.inpps), float(s.outpps), float(s.inbps), float(s.outbps))


def human(v: float | None) -> str:
    """A number in at most 9 characters: 1234, 12.3K, 4.5M; '-' for none."""
    if v is None:
        return "-"
    if v < 10 and v != int(v):
        return f"{v:.1f}"
    for unit, div in (("", 1.0), ("K", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12)):
        if v / div < 99999.5:
            return f"{v / div:.0f}{unit}" if not unit else f"{v / div:.1f}{unit}"
    return f"{v / 1e15:.1f}P"


def _endpoint(address: object, port: int) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return f"[{address}]:{port}"
    return f"{address}:{port}"


def service_name(key: ServiceKey) -> str:
    if key.is_fwmark:
        return f"FWM  {key.fwmark}" + ("  IPv6" if key.family is Family.INET6 else "")
    return f"{key.protocol.name:<4} {_endpoint(key.address, key.port)}"


@dataclass(frozen=True, slots=True)
class _Row:
    name: str
    order: tuple[int, ...]  # for sorting by name: numeric, as ipvsadm sorts
    rate: Rate | None
    active: int
    inactive: int

    def value(self, sort: str) -> float:
        if sort == "active":
            return self.active
        if sort == "inactive":
            return self.inactive
        return -1.0 if self.rate is None else float(getattr(self.rate, sort))

    def cells(self) -> list[str]:
        r = self.rate
        rates = [None] * 5 if r is None else [r.cps, r.inpps, r.outpps, r.inbps, r.outbps]
        return [*(human(v) for v in rates), str(self.active), str(self.inactive)]


def _sorted(rows: list[tuple[_Row, T]], view: View) -> list[tuple[_Row, T]]:
    if view.sort == "name":
        return sorted(rows, key=lambda r: r[0].order, reverse=view.descending)
    # Ties fall back to the name order, so equal rows never jump around.
    rows = sorted(rows, key=lambda r: r[0].order)
    return sorted(rows, key=lambda r: r[0].value(view.sort), reverse=view.descending)


def _service_rows(cur: Snapshot, rates: Rates | None) -> list[tuple[_Row, list[_Row]]]:
    out: list[tuple[_Row, list[_Row]]] = []
    for status, servers in cur.items():
        key = status.service.key
        srows = [_server_row(key, s, rates) for s in servers]
        rate = _stats_rate(status.stats) if rates is None else rates.services.get(key)
        row = _Row(
            service_name(key),
            _service_order(key),
            rate,
            sum(s.active for s in srows),
            sum(s.inactive for s in srows),
        )
        out.append((row, srows))
    return out


def _server_row(key: ServiceKey, s: ServerStatus, rates: Rates | None) -> _Row:
    rate = _stats_rate(s.stats) if rates is None else rates.server(key, s)
    name = "  -> " + _endpoint(s.server.address, s.server.port)
    order = (s.server.family, int(s.server.address), s.server.port)
    return _Row(name, order, rate, s.active_conns, s.inact_conns)


def _service_order(key: ServiceKey) -> tuple[int, ...]:
    # fwmark services after the others, then by family, protocol, address, port.
    address = 0 if key.address is None else int(key.address)
    return (key.is_fwmark, key.family, key.protocol, address, key.port, key.fwmark)


def _line(name: str, cells: Sequence[str], name_width: int, width: int) -> str:
    text = name[:name_width].ljust(name_width) + "".join(c.rjust(_NUM) for c in cells)
    return text[:width].rstrip()


def render(
    cur: Snapshot,
    rates: Rates | None,
    width: int,
    height: int,
    view: View = View(),
    *,
    error: str | None = None,
) -> list[str]:
    """The screen for `cur` (see the module doc). `rates` is
    `snapshot.rates(prev, cur)`, or None for the kernel estimator's rates;
    `error` is shown in place of the key help (a failed refresh)."""
    if width <= 0 or height <= 0:
        return []
    # Columns that do not fit are dropped from the right, never wrapped.
    ncols = max(0, min(len(COLUMNS), (width - _MIN_NAME) // _NUM))
    name_width = max(_MIN_NAME, width - ncols * _NUM) if ncols else width
    table = _service_rows(cur, rates)
    source = "kernel estimator" if rates is None else f"deltas over {rates.interval:.1f}s"
    nserv = sum(len(s) for _, s in table)
    heading = dict(COLUMNS).get(view.sort, "name")
    arrow = "v" if view.descending else "^"
    lines = [
        f"pyipvs top - {len(table)} services, {nserv} servers, rates: {source}"[:width],
        (f"error: {error}" if error else f"sort: {heading} {arrow}  {KEYS_HELP}")[:width],
        _line("Prot LocalAddress:Port", [h for _, h in COLUMNS[:ncols]], name_width, width),
    ]
    total = _Row(
        "TOTAL",
        (),
        _sum_rates([r.rate for r, _ in table]),
        sum(r.active for r, _ in table),
        sum(r.inactive for r, _ in table),
    )
    lines.append(_line(total.name, total.cells()[:ncols], name_width, width))
    body: list[str] = []
    for row, servers in _sorted(table, view):
        body.append(_line(row.name, row.cells()[:ncols], name_width, width))
        if view.servers:
            for srow, _ in _sorted([(s, None) for s in servers], view):
                body.append(_line(srow.name, srow.cells()[:ncols], name_width, width))
    lines += body
    if len(lines) > height > 1:
        hidden = len(lines) - height + 1
        lines = [*lines[: height - 1], f"... {hidden} more lines"[:width]]
    del lines[height:]
    return lines


def _sum_rates(rates: Sequence[Rate | None]) -> Rate | None:
    known = [r for r in rates if r is not None]
    if not known:
        return None if rates else Rate()
    return Rate(
        sum(r.cps for r in known),
        sum(r.inpps for r in known),
        sum(r.outpps for r in known),
        sum(r.inbps for r in known),
        sum(r.outbps for r in known),
    )
