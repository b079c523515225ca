"""pyipvs: program Linux IPVS over generic netlink (package root, top layer).

    from pyipvs import IPVS, Service, ServiceKey, Server

    with IPVS() as ipvs:
        key = ServiceKey.tcp("10.0.0.1", 80)
        ipvs.add_service(Service(key, scheduler="rr"))
        ipvs.add_server(key, Server(ipaddress.ip_address("10.0.1.1"), 80))

The model and the errors are plain Python. `IPVS` is imported on first use,
so the pure modules (model, errors, formatting) stay importable where the
compiled core is not built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyipvs.errors import (
    IPVSError,
    IPVSExistsError,
    IPVSNotFoundError,
    IPVSPermissionError,
    IPVSTimeoutError,
    IPVSUnavailableError,
    IPVSValueError,
    Op,
    ipvs_strerror,
)
from pyipvs.model import (
    SETTABLE_SERVICE_FLAGS,
    Daemon,
    DaemonState,
    Family,
    Forward,
    Info,
    Protocol,
    Server,
    ServerStatus,
    Service,
    ServiceFlag,
    ServiceKey,
    ServiceStatus,
    Stats,
    Timeouts,
    TunnelFlag,
    TunnelType,
)

if TYPE_CHECKING:
    from pyipvs.ipvs import IPVS

# The one place the version is written: the distribution's metadata takes it
# from here (pyproject.toml, tool.setuptools.dynamic), so reading it costs no
# importlib.metadata, some 60 modules that `pyipvsadm -v` would import.
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "IPVS":
        from pyipvs.ipvs import IPVS

        return IPVS
    raise AttributeError(f"module 'pyipvs' has no attribute {name!r}")


__all__ = [
    "IPVS",
    "SETTABLE_SERVICE_FLAGS",
    "Daemon",
    "DaemonState",
    "Family",
    "Forward",
    "IPVSError",
    "IPVSExistsError",
    "IPVSNotFoundError",
    "IPVSPermissionError",
    "IPVSTimeoutError",
    "IPVSUnavailableError",
    "IPVSValueError",
    "Info",
    "Op",
    "Protocol",
    "Server",
    "ServerStatus",
    "Service",
    "ServiceFlag",
    "ServiceKey",
    "ServiceStatus",
    "Stats",
    "Timeouts",
    "TunnelFlag",
    "TunnelType",
    "__version__",
    "ipvs_strerror",
]
