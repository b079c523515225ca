"""What pyipvsadm's thin start asks of the core (bridge layer): the IPVS
version, the whole table as numeric listing text, and the connection table
as `-Lnc` text, with nothing imported but the compiled module.

The thin start (pyipvs/cli/ipvsadm/quick.py) exists to skip the model, the
errors, dataclasses and enum, which _core imports; so a negative return
code here is not mapped by `check` but becomes a bare OSError, which no one
reports: the thin start hands every failure to the full path, which makes
the same calls again and reports them as ipvsadm does. The calls and their
arguments are those of that path (pyipvs.ipvs.IPVS, snapshot.read_table_text,
conn.ConnReader.listing); every C object is freed before a call returns,
except the connection reader, which `ConnText` owns.
"""

from pyipvs._pyipvs_cffi import ffi, lib

TIMEOUT_MS = 5000  # pyipvs.IPVS's default timeout
RETRIES = 5  # pyipvs.listing_native.DEFAULT_RETRIES
CONN_BLOCK = 1 << 20  # conn.ConnReader.listing's block

#: pyipvs_table_format's mode bits, by ipvsadm's long option name.
LIST_OPTION_MODES: dict[str, int] = {
    "save": lib.PYIPVS_LIST_SAVE,
    "stats": lib.PYIPVS_LIST_STATS,
    "rate": lib.PYIPVS_LIST_RATE,
    "thresholds": lib.PYIPVS_LIST_THRESHOLDS,
    "persistent-conn": lib.PYIPVS_LIST_PERSISTENT,
    "tun-info": lib.PYIPVS_LIST_TUN_INFO,
    "exact": lib.PYIPVS_LIST_EXACT,
    "nosort": lib.PYIPVS_LIST_NOSORT,
}


def _ok(rc: int) -> None:
    if rc < 0:
        raise OSError(-rc, "pyipvs core call failed")


def info_and_table(mode: int | None) -> tuple[int, int, bytes]:
    """IPVS's version word (0x010201 for 1.2.1) and connection table size,
    and with a mode (pyipvs_table_format's bits) the whole table of this
    process's namespace, read consistently and formatted by the core."""
    out = ffi.new("struct pyipvs_handle **")
    _ok(lib.pyipvs_handle_open(out, ffi.NULL, TIMEOUT_MS))
    h = out[0]
    try:
        info = ffi.new("struct pyipvs_info *")
        _ok(lib.pyipvs_info_get(h, info))
        if mode is None:
            return int(info.version), int(info.conn_tab_size), b""
        table = ffi.new("struct pyipvs_table **")
        _ok(lib.pyipvs_table_read(h, RETRIES, table))
        try:
            text, n = ffi.new("char **"), ffi.new("size_t *")
            _ok(lib.pyipvs_table_format(table[0], mode, text, n))
            try:
                data: bytes = ffi.buffer(text[0], n[0])[:] if n[0] else b""
            finally:
                lib.pyipvs_text_free(text[0])
        finally:
            lib.pyipvs_table_free(table[0])
        return int(info.version), int(info.conn_tab_size), data
    finally:
        lib.pyipvs_handle_close(h)


class ConnText:
    """/proc/net/ip_vs_conn of this process's namespace as the lines of
    `ipvsadm -Lnc`, block by block, ending at a blank line as ipvsadm does."""

    __slots__ = ("_buf", "_flags", "_r")

    def __init__(self, persistent_conn: bool) -> None:
        out = ffi.new("struct pyipvs_conn_reader **")
        opts = ffi.new("struct pyipvs_conn_opts *")
        # As pyipvs.conns.ConnTable for the kernel's table: a second thread
        # reads the tail (csrc/conn_split.c).
        opts.flags = lib.PYIPVS_CONN_OPT_STOP_AT_BLANK | lib.PYIPVS_CONN_OPT_SPLIT
        _ok(lib.pyipvs_conn_reader_open(out, ffi.NULL, lib.PYIPVS_CONN_TABLE_CONN, ffi.NULL, opts))
        self._r = ffi.gc(out[0], lib.pyipvs_conn_reader_free)
        self._buf = ffi.new("char[]", CONN_BLOCK)
        self._flags = lib.PYIPVS_CONN_FMT_PERSISTENT if persistent_conn else 0

    def block(self) -> bytes:
        """The next rows' lines; b"" at the end of the table."""
        n, rows = ffi.new("size_t *"), ffi.new("size_t *")
        buf = self._buf
        _ok(lib.pyipvs_conn_format(self._r, self._flags, buf, len(buf), n, rows))
        text: bytes = ffi.buffer(buf, n[0])[:]
        return text

    def seen(self) -> tuple[int, bool]:
        """Bytes read so far, and whether a blank line ended the table."""
        c = ffi.new("struct pyipvs_conn_counts *")
        lib.pyipvs_conn_reader_counts(self._r, c)
        return int(c.bytes), bool(c.blank)

    def close(self) -> None:
        ffi.release(self._r)
