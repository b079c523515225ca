"""The batch engine against a real kernel: tables identical to ipvsadm -R's,
per-command errors in the right places, atomic rollback, lost replies.

Every table is compared through the real ipvsadm (`-Sn`), in the same
namespace the batch programmed.
"""

from __future__ import annotations

import errno
import io
import ipaddress
import os
import sys

import pytest
from conftest import Netns

from pyipvs.batch import Batch, BatchError, BatchResult, Command, Outcome
from pyipvs.errors import IPVSValueError, Op
from pyipvs.ipvs import IPVS
from pyipvs.model import (
    Forward,
    Protocol,
    Server,
    Service,
    ServiceFlag,
    ServiceKey,
    Timeouts,
    TunnelFlag,
    TunnelType,
)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from benchmarks.gen_rules import Rule, restore_text, rules


def _commands(table: list[Rule]) -> list[Command]:
    out = []
    for r in table:
        out.append(Command.add_service(r.service))
        out.extend(Command.add_server(r.service.key, s) for s in r.servers)
    return out


def _restore(ns: Netns, text: str) -> None:
    r = ns.ipvsadm("-R", input=text)
    assert r.returncode in (0, 255), r.stderr


def _save(ns: Netns) -> str:
    return ns.ipvsadm_out("-Sn")


K1 = ServiceKey.tcp("10.1.0.1", 80)
K2 = ServiceKey.udp("10.1.0.2", 53)
K6 = ServiceKey.tcp("2001:db8::80", 443)
KF = ServiceKey.fw(7)
S = [Server(ipaddress.ip_address(f"10.2.0.{i}"), 80, Forward.MASQ, i) for i in range(1, 6)]


