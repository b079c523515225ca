"""Streamed batches and add_servers against a real kernel: the same tables,
results and rollbacks as a batch sent at apply(), with the batch cut into
many small parts (`_part`) so that every test crosses part boundaries.

Tables are compared through the real ipvsadm (`-Sn`, and `-Ln --timeout`
where timeouts are touched).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import sys

import pytest
from conftest import Netns

from pyipvs.batch import BatchError, Command, Outcome
from pyipvs.errors import IPVSTimeoutError, IPVSValueError, Op
from pyipvs.ipvs import IPVS
from pyipvs.model import Forward, Server, Service, ServiceKey, Timeouts

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from benchmarks.gen_rules import restore_text, rules

PART = 50  # commands per part in these tests


def _restore(ns: Netns, text: str) -> None:
    r = ns.ipvsadm("-R", input=text)
    assert r.returncode in (0, 255), r.stderr


def _save(ns: Netns) -> str:
    return ns.ipvsadm_out("-Sn")


def _state(ns: Netns) -> str:
    return _save(ns) + ns.ipvsadm_out("-Ln", "--timeout")


def _server(i: int, weight: int = 1) -> Server:
    return Server(ipaddress.ip_address(f"10.3.{i // 250}.{i % 250 + 1}"), 80, Forward.MASQ, weight)


def test_streamed_table_identical_to_ipvsadm_restore(netns_pair: tuple[Netns, Netns]) -> None:
    """add_servers, add_server and add_service mixed, over many parts."""
    a, b = netns_pair
    table = rules(200, 6, seed=11)
    _restore(a, restore_text(table))
    with IPVS(b.name) as ipvs:
        with ipvs.batch(stream=True, _part=PART) as batch:
            for i, r in enumerate(table):
                batch.add_service(r.service)
                if i % 2:
                    batch.add_servers(r.service.key, r.servers)
                else:
                    for s in r.servers:
                        batch.add_server(r.service.key, s)
        result = batch.result
    assert result is not None and result.ok and len(result) == 200 * 7
    assert result.chunks >= 200 * 7 // PART  # sent as parts, not at once
    assert _save(b) == _save(a)


def _mixed() -> list[Command]:
    """Failures at both ends and in the middle of many parts; a zero of
    everything among them."""
    k = [ServiceKey.tcp(f"10.1.1.{i}", 80) for i in range(1, 9)]
    cmds = [Command.add_server(k[0], _server(0))]  # 0: ESRCH
    for i, key in enumerate(k):
        cmds.append(Command.add_service(Service(key, "rr")))
        cmds.extend(
            Command.add_server(key, _server(j, j % 5 + 1)) for j in range(i * 20, i * 20 + 20)
        )
    cmds.insert(60, Command.add_service(Service(k[1], "wlc")))  # EEXIST
    cmds.insert(99, Command.zero())
    cmds.insert(100, Command.add_server(k[1], _server(25)))  # EEXIST, the first of a part
    cmds.append(Command.delete_service(ServiceKey.udp("10.1.1.200", 5)))  # ESRCH, the last
    return cmds


def test_failures_at_their_index_as_an_unstreamed_batch(netns_pair: tuple[Netns, Netns]) -> None:
    a, b = netns_pair
    cmds = _mixed()
    with IPVS(a.name) as ipvs:
        plain = ipvs.apply_batch(cmds)
    with IPVS(b.name) as ipvs:
        batch = ipvs.batch(stream=True, _part=PART)
        batch.extend(cmds)
        assert len(batch) == len(cmds)
        streamed = batch.apply()
    want = [(0, errno.ESRCH), (60, errno.EEXIST), (100, errno.EEXIST), (len(cmds) - 1, errno.ESRCH)]
    assert [(r.index, r.errno) for r in streamed.failures] == want
    assert [(r.index, r.errno, r.message) for r in streamed.failures] == [
        (r.index, r.errno, r.message) for r in plain.failures
    ]
    assert streamed.states == plain.states and streamed.op(99) is Op.ZERO
    assert streamed[100].op is Op.ADD_DEST and streamed[100].message == "Destination already exists"
    assert _save(b) == _save(a)


def test_stop_on_error_sends_no_later_part(netns: Netns) -> None:
    cmds = _mixed()[1:]  # the first failure is now at 59
    with IPVS(netns.name) as ipvs:
        batch = ipvs.batch(stream=True, stop_on_error=True, _part=PART)
        batch.extend(cmds)
        result = batch.apply()
    outcomes = [r.outcome for r in result]
    assert outcomes[59] is Outcome.FAILED and result[59].errno == errno.EEXIST
    # The part holding the failure ran to its end (as the engine's chunk
    # does); no part after it was sent.
    assert outcomes[:59] == [Outcome.APPLIED] * 59
    assert set(outcomes[100:]) == {Outcome.NOT_RUN}
    saved = _save(netns)  # 10.1.1.5 is added in the second part, 10.1.1.6 in the third
    assert "-A -t 10.1.1.5:80" in saved and "10.1.1.6:80" not in saved


@pytest.mark.parametrize("where", [0, 75, 169])
def test_atomic_stream_rolls_back_after_a_failure_anywhere(netns: Netns, where: int) -> None:
    _restore(netns, "-A -t 10.1.1.1:80 -s wlc\n-a -t 10.1.1.1:80 -r 10.3.0.1:80 -m -w 3\n")
    before = _state(netns)
    cmds = [Command.set_timeouts(Timeouts(900, 120, 300))]
    for i in range(2, 10):
        key = ServiceKey.tcp(f"10.1.1.{i}", 80)
        cmds.append(Command.add_service(Service(key, "rr")))
        cmds.extend(Command.add_server(key, _server(j)) for j in range(20))
    cmds.insert(where, Command.add_service(Service(ServiceKey.tcp("10.1.1.1", 80), "rr")))
    with IPVS(netns.name) as ipvs:
        batch = ipvs.batch(stream=True, atomic=True, _part=PART)
        batch.extend(cmds)
        result = batch.apply()
    assert result.rolled_back and not result.ok
    assert [(r.index, r.errno) for r in result.failures] == [(where, errno.EEXIST)]
    assert _state(netns) == before


def test_a_raise_in_the_block_keeps_what_was_sent_unless_atomic(
    netns_pair: tuple[Netns, Netns],
) -> None:
    a, b = netns_pair

    def fill(ipvs: IPVS, atomic: bool) -> None:
        with ipvs.batch(stream=True, atomic=atomic, _part=PART) as batch:
            for i in range(1, 6):
                key = ServiceKey.tcp(f"10.1.1.{i}", 80)
                batch.add_service(Service(key, "rr"))
                batch.add_servers(key, [_server(j) for j in range(30)])
            raise RuntimeError("the caller gives up")

    _restore(b, "-A -u 10.1.2.1:53 -s sh\n")
    before = _save(b)
    with IPVS(a.name) as ipvs, pytest.raises(RuntimeError):
        fill(ipvs, False)
    kept = _save(a)
    # Each full part was sent before the raise (add_servers fills one past
    # PART at once: two parts of 62); the 31 commands held were not.
    assert kept.count("\n") == 124
    with IPVS(b.name) as ipvs, pytest.raises(RuntimeError):
        fill(ipvs, True)
    assert _save(b) == before


def test_add_servers_refuses_like_add_server(netns: Netns) -> None:
    key = ServiceKey.tcp("10.1.1.1", 80)
    bad = [_server(1), _server(2), Server(ipaddress.ip_address("10.3.0.9"), 80, weight=-1)]
    with IPVS(netns.name) as ipvs:
        batch = ipvs.batch(stream=True, _part=2)
        batch.add_service(Service(key, "rr"))
        with pytest.raises(IPVSValueError, match="weight must be an integer"):
            batch.add_servers(key, bad)
        assert len(batch) == 3  # the servers before the refused one, as a loop adds them
        with pytest.raises(IPVSValueError, match="mixed families"):
            batch.add_servers(key, [Server(ipaddress.ip_address("2001:db8::5"), 80)])
        result = batch.apply()
    assert result.ok and len(result) == 3
    assert _save(netns).count("-a -t 10.1.1.1:80") == 2


def test_with_block_raises_batch_error_after_streaming(netns: Netns) -> None:
    key = ServiceKey.tcp("10.1.1.1", 80)

    def twice(ipvs: IPVS) -> None:
        with ipvs.batch(stream=True, _part=3) as batch:
            batch.add_service(Service(key, "rr"))
            batch.add_servers(key, [_server(j) for j in range(10)])
            batch.add_service(Service(key, "rr"))

    with IPVS(netns.name) as ipvs, pytest.raises(BatchError) as info:
        twice(ipvs)
    assert info.value.errno == errno.EEXIST and info.value.result[11].op is Op.ADD_SERVICE
    assert _save(netns).count("\n") == 11


def test_stalled_kernel_stops_the_stream_with_a_timeout(netns: Netns) -> None:
    """The stream's worker has the watchdog every kernel call has: a stall
    of IPVS (tests/kernel/test_faults.py) gives IPVSTimeoutError at apply,
    with the part in flight UNKNOWN and the parts after it NOT_RUN."""
    from test_faults import IPVSMutexHolder, _call_with_deadline

    key = ServiceKey.tcp("10.1.1.1", 80)
    with IPVS(netns.name, timeout=1.0) as ipvs:
        ipvs.add_service(Service(key, "rr"))  # the holder needs one service

        def run() -> object:
            batch = ipvs.batch(stream=True, _part=5)
            for i in range(12):
                batch.add_server(key, _server(i))
            return batch.apply()

        with IPVSMutexHolder(netns.path):
            r, secs, alive = _call_with_deadline(run, 20)
    assert not alive, "the streamed batch hung"
    assert isinstance(r, IPVSTimeoutError) and secs < 8, (r, secs)
    result = r.result  # type: ignore[attr-defined]
    assert [x.outcome for x in result] == [Outcome.UNKNOWN] * 5 + [Outcome.NOT_RUN] * 7
