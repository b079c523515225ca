"""pyipvsadm against the real ipvsadm 1.31 on a table that carried real traffic.

The differential suite (test_ipvsadm_diff.py) runs each side in its own
namespace, which works for configuration but not for counters, rates and
connections: those depend on packets and time. Here one namespace gets
services, real TCP handshakes (closed, reset and held open, IPv4 and IPv6),
UDP datagrams and firewall-marked packets (tests/kernel/traffic.py), and then
every listing that shows them is taken by both programs from the same table.

The kernel changes what they show on its own clock: counters and rates move
on each estimator tick (every 2 s), connection timers count down each second
and entries expire. So each listing is taken three times back to back:
ipvsadm, pyipvsadm, ipvsadm. When ipvsadm's two runs agree, nothing moved in
between and pyipvsadm must print exactly the same bytes; when they disagree a
tick intervened and the triple is taken again (a listing that never holds
still for one triple fails the test).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import traffic
from conftest import IPVSADM, Netns

from pyipvs.model import ServiceStatus

_main = importlib.import_module("pyipvs.cli.ipvsadm.main").main
IPVS = importlib.import_module("pyipvs.ipvs").IPVS

TRIES = 12
BURST = 1000  # datagrams of the last burst

# Virtual and real addresses are all local (AnyIP routes on lo, plus
# 127.0.0.1): IPVS rewrites a locally sent packet in LOCAL_OUT but keeps its
# route, so a NAT to a local server only arrives when the virtual address was
# local too (a non-local one sends the rewritten packet out of dummy0).
VIPS4, VIPS6 = "10.10.0.0/24", "2001:db8:10::/64"
RIPS4, RIPS6 = "10.20.0.0/24", "2001:db8:20::/64"
SETUP = """\
-A -t 10.10.0.1:80 -s rr
-a -t 10.10.0.1:80 -r 10.20.0.1:8080 -m -w 2
-a -t 10.10.0.1:80 -r 10.20.0.2:8081 -m -x 100 -y 10
-A -t 10.10.0.2:443 -s wlc -p 120
-a -t 10.10.0.2:443 -r 127.0.0.1:8443 -m
-A -u 10.10.0.3:5000 -s rr
-a -u 10.10.0.3:5000 -r 10.20.0.1:5001 -m
-a -u 10.10.0.3:5000 -r 10.20.0.2:5002 -m -w 3
-A -f 7 -s rr
-a -f 7 -r 10.20.0.3:0 -m
-A -t [2001:db8:10::1]:80 -s rr
-a -t [2001:db8:10::1]:80 -r [2001:db8:20::1]:8080 -m
-A -t 10.10.0.4:22 -s rr
-a -t 10.10.0.4:22 -r 10.20.0.4:22 -m
"""

# Rates decay on every estimator tick once traffic stops, and a rate listing
# only holds still between two ticks: these are taken right after the tick
# that folded in a fresh burst (compare_rates).
RATE_LISTINGS: list[tuple[str, ...]] = [
    ("-Ln", "--rate"),
    ("-Ln", "--rate", "--exact"),
    ("-L", "-n", "-u", "10.10.0.3:5000", "--rate"),
]
LISTINGS: list[tuple[str, ...]] = [
    ("-Ln",),
    ("-L",),
    ("-Ln", "--stats"),
    ("-L", "--stats"),
    ("-Ln", "--stats", "--exact"),
    ("-Ln", "--thresholds"),
    ("-Ln", "--persistent-conn"),
    ("-Ln", "--nosort", "--stats"),
    ("-Sn",),
    ("-L", "-n", "-t", "10.10.0.1:80", "--stats"),
    ("-L", "-n", "-f", "7", "--rate"),
]
# The connection table never holds still: each entry's countdown ticks every
# second at its own phase, so with dozens of entries it changes every few
# milliseconds. Both programs read one snapshot of the kernel's bytes instead
# (see frozen_conn_listings).
CONN_LISTINGS: list[tuple[str, ...]] = [("-Lnc",), ("-Lc",), ("-Lnc", "--persistent-conn")]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Runs pyipvsadm's main() in-process for each argv given as JSON, in the
# frozen mount namespace; writes ours.{out,err,rc}.N next to ipvsadm's files.
_OURS = """\
import io, json, sys
from pyipvs.cli.ipvsadm.main import main
for i, args in enumerate(json.loads(sys.argv[1])):
    out, err = io.StringIO(), io.StringIO()
    rc = main(["ipvsadm", *args], io.StringIO(""), out, err)
    for name, text in (("out", out.getvalue()), ("err", err.getvalue()), ("rc", str(rc))):
        with open(f"ours.{name}.{i}", "wb") as f:
            f.write(text.encode("utf-8", "surrogateescape"))
