#!/usr/bin/env bash
# Runs one shell command as root on a kernel that has IPVS, and exits with its
# status. Where the host itself has IPVS (and we are root) the command runs
# here; otherwise a throwaway VM boots a Debian distribution kernel with
# virtme-ng under qemu, sees the host's filesystem read-only and this checkout
# read-write, and runs the command after ci/guest-setup.sh has prepared it.
#
#   ci/vm-run.sh [--kernel VERSION|PATH] [--vm] 'COMMAND'
#
# PYIPVS_KERNEL  kernel to boot (a version such as 6.12 or 6.1.0-56-amd64, or a
#                vmlinuz path); default: Debian 12's 6.1.
# PYIPVS_VM_KVM  1 to use KVM; default is TCG emulation, because nested KVM on
#                the machines we run on fails inside qemu (see docs/testing.md).
# PYIPVS_VM_TIMEOUT  seconds before the VM is killed (default 2400).
# PYIPVS_VM_MEMORY   guest memory (default 2G); large connection tables need more.
#
# A VM that does not boot, or that never reaches the command, is a failure
# (exit 97), never a skip; a boot that dies before the command begins is
# tried once more first.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
kernel=${PYIPVS_KERNEL:-6.1}
force_vm=0
while [ $# -gt 1 ]; do
  case "$1" in
    --kernel) kernel=$2; shift 2 ;;
    --vm) force_vm=1; shift ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--kernel VER] [--vm] 'COMMAND'" >&2; exit 2; }
cmd=$1

host_has_ipvs() {
  [ "$(id -u)" = 0 ] || return 1
  [ -d /proc/sys/net/ipv4/vs ] && return 0
  modprobe -q ip_vs 2>/dev/null && [ -d /proc/sys/net/ipv4/vs ]
}

if [ $force_vm = 0 ] && host_has_ipvs; then
  echo "vm-run: the host has IPVS; running directly on $(uname -r)" >&2
  cd "$here" && exec bash "$here/ci/guest-setup.sh" "$cmd"
fi

# Pick the kernel image.
if [ -f "$kernel" ]; then
  image=$kernel
else
  # "6.1" must not pick 6.12: an exact version, else VERSION followed by . or -
  image=/boot/vmlinuz-$kernel
  [ -f "$image" ] || image=$(ls -1 /boot/vmlinuz-"$kernel"[.-]* 2>/dev/null | sort -V | tail -n 1 || true)
fi
[ -n "${image:-}" ] && [ -f "$image" ] || { echo "vm-run: no kernel image for '$kernel' in /boot" >&2; exit 97; }

vng=$(command -v vng || true)
[ -n "$vng" ] || vng="$here/.venv/bin/vng"
[ -x "$vng" ] || { echo "vm-run: virtme-ng (vng) not found; run ci/setup.sh" >&2; exit 97; }
# vng calls virtme-run and friends from its own bin directory.
export PATH="$(dirname "$vng"):$PATH"

accel=(--disable-kvm)
[ "${PYIPVS_VM_KVM:-0}" = 1 ] && accel=()

# One private state directory per run, so concurrent runs do not collide.
mkdir -p "$here/.vmtmp"
state=$(mktemp -d "$here/.vmtmp/run.XXXXXX")
trap 'rm -rf "$state"' EXIT
printf '%s\n' "$cmd" > "$state/cmd"

boot() {
  echo "vm-run: booting $(basename "$image") (${accel[*]:-kvm})" >&2
  set +e
  cd "$here"
  timeout --kill-after=30 "${PYIPVS_VM_TIMEOUT:-2400}" \
    "$vng" --run "$image" "${accel[@]}" --memory "${PYIPVS_VM_MEMORY:-2G}" --cpus 2 --rwdir="$here" \
    --exec "bash $here/ci/guest-setup.sh --from-file $state/cmd $state/status" \
    </dev/null 2>&1 | cat
  # Through a pipe: qemu reopens a redirected stdout with truncation, which
  # would wipe what the caller logged before the VM started.
  rc=${PIPESTATUS[0]}
  set -e
}
boot
# A boot that died before the command began (seen once: vng exit 255 with no
# output, right after another VM; the same kernel booted fine next time) gets
# one more boot. A command that began and left no status is never re-run.
if [ ! -f "$state/status" ] && [ ! -f "$state/status.started" ] && [ "$rc" != 124 ]; then
  echo "vm-run: the VM stopped before the command began (vng exit $rc); booting once more" >&2
  boot
fi
if [ ! -f "$state/status" ]; then
  echo "vm-run: the VM never ran the command (vng exit $rc): failing" >&2
  exit 97
fi
status=$(cat "$state/status")
echo "vm-run: command exited $status in the VM" >&2
exit "$status"
