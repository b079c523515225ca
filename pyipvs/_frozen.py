"""Fast construction of frozen, slotted model dataclasses (internal helper
of the decoders; no IPVS, no cffi).

A frozen dataclass's generated `__init__` must store each field with
`object.__setattr__`, because the class's own `__setattr__` refuses: about
0.3 us per field on the host, 3-4 us for a `Stats`, several times what a
plain slot store costs. Decoders build such objects by the hundred
thousand (a `Stats` and a `ServerStatus` per real server of a full-table
read, a `ConnRow` per row of `pyipvsadm -Lc`), so for them `constructor`
builds a twin class with the same slots and an ordinary `__init__`, whose
instance then becomes the real class by `__class__` assignment (CPython
allows that between classes of identical layout), and then runs the class's
`__post_init__`, if it has one, as the dataclass's own `__init__` does. What
comes out is what `cls(*args)` gives: the same type, fields, equality, hash
and frozenness.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar, cast

_T = TypeVar("_T")


def constructor(cls: type[_T]) -> Callable[..., _T]:
    """A callable taking `cls`'s fields as `cls` does (positionally or by
    name, with the same defaults) and returning a `cls`. Classes this trick
    does not fit (no slots, a base class, fields outside `__init__`, class
    variables or init-only variables) get `cls` itself."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = tuple(f.name for f in fields)
    if (
        cls.__bases__ != (object,)
        or getattr(cls, "__slots__", None) != names
        # ClassVar and InitVar pseudo-fields are there but not in fields()
        or len(cls.__dataclass_fields__) != len(fields)  # type: ignore[attr-defined]
        or not all(f.init and not f.kw_only for f in fields)
    ):
        return cls
    env: dict[str, Any] = {"_cls": cls, "_missing": dataclasses.MISSING}
    params, body = [], []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            env[f"_d_{f.name}"] = f.default
            params.append(f"{f.name}=_d_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            env[f"_f_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_missing")
            body.append(f" if {f.name} is _missing: {f.name} = _f_{f.name}()")
        else:
            params.append(f.name)
        body.append(f" self.{f.name} = {f.name}")
    # Generated source, as dataclasses itself does: a loop over names would
    # cost what the frozen __init__ costs.
    src = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body)
    src += "\n self.__class__ = _cls\n"
    if hasattr(cls, "__post_init__"):  # on the real class: it stores with object.__setattr__
        src += " self.__post_init__()\n"
    exec(src, env)  # the names are our own classes' field names
    twin: Any = type(f"_{cls.__name__}Init", (), {"__slots__": names, "__init__": env["__init__"]})
    try:
        object.__new__(twin).__class__ = cls  # a layout CPython refuses to swap
    except TypeError:
        return cls
    return cast("Callable[..., _T]", twin)
