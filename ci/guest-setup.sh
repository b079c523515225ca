#!/usr/bin/env bash
# Prepares a kernel for the IPVS tests and runs a command (used inside the VM,
# or directly on a host that has IPVS). Everything here is per-boot state.
#
#   guest-setup.sh 'COMMAND'
#   guest-setup.sh --from-file CMDFILE STATUSFILE   (what ci/vm-run.sh uses)
set -uo pipefail

if [ "${1:-}" = --from-file ]; then
  cmd=$(cat "$2"); statusfile=$3
else
  cmd=$1; statusfile=
fi

fail_setup() { echo "guest-setup: $*" >&2; [ -n "$statusfile" ] && echo 98 > "$statusfile"; exit 98; }

modprobe ip_vs || fail_setup "cannot load ip_vs"
modprobe dummy || fail_setup "cannot load dummy"
[ -d /proc/sys/net/ipv4/vs ] || fail_setup "ip_vs loaded but /proc/sys/net/ipv4/vs is missing"

if [ -n "$statusfile" ]; then
  # Inside the VM /etc is a throw-away overlay. The host's resolver can sit
  # inside the prefixes routed to dummy0, where lookups would wait for time-outs:
  # answer from /etc/hosts and /etc/services only, and fail fast otherwise.
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > /etc/resolv.conf
  ip link set lo up
  ip link add dummy0 type dummy 2>/dev/null
  ip link set dummy0 up
  ip addr add 10.0.0.254/8 dev dummy0 2>/dev/null
  ip addr add 192.168.255.254/16 dev dummy0 2>/dev/null
  ip addr add 172.16.255.254/12 dev dummy0 2>/dev/null
  ip -6 addr add 2001:db8::fffe/32 dev dummy0 nodad 2>/dev/null
fi

echo "guest-setup: kernel $(uname -r), IPVS ready" >&2
# vm-run.sh boots again only when this marker is missing: the command never began.
[ -n "$statusfile" ] && : > "$statusfile.started"
bash -c "$cmd"
rc=$?
[ -n "$statusfile" ] && echo "$rc" > "$statusfile"
exit $rc
