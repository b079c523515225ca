"""Re-exports imported on first use (PEP 562), for the package inits of
pyipvs, pyipvs._native, pyipvs.cli.ipvsadm and pyipvs.reconcile (bottom
layer: no pyipvs imports).

A package lists its names with the module that defines each (a name
without a dot is a submodule of the package) and binds the two functions
this returns as its module `__getattr__` and `__dir__`. A name is imported
when first asked for and then kept in the package's namespace, so the
lookup runs once. Nothing here may import more than `sys`: these packages
are on the paths of the thin starts (pyipvs/cli/ipvsadm/quick.py,
pyipvs/cli/quick_pyipvs.py).
"""

import sys

TYPE_CHECKING = False  # not typing's: typing is start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable


def exports(
    namespace: "dict[str, object]", table: "dict[str, str]"
) -> "tuple[Callable[[str], object], Callable[[], list[str]]]":
    """`__getattr__` and `__dir__` for the package whose globals() is namespace."""
    package = str(namespace["__name__"])

    def __getattr__(name: str) -> object:
        where = table.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = where if "." in where else f"{package}.{where}"
        __import__(module)
        value = getattr(sys.modules[module], name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *table})

    return __getattr__, __dir__
