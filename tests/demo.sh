#!/usr/bin/env bash
# demo.sh - the whole matter-pki pipeline on a local SoftHSM token.
# Writes everything under demo-out/ and demo-out/manifest.json. Each stage
# adds its part; the demo starts from scratch on every run.
set -euo pipefail
MP=${MATTER_PKI_BIN:-$(pwd)/matter-pki}
OUT=${DEMO_OUT:-demo-out}
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export MATTER_PKI_STATE="$OUT/state"
unset SOFTHSM2_CONF MATTER_PKI_PIN MATTER_PKI_MODULE
step() { printf '\n== %s\n' "$*"; }

step "token: a SoftHSM development token in $MATTER_PKI_STATE"
mkdir -p "$MATTER_PKI_STATE"
( umask 077; od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$MATTER_PKI_STATE/user.pin"
  od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$MATTER_PKI_STATE/so.pin" )
"$MP" token init --label demo --pin-file "$MATTER_PKI_STATE/user.pin" --so-pin-file "$MATTER_PKI_STATE/so.pin"
H=(--token demo --pin-file "$MATTER_PKI_STATE/user.pin" --operator demo)

step "PAA ceremony"
"$MP" paa create "${H[@]}" --key-label demo-paa --cn "Acme Matter PAA" --vid FFF2 --out "$OUT/paa.pem"
step "PAI ceremony"
"$MP" pai create "${H[@]}" --paa-cert "$OUT/paa.pem" --paa-key demo-paa --key-label demo-pai \
    --cn "Acme Matter PAI" --vid FFF2 --pid 8001 --out "$OUT/pai.pem"
openssl verify -x509_strict -CAfile "$OUT/paa.pem" "$OUT/pai.pem"
"$MP" cert lint --type paa "$OUT/paa.pem"
"$MP" cert lint --type pai "$OUT/pai.pem"

# Each stage adds a JSON fragment to $FRAG; the manifest is their merge (jq).
FRAG="$OUT/.manifest.d"
mkdir -p "$FRAG"
cat > "$FRAG/10-pki.json" <<JSON
{"paa": "paa.pem", "pai": "pai.pem",
 "token": {"module": "/usr/lib/softhsm/libsofthsm2.so", "label": "demo", "softhsm2_conf": "state/softhsm2.conf"},
 "ceremony_log": "state/ceremony.log"}
JSON

# Later stages live in tests/demo.d/*.sh (sourced in order).
for part in "$(dirname "$0")"/demo.d/*.sh; do
    [ -e "$part" ] || continue
    # shellcheck source=/dev/null
    . "$part"
done

step "manifest"
jq -s 'reduce .[] as $f ({}; . * $f)' "$FRAG"/*.json > "$OUT/manifest.json.tmp"
mv "$OUT/manifest.json.tmp" "$OUT/manifest.json"
rm -rf "$FRAG"
jq -c 'with_entries(if (.value|type) == "array" then .value = "[\(.value|length) entries]" else . end)' "$OUT/manifest.json"
echo "demo: done; results in $OUT"
