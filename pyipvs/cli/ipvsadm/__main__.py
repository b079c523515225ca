"""`python -m pyipvs.cli.ipvsadm`: pyipvsadm without the console script.

Python puts this file's path in argv[0]; messages that quote the program
name say `ipvsadm` instead, as the command this module stands in for.
"""

from __future__ import annotations

import sys

from .main import entry

if __name__ == "__main__":
    sys.argv[0] = "ipvsadm"
    entry()
