"""What the thin starts of pyipvsadm and pyipvs ask of the core (bridge
layer): the IPVS version, the whole table as numeric listing text, the
connection table as `-Lnc` text and `-R`'s plain lines applied, with
nothing imported but the compiled module; thin_records.py adds what `pyipvs
apply FILE` and `diff FILE` ask, over the guard and handles here.

The thin starts (pyipvs/cli/ipvsadm/quick.py, pyipvs/cli/quick_pyipvs.py)
exist to skip the model, the errors, dataclasses and enum, which _core
imports; so a negative return code here is not mapped by `check` but
becomes a bare OSError, which no one reports: a thin start hands every
failure to its full path, which makes the same calls again and reports
them as the full path does. The calls and their arguments are those of
that path (pyipvs.ipvs.IPVS, snapshot.read_table_text,
conn.ConnReader.listing, restore_batch.py's batches, records.py); every C
object is freed before a call returns, except the connection reader and
the restore batch, which `ConnText` and `RestoreBatch` own. `-R` cannot
start again: there the thin start hands over what it began
(quick_restore.py). An apply can: the full path reads the table again and
plans what is still to do.
"""

import _thread
import errno
import time

from pyipvs._pyipvs_cffi import ffi, lib

TYPE_CHECKING = False  # not typing's: typing is start-up cost (quick.py)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")
    #: A batch's states and errnos, its command bytes, a transport errno.
    Outcome = tuple[bytes, list[int], bytes, int]

TIMEOUT_MS = 5000  # pyipvs.IPVS's default timeout
RETRIES = 5  # pyipvs.listing_native.DEFAULT_RETRIES
LISTING_READ_THREADS = 2  # as pyipvs._native.snapshot's (not imported here: start-up)
CONN_BLOCK = 1 << 20  # conn.ConnReader.listing's block
RESTORE_END: int = lib.PYIPVS_RESTORE_END
RESTORE_SLOW: int = lib.PYIPVS_RESTORE_SLOW
RESTORE_FULL: int = lib.PYIPVS_RESTORE_FULL

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


# The handle of the guarded call running on this thread (see guarded).
_local = _thread._local()


class _Watch:
    """What a guarded call is doing in the kernel, for the waiting thread:
    its open handle, or since when it has been opening one. The call closes
    the handle under the same lock as the waiter reads it."""

    __slots__ = ("h", "lock", "opening")

    def __init__(self) -> None:
        self.lock = _thread.allocate_lock()
        self.h: object = None
        self.opening = 0.0

    def busy_ms(self) -> float:
        with self.lock:
            busy = float(lib.pyipvs_handle_busy_ms(self.h)) if self.h is not None else 0.0
            if self.opening:
                busy = max(busy, (time.monotonic() - self.opening) * 1000)
            return busy

    def abandon(self) -> None:
        with self.lock:
            if self.h is not None:
                lib.pyipvs_handle_abandon(self.h)


def guarded(fn: "Callable[..., T]", *args: object) -> "T":
    """fn(*args), run on a thread of its own while this one watches it as
    pyipvs.runner watches the library's calls. IPVS waits for its mutex
    inside sendmsg() and recvmsg() where no timeout reaches (a wedged
    process holding it: tests/kernel/test_faults.py); when the send or
    receive in progress, or the opening of the handle, has run longer than
    TIMEOUT_MS, the call is abandoned (it sends nothing more) and an
    OSError(ETIMEDOUT) raised, which hands the command to the full path:
    that meets the same stall and reports it as it reports its own. The
    exchanges guarded are reads, which starting again cannot change, and
    an apply's changes, which the full path plans again from a new read."""
    return start_guarded(fn, *args)()


