"""A short tour: program a real IPVS table with pyipvs, then show it.

Run through `ci/demo.sh` (which boots a VM when the host has no IPVS). Works
in a fresh network namespace so it leaves the machine's own table alone.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys

from pyipvs import IPVS, Forward, Server, Service, ServiceFlag, ServiceKey

NS = "pyipvs-demo"
SETUP = """\
link set lo up
link add dummy0 type dummy
link set dummy0 up
address add 10.0.0.254/8 dev dummy0
address add 2001:db8::fffe/32 dev dummy0 nodad
"""


def main() -> int:
    subprocess.run(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL, check=False)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    subprocess.run(["ip", "-n", NS, "-batch", "-"], input=SETUP, text=True, check=True)
    try:
        with IPVS(netns=NS) as ipvs:
            web = ServiceKey.tcp("10.0.0.1", 80)
            ipvs.add_service(Service(web, scheduler="rr"))
            for i in (11, 12, 13):
                ipvs.add_server(
                    web,
                    Server(ipaddress.ip_address(f"10.0.1.{i}"), 8080, Forward.MASQ, weight=i - 10),
                )
            dns = ServiceKey.udp("2001:db8::53", 53)
            ipvs.add_service(
                Service(dns, scheduler="wlc", flags=ServiceFlag.PERSISTENT, timeout=300)
            )
            ipvs.add_server(dns, Server(ipaddress.ip_address("2001:db8::1:1"), 53))
            ipvs.add_service(Service(ServiceKey.fw(42), scheduler="sh", flags=ServiceFlag.SCHED1))
            ipvs.add_server(
                ServiceKey.fw(42), Server(ipaddress.ip_address("10.0.2.1"), 0, Forward.TUNNEL)
            )

            print("== pyipvs reads back")
            info = ipvs.info()
            version = ".".join(map(str, info.version))
            print(f"IPVS {version}, connection table size {info.conn_tab_size}")
            for status in ipvs.services():
                svc = status.service
                where = (
                    f"fwmark {svc.key.fwmark}"
                    if svc.key.is_fwmark
                    else f"{svc.key.protocol.name} {svc.key.address}:{svc.key.port}"
                )
                print(f"{where} scheduler={svc.scheduler} flags={svc.flags!r}")
                for srv in ipvs.servers(status.key):
                    s = srv.server
                    fwd = s.forward.name
                    where = f"{s.address}:{s.port}"
                    print(f"    -> {where} {fwd} weight={s.weight} active={srv.active_conns}")
        print("== the real ipvsadm 1.31 sees the same table")
        sys.stdout.flush()
        subprocess.run(["ip", "netns", "exec", NS, "ipvsadm", "-Ln"], check=True)
        print("== and pyipvsadm prints it byte for byte")
        sys.stdout.flush()
        subprocess.run(
            ["ip", "netns", "exec", NS, sys.executable, "-m", "pyipvs.cli.ipvsadm", "-Ln"],
            check=True,
        )
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
