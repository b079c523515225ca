"""The library client against a real IPVS kernel, with ipvsadm 1.31 as the
second opinion (kernel tests: run through ci/vm-run.sh).

Two directions are checked: what the library writes must list, save and
print exactly as what ipvsadm writes (compared live, namespace against
namespace), and what ipvsadm writes must read back through the library as
exactly the model objects it stands for.
"""

from __future__ import annotations

import ipaddress
import sys
import time
from collections.abc import Callable

import pytest
from conftest import Netns

from pyipvs import (
    IPVS,
    Daemon,
    DaemonState,
    Family,
    Forward,
    Info,
    IPVSExistsError,
    Server,
    Service,
    ServiceFlag,
    ServiceKey,
    Stats,
    Timeouts,
    TunnelFlag,
    TunnelType,
)

ip = ipaddress.ip_address
F = ServiceFlag

# --- one table, written both ways ------------------------------------------------

TCP80 = ServiceKey.tcp("10.1.1.1", 80)
UDP53 = ServiceKey.udp("10.1.1.1", 53)
FW1 = ServiceKey.fw(1)
FW9V6 = ServiceKey.fw(9, Family.INET6)
FWBIG = ServiceKey.fw(3000000000)
V6 = ServiceKey.tcp("2001:db8::1", 8080)
SCTP = ServiceKey.sctp("10.1.1.3", 3868)
SIP = ServiceKey.udp("10.1.1.2", 5060)
SHPORT = ServiceKey.tcp("10.1.1.4", 80)
MH = ServiceKey.tcp("10.1.1.5", 80)
NONE = ServiceKey.udp("10.1.1.6", 79)

SERVICES: list[tuple[str, Service]] = [
    ("-A -t 10.1.1.1:80 -s rr", Service(TCP80, "rr")),
    (
        "-A -u 10.1.1.1:53 -s wlc -p 300 -M 255.255.255.0 -o",
        Service(UDP53, "wlc", F.PERSISTENT | F.ONEPACKET, 300, 0xFFFFFF00),
    ),
    ("-A -f 1 -s sh -b sh-fallback,sh-port", Service(FW1, "sh", F.SCHED1 | F.SCHED2)),
    ("-A -f 9 -6 -s lc -p 300 -M 64", Service(FW9V6, "lc", F.PERSISTENT, 300, 64)),
    ("-A -f 3000000000 -s rr", Service(FWBIG, "rr")),
    ("-A -t [2001:db8::1]:8080 -s wlc -p 300", Service(V6, "wlc", F.PERSISTENT, 300)),
    ("--add-service --sctp-service 10.1.1.3:3868 -s rr", Service(SCTP, "rr")),
    (
        "-A -u 10.1.1.2:5060 -s rr -p 600 -M 255.255.0.0 --pe sip",
        Service(SIP, "rr", F.PERSISTENT, 600, 0xFFFF0000, "sip"),
    ),
    ("-A -t 10.1.1.4:80 -s sh -b sh-port", Service(SHPORT, "sh", F.SCHED2)),
    ("-A -t 10.1.1.5:80 -s mh -b mh-fallback,flag-3", Service(MH, "mh", F.SCHED1 | F.SCHED3)),
    ("-A -u 10.1.1.6:79 -s none -o", Service(NONE, "none", F.ONEPACKET)),
]

