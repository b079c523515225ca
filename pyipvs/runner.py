"""The thread that makes an `IPVS` object's kernel calls (library layer, below
`pyipvs.ipvs`; no cffi here, the handle comes from `pyipvs._native`).

Why a thread: generic netlink runs a request inside the sender's own
sendmsg() (and a dump's later parts inside recvmsg()), and IPVS waits there
for its mutex uninterruptibly. When another process holds that mutex (a
wedged keepalived, a stuck ipvsadm) the call blocks in the kernel where no
poll() timeout and no signal reach it (tests/kernel/test_faults.py makes such
a stall). So every call runs on this worker and the caller waits for it with
a watchdog: when the send or receive in progress has run longer than the
timeout, the caller gets `IPVSTimeoutError`, the handle is abandoned (its call
sends nothing more once the kernel lets go, then the worker closes it and
ends) and the next call gets a new worker and a new socket.

The price is one hand-off between two threads per call (about 15 us on an
ordinary host), paid once per call, not per message: a batch of 100,000
commands or a whole-table snapshot is one call.
"""

from __future__ import annotations

import _thread
import contextlib
import errno
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from pyipvs import _native

T = TypeVar("T")

# The watchdog looks this often per timeout; a stall is reported between 1x
# and (1 + 1/_LOOKS)x the timeout after the stuck call started.
_LOOKS = 4


class Runner:
    """One worker thread and the handle it owns. Not for concurrent use: the
    `IPVS` lock lets one call in at a time."""

    def __init__(self, netns: str | None, timeout_ms: int) -> None:
        self._netns = netns
        self._timeout_ms = timeout_ms
        self._handle: _native.Handle | None = None
        self._opening = 0.0  # monotonic start of a handle's opening, 0: none
        self._hlock = threading.Lock()  # handle swaps against the watchdog's look
        self._go = _thread.allocate_lock()
        self._go.acquire()
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self._taken = _thread.allocate_lock()  # released as the worker takes a call
        self._taken.acquire()
        self._fn: Callable[[_native.Handle], object] | None = None
        self._result: object = None
        self._error: BaseException | None = None
        self._gave_up = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    # --- the caller's side ---

    def call(self, fn: Callable[[_native.Handle], T]) -> T:
        self._hand(fn)
        return self.finish()  # type: ignore[return-value]

    def start(self, fn: Callable[[_native.Handle], object]) -> None:
        """Hand fn to the worker and return once the worker has it; `finish`
        waits for its end. (A streamed batch sends one part while its caller
        adds the next.)

        Why wait for the worker: it needs the GIL to begin fn, and a caller
        that went straight back to Python work would keep the GIL until the
        interpreter's switch interval (5 ms) forced it to let go; the kernel
        would sit idle that long per call (measured: 0.2-10 ms per part of a
        streamed batch in the emulated test VM, a quarter of its run). While
        the caller waits here the worker gets the GIL at once, and the
        caller gets it back as soon as fn enters C, which lets go of it."""
        self._taken.acquire(blocking=False)  # a late release from a wait given up
        self._hand(fn)
        # Bounded only as a guard: the worker takes a call before doing any
        # kernel work, so this is a thread switch, not a kernel wait.
        self._taken.acquire(timeout=max(self._timeout_ms / 1000, 1.0))

    def _hand(self, fn: Callable[[_native.Handle], object]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="pyipvs-kernel", daemon=True)
            self._thread.start()
        self._fn = fn
        self._go.release()

    def finish(self) -> object:
        """What the started call returned, or raised; a stall beyond the
        timeout raises IPVSTimeoutError and abandons the handle."""
        try:
            self._wait()
        except BaseException:
            self.abandon()  # a timeout, or KeyboardInterrupt while waiting
            raise
        error, self._error = self._error, None
        result, self._result = self._result, None
        if error is not None:
            raise error
        return result

    def _wait(self) -> None:
        limit = self._timeout_ms
        look = max(limit / _LOOKS, 10) / 1000
        while not self._done.acquire(timeout=look):
            with self._hlock:
                busy = self._handle.busy_ms() if self._handle is not None else 0
            opening = self._opening
            if opening:
                busy = max(busy, int((time.monotonic() - opening) * 1000))
            if busy > limit:
                raise _native._error(errno.ETIMEDOUT, None)

    @property
    def abandoned(self) -> bool:
        return self._gave_up.is_set()

    def abandon(self) -> None:
        """Give up on the call in progress: its handle sends nothing more and
        is closed by the worker when the kernel lets it go."""
        with self._hlock:
            self._gave_up.set()
            self._stop = True
            if self._handle is not None:
                self._handle.abandon()
        # Wakes the worker if it finished just as the caller gave up (it would
        # otherwise wait for a call that never comes); if it is still inside
        # the call, it sees _gave_up when that returns.
        with contextlib.suppress(RuntimeError):  # already released
            self._go.release()

    def close(self) -> None:
        """Stop an idle worker and close its handle (from the owning process)."""
        if self._thread is None or not self._thread.is_alive():
            self._close_handle()
            return
        self._stop = True
        self._go.release()

    def forget(self) -> None:
        """After fork: no worker runs in this process; drop the handle."""
        self._thread = None
        self._close_handle()

    # --- the worker's side ---

    def handle(self) -> _native.Handle:
        """The open handle, a new one if the last is unusable (after a timeout
        or ENOBUFS a late reply may still reach the old socket)."""
        h = self._handle
        if h is None or h.broken:
            # Opening asks generic netlink for the IPVS family, which waits
            # behind a stalled IPVS request too: watched by its own clock.
            self._opening = time.monotonic()
            try:
                fresh = _native.Handle(self._netns, self._timeout_ms)
            finally:
                self._opening = 0.0
            with self._hlock:
                old, self._handle = self._handle, fresh
                if self._gave_up.is_set():
                    fresh.abandon()
            if old is not None:
                old.close()
            h = fresh
        return h

    def reopen(self) -> _native.Handle:
        """A new socket for the call in progress (a batch's roll-back after a
        timeout), watched like the first."""
        self._close_handle()
        return self.handle()

    def _serve(self) -> None:
        while True:
            self._go.acquire()
            with contextlib.suppress(RuntimeError):  # no one waits: already released
                self._taken.release()
            if self._stop or self._gave_up.is_set():
                self._close_handle()
                return
            fn, self._fn = self._fn, None
            try:
                assert fn is not None
                self._result = fn(self.handle())
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                self._error = e
            if self._gave_up.is_set():
                self._close_handle()
                return
            self._done.release()

    def _close_handle(self) -> None:
        with self._hlock:
            h, self._handle = self._handle, None
        if h is not None:
            h.close()
