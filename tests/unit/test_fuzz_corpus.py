"""Replays every fuzz corpus file through the Python-visible decoders (host
tests, part of the normal run).

The corpora under fuzz/corpus/ are the seeds and the minimised finds of the
libFuzzer runs (fuzz/build.sh): kernel replies, recorded dumps, /proc
samples and mangled variants of them. Here each goes through the same C
code the fuzzers drove, but from Python, the way the library calls it
(pyipvs._native's decode_*, replay_*, /proc parsers, the connection reader),
so every test run re-checks that none of them crashes the interpreter or
comes back as anything but a value or a clean IPVSError.

Files named rec_* were recorded from a real kernel (fuzz/record_replies.py)
and must decode without error.
"""

from __future__ import annotations

import os
import random
import struct

import pytest

from pyipvs import Family, IPVSError, IPVSValueError, sysctl
from pyipvs import _native as n

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
# The request a replayed dump answers (fuzz/nl_fuzz.c's REPLAY_*).
REPLAY = {"family_id": 0x2A, "port": 4242, "seq": 1}


def corpus(target: str) -> list[tuple[str, bytes]]:
    d = os.path.join(CORPUS, target)
    names = sorted(os.listdir(d))
    assert names, f"empty corpus {d}"
    out = []
    for name in names:
        with open(os.path.join(d, name), "rb") as f:
            out.append((name, f.read()))
    return out


def ids(items: list[tuple[str, bytes]]) -> list[str]:
    return [name for name, _ in items]


def outcome(fn, data: bytes):  # type: ignore[no-untyped-def]
    """The value, or the IPVSError (anything else propagates and fails)."""
    try:
        return fn(data)
    except IPVSError as e:
        if not e.errno or e.errno <= 0:
            pytest.fail(f"IPVSError without an errno: {e!r}")
        return e


def must_decode(name: str, result: object) -> None:
    if name.startswith("rec_"):
        assert not isinstance(result, IPVSError), f"{name}: recorded reply refused: {result}"


DECODERS = {
    "nl_service": n.decode_service,
    "nl_daemon": n.decode_daemon,
    "nl_info": n.decode_info,
    "nl_timeouts": n.decode_timeouts,
}


@pytest.mark.parametrize("target", sorted(DECODERS))
def test_single_message_decoders(target: str) -> None:
    for name, data in corpus(target):
        must_decode(name, outcome(DECODERS[target], data))


def test_dest_decoder_both_families() -> None:
    for name, data in corpus("nl_dest"):
        results = [outcome(lambda m, f=f: n.decode_server(m, f), data) for f in Family]
        if name.startswith("rec_"):
            assert any(not isinstance(r, IPVSError) for r in results), name


def as_dump(*msgs: bytes) -> bytes:
    """Server replies as one recorded dump answering REPLAY (one datagram,
    then DONE), in fuzz/nl_dump's record format."""
    head = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags (MULTI), seq, port
    body = b"".join(
        head.pack(len(m), REPLAY["family_id"], 2, REPLAY["seq"], REPLAY["port"]) + m[16:]
        + bytes(-len(m) % 4)
        for m in msgs
    )  # fmt: skip
    done = head.pack(20, 3, 2, REPLAY["seq"], REPLAY["port"]) + bytes(4)
    return b"".join(struct.pack("=I", len(d)) + d for d in (body, done))


def test_servers_decoded_by_shape_as_each_alone() -> None:
    # csrc/dest_shape.c: in a dump, later servers are decoded by the shape
    # learnt from earlier ones; the result must be each reply's own decode
    # (fuzz/nl_fuzz.c's nl_dest_shape checks the same in C). Each pair, and
    # copies with bytes changed at random (mostly values, the headers kept).
    rnd = random.Random(22)
    for name, data in corpus("nl_dest_shape"):
        n1 = struct.unpack_from("=I", data)[0]
        n1 = n1 if 20 <= n1 <= len(data) else len(data)
        first, second = data[:n1], data[n1 + (-n1 % 4) :]
        if len(second) < 20:
            continue
        variants = [second]
        for _ in range(40):
            m = bytearray(second)
            for _ in range(rnd.randint(1, 3)):
                m[rnd.randrange(20, len(m))] = rnd.randrange(256)
            variants.append(bytes(m))
        for other in variants:
            for f in Family:
                msgs = [first, other, first, other]
                alone = [outcome(lambda m, f=f: n.decode_server(m, f), m) for m in msgs]
                got = outcome(lambda d, f=f: n.replay_servers(d, f, **REPLAY), as_dump(*msgs))
                if any(isinstance(r, IPVSError) for r in alone):
                    assert isinstance(got, IPVSError), name
                else:
                    assert got == alone, name


