#!/usr/bin/env bash
# demo_stations.sh - four factory stations (processes) finish one production
# order together on a PostgreSQL ledger: a real PostgreSQL 15 started in a
# temporary folder (Unix socket only, stopped at the end), a SoftHSM token,
# per-station sub-quotas, the per-station report and `audit verify`.
# Output under demo-stations-out/.
set -euo pipefail
MP=${MATTER_PKI_BIN:-$(pwd)/matter-pki}
OUT=${DEMO_OUT:-demo-stations-out}
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export MATTER_PKI_STATE="$OUT/state"
unset SOFTHSM2_CONF MATTER_PKI_PIN MATTER_PKI_MODULE MATTER_PKI_LEDGER
step() { printf '\n== %s\n' "$*"; }
T=$(mktemp -d /tmp/mp-demo-st.XXXXXX)
step "PostgreSQL 15 in a temporary folder (Unix socket only)"
set +u
# shellcheck source=/dev/null
. "$(dirname "$0")/integration/pg.sh"
set -u
export MATTER_PKI_LEDGER
MATTER_PKI_LEDGER=$(pg_newdb pki)
echo "ledger: $MATTER_PKI_LEDGER"

step "token, PAA and PAI"
mkdir -p "$MATTER_PKI_STATE"
( umask 077; od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$MATTER_PKI_STATE/user.pin"
  od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$MATTER_PKI_STATE/so.pin" )
"$MP" token init --label demo --pin-file "$MATTER_PKI_STATE/user.pin" --so-pin-file "$MATTER_PKI_STATE/so.pin"
H=(--token demo --pin-file "$MATTER_PKI_STATE/user.pin" --operator demo)
"$MP" paa create "${H[@]}" --key-label demo-paa --cn "Acme Matter PAA" --vid FFF2 --out "$OUT/paa.pem"
"$MP" pai create "${H[@]}" --paa-cert "$OUT/paa.pem" --paa-key demo-paa --key-label demo-pai \
    --cn "Acme Matter PAI" --vid FFF2 --pid 8001 --out "$OUT/pai.pem"
"$MP" audit init "${H[@]}" --key-label demo-audit --out "$OUT/audit-key.pem"

step "chip maker (SIMULATOR): 4000 chips; an order for 3000"
"$MP" chips simulate --count 4000 --out "$OUT/chips" --quiet
"$MP" chips import "$OUT/chips/chips.csv" --signature "$OUT/chips/chips.csv.sig" --signer "$OUT/chips/chipmaker.pem"
ORDER=$("$MP" order create "${H[@]}" --vid FFF2 --pid 8001 --pai-cert "$OUT/pai.pem" --pai-key demo-pai --quota 3000)
for i in 1 2 3 4; do
    "$MP" station add "line-$i"
    "$MP" order assign --order "$ORDER" --station "line-$i" --quota 1000
done

step "four stations issue the order together"
pids=()
for i in 1 2 3 4; do
    "$MP" dac issue "${H[@]}" --order "$ORDER" --out-dir "$OUT/line-$i" --station "line-$i" --block 250 --quiet &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

step "per-station report"
"$MP" ledger report
"$MP" station list
step "audit trail"
"$MP" audit verify --audit-key "$OUT/audit-key.pem"
echo "DAC files: $(ls "$OUT"/line-*/ | grep -c '[.]der$') in $OUT/line-1..4"
echo "demo-stations: done; results in $OUT (the PostgreSQL server is stopped and removed)"
