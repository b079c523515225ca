"""`pyipvsadm -R`'s thin start (quick_restore.py) on the host: where it cuts
batches and what it hands over. The fast path's scan is the real one
(csrc/restore_fast.c); the handle and the kernel are stood in, the kernel by
a record of the batches sent that fails the commands it is told to. The
same driver against the real kernel and the real ipvsadm: kernel
test_restore_batch.py.
"""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest

from pyipvs._native import thin
from pyipvs.cli.ipvsadm import quick_restore
from pyipvs.cli.ipvsadm.quick_restore import Carry, restore

PLAIN = [
    f"-A -t 10.0.{i}.1:80 -s rr\n-a -t 10.0.{i}.1:80 -r 10.1.{i}.1:80 -m -w 1\n" for i in range(5)
]
SLOW = "--add-service -t 10.9.0.1:80\n"  # a long spelling: the full parser's


class Kernel(thin.RestoreBatch):
    """RestoreBatch without a handle: sending records each batch's size and
    fails the commands (numbered across batches) in `fail`. Batches are
    still sent on their own thread (RestoreBatch.send)."""

    def __init__(self, fail: set[int] | None = None, version: int = 0x010201) -> None:
        self.version = version
        self.last_cmd = None
        self._b = self._new()
        self._pending = None
        self.fail = fail or set()
        self.sent: list[int] = []

    def _apply(self, b: object, n: int) -> tuple[bytes, list[int], bytes, int] | None:
        first = sum(self.sent)
        self.sent.append(n)
        self.last_cmd = 7
        bad = [i - first for i in self.fail if first <= i < first + n]
        if not bad:
            return None
        states = bytes(2 if i in bad else 1 for i in range(n))
        return states, [17 if i in bad else 0 for i in range(n)], bytes([7] * n), 0


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Kernel:
    k = Kernel()
    monkeypatch.setattr(thin, "RestoreBatch", lambda netns=None: k)
    return k


def _run(text: str) -> tuple[int | None, Carry | None]:
    return restore(io.BytesIO(text.encode()))


def test_plain_lines_are_applied_here(kernel: Kernel) -> None:
    assert _run("".join(PLAIN)) == (0, None)
    assert kernel.sent == [10]


def test_blank_lines_and_no_lines(kernel: Kernel) -> None:
    assert _run("\n\n" + PLAIN[0] + "\n") == (0, None)
    assert _run("") == (0, None)
    assert kernel.sent == [2]


