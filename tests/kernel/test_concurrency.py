"""Several threads and processes programming and reading one IPVS table at
once (kernel tests: run through ci/vm-run.sh).

The documented behaviour: an `IPVS` object serialises its callers (one lock
around every exchange on its socket), so threads may share it; separate
objects, in threads or processes, each have their own socket and the kernel
orders their commands. Either way every command lands exactly once, no
reader sees a broken or partial answer, and the table ends as the union of
what was asked, checked through the real ipvsadm -Sn.
"""

from __future__ import annotations

import ipaddress
import os
import threading

from conftest import Netns

from pyipvs import IPVS, Forward, IPVSError, Server, Service, ServiceKey

ip = ipaddress.ip_address
WRITERS, PER_WRITER = 4, 40


def _key(w: int) -> ServiceKey:
    return ServiceKey.tcp(f"10.1.{w}.1", 80)


def _server(w: int, i: int) -> Server:
    return Server(ip(f"10.{10 + w}.0.{i + 1}"), 8080, Forward.MASQ, 1 + i % 5)


def _expected(writers: range) -> set[str]:
    lines = set()
    for w in writers:
        lines.add(f"-A -t {_key(w).address}:80 -s wlc")
        for i in range(PER_WRITER):
            s = _server(w, i)
            lines.add(f"-a -t {_key(w).address}:80 -r {s.address}:8080 -m -w {s.weight}")
    return lines


def _write(ipvs: IPVS, w: int) -> None:
    ipvs.add_service(Service(_key(w), "wlc"))
    for i in range(PER_WRITER):
        ipvs.add_server(_key(w), _server(w, i))
        if i % 10 == 9:  # churn: edit one back and forth
            s = _server(w, i)
            ipvs.edit_server(_key(w), Server(s.address, 8080, Forward.MASQ, 99))
            ipvs.edit_server(_key(w), s)


def _read_until(ipvs: IPVS, stop: threading.Event, problems: list[str]) -> int:
    """Dump services and servers over and over; a service may vanish between
    the two dumps (ESRCH), nothing else may go wrong."""
    rounds = 0
    while not stop.is_set():
        for st in ipvs.services():
            try:
                for srv in ipvs.servers(st.key):
                    if srv.server.weight not in (*range(1, 6), 99):
                        problems.append(f"impossible weight {srv.server.weight}")
            except IPVSError as e:
                problems.append(f"servers({st.key}): {e}")
        rounds += 1
    return rounds


def _saved(netns: Netns) -> set[str]:
    return {line for line in netns.ipvsadm_out("-Sn").splitlines() if line}


def test_threads_sharing_one_handle(netns: Netns) -> None:
    problems: list[str] = []
    stop = threading.Event()
    rounds: list[int] = []
    with IPVS(netns.name) as ipvs:
        writers = [threading.Thread(target=_write, args=(ipvs, w)) for w in range(WRITERS)]
        readers = [
            threading.Thread(target=lambda: rounds.append(_read_until(ipvs, stop, problems)))
            for _ in range(2)
        ]
        for t in writers + readers:
            t.start()
        for t in writers:
            t.join(300)
        stop.set()
        for t in readers:
            t.join(60)
        assert not any(t.is_alive() for t in writers + readers)
        assert not ipvs._runner._handle or not ipvs._runner._handle.broken
    assert problems == []
    assert all(r > 0 for r in rounds) and len(rounds) == 2
    assert _saved(netns) == _expected(range(WRITERS))


def test_threads_with_their_own_handles(netns: Netns) -> None:
    errors: list[BaseException] = []

    def own(w: int) -> None:
        try:
            with IPVS(netns.name) as ipvs:
                _write(ipvs, w)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=own, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    assert _saved(netns) == _expected(range(WRITERS))


def test_processes_and_ipvsadm_at_once(netns: Netns) -> None:
    # Forked writers (no interpreter start: cheap in the VM), the real
    # ipvsadm restoring its own service at the same time, and a reader.
    ipvsadm_lines = ["-A -t 10.1.99.1:80 -s rr"] + [
        f"-a -t 10.1.99.1:80 -r 10.99.0.{i + 1}:8080 -m -w 1" for i in range(PER_WRITER)
    ]
    pids = []
    for w in range(WRITERS):
        pid = os.fork()
        if pid == 0:  # child: its own socket, created after the fork
            code = 1
            try:
                with IPVS(netns.name) as ipvs:
                    _write(ipvs, w)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    problems: list[str] = []
    stop = threading.Event()
    with IPVS(netns.name) as reader:
        t = threading.Thread(target=_read_until, args=(reader, stop, problems))
        t.start()
        r = netns.ipvsadm("-R", input="\n".join(ipvsadm_lines) + "\n")
        statuses = [os.waitpid(pid, 0)[1] for pid in pids]
        stop.set()
        t.join(60)
    assert (r.returncode, r.stderr) == (0, "")
    assert statuses == [0] * WRITERS
    assert problems == []
    assert _saved(netns) == _expected(range(WRITERS)) | set(ipvsadm_lines)


def test_a_failed_command_does_not_disturb_other_threads(netns: Netns) -> None:
    # One thread keeps failing (EEXIST), others keep succeeding on the same
    # handle: each gets its own answer, none gets the other's.
    key = ServiceKey.tcp("10.1.1.1", 80)
    with IPVS(netns.name) as ipvs:
        ipvs.add_service(Service(key, "rr"))
        outcomes: dict[str, list[str]] = {"dup": [], "add": []}

        def dup() -> None:
            for _ in range(60):
                try:
                    ipvs.add_service(Service(key, "rr"))
                    outcomes["dup"].append("ok")
                except IPVSError as e:
                    outcomes["dup"].append(str(e))

        def add() -> None:
            for i in range(60):
                ipvs.add_server(key, Server(ip(f"10.2.0.{i + 1}"), 80, Forward.MASQ))
                outcomes["add"].append("ok")

        ts = [threading.Thread(target=dup), threading.Thread(target=add)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert set(outcomes["dup"]) == {"Service already exists"}
        assert outcomes["add"] == ["ok"] * 60
        assert len(ipvs.servers(key)) == 60
