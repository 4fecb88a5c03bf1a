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

# --- every command that writes audit rows signs a checkpoint at its end (the
# dispatcher's mp_cli_audit_end): with its own token (order create), or, for a
# command that needs none, the token opened at its end when a PIN is given
# head_signed DESC EVENT: the last audit row is EVENT, it has a checkpoint, and
# the ceremony log's last line records that checkpoint, signed by the audit key
head_signed() {
    local h; h=$(db "select max(seq) from audit")
    check "$1: it wrote its audit row ($2)" test "$(db "select event from audit where seq = $h")" = "$2"
    check "$1: a checkpoint of that row at its end" test "$(db "select count(*) from audit_checkpoints where seq = $h")" = 1
    check "$1: ... in the ceremony log, signed by the audit key" bash -c "tail -1 $LOG | jq -e --arg c 'audit checkpoint $h' --arg s $skid '.command == \$c and .audit_skid == \$s and (.sig | length) > 100' > /dev/null"
}
"$MP" chips simulate --count 6 --out sim3 > /dev/null
expect 0 "chips import --token --pin-file" "$MP" chips import sim3/chips.csv --signature sim3/chips.csv.sig --signer sim3/chipmaker.pem $H
head_signed "chips import" chips.import
expect 0 "order create" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 3
O2=$(cat out.txt)
head_signed "order create" order.create
expect 0 "order assign" "$MP" order assign --order "$O2" --station line-a --quota 3 $H
head_signed "order assign" order.assign
expect 0 "station add" "$MP" station add line-b $H
head_signed "station add" station.add
expect 0 "station disable" "$MP" station disable line-b $H
head_signed "station disable" station.disable
expect 0 "dac issue (the order's 3 DACs)" "$MP" dac issue $H --order "$O2" --station line-a --out-dir o2 --quiet
head_signed "dac issue" dac.issue
ser=$(db "select serial from certificates where order_id = $O2 limit 1")
expect 0 "dac revoke" "$MP" dac revoke --serial "$ser" --reason keyCompromise $H
head_signed "dac revoke" dac.revoke
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai2 --cn "Acme PAI 2" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai2.pem > /dev/null
expect 0 "pai revoke" "$MP" pai revoke --pai-cert pai2.pem --reason cACompromise $H
head_signed "pai revoke" ca.revoke
expect 0 "paa crl" "$MP" paa crl $H --paa-cert paa.pem --paa-key paa --out paa.crl
head_signed "paa crl" crl.issue
cp "$(dirname "$0")/../../examples/product.json" product.json
"$MP" cd create $H --signer-cert cds.pem --signer-key cds --product product.json --out cd.der > /dev/null
expect 0 "factory-data build" "$MP" factory-data build --order "$O2" --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format json --iterations 1000 --out-dir fd --quiet $H
head_signed "factory-data build" factory-data.build
expect 0 "order close" "$MP" order close --order "$O2" $H
head_signed "order close" order.close
# station certificates for `serve`: issued and revoked, each an audit row
"$MP" station ca create $H --key-label stca --cn "Acme Stations" --out stca.pem > /dev/null
openssl ecparam -name prime256v1 -genkey -noout -out st1.key 2> /dev/null
openssl req -new -key st1.key -subj "/CN=st1" -out st1.csr
expect 0 "station issue" "$MP" station issue st1 $H --csr st1.csr --ca-cert stca.pem --ca-key stca --out st1.pem
head_signed "station issue" station.cert.issue
expect 0 "station revoke" "$MP" station revoke st1 $H
head_signed "station revoke" station.cert.revoke
check "station revoke: the row names the station and the count" test "$(db "select objects || ' ' || detail from audit where event = 'station.cert.revoke'")" = 'station=st1 {"certificates":1}'
c2=$(db "select count(*) from audit_checkpoints")
expect 0 "station add without a PIN" "$MP" station add line-c
check "... its row waits for the next checkpoint" test "$(db "select count(*) from audit_checkpoints")" = "$c2"
check "... and stderr says so, naming the row" grep -q "note: audit row $(db "select max(seq) from audit") is not signed yet" err.txt
expect 0 "station add with a token that lacks the audit key: nothing signed, no failure" "$MP" station add line-d --token other --pin-file pin
check "... no checkpoint" test "$(db "select count(*) from audit_checkpoints")" = "$c2"
"$MP" chips simulate --count 2 --out sim4 > /dev/null
expect 0 "chips import --quiet without a PIN: no note" "$MP" chips import sim4/chips.csv --signature sim4/chips.csv.sig --signer sim4/chipmaker.pem --quiet
check "... nothing on stderr" test ! -s err.txt
expect_err 3 "not signed" "a wrong PIN: the change is kept, the checkpoint's failure is named" "$MP" station add line-f --token test --pin-file badpin
check "... the station was added" test "$(db "select count(*) from stations where name = 'line-f'")" = 1
expect 0 "audit checkpoint signs what waited" "$MP" audit checkpoint $H
expect 0 "audit verify after every command" "$MP" audit verify --audit-key audit.pem
# --- the ledger's trail tampered with, each on a copy: audit verify exits 25
# naming the first bad sequence number (chain, head, signed checkpoints)
if [ "${MP_AUDIT_LEDGER:-}" = pg ]; then
    lcopy() { psql_ postgres "CREATE DATABASE $1 TEMPLATE ledger" > /dev/null; }
    lsql() { psql_ "$1" "ALTER TABLE audit DISABLE TRIGGER USER; $2" > /dev/null; }
    lat() { echo "host=$PGSOCK user=mp dbname=$1"; }
    # rehash COPY K HEAD: row K's detail changed, the hashes of K.. recomputed (and the head's when HEAD=1)
    rehash() {
        lsql "$1" "UPDATE audit SET detail = '{\"forged\":1}' WHERE seq = $2;
          DO \$\$DECLARE r record; p bytea; BEGIN SELECT prev INTO p FROM audit WHERE seq = $2;
          FOR r IN SELECT * FROM audit WHERE seq >= $2 ORDER BY seq LOOP
            UPDATE audit SET prev = p, hash = sha256(p || convert_to(r.seq::text || E'\n' || r.at || E'\n' || r.station || E'\n'
              || r.operator || E'\n' || r.event || E'\n' || r.objects || E'\n' || r.detail, 'UTF8')) WHERE seq = r.seq RETURNING hash INTO p;
          END LOOP; IF $3 = 1 THEN UPDATE audit_head SET hash = p; END IF; END\$\$"
    }