def start_guarded(fn: "Callable[..., T]", *args: object) -> "Callable[[], T]":
    """`guarded(fn, *args)` in two halves: fn starts now, and the function
    returned waits for it (watching it as `guarded` does), so this thread
    can do other work in between."""
    watch = _Watch()
    done = _thread.allocate_lock()
    done.acquire()
    box: list[object] = []

    def run() -> None:
        _local.watch = watch
        try:
            box.append(fn(*args))
        except BaseException as e:  # noqa: BLE001 - raised by the waiter
            box.append(e)
        finally:
            done.release()

    def wait() -> "T":
        while not done.acquire(timeout=TIMEOUT_MS / 4000):
            if watch.busy_ms() > TIMEOUT_MS:
                watch.abandon()
                raise OSError(errno.ETIMEDOUT, "IPVS did not answer in time")
        got = box[0]
        if isinstance(got, BaseException):
            raise got
        return got  # type: ignore[return-value]

    _thread.start_new_thread(run, ())
    return wait


def _handle(netns: str | None = None) -> object:
    """A handle on IPVS in the namespace at path netns (None: this
    process's), with pyipvs.IPVS's default timeout; the caller closes it
    (_close). In a guarded call, the watching thread sees it."""
    watch = getattr(_local, "watch", None)
    if watch is not None:
        watch.opening = time.monotonic()
    out = ffi.new("struct pyipvs_handle **")
    rc = lib.pyipvs_handle_open(out, netns.encode() if netns else ffi.NULL, TIMEOUT_MS)
    if watch is not None:
        with watch.lock:
            watch.opening = 0.0
            watch.h = out[0] if rc == 0 else None
    _ok(rc)
    return out[0]


def _close(h: object) -> None:
    watch = getattr(_local, "watch", None)
    if watch is None:
        lib.pyipvs_handle_close(h)
        return
    with watch.lock:
        watch.h = None
        lib.pyipvs_handle_close(h)


def info_and_table(mode: int | None) -> tuple[int, int, memoryview]:
    """IPVS's version word (0x010201 for 1.2.1) and connection table size,
    and with a mode (pyipvs_table_format's bits) the whole table of this
    process's namespace, read consistently and formatted by the core: a view
    of the core's own text (15 MB at 20,000 x 10, not copied; it is freed
    with the view). A stalled kernel raises OSError(ETIMEDOUT) after
    TIMEOUT_MS (guarded)."""
    return guarded(_info_and_table, mode)


def _info_and_table(mode: int | None) -> tuple[int, int, memoryview]:
    h = _handle()
    try:
        info = ffi.new("struct pyipvs_info *")
        _ok(lib.pyipvs_info_get(h, info))
        if mode is None:
            return int(info.version), int(info.conn_tab_size), memoryview(b"")
        # A one-off listing: its wall time counts, not its CPU time.
        lib.pyipvs_handle_set_read_threads(h, LISTING_READ_THREADS)
        table = ffi.new("struct pyipvs_table **")
        _ok(lib.pyipvs_table_read(h, RETRIES, table))
        try:
            text, n = ffi.new("char **"), ffi.new("size_t *")
            _ok(lib.pyipvs_table_format(table[0], mode, text, n))
            # The buffer holds owner, whose destructor frees the text.
            owner = ffi.gc(text[0], lib.pyipvs_text_free)
            data = memoryview(ffi.buffer(owner, n[0])) if n[0] else memoryview(b"")
        finally:
            lib.pyipvs_table_free(table[0])
        return int(info.version), int(info.conn_tab_size), data
    finally:
        _close(h)


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


