#!/usr/bin/env bash
# Sets everything up, then runs all tests against pyipvs as users install it:
# the sdist is built, a wheel is built from it and repaired with auditwheel
# (libnl bundled), and that wheel, installed in a fresh venv (.venv-wheel),
# is what the tests import. Host unit tests run here; every kernel test runs
# against a real IPVS kernel (in one VM boot unless the host has IPVS). Any
# failure, a skipped kernel test, or a VM that does not come up fails the run.
#
# PYIPVS_KERNEL=6.12 ci/test.sh runs the kernel tests on another kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD

bash ci/setup.sh
echo "== lint (ruff, ruff format, mypy --strict, stub of the compiled module)"
PYTHON="$here/.venv/bin/python" bash ci/lint.sh
bash ci/build-wheel.sh
wv="$here/.venv-wheel"

# Run from tests/, with the venv's pytest script rather than `python -m`, so
# the checkout is not on sys.path and `import pyipvs` finds the installed wheel.
echo "== host tests (installed wheel)"
(cd tests && "$wv/bin/pytest" -q -p no:cacheprovider unit)

# Kernel tests: the whole suite on Debian 12's 6.1, then, on 6.12, the files
# that exercise what differs between kernel generations (netlink replies and
# dumps, the estimator, sysctls, /proc formats, faults). One VM after the
# other: two emulated VMs at once on two host cores slowed each other down
# more than running them in turn (seen: 6.12's share took 20 min beside 6.1).
# PYIPVS_KERNEL=VER runs only the whole suite on that kernel;
# `ci/vm-run.sh --kernel 6.12 CMD` runs anything on 6.12.
# --durations: the slowest tests in the log, for keeping the run short.
kernel_run() {  # kernel, pytest arguments...
  local k=$1; shift
  PATH="$wv/bin:$here/.venv/bin:$PATH" ci/vm-run.sh --kernel "$k" \
    "cd '$here/tests' && '$wv/bin/pytest' -q -p no:cacheprovider -rfEs --durations=15 $*"
}
GENERATIONS="kernel/test_testbed.py kernel/test_library.py kernel/test_library_handle.py
  kernel/test_batch.py kernel/test_snapshot.py kernel/test_sysctl.py kernel/test_conns.py
  kernel/test_faults.py"

# The traffic generator the kernel tests use, compiled here once: gcc inside
# an emulated guest takes over a minute (tests/kernel/traffic.py caches it).
(cd tests/kernel && python3 -c 'import traffic; print("trafficgen:", traffic.build())')

if [ -n "${PYIPVS_KERNEL:-}" ]; then
  echo "== kernel tests ($PYIPVS_KERNEL, installed wheel)"
  kernel_run "$PYIPVS_KERNEL" kernel
  exit
fi

echo "== kernel tests on 6.1 (all, installed wheel)"
kernel_run 6.1 kernel
# Left to 6.1 alone: the thin starts' own timeouts under a held IPVS mutex
# (the holder itself is exercised on 6.12 by the other stall tests), the
# slowest test of the 6.12 share (28-49 s of a dozen process starts).
ONE_KERNEL="--deselect tests/kernel/test_faults.py::test_stalled_thin_starts_say_what_the_full_path_says"
echo "== kernel tests on 6.12 (generation-sensitive files, installed wheel)"
kernel_run 6.12 $GENERATIONS $ONE_KERNEL
