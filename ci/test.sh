#!/usr/bin/env bash
# Sets everything up, then runs all tests: host unit tests here, then every
# kernel test against a real IPVS kernel (in one VM boot unless the host has
# IPVS). Any failure, or a VM that does not come up, fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD

bash ci/setup.sh
py="$here/.venv/bin/python"

echo "== host tests"
"$py" -m pytest -q -p no:cacheprovider tests/unit

echo "== kernel tests (${PYIPVS_KERNEL:-6.1})"
PATH="$here/.venv/bin:$PATH" ci/vm-run.sh \
  "cd '$here' && '$py' -m pytest -q -p no:cacheprovider tests/kernel"
