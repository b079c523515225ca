#!/usr/bin/env bash
# The main job: set everything up, then program a real IPVS kernel with pyipvs
# and list the result with pyipvs, the real ipvsadm and pyipvsadm.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
bash ci/setup.sh
PATH="$here/.venv/bin:$PATH" ci/vm-run.sh "cd '$here' && '$here/.venv/bin/python' examples/demo.py"
