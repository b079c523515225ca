#!/usr/bin/env bash
# Builds the libFuzzer harnesses with ASan and UBSan, and runs one on request.
#   fuzz/build.sh                 build into build/fuzz/
#   fuzz/build.sh run [SECONDS]   build, then fuzz conn_fuzz from the seed corpus
# Needs clang (Debian: apt-get install -y clang). New inputs found while
# fuzzing go to build/fuzz/corpus-conn/, never into the committed seeds.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/build/fuzz}
CC=${CC:-clang}
mkdir -p "$OUT"

FLAGS=(-g -O1 -std=gnu11 -Wall -Wextra -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I "$ROOT/csrc")
"$CC" "${FLAGS[@]}" "$ROOT/fuzz/conn_fuzz.c" "$ROOT"/csrc/conn.c "$ROOT"/csrc/conn_*.c \
    -o "$OUT/conn_fuzz"
echo "built $OUT/conn_fuzz"

if [ "${1:-}" = run ]; then
    secs=${2:-300}
    mkdir -p "$OUT/corpus-conn"
    cd "$OUT"
    exec ./conn_fuzz -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
        -dict="$ROOT/fuzz/conn.dict" "$OUT/corpus-conn" "$ROOT/fuzz/corpus/conn"
fi
