#!/usr/bin/env bash
# t_chips.sh - chips simulate and chips import against a real SQLite ledger:
# signed CSV and JSON, birth certificates, unsigned lists, bad signatures,
# duplicates, bad points, and all-or-nothing imports.
. "$(dirname "$0")/lib.sh"
L=ledger.sqlite
devices() { sqlite3 "$L" 'select count(*) from devices'; }
lists() { sqlite3 "$L" 'select count(*) from chip_lists'; }

# --- the simulator
expect 0 "simulate 200 chips with birth certificates" "$MP" chips simulate --count 200 --out sim --birth-certs
check "simulator says SIMULATOR" grep -q SIMULATOR out.txt
check "help says SIMULATOR" bash -c "\"$MP\" chips simulate --help | grep -q SIMULATOR"
for f in chipmaker.key chipmaker.pem device-keys.csv chips.csv chips.csv.sig chips.json chips.json.p7s birth-certs.pem; do
    check "simulator wrote $f" test -s "sim/$f"
done
check "private key files are 0600" bash -c "[ \$(stat -c %a sim/chipmaker.key) = 600 ] && [ \$(stat -c %a sim/device-keys.csv) = 600 ]"
check "CSV has header + 200 lines" bash -c "[ \$(wc -l < sim/chips.csv) = 201 ] && head -1 sim/chips.csv | grep -qx 'udid,public_key'"
check "JSON is an array of 200" bash -c "[ \$(jq length sim/chips.json) = 200 ]"
check "UDIDs follow the SHA-256 rule" bash -c "l=\$(sed -n 2p sim/chips.csv); u=\${l%%,*}; k=\${l#*,}; [ \"\$u\" = \"\$(printf %s \"\$k\" | perl -ne 'print pack(\"H*\", \$_)' | sha256sum | cut -c1-64 | tr a-f A-F)\" ]"
openssl x509 -in sim/chipmaker.pem -pubkey -noout > cm.pub
check "openssl verifies the CSV signature" openssl dgst -sha256 -verify cm.pub -signature sim/chips.csv.sig sim/chips.csv
check "openssl verifies the JSON CMS" openssl cms -verify -binary -inform DER -in sim/chips.json.p7s -content sim/chips.json -CAfile sim/chipmaker.pem -out /dev/null
check "openssl verifies the birth certificates" openssl verify -CAfile sim/chipmaker.pem sim/birth-certs.pem
expect_err 8 "already exists" "simulate refuses to overwrite" "$MP" chips simulate --count 2 --out sim
expect_err 10 "1..100000000" "simulate --count 0" "$MP" chips simulate --count 0 --out sim0
check "no partial simulator output" bash -c "! ls sim/*.tmp.* sim0 2>/dev/null | grep -q ."

# --- signed CSV into a fresh ledger
SIG="--signature sim/chips.csv.sig --signer sim/chipmaker.pem"
expect 0 "import signed CSV" "$MP" chips import sim/chips.csv $SIG --ledger $L
check "ledger holds 200 devices" test "$(devices)" = 200
check "list recorded as signed with the signer's fingerprint" bash -c "sqlite3 $L 'select signed, signer, format, count from chip_lists' | grep -q '^1|.*SIMULATOR chip root; sha256=[0-9a-f]\{64\}|csv|200\$'"
check "list hash is the file's SHA-256" bash -c "[ \"\$(sqlite3 $L 'select sha256 from chip_lists')\" = \"\$(sha256sum sim/chips.csv | cut -c1-64)\" ]"
check "stored keys equal the list's" bash -c "[ \"\$(sqlite3 $L \"select lower(hex(pubkey)) from devices where udid='\$(sed -n 2p sim/chips.csv | cut -d, -f1)'\")\" = \"\$(sed -n 2p sim/chips.csv | cut -d, -f2)\" ]"
expect_err 16 "already imported" "the same file twice" "$MP" chips import sim/chips.csv $SIG --ledger $L
expect_err 16 "entry 1 \(line 2\): duplicate UDID .*already in the ledger" "JSON of the same chips: duplicate against the ledger" \
    "$MP" chips import sim/chips.json --signature sim/chips.json.p7s --signer sim/chipmaker.pem --ledger $L
check "failed import left the ledger as it was" bash -c "[ \$(sqlite3 $L 'select count(*) from devices') = 200 ] && [ \$(sqlite3 $L 'select count(*) from chip_lists') = 1 ]"

