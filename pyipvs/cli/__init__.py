"""Command-line front ends of pyipvs (top layer: over the library).

`pyipvs.cli.ipvsadm` is `pyipvsadm`, the drop-in for ipvsadm 1.31;
`pyipvs.cli.pyipvs` is the extended `pyipvs` command. Each exposes
`main(argv, stdin, stdout, stderr) -> int` and an `entry()` console script.
"""
