"""Records back to commands (csrc/records.c pyipvs_batch_record), on the
host: the messages the `pyipvs` console script's thin start sends for a
plan's changes are byte for byte the ones the library's batch sends for the
model objects the records stand for (pyipvs._native.Batch over
convert.py's encoders). Services and servers of every kind: IPv4, IPv6,
fwmark, persistence with netmask and engine, every forwarding method,
thresholds and tunnel settings."""

from __future__ import annotations

import random
import struct

import pytest

from pyipvs import _native
from pyipvs._native import thin_records
from pyipvs._native.records import _DEST, _SVC
from pyipvs._native.thin_records import DEST_ID, SVC_ID
from pyipvs._pyipvs_cffi import lib

AF_INET, AF_INET6 = 2, 10
SERVICE_CMDS = (lib.PYIPVS_CMD_NEW_SERVICE, lib.PYIPVS_CMD_SET_SERVICE, lib.PYIPVS_CMD_DEL_SERVICE)
SERVER_CMDS = (lib.PYIPVS_CMD_NEW_DEST, lib.PYIPVS_CMD_SET_DEST, lib.PYIPVS_CMD_DEL_DEST)


def _addr(rnd: random.Random, af: int) -> bytes:
    n = 4 if af == AF_INET else 16
    return rnd.randbytes(n) + bytes(16 - n)


def _service_rec(rnd: random.Random) -> bytes:
    af = rnd.choice((AF_INET, AF_INET6))
    sched = rnd.choice((b"rr", b"wlc", b"sh", b"mh", b"none", b""))
    pe = rnd.choice((b"", b"sip"))
    flags = rnd.choice((0, 1, 1 | 0x8, 0x10 | 0x20))  # persistent, one-packet, sh flags
    netmask = rnd.choice((0xFFFFFFFF, 0xFFFFFF00)) if af == AF_INET else rnd.choice((128, 64))
    if rnd.random() < 0.25:
        ident = (af, 6, bytes(16), 0, rnd.randrange(1, 1 << 32))  # fwmark
    else:
        ident = (af, rnd.choice((6, 17, 132)), _addr(rnd, af), rnd.randrange(65536), 0)
    return _SVC.pack(*ident, sched, pe, flags, rnd.randrange(1 << 32), netmask)


def _server_rec(rnd: random.Random, service: bytes) -> bytes:
    # What the engine takes: another family than the service's only when
    # tunnelled (2), weights and thresholds up to INT_MAX.
    fwd = rnd.choice((0, 1, 2, 3))
    af = rnd.choice((AF_INET, AF_INET6)) if fwd == 2 else struct.unpack_from("=H", service)[0]
    # _DEST leaves the service's identity as padding: put it in front.
    return service[:SVC_ID] + _DEST.pack(
        af, rnd.randrange(65536), _addr(rnd, af),
        fwd, rnd.randrange(1 << 31), rnd.randrange(1 << 31), rnd.randrange(1 << 31),
        rnd.randrange(65536), rnd.randrange(8), rnd.choice((0, 1, 2)),
    )[SVC_ID:]  # fmt: skip


def _messages_by_record(changes: list[tuple[int, bytes]]) -> list[bytes]:
    nb = _native.Batch()
    for cmd, rec in changes:
        assert lib.pyipvs_batch_record(nb._b, cmd, rec, len(rec)) == 0
    return [nb.message(i) for i in range(len(changes))]


def _messages_by_model(changes: list[tuple[int, bytes]]) -> list[bytes]:
    nb, cache = _native.Batch(), {}
    for cmd, rec in changes:
        if cmd in SERVICE_CMDS:
            ident, settings = rec[:SVC_ID], rec[SVC_ID:]
            what = (
                _native.record_key(ident, cache)
                if cmd == lib.PYIPVS_CMD_DEL_SERVICE
                else _native.record_service(ident, settings, cache)
            )
            nb.service(cmd, what)
        else:
            key = _native.record_key(rec[:SVC_ID], cache)
            server = _native.record_server(rec[:DEST_ID], rec[DEST_ID:], cache)
            assert nb.dest(cmd, key, server) > 0
    return [nb.message(i) for i in range(len(changes))]


@pytest.mark.parametrize("seed", range(20))
def test_records_encode_as_the_model_objects_they_stand_for(seed: int) -> None:
    rnd = random.Random(seed)
    changes: list[tuple[int, bytes]] = []
    for _ in range(30):
        svc = _service_rec(rnd)
        changes.append((rnd.choice(SERVICE_CMDS), svc))
        changes += [(rnd.choice(SERVER_CMDS), _server_rec(rnd, svc)) for _ in range(3)]
    assert _messages_by_record(changes) == _messages_by_model(changes)


def test_a_save_files_records_encode_as_its_model_objects() -> None:
    text = (
        b"-A -t 10.0.0.1:80 -s wlc -p 300 -M 255.255.255.0\n"
        b"-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 3\n"
        b"-a -t 10.0.0.1:80 -r [2001:db8::1]:80 -i -w 0\n"
        b"-A -f 7 -s sh -o\n"
        b"-a -f 7 -r 10.0.2.2:0 -i -w 1 -x 10 -y 2 --tun-type gue --tun-port 6080\n"
        b"-A -u [2001:db8::5]:53 -s rr --pe sip -p\n"
    )
    table = thin_records.text_records(text)
    assert table is not None and table.sizes() == (3, 3)
    services, servers = table.pairs()
    changes = [(c, k + v) for k, v in services for c in SERVICE_CMDS]
    changes += [(c, k + v) for k, v in servers for c in SERVER_CMDS]
    assert _messages_by_record(changes) == _messages_by_model(changes)


def test_anything_else_is_refused() -> None:
    svc = _service_rec(random.Random(1))
    nb = _native.Batch()
    assert lib.pyipvs_batch_record(nb._b, lib.PYIPVS_CMD_NEW_DEST, svc, len(svc)) < 0
    assert lib.pyipvs_batch_record(nb._b, lib.PYIPVS_CMD_FLUSH, svc, len(svc)) < 0
    assert lib.pyipvs_batch_record(nb._b, lib.PYIPVS_CMD_NEW_SERVICE, svc[:-1], len(svc) - 1) < 0
    bad = bytearray(_server_rec(random.Random(2), svc))
    struct.pack_into("=H", bad, SVC_ID, 0)  # no family
    assert lib.pyipvs_batch_record(nb._b, lib.PYIPVS_CMD_NEW_DEST, bytes(bad), len(bad)) < 0
    assert len(nb) == 0
