"""`pyipvs exporter`: serve a namespace's IPVS metrics to Prometheus (top
layer: a subcommand of the extended CLI over pyipvs.exporter).

The HTTP server listens in the namespace pyipvs runs in; `--netns` only
picks the namespace whose IPVS state is read, so one exporter outside can
watch a director namespace that has no route to the monitoring network.
prometheus_client is an optional dependency (`pip install pyipvs[exporter]`)
and is imported only when this subcommand runs.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType
from typing import IO

DEFAULT_LISTEN = ":9917"


def parse_listen(text: str) -> tuple[str, int]:
    """'ADDR:PORT', '[V6ADDR]:PORT' or ':PORT' (every address) -> (addr, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected ADDR:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise argparse.ArgumentTypeError(f"write an IPv6 address in brackets: [{host}]:{port}")
    return host or "0.0.0.0", int(port)


def setup(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--listen",
        type=parse_listen,
        default=parse_listen(DEFAULT_LISTEN),
        metavar="ADDR:PORT",
        help=f"where to serve /metrics (default {DEFAULT_LISTEN}: every IPv4 address)",
    )
    # SUPPRESS: the top-level --netns stays in force unless given here too.
    p.add_argument(
        "--netns",
        default=argparse.SUPPRESS,
        help="network namespace to read (a name under /run/netns or a path)",
    )
    p.add_argument(
        "--max-age",
        type=float,
        default=None,
        metavar="SECONDS",
        help="serve a reading again while younger than this (default 1; 0: read every scrape)",
    )
    p.add_argument("--once", action="store_true", help="print one scrape's text to stdout and exit")


def cmd_exporter(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    try:
        from prometheus_client import generate_latest

        from pyipvs.exporter import IPVSCollector, registry_for, start_server
        from pyipvs.exporter.collector import DEFAULT_MAX_AGE
    except ImportError as e:
        stderr.write(
            f"pyipvs exporter: {e}; install prometheus_client (pip install 'pyipvs[exporter]')\n"
        )
        return 1
    max_age = DEFAULT_MAX_AGE if args.max_age is None else args.max_age
    if not max_age >= 0:
        stderr.write("pyipvs exporter: --max-age must be 0 or more seconds\n")
        return 2
    logger = logging.getLogger("pyipvs.exporter")
    handler = logging.StreamHandler(stderr)
    handler.setFormatter(logging.Formatter("pyipvs exporter: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    collector = IPVSCollector(getattr(args, "netns", None), max_age=max_age)
    try:
        if args.once:
            stdout.write(generate_latest(registry_for(collector)).decode())
            return 0
        addr, port = args.listen
        try:
            httpd, thread = start_server(collector, addr, port)
        except OSError as e:
            stderr.write(f"pyipvs exporter: cannot listen on {addr}:{port}: {e.strerror or e}\n")
            return 1
        logger.info("serving on %s:%d", addr, httpd.server_port)
        _wait_for_signal()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
        return 0
    finally:
        collector.close()
        logger.removeHandler(handler)


def _wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT (Ctrl-C)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(3600):
            pass
    finally:
        for s, h in old.items():
            signal.signal(s, h)
