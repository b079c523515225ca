#!/usr/bin/env bash
# Runs the kernel test suite once with the C core built under AddressSanitizer
# and UndefinedBehaviorSanitizer, leak checking on (issue 9). Not for CI: it
# is slow (every test in one emulated VM, with sanitizer overhead).
#
#   ci/asan-run.sh [--kernel VER] [PYTEST ARGS...]   default: tests/kernel
#   ci/asan-run.sh --host [PYTEST ARGS...]           run here instead (unit tests)
#
# The instrumented module is built into build/asan/pkg/pyipvs/ (a copy of the
# package), never over the tree's own build, which other work keeps using.
# Python itself is not instrumented, so the ASan runtime is preloaded
# (LD_PRELOAD) and the interpreter's own never-freed memory is suppressed
# (ci/asan.supp). Tests that start pyipvsadm or pyipvs as a child process set
# PYTHONPATH to the tree, so those children run the ordinary build; every
# in-process library call runs the instrumented one. ASAN_PYTHONPATH and
# PYTEST_PLUGINS pass extra pytest plugins through.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-/work/venv/bin/python}
out=$here/build/asan
kernel=()
host=0
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) kernel=(--kernel "$2"); shift 2 ;;
    --host) host=1; shift ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || set -- kernel

# 1. A copy of the package, then the instrumented extension inside it.
rm -rf "$out/pkg"
mkdir -p "$out/pkg" "$out/tmp"
cp -r "$here/pyipvs" "$out/pkg/"
find "$out/pkg" \( -name '*.so' -o -name '__pycache__' -o -name '*.o' \) -prune -exec rm -rf {} +
san=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1)
# From outside the tree, so the build script names the sources by absolute path.
(cd "$out/tmp" && CC=gcc CFLAGS="${san[*]}" LDFLAGS="${san[*]}" "$py" - "$out" "$here" <<'PY'
import os, sys, shutil
sys.path.insert(0, os.path.join(sys.argv[2], "csrc"))
import ffi_build
out = sys.argv[1]
so = ffi_build.ffibuilder.compile(tmpdir=os.path.join(out, "tmp"), verbose=False)
dest = os.path.join(out, "pkg", "pyipvs", os.path.basename(so))
shutil.copy(so, dest)
print("asan-run: built", dest)
PY
)

# The runtime is for the Python under test only: programs it starts (ip,
# ipvsadm, nsenter, child interpreters) must not inherit LD_PRELOAD, or their
# own leaks at exit would change their exit status. sitecustomize runs at
# interpreter start, after the runtime is loaded, and drops the variables.
cat > "$out/pkg/sitecustomize.py" <<'PY'
import os

for _name in ("LD_PRELOAD", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC"):
    os.environ.pop(_name, None)
PY

asan_rt=$(gcc -print-file-name=libasan.so)
ubsan_rt=$(gcc -print-file-name=libubsan.so)
env_vars=(
  "LD_PRELOAD=$asan_rt:$ubsan_rt"
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=86:strict_string_checks=1:detect_stack_use_after_return=1:log_path=$out/report"
  "LSAN_OPTIONS=suppressions=$here/ci/asan.supp:print_suppressions=0"
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87:log_path=$out/report"
  "PYTHONPATH=$out/pkg:$here/tests/kernel${ASAN_PYTHONPATH:+:$ASAN_PYTHONPATH}"
  "PYTEST_PLUGINS=${PYTEST_PLUGINS:-}"
  "PYTHONMALLOC=malloc"
)
rm -f "$out"/report.*
args=$(printf '%q ' "$@")
check_py="import pyipvs._pyipvs_cffi as m; assert m.__file__.startswith('$out'), m.__file__; print('asan-run: using', m.__file__)"
inner="cd $here/tests && env ${env_vars[*]} $py -c \"$check_py\" && env ${env_vars[*]} $py -m pytest -q -p no:cacheprovider $args"
set +e
if [ $host = 1 ]; then
  bash -c "$inner"
else
  PATH=$(dirname "$py"):$PATH "$here/ci/vm-run.sh" "${kernel[@]}" "$inner"
fi
rc=$?
set -e
reports=$(ls "$out"/report.* 2>/dev/null || true)
if [ -n "$reports" ]; then
  echo "asan-run: sanitizer reports:" >&2
  for f in $reports; do echo "== $f" >&2; head -60 "$f" >&2; done
  [ $rc = 0 ] && rc=86
fi
echo "asan-run: exit $rc" >&2
exit $rc
