"""pyipvs: program Linux IPVS over generic netlink (package root, top layer).

    from pyipvs import IPVS, Service, ServiceKey, Server

    with IPVS() as ipvs:
        key = ServiceKey.tcp("10.0.0.1", 80)
        ipvs.add_service(Service(key, scheduler="rr"))
        ipvs.add_server(key, Server(ipaddress.ip_address("10.0.1.1"), 80))

The model and the errors are plain Python. Every name here is imported on
first use, so the pure modules (model, errors, formatting) stay importable
where the compiled core is not built, and `import pyipvs` costs nothing.
"""

from pyipvs import _lazy

# The names below are imported on first use (PEP 562), so that importing
# pyipvs, or any of its modules that needs none of them, costs no model,
# dataclasses, enum or ipaddress: `pyipvsadm -Ln` starts without them
# (pyipvs/cli/ipvsadm/quick.py), and each module costs tens of milliseconds
# in the emulated test VM. Not typing.TYPE_CHECKING: typing is such a module
# (mypy takes any constant of that name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyipvs.errors import IPVSError as IPVSError
    from pyipvs.errors import IPVSExistsError as IPVSExistsError
    from pyipvs.errors import IPVSNotFoundError as IPVSNotFoundError
    from pyipvs.errors import IPVSPermissionError as IPVSPermissionError
    from pyipvs.errors import IPVSTimeoutError as IPVSTimeoutError
    from pyipvs.errors import IPVSUnavailableError as IPVSUnavailableError
    from pyipvs.errors import IPVSValueError as IPVSValueError
    from pyipvs.errors import Op as Op
    from pyipvs.errors import ipvs_strerror as ipvs_strerror
    from pyipvs.ipvs import IPVS as IPVS
    from pyipvs.model import SETTABLE_SERVICE_FLAGS as SETTABLE_SERVICE_FLAGS
    from pyipvs.model import Daemon as Daemon
    from pyipvs.model import DaemonState as DaemonState
    from pyipvs.model import Family as Family
    from pyipvs.model import Forward as Forward
    from pyipvs.model import Info as Info
    from pyipvs.model import Protocol as Protocol
    from pyipvs.model import Server as Server
    from pyipvs.model import ServerStatus as ServerStatus
    from pyipvs.model import Service as Service
    from pyipvs.model import ServiceFlag as ServiceFlag
    from pyipvs.model import ServiceKey as ServiceKey
    from pyipvs.model import ServiceStatus as ServiceStatus
    from pyipvs.model import Stats as Stats
    from pyipvs.model import Timeouts as Timeouts
    from pyipvs.model import TunnelFlag as TunnelFlag
    from pyipvs.model import TunnelType as TunnelType

# The one place the version is written: the distribution's metadata takes it
# from here (pyproject.toml, tool.setuptools.dynamic), so reading it costs no
# importlib.metadata, some 60 modules that `pyipvsadm -v` would import.
__version__ = "0.1.0"

# Public name -> the module that defines it.
_LAZY = {
    "IPVSError": "pyipvs.errors",
    "IPVSExistsError": "pyipvs.errors",
    "IPVSNotFoundError": "pyipvs.errors",
    "IPVSPermissionError": "pyipvs.errors",
    "IPVSTimeoutError": "pyipvs.errors",
    "IPVSUnavailableError": "pyipvs.errors",
    "IPVSValueError": "pyipvs.errors",
    "Op": "pyipvs.errors",
    "ipvs_strerror": "pyipvs.errors",
    "IPVS": "pyipvs.ipvs",
    "SETTABLE_SERVICE_FLAGS": "pyipvs.model",
    "Daemon": "pyipvs.model",
    "DaemonState": "pyipvs.model",
    "Family": "pyipvs.model",
    "Forward": "pyipvs.model",
    "Info": "pyipvs.model",
    "Protocol": "pyipvs.model",
    "Server": "pyipvs.model",
    "ServerStatus": "pyipvs.model",
    "Service": "pyipvs.model",
    "ServiceFlag": "pyipvs.model",
    "ServiceKey": "pyipvs.model",
    "ServiceStatus": "pyipvs.model",
    "Stats": "pyipvs.model",
    "Timeouts": "pyipvs.model",
    "TunnelFlag": "pyipvs.model",
    "TunnelType": "pyipvs.model",
}


__getattr__, __dir__ = _lazy.exports(globals(), _LAZY)

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
