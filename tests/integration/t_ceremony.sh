#!/usr/bin/env bash
# t_ceremony.sh - token init, PAA and PAI ceremonies, CSR flow, lint, and every
# bad input of issue 2, against a real SoftHSM token.
. "$(dirname "$0")/lib.sh"
H="--token test --pin-file pin"

expect 0 "token init" "$MP" token init --label test --pin-file pin --so-pin-file sopin
check "state dir has its own softhsm2.conf" test -f state/softhsm2.conf
expect_err 6 "already exists" "token init refuses an existing label" "$MP" token init --label test --pin-file pin --so-pin-file sopin

expect 0 "paa create" "$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem
expect 0 "pai create" "$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem
expect 0 "paa (no VID) create" "$MP" paa create $H --key-label paa2 --cn "Acme PAA 2" --days 3650 --out paa2.pem
expect 0 "pai under a PAA without VID" "$MP" pai create $H --paa-cert paa2.pem --paa-key "pkcs11:token=test;object=paa2;type=private" --key-label pai2 --cn "PAI 2" --vid FFF3 --out pai2.pem

check "openssl verify -x509_strict PAI" openssl verify -x509_strict -CAfile paa.pem pai.pem
check "openssl verify -x509_strict PAI 2" openssl verify -x509_strict -CAfile paa2.pem pai2.pem
expect 0 "lint paa" "$MP" cert lint --type paa paa.pem
expect 0 "lint pai" "$MP" cert lint --type pai pai.pem
check "PAA has no PID, pathlen 1" bash -c "openssl x509 -in paa.pem -noout -text | grep -q 'CA:TRUE, pathlen:1' && ! openssl x509 -in paa.pem -noout -subject | grep -q 37244.2.2"
check "PAI pathlen 0" bash -c "openssl x509 -in pai.pem -noout -text | grep -q 'CA:TRUE, pathlen:0'"
check "no-expiry notAfter" bash -c "openssl asn1parse -in pai.pem | grep -q ':99991231235959Z'"
check "UTCTime notBefore" bash -c "openssl asn1parse -in pai.pem | grep -q 'UTCTIME.*:250102'"
check "serial >= 64 bits" bash -c "s=\$(openssl x509 -in pai.pem -noout -serial | cut -d= -f2); [ \${#s} -ge 16 ] && [ \${#s} -le 40 ]"
check "days: notAfter = start + 3650 days" bash -c "openssl x509 -in paa2.pem -noout -enddate | grep -q \"\$(date -u -d '+3650 days -1 second' '+%b %e')\""