# --- signed JSON and birth certificates, each into its own ledger
expect 0 "import signed JSON (CMS)" "$MP" chips import sim/chips.json --signature sim/chips.json.p7s --signer sim/chipmaker.pem --ledger json.sqlite
check "JSON ledger holds 200" test "$(sqlite3 json.sqlite 'select count(*) from devices')" = 200
openssl cms -sign -binary -in sim/chips.json -signer sim/chipmaker.pem -inkey sim/chipmaker.key -outform PEM -out chips.json.pem.p7s 2>/dev/null
expect 0 "PEM CMS from openssl accepted" "$MP" chips import sim/chips.json --signature chips.json.pem.p7s --signer sim/chipmaker.pem --ledger json2.sqlite
expect 0 "import birth certificates" "$MP" chips import sim/birth-certs.pem --chip-root sim/chipmaker.pem --check-udid-hash --ledger birth.sqlite
check "birth ledger holds 200, recorded as signed by the chip root" bash -c "[ \$(sqlite3 birth.sqlite 'select count(*) from devices') = 200 ] && sqlite3 birth.sqlite 'select signed, format from chip_lists' | grep -qx '1|birth-certs'"
mkdir certs && csplit -s -z -f certs/c -b '%03d.pem' sim/birth-certs.pem '/-----BEGIN CERTIFICATE-----/' '{*}'
expect 0 "import a folder of birth certificates" "$MP" chips import certs --chip-root sim/chipmaker.pem --ledger birthdir.sqlite
check "folder ledger holds 200" test "$(sqlite3 birthdir.sqlite 'select count(*) from devices')" = 200
# a chain that does not lead to the given root
openssl ecparam -name prime256v1 -genkey -noout -out other.key 2>/dev/null
openssl req -x509 -new -key other.key -subj /CN=other-root -days 30 -out other.pem 2>/dev/null
expect_err 13 "certificate 1: birth certificate does not verify" "birth certificates under another root" \
    "$MP" chips import sim/birth-certs.pem --chip-root other.pem --ledger birth2.sqlite
# one forged certificate in the middle, self-signed by another key
openssl req -new -key other.key -subj "/CN=FORGED" -out forged.csr 2>/dev/null
openssl x509 -req -in forged.csr -signkey other.key -days 30 -out forged.pem 2>/dev/null
cat certs/c000.pem forged.pem certs/c001.pem > mixed.pem
expect_err 13 "mixed.pem: certificate 2: birth certificate does not verify" "a forged birth certificate is refused" "$MP" chips import mixed.pem --chip-root sim/chipmaker.pem --ledger birth3.sqlite
check "nothing imported from the forged bundle" bash -c "[ \$(sqlite3 birth3.sqlite 'select count(*) from devices') = 0 ]"
expect_err 2 "need --chip-root" "birth certificates without a root" "$MP" chips import sim/birth-certs.pem --ledger b4.sqlite
expect_err 10 "exactly one serialNumber" "--udid-from serial without the attribute" \
    "$MP" chips import sim/birth-certs.pem --chip-root sim/chipmaker.pem --udid-from serial --ledger b5.sqlite

# --- unsigned lists
hdr() { printf 'udid,public_key\n'; }
kline() { sed -n "$1p" sim/chips.csv; }     # line N of the simulated list
{ hdr; kline 2; kline 3; } > two.csv
expect_err 13 "unsigned chip list refused" "unsigned list refused" "$MP" chips import two.csv --ledger u.sqlite
expect 0 "--allow-unsigned accepted" "$MP" chips import two.csv --allow-unsigned --ledger u.sqlite
check "recorded as unsigned" bash -c "sqlite3 u.sqlite 'select signed, signer from chip_lists' | grep -qx '0|'"
check "output says UNSIGNED" grep -q UNSIGNED out.txt

# --- bad signatures
flip_byte sim/chips.csv tampered.csv 100
expect_err 13 "does not verify" "tampered list, raw ECDSA" "$MP" chips import tampered.csv $SIG --ledger t.sqlite
flip_byte sim/chips.json tampered.json 100
expect_err 13 "does not verify" "tampered list, CMS" "$MP" chips import tampered.json --signature sim/chips.json.p7s --signer sim/chipmaker.pem --ledger t.sqlite
expect_err 13 "another signer" "CMS checked against another signer" "$MP" chips import sim/chips.json --signature sim/chips.json.p7s --signer other.pem --ledger t.sqlite
expect_err 13 "does not verify" "raw signature checked against another signer" "$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer other.pem --ledger t.sqlite
{ cat sim/chips.csv; printf '\n'; } > extra.csv
expect_err 13 "does not verify" "a trailing newline breaks the signature (exact bytes)" "$MP" chips import extra.csv $SIG --ledger t.sqlite
check "no ledger rows after refused signatures" bash -c "[ ! -e t.sqlite ] || [ \$(sqlite3 t.sqlite 'select count(*) from devices') = 0 ]"
expect_err 2 "go together" "--signature without --signer" "$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --ledger t.sqlite

