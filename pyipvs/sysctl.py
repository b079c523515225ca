"""IPVS kernel tunables of one network namespace (top layer: typed values over
the native layer's /proc/sys/net/ipv4/vs reader and writer).

`TUNABLES` (pyipvs.sysctl_table) says, for every tunable the kernel has had
under /proc/sys/net/ipv4/vs, its kind, the values we accept, its default and
what it does. Reading returns typed values (`bool` for switches, `int`, a pair for
sync_threshold, a CPU tuple for est_cpulist); writing validates against the
table first, so a bad value is refused with `IPVSValueError` before the kernel
sees it, and `set_many` refuses the whole batch if any value is bad.

/proc/sys/net shows the namespace of the thread that opens it; the C core
opens the file inside the target namespace, so one process can read and
write any number of namespaces without moving itself.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable, Mapping

from pyipvs import _native
from pyipvs.errors import IPVSError, IPVSUnavailableError, IPVSValueError
from pyipvs.ipvs import netns_path
from pyipvs.model import INT_MAX
from pyipvs.sysctl_table import BY_NAME, TUNABLES, ULONG_MAX, Kind, Tunable

__all__ = [
    "BY_NAME",
    "TUNABLES",
    "ULONG_MAX",
    "Kind",
    "Sysctl",
    "Tunable",
    "Value",
    "format_value",
    "parse_assignment",
    "parse_value",
    "read_all",
    "validate",
]

#: A tunable's value: bool/int for scalars, (threshold, period) for
#: sync_threshold, a tuple of CPU numbers for est_cpulist, and the raw text
#: for a name this table does not know (a newer kernel's).
Value = int | tuple[int, ...] | str

_ORDER = {t.name: i for i, t in enumerate(TUNABLES)}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


# --- text <-> values -----------------------------------------------------------


_CPU_MAX = 65535


def parse_cpulist(text: str) -> tuple[int, ...]:
    """'0-2,5' -> (0, 1, 2, 5); the kernel's %*pbl format."""
    cpus: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        a, b = int(lo), int(hi) if sep else int(lo)
        # The kernel's CPU numbers stay below its NR_CPUS (8192 on Debian);
        # a bound keeps a typo such as 0-99999999999 from building a huge set.
        if a < 0 or b < a or b > _CPU_MAX:
            raise ValueError(f"bad CPU range {part!r}")
        cpus.update(range(a, b + 1))
    return tuple(sorted(cpus))


def format_cpulist(cpus: Iterable[int]) -> str:
    """(0, 1, 2, 5) -> '0-2,5', as the kernel prints it."""
    out: list[str] = []
    ordered = sorted(set(cpus))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def parse_value(name: str, text: str) -> Value:
    """The typed value of a tunable from the kernel's text."""
    t = BY_NAME.get(name)
    text = text.strip()
    if t is None:
        return text
    if t.kind is Kind.PAIR:
        return tuple(int(x) for x in text.split())
    if t.kind is Kind.CPULIST:
        return parse_cpulist(text)
    v = int(text)
    # The kernel stores switches as plain ints: another value can be written
    # behind our back, and is shown as the int it is.
    return bool(v) if t.kind is Kind.BOOL and v in (0, 1) else v


def format_value(name: str, value: Value) -> str:
    """The kernel's text for a value (as `sysctl -n` prints it)."""
    t = BY_NAME.get(name)
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        if t is not None and t.kind is Kind.CPULIST:
            return format_cpulist(value)
        return "\t".join(str(v) for v in value)
    return str(int(value))


def _as_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 10)
        except ValueError:
            pass
    raise IPVSValueError(f"{name}: expected an integer, got {value!r}")


def validate(name: str, value: object) -> str:
    """Check a value against the table; return the text to write.

    Accepts typed values and their text forms ("1", "on", "3 50", "0-3").
    """
    t = BY_NAME.get(name)
    if t is None:
        raise IPVSValueError(f"unknown IPVS tunable {name!r}")
    if t.kind is Kind.BOOL:
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return "1" if value.strip().lower() in _TRUE else "0"
        v = _as_int(name, value)
        if v not in (0, 1):
            raise IPVSValueError(f"{name}: expected 0 or 1, got {value!r}")
        return str(v)
    if t.kind is Kind.PAIR:
        return _validate_pair(name, value)
    if t.kind is Kind.CPULIST:
        return _validate_cpulist(name, value)
    v = _as_int(name, value)
    if t.kind is Kind.POW2:
        if v < 1 or v > INT_MAX or v & (v - 1):
            raise IPVSValueError(f"{name}: expected a power of two (1, 2, 4, ...), got {value!r}")
        return str(v)
    if not t.minimum <= v <= t.maximum:
        raise IPVSValueError(f"{name}: expected {t.minimum}..{t.maximum}, got {value!r}")
    return str(v)


