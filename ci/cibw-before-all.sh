#!/bin/sh
# cibuildwheel's before-all (pyproject.toml [tool.cibuildwheel]): runs once in
# each build container, in the unpacked sdist. Installs libnl's headers and
# libraries with the image's package manager, then records in
# LICENSES/libnl.txt (which ships in the wheel) exactly which libnl package
# auditwheel is about to bundle.
#
#   manylinux_2_28 (AlmaLinux 8): dnf/yum, libnl3-devel
#   musllinux_1_2 (Alpine):       apk, libnl3-dev (+ linux-headers for <linux/netlink.h>)
#
# POSIX sh: Alpine's images have no bash by default.
set -eu
cd "$(dirname "$0")/.."

if command -v apk >/dev/null 2>&1; then
  apk add --no-cache libnl3-dev linux-headers pkgconf
  pkg="libnl3 $(apk info -e -v libnl3 | sed 's/^libnl3-//') of Alpine Linux $(cat /etc/alpine-release)"
elif command -v dnf >/dev/null 2>&1 || command -v yum >/dev/null 2>&1; then
  pm=$(command -v dnf || command -v yum)
  # libnl3-devel is in BaseOS on AlmaLinux 8; look in PowerTools/CRB too, in
  # case a later image moves it.
  "$pm" install -y libnl3-devel pkgconfig ||
    "$pm" install -y --enablerepo=powertools libnl3-devel pkgconfig ||
    "$pm" install -y --enablerepo=crb libnl3-devel pkgconfig
  . /etc/os-release
  pkg="$(rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}' libnl3) of $PRETTY_NAME"
else
  echo "cibw-before-all: no apk, dnf or yum in this image" >&2
  exit 1
fi

pkg-config --modversion libnl-genl-3.0

notice=LICENSES/libnl.txt
[ -f "$notice" ] || { echo "cibw-before-all: $notice missing from the sdist" >&2; exit 1; }
sed -i '/^(none recorded/,$d' "$notice"
printf 'This wheel bundles the libraries of %s, unmodified.\n' "$pkg" >> "$notice"
tail -n 3 "$notice"
