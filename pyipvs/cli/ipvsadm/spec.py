"""Value parsers with ipvsadm 1.31's exact acceptance rules (top layer: the
`pyipvsadm` front end).

ipvsadm parses numbers with C's strtol (leading blanks and a sign allowed,
nothing after the digits), addresses with inet_pton/inet_aton and then
gethostbyname (IPv4 only), and port names with getservbyname for the
protocol parsed so far. These functions return None where ipvsadm's parser
fails; the caller picks the message. Text is measured in bytes where ipvsadm
truncates C strings.
"""

from __future__ import annotations

# `_socket` is the C module behind `socket` and holds every function used
# here; `socket` itself builds its enums at import, a cost every pyipvsadm
# start would pay (about a tenth of a second in the emulated test VM).
import _socket as socket
import ipaddress
from dataclasses import dataclass

from pyipvs.model import Family, IPAddress, Protocol

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
UINT_MAX = 2**32 - 1

_C_SPACE = " \t\n\v\f\r"
_DIGITS = "0123456789"


def strtol(text: str) -> tuple[int, int, bool] | None:
    """C strtol(text, &end, 10): (value clamped to long, end index, overflowed),
    or None when no digit was read (end would equal the start)."""
    i = 0
    n = len(text)
    while i < n and text[i] in _C_SPACE:
        i += 1
    negative = False
    if i < n and text[i] in "+-":
        negative = text[i] == "-"
        i += 1
    start = i
    while i < n and text[i] in _DIGITS:
        i += 1
    if i == start:
        return None
    value = int(text[start:i])
    if negative:
        value = -value
    if value > LONG_MAX:
        return LONG_MAX, i, True
    if value < LONG_MIN:
        return LONG_MIN, i, True
    return value, i, False


def string_to_number(text: str, lo: int, hi: int) -> int | None:
    """ipvsadm's number parser: the whole string, in range, no overflow."""
    r = strtol(text)
    if r is None:
        return None
    value, end, overflow = r
    if end != len(text) or overflow or not lo <= value <= hi:
        return None
    return value


def parse_fwmark(text: str) -> int | None:
    """A firewall mark: 1..2**32-1 (ipvsadm reads it as a long, then unsigned)."""
    return string_to_number(text, 1, UINT_MAX)


def c_atoi(text: str) -> int:
    """C atoi: strtol's value truncated to a 32-bit int, trailing junk ignored."""
    r = strtol(text)
    if r is None:
        return 0
    value = r[0] & 0xFFFFFFFF
    return value - 2**32 if value & 0x80000000 else value


def c_truncate(text: str, limit: int) -> str:
    """The first `limit` bytes of a C string (strncpy into a fixed buffer)."""
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", "surrogateescape")


# -- addresses -------------------------------------------------------------


def inet_pton6(text: str) -> ipaddress.IPv6Address | None:
    try:
        return ipaddress.IPv6Address(socket.inet_pton(socket.AF_INET6, text))
    except (OSError, ValueError, UnicodeError):
        return None


def inet_pton4(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError, UnicodeError):
        return None


def inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """glibc inet_aton: accepts `10.1`, `0x0a000001`, `127.1`, and trailing blanks."""
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError, UnicodeError):
        return None


def gethostbyname4(name: str) -> ipaddress.IPv4Address | None:
    """The first IPv4 address of a host name (gethostbyname, as ipvsadm uses it)."""
    try:
        addrs = socket.gethostbyname_ex(name)[2]
    except (OSError, ValueError, UnicodeError):
        return None
    if not addrs:
        return None
    return ipaddress.IPv4Address(addrs[0])


def host_to_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """inet_aton, else a host-name lookup (IPv4 only)."""
    addr = inet_aton(text)
    return addr if addr is not None else gethostbyname4(text)


_PORT_PROTO: dict[int, str] = {Protocol.TCP: "tcp", Protocol.UDP: "udp", Protocol.SCTP: "sctp"}


def service_port(name: str, protocol: int) -> int | None:
    """getservbyname for the protocol parsed so far (no protocol: no lookup)."""
    proto = _PORT_PROTO.get(protocol)
    if proto is None:
        return None
    try:
        return socket.getservbyname(name, proto)
    except (OSError, ValueError, UnicodeError):
        return None


@dataclass(frozen=True, slots=True)
class HostPort:
    """What parse_service found: the address, and the port if one was given."""

    address: IPAddress
    port: int | None

    @property
    def family(self) -> Family:
        return Family.INET6 if self.address.version == 6 else Family.INET


def parse_host_port(text: str, protocol: int) -> HostPort | None:
    """host[:port] exactly as ipvsadm 1.31 reads it.

    All-digit text is refused; `[v6]:port` needs the port; an unbracketed text
    that is an IPv6 address is taken whole (so `2001:db8::1:80` has no port);
    otherwise the last ':' splits off the port, which is lost in `[1.2.3.4]:80`
    (ipvsadm looks for the port again after unbracketing). A port is decimal
    0..65535 or a service name of `protocol`.
    """
    if text == "" or all(c in _DIGITS for c in text):
        return None
    buf = text
    port_text: str | None = None
    if buf[0] == "[":
        close = buf.find("]", 1)
        if close < 0:
            return None
        after = buf[close + 1 :]
        buf = buf[1:close]
        if not after.startswith(":"):
            return None
        port_text = after[1:]
    address: IPAddress | None = inet_pton6(buf)
    if address is None:
        colon = buf.rfind(":")
        port_text = None
        if colon >= 0:
            port_text = buf[colon + 1 :]
            buf = buf[:colon]
        address = host_to_ipv4(buf)
        if address is None:
            return None
    if port_text is None:
        return HostPort(address, None)
    port = string_to_number(port_text, 0, 65535)
    if port is None:
        port = service_port(port_text, protocol)
        if port is None:
            return None
    return HostPort(address, port)


def parse_netmask4(text: str) -> int | None:
    """An IPv4 persistence mask as a host-order number (`-M 24` is 0.0.0.24)."""
    addr = host_to_ipv4(text)
    return int(addr) if addr is not None else None


def parse_netmask6(text: str) -> int | None:
    """An IPv6 persistence prefix: atoi, 1..128 after C's int-to-unsigned wrap."""
    value = c_atoi(text) & 0xFFFFFFFF
    return value if 1 <= value <= 128 else None


def parse_mcast_group(text: str) -> IPAddress | None:
    """A multicast group: IPv6 if the text has a ':', else a dotted IPv4."""
    if ":" in text:
        v6 = inet_pton6(text)
        return v6 if v6 is not None and v6.is_multicast else None
    v4 = inet_pton4(text)
    return v4 if v4 is not None and int(v4) >> 28 == 0xE else None
