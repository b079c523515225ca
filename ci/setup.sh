#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs to build, run and test pyipvs:
# system packages (as root), a virtualenv in .venv with the Python tools, and
# pyipvs itself built and installed into it (editable). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then
  bash ci/install-deps.sh
else
  echo "setup: not root; assuming the system packages of ci/install-deps.sh are installed" >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r ci/requirements-dev.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation -e .
