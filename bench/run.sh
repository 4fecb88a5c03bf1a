#!/usr/bin/env bash
# run.sh - `make bench`: the pipeline against its limits and against the
# openssl command-line loop, in one run, as ratios measured side by side.
#
# Every pipeline measurement is bracketed by two runs of its limit (the bare
# loop through the same code, bench/dac_bench.c or bench/pbkdf2_bench.c, same
# thread count), one right before and one right after it, and is paired with
# their mean (floors the same way; bench/lib.sh bracket); its ratio is the
# median of those pairwise ratios, so a noisy shared machine moves both sides
# of a ratio together. Rates of the
# pipeline are wall-clock for the whole command (start, login, ledger, files).
#
# Environment: MATTER_PKI_BIN, MP_BENCH_BIN (set by make), BENCH_FULL=1 (adds
# the 1,000,000-device scale rows), BENCH_N (pipeline batch, default 100000),
# BENCH_NS (small batch: scale rows and 10,000-iteration factory data, default
# 10000), BENCH_RUNS (rounds, default 3; a round that would pass BENCH_BUDGET
# seconds, default 540, is skipped), BENCH_PEER_N (openssl loop devices,
# default 200), BENCH_OUT (default bench-out), BENCH_ONLY=formats (only the
# issue-20 formats: esp32-enc, esp32-secure-cert with the commissionable data,
# silabs, each against the PBKDF2 limit and the floor of its bytes, BENCH_RUNS
# rounds; BENCH_FMT_N devices each, default BENCH_NS), BENCH_ONLY=bundle (only the
# rows of the outputs a line uses, issue 14: dac issue --jobs 2 with one file per
# device against its limit and its floor, with --bundle against the same limit, and
# factory-data build json with a file per device and with --bundle, each against
# the PBKDF2 limit; BENCH_N, BENCH_NS and BENCH_RUNS apply). Writes
# BENCH_OUT/results.md and BENCH_OUT/results.json and prints the Markdown table.
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
BUDGET=${BENCH_BUDGET:-540}
ONLY=${BENCH_ONLY:-}
case $ONLY in ""|bundle|formats) ;; *) echo "bench: BENCH_ONLY=$ONLY: only 'bundle' and 'formats' are known" >&2; exit 2 ;; esac
LIGHT=0
for t in /usr/bin/time jq openssl; do
    command -v "$t" > /dev/null || { echo "bench: $t is missing (make deps installs it)" >&2; exit 1; }
done
mkdir -p "$OUTD"
OUTD=$(cd "$OUTD" && pwd)
if ls -d /tmp/mp-bench.* > /dev/null 2>&1; then
    echo "bench: warning: an earlier run's outputs in /tmp/mp-bench.* are still being deleted;" \
         "file creation is slow meanwhile, so rates may come out low" >&2
fi
W=$(mktemp -d /tmp/mp-bench.XXXXXX)
# Deleting the outputs (millions of files with BENCH_FULL) takes minutes: it runs
# detached after the report, so `make bench` returns when the measuring is done.
# (File creation on this file system is slower for a few minutes after a mass
# delete; do not start another measurement right away.)
trap 'setsid rm -rf "$W" < /dev/null > /dev/null 2>&1 &' EXIT
cd "$W"
ROWS=$W/rows.jsonl
: > "$ROWS"
T0=$(date +%s)
LOAD_START=$(uptime)
. "$HERE/lib.sh"

say "setup in $W: token, PAA, PAI, CD, chip lists ($N and $NS chips), openssl peer PAI"
export MATTER_PKI_STATE=$W/state MATTER_PKI_TOKEN=bench
unset SOFTHSM2_CONF MATTER_PKI_MODULE
unset SSL_CERT_FILE # the peer runs with OpenSSL's default trust store, as a factory script would
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
[ "$ONLY" = formats ] || q "$MP" chips simulate --count "$N" --out "$W/chips" --quiet
if [ -z "$ONLY" ]; then
    q "$MP" chips simulate --count "$NS" --out "$W/chips-small" --quiet
    peer_setup
