#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build pyipvs and to run its
# kernel tests in a throwaway VM (see docs/testing.md). Idempotent; root only.
set -euo pipefail

PKGS=(
  # build
  gcc pkg-config libnl-3-dev libnl-genl-3-dev
  # the interpreter the tests run pyipvs with (ci/build-wheel.sh: TEST_PYTHON)
  python3 python3-venv
  # the real-kernel test bed: qemu, a Debian kernel with ip_vs modules, busybox
  # for virtme-ng's initramfs, and the reference ipvsadm 1.31
  qemu-system-x86 linux-image-amd64 busybox-static ipvsadm iproute2 kmod
  # a second, newer kernel generation (bookworm-security): fast seq_file /proc
  linux-image-6.12-amd64
  # traffic for data-path and connection-table tests
  socat
  # pyipvs top is driven in a real terminal under tmux (tests/kernel/test_top.py)
  tmux
  # benchmarks/bench_restore.py: programs' peak RSS (GNU time)
  time
  # nm: tests/unit/test_build_symbols.py (gcc pulls binutils in; named for clarity)
  binutils
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
