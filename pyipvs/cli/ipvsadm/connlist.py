"""`-L -c`: the connection table (top layer: the `pyipvsadm` front end).

There is no netlink call for connections: ipvsadm 1.31 reads
/proc/net/ip_vs_conn, skips its first line and prints every further line in
the kernel's order. pyipvs.conns reads the table of the session's network
namespace (the C core parses it); pyipvs.format.conn_line prints a row.
A file that cannot be opened, or is empty, ends the run with status 1 and a
message; a blank line (which the kernel never writes) ends it silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# format_conn, not the pyipvs.format facade: the numeric listing needs only
# the titles, and the other formatters are start-up cost.
from pyipvs.format_conn import conn_header_lines, conn_line

from .outcome import Exit
from .session import Session

if TYPE_CHECKING:
    from pyipvs.format_head import ListFormat

CONN_PROC_FILE = "/proc/net/ip_vs_conn"


def list_connections(session: Session, fmt: ListFormat) -> None:
    from pyipvs.conns import ConnTable
    from pyipvs.ipvs import netns_path

    table = ConnTable(netns=netns_path(session.netns))
    try:
        cursor = table.open(stop_at_blank=True)
    except OSError as exc:
        raise Exit(1, f"cannot open file {CONN_PROC_FILE}") from exc
    out = session.out
    if fmt.numeric:
        # Numeric lines are a pure function of each row: the C core writes
        # them (a Python string per row would cost more than the kernel's read).
        with cursor:
            blocks = cursor.numeric_listing(fmt.persistent_conn)
            block = next(blocks, None)
            if cursor.counts.bytes_read == 0:
                raise Exit(1, f"unexpected input from {CONN_PROC_FILE}")
            out.lines(conn_header_lines(fmt.persistent_conn))
            while block is not None:
                out.write(block)
                block = next(blocks, None)
            if cursor.counts.blank:
                raise Exit(1)
        return
    from pyipvs.names import SystemResolver  # named listings only

    resolver = SystemResolver()
    with cursor:
        chunks = cursor.row_chunks()
        first = next(chunks, None)
        if cursor.counts.bytes_read == 0:
            raise Exit(1, f"unexpected input from {CONN_PROC_FILE}")
        out.lines(conn_header_lines(fmt.persistent_conn))
        chunk = first
        while chunk is not None:
            # The chunk's names asked for together (SystemResolver.prefetch).
            resolver.prefetch(a for row in chunk for a in (row.caddr, row.vaddr, row.daddr))
            out.lines([conn_line(row, fmt.numeric, fmt.persistent_conn, resolver) for row in chunk])
            chunk = next(chunks, None)
        if cursor.counts.blank:
            raise Exit(1)  # ipvsadm stops at a line sscanf finds empty, silently