fi

FORMATS=(nrf esp32 nxp)
HEAVY=0 # seconds spent in the once-only big rows (round 1)
heavy() { local t
    t=$(date +%s); "$@"; HEAVY=$((HEAVY + $(date +%s) - t)); }
# issue_pair KIND JOBS COUNT ORD: fresh ledger (+ chip list), order, limit, issuance; sets ORD
issue_pair() {
    fresh_ledger
    [ "$1" != gen ] && import_chips "$W/chips$([ "$3" = "$N" ] || echo -small)" "$3" $((10 + ($3 != N)))
    ORDER=$(new_order "$3")
    case $1 in
    chips|perdev) limit hsm "$2"; floor hsm-file "$2" ;;
    bundle) limit hsm "$2" ;;
    *) limit hsm-keygen "$2" ;;
    esac
    issue "$1" "$2" "$ORDER" "$3" "$4" "$W/dacs"
}
# bytes of each format's image per device (what the floor writes once per device)
declare -A IMG=([json]=3100 [nrf]=1400 [esp32]=24576 [nxp]=2300 [esp32-enc]=24576 [esp32-sc]=32768 [silabs]=5120)
fd_pair() { # fd_pair FORMAT JOBS ORDER COUNT ITERATIONS ORD [NAME "OPTIONS"]
    limit pbkdf2 "$2" "$5"
    floor pbkdf2-file "$2" "$5" "${IMG[${7:-$1}]}"
    fd "$1" "$2" "$3" "$4" "$5" "$6" "$W/fd" "${7:-$1}" "${8:-}"
}
formats_round() { # the issue-20 formats, each on a fresh order of BENCH_FMT_N (default $NS) off-chip devices
    local n=${BENCH_FMT_N:-$NS}
    gen_order "$n"
    fd_pair esp32 2 "$ORDER" "$n" 1000 66 esp32-enc "--esp32-nvs-encrypt"
    gen_order "$n"
    fd_pair esp32 2 "$ORDER" "$n" 1000 67 esp32-sc "--format esp32-secure-cert --esp32-sc-commissionable"
    gen_order "$n"
    fd_pair silabs 2 "$ORDER" "$n" 1000 68 silabs "--include-passcode"
    trash "$W/dacs-gen"
}
gen_order() { # gen_order COUNT: a fresh order of COUNT off-chip devices (not measured); sets ORDER
    ORDER=$(new_order "$1")
    trash "$W/dacs-gen"
    q "$MP" dac issue "${H[@]}" --order "$ORDER" --generate-keys --count "$1" --out-dir "$W/dacs-gen" --jobs 2 --quiet
}
round() { # round R: every paired row once; the big factory-data rows only in round 1
    local r=$1
    limit soft 1; limit soft 2; limit keygen 1; limit keygen 2
    issue_pair chips 1 "$N" 20
    [ "$r" = 1 ] && heavy fd_pair json 2 "$ORDER" "$N" 1000 50
    trash "$W/dacs"
    issue_pair chips 2 "$N" 21
    [ "$r" = 1 ] && heavy fd_pair json 1 "$ORDER" "$N" 1000 51
    trash "$W/dacs"
    # --bundle: one file for the lot, against the same bare build-and-sign limit
    issue_pair bundle 2 "${BENCH_BUNDLE_N:-$N}" 24
    trash "$W/dacs"
    issue_pair gen 1 "$N" 22
    peer 1
    [ "$r" = 1 ] && heavy fd_pair nrf 2 "$ORDER" "$N" 1000 52
    trash "$W/dacs"
    issue_pair gen 2 "$N" 23
    peer 2
    [ "$r" = 1 ] && heavy fd_pair esp32 2 "$ORDER" "$N" 1000 53
    trash "$W/dacs"
    if [ "$r" = 1 ]; then
        heavy issue_pair gen 2 "$N" 23
        heavy fd_pair nxp 2 "$ORDER" "$N" 1000 54
        trash "$W/dacs"
    fi
    # scale: the chip-list issuance and json factory data at $NS devices
    issue_pair chips 2 "$NS" 30
    fd_pair json 2 "$ORDER" "$NS" 1000 60
    trash "$W/dacs"
    fd_bundle_pair
    trash "$W/dacs-gen"
    if [ "$r" = 1 ]; then # factory data at 10,000 iterations on $NS off-chip devices
        heavy gen_order "$NS"
        heavy fd_pair json 2 "$ORDER" "$NS" 10000 55
        heavy gen_order "$NS"
        heavy fd_pair json 1 "$ORDER" "$NS" 10000 56
        trash "$W/dacs-gen"
    fi
    return 0
}