"""


@dataclass(frozen=True)
class Out:
    status: int
    stdout: bytes
    stderr: bytes


@dataclass
class Tally:
    listings: int = 0
    triples: int = 0
    frozen: int = 0


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None and TALLY.listings:
        tr.write_line(
            f"ipvsadm traffic listings: {TALLY.listings} live listings identical "
            f"({TALLY.triples} ipvsadm/pyipvsadm/ipvsadm triples taken), "
            f"{TALLY.frozen} connection listings identical on one snapshot"
        )


@pytest.fixture(scope="module")
def ref_binary() -> Iterator[str]:
    # A tmpfs copy of the same bytes: exec from the 9p root is slow in the VM.
    d = tempfile.mkdtemp(prefix="ipvsadm-traffic-")
    shutil.copy2(IPVSADM, os.path.join(d, "ipvsadm"))
    yield os.path.join(d, "ipvsadm")
    shutil.rmtree(d, ignore_errors=True)


def reference(ns: Netns, binary: str, args: Sequence[str], stdin: str = "") -> Out:
    # A process forked by a thread inside the namespace starts there: no nsenter.
    with traffic.inside(ns):
        p = subprocess.run(
            [binary, *args],
            input=stdin.encode(),
            capture_output=True,
            env={"PATH": os.path.dirname(binary) + ":/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
            check=False,
        )
    return Out(p.returncode, p.stdout, p.stderr)


def ours(ns: Netns, args: Sequence[str]) -> Out:
    out, err = io.StringIO(), io.StringIO()
    status = _main(["ipvsadm", *args], io.StringIO(""), out, err, netns=ns.name)
    enc = "utf-8"
    return Out(status, out.getvalue().encode(enc, "surrogateescape"), err.getvalue().encode(enc))


def compare_live(ns: Netns, binary: str, args: Sequence[str]) -> Out:
    """ipvsadm, pyipvsadm, ipvsadm until ipvsadm's two agree; then ours must be identical."""
    for _ in range(TRIES):
        TALLY.triples += 1
        before = reference(ns, binary, args)
        got = ours(ns, args)
        after = reference(ns, binary, args)
        if before == after:
            assert got == before, _show(args, before, got)
            TALLY.listings += 1
            return before
    raise AssertionError(f"ipvsadm {' '.join(args)} never held still for {TRIES} triples")


