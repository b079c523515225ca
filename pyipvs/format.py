"""Pure formatters for ipvsadm 1.31-compatible output (top layer: pure Python,
no cffi).

Model objects in, text out, byte for byte what ipvsadm 1.31 prints: the
listings (`-L` with every format option), `-S` save rules, the connection
table (`-L -c`), `--timeout` and `--daemon`. Lines are returned without their
newline. Name lookups go through an injected `pyipvs.names.Resolver`; the
caller sorts with `pyipvs.sorting` first (unless --nosort).

This module is the public face; the work is split by concern into
format_head (the format options, version and title lines: all that the
C-formatted numeric listings need), format_addr (address text),
format_list, format_save, format_conn and format_status.
"""

from __future__ import annotations

from pyipvs.format_addr import addrport, ntop
from pyipvs.format_conn import ConnRow, conn_header_lines, conn_line
from pyipvs.format_head import ListFormat, title_lines, version_line
from pyipvs.format_list import print_largenum, sched_flags_text, service_lines
from pyipvs.format_save import save_lines
from pyipvs.format_status import daemon_lines, timeout_line

__all__ = [
    "ConnRow",
    "ListFormat",
    "addrport",
    "conn_header_lines",
    "conn_line",
    "daemon_lines",
    "ntop",
    "print_largenum",
    "save_lines",
    "sched_flags_text",
    "service_lines",
    "timeout_line",
    "title_lines",
    "version_line",
]