GUE, GRE = TunnelType.GUE, TunnelType.GRE
SERVERS: list[tuple[str, ServiceKey, Server]] = [
    (
        "-a -t 10.1.1.1:80 -r 192.168.10.1:8080 -m -w 3 -x 100 -y 10",
        TCP80,
        Server(ip("192.168.10.1"), 8080, Forward.MASQ, 3, 100, 10),
    ),
    ("-a -t 10.1.1.1:80 -r 192.168.10.2 -g -w 0", TCP80, Server(ip("192.168.10.2"), 80, weight=0)),
    (
        "-a -t 10.1.1.1:80 -r 192.168.10.9:81 -m -w 2147483647 -x 2147483647",
        TCP80,
        Server(ip("192.168.10.9"), 81, Forward.MASQ, 2147483647, 2147483647),
    ),
    (
        "-a -u 10.1.1.1:53 -r 192.168.10.1:53 -g -w 2",
        UDP53,
        Server(ip("192.168.10.1"), 53, weight=2),
    ),
    (
        "-a -f 1 -r 192.168.10.3 -i --tun-type gue --tun-port 6080 --tun-csum",
        FW1,
        Server(
            ip("192.168.10.3"),
            0,
            Forward.TUNNEL,
            1,
            tun_type=GUE,
            tun_port=6080,
            tun_flags=TunnelFlag.CSUM,
        ),
    ),
    (
        "-a -f 1 -r 192.168.10.5 -i --tun-type gue --tun-port 6081 --tun-remcsum",
        FW1,
        Server(
            ip("192.168.10.5"),
            0,
            Forward.TUNNEL,
            1,
            tun_type=GUE,
            tun_port=6081,
            tun_flags=TunnelFlag.REMCSUM,
        ),
    ),
    (
        "-a -f 1 -r 192.168.10.4 -i --tun-type gre --tun-csum -w 4",
        FW1,
        Server(ip("192.168.10.4"), 0, Forward.TUNNEL, 4, tun_type=GRE, tun_flags=TunnelFlag.CSUM),
    ),
    ("-a -f 1 -r 192.168.10.6 -i", FW1, Server(ip("192.168.10.6"), 0, Forward.TUNNEL)),
    ("-a -f 9 -6 -r 2001:db8::10 -g -w 1", FW9V6, Server(ip("2001:db8::10"), 0)),
    ("-a -f 3000000000 -r 10.3.3.3 -g", FWBIG, Server(ip("10.3.3.3"), 0)),
    (
        "-a -t [2001:db8::1]:8080 -r 172.16.0.99:8080 -i -w 1",
        V6,
        Server(ip("172.16.0.99"), 8080, Forward.TUNNEL),
    ),
    (
        "-a -t [2001:db8::1]:8080 -r [2001:db8::20]:8080 -m -w 5 -x 50 -y 5",
        V6,
        Server(ip("2001:db8::20"), 8080, Forward.MASQ, 5, 50, 5),
    ),
    (
        "-a --sctp-service 10.1.1.3:3868 -r 10.2.2.2:3868 -m",
        SCTP,
        Server(ip("10.2.2.2"), 3868, Forward.MASQ),
    ),
    (
        "-a -u 10.1.1.2:5060 -r 10.2.2.3:5060 -m -w 9",
        SIP,
        Server(ip("10.2.2.3"), 5060, Forward.MASQ, 9),
    ),
    # A local address (6.1 reports the method it was given, not LOCAL).
    ("-a -t 10.1.1.4:80 -r 10.0.0.254:80 -m", SHPORT, Server(ip("10.0.0.254"), 80, Forward.MASQ)),
]

EDITS: list[tuple[str, Callable[[IPVS], None]]] = [
    (
        "-E -t 10.1.1.1:80 -s wrr -p 60",
        lambda i: i.edit_service(Service(TCP80, "wrr", F.PERSISTENT, 60)),
    ),
    (
        "-e -t 10.1.1.1:80 -r 192.168.10.1:8080 -m -w 7",
        lambda i: i.edit_server(TCP80, Server(ip("192.168.10.1"), 8080, Forward.MASQ, 7)),
    ),
    (
        "-d -t 10.1.1.1:80 -r 192.168.10.2",
        lambda i: i.delete_server(TCP80, Server(ip("192.168.10.2"), 80)),
    ),
    ("-D -u 10.1.1.6:79", lambda i: i.delete_service(NONE)),
    ("--set 100 20 30", lambda i: i.set_timeouts(Timeouts(100, 20, 30))),
    ("--set 0 25 0", lambda i: i.set_timeouts(Timeouts(0, 25, 0))),
    ("-Z -t 10.1.1.1:80", lambda i: i.zero(TCP80)),
    ("-Z", lambda i: i.zero()),
]

LISTINGS = [
    ["-Sn"],
    ["-Ln"],
    ["-Ln", "--thresholds"],
    ["-Ln", "--tun-info"],
    ["-Ln", "--persistent-conn"],
    ["-Ln", "--stats", "--exact"],
    ["-L", "--timeout"],
    ["-L", "--daemon"],
]


def run_ipvsadm(ns: Netns, line: str) -> None:
    r = ns.ipvsadm(*line.split())
    assert r.returncode == 0, f"ipvsadm {line}: {r.stderr}"


