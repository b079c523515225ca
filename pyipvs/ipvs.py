"""The library client, `IPVS` (top layer: typed Python over `pyipvs._native`).

One `IPVS` object holds one netlink socket in one network namespace (and a
second that full-table reads use for small dumps), with the IPVS family
resolved once. Calls are serialised by a lock, so a handle may be
shared between threads. A call that times out raises `IPVSTimeoutError` and
leaves the socket possibly holding a late reply; the next call quietly opens
a fresh one.

Values are checked before anything is sent, but only for what cannot be put
on the wire at all (ranges of the fields, name lengths, address types). What
the kernel decides (an unknown scheduler, a lower threshold above the upper
one) is left to it, so callers see the kernel's own errno and ipvsadm's
message for it.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from pyipvs import _native
from pyipvs.errors import IPVSError, IPVSValueError, Op
from pyipvs.model import (
    INT_MAX,
    U32_MAX,
    Daemon,
    DaemonState,
    Family,
    Forward,
    Info,
    Server,
    ServerStatus,
    Service,
    ServiceKey,
    ServiceStatus,
    Timeouts,
)
from pyipvs.runner import Runner

if TYPE_CHECKING:  # annotations only: no runtime dependency on typing_extensions
    from typing_extensions import Self

    from pyipvs.batch import Batch, BatchResult, Command
    from pyipvs.format_head import ListFormat
    from pyipvs.reconcile import ApplyResult, Plan, Scope, Table
    from pyipvs.snapshot import Snapshot

T = TypeVar("T")

_SCHED_MAX = 15  # bytes, without the NUL (IP_VS_SCHEDNAME_MAXLEN - 1)
_PE_MAX = 16
_IFNAME_MAX = 15


def _int(name: str, value: object, lo: int, hi: int) -> None:
    if not isinstance(value, int) or not lo <= value <= hi:
        raise IPVSValueError(f"{name} must be an integer in {lo}..{hi}, not {value!r}")


def _name(name: str, value: object, limit: int) -> None:
    if not isinstance(value, str):
        raise IPVSValueError(f"{name} must be a string, not {value!r}")
    raw = value.encode("utf-8", "surrogateescape")
    if b"\0" in raw:
        raise IPVSValueError(f"{name} must not contain NUL characters: {value!r}")
    if len(raw) > limit:
        raise IPVSValueError(f"{name} {value!r} is longer than {limit} bytes")


def _family(value: object) -> Family:
    try:
        return Family(value)  # type: ignore[arg-type]
    except ValueError:
        raise IPVSValueError(f"unknown address family {value!r}") from None


def check_key(key: ServiceKey) -> None:
    """Refuse a service identity that cannot be encoded."""
    if not isinstance(key, ServiceKey):
        raise IPVSValueError(f"expected a ServiceKey, not {key!r}")
    family = _family(key.family)
    if key.is_fwmark:
        _int("fwmark", key.fwmark, 1, U32_MAX)
        return
    # The attribute is 16 bits wide and the kernel's netlink path stores any
    # value (6.1 accepted 300), but IP protocol numbers are 8 bits: a larger
    # one would make a service no packet can ever match.
    _int("protocol", key.protocol, 0, 0xFF)
    _int("port", key.port, 0, 0xFFFF)
    want = ipaddress.IPv6Address if family == Family.INET6 else ipaddress.IPv4Address
    if not isinstance(key.address, want):
        raise IPVSValueError(
            f"service address must be an {want.__name__} for family {family.name}, "
            f"not {key.address!r}"
        )


def check_service(service: Service) -> None:
    if not isinstance(service, Service):
        raise IPVSValueError(f"expected a Service, not {service!r}")
    check_key(service.key)
    _name("scheduler", service.scheduler, _SCHED_MAX)
    _name("persistence engine", service.pe_name, _PE_MAX)
    _int("flags", service.flags, 0, U32_MAX)
    _int("persistence timeout", service.timeout, 0, U32_MAX)
    if service.key.family == Family.INET6:
        _int("IPv6 netmask (prefix length)", service.netmask, 0, 128)
    else:
        _int("IPv4 netmask", service.netmask, 0, U32_MAX)


def check_server(key: ServiceKey, server: Server, *, same_family: bool = True) -> None:
    """Refuse a real server that cannot be encoded. `same_family`: a server of
    another family than its service's is only possible with tunnelling."""
    check_key(key)
    if not isinstance(server, Server):
        raise IPVSValueError(f"expected a Server, not {server!r}")
    if not isinstance(server.address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        raise IPVSValueError(f"server address must be an IP address, not {server.address!r}")
    _int("server port", server.port, 0, 0xFFFF)
    _int("forwarding method", server.forward, 0, U32_MAX)
    _int("weight", server.weight, 0, INT_MAX)
    _int("upper threshold", server.u_threshold, 0, INT_MAX)
    _int("lower threshold", server.l_threshold, 0, INT_MAX)
    _int("tunnel type", server.tun_type, 0, 0xFF)
    _int("tunnel port", server.tun_port, 0, 0xFFFF)
    _int("tunnel flags", server.tun_flags, 0, 0xFFFF)
    if same_family and server.family != key.family and server.forward != Forward.TUNNEL:
        raise IPVSValueError(
            f"server {server.address} is {server.family.name} but the service is "
            f"{Family(key.family).name}: mixed families need tunnelling"
        )


def check_daemon(d: Daemon) -> None:
    if not isinstance(d, Daemon):
        raise IPVSValueError(f"expected a Daemon, not {d!r}")
    _int("daemon state", d.state, 0, U32_MAX)
    _name("multicast interface", d.mcast_ifn, _IFNAME_MAX)
    _int("syncid", d.syncid, 0, U32_MAX)
    if d.sync_maxlen is not None:
        _int("sync maxlen", d.sync_maxlen, 0, 0xFFFF)
    if d.mcast_group is not None and not isinstance(
        d.mcast_group, (ipaddress.IPv4Address, ipaddress.IPv6Address)
    ):
        raise IPVSValueError(f"multicast group must be an IP address, not {d.mcast_group!r}")
    if d.mcast_port is not None:
        _int("multicast port", d.mcast_port, 0, 0xFFFF)
    if d.mcast_ttl is not None:
        _int("multicast TTL", d.mcast_ttl, 0, 0xFF)


def check_timeouts(t: Timeouts) -> None:
    if not isinstance(t, Timeouts):
        raise IPVSValueError(f"expected Timeouts, not {t!r}")
    _int("tcp timeout", t.tcp, 0, U32_MAX)
    _int("tcpfin timeout", t.tcp_fin, 0, U32_MAX)
    _int("udp timeout", t.udp, 0, U32_MAX)


def netns_path(netns: str | None) -> str | None:
    """A name means /run/netns/NAME (as `ip netns` uses); anything with a
    slash is a path (/proc/PID/ns/net, a bind mount)."""
    if netns is None:
        return None
    if not isinstance(netns, str) or netns in ("", ".", ".."):
        raise IPVSValueError(f"invalid network namespace {netns!r}")
    return netns if "/" in netns else f"/run/netns/{netns}"


class IPVS:
    """A connection to the kernel's IPVS table of one network namespace."""

    def __init__(
        self, netns: str | None = None, *, timeout: float = 5.0, stall_guard: bool = True
    ) -> None:
        """netns: a name under /run/netns or a path (None: this process's).
        timeout: how long any wait on the kernel may last. stall_guard: make
        calls on a worker thread so that a kernel stalled inside IPVS gives
        IPVSTimeoutError instead of a hang (pyipvs/runner.py); False makes
        them on the caller's thread, saving one thread hand-off per call
        (benchmarks/RESULTS.md), with waits bounded only where poll() reaches."""
        if not isinstance(timeout, (int, float)) or not 0 < timeout <= 86400:
            raise IPVSValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self._guarded = bool(stall_guard)
        self._netns = netns_path(netns)
        self._timeout_ms = max(1, round(timeout * 1000))
        self._lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        # Model objects decoded by one whole-table read and reused by the
        # next (pyipvs/_native/convert.py's _Cache; used by pyipvs.snapshot).
        self._memo: dict[Any, Any] = {}
        # Opened here, so that a missing namespace or IPVS fails at once.
        self._runner = self._new_runner()
        self._call(lambda h: None)

    def __repr__(self) -> str:
        where = self._netns or "current netns"
        return f"<IPVS {where}{' closed' if self._closed else ''}>"

    def _new_runner(self) -> Runner:
        r = Runner(self._netns, self._timeout_ms)
        # An IPVS dropped without close() must not leave its worker waiting.
        self._finalizer = weakref.finalize(self, r.close)
        return r

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, fn: Callable[[_native.Handle], T]) -> T:
        """fn(handle) on the worker thread (pyipvs/runner.py: a stalled kernel
        gives IPVSTimeoutError instead of a hang)."""
        with self._lock:
            if self._closed:
                raise IPVSValueError("operation on a closed IPVS handle")
            if self._pid != os.getpid():
                # A forked child must not share its parent's socket (each would
                # read the other's replies), and has no worker thread.
                self._finalizer.detach()
                self._runner.forget()
                self._pid = os.getpid()
                self._runner = self._new_runner()
            if not self._guarded:
                return fn(self._runner.handle())
            try:
                return self._runner.call(fn)
            finally:
                if self._runner.abandoned:  # it may still be in the kernel: leave it
                    self._finalizer.detach()
                    self._runner = self._new_runner()

    def _reopen(self) -> _native.Handle:
        """A fresh socket for the call in progress (on the worker thread)."""
        return self._runner.reopen()

    # --- reads ---

    def info(self) -> Info:
        return self._call(lambda h: h.info())

    def services(self) -> list[ServiceStatus]:
        """Every service of the namespace, in the kernel's order."""
        return self._call(lambda h: h.services())

    def service(self, key: ServiceKey) -> ServiceStatus:
        check_key(key)
        return self._call(lambda h: h.service(key))

    def servers(self, key: ServiceKey) -> list[ServerStatus]:
        """The real servers of a service, in the kernel's order. The kernel
        answers an unknown service with an empty list, not an error."""
        check_key(key)
        return self._call(lambda h: h.servers(key))

    def snapshot(self, *, threads: int = 1) -> Snapshot:
        """The whole table (services, servers, counters) read consistently;
        see `pyipvs.snapshot` (take, and its threads)."""
        from pyipvs.snapshot import take

        return take(self, threads=threads)

    def numeric_listing(self, fmt: ListFormat, *, save: bool = False) -> tuple[str, int]:
        """The whole table as `ipvsadm -Ln` (fmt's options) or, with save,
        `ipvsadm -Sn` lines, formatted in C, and the number of services; see
        `pyipvs.listing_native.numeric_listing`."""
        from pyipvs.listing_native import numeric_listing

        return numeric_listing(self, fmt, save=save)

    def timeouts(self) -> Timeouts:
        return self._call(lambda h: h.timeouts())

    def daemons(self) -> list[Daemon]:
        return self._call(lambda h: h.daemons())

    # --- services ---

    def add_service(self, service: Service) -> None:
        check_service(service)
        self._call(lambda h: h.service_cmd(_native.CMD_NEW_SERVICE, service, Op.ADD_SERVICE))

    def edit_service(self, service: Service) -> None:
        check_service(service)
        self._call(lambda h: h.service_cmd(_native.CMD_SET_SERVICE, service, Op.UPDATE_SERVICE))

    def delete_service(self, key: ServiceKey) -> None:
        check_key(key)
        self._call(lambda h: h.service_cmd(_native.CMD_DEL_SERVICE, key, Op.DEL_SERVICE))

    def zero(self, key: ServiceKey | None = None) -> None:
        """Zero the counters of one service, or of everything (and the totals)."""
        if key is None:
            self._call(lambda h: h.service_cmd(_native.CMD_ZERO, None, Op.ZERO))
            return
        check_key(key)
        self._call(lambda h: h.service_cmd(_native.CMD_ZERO, key, Op.ZERO_SERVICE))

    def flush(self) -> None:
        self._call(lambda h: h.service_cmd(_native.CMD_FLUSH, None, Op.FLUSH))

    # --- real servers (sent exactly as given, port included) ---

    def add_server(self, key: ServiceKey, server: Server) -> None:
        check_server(key, server)
        self._call(lambda h: h.dest_cmd(_native.CMD_NEW_DEST, key, server, Op.ADD_DEST))

    def edit_server(self, key: ServiceKey, server: Server) -> None:
        check_server(key, server)
        self._call(lambda h: h.dest_cmd(_native.CMD_SET_DEST, key, server, Op.UPDATE_DEST))

    def delete_server(self, key: ServiceKey, server: Server) -> None:
        # Deleting looks a server up by family, address and port only, so a
        # mixed-family server is found whatever forwarding method is given.
        check_server(key, server, same_family=False)
        self._call(lambda h: h.dest_cmd(_native.CMD_DEL_DEST, key, server, Op.DEL_DEST))

    # --- configuration ---

    def set_timeouts(self, t: Timeouts) -> None:
        """Set the TCP, TCP FIN and UDP timeouts; 0 leaves one unchanged."""
        check_timeouts(t)
        self._call(lambda h: h.set_timeouts(t))

    def start_daemon(self, d: Daemon) -> None:
        check_daemon(d)
        self._call(lambda h: h.daemon_cmd(_native.CMD_NEW_DAEMON, d, Op.START_DAEMON))

    def stop_daemon(self, state: DaemonState, syncid: int = 0) -> None:
        # ipvsadm sends an empty interface name; the kernel looks at the state only.
        d = Daemon(state, "", syncid)
        check_daemon(d)
        try:
            self._call(lambda h: h.daemon_cmd(_native.CMD_DEL_DAEMON, d, Op.STOP_DAEMON))
        except IPVSError as e:
            # A daemon stopped before its thread first ran (right after a
            # start) is stopped all the same, but the kernel (6.1, 6.12) then
            # reports kthread_stop()'s EINTR by sending no reply at all
            # (csrc/nl.c, core_transact).
            if e.errno != errno.EINTR:
                raise

    # --- batches (pyipvs/batch.py: commands sent by the thousand per system call) ---

    def batch(
        self, *, atomic: bool = False, stop_on_error: bool = False, chunk: int = 0,
        stream: bool = False, **_knobs: int,
    ) -> Batch:  # fmt: skip
        """Collect commands with IPVS's own verbs; applied by `apply()` or on
        leaving a `with` block (`stream`: sent in parts as they are added;
        pyipvs.batch). `_knobs`: Batch's test knobs."""
        from pyipvs.batch import Batch  # pyipvs.batch imports this module

        return Batch(self, atomic=atomic, stop_on_error=stop_on_error, chunk=chunk,
                     stream=stream, **_knobs)  # type: ignore[arg-type]  # fmt: skip

    def apply_batch(
        self, commands: Iterable[Command], *, atomic: bool = False, stop_on_error: bool = False
    ) -> BatchResult:
        """Apply `pyipvs.batch.Command`s in order; per-command results."""
        from pyipvs.batch import apply_batch

        return apply_batch(self, commands, atomic=atomic, stop_on_error=stop_on_error)

    # --- declarative reconciliation (pyipvs/reconcile/: plan, then apply) ---

    def diff(
        self, desired: Table | str | os.PathLike[str], *, scope: Scope | None = None,
        drain: float = 0.0,
    ) -> Plan:  # fmt: skip
        """The ordered changes that make this table equal `desired` (a
        `pyipvs.reconcile.Table`, or a file in ipvsadm save, JSON or YAML
        format) within `scope`; nothing is changed."""
        from pyipvs.reconcile import Table
        from pyipvs.reconcile.records import plan_for, prepare_file

        want = desired if isinstance(desired, Table) else prepare_file(desired, scope=scope)
        return plan_for(self, want, scope, drain=drain)

    def apply(self, plan: Plan, *, atomic: bool = False) -> ApplyResult:
        """Carry out a plan from `diff` through the batch engine (waiting
        `plan.drain` seconds before deletions); see pyipvs.reconcile.apply."""
        from pyipvs.reconcile import apply_plan

        return apply_plan(self, plan, atomic=atomic)
