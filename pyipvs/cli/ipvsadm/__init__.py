"""`pyipvsadm`, a drop-in replacement for ipvsadm 1.31 (top layer: the CLI).

Same commands, options, listings, messages and exit statuses as ipvsadm 1.31,
over pyipvs's library. The pieces, in the order a command line meets them:
options (the switch table), tokenizer (popt's parsing), parse and spec
(values and checks, with matrix for the command/option table), commands and
listing (running it; listing_python formats what the C core does not),
restore (-R), main (entry points), quick (the console script's thin start
for the hot whole-table listings).
"""

import sys as _sys

from pyipvs import _lazy

# `entry` and `main` are imported on first use (PEP 562), so that the thin
# start (quick.py) and the other modules of this package cost no main.py and
# all it imports. Not typing.TYPE_CHECKING: typing is start-up cost too (mypy
# takes any constant of that name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

    from .main import entry as entry
    from .main import main as main
else:
    ModuleType = type(_sys)


class _Package(ModuleType):
    """This package's module object. Importing a submodule makes the import
    system set the package attribute of its name, and two submodules share
    their names with the functions this package exports: main.py (`main`)
    and entry.py (the command-line record). Those attributes are not set, so
    `pyipvs.cli.ipvsadm.entry` and `.main` stay main.py's functions, as they
    always were, whichever module was imported first."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("entry", "main") and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


__getattr__, __dir__ = _lazy.exports(globals(), {"entry": "main", "main": "main"})

__all__ = ["entry", "main"]