class RestoreBatch:
    """`-R`'s plain lines over a handle of its own: scanned into a batch by
    the restore fast path (csrc/restore_fast.c) and applied as pyipvsadm's
    full path applies them (pyipvs.batch.Batch for restore_batch.py: no
    flags, the engine's own chunks, one call per batch).

    `send` applies a batch on a thread of its own while the caller scans
    the next: both are C calls that let go of the GIL, so the parsing of
    one batch and the kernel's work on the one before run on two CPUs. One
    batch is in flight at a time; `wait` gives its outcome before the next
    is sent, so the kernel gets the commands in their order."""

    __slots__ = ("_b", "_h", "_pending", "last_cmd", "version")

    def __init__(self, netns: str | None = None) -> None:
        """netns: a namespace's path (None: this process's namespace)."""
        self._h = ffi.gc(_handle(netns), lib.pyipvs_handle_close)
        info = ffi.new("struct pyipvs_info *")
        _ok(lib.pyipvs_info_get(self._h, info))
        self.version = int(info.version)
        self.last_cmd: int | None = None  # the command byte last applied
        self._b = self._new()
        self._pending: tuple[object, list[object]] | None = None

    @staticmethod
    def _new() -> object:
        out = ffi.new("struct pyipvs_batch **")
        _ok(lib.pyipvs_batch_new(out))
        return ffi.gc(out[0], lib.pyipvs_batch_free)

    def __len__(self) -> int:
        return int(lib.pyipvs_batch_count(self._b))

    def scan(self, data: bytes, pos: int, max_cmds: int) -> tuple[int, int]:
        """Append the commands of data[pos:]'s plain lines, up to max_cmds:
        (first byte not taken, RESTORE_END | RESTORE_SLOW | RESTORE_FULL).
        A line the scan failed on is left as the full parser's (SLOW)."""
        st = ffi.new("struct pyipvs_restore_scan *")
        st.pos = pos
        rc = lib.pyipvs_restore_scan(self._b, data, len(data), max_cmds, ffi.NULL, st)
        return int(st.pos), (RESTORE_SLOW if rc < 0 else int(st.stop))

    def apply(self) -> "Outcome | None":
        """Send every command, then start an empty batch. None when all of
        them succeeded; else every command's state and errno, the command
        bytes and the errno of a transport failure (0: none), as
        restore_batch.py reports them. No batch may be in flight (`wait`)."""
        b, n = self._take()
        return self._apply(b, n) if n else None

    def send(self) -> None:
        """Start applying every command on a thread of its own, and start an
        empty batch; `wait` gives the outcome. No batch may be in flight."""
        b, n = self._take()
        if n == 0:
            return
        done = _thread.allocate_lock()
        done.acquire()
        box: list[object] = []

        def run() -> None:
            try:
                box.append(self._apply(b, n))
            except BaseException as e:  # noqa: BLE001 - raised by wait()
                box.append(e)
            finally:
                done.release()

        self._pending = (done, box)
        try:
            _thread.start_new_thread(run, ())
        except RuntimeError:  # no thread to be had: send it from this one
            run()

    def wait(self) -> "Outcome | None":
        """The outcome of the batch in flight, as `apply` gives it (None:
        all succeeded, or none was in flight)."""
        if self._pending is None:
            return None
        done, box = self._pending
        done.acquire()  # type: ignore[attr-defined]
        self._pending = None
        got = box[0]
        if isinstance(got, BaseException):
            raise got
        return got  # type: ignore[return-value]

    def _take(self) -> tuple[object, int]:
        if self._pending is not None:
            raise RuntimeError("a batch is still in flight")
        b, n = self._b, len(self)
        if n:
            self._b = self._new()
        return b, n

    def _apply(self, b: object, n: int) -> "Outcome | None":
        """Send batch b's n commands (the kernel's part: tests stand in here)."""
        got, self.last_cmd = send_batch(self._h, b, n)
        return got


def send_batch(h: object, b: object, n: int) -> "tuple[Outcome | None, int]":
    """Send batch b's n commands over handle h as the library's batch does
    without flags, and free b: the outcome (None when every command
    succeeded; else every command's state and errno, the command bytes and
    the errno of a transport failure, 0 if none), and the last command's
    byte."""
    o = ffi.new("struct pyipvs_batch_opts *")
    r = ffi.new("struct pyipvs_batch_report *")
    rc = lib.pyipvs_batch_apply(h, b, 0, n, o, r)
    states, errs, cmds = ffi.new("uint8_t[]", n), ffi.new("int32_t[]", n), ffi.new("uint8_t[]", n)
    _ok(lib.pyipvs_batch_results(b, 0, n, states, errs, cmds))
    ffi.release(b)
    last = int(cmds[n - 1])
    if rc == 0 and r.failed == 0 and r.unknown == 0:
        return None, last
    return (ffi.buffer(states, n)[:], ffi.unpack(errs, n), ffi.buffer(cmds, n)[:], -rc), last
