#!/usr/bin/env bash
# est_setup.sh DIR N - a throw-away PKI for EST load runs: token, PAA, PAI,
# N simulated chips imported, an order labelled "big", a station CA, stations
# st1..st64, a server certificate, N device CSRs (DER) in DIR/csrs, and
# pristine.sqlite: the ledger before any DAC (each load run starts from a copy).
set -eu
D=$1; N=$2
MP=${MATTER_PKI_BIN:?}
mkdir -p "$D"; cd "$D"
export MATTER_PKI_STATE=$PWD/state
printf 'bench-PIN\n' > pin; printf '5678\n' > sopin
H="--token bench --pin-file pin"
"$MP" token init --label bench --pin-file pin --so-pin-file sopin > /dev/null
"$MP" paa create $H --key-label paa --cn "Bench PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Bench PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
"$MP" chips simulate --count "$N" --out sim > /dev/null
"$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem > /dev/null
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 100000000 --label big > /dev/null
"$MP" station ca create $H --key-label stca --cn "Bench Stations" --out stca.pem > /dev/null
for i in $(seq 1 64); do
    openssl ecparam -name prime256v1 -genkey -noout -out st$i.key
    openssl req -new -key st$i.key -subj /CN=x -out st$i.csr
    "$MP" station issue st$i $H --csr st$i.csr --ca-cert stca.pem --ca-key stca --out st$i.pem > /dev/null
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srvca.key -out srvca.pem -subj /CN=srvca -days 30 2> /dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost 2> /dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext
openssl x509 -req -in srv.csr -CA srvca.pem -CAkey srvca.key -CAcreateserial -out srv.pem -days 30 -extfile ext 2> /dev/null
python3 - <<'PY'
import os
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
os.makedirs("csrs", exist_ok=True)
i = -1
for line in open("sim/device-keys.csv"):
    f = line.strip().split(",")
    if len(f) < 2 or len(f[1]) != 64: continue
    i += 1
    k = ec.derive_private_key(int(f[1], 16), ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f[0])])).sign(k, hashes.SHA256())
    open("csrs/%07d.der" % i, "wb").write(csr.public_bytes(serialization.Encoding.DER))
PY
# the ledger before any DAC: every run starts from a copy of it, so the same
# CSRs serve every run
sqlite3 state/ledger.sqlite 'PRAGMA wal_checkpoint(TRUNCATE)' > /dev/null
cp state/ledger.sqlite pristine.sqlite
echo "$N" > csrs.count
