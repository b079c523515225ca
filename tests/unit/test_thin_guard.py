"""The thin starts' guard (pyipvs._native.thin.guarded) on the host: a
call's result and exceptions come through; a call stuck opening its handle
is given up on after the timeout with ETIMEDOUT, which hands the command to
the full path. A real stall of IPVS: kernel test_faults.py."""

from __future__ import annotations

import errno
import threading
import time

import pytest

from pyipvs._native import thin


def test_result_and_exception_come_through() -> None:
    assert thin.guarded(lambda a, b: a + b, 2, 3) == 5

    def fails() -> None:
        raise OSError(errno.EPERM, "stand-in")

    with pytest.raises(OSError, match="stand-in"):
        thin.guarded(fails)


def test_a_call_stuck_in_opening_gives_etimedout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thin, "TIMEOUT_MS", 200)
    release = threading.Event()

    def stuck() -> str:
        # As _handle marks an opening that then waits for the IPVS mutex.
        thin._local.watch.opening = time.monotonic()
        release.wait(30)
        return "late"

    t0 = time.monotonic()
    with pytest.raises(OSError, match="did not answer") as caught:
        thin.guarded(stuck)
    took = time.monotonic() - t0
    release.set()
    assert caught.value.errno == errno.ETIMEDOUT
    assert 0.2 <= took < 5, took


def test_a_slow_call_that_is_not_in_the_kernel_is_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only a send, receive or opening in progress counts, as in
    # pyipvs.runner: time spent elsewhere (formatting a large table) does not.
    monkeypatch.setattr(thin, "TIMEOUT_MS", 100)
    assert thin.guarded(lambda: time.sleep(0.5) or "done") == "done"
