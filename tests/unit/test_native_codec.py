"""The C core's encoders and decoders, through pyipvs._native (host tests).

Requests are compared byte for byte with what ipvsadm 1.31 was recorded
sending (reference §3.4); replies are built here the way the kernel lays
them out, including the variants older kernels produce, and mangled ones
that must be refused without crashing.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import random
import struct

import pytest

from pyipvs import (
    Daemon,
    DaemonState,
    Family,
    Forward,
    IPVSError,
    Protocol,
    Server,
    Service,
    ServiceFlag,
    ServiceKey,
    Stats,
    Timeouts,
    TunnelFlag,
    TunnelType,
)
from pyipvs import _native as n

ip = ipaddress.ip_address
FAMILY_ID = 0x2A


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(" ".join(text.split()))


def genl(msg: bytes) -> bytes:
    """The part after the 16-byte nlmsghdr, as the reference records it."""
    return msg[16:]


# --- requests -----------------------------------------------------------------


def test_header_fields() -> None:
    msg = n.encode_service(n.CMD_FLUSH, None, family_id=FAMILY_ID, seq=77)
    length, typ, flags, seq, pid = struct.unpack_from("=IHHII", msg)
    assert (length, typ, flags, seq, pid) == (20, FAMILY_ID, 5, 77, 0)
    assert genl(msg) == bytes([n.CMD_FLUSH, 1, 0, 0])
    dump = n.encode_service(n.CMD_GET_SERVICE, None, flags=n.NLM_DUMP)
    assert struct.unpack_from("=H", dump, 6)[0] == 0x305


def test_add_service_matches_ipvsadm() -> None:
    msg = n.encode_service(n.CMD_NEW_SERVICE, Service(ServiceKey.tcp("10.0.0.1", 80), "rr"))
    assert len(msg) == 104
    assert genl(msg) == hexbytes(
        """01 01 00 00  54 00 01 80
        06 00 01 00 02 00 00 00  06 00 02 00 06 00 00 00
        14 00 03 00 0a 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00
        06 00 04 00 00 50 00 00  07 00 06 00 72 72 00 00
        0c 00 07 00 00 00 00 00 ff ff ff ff  08 00 08 00 00 00 00 00
        08 00 09 00 ff ff ff ff"""
    )


def test_ipv6_service_with_pe_and_flags_matches_ipvsadm() -> None:
    svc = Service(
        ServiceKey.tcp("2001:db8::1", 443), "sh", ServiceFlag.PERSISTENT | ServiceFlag.SCHED2,
        120, 64, "sip",
    )  # fmt: skip
    body = genl(n.encode_service(n.CMD_NEW_SERVICE, svc))
    assert body[8:16] == hexbytes("06 00 01 00 0a 00 00 00")
    assert hexbytes("14 00 03 00 20 01 0d b8" + " 00" * 11 + " 01") in body
    assert hexbytes("06 00 04 00 01 bb 00 00") in body
    assert hexbytes("07 00 06 00 73 68 00 00 08 00 0b 00 73 69 70 00") in body  # sched, then PE
    assert body.endswith(
        hexbytes("0c 00 07 00 11 00 00 00 ff ff ff ff")
        + hexbytes("08 00 08 00 78 00 00 00 08 00 09 00 40 00 00 00")
    )  # fmt: skip


def test_fwmark_and_identity_only_services() -> None:
    body = genl(n.encode_service(n.CMD_DEL_SERVICE, ServiceKey.fw(7, Family.INET6)))
    # AF, FWMARK, then an empty scheduler, no PE, flags {0, ~0}, timeout 0, prefix 128
    assert body[4:] == hexbytes(
        """38 00 01 80  06 00 01 00 0a 00 00 00  08 00 05 00 07 00 00 00
        05 00 06 00 00 00 00 00  0c 00 07 00 00 00 00 00 ff ff ff ff
        08 00 08 00 00 00 00 00  08 00 09 00 80 00 00 00"""
    )
    dump = genl(n.encode_dests_dump(ServiceKey.udp("10.0.0.1", 53)))
    assert dump == hexbytes(
        """08 01 00 00  30 00 01 80  06 00 01 00 02 00 00 00  06 00 02 00 11 00 00 00
        14 00 03 00 0a 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00  06 00 04 00 00 35 00 00"""
    )
    assert genl(n.encode_service(n.CMD_ZERO, None)) == bytes([n.CMD_ZERO, 1, 0, 0])


def test_add_dest_matches_ipvsadm() -> None:
    server = Server(ip("192.168.1.1"), 8080, Forward.MASQ, 3, 100, 10)
    msg = n.encode_dest(n.CMD_NEW_DEST, ServiceKey.tcp("10.0.0.1", 80), server)
    assert len(msg) == 200
    assert genl(msg)[4:12] == hexbytes("54 00 01 80 06 00 01 00")
    assert hexbytes("05 00 06 00 00 00 00 00") in genl(msg)  # SCHED_NAME ""
    assert genl(msg)[88:] == hexbytes(
        """60 00 02 80  06 00 0b 00 02 00 00 00
        14 00 01 00 c0 a8 01 01 00 00 00 00 00 00 00 00 00 00 00 00
        06 00 02 00 1f 90 00 00  08 00 03 00 00 00 00 00  08 00 04 00 03 00 00 00
        05 00 0d 00 00 00 00 00  06 00 0e 00 00 00 00 00  06 00 0f 00 00 00 00 00
        08 00 05 00 64 00 00 00  08 00 06 00 0a 00 00 00"""
    )


def test_tunnel_dest_of_other_family() -> None:
    server = Server(ip("2001:db8::9"), 0, Forward.TUNNEL, 1, 0, 0, TunnelType.GUE, 6080,
                    TunnelFlag.REMCSUM)  # fmt: skip
    body = genl(n.encode_dest(n.CMD_NEW_DEST, ServiceKey.fw(1), server))
    dest = body[4 + struct.unpack_from("=H", body, 4)[0] :]
    assert dest[4:12] == hexbytes("06 00 0b 00 0a 00 00 00")
    assert dest[16:32] == ip("2001:db8::9").packed
    assert (
        hexbytes("05 00 0d 00 01 00 00 00 06 00 0e 00 17 c0 00 00 06 00 0f 00 02 00 00 00") in dest
    )


def test_timeouts_and_daemons_match_ipvsadm() -> None:
    assert genl(n.encode_timeouts(Timeouts(900, 120, 300))) == hexbytes(
        "0c 01 00 00 08 00 04 00 84 03 00 00 08 00 05 00 78 00 00 00 08 00 06 00 2c 01 00 00"
    )
    d = Daemon(DaemonState.MASTER, "eth1", 3, 1400, ip("239.0.0.1"), 9000, 2)
    assert genl(n.encode_daemon(n.CMD_NEW_DAEMON, d)) == hexbytes(
        """09 01 00 00 40 00 03 80  08 00 01 00 01 00 00 00  09 00 02 00 65 74 68 31 00 00 00 00
        08 00 03 00 03 00 00 00  06 00 04 00 78 05 00 00  06 00 07 00 28 23 00 00
        05 00 08 00 02 00 00 00  08 00 05 00 ef 00 00 01"""
    )
    stop = genl(n.encode_daemon(n.CMD_DEL_DAEMON, Daemon(DaemonState.BACKUP, "", 5)))
    assert stop == hexbytes(
        """0a 01 00 00 1c 00 03 80 08 00 01 00 02 00 00 00 05 00 02 00 00 00 00 00
        08 00 03 00 05 00 00 00"""
    )
    v6 = Daemon(DaemonState.MASTER, "eth0", 0, mcast_group=ip("ff02::1"))
    assert hexbytes("14 00 06 00") + ip("ff02::1").packed in genl(n.encode_daemon(9, v6))


def test_encoder_refuses_what_does_not_fit() -> None:
    with pytest.raises(IPVSError) as e:
        n.encode_service(0, None)
    assert e.value.errno == errno.EINVAL


# --- replies ------------------------------------------------------------------


def nla(t: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("=HH", size, t) + payload + b"\0" * (-size % 4)


def nest(t: int, *attrs: bytes) -> bytes:
    return nla(t | 0x8000, b"".join(attrs))


def u8(v: int) -> bytes:
    return struct.pack("=B", v)


def u16(v: int) -> bytes:
    return struct.pack("=H", v)


def be16(v: int) -> bytes:
    return struct.pack(">H", v)


def u32(v: int) -> bytes:
    return struct.pack("=I", v)


def u64(v: int) -> bytes:
    return struct.pack("=Q", v)


def reply(cmd: int, *attrs: bytes) -> bytes:
    body = bytes([cmd, 1, 0, 0]) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), FAMILY_ID, 2, 1, 4242) + body


def stats(kind: int, values: list[int]) -> bytes:
    # STATS: counters 1-3 and the rates are u32, the byte counts u64;
    # STATS64 (12): all u64, with a PAD attribute as some architectures send.
    wide = {4, 5} if kind == 10 else set(range(1, 11))
    attrs = [nla(i, u64(v) if i in wide else u32(v)) for i, v in enumerate(values, 1)]
    if kind == 12:
        attrs.insert(0, nla(11, b""))
    return nest(kind, *attrs)


def svc_attrs(extra: list[bytes] | None = None, *, drop: int = 0) -> bytes:
    attrs = [
        nla(1, u16(2)), nla(2, u16(6)), nla(3, ip("10.0.0.1").packed + bytes(12)),
        nla(4, be16(80)), nla(6, b"wrr\0"), nla(7, u32(0x3) + u32(0xFFFFFFFF)),
        nla(8, u32(300)), nla(9, bytes([255, 255, 255, 0])),
    ]  # fmt: skip
    attrs = [a for a in attrs if struct.unpack_from("=H", a, 2)[0] != drop]
    return nest(1, *attrs, *(extra or []))


def test_decode_service_prefers_stats64() -> None:
    msg = reply(1, svc_attrs([stats(10, [1] * 10), stats(12, list(range(1, 11)))]))
    status = n.decode_service(msg)
    svc = status.service
    assert svc.key == ServiceKey.tcp("10.0.0.1", 80)
    assert (svc.scheduler, svc.flags, svc.timeout, svc.netmask, svc.pe_name) == (
        "wrr", ServiceFlag.PERSISTENT, 300, 0xFFFFFF00, "",
    )  # fmt: skip
    assert status.raw_flags == 3
    assert status.stats == Stats(*range(1, 11))


def test_decode_service_old_kernel_stats_and_pe() -> None:
    msg = reply(1, svc_attrs([stats(10, [5, 6, 7, 2**40, 9, 1, 2, 3, 4, 5]), nla(11, b"sip\0")]))
    status = n.decode_service(msg)
    assert status.stats == Stats(5, 6, 7, 2**40, 9, 1, 2, 3, 4, 5)
    assert status.service.pe_name == "sip"


def test_decode_fwmark_ipv6_service() -> None:
    attrs = [nla(1, u16(10)), nla(5, u32(3000000000)), nla(6, b"none\0"),
             nla(7, u32(0x12) + u32(0xFFFFFFFF)), nla(8, u32(0)), nla(9, u32(64))]  # fmt: skip
    status = n.decode_service(reply(1, nest(1, *attrs)))
    assert status.key == ServiceKey.fw(3000000000, Family.INET6)
    assert status.service.netmask == 64 and status.service.scheduler == "none"
    assert status.service.flags == ServiceFlag.SCHED2 and status.raw_flags == 0x12
    assert status.stats == Stats()


def test_decode_unknown_protocol_keeps_the_listing_alive() -> None:
    attrs = svc_attrs().replace(nla(2, u16(6)), nla(2, u16(99)))
    assert n.decode_service(reply(1, attrs)).key.protocol == Protocol(99)


@pytest.mark.parametrize("missing", [1, 2, 3, 4, 6, 7, 8, 9])
def test_decode_service_refuses_missing_mandatory(missing: int) -> None:
    with pytest.raises(IPVSError) as e:
        n.decode_service(reply(1, svc_attrs(drop=missing)))
    assert e.value.errno == errno.EINVAL


def dest_attrs(
    *, family: int | None = 2, tun: bool = True, extra: list[bytes] | None = None
) -> bytes:
    attrs = [
        nla(1, ip("192.168.1.1").packed + bytes(12)), nla(2, be16(8080)), nla(3, u32(2)),
        nla(4, u32(5)), nla(5, u32(100)), nla(6, u32(10)), nla(7, u32(1)), nla(8, u32(2)),
        nla(9, u32(3)),
    ]  # fmt: skip
    if tun:
        attrs += [nla(13, u8(1)), nla(14, be16(6080)), nla(15, u16(1))]
    if family is not None:
        attrs.append(nla(11, u16(family)))
    return nest(2, *attrs, *(extra or []))


def test_decode_dest() -> None:
    st = n.decode_server(reply(5, dest_attrs(extra=[stats(12, [7] * 10)])), Family.INET)
    assert st.server == Server(ip("192.168.1.1"), 8080, Forward.TUNNEL, 5, 100, 10,
                               TunnelType.GUE, 6080, TunnelFlag.CSUM)  # fmt: skip
    assert (st.active_conns, st.inact_conns, st.persist_conns) == (1, 2, 3)
    assert st.stats == Stats(*[7] * 10)


def test_decode_dest_from_old_kernels() -> None:
    # No ADDR_FAMILY (< 3.18): the service's family; no tunnel attributes (< 5.2): zero.
    st = n.decode_server(reply(5, dest_attrs(family=None, tun=False)), Family.INET)
    assert st.server.address == ip("192.168.1.1")
    assert (st.server.tun_type, st.server.tun_port, st.server.tun_flags) == (TunnelType.IPIP, 0, 0)
    v6 = nest(
        2,
        *[
            nla(1, ip("2001:db8::2").packed),
            nla(2, be16(80)),
            *[nla(i, u32(0)) for i in range(3, 10)],
        ],
    )
    assert n.decode_server(reply(5, v6), Family.INET6).server.address == ip("2001:db8::2")


def test_decode_dest_of_another_family() -> None:
    attrs = dest_attrs(family=10).replace(
        nla(1, ip("192.168.1.1").packed + bytes(12)), nla(1, ip("2001:db8::7").packed)
    )
    assert n.decode_server(reply(5, attrs), Family.INET).server.address == ip("2001:db8::7")


def test_decode_daemon_and_info_and_timeouts() -> None:
    d = nest(3, nla(1, u32(2)), nla(2, b"eth0\0"), nla(3, u32(9)), nla(4, u16(1400)),
             nla(7, u16(8848)), nla(8, u8(1)), nla(5, bytes([224, 0, 0, 81])))  # fmt: skip
    assert n.decode_daemon(reply(9, d)) == Daemon(
        DaemonState.BACKUP, "eth0", 9, 1400, ip("224.0.0.81"), 8848, 1
    )
    old = nest(3, nla(1, u32(1)), nla(2, b"eth1\0"), nla(3, u32(0)))
    assert n.decode_daemon(reply(9, old)) == Daemon(DaemonState.MASTER, "eth1", 0)
    info = n.decode_info(reply(14, nla(1, u32(0x010201)), nla(2, u32(4096))))
    assert info.version == (1, 2, 1) and info.conn_tab_size == 4096
    t = n.decode_timeouts(reply(12, nla(4, u32(900)), nla(6, u32(300))))
    assert t == Timeouts(900, 0, 300)


def test_decode_checks_the_command_and_lengths() -> None:
    good = reply(1, svc_attrs())
    for bad in (reply(5, svc_attrs()), good[:-4], good[:15], b""):
        with pytest.raises(IPVSError):
            n.decode_service(bad)
    with pytest.raises(IPVSError):  # SCHED_NAME without its NUL
        n.decode_service(reply(1, svc_attrs().replace(nla(6, b"wrr\0"), nla(6, b"wrrr"))))


def test_round_trip_through_the_encoder() -> None:
    # A NEW_SERVICE request has the reply's layout (minus counters).
    services = [
        Service(ServiceKey.udp("10.9.8.7", 53), "lc", ServiceFlag.ONEPACKET, 0, 0xFFFF0000),
        Service(ServiceKey.sctp("2001:db8::3", 9), "mh", ServiceFlag.SCHED1, 5, 96, "sip"),
        Service(ServiceKey.fw(42), "rr"),
    ]
    for svc in services:
        assert n.decode_service(n.encode_service(n.CMD_NEW_SERVICE, svc)).service == svc


def test_fuzzed_replies_never_crash() -> None:
    rng = random.Random(1234)
    seeds = [
        reply(1, svc_attrs([stats(12, list(range(10)))])),
        reply(5, dest_attrs(extra=[stats(10, list(range(10)))])),
        reply(9, nest(3, nla(1, u32(1)), nla(2, b"eth0\0"), nla(3, u32(1)))),
    ]
    decoders = [n.decode_service, lambda m: n.decode_server(m, Family.INET), n.decode_daemon]
    for _ in range(3000):
        i = rng.randrange(3)
        data = bytearray(seeds[i])
        for _ in range(rng.randrange(1, 6)):
            op = rng.randrange(3)
            if op == 0 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif op == 1:
                del data[rng.randrange(len(data) + 1) :]
            else:
                data += bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
        if len(data) >= 4 and rng.random() < 0.5:  # keep nlmsg_len honest half of the time
            data[0:4] = struct.pack("=I", len(data))
        with contextlib.suppress(IPVSError):
            decoders[i](bytes(data))
