"""The test bed itself: a real IPVS kernel, isolated namespaces, the reference ipvsadm."""

from __future__ import annotations

from conftest import Netns


def test_namespaces_have_separate_tables(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    r = a.ipvsadm("-A", "-t", "10.1.1.1:80", "-s", "rr")
    assert r.returncode == 0, r.stderr
    assert a.ipvsadm_out("-Sn") == "-A -t 10.1.1.1:80 -s rr\n"
    assert b.ipvsadm_out("-Sn") == ""


def test_real_servers_are_routable(netns: Netns) -> None:
    assert netns.ipvsadm("-A", "-u", "10.1.1.1:53").returncode == 0
    r = netns.ipvsadm("-a", "-u", "10.1.1.1:53", "-r", "10.2.2.2", "-m")
    assert r.returncode == 0, r.stderr
    assert "-r 10.2.2.2:53 -m -w 1" in netns.ipvsadm_out("-Sn")
