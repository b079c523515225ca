"""The sync table (/proc/net/ip_vs_conn_sync) from a real source: a master
sync daemon in one namespace sends its connections over multicast on a veth
link to a backup daemon in another, which creates them with origin SYNC.
pyipvs's reading of both sides is checked against an independent parse of
the file's text, and pyipvsadm -Lnc on the backup against ipvsadm's.
"""

from __future__ import annotations

import collections
import io
import ipaddress
import subprocess
import time
from collections.abc import Iterator

import pytest
import traffic
from conftest import Netns, drop_netns, make_netns

from pyipvs.cli.ipvsadm import main as pyipvsadm
from pyipvs.conns import ConnFilter, ConnTable, Origin

N = 60


def pyipvsadm_ok(ns: Netns, *argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    rc = pyipvsadm(["ipvsadm", *argv], io.StringIO(), out, err, netns=ns.name)
    assert (rc, err.getvalue()) == (0, ""), argv
    return out.getvalue()


def read_sync_text(ns: Netns) -> str:
    with traffic.inside(ns), open("/proc/thread-self/net/ip_vs_conn_sync") as f:
        return f.read()


def hexaddr(text: str) -> str:
    """The kernel's %08X / full %pI6 address text as an address string."""
    if ":" in text:
        return str(ipaddress.IPv6Address(text))
    return str(ipaddress.IPv4Address(int(text, 16)))


def parse_sync(text: str) -> collections.Counter[tuple[str, ...]]:
    """Independent parse: (proto, client, cport, virtual, vport, dest, dport, state, origin)."""
    rows: collections.Counter[tuple[str, ...]] = collections.Counter()
    lines = text.splitlines()
    assert lines[0].split()[-2:] == ["Origin", "Expires"]
    for line in lines[1:]:
        p, ca, cp, va, vp, da, dp, state, origin, _exp = line.split()[:10]
        rows[(p, hexaddr(ca), str(int(cp, 16)), hexaddr(va), str(int(vp, 16)), hexaddr(da),
              str(int(dp, 16)), state, origin)] += 1  # fmt: skip
    return rows


def from_pyipvs(ns: Netns) -> collections.Counter[tuple[str, ...]]:
    return collections.Counter(
        (c.proto, str(c.caddr), str(c.cport), str(c.vaddr), str(c.vport), str(c.daddr),
         str(c.dport), c.state, c.origin.value if c.origin else "?")
        for c in ConnTable(sync=True, netns=ns.path).connections()
    )  # fmt: skip


@pytest.fixture
def pair() -> Iterator[tuple[Netns, Netns]]:
    master, backup = make_netns(), make_netns()
    try:
        subprocess.run(["ip", "link", "add", "syncm", "netns", master.name, "type", "veth",
                        "peer", "name", "syncb", "netns", backup.name], check=True)  # fmt: skip
        for ns, dev, addr in ((master, "syncm", "192.0.2.1"), (backup, "syncb", "192.0.2.2")):
            subprocess.run(["ip", "-n", ns.name, "-batch", "-"], check=True, text=True,
                           input=f"link set {dev} up\naddress add {addr}/24 dev {dev}\n"
                                 f"route add 224.0.0.0/4 dev {dev}\n")  # fmt: skip
        yield master, backup
    finally:
        drop_netns(master)
        drop_netns(backup)


def test_backup_daemon_receives_real_sync_messages(pair: tuple[Netns, Netns]) -> None:
    master, backup = pair
    for ns in pair:
        pyipvsadm_ok(ns, "--set", "0", "0", "3600")
        pyipvsadm_ok(ns, "-A", "-u", "10.0.0.1:53")
        pyipvsadm_ok(ns, "-a", "-u", "10.0.0.1:53", "-r", "10.1.0.1:53", "-m")
    # Sync every connection on its first packet (default: the 3rd of each 50).
    with traffic.inside(master), open("/proc/sys/net/ipv4/vs/sync_threshold", "w") as f:
        f.write("1 2\n")
    pyipvsadm_ok(backup, "--start-daemon", "backup", "--mcast-interface", "syncb")
    pyipvsadm_ok(master, "--start-daemon", "master", "--mcast-interface", "syncm")
    assert "master sync daemon" in master.ipvsadm_out("-L", "--daemon")
    assert traffic.udp_flows(master, "10.0.0.1", 53, N, ports_per_addr=20) == N

    only_sync = ConnFilter(origin=Origin.SYNC)
    deadline = time.monotonic() + 60
    while ConnTable(sync=True, netns=backup.path).count(only_sync) < N:
        assert time.monotonic() < deadline, read_sync_text(backup)
        time.sleep(0.5)

    backup_rows = parse_sync(read_sync_text(backup))
    assert sum(backup_rows.values()) == N
    assert {k[-1] for k in backup_rows} == {"SYNC"}
    assert from_pyipvs(backup) == backup_rows
    master_rows = parse_sync(read_sync_text(master))
    assert {k[-1] for k in master_rows} == {"LOCAL"} and sum(master_rows.values()) == N
    assert from_pyipvs(master) == master_rows
    # The synced entries are the master's connections, seen from the backup.
    assert {k[:-1] for k in backup_rows} == {k[:-1] for k in master_rows}
    # ipvsadm -Lnc lists the backup's synced entries; pyipvsadm the same.
    want = backup.ipvsadm("-Lnc")
    got = pyipvsadm_ok(backup, "-Lnc")
    mask = lambda s: [ln[:4] + "##:##" + ln[9:] for ln in s.splitlines()]  # noqa: E731
    assert mask(got) == mask(want.stdout) and len(got.splitlines()) == N + 2
