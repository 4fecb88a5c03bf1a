#!/usr/bin/env bash
# stations.sh - `make bench-stations`: chip-list issuance by 1, 2 and 4
# stations (processes, --jobs 1 each) on one PostgreSQL ledger against one
# station on SQLite, measured in the same run: total devices/s, p50/p99 time
# per ledger transaction (MATTER_PKI_LEDGER_STATS, begin to commit), peak
# memory of each station (/usr/bin/time) and of the server (RSS of its
# processes, sampled). PostgreSQL 15 runs in a temporary folder (Unix socket).
# BENCH_STATIONS_N devices per configuration (default 20000); writes
# BENCH_OUT/stations.md (default bench-out).
set -euo pipefail
MP=${MATTER_PKI_BIN:?set MATTER_PKI_BIN}
N=${BENCH_STATIONS_N:-20000}
HERE=$(cd "$(dirname "$0")" && pwd)
OUTD=${BENCH_OUT:-bench-out}
mkdir -p "$OUTD"
OUTD=$(cd "$OUTD" && pwd)
T=$(mktemp -d /tmp/mp-bench-st.XXXXXX)
cd "$T"
set +u
# shellcheck source=/dev/null
. "$HERE/../tests/integration/pg.sh"
set -u
trap 'pg_stop; rm -rf "$T"' EXIT
export MATTER_PKI_STATE=$T/state
unset SOFTHSM2_CONF MATTER_PKI_MODULE MATTER_PKI_LEDGER
mkdir -p "$MATTER_PKI_STATE"
printf 'bench-PIN\n' > pin; printf '1234\n' > sopin
H=(--token bench --pin-file pin)
"$MP" token init --label bench --pin-file pin --so-pin-file sopin > /dev/null
"$MP" paa create "${H[@]}" --key-label paa --cn "Bench PAA" --vid FFF2 --out paa.pem > /dev/null
"$MP" pai create "${H[@]}" --paa-cert paa.pem --paa-key paa --key-label pai --cn "Bench PAI" --vid FFF2 --pid 8001 --out pai.pem > /dev/null
"$MP" chips simulate --count "$N" --out chips --quiet > /dev/null

server_rss() { ps -u postgres -o rss= 2> /dev/null | awk '{s += $1} END {print s + 0}'; }

# run NAME LEDGER STATIONS: one row of the table
run() {
    local name=$1 ledger=$2 k=$3 i peak=0 rss
    export MATTER_PKI_LEDGER=$ledger
    "$MP" chips import chips/chips.csv --signature chips/chips.csv.sig --signer chips/chipmaker.pem > /dev/null
    local order; order=$("$MP" order create "${H[@]}" --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota "$N")
    rm -f stats.jsonl mem.*
    local t0; t0=$(date +%s%N)
    local pids=()
    for i in $(seq 1 "$k"); do
        MATTER_PKI_LEDGER_STATS=$T/stats.jsonl /usr/bin/time -f %M -o "mem.$i" \
            "$MP" dac issue "${H[@]}" --order "$order" --out-dir "out-$name-$i" --station "st$i" --jobs 1 --block 256 --quiet > /dev/null &
        pids+=($!)
    done
    while kill -0 "${pids[@]}" 2> /dev/null; do
        rss=$(server_rss); [ "$rss" -gt "$peak" ] && peak=$rss
        sleep 0.2
    done
    for p in "${pids[@]}"; do wait "$p"; done
    local t1; t1=$(date +%s%N)
    local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
    local issued; issued=$(find out-"$name"-* -name '*.der' | wc -l)
    local rate; rate=$(awk -v n="$issued" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    local p50 p99 tx st_mem
    tx=$(jq -s 'map(.transactions) | add' stats.jsonl)
    p50=$(jq -s 'map(.p50_ms) | sort | .[length / 2 | floor]' stats.jsonl)
    p99=$(jq -s 'map(.p99_ms) | max' stats.jsonl)
    st_mem=$(cat mem.* | sort -n | tail -1)
    [ "$name" = sqlite-1 ] && peak=0
    printf '| %s | %s | %s | %s | %s | %s | %.1f | %.1f | %s | %s |\n' "$name" "$k" "$issued" "$secs" "$rate" "$tx" \
        "$p50" "$p99" "$((st_mem / 1024))" "$([ "$peak" -gt 0 ] && echo "$((peak / 1024))" || echo -)" >> rows.md
    echo "$rate" > "rate.$name"
    rm -rf out-"$name"-*
}

: > rows.md
run sqlite-1 "$MATTER_PKI_STATE/ledger.sqlite" 1  # token init made it
for k in 1 2 4; do run "pg-$k" "$(pg_newdb "b$k")" "$k"; done
ratio=$(awk -v a="$(cat rate.pg-4)" -v b="$(cat rate.sqlite-1)" 'BEGIN { printf "%.2f", a / b }')
{
    echo "### Stations on one ledger ($N devices each, \`--jobs 1 --block 256\` per station, $(nproc) CPUs)"
    echo
    echo "| ledger | stations | DACs | s | DACs/s | transactions | p50 ms/tx | p99 ms/tx | station peak MiB | server peak MiB |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    cat rows.md
    echo
    echo "4 stations on PostgreSQL reach $ratio of one SQLite station's rate (target 0.8)."
} | tee "$OUTD/stations.md"
