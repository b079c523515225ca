"""Real traffic across an apply: TCP connections established through
services that stay keep working while an apply changes other services
(and edits one of the staying services in place).

With `expire_nodest_conn` set, IPVS drops a connection's next packet as
soon as its real server is gone, so a plan that deleted and re-added
anything under these connections would break them; the last step checks
that the test sees exactly that breakage when the table is cleared, as
`ipvsadm -C` before `ipvsadm -R` does."""

from __future__ import annotations

import ipaddress
import subprocess

from conftest import Netns
from reconcile_traffic import EchoServer, connect, echoes, write_sysctl

from pyipvs.ipvs import IPVS
from pyipvs.model import Forward, Server, Service, ServiceKey
from pyipvs.reconcile import Action, Table, apply_plan, read_live

REAL = ("10.0.0.254", 8080)  # dummy0's own address: a local real server


def local_vips(ns: Netns, *vips: str) -> None:
    """Put the virtual addresses on dummy0. IPVS only sees a locally
    originated connection when its destination is a local address (checked
    in the VM on 6.1: to a routed, non-local VIP the SYN never reaches it)."""
    batch = "".join(f"address add {v}/32 dev dummy0\n" for v in vips)
    subprocess.run(["ip", "-n", ns.name, "-batch", "-"], input=batch, text=True, check=True)


def _server(host: str, port: int, weight: int = 1) -> Server:
    return Server(ipaddress.ip_address(host), port, Forward.MASQ, weight)


def test_connections_through_staying_services_survive_an_apply(netns: Netns) -> None:
    write_sysctl(netns.path, "net.ipv4.vs.expire_nodest_conn", "1")
    local_vips(netns, "10.0.0.1", "10.0.0.2")
    echo = EchoServer(netns.path, *REAL)
    stay = ServiceKey.tcp("10.0.0.1", 80)  # untouched by the apply
    edited = ServiceKey.tcp("10.0.0.2", 80)  # edited in place by the apply
    others = [ServiceKey.tcp(f"10.0.0.{i}", 80) for i in range(10, 20)]
    live = Table.of(
        [
            (Service(stay, "rr"), [_server(*REAL)]),
            (Service(edited, "rr"), [_server(*REAL)]),
            *((Service(k, "wlc"), [_server("10.0.1.1", 80), _server("10.0.1.2", 80)])
              for k in others[:6]),
        ]
    )  # fmt: skip
    with IPVS(netns.name) as ipvs:
        with ipvs.batch() as b:
            for svc, servers in live.items():
                b.add_service(svc)
                for s in servers:
                    b.add_server(svc.key, s)
        conns = []
        try:
            conns += [connect(netns.path, "10.0.0.1", 80), connect(netns.path, "10.0.0.2", 80)]
            assert all(echoes(c, b"before") for c in conns)
            assert echo.accepted == 2

            desired = Table.of(
                [
                    (Service(stay, "rr"), [_server(*REAL)]),
                    (Service(edited, "wrr"), [_server(*REAL, weight=5), _server("10.0.0.252", 80)]),
                    *((Service(k, "sh"), [_server("10.0.1.3", 80)]) for k in others[3:]),
                ]
            )  # fmt: skip
            plan = ipvs.diff(desired)
            assert not [c for c in plan.changes if c.key == stay]
            assert {c.action for c in plan.changes} == set(Action) - {Action.DRAIN_SERVER}
            result = ipvs.apply(plan)
            assert result.ok
            assert read_live(ipvs) == desired
            assert all(echoes(c, b"after the apply") for c in conns)

            # The check can fail: clearing the table (what ipvsadm -C does)
            # removes the real servers under both connections, and the
            # kernel then drops their packets.
            ipvs.flush()
            assert not any(echoes(c, b"after a clear", timeout=2.0) for c in conns)
        finally:
            echo.close()
            for c in conns:
                c.close()


def test_weight_zero_drain_keeps_established_connections(netns: Netns) -> None:
    """--drain: a server that goes away first gets weight 0, and its
    established connection keeps working until the deletion."""
    write_sysctl(netns.path, "net.ipv4.vs.expire_nodest_conn", "1")
    local_vips(netns, "10.0.0.3")
    echo = EchoServer(netns.path, *REAL)
    key = ServiceKey.tcp("10.0.0.3", 80)
    with IPVS(netns.name) as ipvs:
        ipvs.add_service(Service(key, "rr"))
        ipvs.add_server(key, _server(*REAL))
        conn = connect(netns.path, "10.0.0.3", 80)
        try:
            assert echoes(conn, b"hello")
            desired = Table.of([(Service(key, "rr"), [_server("10.0.0.253", 8080)])])
            plan = ipvs.diff(desired, drain=0.5)
            seen: list[bool] = []

            def wait(seconds: float) -> None:
                # In the drain window: weight 0, connection still served.
                (drained,) = [s for s in ipvs.servers(key) if s.server.port == REAL[1]
                              and str(s.server.address) == REAL[0]]  # fmt: skip
                seen.append(drained.server.weight == 0 and echoes(conn, b"draining"))

            assert apply_plan(ipvs, plan, sleep=wait).ok
            assert seen == [True]
            assert read_live(ipvs) == desired
            assert not echoes(conn, b"deleted", timeout=2.0)
        finally:
            echo.close()
            conn.close()