def _validate_pair(name: str, value: object) -> str:
    parts: list[object]
    if isinstance(value, str):
        parts = list(value.replace(",", " ").split())
    elif isinstance(value, (tuple, list)):
        parts = list(value)
    else:
        parts = [value]
    if len(parts) != 2:
        raise IPVSValueError(f"{name}: expected two integers THRESHOLD PERIOD, got {value!r}")
    threshold, period = (_as_int(name, p) for p in parts)
    if threshold < 0 or period < 0 or threshold > INT_MAX or period > INT_MAX:
        raise IPVSValueError(f"{name}: THRESHOLD and PERIOD must be 0..{INT_MAX}, got {value!r}")
    if period and threshold >= period:
        raise IPVSValueError(f"{name}: THRESHOLD must be below PERIOD (or PERIOD 0), got {value!r}")
    return f"{threshold}\t{period}"


def _validate_cpulist(name: str, value: object) -> str:
    try:
        if isinstance(value, str):
            cpus = parse_cpulist(value)
        elif isinstance(value, Iterable):
            cpus = tuple(sorted({_as_int(name, c) for c in value}))
        else:
            cpus = (_as_int(name, value),)
    except ValueError:
        raise IPVSValueError(f"{name}: expected a CPU list such as 0-3,6, got {value!r}") from None
    if not cpus or cpus[0] < 0:
        raise IPVSValueError(f"{name}: expected a non-empty list of CPUs, got {value!r}")
    return format_cpulist(cpus)


def parse_assignment(text: str) -> tuple[str, str]:
    """'NAME=VALUE' (NAME may be spelled net.ipv4.vs.NAME) -> (NAME, VALUE)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise IPVSValueError(f"expected NAME=VALUE, got {text!r}")
    for prefix in ("net.ipv4.vs.", "net/ipv4/vs/"):
        name = name.removeprefix(prefix)
    return name, value.strip()


# --- the namespace's tunables ------------------------------------------------


def _absent(name: str) -> IPVSValueError:
    t = BY_NAME.get(name)
    if t is None:
        return IPVSValueError(f"unknown IPVS tunable {name!r}")
    if t.needs:
        why = f"needs {t.needs}"
    else:
        why = f"added in Linux {t.since}" if t.since else "is IPVS loaded?"
    return IPVSValueError(f"{name}: not present on this kernel ({why})")


class Sysctl:
    """The IPVS tunables of one network namespace (None: the caller's; a
    name means /run/netns/NAME, anything with a slash is a path)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns_path(netns)

    def names(self) -> list[str]:
        """Tunables present here: known ones in table order, then any others."""
        try:
            found = _native.sysctl_list(self.netns)
        except IPVSError as e:
            raise self._unavailable(e) from None
        return sorted(found, key=lambda n: (_ORDER.get(n, len(_ORDER)), n))

    def get(self, name: str) -> Value:
        """The typed value of one tunable."""
        if name not in BY_NAME and ("/" in name or name.startswith(".")):
            raise IPVSValueError(f"unknown IPVS tunable {name!r}")
        try:
            text = _native.sysctl_read(name, self.netns)
        except IPVSError as e:
            if e.errno == errno.ENOENT:
                self._check_netns()
                raise _absent(name) from None
            raise
        return parse_value(name, text.decode("utf-8", "replace"))

    def get_all(self) -> dict[str, Value]:
        """Every tunable present here, in table order."""
        out: dict[str, Value] = {}
        for name in self.names():
            try:
                out[name] = self.get(name)
            except IPVSValueError:
                continue  # unregistered between listing and reading (module unload)
        return out

    def set(self, name: str, value: object) -> Value:
        """Validate and write one tunable; return the value read back.

        The read-back can differ from what was written: the kernel moves the
        defense modes between 1 and 2 by itself, and masks est_cpulist.
        """
        self.set_many({name: value})
        return self.get(name)

    def set_many(self, values: Mapping[str, object]) -> None:
        """Validate every value first, then write them in order. When a value
        is refused, by us or by the kernel, nothing stays changed: the values
        already written are put back."""
        texts = [(name, validate(name, v)) for name, v in values.items()]
        present = set(self.names())
        for name, _ in texts:
            if name not in present:
                raise _absent(name)
        done: list[tuple[str, bytes]] = []
        try:
            for name, text in texts:
                old = _native.sysctl_read(name, self.netns)
                self._write(name, text.encode())
                done.append((name, old))
        except BaseException:
            for name, old in reversed(done):
                # Best effort: the original failure is what gets reported.
                with contextlib.suppress(IPVSError):
                    _native.sysctl_write(name, self.netns, old)
            raise

    def _write(self, name: str, text: bytes) -> None:
        try:
            _native.sysctl_write(name, self.netns, text)
        except IPVSError as e:
            if e.errno == errno.EINVAL:
                raise IPVSValueError(f"{name}: the kernel refused {text.decode()!r}") from None
            if e.errno == errno.ENOENT:
                raise _absent(name) from None
            raise

    def _check_netns(self) -> None:
        if self.netns is not None and not os.path.exists(self.netns):
            raise IPVSValueError(f"no network namespace at {self.netns}")

    def _unavailable(self, e: IPVSError) -> Exception:
        if e.errno != errno.ENOENT:
            return e
        self._check_netns()
        return IPVSUnavailableError(e.errno, None, "IPVS is not loaded (no /proc/sys/net/ipv4/vs)")


def read_all(netns: str | None = None) -> dict[str, Value]:
    """Every IPVS tunable of a namespace, typed."""
    return Sysctl(netns).get_all()
