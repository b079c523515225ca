"""`pyipvs top` against a real kernel with real traffic (kernel tests: run
through ci/vm-run.sh): the scripted text frames, with rates from counter
deltas, and the live curses screen driven under tmux (keys, resizes down to
a tiny window, quitting), checked on the captured screen.
"""

from __future__ import annotations

import io
import os
import pathlib
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

import stats_table
from conftest import Netns

from pyipvs import IPVS
from pyipvs.cli.pyipvs import main as pyipvs_main


class FirstWrite(io.StringIO):
    """A stdout that tells when the first frame is being written (the
    first snapshot has been taken by then)."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()

    def write(self, s: str) -> int:
        self.started.set()
        return super().write(s)


def row(frame: list[str], name: str) -> list[str]:
    hits = [ln.split() for ln in frame if ln.startswith(name)]
    assert len(hits) == 1, (name, frame)
    return hits[0]


def test_top_batch_frames_show_delta_rates(netns: Netns) -> None:
    n, more = 4, 16
    with IPVS(netns.path) as ipvs:
        stats_table.build(ipvs)
        stats_table.send(netns, n)
        snap = stats_table.settle(ipvs, n)
    out = FirstWrite()
    sent: list[float] = []

    def traffic_after_first_frame() -> None:
        out.started.wait(60)
        stats_table.send(netns, more)
        sent.append(time.monotonic())

    t = threading.Thread(target=traffic_after_first_frame)
    t.start()
    err = io.StringIO()
    argv = ["pyipvs", "--netns", netns.name, "top", "--batch", "--iterations", "2",
            "--interval", "8", "--width", "120", "--sort", "name", "--ascending"]  # fmt: skip
    rc = pyipvs_main(argv, io.StringIO(), out, err)
    t.join(60)
    assert rc == 0, err.getvalue()
    first, second = (f.splitlines() for f in out.getvalue().split("\n\n"))

    assert first[0] == "pyipvs top - 4 services, 5 servers, rates: kernel estimator"
    assert second[0].startswith("pyipvs top - 4 services, 5 servers, rates: deltas over ")
    interval = float(re.findall(r"deltas over ([\d.]+)s", second[0])[0])
    # Ascending by name: services in ipvsadm's order, each with its servers.
    names = [ln.split()[1] for ln in first[4:]]
    assert names == [
        "10.0.0.254:80", "127.0.0.1:8080", "127.0.0.1:8081",
        "10.0.0.254:53", "127.0.0.1:5353",
        "[2001:db8::100]:53", "[2001:db8::200]:53",
        "7", "127.0.0.1:0",
    ]  # fmt: skip
    # Live connection counts as the snapshot shows them.
    web = snap.servers_of(stats_table.WEB)
    assert row(first, "TCP")[-2:] == [
        str(sum(s.active_conns for s in web)),
        str(sum(s.inact_conns for s in web)),
    ]
    # The second frame's Conn/s is the new connections over the interval.
    for prefix in ("TCP", "UDP  10.0.0.254", "UDP  [2001", "FWM"):
        conn_s = float(row(second, prefix)[2])
        assert abs(conn_s * interval - more) <= 0.06 * interval * 2 + 0.5, (prefix, conn_s)
        assert float(row(second, prefix)[3]) > 0  # InPkt/s
    assert sent, "the traffic thread failed"


class Tmux:
    """One private tmux server running one window (the program under test)."""

    def __init__(self, command: str, width: int, height: int, logs: Sequence[str] = ()) -> None:
        self.sock = f"pyipvs-top-{os.getpid()}"
        self.logs = logs  # files shown when the screen is not as expected
        self.run("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), command)

    def run(self, *args: str) -> str:
        r = subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", *args],
                           capture_output=True, text=True, timeout=30)  # fmt: skip
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    def screen(self) -> list[str]:
        return self.run("capture-pane", "-p", "-t", "t").rstrip("\n").split("\n")

    def wait_for(
        self, check: Callable[[list[str]], bool], what: str, timeout: float = 90
    ) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.screen()
            if check(lines):
                return lines
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"screen never showed {what}:\n" + "\n".join(lines) + self.diagnose()
                )
            time.sleep(0.3)

    def diagnose(self) -> str:
        pane = self.run(
            "list-panes", "-a", "-F", "#{pane_pid} dead=#{pane_dead} alt=#{alternate_on}"
        )
        ps = subprocess.run(["ps", "-eo", "pid,ppid,stat,etime,wchan:24,args"],
                            capture_output=True, text=True).stdout  # fmt: skip
        out = ["", f"pane: {pane}", ps]
        for path in self.logs:
            if os.path.exists(path):
                with open(path) as f:
                    out.append(f"{path}: {f.read()}")
        return "\n".join(out)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


def test_top_live_screen_under_tmux(netns: Netns, tmp_path: pathlib.Path) -> None:
    with IPVS(netns.path) as ipvs:
        stats_table.build(ipvs)
        stats_table.send(netns, 3)
        stats_table.settle(ipvs, 3)
    status = os.path.join(str(tmp_path), "status")
    top = [
        sys.executable,
        "-m",
        "pyipvs.cli.pyipvs",
        "--netns",
        netns.name,
        "top",
        "--interval",
        "1",
    ]
    command = (
        f"env TERM=screen PYTHONPATH={shlex.quote(os.pathsep.join(sys.path))} "
        f"{shlex.join(top)} 2>{shlex.quote(status)}.err; echo $? > {shlex.quote(status)}; sleep 600"
    )
    tmux = Tmux(command, 120, 30, logs=[status, status + ".err"])
    try:
        # The first screen waits for an interpreter start in an emulated,
        # shared VM: allow minutes; later changes take one refresh.
        text = "\n".join(
            tmux.wait_for(lambda s: any("127.0.0.1:0" in ln for ln in s), "the table", 300)
        )
        lines = text.split("\n")
        assert lines[0].startswith("pyipvs top - 4 services, 5 servers, rates: ")
        assert lines[1].startswith("sort: InByte/s v")
        for want in ("TCP  10.0.0.254:80", "-> 127.0.0.1:8080", "-> 127.0.0.1:8081",
                     "UDP  [2001:db8::100]:53", "FWM  7", "TOTAL"):  # fmt: skip
            assert want in text, want
        tmux.wait_for(lambda s: "rates: deltas over" in s[0], "delta rates")

        tmux.run("send-keys", "-t", "t", ">")
        tmux.wait_for(lambda s: s[1].startswith("sort: OutByte/s v"), "the next sort column")
        tmux.run("send-keys", "-t", "t", "s")
        tmux.wait_for(
            lambda s: not any("->" in ln for ln in s) and "FWM  7" in "\n".join(s), "services only"
        )

        # Tiny windows: the view shrinks to fit and keeps running.
        tmux.run("resize-window", "-t", "t", "-x", "24", "-y", "4")
        small = tmux.wait_for(lambda s: s[0].startswith("pyipvs top - 4 services"), "the 24x4 view")
        assert len(small) <= 4 and all(len(ln) <= 24 for ln in small)
        tmux.run("resize-window", "-t", "t", "-x", "3", "-y", "1")
        tmux.wait_for(lambda s: s[0] == "pyi", "the 3x1 view")
        tmux.run("resize-window", "-t", "t", "-x", "100", "-y", "20")
        tmux.wait_for(
            lambda s: len(s) > 5 and "TCP  10.0.0.254:80" in "\n".join(s), "the full view again"
        )
        assert not os.path.exists(status), "top exited during the resizes"

        tmux.run("send-keys", "-t", "t", "q")
        deadline = time.monotonic() + 20
        while not os.path.exists(status) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.2)
        with open(status) as f:
            rc = f.read().strip()
        with open(status + ".err") as f:
            assert rc == "0", f.read()
    finally:
        tmux.close()
