"""What `pyipvs apply` and `diff` say and read before any planning: the
file formats, telling them apart, and the one-line summary of a plan
(bottom of pyipvs.reconcile: no imports beyond `os`).

It stands alone so that the `pyipvs` console script's thin start
(pyipvs/cli/quick_pyipvs.py) can recognise a save file and print the summary
of a plan with nothing to do, without loading the model or the planner;
desired.py and render.py use the same functions.
"""

import os

FORMATS = ("auto", "save", "json", "yaml")


def format_of_name(name: str) -> str:
    """A file's format by its name's extension ("auto": look at the content)."""
    ext = os.path.splitext(name)[1].lower()
    return {".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(ext, "auto")


def sniff(text: str) -> str:
    """The format of `text`: JSON if it starts with { or [, the save format
    if its first line starts with an ipvsadm switch, else YAML."""
    # Line by line as str.splitlines() splits, without splitting the whole
    # text: only the first line that is not blank or a comment counts.
    pos, end = 0, len(text)
    while pos < end:
        stop = text.find("\n", pos)
        if stop < 0:
            stop = end
        for line in text[pos:stop].splitlines():
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            if s[0] in "{[":
                return "json"
            if s.startswith("ipvsadm") or (s[0] == "-" and len(s) > 1 and s[1] != " "):
                return "save"
            return "yaml"
        pos = stop + 1
    return "save"  # nothing but blanks and comments: an empty table


def summary_line(
    services: "tuple[int, int, int, int]", servers: "tuple[int, int, int, int, int]", ignored: int
) -> str:
    """The summary of a plan: services added, edited, deleted and unchanged;
    servers added, edited, drained, deleted and unchanged; desired services
    the scope left out."""
    out = (
        "services: {} added, {} edited, {} deleted, {} unchanged; "
        "servers: {} added, {} edited, {} drained, {} deleted, {} unchanged"
    ).format(*services, *servers)
    if ignored:
        out += f"; {ignored} desired services outside the scope ignored"
    return out