else
    lcopy() { mkdir -p "$1" && sqlite3 state/ledger.sqlite ".backup $1/ledger.sqlite"; }
    lsql() { sqlite3 "$1/ledger.sqlite" "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; $2"; }
    lat() { echo "$1/ledger.sqlite"; }
    rehash() {
        python3 - "$1/ledger.sqlite" "$2" "$3" <<'EOF2'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1]); k = int(sys.argv[2])
db.executescript("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
db.execute("UPDATE audit SET detail = '{\"forged\":1}' WHERE seq = ?", (k,))
p = db.execute("SELECT prev FROM audit WHERE seq = ?", (k,)).fetchone()[0]
for r in db.execute("SELECT seq, at, station, operator, event, objects, detail FROM audit WHERE seq >= ? ORDER BY seq", (k,)).fetchall():
    h = hashlib.sha256(p + "\n".join([str(r[0])] + list(r[1:])).encode()).digest()
    db.execute("UPDATE audit SET prev = ?, hash = ? WHERE seq = ?", (p, h, r[0])); p = h
if sys.argv[3] == "1": db.execute("UPDATE audit_head SET hash = ?", (p,))
db.commit()
EOF2
    }
fi
# ledger_bad COPY SEQ PATTERN DESC
ledger_bad() { expect_err 25 "broken at sequence number $2: .*$3" "$4" "$MP" audit verify --ledger "$(lat "$1")"; }
n=$(db "select max(seq) from audit"); k=$((c0 + 5)); p1=$(db "select min(seq) from audit_checkpoints where seq >= $k")
lcopy la; lsql la "UPDATE audit SET detail = '{\"forged\":1}' WHERE seq = $k"
ledger_bad la "$k" "row $k was altered" "a row changed"
lcopy lb; lsql lb "DELETE FROM audit WHERE seq = $k"
ledger_bad lb "$k" "row $k is missing" "a row deleted"
lcopy lc; lsql lc "DELETE FROM audit WHERE seq = $n"
ledger_bad lc "$n" "row $n onwards is missing" "the last row deleted (the head names it)"
lcopy ld; rehash ld "$n" 0
ledger_bad ld "$n" "row $n is not the row that was written last" "the last row changed and its hash recomputed (the head holds the old one)"
lcopy le; lsql le "DELETE FROM audit WHERE seq >= $p1; UPDATE audit_head SET seq = $((p1 - 1)), hash = (SELECT hash FROM audit WHERE seq = $((p1 - 1)))"
ledger_bad le "$p1" "rows were deleted" "rows cut off the end and the head rewritten: the signed checkpoint of row $p1 names it"
lcopy lf; rehash lf "$k" 1
ledger_bad lf "$p1" "a row from $((c0 + 1)) to $p1 was changed and the chain recomputed" "a row changed and the whole chain and head recomputed: the first checkpoint after it names it and the range"
lcopy lg; lsql lg "UPDATE audit_checkpoints SET at = '2020-01-01T00:00:00Z' WHERE seq = $c0"
ledger_bad lg "$c0" "signature does not verify" "a checkpoint changed"
# ... and the checkpoints after the change deleted too: the ceremony log's signed checkpoint entries name them
lcopy lh; rehash lh "$k" 1; lsql lh "DELETE FROM audit_checkpoints WHERE seq >= $k"
ledger_bad lh "$p1" "ceremony.log line [0-9]+ records the signed checkpoint of row $p1 with another hash" "a row changed, the chain recomputed and the checkpoints after it deleted: the log's entry of the next one names it"
lcopy li; lsql li "DELETE FROM audit WHERE seq >= $p1; DELETE FROM audit_checkpoints WHERE seq >= $p1; UPDATE audit_head SET seq = $((p1 - 1)), hash = (SELECT hash FROM audit WHERE seq = $((p1 - 1)))"
ledger_bad li "$p1" "records the signed checkpoint of row $p1, which the trail no longer has" "rows and their checkpoints cut off the end, the head rewritten: the log's entry names the first"
check "checkpoint entries in the ceremony log carry the row and its hash" jq -s -e --arg h "$(db "select lower(hex(hash)) from audit where seq = $c0" 2>/dev/null || true)" 'map(select(.audit_seq != null)) | length >= 5 and all(.audit_hash | test("^[0-9a-f]{64}$"))' $LOG
expect 0 "the untouched ledger still verifies" "$MP" audit verify
if [ "${MP_AUDIT_LEDGER:-}" = pg ]; then
    # ledger migrate: the copy's ledger.migrate row is signed on the destination
    "$MP" ledger init --ledger m.sqlite > /dev/null
    "$MP" chips import sim3/chips.csv --signature sim3/chips.csv.sig --signer sim3/chipmaker.pem --ledger m.sqlite > /dev/null
    "$MP" audit init $H --key-label audit-m --out audit-m.pem --ledger m.sqlite > /dev/null
    MD=$(pg_newdb migrated)
    expect 0 "ledger migrate --to PostgreSQL --token --pin-file" "$MP" ledger migrate --ledger m.sqlite --to "$MD" $H
    h=$(psql_ migrated "select max(seq) from audit")
    check "ledger migrate: its ledger.migrate row has a checkpoint in the copy" test "$(psql_ migrated "select event from audit where seq = $h")/$(psql_ migrated "select count(*) from audit_checkpoints where seq = $h")" = ledger.migrate/1
    check "... the source's checkpoint came along too" test "$(psql_ migrated "select count(*) from audit_checkpoints")" = 2
    expect 0 "audit verify on the copy" "$MP" audit verify --ledger "$MD" --audit-key audit-m.pem
fi

finish
