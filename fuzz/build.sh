#!/usr/bin/env bash
# Builds the libFuzzer harnesses with ASan and UBSan, and runs one on request.
#   fuzz/build.sh                        build every target into build/fuzz/
#   fuzz/build.sh run TARGET [SECONDS]   build, then fuzz TARGET from its seeds
#   fuzz/build.sh runs TARGET RUNS       the same, for a number of executions
# Targets: conn (csrc/conn*.c), nl_service nl_dest nl_daemon nl_info
# nl_timeouts nl_dump nl_dest_shape (csrc/parse.c, dest_shape.c, nl.c's reply
# walker via replay.c),
# proc_stats proc_percpu proc_app (csrc/procstats.c), restore (csrc/restore_fast.c and the desired-table scan of csrc/records.c). `run SECONDS` with no
# target fuzzes conn, as before.
# Needs clang (Debian: apt-get install -y clang) and libnl-genl-3-dev. New
# inputs found while fuzzing go to build/fuzz/corpus-TARGET/, never into the
# committed seeds (fuzz/corpus/TARGET/): minimise before adding any there.
# FUZZ_JOBS (default 1) and nice keep a run polite on a shared machine.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/build/fuzz}
CC=${CC:-clang}
mkdir -p "$OUT"

FLAGS=(-g -O1 -std=gnu11 -Wall -Wextra -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I "$ROOT/csrc")
NL_CFLAGS=$(pkg-config --cflags libnl-genl-3.0 2>/dev/null || echo -I/usr/include/libnl3)
NL_LIBS=$(pkg-config --libs libnl-genl-3.0 2>/dev/null || echo -lnl-genl-3 -lnl-3)
NL_SRC=("$ROOT"/csrc/nl.c "$ROOT"/csrc/parse.c "$ROOT"/csrc/dest_shape.c "$ROOT"/csrc/replay.c "$ROOT"/csrc/ops.c
        "$ROOT"/csrc/request.c)
PROC_SRC=("$ROOT"/csrc/procstats.c "$ROOT"/csrc/conn.c "$ROOT"/csrc/conn_*.c)

declare -A NL_T=([nl_service]=T_SERVICE [nl_dest]=T_DEST [nl_daemon]=T_DAEMON
                 [nl_info]=T_INFO [nl_timeouts]=T_TIMEOUTS [nl_dump]=T_DUMP
                 [nl_dest_shape]=T_DEST_SHAPE)
declare -A PROC_T=([proc_stats]=T_STATS [proc_percpu]=T_PERCPU [proc_app]=T_APP)

build() {
    local t=$1
    if [ "$t" = conn ]; then
        "$CC" "${FLAGS[@]}" "$ROOT/fuzz/conn_fuzz.c" "$ROOT"/csrc/conn.c "$ROOT"/csrc/conn_*.c \
            -o "$OUT/conn_fuzz"
    elif [ "$t" = restore ]; then   # the restore fast path (csrc/restore_fast.c, issue 4)
        # shellcheck disable=SC2086
        "$CC" "${FLAGS[@]}" $NL_CFLAGS "$ROOT/fuzz/restore_fuzz.c" "$ROOT"/csrc/restore_fast.c \
            "$ROOT"/csrc/records.c "$ROOT"/csrc/batch.c "${NL_SRC[@]}" $NL_LIBS -o "$OUT/restore_fuzz"
    elif [ -n "${NL_T[$t]:-}" ]; then
        # shellcheck disable=SC2086
        "$CC" "${FLAGS[@]}" $NL_CFLAGS -DFUZZ_TARGET="${NL_T[$t]}" "$ROOT/fuzz/nl_fuzz.c" \
            "${NL_SRC[@]}" $NL_LIBS -o "$OUT/${t}_fuzz"
    elif [ -n "${PROC_T[$t]:-}" ]; then
        "$CC" "${FLAGS[@]}" -DFUZZ_TARGET="${PROC_T[$t]}" "$ROOT/fuzz/proc_fuzz.c" \
            "${PROC_SRC[@]}" -o "$OUT/${t}_fuzz"
    else
        echo "unknown target: $t" >&2
        exit 2
    fi
    echo "built $OUT/${t}_fuzz"
}

ALL=(conn restore "${!NL_T[@]}" "${!PROC_T[@]}")

fuzz() {   # fuzz TARGET LIMIT-FLAG
    local t=$1 limit=$2 dict=()
    mkdir -p "$OUT/corpus-$t"
    [ -f "$ROOT/fuzz/$t.dict" ] && dict=(-dict="$ROOT/fuzz/$t.dict")
    case $t in nl_*) [ -f "$ROOT/fuzz/nl.dict" ] && dict=(-dict="$ROOT/fuzz/nl.dict") ;; esac
    case $t in proc_*) [ -f "$ROOT/fuzz/proc.dict" ] && dict=(-dict="$ROOT/fuzz/proc.dict") ;; esac
    cd "$OUT"
    exec nice -n "${FUZZ_NICE:-10}" "./${t}_fuzz" "$limit" -max_len="${FUZZ_MAX_LEN:-4096}" \
        -jobs="${FUZZ_JOBS:-1}" -workers="${FUZZ_JOBS:-1}" -print_final_stats=1 \
        -artifact_prefix="$OUT/crash-$t-" "${dict[@]}" \
        "$OUT/corpus-$t" "$ROOT/fuzz/corpus/$t"
}

case "${1:-}" in
    run)
        if [[ "${2:-}" =~ ^[0-9]+$ ]] || [ -z "${2:-}" ]; then
            t=conn secs=${2:-300}
        else
            t=$2 secs=${3:-300}
        fi
        build "$t"
        fuzz "$t" -max_total_time="$secs"
        ;;
    runs)
        build "$2"
        fuzz "$2" -runs="${3:-10000000}"
        ;;
    "")
        for t in "${ALL[@]}"; do build "$t"; done
        ;;
    *)
        build "$1"
        ;;
esac
