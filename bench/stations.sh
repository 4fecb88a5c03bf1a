#!/usr/bin/env bash
# stations.sh - `make bench-stations`: chip-list issuance by 1, 2 and 4
# stations (processes, --jobs 1 each) on one PostgreSQL ledger against one
# station on SQLite, measured in the same run and paired: each round runs
# sqlite-1, pg-1, pg-2 and pg-4 back to back (a fresh ledger each), and a
# PostgreSQL row's ratio is taken against the SQLite run of its own round, so
# load from other users moves both sides; the table shows medians over the
# rounds. Per row: total devices/s, p50/p99 time per ledger transaction
# (MATTER_PKI_LEDGER_STATS, begin to commit), round trips per transaction,
# the share of the stations' time spent waiting for the database, CPU seconds
# per 1000 DACs of the stations and of the server, peak memory of each station
# (/usr/bin/time) and of the server (PSS of its processes, sampled), and the
# load average. PostgreSQL 15 runs in a temporary folder (Unix socket,
# synchronous_commit on).
#   BENCH_STATIONS_N       devices per run (default 20000)
#   BENCH_STATIONS_ROUNDS  rounds (default 5)
#   BENCH_STATIONS_BLOCK   --block per station (default 256)
#   BENCH_STATIONS_BUDGET  seconds (default 270): a round that would end
#                          after it is not started (at least one round runs)
# Writes BENCH_OUT/stations.md (default bench-out) and stations.jsonl (every run).
set -euo pipefail
MP=${MATTER_PKI_BIN:?set MATTER_PKI_BIN}
N=${BENCH_STATIONS_N:-20000}
ROUNDS=${BENCH_STATIONS_ROUNDS:-5}
BLOCK=${BENCH_STATIONS_BLOCK:-256}
BUDGET=${BENCH_STATIONS_BUDGET:-270}
HERE=$(cd "$(dirname "$0")" && pwd)
COMMIT=$(git -C "$HERE" rev-parse --short HEAD 2> /dev/null || echo unknown)
git -C "$HERE" diff --quiet HEAD 2> /dev/null || COMMIT="$COMMIT (with uncommitted changes)"
START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
OUTD=${BENCH_OUT:-bench-out}
mkdir -p "$OUTD"
OUTD=$(cd "$OUTD" && pwd)
T=$(mktemp -d /tmp/mp-bench-st.XXXXXX)
chmod 755 "$T"
cd "$T"
set +u
# shellcheck source=/dev/null
. "$HERE/../tests/integration/pg.sh"
set -u
trap 'cp "$PGT/log" "$OUTD/stations-server.log" 2> /dev/null; pg_stop; rm -rf "$T"' EXIT
export MATTER_PKI_STATE=$T/state
unset SOFTHSM2_CONF MATTER_PKI_MODULE MATTER_PKI_LEDGER
mkdir -p "$MATTER_PKI_STATE"
printf 'bench-PIN\n' > pin; printf '1234\n' > sopin
H=(--token bench --pin-file pin)
"$MP" token init --label bench --pin-file pin --so-pin-file sopin > /dev/null
"$MP" paa create "${H[@]}" --key-label paa --cn "Bench PAA" --vid FFF2 --out paa.pem > /dev/null
"$MP" pai create "${H[@]}" --paa-cert paa.pem --paa-key paa --key-label pai --cn "Bench PAI" --vid FFF2 --pid 8001 --out pai.pem > /dev/null
"$MP" chips simulate --count "$N" --out chips --quiet > /dev/null
# the chip list imported once per backend (token init made the SQLite ledger,
# bound to this PKI); every run starts from a copy: a file, or a database
# made from the template
CHIPS=(chips/chips.csv --signature chips/chips.csv.sig --signer chips/chipmaker.pem)
MATTER_PKI_LEDGER=$MATTER_PKI_STATE/ledger.sqlite "$MP" chips import "${CHIPS[@]}" > /dev/null
cp "$MATTER_PKI_STATE/ledger.sqlite" chips.sqlite
MATTER_PKI_LEDGER=$(pg_newdb chips) "$MP" chips import "${CHIPS[@]}" > /dev/null
pg_copydb() { psql_ postgres "CREATE DATABASE $1 TEMPLATE chips" > /dev/null && echo "host=$PGSOCK user=mp dbname=$1"; }

# this server's processes: the postmaster and its children
# shellcheck disable=SC2046 # the children, one word each
server_pids() { local pm; pm=$(head -1 "$PGT/data/postmaster.pid"); echo "$pm" $(ps -o pid= --ppid "$pm"); }
# their proportional set size (shared memory counted once), KiB; a backend
# that exits between the listing and the reading is skipped (under set -e
# and pipefail its failed read stopped the whole benchmark, and the EXIT trap
# then stopped the server under the running stations)
server_pss() { for p in $(server_pids); do awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2> /dev/null || :; done | awk '{s += $1} END {print s + 0}'; }
# CPU ticks of the server: live processes plus the children it has reaped
server_ticks() { for p in $(server_pids); do awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2> /dev/null || :; done | awk '{s += $1} END {print s + 0}'; }
load() { cut -d' ' -f1 /proc/loadavg; }

