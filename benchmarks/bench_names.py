"""Named listings (benchmarks layer): `ipvsadm -L` and `-S` against
`pyipvsadm`'s, every host name coming from a DNS server that answers after
DELAY ms, as a resolver across a network does. Needs root and IPVS, so it
runs in the VM, whose /etc/resolv.conf names 127.0.0.1 (ci/guest-setup.sh):
this program serves 127.0.0.1:53 in the table's network namespace.

    bash benchmarks/install.sh && PATH=/work/venv/bin:$PATH ci/vm-run.sh \\
      '/work/venv/bin/python benchmarks/bench_names.py --delay-ms 5 500x10'

The server answers each PTR query with a name made from the address
(h-10-1-2-3.bench.), queries in flight overlapping; anything else gets
NXDOMAIN. It runs on a thread of this process, so its own work (under a
millisecond a query in the VM) is in both programs' times. The outputs are
compared byte for byte and the queries each program sent are counted.
"""

from __future__ import annotations

import argparse
import heapq
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import installed
from benchmarks.bench_list import fill, inside, make_netns, run_in
from benchmarks.gen_rules import rules
from pyipvs.ipvs import IPVS

PYIPVSADM = installed.script("pyipvsadm")


def _ptr_name(labels: list[bytes]) -> bytes:
    """The name this server gives the address of a reverse-lookup name."""
    lower = [x.lower() for x in labels]
    if lower[-2:] == [b"in-addr", b"arpa"]:
        return b"h-" + b"-".join(reversed(lower[:-2]))
    return b"h6-" + b"".join(reversed(lower[:-2]))  # ip6.arpa: 32 nibbles


def _encode(name: bytes) -> bytes:
    return b"".join(bytes([len(x)]) + x for x in [*name.split(b"."), b""])


def answer(query: bytes) -> bytes | None:
    """The reply to one DNS query, or None for what is not one."""
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack_from("!HHH", query)
    if qdcount != 1 or flags & 0x8000:
        return None
    pos, labels = 12, []
    while pos < len(query) and query[pos]:
        n = query[pos]
        labels.append(query[pos + 1 : pos + 1 + n])
        pos += 1 + n
    if pos + 5 > len(query):
        return None
    qtype = struct.unpack_from("!H", query, pos + 1)[0]
    question = query[12 : pos + 5]
    rd = flags & 0x0100
    reverse = len(labels) > 2 and labels[-1].lower() == b"arpa"
    if qtype != 12 or not reverse:  # PTR only: NXDOMAIN for the rest
        return struct.pack("!6H", qid, 0x8083 | rd, 1, 0, 0, 0) + question
    rdata = _encode(_ptr_name(labels) + b".bench")
    record = struct.pack("!HHHIH", 0xC00C, 12, 1, 60, len(rdata)) + rdata
    return struct.pack("!6H", qid, 0x8080 | rd, 1, 1, 0, 0) + question + record


class SlowDNS:
    """A DNS server on 127.0.0.1:53 of the namespace whose socket it was
    made in, replying `delay` seconds after each query."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.sock.setblocking(False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        due: list[tuple[float, int, bytes, object]] = []
        seq = 0
        while not self._stop.is_set():
            wait = max(0.0, due[0][0] - time.monotonic()) if due else 0.2
            ready, _, _ = select.select([self.sock], [], [], wait)
            while ready:
                try:
                    query, peer = self.sock.recvfrom(4096)
                except BlockingIOError:
                    break
                reply = answer(query)
                if reply is not None:
                    self.queries += 1
                    seq += 1
                    heapq.heappush(due, (time.monotonic() + self.delay, seq, reply, peer))
            now = time.monotonic()
            while due and due[0][0] <= now:
                _, _, reply, peer = heapq.heappop(due)
                self.sock.sendto(reply, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, default=5.0)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("specs", nargs="+", help="tables as SERVICESxSERVERS, e.g. 500x10")
    a = ap.parse_args()
    installed.check()
    for spec in a.specs:
        n_svc, n_srv = (int(x) for x in spec.split("x"))
        ns = make_netns()
        try:
            ipvs = IPVS(f"/run/netns/{ns}", timeout=600)
            fill(ipvs, rules(n_svc, n_srv))
            ipvs.close()
            with inside(ns):
                dns = SlowDNS(a.delay_ms / 1000)
            try:
                print(f"### {spec}, DNS answering after {a.delay_ms:g} ms", flush=True)
                for rep in range(a.reps):
                    for args in (["-L"], ["-S"]):
                        row = []
                        outs = []
                        for prog in ("ipvsadm", PYIPVSADM):
                            before = dns.queries
                            dt, p = run_in(ns, [prog, *args])
                            row.append((dt, dns.queries - before))
                            outs.append((p.returncode, p.stdout, p.stderr))
                        same = outs[0] == outs[1] and outs[0][0] == 0
                        if rep == 0:  # the names came from this server
                            named = sum(".bench:" in line for line in outs[0][1].splitlines())
                            print(f"  lines with a name from it: {named}", flush=True)
                        (ti, qi), (tp, qp) = row
                        print(
                            f"[{rep}] {' '.join(args)}: ipvsadm {ti:.2f} s ({qi} queries), "
                            f"pyipvsadm {tp:.2f} s ({qp} queries): {ti / tp:.2f}x, "
                            f"identical: {'yes' if same else 'NO'}",
                            flush=True,
                        )
            finally:
                dns.close()
        finally:
            subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