# --- bad entries: each names its line, nothing imported
L=bad.sqlite
{ hdr; kline 2; kline 3; kline 4; } > ok3.csv
expect 0 "seed ledger" "$MP" chips import ok3.csv --allow-unsigned --ledger $L
before=$(devices)
{ hdr; kline 5; kline 6; kline 5 | sed 's/^[^,]*/OTHER-UDID/'; } > dupkey.csv
expect_err 16 "dupkey.csv:4: duplicate public key.*earlier in the same list" "duplicate key within the file" "$MP" chips import dupkey.csv --allow-unsigned --ledger $L
{ hdr; kline 5; kline 6 | sed 's/^[^,]*/X1/'; kline 7 | sed 's/^[^,]*/X1/'; } > dupudid.csv
expect_err 16 "dupudid.csv:4: duplicate UDID X1 \(earlier in the same list\)" "duplicate UDID within the file" "$MP" chips import dupudid.csv --allow-unsigned --ledger $L
{ hdr; kline 5; kline 2 | sed 's/^[^,]*/NEW-UDID/'; } > dupledger.csv
expect_err 16 "dupledger.csv:3: duplicate public key.*already in the ledger" "duplicate key against the ledger" "$MP" chips import dupledger.csv --allow-unsigned --ledger $L
k6=$(kline 6 | cut -d, -f2); [ "${k6: -1}" = 0 ] && y6=1 || y6=0   # change Y: off the curve
{ hdr; kline 5; printf "offc,%s%s\n" "${k6%?}" "$y6"; } > offcurve.csv
expect_err 10 "offcurve.csv:3: public key is not a point on the P-256 curve" "off-curve point" "$MP" chips import offcurve.csv --allow-unsigned --ledger $L
{ hdr; kline 5; printf 'short,04abcd\n'; } > short.csv
expect_err 10 "short.csv:3: public key is 3 bytes" "wrong length" "$MP" chips import short.csv --allow-unsigned --ledger $L
{ hdr; kline 5 | sed 's/^[^,]*/..\/evil/'; } > evil.csv
expect_err 10 "evil.csv:2: UDID must not start with" "UDID that could escape a folder" "$MP" chips import evil.csv --allow-unsigned --ledger $L
{ hdr; kline 5 | sed 's/^[^,]*/chip-1/'; } > nohash.csv
expect_err 12 "nohash.csv:2: UDID 'chip-1' is not the uppercase hex SHA-256" "--check-udid-hash" "$MP" chips import nohash.csv --allow-unsigned --check-udid-hash --ledger $L
printf '[{"udid":"a","public_key":"%s"},\n {"udid":"b"}]\n' "$(kline 5 | cut -d, -f2)" > missing.json
expect_err 10 "missing.json: entry 2 \(line 2\): \"public_key\" is missing" "JSON entry without a key" "$MP" chips import missing.json --allow-unsigned --ledger $L
check "all-or-nothing: device count unchanged ($before)" test "$(devices)" = "$before"
check "all-or-nothing: no chip list rows from failed imports" test "$(lists)" = 1
# a compressed key and an absent UDID
k=$(kline 8 | cut -d, -f2); u=$(kline 8 | cut -d, -f1)
y=${k:129:1}; case $y in [02468aceACE]) p=02 ;; *) p=03 ;; esac
printf 'udid,public_key\n,%s%s\n' "$p" "${k:2:64}" > comp.csv
expect 0 "compressed key without UDID" "$MP" chips import comp.csv --allow-unsigned --ledger $L
check "decompressed and UDID by the SHA-256 rule" test "$(sqlite3 $L "select lower(hex(pubkey)) from devices where udid='$u'")" = "$k"
expect_err 2 "cannot tell the format" "unknown extension needs --format" "$MP" chips import sim/chipmaker.key --ledger $L
expect 0 "--help" "$MP" chips import --help
finish
