"""What the `pyipvs` console script's thin start asks of the core for
`apply FILE` and `diff FILE` (bridge layer, over thin.py's guard and
handles): the file's table and the live one as byte records, and a plan's
changes sent as records, with nothing imported but the compiled module.

The records are csrc/records.c's, the ones pyipvs.reconcile.records plans
with. Here they stay in C's arrays, copied once into bytes (`Table`), and C
compares two tables (`differences`: pyipvs.reconcile.delta.diff's set
operations), so Python looks only at what differs. `apply_records` encodes
each change from its record (pyipvs_batch_record) into the message the
library's batch sends for the model object the record stands for, and
sends them as that batch does without flags. As in thin.py, a failure is a
bare OSError, which hands the command to the full path.
"""

from pyipvs._pyipvs_cffi import ffi, lib

from .thin import RETRIES, _close, _handle, _ok, guarded, send_batch, start_guarded

TYPE_CHECKING = False  # not typing's: typing is start-up cost (quick_pyipvs.py)
if TYPE_CHECKING:
    import struct
    from collections.abc import Callable, Iterator

    from .thin import Outcome

    #: One kind of two tables compared: identities added, edited (both in
    #: the wanted order) and gone (in the live order).
    Kind = tuple[list[bytes], list[bytes], list[bytes]]

# The record layouts, for this module and records.py (which the thin start
# cannot import): identity bytes, whole sizes, (identity, settings) pairs.
SVC_ID: int = ffi.sizeof("struct pyipvs_svc_id")
SVC_REC: int = ffi.sizeof("struct pyipvs_svc_rec")
DEST_ID: int = ffi.offsetof("struct pyipvs_dest_rec", "fwd_method")
DEST_REC: int = ffi.sizeof("struct pyipvs_dest_rec")

#: The command of each of pyipvs.reconcile.delta's actions.
COMMANDS: dict[str, int] = {
    "add-service": lib.PYIPVS_CMD_NEW_SERVICE,
    "edit-service": lib.PYIPVS_CMD_SET_SERVICE,
    "delete-service": lib.PYIPVS_CMD_DEL_SERVICE,
    "add-server": lib.PYIPVS_CMD_NEW_DEST,
    "edit-server": lib.PYIPVS_CMD_SET_DEST,
    "delete-server": lib.PYIPVS_CMD_DEL_DEST,
}


def service_of(server_id: bytes) -> bytes:
    """The identity of a server's service (the start of its own)."""
    return server_id[:SVC_ID]


class Table:
    """A table as records, in its order: its services' whole records back
    to back, and its servers'. Python sees only the few that differ."""

    __slots__ = ("servers", "services")

    def __init__(self, services: bytes, servers: bytes) -> None:
        self.services, self.servers = services, servers

    def sizes(self) -> tuple[int, int]:
        """How many services and servers."""
        return len(self.services) // SVC_REC, len(self.servers) // DEST_REC

    def service_ids(self) -> "Iterator[bytes]":
        """The services' identities, in order."""
        s = self.services
        return (s[i : i + SVC_ID] for i in range(0, len(s), SVC_REC))

    def pairs(self) -> "tuple[Iterator[tuple[bytes, bytes]], Iterator[tuple[bytes, bytes]]]":
        """(identity, settings) of the services and of the servers, in order
        (what pyipvs.reconcile.records.RecordSide takes)."""
        svc, dest = pair_structs()
        return svc.iter_unpack(self.services), dest.iter_unpack(self.servers)


_PAIRS: "list[struct.Struct]" = []


def pair_structs() -> "tuple[struct.Struct, struct.Struct]":
    """The Structs that split service and server records into (identity,
    settings) pairs. Made on first use: only the planner asks (here a diff
    that differs or a failed apply), and the thin start's own path does
    without struct, an extension module that costs 15-30 ms to load in the
    emulated test VM."""
    if not _PAIRS:
        import struct

        _PAIRS.append(struct.Struct(f"{SVC_ID}s{SVC_REC - SVC_ID}s"))
        _PAIRS.append(struct.Struct(f"{DEST_ID}s{DEST_REC - DEST_ID}s"))
    return _PAIRS[0], _PAIRS[1]


def _table(svcs: object, ns: int, dests: object, nd: int) -> Table:
    s = ffi.buffer(svcs, ns * SVC_REC)[:] if ns else b""
    d = ffi.buffer(dests, nd * DEST_REC)[:] if nd else b""
    return Table(s, d)