def test_recorded_and_fuzzed_dumps() -> None:
    for name, data in corpus("nl_dump"):
        svcs = outcome(lambda d: n.replay_services(d, **REPLAY), data)
        dests = [outcome(lambda d, f=f: n.replay_servers(d, f, **REPLAY), data) for f in Family]
        if name.startswith("rec_svc"):
            must_decode(name, svcs)
            assert svcs, name
        if name.startswith("rec_dest"):
            assert any(not isinstance(r, IPVSError) and r for r in dests), name


def test_a_dump_is_whole_or_an_error() -> None:
    # A dump cut anywhere before its DONE is an error, never a shorter list.
    for name, data in corpus("nl_dump"):
        full = outcome(lambda d: n.replay_services(d, **REPLAY), data)
        if isinstance(full, IPVSError) or not full:
            continue
        for cut in range(0, len(data) - 1, max(1, len(data) // 50)):
            got = outcome(lambda d: n.replay_services(d, **REPLAY), data[:cut])
            whole = not isinstance(got, IPVSError) and got == full
            assert isinstance(got, IPVSError) or whole, f"{name}: cut at {cut}: a partial dump"


PROC = {
    "proc_stats": n.parse_global_stats,
    "proc_percpu": n.parse_global_stats_percpu,
    "proc_app": n.parse_app_helpers,
}


@pytest.mark.parametrize("target", sorted(PROC))
def test_proc_parsers(target: str) -> None:
    for name, data in corpus(target):
        result = outcome(PROC[target], data)
        if name.startswith(("rec_", "ip_vs_")):
            assert not isinstance(result, IPVSError), f"{name}: {result}"


def test_connection_table_reader() -> None:
    for name, data in corpus("conn"):
        for chunk, max_read in ((4096, 0), (3, 37)):
            reader = n.ConnReader.from_bytes(data, chunk=chunk, bufsize=2048, max_read=max_read)
            try:
                rows = []
                while (cols := reader.columns({})) is not None:
                    rows.extend(zip(*cols, strict=True))
                counts = reader.counts()
            finally:
                reader.close()
            assert counts.rows == len(rows), name
            assert counts.eof and counts.bytes_read == len(data), name


def _sysctl_cases() -> list[tuple[str, str, str]]:
    out = []
    for name, data in corpus("sysctl"):
        tunable, _, value = data.partition(b"\n")
        out.append((name, tunable.decode(), value.decode("utf-8", "surrogateescape")))
    return out


def test_sysctl_values() -> None:
    # The value parser and validator are Python (pyipvs.sysctl): no libFuzzer
    # run reaches them, so the corpus is also mutated here, deterministically.
    rng = random.Random(9)
    alphabet = "0123456789-, \t\nxabcdef\udcff"
    for _name, tunable, value in _sysctl_cases():
        texts = [value]
        for _ in range(300):
            t = list(value)
            for _ in range(rng.randrange(1, 4)):
                i = rng.randrange(len(t) + 1)
                t[i:i] = rng.choice(alphabet) * rng.randrange(1, 3)
            texts.append("".join(t))
        for text in texts:
            try:
                out = sysctl.validate(tunable, text)
            except IPVSValueError:
                continue
            assert isinstance(out, str) and len(out) < 4096
            try:
                sysctl.parse_value(tunable, out)
            except ValueError:
                pytest.fail(f"{tunable}: validated text {out!r} does not parse back")


def test_a_huge_cpu_range_is_refused_at_once() -> None:
    with pytest.raises(IPVSValueError):
        sysctl.validate("est_cpulist", "0-99999999999")


def test_fuzz_finding_nul_inside_a_helper_name_is_refused() -> None:
    # libFuzzer (proc_app): a name token holding NUL bytes used to come out
    # as an empty (or cut short) helper name instead of an error.
    data = dict(corpus("proc_app"))["nul_in_name"]
    assert b"\0" in data
    with pytest.raises(IPVSError):
        n.parse_app_helpers(data)
