"""The head of a `-L` listing: its format options (`ListFormat`), the version
line and the column titles, and C's view of a 32-bit value (top layer: pure
Python, no cffi). Behind pyipvs.format; import from there.

Kept apart from the row formatters because `pyipvsadm -Ln` and `-Sn` need
only this much in Python (the C core formats their rows): importing it costs
no name resolution, sorting or socket module, each a start-up cost (about
15-45 ms a module in the emulated test VM). The text itself is in
pyipvs.format_titles, which pyipvsadm's thin start uses without the model.
"""

# printf-style % mirrors the C format strings being reproduced, and is the fastest
# (UP031 is off for these modules in pyproject.toml).

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyipvs.format_titles import M32 as M32
from pyipvs.format_titles import list_titles, version_text
from pyipvs.format_titles import s32 as s32

if TYPE_CHECKING:
    from pyipvs.model import Info


@dataclass(frozen=True, slots=True)
class ListFormat:
    """The `-L` format options. Several may be set; ipvsadm's precedence applies."""

    numeric: bool = False
    stats: bool = False
    rate: bool = False
    thresholds: bool = False
    persistent_conn: bool = False
    tun_info: bool = False
    exact: bool = False
    nosort: bool = False


def version_line(info: Info) -> str:
    """`IP Virtual Server version 1.2.1 (size=4096)`."""
    return version_text(*info.version, info.conn_tab_size)


def title_lines(fmt: ListFormat) -> list[str]:
    """The two column-title lines (some end in a blank: ipvsadm pads the last title)."""
    return list_titles(fmt.stats, fmt.rate, fmt.thresholds, fmt.persistent_conn, fmt.tun_info)
