"""Batch logic that needs no kernel: encoding-time refusals, result
bookkeeping, the rollback diff, and `pyipvs restore`'s line checking.
(Everything that sends is tested against a real kernel in tests/kernel/test_batch.py.)
"""

from __future__ import annotations

import errno
import io
from ipaddress import ip_address

import pytest

from pyipvs import _native
from pyipvs.batch import Batch, BatchResult, Outcome
from pyipvs.batch_rollback import TableState, _fix, differences
from pyipvs.cli.pyipvs_restore import parse_into
from pyipvs.errors import IPVSValueError, Op
from pyipvs.model import Forward, Server, Service, ServiceKey, Timeouts

K = ServiceKey.tcp("10.0.0.1", 80)
S = Server(ip_address("10.0.0.2"), 80, Forward.MASQ)


def _batch() -> Batch:
    return Batch(None)  # type: ignore[arg-type]  # never applied here


@pytest.mark.parametrize(
    "server",
    [
        Server(S.address, 70000),
        Server(S.address, 80, weight=-1),
        Server(S.address, 80, u_threshold=2**31),
        Server(ip_address("2001:db8::2"), 80),  # another family, not tunnelled
    ],
)
def test_refused_at_add_time_like_ipvs_add_server(server: Server) -> None:
    b = _batch()
    with pytest.raises(IPVSValueError):
        b.add_server(K, server)
    assert len(b) == 0


def test_tunnelled_and_deleted_servers_may_cross_families() -> None:
    b = _batch()
    other = ip_address("2001:db8::2")
    b.add_server(K, Server(other, 80, Forward.TUNNEL))
    b.delete_server(K, Server(other, 80))
    assert len(b) == 2


def test_results_are_counted_and_found_without_scanning_in_python() -> None:
    codes = bytes(
        [_native.BATCH_OK, _native.BATCH_FAILED, _native.BATCH_UNKNOWN, _native.BATCH_PENDING]
    )
    cmds = bytes(
        [_native.CMD_NEW_SERVICE, _native.CMD_NEW_SERVICE, _native.CMD_NEW_DEST, _native.CMD_ZERO]
    )
    r = BatchResult(codes, (0, errno.EEXIST, 0, 0), cmds, frozenset({3}))
    assert not r.ok
    assert [(x.index, x.op, x.outcome) for x in r.failures] == [
        (1, Op.ADD_SERVICE, Outcome.FAILED),
        (2, Op.ADD_DEST, Outcome.UNKNOWN),
    ]
    assert r[1].message == "Service already exists" and "unknown" in r[2].message
    assert r[3].op is Op.ZERO and r[3].outcome is Outcome.NOT_RUN
    assert r.tally() == dict.fromkeys(
        (Outcome.APPLIED, Outcome.FAILED, Outcome.UNKNOWN, Outcome.NOT_RUN), 1
    )
    rolled = BatchResult(codes[:1], (0,), cmds[:1], rolled_back=True)
    assert rolled[0].outcome is Outcome.ROLLED_BACK and not rolled.ok


def test_rollback_diff_deletes_new_recreates_missing_and_edits_changed() -> None:
    k2 = ServiceKey.udp("10.0.0.3", 53)
    want = TableState(
        {K: Service(K, "rr"), k2: Service(k2)}, {K: {(S.address, 80): S}, k2: {}}, Timeouts(1, 2, 3)
    )
    extra = Server(ip_address("10.0.0.9"), 80)
    k3 = ServiceKey.tcp("10.0.0.4", 1)
    have = TableState(
        {K: Service(K, "wlc"), k3: Service(k3)},
        {K: {(extra.address, 80): extra}, k3: {}},
        Timeouts(),
    )
    assert len(differences(want, have)) == 6
    nb = _fix(want, have)
    _, _, cmds = nb.results(0, len(nb))
    assert sorted(cmds) == sorted(
        [
            _native.CMD_DEL_SERVICE,  # k3
            _native.CMD_SET_SERVICE,  # K back to rr
            _native.CMD_DEL_DEST,  # extra
            _native.CMD_NEW_DEST,  # S
            _native.CMD_NEW_SERVICE,  # k2
            _native.CMD_SET_CONFIG,
        ]
    )
    assert differences(want, want) == []


def test_restore_lines_use_pyipvsadms_grammar_and_report_every_bad_line() -> None:
    text = (
        "-A -t 10.0.0.1:80 -s rr\n"
        "# a comment, as ipvsadm-restore strips them\n"
        "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -m\n"
        "\n"
        "-A -t 10.0.0.1:0\n"
        "-L -n\n"
        "--bogus\n"
        "-a -t 10.0.0.1:80 -r 10.0.0.2 -w\n"
    )
    b = _batch()
    where, errors = parse_into(b, io.StringIO(text))
    assert [where[i] for i in range(len(where))] == [
        (1, "-A -t 10.0.0.1:80 -s rr"),
        (3, "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -m"),
    ]
    assert [(e.number, e.message) for e in errors] == [
        (5, "Zero port specified for non-persistent service"),
        (6, "-L is not allowed in a restore file"),
        (7, "not an ipvsadm command: --bogus"),
        (8, "-w: missing argument"),
    ]


def test_restore_maps_every_programming_command() -> None:
    b = _batch()
    text = (
        "-A -f 5 -s rr\n-E -f 5 -s wlc\n-a -f 5 -r 10.0.0.1\n-e -f 5 -r 10.0.0.1 -w 3\n"
        "-d -f 5 -r 10.0.0.1\n-D -f 5\n-Z\n-Z -f 5\n-C\n--set 1 2 3\n"
    )
    where, errors = parse_into(b, io.StringIO(text))
    assert not errors and len(where) == len(b) == 10
    _, _, cmds = b._nb.results(0, len(b)) if b._nb is not None else (b"", [], b"")
    n = _native
    assert list(cmds) == [
        n.CMD_NEW_SERVICE, n.CMD_SET_SERVICE, n.CMD_NEW_DEST, n.CMD_SET_DEST, n.CMD_DEL_DEST,
        n.CMD_DEL_SERVICE, n.CMD_ZERO, n.CMD_ZERO, n.CMD_FLUSH, n.CMD_SET_CONFIG,
    ]  # fmt: skip
