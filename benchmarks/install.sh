#!/usr/bin/env bash
# Installs this tree's pyipvs for the benchmarks, as a user installs it: a
# wheel built from the tree, in a fresh venv outside the repository
# (PYIPVS_BENCH_VENV, default /tmp/pyipvs-bench-venv), with the extras the
# benchmarks use. benchmarks/installed.py says why outside, and checks the
# stamp written last. Run it on the host before ci/vm-run.sh; the VM sees
# the host's /tmp (read-only, under its own overlay).
#
# The venv's own pip, brought up to date, installs the wheel, as CI's
# .venv-wheel does: the console scripts are the installer's text, and pip
# 23.2.1 (the one ensurepip and this repository's .venv carry) writes scripts
# that import `re` to tidy argv[0]. That import costs 0.30 s of every start
# in the emulated VM (0.77 s against 0.47 s for `python -c pass`, 2026-11-28),
# a third of a 1,000 x 10 `pyipvsadm -R`; pip 26.3's scripts do not import it.
#
# PYTHON: the interpreter that builds the wheel (default .venv's).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${PYIPVS_BENCH_VENV:-/tmp/pyipvs-bench-venv}
py=${PYTHON:-.venv/bin/python}
out=build/bench-wheel
# The distribution's interpreter, as for the tests (ci/build-wheel.sh: TEST_PYTHON).
base=${PYIPVS_TEST_PYTHON:-/usr/bin/python3}

rm -rf "$venv" "$out"
"$base" -m venv "$venv"
"$venv/bin/python" -m pip install -q -U pip
"$py" -m pip wheel -q --no-deps --no-build-isolation -w "$out" .
"$venv/bin/python" -m pip install -q "$out"/pyipvs-*.whl "prometheus_client>=0.17" "PyYAML>=5.1"
if grep -q '^import re' "$venv/bin/pyipvsadm"; then
  echo "install.sh: the installer's console scripts import re (see above)" >&2
  exit 1
fi
PYIPVS_BENCH_VENV=$venv "$py" benchmarks/installed.py --stamp
PYIPVS_BENCH_VENV=$venv "$py" benchmarks/installed.py
