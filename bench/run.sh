#!/usr/bin/env bash
# run.sh - `make bench`: the pipeline against its limits and against the
# openssl command-line loop, in one run, as ratios measured side by side.
#
# Every pipeline measurement is preceded by a run of its limit (the bare loop
# through the same code, bench/dac_bench.c or bench/pbkdf2_bench.c, same
# thread count), and its ratio is the median of those pairwise ratios, so a
# noisy shared machine moves both sides of a ratio together. Rates of the
# pipeline are wall-clock for the whole command (start, login, ledger, files).
#
# Environment: MATTER_PKI_BIN, MP_BENCH_BIN (set by make), BENCH_FULL=1 (adds
# the 1,000,000-device scale rows), BENCH_N (pipeline batch, default 100000),
# BENCH_NS (small batch: scale rows and 10,000-iteration factory data, default
# 10000), BENCH_RUNS (rounds, default 3), BENCH_PEER_N (openssl loop devices,
# default 200), BENCH_OUT (default bench-out). Writes BENCH_OUT/results.md and
# BENCH_OUT/results.json and prints the Markdown table.
set -euo pipefail
MP=${MATTER_PKI_BIN:?set MATTER_PKI_BIN}
BB=${MP_BENCH_BIN:?set MP_BENCH_BIN}
HERE=$(cd "$(dirname "$0")" && pwd)
PRODUCT=$HERE/../examples/product.json
N=${BENCH_N:-100000}
NS=${BENCH_NS:-10000}
NBIG=${BENCH_NBIG:-1000000}
RUNS=${BENCH_RUNS:-3}
NPEER=${BENCH_PEER_N:-200}
FULL=${BENCH_FULL:-0}
OUTD=${BENCH_OUT:-bench-out}
for t in /usr/bin/time jq openssl; do
    command -v "$t" > /dev/null || { echo "bench: $t is missing (make deps installs it)" >&2; exit 1; }
