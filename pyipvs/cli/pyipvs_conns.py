"""`pyipvs conns`: the connection table with filters, counts, summaries and
JSON (top layer: a subcommand of the extended CLI over `pyipvs.conns`).

Filters run in the C core before any Python object exists for a row, and
summaries and counts are computed there too, so `--count` and `--by` keep
memory bounded by the number of groups, not entries. Listings stream: rows
are formatted and written a chunk at a time (JSON as one object per line).

`--by server --live` answers from the kernel's live per-server counters over
netlink (`pyipvs.conns_live`) instead of reading the table at all.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
from collections.abc import Callable
from typing import IO, Any

from pyipvs.conns import (
    Connection,
    ConnFilter,
    ConnState,
    ConnTable,
    GroupBy,
    Grouping,
    GroupKey,
    Origin,
)
from pyipvs.errors import IPVSError, IPVSValueError
from pyipvs.model import Family, IPAddress, Protocol, ServiceKey

Handler = Callable[[argparse.Namespace, IO[str], IO[str], IO[str]], int]

_PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58, "ip": 0}
_BY = {
    "server": GroupBy.SERVER,
    "service": GroupBy.SERVICE,
    "state": GroupBy.STATE,
    "client-prefix": GroupBy.CLIENT,
    "protocol": GroupBy.PROTOCOL,
    "origin": GroupBy.ORIGIN,
}
_STATES = {s.value.lower().rstrip("!"): s for s in ConnState}


class UsageError(ValueError):
    pass


def _split_hostport(text: str) -> tuple[IPAddress, int | None]:
    """ADDR, ADDR:PORT, [V6ADDR] or [V6ADDR]:PORT."""
    host, port = text, None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise UsageError(f"missing ']' in {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"bad address {text!r}")
            port = _port(rest[1:])
    elif text.count(":") == 1:
        host, p = text.split(":")
        port = _port(p)
    try:
        return ipaddress.ip_address(host), port
    except ValueError:
        raise UsageError(f"bad address {host!r}") from None


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise UsageError(f"bad port {text!r}")
    return int(text)


def _service_filter(text: str) -> ConnFilter:
    """tcp:ADDR:PORT, udp:..., sctp:..., or fwmark:N[:6]."""
    proto, _, rest = text.partition(":")
    proto = proto.lower()
    if proto == "fwmark":
        mark, _, fam = rest.partition(":")
        if not mark.isdigit() or not 0 < int(mark) < 1 << 32:
            raise UsageError(f"bad fwmark {mark!r}")
        family = Family.INET6 if fam == "6" else Family.INET
        return ConnFilter.service(ServiceKey.fw(int(mark), family))
    if proto not in ("tcp", "udp", "sctp"):
        raise UsageError(f"bad service {text!r}: use tcp|udp|sctp:ADDR:PORT or fwmark:N")
    addr, port = _split_hostport(rest)
    if port is None:
        raise UsageError(f"service {text!r} needs a port")
    return ConnFilter.service(ServiceKey.of(Protocol(_PROTOCOLS[proto]), addr, port))


def _merge(a: ConnFilter, b: ConnFilter) -> ConnFilter:
    """Fields set in both must agree (one filter is one conjunction)."""
    fields: dict[str, Any] = {}
    for name in ConnFilter.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        empty_x = x is None or x == frozenset()
        empty_y = y is None or y == frozenset()
        if not empty_x and not empty_y and x != y:
            raise UsageError(f"conflicting filters on {name}")
        fields[name] = y if empty_x else x
    return ConnFilter(**fields)


def build_filter(args: argparse.Namespace) -> ConnFilter | None:
    f = ConnFilter()
    if args.protocol is not None:
        p = args.protocol.lower()
        if p.isdigit() and int(p) < 256:
            f = _merge(f, ConnFilter(protocol=int(p)))
        elif p in _PROTOCOLS:
            f = _merge(f, ConnFilter(protocol=_PROTOCOLS[p]))
        else:
            raise UsageError(f"unknown protocol {args.protocol!r}")
    if args.service is not None:
        f = _merge(f, _service_filter(args.service))
    if args.server is not None:
        addr, port = _split_hostport(args.server)
        f = _merge(f, ConnFilter.server(addr, port))
    if args.client is not None:
        try:
            f = _merge(f, ConnFilter.client_in(args.client))
        except ValueError:
            raise UsageError(f"bad client prefix {args.client!r}") from None
    if args.state:
        try:
            states = frozenset(_STATES[s.lower().rstrip("!")] for s in args.state)
        except KeyError as e:
            raise UsageError(f"unknown state {e.args[0]!r}") from None
        f = _merge(f, ConnFilter(states=states))
    if args.origin is not None:
        f = _merge(f, ConnFilter(origin=Origin(args.origin.upper())))
    return None if f == ConnFilter() else f


def setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sync", action="store_true", help="read ip_vs_conn_sync (with origins)")
    p.add_argument("--file", help="read a file in the kernel's format instead")
    g = p.add_argument_group("filters (all must match)")
    g.add_argument("--protocol", help="tcp, udp, sctp, icmp, icmpv6, ip (fwmark templates) or N")
    g.add_argument("--service", help="tcp|udp|sctp:ADDR:PORT ([V6]:PORT) or fwmark:N[:6]")
    g.add_argument("--server", help="real server ADDR or ADDR:PORT")
    g.add_argument("--client", help="client address or prefix (10.1.0.0/16)")
    g.add_argument("--state", action="append", help="state name (repeat for several)")
    g.add_argument("--origin", choices=["local", "sync"], help="sync table origin")
    o = p.add_argument_group("output")
    o.add_argument("--count", action="store_true", help="only the number of matching entries")
    o.add_argument("--by", action="append", choices=sorted(_BY),
                   help="count per group (repeat to combine dimensions)")  # fmt: skip
    o.add_argument("--v4-prefix", type=int, default=24, help="client-prefix bits, IPv4")
    o.add_argument("--v6-prefix", type=int, default=64, help="client-prefix bits, IPv6")
    o.add_argument("--top", type=int, default=0, help="only the N largest groups")
    o.add_argument("--live", action="store_true",
                   help="with --by server: the kernel's live counters over netlink")  # fmt: skip
    o.add_argument("--json", action="store_true", help="JSON (listings: one object per line)")


def _conn_json(c: Connection) -> dict[str, Any]:
    return {
        "proto": c.proto, "protocol": c.protocol, "client": str(c.caddr), "cport": c.cport,
        "virtual": str(c.vaddr), "vport": c.vport, "server": str(c.daddr), "dport": c.dport,
        "state": c.state, "expires": c.expires, "pe_name": c.pe_name, "pe_data": c.pe_data,
        "origin": c.origin.value.lower() if c.origin is not None else None,
    }  # fmt: skip


def _ap(addr: IPAddress | None, port: int | None) -> str:
    text = f"[{addr}]" if addr is not None and addr.version == 6 else str(addr)
    return text if port is None else f"{text}:{port}"


def _conn_text(c: Connection) -> str:
    origin = f" {c.origin.value}" if c.origin is not None else ""
    return (f"{c.proto:<6} {c.state:<11} {c.expires:>7} {_ap(c.caddr, c.cport):<45} "
            f"{_ap(c.vaddr, c.vport):<45} {_ap(c.daddr, c.dport)}{origin}")  # fmt: skip


def _key_fields(k: GroupKey) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if k.proto is not None:
        out["proto"] = k.proto
    if k.client is not None:
        out["client"] = str(k.client)
    if k.vaddr is not None:
        out["virtual"] = _ap(k.vaddr, k.vport)
    elif k.vport is not None:
        out["vport"] = k.vport
    if k.daddr is not None:
        out["server"] = _ap(k.daddr, k.dport)
    elif k.dport is not None:
        out["dport"] = k.dport
    if k.state_text is not None:
        out["state"] = k.state_text
    if k.origin is not None:
        out["origin"] = k.origin.value.lower()
    return out


def _summary(args: argparse.Namespace, table: ConnTable, flt: ConnFilter | None,
             stdout: IO[str]) -> int:  # fmt: skip
    by = GroupBy.TOTAL
    for name in args.by:
        by |= _BY[name]
    (s,) = table.summarize(Grouping(by, args.v4_prefix, args.v6_prefix), filter=flt)
    ranked = s.most_common(args.top or None)
    if args.json:
        doc = {"total": s.total, "overflow": s.overflow,
               "groups": [{**_key_fields(k), "count": n} for k, n in ranked]}  # fmt: skip
        stdout.write(json.dumps(doc) + "\n")
        return 0
    for k, n in ranked:
        stdout.write(f"{n:>10} {' '.join(f'{a}={v}' for a, v in _key_fields(k).items())}\n")
    stdout.write(f"{s.total:>10} total\n")
    if s.overflow:
        stdout.write(f"{s.overflow:>10} in groups beyond the limit\n")
    return 0


def _live(args: argparse.Namespace, stdout: IO[str]) -> int:
    from pyipvs.conns_live import server_connections

    rows = server_connections(args.netns)
    if args.json:
        doc = [{"service": _service_text(r.service), "server": _ap(r.address, r.port),
                "active": r.active, "inactive": r.inactive, "persistent": r.persistent}
               for r in rows]  # fmt: skip
        stdout.write(json.dumps(doc) + "\n")
        return 0
    for r in rows:
        stdout.write(f"{r.active:>10} {r.inactive:>10} {r.persistent:>10} "
                     f"{_service_text(r.service)} -> {_ap(r.address, r.port)}\n")  # fmt: skip
    return 0


def _service_text(k: ServiceKey) -> str:
    if k.fwmark:
        return f"fwmark:{k.fwmark}" + (":6" if k.family == Family.INET6 else "")
    return f"{k.protocol.name.lower()}:{_ap(k.address, k.port)}"


def _list(args: argparse.Namespace, table: ConnTable, flt: ConnFilter | None,
          stdout: IO[str]) -> int:  # fmt: skip
    with table.open(flt) as cursor:
        for chunk in cursor.chunks():
            if args.json:
                stdout.write("".join(json.dumps(_conn_json(c)) + "\n" for c in chunk))
            else:
                stdout.write("".join(_conn_text(c) + "\n" for c in chunk))
    return 0


def cmd_conns(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    from pyipvs.ipvs import netns_path

    try:
        if args.live:
            if args.by != ["server"] or args.file or args.sync or _has_filter(args):
                raise UsageError("--live goes with --by server alone")
            return _live(args, stdout)
        flt = build_filter(args)
        table = ConnTable(path=args.file, sync=args.sync,
                          netns=netns_path(args.netns) if args.file is None else None)  # fmt: skip
        if args.count:
            n = table.count(flt)
            stdout.write(json.dumps({"count": n}) + "\n" if args.json else f"{n}\n")
            return 0
        if args.by:
            return _summary(args, table, flt, stdout)
        return _list(args, table, flt, stdout)
    except (UsageError, IPVSValueError) as e:
        stderr.write(f"pyipvs conns: {e}\n")
        return 2
    except (OSError, IPVSError) as e:
        stderr.write(f"pyipvs conns: {e}\n")
        return 1


def _has_filter(args: argparse.Namespace) -> bool:
    return any(getattr(args, n) for n in ("protocol", "service", "server", "client", "state",
                                          "origin"))  # fmt: skip


SUBCOMMAND: tuple[str, Callable[[argparse.ArgumentParser], None], Handler] = (
    "connection entries: filters, counts, summaries, JSON",
    setup,
    cmd_conns,
)
