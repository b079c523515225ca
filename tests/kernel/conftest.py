"""Fixtures for tests that need a real IPVS kernel (run them through ci/vm-run.sh).

Every test gets a fresh network namespace, which has its own IPVS table,
connection table and destination trash list, so tests start from an empty
table and cannot see each other. The real ipvsadm 1.31 runs in the same
namespace as a second opinion.

These tests never skip: on a machine without IPVS (or without root) the whole
session fails at the start, because a kernel test that did not run must not
look like one that passed.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

IPVSADM = "/usr/sbin/ipvsadm"

# Addresses routed to dummy0 in every test namespace: adding a real server
# fails with EINVAL unless its address is routable.
NETNS_SETUP = """\
link set lo up
link add dummy0 type dummy
link set dummy0 up
address add 10.0.0.254/8 dev dummy0
address add 192.168.255.254/16 dev dummy0
address add 172.16.255.254/12 dev dummy0
address add 2001:db8::fffe/32 dev dummy0 nodad
"""

_counter = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.kernel)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kernel: needs a real IPVS kernel (runs in the VM)")


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # An expected failure ran (and is listed by pytest); only real skips count.
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A skipped kernel test is a test that did not run: the run fails.
    if _skipped and session.exitstatus == 0:
        print(f"\nkernel tests skipped (counted as failure): {', '.join(_skipped)}")
        session.exitstatus = 1


# IPVS modules with per-namespace state. The kernel (seen on 6.1) loads a
# scheduler or persistence engine on first use from inside the netlink
# request, holding the IPVS mutex; the module's init then waits for the
# lock on network namespaces (register_pernet_subsys), which a namespace
# being deleted holds while it waits for the IPVS mutex to flush its
# services: a deadlock of every IPVS user, as tests that add services while
# others drop namespaces saw (ip_vs_pe_sip, via nf_conntrack). Loaded up
# front, and again wherever a test unloads IPVS, they are never loaded
# mid-test. Schedulers without such state (rr, sed, ...) stay on demand.
PERNET_MODULES = ("ip_vs_lblc", "ip_vs_lblcr", "ip_vs_pe_sip", "ip_vs_ftp")


def load_ipvs_modules() -> None:
    subprocess.run(["modprobe", "-a", "ip_vs", *PERNET_MODULES], check=False)


@pytest.fixture(scope="session", autouse=True)
def _require_ipvs() -> None:
    if os.geteuid() != 0:
        pytest.fail("kernel tests need root: run them with ci/vm-run.sh", pytrace=False)
    load_ipvs_modules()
    if not os.path.isdir("/proc/sys/net/ipv4/vs"):
        pytest.fail("IPVS is not available in this kernel: run with ci/vm-run.sh", pytrace=False)
    if not os.access(IPVSADM, os.X_OK):
        pytest.fail(f"the reference {IPVSADM} is missing", pytrace=False)


@dataclass(frozen=True)
class Netns:
    """A throw-away network namespace with lo and dummy0 up."""

    name: str

    @property
    def path(self) -> str:
        return f"/run/netns/{self.name}"

    def run(
        self, argv: Sequence[str], input: str | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run a program inside the namespace (network only)."""
        return subprocess.run(
            ["nsenter", f"--net={self.path}", *argv],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            check=check,
        )

    def ipvsadm(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the real ipvsadm 1.31 in the namespace."""
        return self.run([IPVSADM, *args], input=input)

    def ipvsadm_out(self, *args: str) -> str:
        """stdout of a real ipvsadm call that must succeed."""
        r = self.ipvsadm(*args)
        assert r.returncode == 0, f"ipvsadm {' '.join(args)} failed: {r.stderr}"
        return r.stdout


def console_script(name: str) -> str:
    """The installed console script `name` (pyipvsadm, pyipvs): beside this
    interpreter, else on PATH; a test that needs it fails without it."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    found = here if os.access(here, os.X_OK) else shutil.which(name)
    if found is None:
        pytest.fail(f"no installed {name} console script", pytrace=False)
    return found


def make_netns() -> Netns:
    name = f"pyipvs-{os.getpid()}-{next(_counter)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "-batch", "-"], input=NETNS_SETUP, text=True, check=True)
    return Netns(name)


def drop_netns(ns: Netns) -> None:
    subprocess.run(["ip", "netns", "del", ns.name], check=False)


@pytest.fixture
def netns() -> Iterator[Netns]:
    """A fresh namespace for one test (empty IPVS table)."""
    ns = make_netns()
    try:
        yield ns
    finally:
        drop_netns(ns)


@pytest.fixture
def netns_pair() -> Iterator[tuple[Netns, Netns]]:
    """Two fresh namespaces, e.g. one for ipvsadm and one for pyipvsadm."""
    a, b = make_netns(), make_netns()
    try:
        yield a, b
    finally:
        drop_netns(a)
        drop_netns(b)
