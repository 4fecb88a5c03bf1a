#!/usr/bin/env bash
# t_audit.sh - issue 16's audit items against a real token and a real ledger:
# a checkpoint every 1,000 audit rows in a long `dac issue` run (besides the
# one at its end), and the ceremony log signed by the audit key once it
# exists: `audit verify` checks every signature and names the first bad line
# when a line is edited, deleted, re-chained, forged or signed by another key,
# or left uncovered by any signature. MP_AUDIT_LEDGER=pg (t_audit_pg.sh): the
# same with the ledger on a real PostgreSQL 15 (pg.sh).
. "$(dirname "$0")/lib.sh"
H="--token test --pin-file pin"
new_token
db() { sqlite3 state/ledger.sqlite "$1"; }
if [ "${MP_AUDIT_LEDGER:-}" = pg ]; then
    . "$(dirname "$0")/pg.sh"
    L=$(pg_newdb ledger) || { echo "cannot create the database"; exit 1; }
    export MATTER_PKI_LEDGER="$L"
    db() { psql_ ledger "$1"; }
fi
LOG=state/ceremony.log
# rechain FILE: recompute every line's "prev" (what someone who edits the log
# and wants the chain to hold would do); the signatures stay as they were
rechain() {
    python3 - "$1" <<'EOF'
import hashlib, re, sys
p = sys.argv[1]
lines = open(p, 'rb').read().split(b'\n')[:-1]
for i in range(1, len(lines)):
    h = hashlib.sha256(lines[i - 1]).hexdigest().encode()
    lines[i] = re.sub(rb'"prev":"[0-9a-f]{64}"', b'"prev":"' + h + b'"', lines[i], count=1)
open(p, 'wb').write(b''.join(l + b'\n' for l in lines))
EOF
}
# line N FILE: the line's command
cmd_of() { sed -n "${1}p" "${2:-$LOG}" | jq -r .command; }

# tamper NAME: a copy of the state folder (with its SQLite ledger) to change
tamper() { rm -rf "$1"; cp -r state "$1"; }
# verify_bad DIR LINE PATTERN DESC: audit verify of DIR's log exits 25 naming LINE
verify_bad() {
    expect_err 25 "ceremony log broken at line $2: .*$3" "$4" "$MP" audit verify --state-dir "$1"
}