def test_batch_table_identical_to_ipvsadm_restore(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    table = rules(300, 6, seed=7)
    _restore(a, restore_text(table))
    with IPVS(b.name) as ipvs:
        result = ipvs.apply_batch(_commands(table))
    assert result.ok and len(result) == 300 * 7
    assert not result.failures
    assert _save(b) == _save(a)
    assert len(_save(a).splitlines()) == 300 * 7


def test_settings_round_trip_like_ipvsadm(netns_pair: tuple[Netns, Netns]) -> None:
    """Every kind of option the restore grammar can set."""
    a, b = netns_pair
    text = (
        "-A -t 10.1.0.1:80 -s wrr -p 600 -M 255.255.255.0\n"
        "-a -t 10.1.0.1:80 -r 10.2.0.1:8080 -m -w 3 -x 100 -y 10\n"
        "-a -t 10.1.0.1:80 -r 10.2.0.2 -i -w 0 --tun-type gue --tun-port 6080 --tun-csum\n"
        "-A -u 10.1.0.2:53 -s sh -b sh-fallback,sh-port -o\n"
        "-a -u 10.1.0.2:53 -r 10.2.0.3 -g\n"
        "-A -f 7 -s rr\n"
        "-a -f 7 -r 10.2.0.4:0 -g -w 2\n"
        "-A -t [2001:db8::80]:443 -s lc -p 60 -M 64\n"
        "-a -t [2001:db8::80]:443 -r [2001:db8::2]:443 -m\n"
    )
    _restore(a, text)
    with IPVS(b.name) as ipvs, ipvs.batch() as batch:
        batch.add_service(Service(K1, "wrr", ServiceFlag.PERSISTENT, 600, 0xFFFFFF00))
        batch.add_server(K1, Server(S[0].address, 8080, Forward.MASQ, 3, 100, 10))
        batch.add_server(
            K1,
            Server(
                S[1].address, 80, Forward.TUNNEL, 0, 0, 0, TunnelType.GUE, 6080, TunnelFlag.CSUM
            ),
        )
        flags = ServiceFlag.SCHED1 | ServiceFlag.SCHED2 | ServiceFlag.ONEPACKET
        batch.add_service(Service(K2, "sh", flags))
        batch.add_server(K2, Server(S[2].address, 53, Forward.ROUTE, 1))
        batch.add_service(Service(KF, "rr"))
        batch.add_server(KF, Server(S[3].address, 0, Forward.ROUTE, 2))
        batch.add_service(Service(K6, "lc", ServiceFlag.PERSISTENT, 60, 64))
        batch.add_server(K6, Server(ipaddress.ip_address("2001:db8::2"), 443, Forward.MASQ))
    assert batch.result is not None and batch.result.ok
    assert _save(b) == _save(a)
    assert a.ipvsadm_out("-Ln", "--thresholds") == b.ipvsadm_out("-Ln", "--thresholds")


# Failures placed at a batch's first and last command and at chunk edges:
# with chunk=7 the command at 6 is a chunk's ACKed barrier, 7 opens the next.
@pytest.mark.parametrize("chunk", [0, 7, 1])
def test_errors_reported_at_their_index_while_the_rest_applies(
    netns_pair: tuple[Netns, Netns], chunk: int
) -> None:
    a, b = netns_pair
    cmds: list[tuple[Command, str]] = [
        (Command.add_server(K1, S[0]), "-a -t 10.1.0.1:80 -r 10.2.0.1:80 -m -w 1"),  # 0: ESRCH
        (Command.add_service(Service(K1, "rr")), "-A -t 10.1.0.1:80 -s rr"),
    ]
    for i in range(1, 4):
        cmds.append(
            (Command.add_server(K1, S[i]), f"-a -t 10.1.0.1:80 -r 10.2.0.{i + 1}:80 -m -w {i + 1}")
        )
    cmds.append((Command.add_service(Service(K2, "wlc")), "-A -u 10.1.0.2:53 -s wlc"))
    cmds.append((Command.add_service(Service(K1, "wlc")), "-A -t 10.1.0.1:80 -s wlc"))  # 6: EEXIST
    cmds.append(
        (Command.add_server(K1, S[1]), "-a -t 10.1.0.1:80 -r 10.2.0.2:80 -m -w 2")
    )  # 7: EEXIST
    cmds.append(
        (Command.edit_service(Service(K2, "nosuchsched")), "-E -u 10.1.0.2:53 -s nosuchsched")
    )  # 8
    for i in range(4):
        server = Server(S[i].address, 53, Forward.MASQ, i + 1)
        cmds.append(
            (
                Command.add_server(K2, server),
                f"-a -u 10.1.0.2:53 -r 10.2.0.{i + 1}:53 -m -w {i + 1}",
            )
        )
    cmds.append((Command.delete_service(K6), "-D -t [2001:db8::80]:443"))  # 13: ESRCH
    cmds.append((Command.delete_server(K1, S[4]), "-d -t 10.1.0.1:80 -r 10.2.0.5:80"))  # 14: ENOENT
    _restore(a, "".join(line + "\n" for _, line in cmds))
    with IPVS(b.name) as ipvs:
        batch = ipvs.batch(chunk=chunk)
        batch.extend(c for c, _ in cmds)
        result = batch.apply()
    want = {
        0: (Op.ADD_DEST, errno.ESRCH, "Service not defined"),
        6: (Op.ADD_SERVICE, errno.EEXIST, "Service already exists"),
        7: (Op.ADD_DEST, errno.EEXIST, "Destination already exists"),
        8: (Op.UPDATE_SERVICE, errno.ENOENT, "Scheduler or persistence engine not found"),
        13: (Op.DEL_SERVICE, errno.ESRCH, "No such service"),
        14: (Op.DEL_DEST, errno.ENOENT, "No such destination"),
    }
    got = {r.index: (r.op, r.errno, r.message) for r in result.failures}
    assert got == want
    assert all(r.outcome is Outcome.APPLIED for r in result if r.index not in want)
    assert [r.outcome for r in result.failures] == [Outcome.FAILED] * len(want)
    assert _save(b) == _save(a)


def _prepare(ns: Netns) -> str:
    _restore(
        ns,
        "-A -t 10.1.0.1:80 -s rr\n"
        "-a -t 10.1.0.1:80 -r 10.2.0.1:80 -m -w 1\n"
        "-a -t 10.1.0.1:80 -r 10.2.0.2:80 -m -w 2\n"
        "-A -u 10.1.0.2:53 -s wlc -p 300\n"
        "-a -u 10.1.0.2:53 -r 10.2.0.3:53 -g -w 5\n"
        "-A -f 7 -s sh -b sh-port\n"
        "-a -f 7 -r 10.2.0.4:0 -g -w 1\n"
        "--set 100 20 30\n",
    )
    return _save(ns) + ns.ipvsadm_out("-Ln", "--timeout")


def _changes() -> list[Command]:
    """Touches everything a rollback has to undo: edits, deletes, adds."""
    k3 = ServiceKey.tcp("10.1.0.3", 8080)
    return [
        Command.edit_service(Service(K1, "wlc")),
        Command.edit_server(K1, Server(S[0].address, 80, Forward.MASQ, 50)),
        Command.delete_server(K1, S[1]),
        Command.add_server(K1, S[2]),
        Command.delete_service(K2),
        Command.add_service(Service(k3, "lc")),
        Command.add_server(k3, S[3]),
        Command.set_timeouts(Timeouts(900, 120, 300)),
        Command.delete_service(KF),
        Command.add_service(Service(KF, "rr")),
        Command.add_server(KF, Server(S[4].address, 0, Forward.ROUTE, 9)),
        Command.add_service(Service(K2, "rr")),
    ]


@pytest.mark.parametrize("chunk", [0, 4])
@pytest.mark.parametrize("where", [0, 5, 12])
def test_atomic_rolls_back_after_a_failure_anywhere(netns: Netns, where: int, chunk: int) -> None:
    before = _prepare(netns)
    cmds = _changes()
    cmds.insert(where, Command.add_server(ServiceKey.tcp("10.9.9.9", 1), S[0]))  # ESRCH
    with IPVS(netns.name) as ipvs:
        batch = ipvs.batch(atomic=True, chunk=chunk)
        batch.extend(cmds)
        result = batch.apply()
    assert result.rolled_back and not result.ok
    assert [(r.index, r.errno) for r in result.failures] == [(where, errno.ESRCH)]
    assert result[where].outcome is Outcome.FAILED
    assert _save(netns) + netns.ipvsadm_out("-Ln", "--timeout") == before


def test_atomic_success_keeps_changes_and_flush_rolls_back(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    _prepare(a)
    before = _prepare(b)
    with IPVS(a.name) as ipvs:
        ok = ipvs.apply_batch(_changes(), atomic=True)
        assert ok.ok and not ok.rolled_back
        after = _save(a)
        bad = ipvs.apply_batch(
            [Command.flush(), Command.add_service(Service(K6)), Command.add_service(Service(K6))],
            atomic=True,
        )
    assert bad.rolled_back and [(r.index, r.errno) for r in bad.failures] == [(2, errno.EEXIST)]
    assert [r.outcome for r in bad] == [Outcome.ROLLED_BACK, Outcome.ROLLED_BACK, Outcome.FAILED]
    assert _save(a) == after != before
    with IPVS(b.name) as ipvs:
        plain = ipvs.apply_batch(_changes())
    assert plain.ok and _save(b) == after


def test_stop_on_error_with_single_command_chunks_stops_exactly(netns: Netns) -> None:
    cmds = [
        Command.add_service(Service(K1)),
        Command.add_service(Service(K1)),
        Command.add_service(Service(K2)),
    ]
    with IPVS(netns.name) as ipvs:
        b = ipvs.batch(stop_on_error=True, chunk=1)
        b.extend(cmds)
        result = b.apply()
    assert [r.outcome for r in result] == [Outcome.APPLIED, Outcome.FAILED, Outcome.NOT_RUN]
    assert _save(netns) == "-A -t 10.1.0.1:80 -s wlc\n"


def test_with_block_applies_on_exit_and_raises_on_failure(netns: Netns) -> None:
    def twice(ipvs: IPVS) -> None:
        with ipvs.batch() as b:
            b.add_service(Service(K1))
            b.add_service(Service(K1))

    def interrupted(ipvs: IPVS) -> None:
        with ipvs.batch() as b:
            b.add_service(Service(K2))
            raise RuntimeError("nothing is sent")

    with IPVS(netns.name) as ipvs:
        with pytest.raises(BatchError) as info:
            twice(ipvs)
        assert info.value.errno == errno.EEXIST and info.value.result[1].op is Op.ADD_SERVICE
        with pytest.raises(RuntimeError):
            interrupted(ipvs)
        with pytest.raises(IPVSValueError):
            ipvs.batch().add_server(K1, Server(S[0].address, 70000))
        with pytest.raises(IPVSValueError):
            ipvs.batch().add_server(K1, Server(S[0].address, 80, weight=-1))
    assert _save(netns) == "-A -t 10.1.0.1:80 -s wlc\n"


def _lossy_batch() -> tuple[list[Command], str]:
    """3,000 commands, a third of them failing (EEXIST), so that their error
    replies overflow a small receive buffer."""
    table = rules(400, 4, seed=3)
    cmds = _commands(table)
    text = restore_text(table).splitlines()
    out, lines = [], []
    for i, (c, line) in enumerate(zip(cmds, text)):
        out.append(c)
        lines.append(line)
        if i % 2:
            out.append(c)  # the same again: EEXIST
            lines.append(line)
    return out, "\n".join(lines) + "\n"


def _normal_run(ns: Netns, cmds: list[Command]) -> BatchResult:
    with IPVS(ns.name) as ipvs:
        return ipvs.apply_batch(cmds)


def test_lost_replies_are_recovered_exactly(netns_pair: tuple[Netns, Netns], netns: Netns) -> None:
    a, b = netns_pair
    cmds, text = _lossy_batch()
    _restore(a, text)
    reference = _normal_run(netns, cmds)
    assert reference.overruns == 0 and len(reference.failures) == 1000
    with IPVS(b.name) as ipvs:
        batch = Batch(ipvs, chunk=2000, _force_rcvbuf=4096)
        batch.extend(cmds)
        result = batch.apply()
    assert result.overruns >= 1 and result.replays >= 1  # ENOBUFS really happened
    assert result.states == reference.states and result.errnos == reference.errnos
    assert _save(b) == _save(a)


def test_lost_replies_without_snapshot_are_unknown_never_resent(
    netns_pair: tuple[Netns, Netns], netns: Netns
) -> None:
    a, b = netns_pair
    cmds, text = _lossy_batch()
    _restore(a, text)
    reference = _normal_run(netns, cmds)
    with IPVS(b.name) as ipvs:
        batch = Batch(ipvs, chunk=2000, _force_rcvbuf=4096, _no_snapshot=True)
        batch.extend(cmds)
        result = batch.apply()
    unknown = [r for r in result if r.outcome is Outcome.UNKNOWN]
    assert result.overruns >= 1 and unknown and result.replays == 0
    assert all("unknown" in r.message for r in unknown)
    for got, want in zip(result, reference):
        if got.outcome is not Outcome.UNKNOWN:
            assert (got.outcome, got.errno) == (want.outcome, want.errno)
    # Each command ran exactly once: the table is what ipvsadm -R makes.
    assert _save(b) == _save(a)


def test_protocol_numbers_and_fwmark_keys_roll_back(netns: Netns) -> None:
    _restore(netns, "-A -f 9 -s rr\n-A --sctp-service 10.1.0.9:99 -s rr\n")
    before = _save(netns)
    odd = ServiceKey(KF.family, Protocol.UDP, None, 0, 9)  # the kernel ignores the protocol
    sctp = ServiceKey.sctp("10.1.0.9", 99)
    cmds = [
        Command.delete_service(odd),
        Command.edit_service(Service(sctp, "wlc")),
        Command.delete_service(K6),
    ]
    with IPVS(netns.name) as ipvs:
        result = ipvs.apply_batch(cmds, atomic=True)
    assert result.rolled_back
    assert _save(netns) == before


# --- pyipvs restore -----------------------------------------------------------


def _pyipvs(ns: Netns, *args: str, text: str) -> tuple[int, str, str]:
    from pyipvs.cli.pyipvs import main

    out, err = io.StringIO(), io.StringIO()
    rc = main(["pyipvs", "--netns", ns.name, "restore", *args], io.StringIO(text), out, err)
    return rc, out.getvalue(), err.getvalue()


def test_pyipvs_restore_matches_ipvsadm_and_names_failing_lines(
    netns_pair: tuple[Netns, Netns],
) -> None:
    a, b = netns_pair
    lines = restore_text(rules(40, 3, seed=5)).splitlines()
    lines.insert(0, "-a -t 10.1.0.1:80 -r 10.2.0.1")  # ESRCH: no such service yet
    lines.insert(7, lines[6])  # EEXIST
    text = "\n".join(lines) + "\n"
    _restore(a, text)
    rc, out, err = _pyipvs(b, "--report", text=text)
    assert rc == 1
    assert err.splitlines() == [
        f"pyipvs restore: line 1: {lines[0]}: Service not defined",
        f"pyipvs restore: line 8: {lines[7]}: "
        + ("Destination already exists" if lines[7].startswith("-a") else "Service already exists"),
    ]
    assert f"{len(lines)} commands from {len(lines)} lines" in out
    assert _save(b) == _save(a)


def test_pyipvs_restore_checks_every_line_before_sending_any(netns: Netns) -> None:
    text = "-A -t 10.1.0.1:80 -s rr\n-A -t 10.1.0.2:0\n-a -t 10.1.0.1:80 -r 10.2.0.1 -w x\n"
    rc, _, err = _pyipvs(netns, text=text)
    assert rc == 2
    assert "line 2: -A -t 10.1.0.2:0: Zero port specified for non-persistent service" in err
    assert "line 3: -a -t 10.1.0.1:80 -r 10.2.0.1 -w x: illegal weight specified" in err
    assert _save(netns) == ""


def test_pyipvs_restore_atomic_leaves_the_table_as_it_was(netns: Netns) -> None:
    before = _prepare(netns)
    text = "-E -t 10.1.0.1:80 -s wlc\n-D -u 10.1.0.2:53\n-A -t 10.1.0.9:1\n-A -t 10.1.0.9:1\n"
    rc, _, err = _pyipvs(netns, "--atomic", text=text)
    assert rc == 1
    assert "line 4: -A -t 10.1.0.9:1: Service already exists" in err
    assert "rolled back" in err
    assert _save(netns) + netns.ipvsadm_out("-Ln", "--timeout") == before
