#!/usr/bin/env bash
# est_run.sh - load on `matter-pki serve` (not part of `make bench`'s 10
# minutes; run it on its own):
#   MATTER_PKI_BIN=build/matter-pki MP_BENCH_BIN=build/bench bash bench/est_run.sh
# 1, 4, 16 and 64 stations enrolling pre-made CSRs over keep-alive mTLS for
# EST_SECONDS each (default 30), then new TLS connections per second; next to
# each run, the server's own HSM-signing and ledger limits for that run
# (DACs / seconds the workers spent signing, DACs / seconds the ledger thread
# spent checking and committing), from /metrics. SQLite ledger; results in
# bench-out/est.md and est.jsonl.
set -eu
MP=${MATTER_PKI_BIN:?}
LOAD=${MP_BENCH_BIN:?}/est_load
SECS=${EST_SECONDS:-30}
N=${EST_CSRS:-60000}  # enough CSRs for the runs (each CSR is enrolled once)
OUT=$(pwd)/bench-out
D=${EST_DIR:-/tmp/mp-est-bench}
mkdir -p "$OUT"
[ -d "$D/csrs" ] || bash "$(dirname "$0")/est_setup.sh" "$D" "$N"
cd "$D"
export MATTER_PKI_STATE=$D/state
rm -f port
"$MP" serve --token bench --pin-file pin --listen 127.0.0.1:0 --port-file port --tls-cert srv.pem --tls-key srv.key \
    --station-ca stca.pem --paa-cert paa.pem --max-connections 4096 > serve.out 2> serve.err &
SP=$!
trap 'kill -9 $SP 2> /dev/null || true' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
URL=https://127.0.0.1:$(cat port)
metric() { curl -s --cacert srvca.pem --cert st1.pem --key st1.key "$URL/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
next=$(sqlite3 state/ledger.sqlite 'select count(*) from dacs')
: > "$OUT/est.jsonl"
printf '| stations | DACs/s | p50 ms | p99 ms | failed | HSM limit DACs/s | ledger limit DACs/s | requests per transaction |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n' > "$OUT/est.md"
for S in 1 4 16 64; do
    i0=$(metric mp_dacs_issued_total); h0=$(metric mp_hsm_seconds_total); l0=$(metric mp_ledger_seconds_total)
    g0=$(metric mp_ledger_groups_total); r0=$(metric mp_ledger_grouped_requests_total)
    line=$("$LOAD" --url "$URL" --dir "$D" --stations "$S" --seconds "$SECS" --first "$next")
    echo "$line" >> "$OUT/est.jsonl"
    next=$(echo "$line" | sed 's/.*"next":\([0-9]*\).*/\1/')
    i1=$(metric mp_dacs_issued_total); h1=$(metric mp_hsm_seconds_total); l1=$(metric mp_ledger_seconds_total)
    g1=$(metric mp_ledger_groups_total); r1=$(metric mp_ledger_grouped_requests_total)
    echo "$line" | python3 -c "
import json, sys
r = json.load(sys.stdin); d = $i1 - $i0; h = $h1 - $h0; l = $l1 - $l0; g = max($g1 - $g0, 1)
print('| %d | %.0f | %.1f | %.1f | %d | %.0f | %.0f | %.1f |' % (r['stations'], r['rate'], r['p50_ms'], r['p99_ms'], r['failed'],
      d / h if h else 0, d / l if l else 0, ($r1 - $r0) / g))" >> "$OUT/est.md"
done
line=$("$LOAD" --url "$URL" --dir "$D" --stations 16 --seconds "$SECS" --handshakes)
echo "$line" >> "$OUT/est.jsonl"
echo "$line" | python3 -c "import json,sys; r=json.load(sys.stdin); print('\nnew TLS 1.3 mTLS connections (16 clients, one GET /healthz each): %.0f/s, p50 %.1f ms, p99 %.1f ms' % (r['rate'], r['p50_ms'], r['p99_ms']))" >> "$OUT/est.md"
kill -TERM $SP; wait $SP || true
cat "$OUT/est.md"
