"""pyroute2 as a restore contestant (benchmarks layer): programs
benchmarks/gen_rules.py's table through pyroute2's IPVS API, one request
and one ACK per command, in the namespace it runs in:

    nsenter --net=/run/netns/NAME python benchmarks/pyroute2_restore.py 1000 10

Prints JSON: seconds to import and build pyroute2's request objects
(untimed by the benchmark: the caller's data) and to apply them.
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.gen_rules import rules


def main(argv: list[str]) -> int:
    table = rules(int(argv[1]), int(argv[2]))
    t0 = time.perf_counter()
    from pyroute2 import IPVS, IPVSDest, IPVSService  # type: ignore[import-untyped]

    ipvs = IPVS()
    work = []
    for r in table:
        k, svc = r.service.key, r.service
        if k.fwmark:
            fields: dict[str, object] = {"fwmark": k.fwmark, "af": int(k.family), "protocol": 6}
        else:
            fields = {"addr": str(k.address), "port": k.port, "protocol": int(k.protocol)}
        # pyroute2 types the netmask as an IPv4 address; an IPv6 prefix of
        # 128 travels as the u32 128, which is these bytes on little-endian.
        fields["netmask"] = "128.0.0.0" if k.family == 10 else "255.255.255.255"
        fields.update(sched_name=svc.scheduler, timeout=svc.timeout,
                      flags={"flags": int(svc.flags), "mask": 0xFFFFFFFF})  # fmt: skip
        dests = [
            IPVSDest(addr=str(s.address), port=s.port, fwd_method=int(s.forward), weight=s.weight)
            for s in r.servers
        ]
        work.append((IPVSService(**fields), dests))
    t1 = time.perf_counter()
    for service, dests in work:
        ipvs.service("add", service=service)
        for d in dests:
            ipvs.dest("add", service=service, dest=d)
    t2 = time.perf_counter()
    json.dump({"build": t1 - t0, "apply": t2 - t1}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