# run ROUND NAME LEDGER STATIONS: one run, one line of stations.jsonl
run() {
    local round=$1 name=$2 ledger=$3 k=$4 i peak=0 pss ts; ts=$(date +%s%N)
    export MATTER_PKI_LEDGER=$ledger
    local order; order=$("$MP" order create "${H[@]}" --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota "$N")
    rm -f stats.jsonl mem.*
    sync
    local l0; l0=$(load)
    local c0=0; [ "$name" != sqlite-1 ] && c0=$(server_ticks)
    local t0; t0=$(date +%s%N)
    local pids=()
    for i in $(seq 1 "$k"); do
        MATTER_PKI_LEDGER_STATS=$T/stats.jsonl /usr/bin/time -f '%M %U %S' -o "mem.$i" \
            "$MP" dac issue "${H[@]}" --order "$order" --out-dir "out-$name-$i" --station "st$i" --jobs 1 --block "$BLOCK" --quiet > /dev/null &
        pids+=($!)
    done
    while kill -0 "${pids[@]}" 2> /dev/null; do
        if [ "$name" != sqlite-1 ]; then pss=$(server_pss); [ "$pss" -gt "$peak" ] && peak=$pss; fi
        sleep 0.2
    done
    i=0
    for p in "${pids[@]}"; do
        i=$((i + 1))
        wait "$p" && continue
        echo "bench-stations: round $round $name: station st$i failed (exit $?); the server's log is kept in $OUTD/stations-server.log" >&2
        exit 1
    done
    local t1; t1=$(date +%s%N)
    local c1=0; [ "$name" != sqlite-1 ] && c1=$(server_ticks)
    local issued; issued=$(find out-"$name"-* -name '*.der' | wc -l)
    jq -s --arg name "$name" --argjson round "$round" --argjson k "$k" --argjson n "$issued" \
        --argjson ns "$((t1 - t0))" --argjson sticks "$((c1 - c0))" --argjson hz "$(getconf CLK_TCK)" \
        --argjson peak "$peak" --arg l0 "$l0" --arg l1 "$(load)" --arg mem "$(cat mem.*)" '
        ($ns / 1e9) as $s | ($mem | split("\n") | map(select(length > 0) | split(" ") | map(tonumber))) as $m |
        map(select(.kind != "issue")) as $L | map(select(.kind == "issue")) as $I |
        ($I | map(.run_ms) | add) as $run | {
        name: $name, round: $round, stations: $k, dacs: $n, secs: $s, rate: ($n / $s),
        transactions: ($L | map(.transactions) | add),
        p50_ms: ($L | map(.p50_ms) | sort | .[length / 2 | floor]), p99_ms: ($L | map(.p99_ms) | max),
        trips_per_tx: (($L | map(.tx_round_trips // 0) | add) / ($L | map(.transactions) | add)),
        db_wait: (($L | map(.wait_ms // 0) | add) / $run),
        sign_wait: (($I | map(.sign_wait_ms + (.sign_self_ms // 0)) | add) / $run),
        write_wait: (($I | map(.write_wait_ms) | add) / $run),
        station_cpu_per_k: (($m | map(.[1] + .[2]) | add) / $n * 1000),
        server_cpu_per_k: ($sticks / $hz / $n * 1000),
        station_mib: ($m | map(.[0] / 1024 | round)), server_mib: ($peak / 1024 | round),
        cores_busy: ((($m | map(.[1] + .[2]) | add) + $sticks / $hz) / $s),
        load_start: ($l0 | tonumber), load_end: ($l1 | tonumber)}' stats.jsonl >> runs.jsonl
    rm -rf out-"$name"-*
    echo "bench-stations: round $round $name: $(jq -r 'select(.name == "'"$name"'") | .rate | round' runs.jsonl | tail -1) DACs/s; set-up and clean-up $(( ($(date +%s%N) - ts - t1 + t0) / 1000000 )) ms" >&2
}

: > runs.jsonl
done_rounds=0
for r in $(seq 1 "$ROUNDS"); do
    # a round takes about as long as the one before it
    now=$(date +%s)
    if [ "$r" -gt 1 ] && [ $((now + (now - round_start) - START)) -gt "$BUDGET" ]; then
        echo "bench-stations: round $r not started: it would end after the budget of $BUDGET s (BENCH_STATIONS_BUDGET)" >&2
        break
    fi
    round_start=$now
    cp chips.sqlite "$MATTER_PKI_STATE/ledger.sqlite"; rm -f "$MATTER_PKI_STATE"/ledger.sqlite-*
    run "$r" sqlite-1 "$MATTER_PKI_STATE/ledger.sqlite" 1
    for k in 1 2 4; do run "$r" "pg-$k" "$(pg_copydb "r${r}k$k")" "$k"; done
    done_rounds=$r
done
cp runs.jsonl "$OUTD/stations.jsonl"
# medians over the rounds; a PostgreSQL row's ratio is the median of its
# per-round ratios against that round's SQLite run
jq -s -r --argjson ncpu "$(nproc)" '
    def med: sort | .[length / 2 | floor];
    (map(select(.name == "sqlite-1")) | map({key: (.round | tostring), value: .rate}) | from_entries) as $lite |
    group_by(.name) | sort_by(.[0].stations, (.[0].name | startswith("pg"))) | map(
        . as $g | {name: .[0].name, k: .[0].stations, dacs: .[0].dacs, runs: length, rate: (map(.rate) | med),
        ratio: (map(.rate / $lite[.round | tostring]) | med), tx: (map(.transactions) | med),
        p50: (map(.p50_ms) | med), p99: (map(.p99_ms) | med), trips: (map(.trips_per_tx) | med),
        wait: (map(.db_wait) | med), sign: (map(.sign_wait) | med), write: (map(.write_wait) | med),
        scpu: (map(.station_cpu_per_k) | med), dcpu: (map(.server_cpu_per_k) | med),
        busy: (map(.cores_busy) | med), smib: (map(.station_mib | max) | max),
        each: (map(.station_mib) | last | map(tostring) | join("/")), dmib: (map(.server_mib) | max),
        load: "\(map(.load_start) | min)-\(map(.load_end) | max)"} |
        # the station thread that talks to the ledger records chunk k while
        # the workers sign chunk k+1 and the writer writes chunk k-1 (one
        # syncfs per chunk): the stage it waits for binds; the rest of its
        # time is ledger work, and the ledger binds only when that thread
        # hardly ever waits for the others (80% or more of its time)
        .ledger = ([1 - .sign - .write, 0] | max) |
        def pct: . * 100 | round | tostring + "%";
        .split = "\(.ledger | pct) / \(.sign | pct) / \(.write | pct)" |
        .binds = (if .ledger >= 0.8
                  then "the ledger: \(.ledger | pct) of the ledger thread'"'"'s time\(if .name == "sqlite-1" then "" else ", \(.wait | pct) waiting for the server" end)"
                  elif .write >= .sign then "writing files (syncfs per chunk): the ledger thread waits for the writer \(.write | pct) of its time, for the signer \(.sign | pct)"
                  else "signing (SoftHSM, CPU): the ledger thread waits for the signer \(.sign | pct) of its time, for the writer \(.write | pct)" end) +
                 "; \(.busy * 10 | round / 10) of \($ncpu) cores busy with ours at load \(.load)") |
    (["| ledger | stations | DACs | runs | DACs/s | vs sqlite-1 | tx | p50 ms/tx | p99 ms/tx | round trips/tx | ledger/sign/write wait | station CPU s/1k | server CPU s/1k | station peak MiB (each) | server peak MiB (PSS) | load avg | binds |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---|---|"] +
     map("| \(.name) | \(.k) | \(.dacs) | \(.runs) | \(.rate | round) | \(if .name == "sqlite-1" then "1" else (.ratio * 100 | round / 100 | tostring) end) | \(.tx) | \(.p50 * 10 | round / 10) | \(.p99 * 10 | round / 10) | \(if .name == "sqlite-1" then "-" else (.trips * 10 | round / 10 | tostring) end) | \(.split) | \(.scpu * 100 | round / 100) | \(if .name == "sqlite-1" then "-" else (.dcpu * 100 | round / 100 | tostring) end) | \(.each) | \(if .name == "sqlite-1" then "-" else (.dmib | tostring) end) | \(.load) | \(.binds) |")) | join("\n")
' runs.jsonl > rows.md
ratio=$(grep '^| pg-4 ' rows.md | cut -d'|' -f7 | tr -d ' ')
{
    echo "### Stations on one ledger ($N devices per run, \`--jobs 1 --block $BLOCK\` per station, $(nproc) CPUs, $done_rounds round(s), medians)"
    echo
    echo "Commit $COMMIT, $(date -u '+%Y-%m-%d %H:%M UTC'), $(($(date +%s) - START)) s; load average (1/5/15 min) $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo
    cat rows.md
    echo
    echo "4 stations on PostgreSQL reach $ratio of one SQLite station's rate, paired per round (target 0.8)."
} | tee "$OUTD/stations.md"