"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
"$MP" chips simulate --count 1200 --out sim > /dev/null
"$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem > /dev/null
O=$("$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 1200)
check "before an audit key the ceremony log is chained, not signed" bash -c "[ \$(wc -l < $LOG) = 3 ] && ! grep -q '\"sig\"' $LOG"

# --- the audit key: its announcement, signed by it
expect 0 "audit init" "$MP" audit init $H --key-label audit --out audit.pem
skid=$(openssl pkey -pubin -in audit.pem -outform DER | tail -c 65 | sha1sum | cut -c1-40 | tr a-f A-F)
check "the audit init entry announces the key (its public point) and is signed by it" \
    jq -s -e --arg s "$skid" 'map(select(.command == "audit init"))[0] | (.audit_key | length) == 130 and .audit_skid == $s and (.sig | test("^30[0-9a-f]+$"))' $LOG
check "the first checkpoint's entry too, \"sig\" last" bash -c "tail -1 $LOG | grep -qE ',\"sig\":\"30[0-9a-f]+\"}\$'"
expect 0 "audit verify: chain and signatures" "$MP" audit verify
check "it counts the signed lines (2)" grep -q "2 signed by the audit key" out.txt

# --- a long run: a checkpoint every 1,000 audit rows, and one at its end
c0=$(db "select max(seq) from audit_checkpoints")
expect 0 "dac issue, 1,100 chunks of one device (1,100 audit rows)" "$MP" dac issue $H --order "$O" --count 1100 --block 1 --out-dir long --quiet
seqs=$(db "select seq from audit_checkpoints where seq > $c0 order by seq" | tr '\n' ' ')
set -- $seqs
check "two checkpoints from the run: after 1,000 rows and at its end ($seqs)" test "$#" = 2 -a "$(( ${1:-0} - c0 ))" = 1000
check "the periodic one is in the ceremony log, signed" jq -s -e --arg s "$skid" 'map(select(.command | test("^audit checkpoint [0-9]+ \\(every 1000 rows\\)$"))) | length == 1 and .[0].audit_skid == $s and (.[0].sig | length) > 100' $LOG
check "every checkpoint's signature verifies" "$MP" audit verify --audit-key audit.pem
c1=$(db "select max(seq) from audit_checkpoints")
expect 0 "MATTER_PKI_AUDIT_EVERY=10: 35 rows" env MATTER_PKI_AUDIT_EVERY=10 "$MP" dac issue $H --order "$O" --count 35 --block 1 --out-dir short --quiet
check "three periodic checkpoints and the last one ($(db "select count(*) from audit_checkpoints where seq > $c1"))" \
    test "$(db "select count(*) from audit_checkpoints where seq > $c1")" = 4
expect_err 2 "MATTER_PKI_AUDIT_EVERY" "a bad MATTER_PKI_AUDIT_EVERY is refused" env MATTER_PKI_AUDIT_EVERY=0 "$MP" dac issue $H --order "$O" --count 1 --out-dir bad --quiet

# --- entries after the key: signed when the token holds it
expect 0 "pai crl (token with the audit key)" "$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out pai.crl
check "its entry is signed" bash -c "tail -2 $LOG | head -1 | jq -e '.command == \"pai crl\" and (.sig | length) > 100' > /dev/null"
check "its audit row (crl.issue) gets a checkpoint at the command's end" test "$(db "select count(*) from audit_checkpoints c join audit a on a.seq = c.seq where a.event = 'crl.issue'")" = 1
check "... recorded in the ceremony log" bash -c "tail -1 $LOG | jq -e '(.command | startswith(\"audit checkpoint \")) and (.sig | length) > 100' > /dev/null"
"$MP" token init --label other --pin-file pin --so-pin-file sopin > /dev/null
expect 0 "paa create with a token that lacks the audit key" "$MP" paa create --token other --pin-file pin --key-label paa-o --cn "Other PAA" --out paa-o.pem
n_uns=$(wc -l < $LOG)
check "its entry is unsigned" bash -c "tail -1 $LOG | jq -e 'has(\"sig\") | not' > /dev/null"
verify_bad state "$((n_uns - 1))" "signed by no audit key .*audit checkpoint" "the uncovered lines are named (token init, paa create of the other token)"
expect 0 "audit checkpoint signs the trail's head and the log's" "$MP" audit checkpoint $H
expect 0 "audit checkpoint again: the trail's head has its checkpoint, the log's head is signed" "$MP" audit checkpoint $H
check "it says so" grep -q "ceremony log's head signed" out.txt
expect 0 "audit verify: the lines are covered now" "$MP" audit verify
"$MP" cd create-signer $H --key-label cds --cn "CD signer" --out cds.pem > /dev/null
expect 0 "audit verify after more signed entries" "$MP" audit verify
N=$(wc -l < $LOG)
check "the log has unsigned lines before the key ($(cmd_of 4) at line 4), signed ones after ($N lines)" \
    test "$(grep -c '"sig"' $LOG)" -ge 7 -a "$(cmd_of 4)" = "audit init" -a "$(head -3 $LOG | grep -c '"sig"')" = 0

# --- tampering, each on a copy: audit verify exits 25 naming the first bad line
tamper t1; sed -i '2s/"time":"/"time":"X/' t1/ceremony.log
verify_bad t1 3 "does not chain" "an edited line: the next line no longer chains"
tamper t2; sed -i '2s/"time":"/"time":"X/' t2/ceremony.log; rechain t2/ceremony.log
verify_bad t2 4 "signature does not verify" "an edited line, re-chained: the next signed line's signature catches it"
tamper t3; sed -i '5s/"time":"/"time":"X/' t3/ceremony.log; rechain t3/ceremony.log
verify_bad t3 5 "signature does not verify" "an edited signed line, re-chained: its own signature fails"
tamper t4; sed -i '6d' t4/ceremony.log
verify_bad t4 6 "does not chain" "a deleted line: the line after it no longer chains"
tamper t5; sed -i '6d' t5/ceremony.log; rechain t5/ceremony.log
verify_bad t5 6 "signature does not verify" "a deleted line, re-chained: the next signed line's signature catches it"
tamper t6; s7=$(sed -n 7p t6/ceremony.log | jq -r .sig)
sed -i "5s/\"sig\":\"[0-9a-f]*\"/\"sig\":\"$s7\"/" t6/ceremony.log; rechain t6/ceremony.log
verify_bad t6 5 "signature does not verify" "a forged signature (another line's) is named"
tamper t7; sed -i '5s/"sig":"30/"sig":"zz/' t7/ceremony.log; rechain t7/ceremony.log
verify_bad t7 5 "malformed signature" "a signature that is not hex is named"
tamper t8; python3 - t8/ceremony.log <<'EOF'
import hashlib, json, sys
p = sys.argv[1]
last = open(p, 'rb').read().split(b'\n')[-2]
e = {"time": "2026-01-01T00:00:00Z", "operator": "mallory", "command": "paa create", "token": "test",
     "prev": hashlib.sha256(last).hexdigest()}
open(p, 'ab').write(json.dumps(e, separators=(',', ':')).encode() + b'\n')
EOF
verify_bad t8 "$((N + 1))" "signed by no audit key" "an unsigned line appended by hand (chained) is named"
# a line signed by another key: the forger's own "audit key" (not the ledger's)
openssl ecparam -name prime256v1 -genkey -noout -out forger.key 2> /dev/null
forge_signed() { # forge_signed LOG SKID: append a line signed by forger.key claiming audit_skid SKID
    python3 - "$1" "$2" <<'EOF'
import hashlib, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
p, skid = sys.argv[1], sys.argv[2]
key = serialization.load_pem_private_key(open('forger.key', 'rb').read(), None)
last = open(p, 'rb').read().split(b'\n')[-2]
e = {"time": "2026-01-01T00:00:00Z", "operator": "mallory", "command": "paa create", "token": "test",
     "prev": hashlib.sha256(last).hexdigest(), "audit_skid": skid}
body = json.dumps(e, separators=(',', ':')).encode()
sig = key.sign(b"matter-pki ceremony log v1\n" + body, ec.ECDSA(hashes.SHA256()))
open(p, 'ab').write(body[:-1] + b',"sig":"' + sig.hex().encode() + b'"}\n')
EOF
}
tamper t9; fskid=$(openssl ec -in forger.key -pubout -outform DER 2> /dev/null | tail -c 65 | sha1sum | cut -c1-40 | tr a-f A-F)
forge_signed t9/ceremony.log "$fskid"
verify_bad t9 "$((N + 1))" "signed by no audit key" "a line signed by another key (its own SKID) is not covered: named"
tamper t10; forge_signed t10/ceremony.log "$skid"
verify_bad t10 "$((N + 1))" "signature does not verify" "a line signed by another key claiming the audit key's SKID is named"
check "the untouched log still verifies" "$MP" audit verify

finish
