#!/usr/bin/env bash
# regen.sh - regenerate the DCL golden files from the fixed inputs in
# tests/fixtures/dcl. Review `git diff tests/golden/dcl` before committing.
#   bash tests/golden/dcl/regen.sh [--new-signers]
# --new-signers re-issues the two delegated CRL-signer certificates (under
# the public SDK test PAA / PAI keys in ../shared/vectors/chip; ECDSA is
# randomised, so only do this on purpose: every golden using them changes).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
MP=${MATTER_PKI_BIN:-$root/build/matter-pki}
VEC=${MP_VECTORS:-$root/../shared/vectors/chip}
FIX=$root/tests/fixtures/dcl
OUT=$root/tests/golden/dcl

# signer NAME ISSUER_CERT ISSUER_KEY SUBJECT: a delegated CRL signer (v3,
# P-256, ecdsa-with-SHA256, BC critical CA:FALSE, KU critical cRLSign).
signer() {
    local t; t=$(mktemp -d)
    openssl ecparam -name prime256v1 -genkey -noout -out "$t/k.pem"
    printf 'oid_section = oids\n[oids]\nmatterVid = 1.3.6.1.4.1.37244.2.1\nmatterPid = 1.3.6.1.4.1.37244.2.2\n[req]\ndistinguished_name = dn\n[dn]\n' > "$t/cnf"
    openssl req -new -config "$t/cnf" -key "$t/k.pem" -subj "$4" -utf8 -out "$t/r.csr"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' > "$t/ext"
    openssl x509 -req -in "$t/r.csr" -CA "$2" -CAkey "$3" -set_serial 0x1234 -days 3650 -sha256 \
        -extfile "$t/ext" -out "$FIX/$1"
    rm -rf "$t"
}
new=${1:-}
mk() { if [ "$new" = --new-signers ] || [ ! -f "$FIX/$1" ]; then signer "$@"; fi; }
mk crl-signer-paa.pem "$FIX/paa.pem" "$VEC/Chip-Test-PAA-FFF1-Key.pem" "/CN=Test CRL Signer PAA/matterVid=FFF1"
mk crl-signer-pai.pem "$FIX/pai.pem" "$VEC/Chip-Test-PAI-FFF1-8000-Key.pem" "/CN=Test CRL Signer PAI/matterVid=FFF1/matterPid=8000"
# a PAA-delegated signer with a PID: refused (case B), for t_dcl.sh
mk crl-signer-paa-pid.pem "$FIX/paa.pem" "$VEC/Chip-Test-PAA-FFF1-Key.pem" "/CN=Test CRL Signer PID/matterVid=FFF1/matterPid=8000"

gen() {
    local name=$1; shift
    "$MP" dcl export "$@" --out "$OUT/$name.json" --force 2>/dev/null
    echo "  $name.json"
}
# shellcheck source=cases.sh
. "$OUT/cases.sh"
dcl_golden_cases