# factory data, json at 1,000 iterations on $NS off-chip devices (--jobs 2): one file per
# device against the PBKDF2 limit and its floor, then --bundle against the limit
fd_bundle_pair() {
    gen_order "$NS"
    fd_pair json 2 "$ORDER" "$NS" 1000 57
    gen_order "$NS"
    limit pbkdf2 2 1000
    fd json 2 "$ORDER" "$NS" 1000 58 "$W/fd" bundle
}
round_bundle() { # BENCH_ONLY=bundle: the rows of issue 14's outputs, each paired with its limit
    # one file per device: against the build-and-sign limit and the floor (signing plus
    # one file per device, both cores signing and one writer thread)
    issue_pair chips 2 "$N" 21
    trash "$W/dacs"
    # --layout per-device: a folder per device (what the layout costs against flat)
    issue_pair perdev 2 "$N" 25
    trash "$W/dacs"
    # --bundle: against the same bare build-and-sign limit, measured right before and after it
    issue_pair bundle 2 "${BENCH_BUNDLE_N:-$N}" 24
    trash "$W/dacs"
    fd_bundle_pair
    trash "$W/dacs-gen"
}

ROUNDS=0
for r in $(seq 1 "$RUNS"); do
    t=$(date +%s)
    if [ "$r" -gt 1 ] && [ $(( t - T0 + LIGHT )) -gt "$BUDGET" ]; then
        say "round $r skipped: another round (~$LIGHT s) would pass the ${BUDGET} s budget (BENCH_BUDGET)"
        break
    fi
    say "round $r of $RUNS ($(( t - T0 )) s so far)"
    HEAVY=0
    if [ "$ONLY" = formats ]; then fresh_ledger; formats_round; LIGHT=$(( $(date +%s) - t )); ROUNDS=$r; continue; fi
    if [ "$ONLY" = bundle ]; then round_bundle; else round "$r"; [ "$r" = 1 ] && heavy formats_round; fi
    LIGHT=$(( $(date +%s) - t - HEAVY ))
    ROUNDS=$r
done

if [ "$FULL" = 1 ] && [ -z "$ONLY" ]; then
    say "BENCH_FULL: $NBIG devices ($(( $(date +%s) - T0 )) s so far)"
    q "$MP" chips simulate --count "$NBIG" --out "$W/chips-big" --quiet
    fresh_ledger
    import_chips "$W/chips-big" "$NBIG" 12
    ORD=$(new_order "$NBIG")
    limit hsm 2
    floor hsm-file 2
    issue chips 2 "$ORD" "$NBIG" 31 "$W/dacs"
    limit pbkdf2 2 1000
    floor pbkdf2-file 2 1000 "${IMG[json]}"
    fd json 2 "$ORD" "$NBIG" 1000 61 "$W/fd"
    trash "$W/dacs"; trash "$W/chips-big"
fi

ELAPSED=$(( $(date +%s) - T0 ))
say "aggregating ($ELAPSED s)"
report "$ELAPSED" "$LOAD_START" "$(uptime)"
