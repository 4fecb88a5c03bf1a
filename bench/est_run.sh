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
# CPU samples, clock ticks, as one JSON object: the server's threads by name
# (matter-pki = the event loop, mp-check, mp-commit, mp-sign = the signing
# workers), our PostgreSQL's processes, and the whole machine (busy, of
# nproc cores: what everybody else on it used too)
sample() {
    {
        for t in /proc/"$SP"/task/*/stat; do
            { read -r l < "$t"; } 2> /dev/null || continue
            c=${l#*(}; c=${c%%)*}; r=(${l##*) })
            echo "$c ${r[11]} ${r[12]}"
        done
        if [ -n "$PGT" ] && [ -s "$PGT/data/postmaster.pid" ]; then
            pm=$(head -1 "$PGT/data/postmaster.pid")
            for p in /proc/[0-9]*/stat; do
                { read -r l < "$p"; } 2> /dev/null || continue
                r=(${l##*) })
                [ "${p#/proc/}" = "$pm/stat" ] || [ "${r[1]}" = "$pm" ] || continue
                echo "postgres ${r[11]} ${r[12]}"
            done
        fi
        awk '/^cpu /{print "machine", $2 + $3 + $4 + $7 + $8 + $9, 0}' /proc/stat
        awk -v hz="$HZ" '{printf "wall %d 0\n", $1 * hz}' /proc/uptime
    } | awk '{a[$1] += $2 + $3} END {for (k in a) printf "%s %d\n", k, a[k]}' |
        jq -R -s -c '[split("\n")[] | select(length > 0) | split(" ") | {key: .[0], value: (.[1] | tonumber)}] | from_entries'
}
# verdict: our CPU per DAC (server threads, PostgreSQL, load generator) and
# the ceiling it sets on these cores if nothing else ran; each rate as a
# ratio of the limits measured in the same run; and what binds the row: the
# machine's CPU when it is >= 90% busy (other helpers' work included), else
# the busiest stage (event loop thread CPU; checker: check + sign, wall;
# committer: ledger transactions, wall) when >= 80%, else the offered load
# (paced) or the round trip (closed loop: each station waits for its answer)
VERDICT='def pct: . * 100 | floor | tostring + "%";
def verdict:
  ((.cpu_us // {}) | del(.machine) | add // 0) as $ours
  | . + {ours_cpu_us: $ours, ours_cores: ($ours * (.ok // 0) / 1e6 / .seconds),
         cpu_ceiling: (if $ours > 0 then .ncpu * 1e6 / $ours else 0 end)}
  | . + {vs_hsm: (if (.hsm_limit // 0) > 0 then .rate / .hsm_limit else null end),
         vs_ledger: (if (.ledger_limit // 0) > 0 then .rate / .ledger_limit else null end),
         vs_cpu: (if .cpu_ceiling > 0 then .rate / .cpu_ceiling else null end)}
  | ([{k: "event loop", v: .busy.loop}, {k: "checker (check + sign)", v: ((.busy.check // 0) + (.busy.sign // 0))},
      {k: "committer (ledger transactions)", v: (.busy.commit // 0)}] | max_by(.v)) as $st
  | .binds = (if .machine_busy >= 0.9 then "CPU: machine \(.machine_busy | pct) busy, ours \(.ours_cores * 100 | floor / 100) of \(.ncpu) cores; busiest stage \($st.k) \($st.v | pct)"
              elif $st.v >= 0.8 then "\($st.k) \($st.v | pct) busy"
              elif (.offered // 0) > 0 and .rate >= 0.95 * .offered then "offered load (busiest stage \($st.k) \($st.v | pct))"
              else "round trip: \(.stations) requests in flight (busiest stage \($st.k) \($st.v | pct))" end);'
ROWS=$OUTD/est.jsonl
: > "$ROWS"
# one_run KIND STATIONS [RATE]
one_run() {
    local kind=$1 s=$2 rate=${3:-} led lim m0 m1 c0 c1 line l0
    led=$(fresh_ledger "$kind")
    lim=$(hsm_limit)
    start_serve "$led"
    l0=$(load)
    m0=$(metrics); c0=$(cpu); s0=$(sample)
    line=$("$BB/est_load" --url "$URL" --dir "$D" --stations "$s" --seconds "$SECS" ${rate:+--rate "$rate"})
    s1=$(sample); m1=$(metrics); c1=$(cpu)
    stop_serve
    jq -c -n --argjson r "$line" --arg kind "$kind" --arg lim "$lim" --arg load "$l0 -> $(load)" --arg m0 "$m0" --arg m1 "$m1" \
        --argjson cpu "$(( c1 - c0 ))" --argjson hz "$HZ" --argjson s0 "$s0" --argjson s1 "$s1" --argjson ncpu "$(nproc)" "$VERDICT"'
        def met($t): [$t | split("\n")[] | select(length > 0) | split(" ") | {key: .[0], value: (.[1] | tonumber)}] | from_entries;
        (met($m1)) as $b | (met($m0)) as $a | def d($k): ($b[$k] // 0) - ($a[$k] // 0);
        d("mp_dacs_issued_total") as $n |
        $r + {ledger: $kind, hsm_limit: ($lim | tonumber), load: $load, issued: $n,
              hsm_stage: (if d("mp_hsm_seconds_total") > 0 then $n / d("mp_hsm_seconds_total") else 0 end),
              ledger_limit: (if d("mp_commit_seconds_total") > 0 then $n / d("mp_commit_seconds_total") else 0 end),
              per_commit: (if d("mp_ledger_commits_total") > 0 then $n / d("mp_ledger_commits_total") else 0 end),
              server_cpu_us: (if $n > 0 then $cpu / $hz * 1e6 / $n else 0 end),
              server_p99_ms: (d("mp_enroll_seconds_count") as $c
                  | [$b | to_entries[] | select(.key | startswith("mp_enroll_seconds_bucket"))
                     | select(.value - ($a[.key] // 0) >= 0.99 * $c) | .key | capture("le=\"(?<x>[^\"]+)\"").x
                     | if . == "+Inf" then 1e9 else tonumber * 1000 end] | min),
              busy: {loop: ((($s1["matter-pki"] // 0) - ($s0["matter-pki"] // 0)) / ($s1.wall - $s0.wall)),
                     check: (d("mp_check_seconds_total") / $r.seconds), sign: (d("mp_hsm_seconds_total") / $r.seconds),
                     commit: (d("mp_commit_seconds_total") / $r.seconds)},
              cpu_us: (if $n > 0 then ($s1 | del(.machine, .wall) | to_entries | map({key, value: ((.value - ($s0[.key] // 0)) / $hz * 1e6 / $n)}) | from_entries)
                       + {client: (($r.client_cpu_s // 0) * 1e6 / $n)} else {} end),
              machine_busy: ((($s1.machine // 0) - ($s0.machine // 0)) / ($s1.wall - $s0.wall) / $ncpu), ncpu: $ncpu}
        | verdict' >> "$ROWS"
    tail -1 "$ROWS" | jq -r '"\(.ledger) \(.stations) stations \(.mode): \(.rate) DACs/s, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms (server p99 <= \(.server_p99_ms) ms; HSM limit \(.hsm_limit | floor)/s, ledger limit \(.ledger_limit | floor)/s, CPU ceiling \(.cpu_ceiling | floor)/s; \(.binds); load \(.load))"' >&2
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
    c0=$(cpu); l0=$(load); s0=$(sample)
    line=$("$BB/est_load" --url "$URL" --dir "$D" --stations 16 --seconds "$SECS" --handshakes $mode)
    s1=$(sample); c1=$(cpu)
    echo "$line" | jq -c --arg load "$l0 -> $(load)" --argjson cpu "$(( c1 - c0 ))" --argjson hz "$HZ" \
        --argjson s0 "$s0" --argjson s1 "$s1" --argjson ncpu "$(nproc)" "$VERDICT"'
        . as $r | $r + {ledger: "-", load: $load, server_cpu_us: (if .ok > 0 then $cpu / $hz * 1e6 / .ok else 0 end),
              busy: {loop: ((($s1["matter-pki"] // 0) - ($s0["matter-pki"] // 0)) / ($s1.wall - $s0.wall))},
              cpu_us: (if .ok > 0 then ($s1 | del(.machine, .wall) | to_entries | map({key, value: ((.value - ($s0[.key] // 0)) / $hz * 1e6 / $r.ok)}) | from_entries)
                       + {client: ((.client_cpu_s // 0) * 1e6 / .ok)} else {} end),
              machine_busy: ((($s1.machine // 0) - ($s0.machine // 0)) / ($s1.wall - $s0.wall) / $ncpu), ncpu: $ncpu}
        | verdict' >> "$ROWS"
    tail -1 "$ROWS" | jq -r '"\(.mode): \(.rate) connections/s (CPU ceiling \(.cpu_ceiling | floor)/s; \(.binds); load \(.load))"' >&2
done
stop_serve

{
    echo "### EST service (\`matter-pki serve\`), $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $SECS s per run, serve --jobs $JOBS"
    echo
    echo "Ratios are the row's rate over a limit measured in the same run: **HSM** the bare signing loop"
    echo "(dac_bench hsm, $JOBS threads, just before), **ledger** DACs per second of the committer's transaction"
    echo "time, **CPU** the rate these $(nproc) cores would give if only our processes ran (their CPU per DAC:"
    echo "server threads, PostgreSQL, load generator). p99 is what the stations saw (paced: from each request's"
    echo "scheduled time, so the load generator's own delays count); server p99 is the bucket of serve's latency"
    echo "histogram (request read to answer written) that holds 99%. CPU µs per DAC by thread: loop (TLS, HTTP, CSR check),"
    echo "check, sign (the workers), commit, pg (PostgreSQL's processes), client (est_load)."
    echo
    echo "| ledger | stations | mode | DACs/s | p50 ms | p99 ms | server p99 ms | vs HSM limit | vs ledger limit | vs CPU ceiling | DACs per commit | CPU µs/DAC loop/check/sign/commit/pg/client | binds | load average |"
    echo "|---|---:|---|---:|---:|---:|---:|---|---|---|---:|---|---|---|"
    jq -r 'def r($x; $l): if $x == null then "-" else "\($x * 100 | round / 100) (\($l | floor)/s)" end;
        def u($k): (.cpu_us[$k] // 0 | round | tostring);
        select(.mode | startswith("enroll")) | "| \(.ledger) | \(.stations) | \(if .offered then "paced \(.offered | floor)/s" else "closed loop" end) | \(.rate | floor) | \(.p50_ms) | \(.p99_ms) | \(if .server_p99_ms == null then "-" elif .server_p99_ms >= 1e9 then "> 2000" else "≤ \(.server_p99_ms)" end) | \(r(.vs_hsm; .hsm_limit)) | \(r(.vs_ledger; .ledger_limit)) | \(r(.vs_cpu; .cpu_ceiling)) | \(.per_commit * 10 | floor / 10) | \(u("matter-pki"))/\(u("mp-check"))/\(u("mp-sign"))/\(u("mp-commit"))/\(u("postgres"))/\(u("client")) | \(.binds) | \(.load) |"' "$ROWS"
    echo
    echo "| new TLS connections (16 clients, one GET /healthz each) | per second | p50 ms | p99 ms | vs CPU ceiling | CPU µs/connection server/client | binds | load average |"
    echo "|---|---:|---:|---:|---|---|---|---|"
    jq -r 'select(.mode == "handshakes" or .mode == "resumed") | "| \(if .mode == "resumed" then "resumed (session cache)" else "full handshake (ECDHE P-256, client certificate)" end) | \(.rate | floor) | \(.p50_ms) | \(.p99_ms) | \(if .vs_cpu then "\(.vs_cpu * 100 | round / 100) (\(.cpu_ceiling | floor)/s)" else "-" end) | \(.server_cpu_us | floor)/\(.cpu_us.client // 0 | floor) | \(.binds) | \(.load) |"' "$ROWS"
} > "$OUTD/est.md"
cat "$OUTD/est.md"
