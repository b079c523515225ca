"""Model objects as plain JSON data (top layer: pure Python).

Enums become their lower-case names, addresses their text, dataclasses and
named tuples dictionaries; used by every `--json` output of the extended CLI so that they
all spell things the same way.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from typing import Any


def to_jsonable(obj: Any) -> Any:
    """A JSON-serialisable rendering of a model object (or list/tuple/dict of them)."""
    if isinstance(obj, enum.IntFlag):
        return [m.name.lower() for m in type(obj) if m.value and m in obj and m.name]
    if isinstance(obj, enum.Enum):
        return obj.name.lower() if obj.name else obj.value
    if isinstance(obj, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a NamedTuple model (Connection)
        return {name: to_jsonable(getattr(obj, name)) for name in obj._fields}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj
