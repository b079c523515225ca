"""The connection-table reader's second thread (csrc/conn_split.c), on the
host: a regular file stands in for the /proc table (lseek and read by
offset behave alike on both), so the split, the hand-over of the helper's
lines, the read-on after its cap and an early close are checked against
the same file read by one thread. Whether the helper wins the race to its
split point varies from run to run; each test repeats until it has, and the
rows must be the same either way."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_conn_parser import HEADER, kline, random_conns

from pyipvs import _native
from pyipvs._native import ConnCounts
from pyipvs.conns import ConnCursor, ConnFilter, ConnTable, GroupBy

CONNS = random_conns(12000, seed=5)
TEXT = (HEADER + "".join(kline(c) for c in CONNS)).encode()


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("split") / "ip_vs_conn"
    path.write_bytes(TEXT)
    return path


def _cursor(path: Path, **kw: int) -> ConnCursor:
    # A regular file's reads do not walk: split_always skips the helper's
    # check for that (see test_flat_reads_keep_one_thread).
    return ConnCursor(_native.ConnReader.open(str(path), split=True, split_always=True, **kw))


@pytest.mark.parametrize(
    "opts",
    [
        {"split_min": 1024},
        {"split_min": 1024, "split_cap": 40000},  # the reader reads on after the cap
        {"split_min": 4096, "split_cap": 1, "max_read": 4096, "bufsize": 2048},
        {"split_min": 1024, "max_read": 61, "bufsize": 2048},
    ],
    ids=["whole-tail", "capped", "tiny-cap", "short-reads"],
)
def test_rows_and_order_as_one_thread(table: Path, opts: dict[str, int]) -> None:
    used = 0
    for _ in range(40):
        with _cursor(table, **opts) as cur:
            assert list(cur) == CONNS
            counts = cur.counts
        assert counts.rows == len(CONNS) and counts.malformed == 0 and counts.eof
        if counts.split_at:
            used += 1
            assert 0 < counts.split_at < len(TEXT)
            if used >= 3:
                break
    assert used, "the helper never took part: the test exercised nothing"


def test_listing_as_one_thread(table: Path) -> None:
    with ConnTable(path=str(table), split=False).open() as cur:
        want = "".join(cur.numeric_listing())
    used = 0
    for _ in range(40):
        with _cursor(table, split_min=1024) as cur:
            assert "".join(cur.numeric_listing()) == want
            used += cur.counts.split_at > 0
        if used >= 2:
            break
    assert used


# by, v4 prefix, v6 prefix, group cap (0: none). The helper scans its rows
# into aggregators of its own, merged into the reader's; where a cap made
# the helper count overflow, the merge would be wrong and the reader reads
# the tail itself (split_at then stays 0).
UNCAPPED = [(int(GroupBy.SERVER), 32, 128, 0), (int(GroupBy.STATE), 32, 128, 0),
            (int(GroupBy.CLIENT), 24, 64, 0)]  # fmt: skip
FITS = [(int(GroupBy.STATE), 32, 128, 40), (int(GroupBy.SERVICE), 32, 128, 1 << 20)]
OVERFLOWS = [(int(GroupBy.CLIENT), 32, 128, 5), (int(GroupBy.STATE), 32, 128, 0)]


@pytest.mark.parametrize(
    ("specs", "must_split"),
    [(UNCAPPED, True), (FITS, True), (OVERFLOWS, False)],
    ids=["uncapped", "cap-fits", "cap-overflows"],
)
def test_summaries_as_one_thread(
    table: Path, specs: list[tuple[int, int, int, int]], must_split: bool
) -> None:
    def scan(split: bool) -> tuple[object, ConnCounts]:
        r = _native.ConnReader.open(
            str(table), split=split, split_min=1024, split_wait=True, split_always=True,
            match=ConnFilter(protocol=6)._match(),
        )  # fmt: skip
        with ConnCursor(r) as cur:
            groups = cur._reader.scan(specs)
            counts = cur.counts
        return [(sorted(g, key=repr), total, over) for g, total, over in groups], counts

    want, want_counts = scan(False)
    assert want_counts.matched > 100 and want_counts.rows == len(CONNS)
    for _ in range(5):
        got, counts = scan(True)
        assert got == want
        assert bool(counts.split_at) == must_split
        # both threads read the few bytes around the split point
        assert counts.bytes_read >= want_counts.bytes_read
        same = dataclasses.replace(counts, split_at=0, bytes_read=want_counts.bytes_read)
        assert same == want_counts


def test_small_table_stays_with_one_thread(table: Path) -> None:
    with _cursor(table, split_min=len(TEXT) + 1) as cur:
        assert list(cur) == CONNS
        assert cur.counts.split_at == 0


def test_close_while_the_helper_reads(table: Path) -> None:
    # Freeing the reader cancels and joins the helper, wherever it is.
    for _ in range(50):
        with _cursor(table, split_min=1024) as cur:
            next(iter(cur))


def test_default_is_for_proc_only(table: Path) -> None:
    # A plain file is read by one thread unless asked; /proc tables split.
    with ConnTable(path=str(table)).open() as cur:
        assert sum(1 for _ in cur) == len(CONNS)
        assert cur.counts.split_at == 0


def test_split_wait_splits_even_a_small_table(tmp_path: Path) -> None:
    # The test hook the kernel tests use: the first read waits for the
    # helper's claim, so the split happens every time.
    path = tmp_path / "small"
    path.write_bytes(TEXT[:40000])
    want = list(ConnTable(data=TEXT[:40000]).connections())
    for _ in range(10):
        r = _native.ConnReader.open(str(path), split=True, split_min=4096, split_wait=True,
                                    split_always=True)  # fmt: skip
        with ConnCursor(r) as cur:
            assert list(cur) == want
            assert cur.counts.split_at > 0


def test_flat_reads_keep_one_thread(table: Path) -> None:
    # Reads of a regular file cost the same at any offset, as on kernels
    # that resume where the last read stopped: the helper sees that (a read
    # at split_min is no dearer than one at the start) and leaves the table
    # to the reader, where it would only repeat the reader's work. The
    # first read waits for that decision (split_wait), so no race decides.
    # The helper times page reads; on a loaded host one run in many may see
    # noise as a walk (and split, as before the check): most must not.
    seen = []
    for always in (True, False, False, False, False, False):
        r = _native.ConnReader.open(str(table), split=True, split_min=65536, split_wait=True,
                                    split_always=always)  # fmt: skip
        with ConnCursor(r) as cur:
            assert list(cur) == CONNS
            counts = cur.counts
        if always:
            assert counts.split_at > 0 and not counts.read_ahead
            assert counts.walk_ratio == 0.0  # (not measured)
        else:
            assert counts.walk_ratio > 0
            # where the helper stepped aside, a thread reads ahead instead
            assert (counts.split_at > 0) != counts.read_ahead
            seen.append(counts.read_ahead)
    assert sum(seen) >= 4, seen


@pytest.mark.parametrize(
    "opts",
    [{}, {"max_read": 61, "bufsize": 2048}, {"bufsize": 2048}, {"max_read": 4096}],
    ids=["default", "short-reads", "small-buffer", "page-reads"],
)
def test_read_ahead_rows_and_order_as_one_thread(table: Path, opts: dict[str, int]) -> None:
    # The thread that reads ahead (csrc/conn_ahead.c), started where the
    # split helper steps aside: the same rows, listing and counts as one
    # thread; split_wait makes it start before the first read.
    def reader(split: bool) -> ConnCursor:
        r = _native.ConnReader.open(str(table), split=split, split_min=65536, split_wait=split,
                                    **opts)  # fmt: skip
        return ConnCursor(r)

    with reader(False) as cur:
        want_listing = "".join(cur.numeric_listing())
        want_counts = cur.counts
    spec = [(int(GroupBy.SERVER), 32, 128, 0), (int(GroupBy.CLIENT), 24, 64, 0)]
    with reader(False) as cur:
        want_groups = [sorted(g, key=repr) for g, _, _ in cur._reader.scan(spec)]
    ahead = [0, 0, 0]  # the helper may, rarely, take noise for a walk: repeat
    for _ in range(10):
        with reader(True) as cur:
            assert list(cur) == CONNS
            ahead[0] += cur.counts.read_ahead
        with reader(True) as cur:
            assert "".join(cur.numeric_listing()) == want_listing
            got = cur.counts
            if got.read_ahead:  # (a split reads a few bytes twice)
                assert got.walk_ratio > 0  # the helper measured before stepping aside
                assert dataclasses.replace(got, read_ahead=False, walk_ratio=0.0) == want_counts
            ahead[1] += got.read_ahead
        with reader(True) as cur:
            assert [sorted(g, key=repr) for g, _, _ in cur._reader.scan(spec)] == want_groups
            ahead[2] += cur.counts.read_ahead
        if min(ahead) >= 2:
            break
    assert min(ahead) >= 2, ahead


def test_close_while_reading_ahead(table: Path) -> None:
    # Freeing the reader stops and joins the thread, wherever it is.
    for _ in range(30):
        r = _native.ConnReader.open(str(table), split=True, split_min=65536, split_wait=True,
                                    bufsize=2048)  # fmt: skip
        with ConnCursor(r) as cur:
            next(iter(cur))