def assert_same_listings(lib_ns: Netns, ref_ns: Netns) -> None:
    for args in LISTINGS:
        mine, ref = lib_ns.ipvsadm(*args), ref_ns.ipvsadm(*args)
        assert (mine.returncode, mine.stdout, mine.stderr) == (
            ref.returncode,
            ref.stdout,
            ref.stderr,
        ), f"ipvsadm {' '.join(args)} differs"


def test_library_writes_what_ipvsadm_writes(netns_pair: tuple[Netns, Netns]) -> None:
    lib_ns, ref_ns = netns_pair
    with IPVS(lib_ns.name) as ipvs:
        for line, service in SERVICES:
            run_ipvsadm(ref_ns, line)
            ipvs.add_service(service)
        for line, key, server in SERVERS:
            run_ipvsadm(ref_ns, line)
            ipvs.add_server(key, server)
        assert_same_listings(lib_ns, ref_ns)
        for line, edit in EDITS:
            run_ipvsadm(ref_ns, line)
            edit(ipvs)
        assert_same_listings(lib_ns, ref_ns)
        assert ipvs.timeouts() == Timeouts(100, 25, 30)


def test_library_reads_what_ipvsadm_writes(netns: Netns) -> None:
    for line, _ in SERVICES:
        run_ipvsadm(netns, line)
    for line, _, _ in SERVERS:
        run_ipvsadm(netns, line)
    with IPVS(netns.path) as ipvs:
        listed = ipvs.services()
        assert {s.service for s in listed} == {svc for _, svc in SERVICES}
        for status in listed:
            assert status.raw_flags == int(status.service.flags) | int(F.HASHED)
            assert status.stats == Stats()
            assert ipvs.service(status.key) == status
            want = {srv for _, key, srv in SERVERS if key == status.key}
            got = ipvs.servers(status.key)
            assert {s.server for s in got} == want, status.key
            for s in got:
                assert (s.active_conns, s.inact_conns, s.persist_conns) == (0, 0, 0)
                assert s.stats == Stats()


def test_info_and_empty_table(netns: Netns) -> None:
    with IPVS(netns.name) as ipvs:
        info = ipvs.info()
        assert isinstance(info, Info) and info.version == (1, 2, 1)
        head = netns.ipvsadm_out("-Ln").splitlines()[0]
        assert head == f"IP Virtual Server version 1.2.1 (size={info.conn_tab_size})"
        assert ipvs.services() == []
        assert ipvs.servers(TCP80) == []  # the kernel answers an unknown service with nothing
        assert ipvs.daemons() == []
        assert ipvs.timeouts() == Timeouts(900, 120, 300)