@pytest.mark.parametrize("block", [1, 7, 40, 1 << 20])
def test_batches_and_blocks_cut_anywhere(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(quick_restore, "BLOCK", block)
    monkeypatch.setattr(quick_restore, "FLUSH_EVERY", 3)
    assert _run("".join(PLAIN)) == (0, None)
    assert kernel.sent == [3, 3, 3, 1]


def test_a_line_for_the_full_parser_hands_over_after_applying(kernel: Kernel) -> None:
    tail = SLOW + PLAIN[3] + PLAIN[4]
    status, carry = _run(PLAIN[0] + PLAIN[1] + tail)
    assert status is None and carry is not None
    assert kernel.sent == [4]
    assert (carry.rest, carry.applied, carry.last_cmd) == (tail.encode(), None, 7)


def test_a_slow_first_line_hands_over_with_nothing_sent(kernel: Kernel) -> None:
    status, carry = _run(SLOW + PLAIN[0])
    assert status is None and carry is not None
    assert (carry.rest, carry.applied, carry.last_cmd) == ((SLOW + PLAIN[0]).encode(), None, None)
    assert kernel.sent == []


def test_an_unterminated_last_line_is_the_full_readers(kernel: Kernel) -> None:
    status, carry = _run(PLAIN[0] + "-A -t 10.5.5.5:80")
    assert status is None and carry is not None
    assert (carry.rest, carry.applied) == (b"-A -t 10.5.5.5:80", None)
    assert kernel.sent == [2]


def test_a_failure_hands_over_the_batch_and_the_rest(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quick_restore, "FLUSH_EVERY", 4)
    kernel.fail = {5}
    status, carry = _run("".join(PLAIN))
    assert status is None and carry is not None
    assert kernel.sent == [4, 4]
    assert carry.rest == PLAIN[4].encode()
    assert carry.applied == (b"\1\2\1\1", [0, 17, 0, 0], b"\7\7\7\7", 0)


def test_a_failure_in_the_last_batch(kernel: Kernel) -> None:
    kernel.fail = {9}
    status, carry = _run("".join(PLAIN))
    assert status is None and carry is not None and carry.applied is not None
    assert (carry.rest, carry.applied[0][-1]) == (b"", 2)


def test_terminal_old_version_and_no_ipvs_go_to_the_full_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Tty(io.BytesIO):
        def isatty(self) -> bool:
            return True

    assert restore(Tty(PLAIN[0].encode())) == (None, None)
    old = Kernel(version=0x010103)
    monkeypatch.setattr(thin, "RestoreBatch", lambda netns=None: old)
    assert _run(PLAIN[0]) == (None, None)
    assert old.sent == []

    def no_ipvs(netns: Any = None) -> thin.RestoreBatch:
        raise OSError(2, "stand-in")

    monkeypatch.setattr(thin, "RestoreBatch", no_ipvs)
    assert _run(PLAIN[0]) == (None, None)


def test_batches_start_small_and_grow(kernel: Kernel, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first batch is sent early so that the kernel has work while the
    # rest is parsed; each next one is four times as large, up to FLUSH_EVERY.
    monkeypatch.setattr(quick_restore, "FIRST_BATCH", 1)
    monkeypatch.setattr(quick_restore, "FLUSH_EVERY", 6)
    lines = "".join(PLAIN) * 3  # (30 commands; services repeat: the stand-in fails none)
    assert _run(lines) == (0, None)
    assert kernel.sent == [1, 4, 6, 6, 6, 6, 1]


class Slow(Kernel):
    """Sends the first batch only once the next one is being scanned, and
    notes whether two batches were ever in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.overlapped = False
        self.scanned_meanwhile = False

    def _apply(self, b: object, n: int) -> tuple[bytes, list[int], bytes, int] | None:
        self.overlapped |= self.busy
        self.busy = True
        if not self.sent:
            deadline = time.monotonic() + 10
            while len(self) == 0 and time.monotonic() < deadline:
                time.sleep(0.001)
            self.scanned_meanwhile = len(self) > 0
        time.sleep(0.01)
        self.busy = False
        return super()._apply(b, n)


def test_the_next_batch_is_scanned_while_one_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    k = Slow()
    monkeypatch.setattr(thin, "RestoreBatch", lambda netns=None: k)
    monkeypatch.setattr(quick_restore, "FIRST_BATCH", 2)
    monkeypatch.setattr(quick_restore, "FLUSH_EVERY", 4)
    assert _run("".join(PLAIN)) == (0, None)
    assert k.sent == [2, 4, 4]
    assert k.scanned_meanwhile and not k.overlapped


def test_a_failure_found_after_the_next_batch_was_scanned(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batch 2 (commands 2-5) fails while batch 3 is scanned: batch 3 is
    # never sent, and the full path reads on from its first line.
    monkeypatch.setattr(quick_restore, "FIRST_BATCH", 2)
    monkeypatch.setattr(quick_restore, "FLUSH_EVERY", 4)
    kernel.fail = {3}
    status, carry = _run("".join(PLAIN))
    assert status is None and carry is not None and carry.applied is not None
    assert kernel.sent == [2, 4]
    assert carry.rest == (PLAIN[3] + PLAIN[4]).encode()
    assert carry.applied[0] == b"\1\2\1\1"


def test_a_failed_send_is_raised_after_it_ends(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(b: object, n: int) -> None:
        raise OSError(5, "stand-in")

    monkeypatch.setattr(quick_restore, "FIRST_BATCH", 2)
    monkeypatch.setattr(kernel, "_apply", broken)
    with pytest.raises(OSError, match="stand-in"):
        _run("".join(PLAIN))
    assert kernel._pending is None


def test_no_thread_to_be_had_sends_from_the_caller(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A failed thread start must not leave a batch "in flight" that nothing
    # will ever finish (wait() would block for ever): it is sent in place.
    start = thin._thread.start_new_thread

    def no_thread_to_send(fn: Any, args: Any) -> Any:
        if "send" in fn.__qualname__:
            raise RuntimeError("can't start new thread")
        return start(fn, args)

    monkeypatch.setattr(thin._thread, "start_new_thread", no_thread_to_send)
    monkeypatch.setattr(quick_restore, "FIRST_BATCH", 2)
    monkeypatch.setattr(quick_restore, "FLUSH_EVERY", 4)
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(_run("".join(PLAIN))), daemon=True)
    t.start()
    t.join(10)
    assert got == [(0, None)], "the restore hung or failed"
    assert kernel.sent == [2, 4, 4]