def frozen_conn_listings(
    ns: Netns, binary: str, argsets: Sequence[Sequence[str]]
) -> tuple[bytes, list[Out]]:
    """Each argv run by ipvsadm and by pyipvsadm on one snapshot of the
    namespace's /proc/net/ip_vs_conn; both must print identical bytes.

    The snapshot is the kernel's own text, taken once; both programs then run
    in a private mount namespace whose /proc is a tmpfs holding only that file
    (at /proc/net/, where ipvsadm opens it, and /proc/thread-self/net/, where
    pyipvs's C core does), still inside the test's network namespace.
    """
    with traffic.inside(ns), open("/proc/thread-self/net/ip_vs_conn", "rb") as f:
        snapshot = f.read()
    with tempfile.TemporaryDirectory(prefix="ipvsconn-") as tmp:
        with open(os.path.join(tmp, "conn"), "wb") as f:
            f.write(snapshot)
        with open(os.path.join(tmp, "ours.py"), "w") as f:
            f.write(_OURS)
        lines = [
            (
                "mount -t tmpfs frozen /proc && mkdir -p /proc/net /proc/thread-self/net"
                " && cp conn /proc/net/ip_vs_conn && cp conn /proc/thread-self/net/ip_vs_conn"
                " || exit 99"
            )
        ]
        for i, args in enumerate(argsets):
            words = " ".join(shlex.quote(a) for a in args)
            lines.append(
                f"ipvsadm {words} </dev/null >ref.out.{i} 2>ref.err.{i}; echo $? >ref.rc.{i}"
            )
        py = shlex.quote(sys.executable)
        lines.append(f"{py} ours.py {shlex.quote(json.dumps([list(a) for a in argsets]))}")
        with open(os.path.join(tmp, "run.sh"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with traffic.inside(ns):
            proc = subprocess.run(
                ["unshare", "--mount", "--propagation", "private", "bash", "run.sh"],
                cwd=tmp,
                capture_output=True,
                env={
                    "PATH": os.path.dirname(binary) + ":/usr/sbin:/usr/bin:/sbin:/bin",
                    "LC_ALL": "C",
                    "PYTHONPATH": REPO,
                },
                check=False,
            )
        assert proc.returncode == 0, proc

        def read(name: str) -> bytes:
            with open(os.path.join(tmp, name), "rb") as f:
                return f.read()

        outs = []
        for i, args in enumerate(argsets):
            want = Out(int(read(f"ref.rc.{i}")), read(f"ref.out.{i}"), read(f"ref.err.{i}"))
            got = Out(int(read(f"ours.rc.{i}")), read(f"ours.out.{i}"), read(f"ours.err.{i}"))
            assert got == want, _show(args, want, got)
            TALLY.frozen += 1
            outs.append(want)
    return snapshot, outs


def _show(args: Sequence[str], want: Out, got: Out) -> str:
    lines = [f"ipvsadm {' '.join(args)}: status {want.status} / pyipvsadm {got.status}"]
    for name in ("stdout", "stderr"):
        a, b = getattr(want, name), getattr(got, name)
        if a != b:
            lines.append(f"{name} ipvsadm:")
            lines += ["  | " + repr(x) for x in a.decode(errors="replace").splitlines(True)]
            lines.append(f"{name} pyipvsadm:")
            lines += ["  | " + repr(x) for x in b.decode(errors="replace").splitlines(True)]
    return "\n".join(lines)


def _wait_for_counters(ns: Netns, want_conns: dict[str, int]) -> None:
    """Until the estimator has folded the traffic into every service's counters."""
    deadline = time.monotonic() + 20
    with IPVS(ns.name) as ipvs:
        while True:
            seen = {_key(st): st.stats.conns for st in ipvs.services()}
            if all(seen.get(k, 0) >= n for k, n in want_conns.items()):
                return
            assert time.monotonic() < deadline, f"counters never showed the traffic: {seen}"
            time.sleep(0.5)


def _burst(ns: Netns) -> None:
    """Many datagrams on one flow (one connection entry) to the UDP service."""
    with contextlib.closing(traffic.socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)) as u:
        u.bind(("10.200.5.1", 40000))
        for _ in range(BURST):
            u.sendto(b"x" * 100, ("10.10.0.3", 5000))


def _udp_inpps(ipvs: Any) -> int:
    return next(st.stats.inpps for st in ipvs.services() if _key(st) == "10.10.0.3:5000")


def compare_rates(ns: Netns, binary: str) -> list[Out]:
    """The rate listings, taken just after the estimator tick that showed a
    fresh burst: a whole tick period (2 s) to hold still in, with rates far
    from zero. A stable triple that only came once the rates had decayed to
    nothing (a very slow VM) does not count: burst again."""
    for _ in range(4):
        _burst(ns)
        with IPVS(ns.name) as ipvs:
            before = _udp_inpps(ipvs)
            deadline = time.monotonic() + 10
            while _udp_inpps(ipvs) <= before:  # the tick that folds in the burst
                assert time.monotonic() < deadline, "the burst never reached the rates"
                time.sleep(0.05)
        outs = [compare_live(ns, binary, args) for args in RATE_LISTINGS]
        rates = _numbers(outs[0].stdout, "UDP  10.10.0.3:5000")
        if rates[1] and rates[3]:  # InPPS, InBPS
            return outs
    raise AssertionError("rates were zero by the time a rate listing held still")


def _key(st: ServiceStatus) -> str:
    key = st.key
    return f"fwm{key.fwmark}" if key.fwmark else f"{key.address}:{key.port}"


def _numbers(listing: bytes, prefix: str) -> list[int]:
    """The numeric columns of the first listing line that starts with `prefix`."""
    for line in listing.decode().splitlines():
        if line.startswith(prefix):
            return [int(x) for x in re.findall(r"\s(\d+)(?=\s|$)", line[len(prefix) :])]
    raise AssertionError(f"no line starting {prefix!r} in:\n{listing.decode()}")


def test_listings_with_traffic(netns: Netns, ref_binary: str) -> None:
    setup = reference(netns, ref_binary, ["-R"], SETUP)
    assert setup == Out(0, b"", b""), setup
    for prefix in ("10.200.0.0/16", "2001:db8:c8::/48", VIPS4, VIPS6, RIPS4, RIPS6):
        traffic.add_local_route(netns, prefix)
    web = [("10.20.0.1", 8080), ("10.20.0.2", 8081)]
    # Through IPVS or not at all: nothing listens on the virtual addresses,
    # so a handshake only completes when IPVS forwards it to a listener.
    assert traffic.tcp_handshakes(netns, "10.10.0.1", 80, 20, listen=web, ports_per_addr=10) == (
        traffic.Handshakes(20, 0)
    )
    assert traffic.tcp_handshakes(
        netns, "10.10.0.1", 80, 6, end="reset", listen=web, sport=20000
    ) == traffic.Handshakes(6, 0)
    assert traffic.tcp_handshakes(
        netns, "10.10.0.2", 443, 4, listen=[("127.0.0.1", 8443)], src="10.200.1.1"
    ) == traffic.Handshakes(4, 0)
    assert traffic.tcp_handshakes(
        netns, "2001:db8:10::1", 80, 3, listen=[("2001:db8:20::1", 8080)]
    ) == traffic.Handshakes(3, 0)
    assert traffic.udp_flows(netns, "10.10.0.3", 5000, 12, ports_per_addr=4) == 12
    assert traffic.udp_flows(netns, "10.10.0.9", 9999, 5, mark=7, src="10.200.2.1") == 5
    with traffic.hold_handshakes(
        netns, "10.10.0.1", 80, 3, listen=web, src="10.200.3.1", sport=30000
    ) as held:
        assert held == traffic.Handshakes(3, 0)
        _wait_for_counters(
            netns,
            {
                "10.10.0.1:80": 29,
                "10.10.0.2:443": 4,
                "10.10.0.3:5000": 12,
                "fwm7": 5,
                "2001:db8:10::1:80": 3,
            },
        )
        compare_rates(netns, ref_binary)
        results = {args: compare_live(netns, ref_binary, args) for args in LISTINGS}
        # What was compared really shows traffic (non-zero counters, live
        # connections), so a listing of an idle table cannot pass for one.
        stats = _numbers(results[("-Ln", "--stats")].stdout, "TCP  10.10.0.1:80")
        assert stats[0] >= 29 and all(stats), stats
        assert _numbers(results[("-Ln", "--stats")].stdout, "TCP  10.10.0.4:22") == [0] * 5
        active = [
            _numbers(results[("-Ln",)].stdout, f"  -> 10.20.0.{i}:{p}")[1]
            for i, p in ((1, 8080), (2, 8081))
        ]
        assert sum(active) == 3, active
        snapshot, conn_outs = frozen_conn_listings(netns, ref_binary, CONN_LISTINGS)
        conns = conn_outs[0].stdout.decode().splitlines()
        # headers, held, template, UDP, marked (closed TCP entries may expire)
        assert len(conns) == 2 + len(snapshot.splitlines()) - 1 >= 2 + 3 + 1 + 12 + 5, conns
        assert any(" ESTABLISHED " in c for c in conns) and any(" UDP " in c for c in conns)
        # Zeroing one service: both programs list the same partly zeroed table.
        assert ours(netns, ["-Z", "-t", "10.10.0.1:80"]) == Out(0, b"", b"")
        zeroed = compare_live(netns, ref_binary, ("-Ln", "--stats", "--exact"))
        assert _numbers(zeroed.stdout, "TCP  10.10.0.1:80") == [0] * 5
        assert any(_numbers(zeroed.stdout, "TCP  10.10.0.2:443"))
