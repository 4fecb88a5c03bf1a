#!/usr/bin/env bash
# run.sh - build every tests/fuzz/fuzz_*.c as a libFuzzer binary against the
# library sources and run each for a bounded time.
#   FUZZ_TIME=60   seconds per target (default 60)
#   ONLY=name      run only targets whose name contains this
# Seeds: tests/fuzz/seeds/<target>/ (committed) plus, for every target, the
# DER vectors in ../shared/vectors/chip. New findings stay in
# build-fuzz/corpus/<target>/; crashes in build-fuzz/crash-*.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
B=build-fuzz
T=${FUZZ_TIME:-60}
VEC=${MP_VECTORS:-$here/../shared/vectors/chip}
CC=${FUZZ_CC:-clang}
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
CFLAGS="-std=c11 -g -O1 -D_GNU_SOURCE -DMP_VERSION=\"fuzz\" -I. -Icore -Isrc/cli -I/usr/include/p11-kit-1"
LIBS="-lp11 -lssl -lcrypto -ljansson -lsqlite3 -lqrencode -ldl -lm -pthread"
mkdir -p "$B/obj"

# The library: every stage source (not src/, whose commands are not fuzzed).
objs=()
for src in $(ls core/*.c src/cli/*.c paa/*.c pai/*.c chips/*.c order/*.c dac/*.c ledger/*.c certdecl/*.c factory-data/*.c onboarding/*.c dcl-export/*.c verify/*.c 2>/dev/null | grep -v '/cmd_'); do
    o="$B/obj/${src%.c}.o"
    mkdir -p "$(dirname "$o")"
    if [ ! -e "$o" ] || [ "$src" -nt "$o" ]; then
        $CC $CFLAGS $SAN -c "$src" -o "$o"
    fi
    objs+=("$o")
done
rm -f "$B/libmp-fuzz.a"
ar rcs "$B/libmp-fuzz.a" "${objs[@]}"

status=0
for f in tests/fuzz/fuzz_*.c; do
    name=$(basename "$f" .c)
    [ -n "${ONLY:-}" ] && [[ "$name" != *"$ONLY"* ]] && continue
    echo "== $name (${T}s)"
    $CC $CFLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all "$f" "$B/libmp-fuzz.a" $LIBS -o "$B/$name"
    corpus="$B/corpus/$name"
    mkdir -p "$corpus"
    [ -d "tests/fuzz/seeds/$name" ] && cp -n tests/fuzz/seeds/"$name"/* "$corpus"/ 2>/dev/null || true
    cp -n "$VEC"/*.der "$corpus"/ 2>/dev/null || true
    if ! ASAN_OPTIONS=detect_leaks=1 "$B/$name" -max_total_time="$T" -max_len=4096 \
            -artifact_prefix="$B/crash-$name-" -print_final_stats=1 "$corpus" 2>&1 | tail -15; then
        echo "FUZZ FAIL: $name (see $B/crash-$name-*)"
        status=1
    fi
done
exit $status