done
mkdir -p "$OUTD"
OUTD=$(cd "$OUTD" && pwd)
W=$(mktemp -d /tmp/mp-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
ROWS=$W/rows.jsonl
: > "$ROWS"
T0=$(date +%s)
LOAD_START=$(uptime)
. "$HERE/lib.sh"

say "setup in $W: token, PAA, PAI, CD, chip lists ($N and $NS chips), openssl peer PAI"
export MATTER_PKI_STATE=$W/state MATTER_PKI_TOKEN=bench
unset SOFTHSM2_CONF MATTER_PKI_MODULE
mkdir -p "$MATTER_PKI_STATE"
( umask 077; od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$W/user.pin"
  od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$W/so.pin" )
MATTER_PKI_PIN=$(cat "$W/user.pin")
export MATTER_PKI_PIN # read by dac_bench (the bench programs take no PIN option)
H=(--token bench --pin-file "$W/user.pin" --operator bench)
q "$MP" token init --label bench --pin-file "$W/user.pin" --so-pin-file "$W/so.pin"
q "$MP" paa create "${H[@]}" --key-label b-paa --cn "Bench PAA" --vid FFF2 --out "$W/paa.pem"
q "$MP" pai create "${H[@]}" --paa-cert "$W/paa.pem" --paa-key b-paa --key-label b-pai \
    --cn "Bench PAI" --vid FFF2 --pid 8001 --out "$W/pai.pem"
q "$MP" cd create-signer "${H[@]}" --key-label b-cd --cn "Bench CD signer" --out "$W/cd-signer.pem"
q "$MP" cd create "${H[@]}" --signer-cert "$W/cd-signer.pem" --signer-key b-cd --product "$PRODUCT" \
    --authorized-paa "$W/paa.pem" --out "$W/cd.der"
q "$MP" chips simulate --count "$N" --out "$W/chips" --quiet
q "$MP" chips simulate --count "$NS" --out "$W/chips-small" --quiet
peer_setup

FORMATS=(nrf esp32 nxp)
for r in $(seq 1 "$RUNS"); do
    say "round $r of $RUNS ($(( $(date +%s) - T0 )) s so far)"
    limit soft 1; limit soft 2; limit keygen 1; limit keygen 2
    # chip-list import and issuance, --jobs 1; then factory data json --jobs 2 on it
    fresh_ledger
    import_chips "$W/chips" "$N" 10
    ORD=$(new_order "$N")
    limit hsm 1
    issue chips 1 "$ORD" "$N" 20 "$W/dacs"
    limit pbkdf2 2 1000
    fd json 2 "$ORD" "$N" 1000 50 "$W/fd"
    rm -rf "$W/dacs"
    # chip-list issuance --jobs 2 (its order also serves factory data --jobs 1 once)
    fresh_ledger
    import_chips "$W/chips" "$N" 10
    ORD=$(new_order "$N")
    limit hsm 2
    issue chips 2 "$ORD" "$N" 21 "$W/dacs"
    if [ "$r" = 1 ]; then
        limit pbkdf2 1 1000
        fd json 1 "$ORD" "$N" 1000 51 "$W/fd"
    fi
    rm -rf "$W/dacs"
    # --generate-keys issuance --jobs 1, the openssl loop, then one platform format
    fresh_ledger
    ORD=$(new_order "$N")
    limit hsm-keygen 1
    issue gen 1 "$ORD" "$N" 22 "$W/dacs"
    peer 1
    f=${FORMATS[$(( (r - 1) % 3 ))]}
    limit pbkdf2 2 1000
    fd "$f" 2 "$ORD" "$N" 1000 52 "$W/fd"
    rm -rf "$W/dacs"
    # --generate-keys issuance --jobs 2 and two openssl loops
    fresh_ledger
    ORD=$(new_order "$N")
    limit hsm-keygen 2
    issue gen 2 "$ORD" "$N" 23 "$W/dacs"
    peer 2
    rm -rf "$W/dacs"
    # scale: the same chip-list issuance and json factory data at $NS devices
    fresh_ledger
    import_chips "$W/chips-small" "$NS" 11
    ORD=$(new_order "$NS")
    limit hsm 2
    issue chips 2 "$ORD" "$NS" 30 "$W/dacs"
    limit pbkdf2 2 1000
    fd json 2 "$ORD" "$NS" 1000 60 "$W/fd"
    # factory data at 10,000 iterations on $NS off-chip devices
    ORD=$(new_order "$NS")
    q "$MP" dac issue "${H[@]}" --order "$ORD" --generate-keys --count "$NS" --out-dir "$W/dacs-gen" --jobs 2 --quiet
    limit pbkdf2 2 10000
    fd json 2 "$ORD" "$NS" 10000 55 "$W/fd"
    if [ "$r" = 1 ]; then
        ORD=$(new_order "$NS")
        q "$MP" dac issue "${H[@]}" --order "$ORD" --generate-keys --count "$NS" --out-dir "$W/dacs-gen2" --jobs 2 --quiet
        limit pbkdf2 1 10000
        fd json 1 "$ORD" "$NS" 10000 56 "$W/fd"
    fi
    rm -rf "$W/dacs" "$W/dacs-gen" "$W/dacs-gen2"
done

if [ "$FULL" = 1 ]; then
    say "BENCH_FULL: $NBIG devices ($(( $(date +%s) - T0 )) s so far)"
    q "$MP" chips simulate --count "$NBIG" --out "$W/chips-big" --quiet
    fresh_ledger
    import_chips "$W/chips-big" "$NBIG" 12
    ORD=$(new_order "$NBIG")
    limit hsm 2
    issue chips 2 "$ORD" "$NBIG" 31 "$W/dacs"
    limit pbkdf2 2 1000
    fd json 2 "$ORD" "$NBIG" 1000 61 "$W/fd"
    rm -rf "$W/dacs" "$W/chips-big"
fi

ELAPSED=$(( $(date +%s) - T0 ))
say "aggregating ($ELAPSED s)"
report "$ELAPSED" "$LOAD_START" "$(uptime)"
