#!/usr/bin/env bash
# run.sh - build every tests/fuzz/fuzz_*.c as a libFuzzer binary (ASan +
# UBSan) against the library and run each for a bounded time.
#   FUZZ_TIME=60   seconds per target (default 60; CI's smoke uses 30)
#   ONLY=name      run only targets whose name contains this
# The library is built by the Makefile (in parallel) into build-fuzz/ with
# clang and the sanitizers. Seeds: tests/fuzz/seeds/<target>/ (committed,
# small) plus, for every target, the DER vectors in ../shared/vectors/chip.
# New findings stay in build-fuzz/corpus/<target>/; crashes are written to
# build-fuzz/crash-<target>-* and fail the run.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
B=build-fuzz
T=${FUZZ_TIME:-60}
VEC=${MP_VECTORS:-$here/../shared/vectors/chip}
CC=${FUZZ_CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
# the libraries of the Makefile (a target may pull in any of libmp.a)
LIBS="$(sed -n "s/^LIBS := //p" Makefile) -pthread"
export FUZZ_DATA=$here/tests/fuzz/data

make --no-print-directory -s BUILD=$B CC="$CC" HARDEN= \
    OPT="-g -O1 -fsanitize=fuzzer-no-link $SAN" $B/libmp.a

status=0
for f in tests/fuzz/fuzz_*.c; do
    name=$(basename "$f" .c)
    [ -n "${ONLY:-}" ] && [[ "$name" != *"$ONLY"* ]] && continue
    echo "== $name (${T}s)"
    $CC -std=c11 -g -O1 -D_GNU_SOURCE -I. -Icore -Isrc/cli -Iest -Itests/fuzz -I/usr/include/p11-kit-1 \
        -fsanitize=fuzzer $SAN "$f" "$B/libmp.a" $LIBS -o "$B/$name"
    corpus="$B/corpus/$name"
    mkdir -p "$corpus"
    [ -d "tests/fuzz/seeds/$name" ] && cp -n tests/fuzz/seeds/"$name"/* "$corpus"/ 2>/dev/null || true
    cp -n "$VEC"/*.der "$corpus"/ 2>/dev/null || true
    if ! ASAN_OPTIONS=detect_leaks=1 "$B/$name" -max_total_time="$T" -max_len=4096 -timeout=10 \
            -artifact_prefix="$B/crash-$name-" -print_final_stats=1 "$corpus" > "$B/$name.log" 2>&1; then
        tail -40 "$B/$name.log"
        echo "FUZZ FAIL: $name (see $B/crash-$name-*)"
        status=1
    else
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$B/$name.log" | tail -2 | sed 's/^/  /'
    fi
done
exit $status
