"""Records real IPVS netlink replies as fuzz seeds (tooling; run as root on a
kernel with IPVS, e.g. `ci/vm-run.sh 'PYTHONPATH=. /work/venv/bin/python
fuzz/record_replies.py'`).

A throw-away namespace gets a table with every shape the decoders meet (IPv4,
IPv6, fwmark, persistence with a PE, tunnelled servers, a sync daemon), then
each read request is sent on a plain netlink socket and the datagrams the
kernel returns are saved as they came: whole dumps as replay records
(fuzz/corpus/nl_dump/rec_*), single messages for the per-decoder targets.
Headers are rewritten to the replay request's numbers (fuzz/nl_fuzz.c's
REPLAY_*), so the files replay on any machine.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import struct
import subprocess
import sys

from pyipvs import (
    IPVS,
    Daemon,
    DaemonState,
    Forward,
    Server,
    Service,
    ServiceFlag,
    ServiceKey,
    TunnelType,
    _native,
)

HERE = os.path.dirname(os.path.abspath(__file__))
FAMILY, PORT, SEQ = 0x2A, 4242, 1
ip = ipaddress.ip_address
NS = f"pyipvs-rec-{os.getpid()}"


def table(ipvs: IPVS) -> None:
    web = ServiceKey.tcp("10.1.1.1", 80)
    ipvs.add_service(Service(web, "wrr"))
    ipvs.add_server(web, Server(ip("10.2.0.1"), 8080, Forward.MASQ, 3))
    ipvs.add_server(
        web, Server(ip("10.2.0.2"), 8080, Forward.TUNNEL, 1, 100, 10, TunnelType.GUE, 6080)
    )
    ipvs.add_server(web, Server(ip("10.2.0.3"), 80, Forward.ROUTE, 0))
    sip = ServiceKey.udp("2001:db8::1", 5060)
    ipvs.add_service(
        Service(sip, "sh", ServiceFlag.PERSISTENT | ServiceFlag.SCHED1, 60, 128, "sip")
    )
    ipvs.add_server(sip, Server(ip("2001:db8::2"), 5060, Forward.MASQ, 1))
    ipvs.add_service(Service(ServiceKey.fw(7), "lc", ServiceFlag.PERSISTENT, 300, 0xFFFFFF00))
    for i in range(40):
        ipvs.add_service(Service(ServiceKey.tcp(f"10.3.0.{i + 1}", 443), "rr"))
    ipvs.start_daemon(Daemon(DaemonState.MASTER, "dummy0", 9))


def enter(ns: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    if libc.setns(fd, 0x40000000) < 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


def exchange(s: socket.socket, req: bytes, dump: bool) -> list[bytes]:
    s.setblocking(False)
    try:
        while s.recv(65536):  # whatever an earlier request left behind
            pass
    except BlockingIOError:
        pass
    s.setblocking(True)
    s.send(req)
    out = []
    while True:
        d = s.recv(65536)
        out.append(d)
        off, end = 0, False
        while off + 16 <= len(d):
            ln, typ = struct.unpack_from("=IH", d, off)
            if typ == 3 or (typ == 2 and (not dump or struct.unpack_from("=i", d, off + 16)[0])):
                end = True
            off += (ln + 3) & ~3
        if end:
            return out


def rewrite(d: bytes, fid: int) -> bytes:
    b = bytearray(d)
    off = 0
    while off + 16 <= len(b):
        ln, typ = struct.unpack_from("=IH", b, off)
        if typ == fid:
            struct.pack_into("=H", b, off + 4, FAMILY)
        struct.pack_into("=II", b, off + 8, SEQ, PORT)
        off += (ln + 3) & ~3
    return bytes(b)


def messages(d: bytes) -> list[bytes]:
    out, off = [], 0
    while off + 16 <= len(d):
        ln = struct.unpack_from("=I", d, off)[0]
        if struct.unpack_from("=H", d, off + 4)[0] == FAMILY:
            out.append(d[off : off + ln])
        off += (ln + 3) & ~3
    return out


def save(target: str, name: str, data: bytes) -> None:
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main() -> int:
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        subprocess.run(
            ["ip", "-n", NS, "-batch", "-"],
            check=True,
            text=True,
            input=(
                "link set lo up\nlink add dummy0 type dummy\nlink set dummy0 up\n"
                "address add 10.0.0.254/8 dev dummy0\n"
                "address add 2001:db8::fffe/32 dev dummy0 nodad\n"
            ),
        )
        with IPVS(NS) as ipvs:
            table(ipvs)
        enter(NS)
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)
        s.bind((0, 0))
        h = _native.Handle(None, 5000)
        fid = h.family_id
        enc = _native.encode_service
        dumps = {
            "rec_svc_dump": enc(
                _native.CMD_GET_SERVICE, None, family_id=fid, seq=SEQ, flags=_native.NLM_DUMP
            ),
            "rec_dest_dump": _native.encode_dests_dump(
                ServiceKey.tcp("10.1.1.1", 80), family_id=fid, seq=SEQ
            ),
            "rec_dest_dump_v6": _native.encode_dests_dump(
                ServiceKey.udp("2001:db8::1", 5060), family_id=fid, seq=SEQ
            ),
            "rec_daemon_dump": enc(
                _native.CMD_GET_DAEMON, None, family_id=fid, seq=SEQ, flags=_native.NLM_DUMP
            ),
        }
        for name, req in dumps.items():
            grams = [rewrite(d, fid) for d in exchange(s, req, True)]
            save("nl_dump", name, _native.frame(grams))
            msgs = [m for g in grams for m in messages(g)]
            target = {"rec_svc_dump": "nl_service", "rec_daemon_dump": "nl_daemon"}.get(
                name, "nl_dest"
            )
            for i, m in enumerate(msgs[:3]):
                save(target, f"{name.replace('_dump', '')}_{i}", m)
            print(name, len(grams), "datagrams", len(msgs), "messages")
        for name, cmd, target in (
            ("rec_info", _native.CMD_GET_INFO, "nl_info"),
            ("rec_timeouts", _native.CMD_GET_CONFIG, "nl_timeouts"),
        ):
            grams = exchange(s, enc(cmd, None, family_id=fid, seq=SEQ), False)
            save(target, name, next(m for g in grams for m in messages(rewrite(g, fid))))
        return 0
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)


if __name__ == "__main__":
    sys.exit(main())
