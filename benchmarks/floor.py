"""The kernel floor for restores (benchmarks layer): the same requests a
batch sends, built in memory beforehand, then only sent.

Messages come from the C core's own encoders (so they are byte for byte
what pyipvs sends) and are concatenated into chunks of 2,000 with the same
flags the batch engine uses: no ACK, except on each chunk's last message,
the barrier. Sending is a raw netlink socket and one receive per chunk,
nothing else, so the time is the kernel's own cost plus two system calls
per chunk. Run it inside the target namespace:

    nsenter --net=/run/netns/NAME python benchmarks/floor.py SERVICES SERVERS

bench_restore.py uses `prebuild` and `send` in process, on a socket it
opens inside each fresh namespace.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.gen_rules import Rule, rules
from pyipvs import _native
from pyipvs.model import Server, Service

CHUNK = 2000
NETLINK_GENERIC = 16
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
NLMSG_ERROR = 2
SOL_NETLINK, NETLINK_CAP_ACK = 270, 10


def prebuild(table: list[Rule], family_id: int, chunk: int = CHUNK) -> list[tuple[bytes, int]]:
    """Chunks of encoded requests, each with the seq of its barrier."""
    # (service, server): a service add when server is None, else a server add
    msgs: list[tuple[Service, Server | None]] = []
    for r in table:
        msgs.append((r.service, None))
        msgs.extend((r.service, s) for s in r.servers)
    out = []
    for start in range(0, len(msgs), chunk):
        part = []
        block = msgs[start : start + chunk]
        for i, (svc, server) in enumerate(block):
            kw = {
                "family_id": family_id,
                "seq": start + i + 1,
                "flags": _native.NLM_DOIT if i == len(block) - 1 else _native.NLM_REQUEST,
            }
            if server is None:
                part.append(_native.encode_service(_native.CMD_NEW_SERVICE, svc, **kw))
            else:
                part.append(_native.encode_dest(_native.CMD_NEW_DEST, svc.key, server, **kw))
        out.append((b"".join(part), start + len(block)))
    return out


def open_socket() -> socket.socket:
    """A raw generic netlink socket in the current namespace, configured as
    the C core configures its own (4 MiB buffers, capped error replies)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
    s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    s.bind((0, 0))
    return s


def send(s: socket.socket, chunks: list[tuple[bytes, int]]) -> int:
    """Send every chunk, wait for each barrier; returns the failures seen."""
    failures = 0
    for chunk, last_seq in chunks:
        s.sendto(chunk, (0, 0))
        # Only failures answer before the barrier does.
        while True:
            data = s.recv(65536)
            _, mtype, _, seq, _ = struct.unpack_from("=IHHII", data)
            err = struct.unpack_from("=i", data, 16)[0] if mtype == NLMSG_ERROR else 0
            if err:
                failures += 1
            if mtype == NLMSG_ERROR and seq == last_seq:
                break
    return failures


def main(argv: list[str]) -> int:
    services, servers = int(argv[1]), int(argv[2])
    table = rules(services, servers)
    family_id = _native.Handle(None, 5000).family_id
    t0 = time.perf_counter()
    chunks = prebuild(table, family_id)
    t1 = time.perf_counter()
    with open_socket() as sock:
        failures = send(sock, chunks)
    t2 = time.perf_counter()
    json.dump(
        {"build": t1 - t0, "apply": t2 - t1, "failures": failures, "chunks": len(chunks)},
        sys.stdout,
    )
    sys.stdout.write("\n")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
