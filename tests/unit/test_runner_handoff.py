"""Runner.start returns only once the worker has taken the call (pure logic:
the worker's handle is replaced, so no kernel is needed)."""

from __future__ import annotations

import threading

from pyipvs.runner import Runner


def _runner() -> Runner:
    r = Runner(None, 2000)
    r.handle = lambda: "handle"  # type: ignore[method-assign]
    return r


def test_start_returns_once_the_worker_has_the_call() -> None:
    r = _runner()
    release = threading.Event()
    try:
        r.start(lambda h: (release.wait(5), h)[1])
        # Taken before start() returned: without the wait this thread keeps
        # the GIL and gets here while the worker still waits to begin.
        assert r._fn is None
        release.set()
        assert r.finish() == "handle"
    finally:
        release.set()
        r.close()


def test_calls_and_starts_mix_without_stale_hand_offs() -> None:
    r = _runner()
    try:
        assert r.call(lambda h: 1) == 1
        assert r.call(lambda h: 2) == 2  # two releases no one waited for
        for i in range(3):
            r.start(lambda h, i=i: i)
            assert r._fn is None
            assert r.finish() == i
        assert r.call(lambda h: 3) == 3
    finally:
        r.close()
