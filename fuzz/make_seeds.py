"""Writes the synthetic seeds of the netlink and /proc fuzz targets (tooling,
not part of the package): replies laid out the way the kernel lays them out,
including the variants older kernels send (tests/unit/test_native_codec.py's
builders), and the recorded /proc samples of tests/data/proc.

    PYTHONPATH=. python fuzz/make_seeds.py

Kernel-recorded replies come from fuzz/record_replies.py (run in the VM).
Seeds are small on purpose; libFuzzer's own finds stay in build/fuzz.
"""

from __future__ import annotations

import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "unit"))

import test_native_codec as c  # noqa: E402

FAMILY, PORT, SEQ = 0x2A, 4242, 1  # fuzz/nl_fuzz.c's REPLAY_*


def msg(ntype: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(payload), ntype, flags, SEQ, PORT) + payload


def done(err: int = 0) -> bytes:
    return msg(3, 2, struct.pack("=i", err))


def error(err: int) -> bytes:
    return msg(2, 0, struct.pack("=i", err) + bytes(16))


def records(*dgrams: bytes) -> bytes:
    return b"".join(struct.pack("=I", len(d)) + d for d in dgrams)


def corpus_dir(target: str) -> str:
    return os.path.join(HERE, "corpus", target)


def read(target: str, name: str) -> bytes:
    with open(os.path.join(corpus_dir(target), name), "rb") as f:
        return f.read()


def write(target: str, name: str, data: bytes) -> None:
    d = corpus_dir(target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main() -> None:
    nla, nest, u8, u16, u32 = c.nla, c.nest, c.u8, c.u16, c.u32
    svc64 = c.reply(1, c.svc_attrs([c.stats(12, list(range(1, 11)))]))
    svc32_pe = c.reply(1, c.svc_attrs([c.stats(10, [5] * 10), nla(11, b"sip\0")]))
    fw6 = c.reply(
        1,
        nest(
            1,
            nla(1, u16(10)),
            nla(5, u32(7)),
            nla(6, b"none\0"),
            nla(7, u32(0x12) + u32(0xFFFFFFFF)),
            nla(8, u32(0)),
            nla(9, u32(64)),
        ),
    )
    write("nl_service", "stats64", svc64)
    write("nl_service", "stats32_pe", svc32_pe)
    write("nl_service", "fwmark_v6", fw6)
    dest = c.reply(5, c.dest_attrs(extra=[c.stats(12, [7] * 10)]))
    dest_old = c.reply(5, c.dest_attrs(family=None, tun=False, extra=[c.stats(10, [1] * 10)]))
    write("nl_dest", "tunnel_stats64", dest)
    write("nl_dest", "old_kernel", dest_old)
    # nl_dest_shape: pairs of server replies (fuzz/nl_fuzz.c), recorded ones included
    dests = {name: read("nl_dest", name) for name in sorted(os.listdir(corpus_dir("nl_dest")))}
    names = sorted(dests)
    for i, a in enumerate(names):
        b = names[(i + 1) % len(names)]
        first = dests[a] + bytes(-len(dests[a]) % 4)
        write("nl_dest_shape", f"{a}+{b}", first + dests[b])
    daemon = c.reply(
        9,
        nest(
            3,
            nla(1, u32(2)),
            nla(2, b"eth0\0"),
            nla(3, u32(9)),
            nla(4, u16(1400)),
            nla(7, u16(8848)),
            nla(8, u8(1)),
            nla(5, bytes([224, 0, 0, 81])),
        ),
    )
    daemon6 = c.reply(
        9, nest(3, nla(1, u32(1)), nla(2, b"dummy0\0"), nla(3, u32(0)), nla(6, bytes(15) + b"\x01"))
    )
    write("nl_daemon", "backup_v4", daemon)
    write("nl_daemon", "master_v6", daemon6)
    write("nl_info", "info", c.reply(14, nla(1, u32(0x010201)), nla(2, u32(4096))))
    write("nl_timeouts", "all", c.reply(12, nla(4, u32(900)), nla(5, u32(120)), nla(6, u32(300))))
    write("nl_timeouts", "no_udp", c.reply(12, nla(4, u32(900)), nla(5, u32(120))))

    def fix(m: bytes, flags: int = 2) -> bytes:
        # the builders' header -> the replay request's (type, flags, seq, port)
        return struct.pack("=IHHII", len(m), FAMILY, flags, SEQ, PORT) + m[16:]

    write("nl_dump", "services_two_dgrams", records(fix(svc64) + fix(svc32_pe), fix(fw6) + done()))
    write("nl_dump", "dests_then_done", records(fix(dest) + fix(dest_old), done()))
    write("nl_dump", "empty", records(done()))
    write("nl_dump", "kernel_error", records(error(-3)))
    write(
        "nl_dump",
        "stale_then_ours",
        records(struct.pack("=IHHII", 20, 2, 0, SEQ + 1, PORT) + bytes(4), fix(dest) + done()),
    )

    proc = os.path.join(ROOT, "tests", "data", "proc")
    for name in sorted(os.listdir(proc)):
        target = (
            "proc_percpu" if "percpu" in name else "proc_stats" if "stats" in name else "proc_app"
        )
        shutil.copy(os.path.join(proc, name), os.path.join(HERE, "corpus", target, name))
    write(
        "proc_app",
        "two_ports",
        b"prot port    usecnt name\nTCP  21      0      ftp              \n"
        b"UDP  2121    -3     ftp              \n",
    )


if __name__ == "__main__":
    main()
