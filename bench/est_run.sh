#!/usr/bin/env bash
# est_run.sh - `matter-pki serve` under load, part of `make bench`; alone:
#   make bench-est                       (EST_SECONDS=8 per run)
#   BENCH_FULL=1 make bench-est          (30 s per run)
#   MATTER_PKI_BIN=build/matter-pki MP_BENCH_BIN=build/bench bash bench/est_run.sh [sqlite|pg|both]
#
# For each ledger (SQLite, then a PostgreSQL 15 started here in a temporary
# folder on a Unix socket) and 1, 4, 16 and 64 stations: a fresh copy of the
# same ledger, the HSM signing limit measured just before (bench/dac_bench:
# the bare build-and-sign loop through the token, as many threads as serve
# has signing workers), then the server with S stations enrolling pre-made
# CSRs over keep-alive mTLS for EST_SECONDS (closed loop: each station sends
# its next CSR when the last is answered). Next to each run, from the
# server's /metrics for that run: the signing stage's rate (DACs / seconds
# the workers signed), the ledger's batch limit (DACs / seconds the
# committer spent in transactions: what the ledger sustains at the groups it
# got), DACs per transaction, and the server's CPU per DAC. At 64 stations
# also an open-loop run at EST_RATE DACs/s (default 1000; latency counted
# from each request's scheduled time): a closed loop of 64 stations has 64
# requests in flight, so its latency is 64 / rate by Little's law whatever
# the server does; the paced run says what a station waits at that load.
# Last, new TLS connections per second (full handshakes and resumed ones).
# The load average is printed with every row: the machine may be shared.
#
# Environment: EST_SECONDS, EST_STATIONS ("1 4 16 64"), EST_RATE, EST_JOBS
# (serve --jobs, default 2), EST_CSRS, EST_DIR (kept between runs; default
# /tmp/mp-est-bench), BENCH_OUT (default bench-out). Writes est.md and
# est.jsonl there.
set -euo pipefail
MP=${MATTER_PKI_BIN:?set MATTER_PKI_BIN}
BB=${MP_BENCH_BIN:?set MP_BENCH_BIN}
HERE=$(cd "$(dirname "$0")" && pwd)
WHICH=${1:-both}
FULL=${BENCH_FULL:-0}
SECS=${EST_SECONDS:-$([ "$FULL" = 1 ] && echo 30 || echo 8)}
STATIONS=${EST_STATIONS:-1 4 16 64}
RATE=${EST_RATE:-1000}
JOBS=${EST_JOBS:-2}
N=${EST_CSRS:-$([ "$FULL" = 1 ] && echo 90000 || echo 30000)}
D=${EST_DIR:-/tmp/mp-est-bench}
OUTD=${BENCH_OUT:-bench-out}
mkdir -p "$OUTD"
OUTD=$(cd "$OUTD" && pwd)
say() { printf '== %s\n' "$*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
if [ ! -s "$D/pristine.sqlite" ] || [ "$(cat "$D/csrs.count" 2> /dev/null || echo 0)" -lt "$N" ]; then
    say "setup in $D: token, PAA, PAI, $N chips and CSRs, 64 stations (once; kept for the next run)"
    rm -rf "$D"
    bash "$HERE/est_setup.sh" "$D" "$N" > /dev/null
fi
cd "$D"
export MATTER_PKI_STATE=$D/state MATTER_PKI_TOKEN=bench
MATTER_PKI_PIN=$(cat pin)
export MATTER_PKI_PIN # read by dac_bench
unset MATTER_PKI_LEDGER SOFTHSM2_CONF MATTER_PKI_MODULE
SP=""
PGT=""
PGBIN=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    [ -n "$SP" ] && kill -9 "$SP" 2> /dev/null
    if [ -n "$PGT" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$PGT/data" -m immediate stop > /dev/null 2>&1
        rm -rf "$PGT"
    fi
}
trap cleanup EXIT
pg_start() {
    PGT=$(mktemp -d /tmp/mp-est-pg.XXXXXX)
    chmod 755 "$PGT"; mkdir -p "$PGT/sock"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$PGT"
    as_pg "$PGBIN/initdb" -D "$PGT/data" -U mp --auth=trust -E UTF8 --no-locale > "$PGT/initdb.log" 2>&1
    as_pg "$PGBIN/pg_ctl" -D "$PGT/data" -l "$PGT/log" -w -o "-c listen_addresses='' -k $PGT/sock -c fsync=on" start > /dev/null
}
psql_() { psql -X -A -t -q -h "$PGT/sock" -U mp -d "$1" -c "$2"; }

# fresh_ledger KIND: the pristine ledger again; prints serve's --ledger
fresh_ledger() {
    if [ "$1" = sqlite ]; then
        rm -f state/ledger.sqlite state/ledger.sqlite-wal state/ledger.sqlite-shm
        cp pristine.sqlite state/ledger.sqlite
        echo "$D/state/ledger.sqlite"
    else
        psql_ postgres "DROP DATABASE IF EXISTS est" > /dev/null
        psql_ postgres "CREATE DATABASE est" > /dev/null
        "$MP" ledger migrate --ledger "$D/pristine.sqlite" --to "host=$PGT/sock user=mp dbname=est" > /dev/null
        echo "host=$PGT/sock user=mp dbname=est"
    fi
}
start_serve() { # start_serve LEDGER: sets SP, URL
    rm -f port
    "$MP" serve --token bench --pin-file pin --ledger "$1" --listen 127.0.0.1:0 --port-file port --tls-cert srv.pem \
        --tls-key srv.key --station-ca stca.pem --paa-cert paa.pem --max-connections 4096 --jobs "$JOBS" > serve.out 2> serve.err &
    SP=$!
    for _ in $(seq 200); do [ -s port ] && break; sleep 0.05; done
    [ -s port ] || { echo "est_run: serve did not start:"; cat serve.err; exit 1; } >&2
    URL=https://127.0.0.1:$(cat port)
}
stop_serve() { kill -TERM "$SP"; wait "$SP" || true; SP=""; }
metrics() { curl -s --cacert srvca.pem --cert st1.pem --key st1.key "$URL/metrics" | grep -v '^#'; }
cpu() { awk '{print $14 + $15}' "/proc/$SP/stat"; } # server user+system, clock ticks
HZ=$(getconf CLK_TCK)
hsm_limit() { # the bare signing loop, JOBS threads, about 2 s
    "$BB/dac_bench" hsm $((3000 * JOBS)) "$JOBS" pai.pem pai | jq -r .rate
}
ROWS=$OUTD/est.jsonl
: > "$ROWS"
# one_run KIND STATIONS [RATE]
one_run() {
    local kind=$1 s=$2 rate=${3:-} led lim m0 m1 c0 c1 line l0
    led=$(fresh_ledger "$kind")
    lim=$(hsm_limit)
    start_serve "$led"
    l0=$(load)
    m0=$(metrics); c0=$(cpu)
    line=$("$BB/est_load" --url "$URL" --dir "$D" --stations "$s" --seconds "$SECS" ${rate:+--rate "$rate"})
    m1=$(metrics); c1=$(cpu)
    stop_serve
    jq -c -n --argjson r "$line" --arg kind "$kind" --arg lim "$lim" --arg load "$l0 -> $(load)" --arg m0 "$m0" --arg m1 "$m1" \
        --argjson cpu "$(( c1 - c0 ))" --argjson hz "$HZ" '
        def met($t): [$t | split("\n")[] | select(length > 0) | split(" ") | {key: .[0], value: (.[1] | tonumber)}] | from_entries;
        (met($m1)) as $b | (met($m0)) as $a | def d($k): ($b[$k] // 0) - ($a[$k] // 0);
        d("mp_dacs_issued_total") as $n |
        $r + {ledger: $kind, hsm_limit: ($lim | tonumber), load: $load, issued: $n,
              hsm_stage: (if d("mp_hsm_seconds_total") > 0 then $n / d("mp_hsm_seconds_total") else 0 end),
              ledger_limit: (if d("mp_commit_seconds_total") > 0 then $n / d("mp_commit_seconds_total") else 0 end),
              per_commit: (if d("mp_ledger_commits_total") > 0 then $n / d("mp_ledger_commits_total") else 0 end),
              server_cpu_us: (if $n > 0 then $cpu / $hz * 1e6 / $n else 0 end)}' >> "$ROWS"
    tail -1 "$ROWS" | jq -r '"\(.ledger) \(.stations) stations \(.mode): \(.rate) DACs/s, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms (HSM limit \(.hsm_limit | floor)/s, ledger limit \(.ledger_limit | floor)/s; load \(.load))"' >&2
}
kinds=()
case $WHICH in sqlite) kinds=(sqlite) ;; pg) kinds=(pg) ;; *) kinds=(sqlite pg) ;; esac
for kind in "${kinds[@]}"; do
    if [ "$kind" = pg ]; then
        command -v psql > /dev/null && [ -x "$PGBIN/initdb" ] || { say "PostgreSQL 15 missing: skipping its rows"; continue; }
        pg_start
    fi
    for s in $STATIONS; do
        say "$kind: $s station(s), $SECS s"
        one_run "$kind" "$s"
    done
    say "$kind: 64 stations paced at $RATE DACs/s, $SECS s"
    one_run "$kind" 64 "$RATE"