def test_namespaces_by_name_and_path_are_isolated(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    with IPVS(a.name) as by_name, IPVS(a.path) as by_path, IPVS(b.name) as other:
        by_name.add_service(Service(TCP80, "rr"))
        assert [s.key for s in by_path.services()] == [TCP80]
        assert other.services() == []
        assert b.ipvsadm_out("-Sn") == ""
        assert a.ipvsadm_out("-Sn") == "-A -t 10.1.1.1:80 -s rr\n"
        by_path.flush()
        assert by_name.services() == []


def test_daemons(netns_pair: tuple[Netns, Netns]) -> None:
    lib_ns, ref_ns = netns_pair
    master = Daemon(DaemonState.MASTER, "dummy0", 7)
    backup = Daemon(DaemonState.BACKUP, "dummy0", 9, 1400, ip("239.1.2.3"), 9000, 2)
    with IPVS(lib_ns.name) as ipvs:
        ipvs.start_daemon(master)
        run_ipvsadm(ref_ns, "--start-daemon master --mcast-interface dummy0 --syncid 7")
        with pytest.raises(IPVSExistsError, match="Daemon has already run"):
            ipvs.start_daemon(master)
        ipvs.start_daemon(backup)
        run_ipvsadm(
            ref_ns,
            "--start-daemon backup --mcast-interface dummy0 --syncid 9 --sync-maxlen 1400"
            " --mcast-group 239.1.2.3 --mcast-port 9000 --mcast-ttl 2",
        )
        got = ipvs.daemons()
        # Kernels >= 4.3 report the defaults they filled in.
        assert got == [
            Daemon(DaemonState.MASTER, "dummy0", 7, 1472, ip("224.0.0.81"), 8848, 1),
            backup,
        ]
        assert_same_listings(lib_ns, ref_ns)
        ipvs.stop_daemon(DaemonState.MASTER)
        run_ipvsadm(ref_ns, "--stop-daemon master")
        assert [d.state for d in ipvs.daemons()] == [DaemonState.BACKUP]
        assert_same_listings(lib_ns, ref_ns)
        ipvs.stop_daemon(DaemonState.BACKUP, 9)
        assert ipvs.daemons() == []
        ipv6 = Daemon(DaemonState.MASTER, "dummy0", 1, mcast_group=ip("ff02::1:2"), mcast_port=9100)
        ipvs.start_daemon(ipv6)
        [d] = ipvs.daemons()
        assert (d.mcast_group, d.mcast_port, d.sync_maxlen) == (ip("ff02::1:2"), 9100, 1452)


def test_many_services_and_servers_span_dump_chunks(netns: Netns) -> None:
    big = ServiceKey.tcp("10.9.9.9", 80)
    lines = [f"-A -t 10.8.{i // 250}.{i % 250 + 1}:{1000 + i} -s rr" for i in range(1500)]
    lines.append("-A -t 10.9.9.9:80 -s wrr")
    lines += [
        f"-a -t 10.9.9.9:80 -r 192.168.{i // 250}.{i % 250 + 1}:80 -m -w {i}" for i in range(1500)
    ]
    r = netns.ipvsadm("-R", input="\n".join(lines) + "\n")
    assert r.returncode == 0, r.stderr
    with IPVS(netns.name) as ipvs:
        services = ipvs.services()
        assert len(services) == 1501 and len({s.key for s in services}) == 1501
        servers = ipvs.servers(big)
        assert sorted(s.server.weight for s in servers) == list(range(1500))
        assert {str(s.server.address) for s in servers} == {
            f"192.168.{i // 250}.{i % 250 + 1}" for i in range(1500)
        }


def test_traffic_counters_and_zero(netns: Netns) -> None:
    key = ServiceKey.tcp("10.0.0.254", 80)  # on dummy0: local traffic reaches IPVS
    with IPVS(netns.name) as ipvs:
        ipvs.add_service(Service(key, "rr"))
        ipvs.add_server(key, Server(ip("127.0.0.1"), 8080, Forward.MASQ))
        client = (
            "import socket, threading\n"
            "srv = socket.create_server(('127.0.0.1', 8080)); srv.settimeout(20)\n"
            "def serve():\n"
            "    for _ in range(3):\n"
            "        c, _ = srv.accept(); c.sendall(c.recv(100) * 2); c.close()\n"
            "t = threading.Thread(target=serve, daemon=True); t.start()\n"
            "for _ in range(3):\n"
            "    s = socket.create_connection(('10.0.0.254', 80), timeout=10)\n"
            "    s.sendall(b'hello'); assert s.recv(100) == b'hellohello'; s.close()\n"
            "t.join(20)\n"
        )
        r = netns.run([sys.executable, "-c", client])
        assert r.returncode == 0, r.stderr
        [status] = ipvs.services()
        # Counters reach the table with the estimator's next run (every 2 s).
        deadline = time.monotonic() + 10
        while status.stats.conns < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
            [status] = ipvs.services()
        assert status.stats.conns == 3 and status.stats.inpkts > 0 and status.stats.inbytes > 0
        fields = netns.ipvsadm_out("-Ln", "--stats", "--exact").splitlines()[3].split()
        assert [int(x) for x in fields[2:7]] == [
            status.stats.conns, status.stats.inpkts, status.stats.outpkts,
            status.stats.inbytes, status.stats.outbytes,
        ]  # fmt: skip
        [srv] = ipvs.servers(key)
        assert srv.stats.conns == 3 and srv.active_conns + srv.inact_conns == 3
        row = netns.ipvsadm_out("-Ln").splitlines()[4].split()
        assert [int(row[-2]), int(row[-1])] == [srv.active_conns, srv.inact_conns]
        ipvs.zero(key)
        assert ipvs.service(key).stats.conns == 0
        assert ipvs.servers(key)[0].stats.conns == 0