# keys: sensitive, never extractable, CKA_ID = SKID, reading fails
p11 --login --pin "$PIN" --list-objects --type privkey > objs.txt 2>&1
check "private keys never extractable" bash -c "[ \$(grep -c 'sensitive, always sensitive, never extractable' objs.txt) = 4 ]"
check "private keys sign-only" bash -c "! grep -Eq 'Usage:.*(decrypt|unwrap)' objs.txt"
skid=$(openssl x509 -in paa.pem -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :' | tr A-F a-f)
# CKA_ID: a CA key is unmodifiable and uncopyable (issue 13 item 8), so its
# attributes are final at generation, before its point (so its SKID) is known.
# Its CKA_ID is the id= of the key URI in the ceremony log, which also records
# the SKID of the key and of the certificate.
paa_id=$(grep '"command":"paa create"' state/ceremony.log | head -1 | sed 's/.*;id=\([^;]*\);.*/\1/' | tr -d '%')
check "CKA_ID is the id= of the ceremony log's key URI" grep -q "ID:         $paa_id" objs.txt
check "ceremony log records the key's SKID = certificate SKID" bash -c "grep '\"command\":\"paa create\"' state/ceremony.log | head -1 | grep -qi '\"skid\":\"$skid\"'"
check "CKA_VALUE read refused" env SOFTHSM2_CONF="$MATTER_PKI_STATE/softhsm2.conf" "$MP_TOOLS/p11_read_value" /usr/lib/softhsm/libsofthsm2.so test "$PIN" paa

# ceremony log
# (token init is recorded too, with the PKI ID that binds the ledger: issue 13 item 4)
check "ceremony log has token init + 4 key records" bash -c "[ \$(wc -l < state/ceremony.log) = 5 ] && head -1 state/ceremony.log | grep -q '\"command\":\"token init\".*\"pki_id\":\"'\$(cat state/pki-id)"
check "ceremony log records are JSON with skid and fingerprint" bash -c "sed -n 2p state/ceremony.log | grep -q '\"skid\":\"' && sed -n 2p state/ceremony.log | grep -q '\"cert_sha256\"'"
check "ceremony log never holds the PIN" bash -c "! grep -q $PIN state/ceremony.log"
check "ceremony log is 0600" bash -c "[ \$(stat -c %a state/ceremony.log) = 600 ]"

# CSR flow: the PAA with another party
expect 0 "pai csr" "$MP" pai csr $H --key-label pai3 --cn "Remote PAI" --vid FFF2 --out pai3.csr
check "CSR verifies" openssl req -in pai3.csr -noout -verify
expect 0 "paa sign-pai" "$MP" paa sign-pai $H --paa-cert paa.pem --paa-key paa --csr pai3.csr --out pai3.pem
check "signed PAI verifies" openssl verify -x509_strict -CAfile paa.pem pai3.pem
expect 0 "lint signed PAI" "$MP" cert lint --type pai pai3.pem
# a CSR whose signature is broken
openssl req -in pai3.csr -outform DER -out pai3.der 2>/dev/null
flip_byte pai3.der bad.csr -3
expect_err 13 "does not verify" "sign-pai refuses a CSR with a bad signature" "$MP" paa sign-pai $H --paa-cert paa.pem --paa-key paa --csr bad.csr --out bad.pem
check "no output for the bad CSR" test ! -e bad.pem
# a CSR with a wrong VID for this PAA, and one with a lowercase VID
openssl ecparam -name prime256v1 -genkey -out sw.key 2>/dev/null
mkcsr() { # mkcsr OUT VID: a software-key CSR with a matter-vid attribute
    printf 'oid_section=oids\n[oids]\nmatterVID=1.3.6.1.4.1.37244.2.1\n[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=Other\nmatterVID=%s\n' "$2" > csr.cnf
    openssl req -new -key sw.key -config csr.cnf -utf8 -out "$1" 2>/dev/null
}
mkcsr other.csr FFF3
expect_err 12 "differs from the PAA" "sign-pai refuses a VID that differs from the PAA's" "$MP" paa sign-pai $H --paa-cert paa.pem --paa-key paa --csr other.csr --out o.pem
mkcsr lower.csr fff2
expect_err 11 "matter-vid" "sign-pai re-validates the subject (lowercase VID)" "$MP" paa sign-pai $H --paa-cert paa.pem --paa-key paa --csr lower.csr --out o.pem

# bad inputs: each a distinct code, no partial file, no orphan key
count_keys() { p11 --login --pin "$PIN" --list-objects --type privkey 2>/dev/null | grep -c 'Private Key Object'; }
before=$(count_keys)
expect_err 3 "PIN incorrect" "wrong PIN" "$MP" paa create --token test --pin-file badpin --key-label x1 --cn X --out x1.pem
expect_err 4 "module" "missing module" "$MP" paa create $H --module /nonexistent/lib.so --key-label x2 --cn X --out x2.pem
expect_err 4 "module" "missing module (env)" env MATTER_PKI_MODULE=/nonexistent.so "$MP" paa create $H --key-label x2 --cn X --out x2.pem
expect_err 5 "no token labelled" "missing token" "$MP" paa create --token nosuch --pin-file pin --key-label x3 --cn X --out x3.pem
expect_err 6 "already has an object labelled 'paa'" "label collision" "$MP" paa create $H --key-label paa --cn X --out x4.pem
expect_err 10 "vendor ID" "VID 0" "$MP" paa create $H --key-label x5 --cn X --vid 0 --out x5.pem
expect_err 10 "vendor ID" "VID above FFF4" "$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label x6 --cn X --vid FFF5 --out x6.pem
expect_err 2 "unknown option '--pid'" "PID on a PAA" "$MP" paa create $H --key-label x7 --cn X --pid 8000 --out x7.pem
expect_err 12 "differs from the PAA" "PAI VID differs from PAA VID" "$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label x8 --cn X --vid FFF1 --out x8.pem
expect_err 8 "already exists" "existing output refused" "$MP" paa create $H --key-label x9 --cn X --out paa.pem
mkdir ro && chmod 500 ro
if [ "$(id -u)" = 0 ]; then
    # root ignores directory permissions; use a path under a file instead
    expect_err 9 "does not exist|not writable" "unwritable directory" "$MP" paa create $H --key-label x10 --cn X --out paa.pem/sub/x.pem
else
    expect_err 9 "not writable" "unwritable directory" "$MP" paa create $H --key-label x10 --cn X --out ro/x.pem
fi
expect_err 2 "never taken from the command line" "PIN on argv refused" "$MP" paa create --token test --pin "$PIN" --key-label x11 --cn X --out x11.pem
expect_err 11 "not a conforming PAA" "a PAI is not accepted as PAA" "$MP" pai create $H --paa-cert pai.pem --paa-key pai --key-label x12 --cn X --vid FFF2 --out x12.pem
expect_err 12 "is not the key of" "PAA key that does not match the certificate" "$MP" pai create $H --paa-cert paa.pem --paa-key paa2 --key-label x13 --cn X --vid FFF2 --out x13.pem
expect_err 7 "no private key" "unknown PAA key" "$MP" pai create $H --paa-cert paa.pem --paa-key nosuch --key-label x14 --cn X --vid FFF2 --out x14.pem
expect_err 11 "notBefore lies outside" "PAI starting before its PAA" "$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label x15 --cn X --vid FFF2 --valid-from 2024-01-01 --out x15.pem
expect_err 2 "is not a date" "bad date" "$MP" paa create $H --key-label x16 --cn X --valid-from 2025-02-30 --out x16.pem
check "no partial or temporary files" bash -c "! ls x*.pem *.tmp.* 2>/dev/null | grep -q ."
after=$(count_keys)
check "no orphan keys after failures ($before before, $after after)" test "$before" = "$after"
expect 0 "--force replaces the output" "$MP" paa create $H --key-label x17 --cn X --out paa2.pem --force
expect 0 "PIN from MATTER_PKI_PIN" env MATTER_PKI_PIN="$PIN" "$MP" paa create --token test --key-label x18 --cn X --out x18.pem
expect_err 3 "no PIN" "no PIN source without a terminal" "$MP" paa create --token test --key-label x19 --cn X --out x19.pem < /dev/null

# the SDK vectors pass the linter; a PAI is no DAC
for f in PAA-FFF1 PAA-NoVID; do expect 0 "lint SDK $f" "$MP" cert lint --type paa "$VEC/Chip-Test-$f-Cert.pem"; done
expect 0 "lint SDK PAI" "$MP" cert lint --type pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem"
expect 0 "lint SDK DAC" "$MP" cert lint --type dac "$VEC/Chip-Test-DAC-FFF1-8000-0000-Cert.pem"
openssl x509 -in "$VEC/Chip-Test-DAC-FFF1-8000-0000-Cert.pem" -outform DER -out dac.der
expect 0 "lint accepts DER" "$MP" cert lint --type dac dac.der
expect_err 11 "rules violated" "lint rejects a PAI as DAC" "$MP" cert lint --type dac "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem"
check "lint lists each violated rule" bash -c "\"$MP\" cert lint --type dac \"$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem\" | grep -c FAIL | grep -qx 3"
expect 0 "help lists commands" "$MP" help
expect 0 "command --help" "$MP" paa create --help
check "every command has --help and a README example" bash -c '
  # the command column is 22 characters wide (one- and two-word commands)
  "$MP" help | awk "NR>5 && /^  [a-z]/" | cut -c3-24 | sed "s/ *\$//" > cmds.txt
  [ "$(wc -l < cmds.txt)" -ge 29 ] || exit 1
  while read -r c; do
    "$MP" $c --help | grep -q "^usage: matter-pki $c" || { echo "no help: $c"; exit 1; }
    grep -q "matter-pki $c" "$(dirname "$MP")/../README.md" || { echo "no README: $c"; exit 1; }
  done < cmds.txt'
expect 0 "exit codes are listed" "$MP" help exit-codes
check "exit code list complete" grep -q "20  interrupted" out.txt
finish