def text_records(text: bytes) -> "Table | None":
    """The table that save-format text builds (pyipvs_restore_records);
    None when the text needs the full parser."""
    svcs, dests = ffi.new("struct pyipvs_svc_rec **"), ffi.new("struct pyipvs_dest_rec **")
    ns, nd, bad = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("size_t *")
    rc = lib.pyipvs_restore_records(text, len(text), svcs, ns, dests, nd, bad)
    _ok(rc)
    if rc == 1:
        return None
    try:
        return _table(svcs[0], ns[0], dests[0], nd[0])
    finally:
        lib.pyipvs_free(svcs[0])
        lib.pyipvs_free(dests[0])


def _kind(want: bytes, live: bytes, size: int, cut: int, recs: "dict[bytes, bytes]") -> "Kind":
    d = ffi.new("struct pyipvs_records_diff *")
    try:
        _ok(lib.pyipvs_records_diff(want, len(want) // size, live, len(live) // size, size, cut, d))
        out: list[list[bytes]] = []
        for table, idx, n in ((want, d.added, d.nadded), (want, d.edited, d.nedited),
                              (live, d.gone, d.ngone)):  # fmt: skip
            ids = []
            for i in ffi.unpack(idx, n) if n else ():
                rec = table[i * size : (i + 1) * size]
                recs[rec[:cut]] = rec
                ids.append(rec[:cut])
            out.append(ids)
        return out[0], out[1], out[2]
    finally:
        lib.pyipvs_records_diff_free(d)


def differences(want: Table, live: Table) -> "tuple[Kind, Kind, dict[bytes, bytes]]":
    """Both kinds of two tables compared in C (pyipvs_records_diff), as
    pyipvs.reconcile.delta.diff compares them: the services', the servers',
    and the whole record of every identity named, the wanted one for those
    added or edited, the live one for those gone."""
    recs: dict[bytes, bytes] = {}
    services = _kind(want.services, live.services, SVC_REC, SVC_ID, recs)
    servers = _kind(want.servers, live.servers, DEST_REC, DEST_ID, recs)
    return services, servers, recs


def same(want: Table, live: Table) -> bool:
    """Whether two tables hold the same services and servers, in any order."""
    services, servers, _ = differences(want, live)
    return not any(services) and not any(servers)


def start_live_records(netns: "str | None" = None) -> "Callable[[], Table]":
    """Start reading the live table of the namespace at path netns (None:
    this process's) consistently, guarded; the function returned waits for
    it (a table that kept changing raises; a stalled kernel raises
    OSError(ETIMEDOUT) after thin.TIMEOUT_MS)."""
    return start_guarded(_live_records, netns)


def _live_records(netns: "str | None") -> Table:
    h = _handle(netns)
    try:
        table = ffi.new("struct pyipvs_table **")
        _ok(lib.pyipvs_table_read(h, RETRIES, table))
    finally:
        _close(h)
    t = table[0]
    try:
        n_svc, n_dest = int(t.nservices), int(t.ndests)
        svcs = ffi.new("struct pyipvs_svc_rec[]", max(n_svc, 1))
        dests = ffi.new("struct pyipvs_dest_rec[]", max(n_dest, 1))
        lib.pyipvs_table_records(t, svcs, dests)
    finally:
        lib.pyipvs_table_free(t)
    return _table(svcs, n_svc, dests, n_dest)


def apply_records(
    changes: "list[tuple[int, bytes]]", netns: "str | None" = None
) -> "Outcome | None":
    """Send (command, whole record) pairs in order in one batch over a
    handle of their own, guarded: None when every command succeeded, else
    the outcome as thin.send_batch gives it."""
    if not changes:
        return None
    return guarded(_apply_records, changes, netns)


def _apply_records(changes: "list[tuple[int, bytes]]", netns: "str | None") -> "Outcome | None":
    out = ffi.new("struct pyipvs_batch **")
    _ok(lib.pyipvs_batch_new(out))
    b = ffi.gc(out[0], lib.pyipvs_batch_free)
    add = lib.pyipvs_batch_record
    for cmd, rec in changes:
        _ok(add(b, cmd, rec, len(rec)))
    h = _handle(netns)
    try:
        return send_batch(h, b, len(changes))[0]
    finally:
        _close(h)
