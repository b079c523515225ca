"""Tables as settings records (bridge layer: csrc/records.c).

Records are fixed-size bytes: a service's identity then its settings, a
real server's identity (its service's included) then its settings. They
come back as `(identity, settings)` pairs made by `struct.iter_unpack`, one
tuple per entry at C speed, so that pyipvs.reconcile.records can build
dicts of a whole table and compare two with set operations without a line
of Python per entry. `record_service`, `record_key` and `record_server` make model objects of the
few that differ, with the decoders listings use.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from pyipvs._native._core import _HAS_PE_NAME, check
from pyipvs._native.convert import _Cache, _server_conf, _service_conf
from pyipvs._native.handle import Handle
from pyipvs._native.snapshot import _raw_table
from pyipvs._native.thin_records import DEST_REC, SVC_ID, SVC_REC, pair_structs
from pyipvs._pyipvs_cffi import ffi, lib
from pyipvs.errors import Op
from pyipvs.model import Server, Service, ServiceKey

#: A server record's identity starts with this many bytes of its service's.
RECORD_SVC_ID = SVC_ID
#: The settable service flags the core keeps; model.SETTABLE_SERVICE_FLAGS.
SETTABLE_SVC_FLAGS = int(lib.PYIPVS_SETTABLE_SVC_FLAGS)

# Whole records as the decoders' fields; pyipvs.h keeps the layouts free of
# implicit padding, and test_reconcile_records checks these against cffi.
_SVC = struct.Struct("=HH16sHxxI16s20sIII")
_ID = struct.Struct("=HH16sHxxI")
_DEST = struct.Struct(f"={SVC_ID}xHH16sIiIIHHBxxx")
if (_SVC.size, _ID.size, _DEST.size) != (SVC_REC, SVC_ID, DEST_REC):
    raise RuntimeError("reconcile record layouts do not match pyipvs.h")
_NO_SETTINGS = (b"", b"", 0, 0, 0)  # scheduler, pe, flags, timeout, netmask

Pairs = Iterator[tuple[bytes, bytes]]


def _pairs(svcs: Any, ns: int, dests: Any, nd: int) -> tuple[Pairs, Pairs]:
    s = bytes(ffi.buffer(svcs, ns * SVC_REC)) if ns else b""
    d = bytes(ffi.buffer(dests, nd * DEST_REC)) if nd else b""
    svc, dest = pair_structs()
    return svc.iter_unpack(s), dest.iter_unpack(d)


def read_records(h: Handle, retries: int) -> tuple[Pairs, Pairs] | None:
    """The live table read consistently (as read_table) as record pairs of
    services and servers, in the kernel's order; None if it kept changing."""
    t = _raw_table(h, retries)
    if t is None:
        return None
    try:
        ns, nd = int(t.nservices), int(t.ndests)
        svcs = ffi.new("struct pyipvs_svc_rec[]", max(ns, 1))
        dests = ffi.new("struct pyipvs_dest_rec[]", max(nd, 1))
        lib.pyipvs_table_records(t, svcs, dests)
        return _pairs(svcs, ns, dests, nd)
    finally:
        ffi.release(t)


def restore_records(text: bytes) -> tuple[Pairs, Pairs] | int:
    """The table restore text builds, as record pairs in its order; or the
    1-based line from which the full parser must take over (see
    pyipvs_restore_records)."""
    svcs = ffi.new("struct pyipvs_svc_rec **")
    dests = ffi.new("struct pyipvs_dest_rec **")
    ns, nd, bad = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("size_t *")
    rc = lib.pyipvs_restore_records(text, len(text), svcs, ns, dests, nd, bad)
    check(rc, None)
    if rc == 1:
        return int(bad[0])
    try:
        return _pairs(svcs[0], ns[0], dests[0], nd[0])
    finally:
        lib.pyipvs_free(svcs[0])
        lib.pyipvs_free(dests[0])


def record_service(ident: bytes, settings: bytes, cache: _Cache) -> Service:
    af, proto, addr, port, fwmark, sched, pe, flags, timeout, netmask = _SVC.unpack(
        ident + settings
    )
    conf = (af, proto, addr, port, fwmark, sched, pe, flags, timeout, netmask, _HAS_PE_NAME)
    return _service_conf(conf, cache, Op.GET_SERVICES)


def record_key(ident: bytes, cache: _Cache) -> ServiceKey:
    key: ServiceKey | None = cache.get(("key", ident))
    if key is None:
        conf = (*_ID.unpack(ident), *_NO_SETTINGS, _HAS_PE_NAME)
        key = cache["key", ident] = _service_conf(conf, cache, Op.GET_SERVICES).key
    return key


def record_server(ident: bytes, settings: bytes, cache: _Cache) -> Server:
    af, port, addr, fwd, weight, u_th, l_th, tun_port, tun_flags, tun_type = _DEST.unpack(
        ident + settings
    )
    conf = (af, addr, port, fwd, weight, u_th, l_th, tun_type, tun_port, tun_flags)
    return _server_conf(conf, cache, Op.GET_DESTS)
