"""pyipvs._frozen: the decoders' fast constructors build exactly what the
frozen dataclasses' own __init__ builds (host only)."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import pickle
from typing import Any, ClassVar

import pytest

from pyipvs._frozen import constructor
from pyipvs.format_conn import ConnRow
from pyipvs.model import (
    Family,
    Forward,
    Protocol,
    Server,
    ServerStatus,
    Service,
    ServiceFlag,
    ServiceKey,
    ServiceStatus,
    Stats,
    TunnelFlag,
    TunnelType,
)

A4 = ipaddress.ip_address("10.0.0.1")
SERVICE = Service(ServiceKey.tcp("192.0.2.1", 80), "rr")
SERVER = Server(A4, 8080, Forward.MASQ, 3)

CASES: list[tuple[type[Any], tuple[Any, ...], dict[str, Any]]] = [
    (Stats, (), {}),
    (Stats, tuple(range(1, 11)), {}),
    (Stats, (1 << 63, 0, 7), {"outbps": 9}),
    (ServiceStatus, (SERVICE,), {}),  # stats from the default factory
    (ServiceStatus, (SERVICE, Stats(5)), {"raw_flags": 2}),
    (ServerStatus, (SERVER, 1, 2, 3, Stats(conns=4)), {}),
    (ServerStatus, (SERVER,), {"persist_conns": 5}),
    (ConnRow, ("TCP", A4, 1, A4, 80, A4, 8080, "SYN_RECV", 59), {"pe_name": "sip"}),
    (ServiceKey, (Family.INET, Protocol.UDP, A4, 53), {}),
    (ServiceKey, (Family.INET6,), {"fwmark": 7}),
    (Service, (ServiceKey.tcp("2001:db8::1", 443),), {}),  # netmask from __post_init__
    (Service, (SERVICE.key, "sh", ServiceFlag.PERSISTENT, 300, 0xFFFFFF00, "sip"), {}),
    (Server, (A4,), {}),
    (Server, (A4, 80, Forward.TUNNEL, 5, 10, 2, TunnelType.GUE, 6080, TunnelFlag.CSUM), {}),
]


@pytest.mark.parametrize(("cls", "args", "kwargs"), CASES)
def test_same_object_as_the_dataclass_builds(
    cls: type[Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    make = constructor(cls)
    assert make is not cls  # the fast path is taken for these classes
    got, want = make(*args, **kwargs), cls(*args, **kwargs)
    assert type(got) is cls
    assert got == want and hash(got) == hash(want) and repr(got) == repr(want)
    assert dataclasses.astuple(got) == dataclasses.astuple(want)
    assert pickle.loads(pickle.dumps(got)) == want
    assert copy.deepcopy(got) == want
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.__setattr__(dataclasses.fields(cls)[0].name, None)
    assert not hasattr(got, "__dict__")


def test_default_factory_runs_per_call() -> None:
    make = constructor(ServiceStatus)
    assert make(SERVICE).stats == Stats()


def test_argument_errors_as_for_the_class() -> None:
    with pytest.raises(TypeError):
        constructor(Stats)(*range(11))
    with pytest.raises(TypeError):
        constructor(ServerStatus)()
    with pytest.raises(TypeError):
        constructor(Stats)(nonsense=1)


def test_post_init_runs_once_the_object_is_the_class() -> None:
    make = constructor(Service)
    assert make(SERVICE.key).netmask == 0xFFFFFFFF
    assert make(ServiceKey.tcp("2001:db8::1", 443)).netmask == 128
    assert make(SERVICE.key, netmask=24).netmask == 24
    calls: list[object] = []

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            calls.append(type(self))
            if self.a < 0:
                raise ValueError("negative")

    assert constructor(Checked)(1) == Checked(1)
    assert calls == [Checked, Checked]
    with pytest.raises(ValueError, match="negative"):
        constructor(Checked)(-1)


def test_classes_the_trick_does_not_fit_get_their_own_init() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Base:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived(Base):
        b: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class NotInInit:
        a: int
        b: int = dataclasses.field(default=0, init=False)

    @dataclasses.dataclass(frozen=True, slots=True)
    class KwOnly:
        a: int = dataclasses.field(kw_only=True)

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        b: dataclasses.InitVar[int] = 0

        def __post_init__(self, b: int) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithClassVar:
        a: int
        LIMIT: ClassVar[int] = 3

    for cls in (NoSlots, Derived, NotInInit, KwOnly, WithInitVar, WithClassVar):
        assert constructor(cls) is cls
    assert constructor(Base) is not Base
