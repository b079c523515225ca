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

echo "== kernel tests (${PYIPVS_KERNEL:-6.1}, installed wheel)"
PATH="$wv/bin:$here/.venv/bin:$PATH" ci/vm-run.sh \
  "cd '$here/tests' && '$wv/bin/pytest' -q -p no:cacheprovider kernel"
