"""`pyipvsadm`, a drop-in replacement for ipvsadm 1.31 (top layer: the CLI).

Same commands, options, listings, messages and exit statuses as ipvsadm 1.31,
over pyipvs's library. The pieces, in the order a command line meets them:
options (the switch table), tokenizer (popt's parsing), parse and spec
(values and checks, with matrix for the command/option table), commands and
listing (running it; listing_python formats what the C core does not),
restore (-R), main (entry points).
"""

from __future__ import annotations

from .main import entry, main

__all__ = ["entry", "main"]
