"""The whole table as listing text formatted by the C core, and what every
consistent whole-table read shares: the retry count, its check and the
error when the table never held still (top layer; `pyipvs.snapshot`
re-exports all of it).

Kept apart from `pyipvs.snapshot` so that `pyipvsadm -Ln`/`-Sn` import no
snapshot, counters or rates classes: each dataclass costs about a
millisecond to create on the host and tens of them in the emulated test
VM, at every start of the program.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyipvs import _native
from pyipvs.errors import IPVSError

if TYPE_CHECKING:
    from pyipvs.format_head import ListFormat
    from pyipvs.ipvs import IPVS

DEFAULT_RETRIES = 5


class SnapshotInconsistentError(IPVSError):
    """The table kept changing while it was read; no consistent listing."""

    def __init__(self, attempts: int) -> None:
        super().__init__(
            11,  # EAGAIN: trying again later may well succeed
            None,
            f"IPVS table changed during each of {attempts} listing attempts",
        )
        self.attempts = attempts

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.attempts,))


def check_retries(retries: object) -> None:
    if not isinstance(retries, int) or not 0 <= retries <= 1000:
        raise ValueError(f"retries must be an integer in 0..1000, not {retries!r}")


def listing_mode(fmt: ListFormat, save: bool = False) -> int:
    """The C formatter's mode bits (csrc/list_fmt.c) for fmt's options."""
    mode = _native.LIST_SAVE if save else 0
    for on, bit in (
        (fmt.stats, _native.LIST_STATS),
        (fmt.rate, _native.LIST_RATE),
        (fmt.thresholds, _native.LIST_THRESHOLDS),
        (fmt.persistent_conn, _native.LIST_PERSISTENT),
        (fmt.tun_info, _native.LIST_TUN_INFO),
        (fmt.exact, _native.LIST_EXACT),
        (fmt.nosort, _native.LIST_NOSORT),
    ):
        if on:
            mode |= bit
    return mode


def numeric_listing(
    ipvs: IPVS, fmt: ListFormat, *, save: bool = False, retries: int = DEFAULT_RETRIES
) -> tuple[str, int]:
    """The whole table as the lines of `ipvsadm -Ln` with fmt's options (after
    the title lines), or with save as those of `ipvsadm -Sn`: numeric, in
    ipvsadm's order, formatted by the C core from the same consistent read as
    `pyipvs.snapshot.take` with no model object per row. Also returns the
    number of services. fmt.numeric is implied (names are resolved in Python
    only). The servers are read by two threads (`take(threads=2)`): a
    listing's wall time counts more than its CPU time."""
    check_retries(retries)
    mode = listing_mode(fmt, save)
    got = ipvs._call(lambda h: _native.read_table_text(h, retries, mode))
    if got is None:
        raise SnapshotInconsistentError(retries + 1)
    text, count = got
    return text.decode("utf-8", "surrogateescape"), count