done
say "new TLS connections, 16 clients, $SECS s"
start_serve "$(fresh_ledger sqlite)"
for mode in "" --resume; do
    c0=$(cpu); l0=$(load)
    line=$("$BB/est_load" --url "$URL" --dir "$D" --stations 16 --seconds "$SECS" --handshakes $mode)
    c1=$(cpu)
    echo "$line" | jq -c --arg load "$l0 -> $(load)" --argjson cpu "$(( c1 - c0 ))" --argjson hz "$HZ" \
        '. + {ledger: "-", load: $load, server_cpu_us: (if .ok > 0 then $cpu / $hz * 1e6 / .ok else 0 end)}' >> "$ROWS"
done
stop_serve

{
    echo "### EST service (\`matter-pki serve\`), $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $SECS s per run, serve --jobs $JOBS"
    echo
    echo "| ledger | stations | load | DACs/s | p50 ms | p99 ms | HSM limit /s | HSM stage /s | ledger limit /s | DACs per commit | server CPU µs/DAC | load average |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    jq -r 'select(.mode | startswith("enroll")) | "| \(.ledger) | \(.stations) | \(if .offered then "paced \(.offered | floor)/s" else "closed loop" end) | \(.rate | floor) | \(.p50_ms) | \(.p99_ms) | \(.hsm_limit | floor) | \(.hsm_stage | floor) | \(.ledger_limit | floor) | \(.per_commit * 10 | floor / 10) | \(.server_cpu_us | floor) | \(.load) |"' "$ROWS"
    echo
    echo "| new TLS connections (16 clients, one GET /healthz each) | per second | p50 ms | p99 ms | server CPU µs/connection | load average |"
    echo "|---|---:|---:|---:|---:|---|"
    jq -r 'select(.mode == "handshakes" or .mode == "resumed") | "| \(if .mode == "resumed" then "resumed (session cache)" else "full handshake (ECDHE P-256, client certificate)" end) | \(.rate | floor) | \(.p50_ms) | \(.p99_ms) | \(.server_cpu_us | floor) | \(.load) |"' "$ROWS"
} > "$OUTD/est.md"
cat "$OUTD/est.md"
