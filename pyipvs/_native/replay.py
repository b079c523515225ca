"""Recorded reply streams through the C core's receive path (middle layer;
for tests and the fuzz corpus replay, not used by the library itself).

`replay_dump` feeds datagrams recorded from a dump (or produced by a fuzzer)
through the same reply walker and decoders a live dump uses
(pyipvs_replay_dump in csrc/replay.c), so the corpus of fuzz/corpus/nl_dump
is exercised from Python exactly as the live path would see it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

from pyipvs._native._core import check
from pyipvs._native.convert import _DEST_ROW, _SVC_ROW, server_rows, service_rows
from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.model import Family, ServerStatus, ServiceStatus

REPLAY_SERVICES: int = lib.PYIPVS_REPLAY_SERVICES
REPLAY_DESTS: int = lib.PYIPVS_REPLAY_DESTS


def frame(datagrams: Iterable[bytes]) -> bytes:
    """Datagrams as replay records (a host-order length before each)."""
    return b"".join(struct.pack("=I", len(d)) + d for d in datagrams)


def _replay(what: int, records: bytes, family_id: int, port: int, seq: int, af: int) -> Any:
    out, n = ffi.new("void **"), ffi.new("size_t *")
    check(lib.pyipvs_replay_dump(what, records, len(records), family_id, port, seq, af, out, n),
          None)  # fmt: skip
    return out[0], n[0]


def replay_services(records: bytes, *, family_id: int, port: int, seq: int) -> list[ServiceStatus]:
    """The services a recorded GET_SERVICE dump decodes to (IPVSError as live)."""
    p, n = _replay(REPLAY_SERVICES, records, family_id, port, seq, int(Family.INET))
    if p == ffi.NULL:
        return []
    try:
        return service_rows(ffi.buffer(p, n * _SVC_ROW.size)[:], {}, None)
    finally:
        lib.pyipvs_free(p)


def replay_servers(
    records: bytes, service_family: Family, *, family_id: int, port: int, seq: int
) -> list[ServerStatus]:
    """The servers a recorded GET_DEST dump decodes to (IPVSError as live)."""
    p, n = _replay(REPLAY_DESTS, records, family_id, port, seq, int(service_family))
    if p == ffi.NULL:
        return []
    try:
        return server_rows(ffi.buffer(p, n * _DEST_ROW.size)[:], {}, None)
    finally:
        lib.pyipvs_free(p)
