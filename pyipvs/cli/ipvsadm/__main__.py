"""`python -m pyipvs.cli.ipvsadm`: pyipvsadm without the console script,
with the same thin start for the hot listings (quick.py).

Python puts this file's path in argv[0]; messages that quote the program
name say `ipvsadm` instead, as the command this module stands in for.
"""

import sys

from .quick import entry

if __name__ == "__main__":
    sys.argv[0] = "ipvsadm"
    entry()
