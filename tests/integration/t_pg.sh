#!/usr/bin/env bash
# t_pg.sh - the ledger on a real PostgreSQL 15 (started here in a temporary
# folder, Unix socket only, stopped at exit): 8 stations racing on one order
# while some are killed, station sub-quotas, disabled stations, the audit
# trail, and every fault the issue names (unreachable server, wrong password,
# a role without rights, another schema version, a connection lost mid-batch).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/race.sh"
H="--token test --pin-file pin"
L=$(pg_newdb ledger) || { echo "cannot create the database"; exit 1; }
export MATTER_PKI_LEDGER="$L"
q() { psql_ ledger "$1"; }
new_token
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
"$MP" chips simulate --count 2000 --out sim > /dev/null
expect 0 "chips import into PostgreSQL (MATTER_PKI_LEDGER)" "$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem
check "the schema version is 10 on PostgreSQL too" test "$(q "select value from meta where key='schema_version'")" = 10
check "schema 10: the leases table is there and stays empty (PostgreSQL reserves rows)" test "$(q "select count(*) from leases")" = 0
check "schema 9: the lifecycle and factory-data tables are in the schema" test "$(q "select count(*) from information_schema.tables where table_name in ('crl_published','dcl_state','fd_images','serial_counters')")" = 4
expect 0 "order create (quota 1200 of 2000 devices)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 1200
O=$(cat out.txt)

# 8 stations race on the order, 3 of them killed with SIGKILL on the way
race 8 "$O" 1200 pg

# factory-data build from two processes on the order, each in its own folder
"$MP" cd create-signer $H --key-label cds --cn "CD signer" --out cds.pem > /dev/null
cp "$(dirname "$0")/../../examples/product.json" product.json
"$MP" cd create $H --signer-cert cds.pem --signer-key cds --product product.json --out cd.der > /dev/null
FB="--order $O --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format json --iterations 1000 --quiet"
"$MP" factory-data build $FB --out-dir fdA > fdA.log 2>&1 & p=$!
"$MP" factory-data build $FB --out-dir fdB > fdB.log 2>&1; rb=$?
wait $p; ra=$?
check "two factory-data builds on one order both finish (exit $ra and $rb)" test "$ra" = 0 -a "$rb" = 0
check "factory data for every device once (1200 rows)" test "$(q "select count(*) from factory_data where order_id=$O")" = 1200
check "no factory-data serial twice" test "$(q "select count(distinct serial) from factory_data where order_id=$O")" = 1200
check "every device in exactly one folder's onboarding.csv" bash -c "[ \$(tail -q -n +2 fdA/onboarding.csv fdB/onboarding.csv 2> /dev/null | cut -d, -f1 | sort -u | wc -l) = 1200 ] && [ \$(tail -q -n +2 fdA/onboarding.csv fdB/onboarding.csv 2> /dev/null | wc -l) = 1200 ]"
check "images on disk == factory-data rows" test "$(ls fdA fdB | grep -c '[.]json$')" = 1200
expect 0 "a re-run in one folder has nothing to add" "$MP" factory-data build $FB --out-dir fdA
check "and leaves the other folder's devices alone" test "$(ls fdA | grep -c '[.]json$')" = "$(tail -n +2 fdA/onboarding.csv | wc -l)"

# uniqueness is the database's: a second DAC for a device and profile, a reused serial
u=$(q "select udid from dacs limit 1")
check "unique (udid, profile) is a constraint" bash -c "! psql -X -q -h '$PGSOCK' -U mp -d ledger -c \"insert into dacs(udid,order_id,batch,serial,sha256,der) select udid,order_id,batch,'\\\\x01','\\\\x01','\\\\x01' from dacs where udid='$u'\" 2> /dev/null"
check "another chain profile for the same device is allowed by the schema" psql -X -q -h "$PGSOCK" -U mp -d ledger -c \
    "begin; insert into dacs(udid,profile,order_id,batch,serial,sha256,der) select udid,'pq-mldsa44',order_id,batch,'\\x0102','\\x01','\\x01' from dacs where udid='$u'; rollback"

# stations: sub-quotas and disabled stations
expect 0 "order create (quota 20)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 20
O2=$(cat out.txt)
expect 0 "station add" "$MP" station add line-a
expect_err 16 "already exists" "station add twice" "$MP" station add line-a
expect_err 2 "station" "station add with a bad name" "$MP" station add "bad name"
expect 0 "order assign --quota 3" "$MP" order assign --order $O2 --station line-a --quota 3
expect 0 "order assign another station" "$MP" order assign --order $O2 --station line-b --quota 10
expect_err 15 "sub-quota" "a station over its sub-quota stops there (exit 15)" "$MP" dac issue $H --order $O2 --count 5 --out-dir sa --station line-a --quiet
check "it issued exactly its sub-quota" test "$(q "select count(*) from dacs c join dac_batches b on b.id=c.batch where c.order_id=$O2 and b.station='line-a'")" = 3
expect_err 17 "not assigned" "a station not assigned to the order is refused" "$MP" dac issue $H --order $O2 --count 1 --out-dir sc --station line-c
expect 0 "station disable" "$MP" station disable line-b
expect_err 17 "disabled" "a disabled station is refused" "$MP" dac issue $H --order $O2 --count 1 --out-dir sb --station line-b
check "the database refuses a disabled station's quota too" bash -c "psql -X -q -h '$PGSOCK' -U mp -d ledger -c \"begin; update stations set issued=issued+1 where name='line-b' and enabled=1\" 2>&1 | grep -q 'UPDATE 0' || true"
expect 0 "station list" "$MP" station list
check "station list shows line-b disabled" grep -q "line-b .*disabled" out.txt
expect 0 "ledger report" "$MP" ledger report
check "ledger report has per-station counts with sub-quotas" grep -qE "^$O2 +line-a +3 +3$" out.txt

# the audit trail
n=$(q "select max(seq) from audit")
check "audit rows name every kind of change" bash -c "[ \$(psql -X -A -t -h '$PGSOCK' -U mp -d ledger -c 'select distinct event from audit' | grep -cE '^(chips.import|order.create|order.assign|station.add|station.disable|dac.issue|factory-data.build)$') = 7 ]"
check "the audit trail recorded issuance, assignments and station changes ($n rows)" test "$n" -gt 10
expect 0 "audit export --format jsonl" "$MP" audit export --format jsonl
check "one JSON object per row" test "$(jq -c . out.txt | wc -l)" = "$n"
check "the trigger refuses UPDATE" bash -c "! psql -X -q -h '$PGSOCK' -U mp -d ledger -c \"update audit set detail='{}' where seq=3\" 2> /dev/null"
check "the trigger refuses DELETE" bash -c "! psql -X -q -h '$PGSOCK' -U mp -d ledger -c \"delete from audit where seq=3\" 2> /dev/null"
psql_ postgres "CREATE DATABASE tamper TEMPLATE ledger" > /dev/null
psql_ tamper "ALTER TABLE audit DISABLE TRIGGER audit_no_change; UPDATE audit SET detail='{\"count\":0}' WHERE seq=3" > /dev/null
expect_err 25 "sequence number 3" "audit verify names a tampered row" "$MP" audit verify --ledger "host=$PGSOCK user=mp dbname=tamper"
psql_ postgres "CREATE DATABASE tamper2 TEMPLATE ledger" > /dev/null
psql_ tamper2 "ALTER TABLE audit DISABLE TRIGGER audit_no_change; DELETE FROM audit WHERE seq=5" > /dev/null
expect_err 25 "sequence number 5" "audit verify names a deleted row" "$MP" audit verify --ledger "host=$PGSOCK user=mp dbname=tamper2"
psql_ postgres "CREATE DATABASE tamper3 TEMPLATE ledger" > /dev/null
psql_ tamper3 "ALTER TABLE audit DISABLE TRIGGER audit_no_change; DELETE FROM audit WHERE seq=$n" > /dev/null
expect_err 25 "sequence number $n" "audit verify notices the last row deleted" "$MP" audit verify --ledger "host=$PGSOCK user=mp dbname=tamper3"

# ledger migrate: an SQLite ledger with issued, revoked and factory-data rows into an empty PostgreSQL one
M="--ledger mig.sqlite"
"$MP" chips simulate --count 30 --out sim2 > /dev/null
"$MP" chips import sim2/chips.csv --signature sim2/chips.csv.sig --signer sim2/chipmaker.pem $M > /dev/null
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 20 $M > mig.order
MO=$(cat mig.order)
"$MP" dac issue $H --order $MO --count 8 --out-dir mig $M --quiet > /dev/null
"$MP" dac issue $H --order $MO --generate-keys --count 4 --out-dir mig $M --quiet > /dev/null
ser=$(sqlite3 mig.sqlite "select serial from certificates limit 1")
"$MP" dac revoke --serial "$ser" --reason keyCompromise $M > /dev/null
"$MP" factory-data build --order $MO --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format json --iterations 1000 --out-dir migfd --quiet $M > /dev/null
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 1 --label miglabel $M > /dev/null
sqlite3 mig.sqlite "insert into station_certs(serial,name,not_after,issued_at,revoked_at) values('0A1B','line-9',2000000000,'2026-01-01 00:00:00',1700000000)"
check "the SQLite ledger has issued, revoked and factory-data rows" test "$(sqlite3 mig.sqlite "select count(*) from dacs")$(sqlite3 mig.sqlite "select count(*) from revocations")$(sqlite3 mig.sqlite "select count(*) from factory_data")" = "12111" # the revoked device gets no factory data
# issue 19's tables in it: a PAI revoked under the PAA, CRLs published by the PAI and the PAA, DCL state
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai2 --cn "Acme PAI 2" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai2.pem > /dev/null
"$MP" pai revoke --pai-cert pai2.pem --reason cACompromise $M > /dev/null
"$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out mig-pai.crl $M > /dev/null
"$MP" paa crl $H --paa-cert paa.pem --paa-key paa --out mig-paa.crl $M > /dev/null
"$MP" dcl export changes --product product.json --cd cd.der --pai-cert pai.pem --test-mode --out-dir migdcl $M > /dev/null
check "the SQLite ledger has CA revocations, published CRLs and DCL state" test "$(sqlite3 mig.sqlite "select count(*) from revocations")/$(sqlite3 mig.sqlite "select count(*) from crl_published")/$(sqlite3 mig.sqlite "select count(*) from dcl_state")" = "2/2/5"
"$MP" revocation-set --out mig-revset.sqlite.json $M > /dev/null
D=$(pg_newdb migrated)
expect_err 2 "password on the command line" "ledger migrate refuses a password in --to" "$MP" ledger migrate $M --to "postgresql://mp:pw@localhost/migrated"
expect 0 "ledger migrate --to PostgreSQL" "$MP" ledger migrate $M --to "$D"
check "it says every table was verified" grep -q "every table verified" out.txt
check "schema 8 rows are copied: the order label and station certificates" test "$(psql_ migrated "select label from orders where label is not null"),$(psql_ migrated "select name||':'||revoked_at from station_certs")" = "miglabel,line-9:1700000000"
"$MP" ledger export --format jsonl $M > mig.sqlite.jsonl
"$MP" ledger export --format jsonl --ledger "$D" > mig.pg.jsonl
check "ledger export is the same from both" cmp -s mig.sqlite.jsonl mig.pg.jsonl
check "the copy has every row" test "$(psql_ migrated "select count(*) from dacs")$(psql_ migrated "select count(*) from revocations")$(psql_ migrated "select count(*) from factory_data")$(psql_ migrated "select count(*) from devices")" = "1221134"
check "issue 19's tables are copied: CA revocation, published CRLs, DCL state" test "$(psql_ migrated "select count(*) from revocations where reason='cACompromise'")/$(psql_ migrated "select count(*) from crl_published")/$(psql_ migrated "select count(*) from dcl_state")" = "1/2/5"
check "the copied CRL records are the same bytes" test "$(psql_ migrated "select issuer_skid||':'||number||':'||encode(issuer_der,'hex')||':'||encode(signer_der,'hex')||':'||this_update||':'||next_update from crl_published order by issuer_skid")" = "$(sqlite3 mig.sqlite "select issuer_skid||':'||number||':'||lower(hex(issuer_der))||':'||lower(hex(signer_der))||':'||this_update||':'||next_update from crl_published order by issuer_skid")"
expect 0 "audit verify on the copy (the source's chain and the migration row)" "$MP" audit verify --ledger "$D"
check "the migration is an audit row" test "$(psql_ migrated "select event from audit order by seq desc limit 1")" = ledger.migrate
expect 0 "revocation-set from the migrated ledger" "$MP" revocation-set --out mig-revset.pg.json --ledger "$D"
check "the same revocation set from both ledgers" cmp -s mig-revset.sqlite.json mig-revset.pg.json
expect 0 "dcl export changes on the migrated ledger" "$MP" dcl export changes --product product.json --cd cd.der --pai-cert pai.pem --test-mode --out-dir migdcl2 --ledger "$D"
check "its DCL state came along: nothing to export" grep -q "no changes" out.txt
expect 0 "pai crl on the migrated ledger" "$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out mig-pai2.crl --ledger "$D"
check "the CRL number goes on after the copied one" test "$(( $(openssl crl -inform DER -in mig-pai2.crl -noout -crlnumber | cut -d= -f2) ))" = "$(( $(openssl crl -inform DER -in mig-pai.crl -noout -crlnumber | cut -d= -f2) + 1 ))"
expect_err 8 "not empty" "ledger migrate into a ledger that is not empty" "$MP" ledger migrate $M --to "$D"
# the verification reads every table back: a destination that changes a copied CRL record on the way in is caught
DX=$(pg_newdb migbad)
"$MP" station add probe --ledger "$DX" > /dev/null
psql_ migbad "ALTER TABLE audit DISABLE TRIGGER audit_no_change; DELETE FROM audit; DELETE FROM stations;
  UPDATE audit_head SET seq = 0, hash = '\\x0000000000000000000000000000000000000000000000000000000000000000';
  CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN NEW.number := NEW.number + 1; RETURN NEW; END\$\$;
  CREATE TRIGGER bump BEFORE INSERT ON crl_published FOR EACH ROW EXECUTE FUNCTION bump()" > /dev/null
expect_err 14 "table crl_published differs after the copy.*nothing was kept" "a copy that differs is refused, naming the table" "$MP" ledger migrate $M --to "$DX"
check "... and nothing was kept" test "$(psql_ migbad "select count(*) from devices")/$(psql_ migbad "select count(*) from crl_published")" = "0/0"
expect 0 "issuing goes on in the migrated ledger" "$MP" dac issue $H --order $MO --count 4 --out-dir mig --ledger "$D" --quiet
check "its IDs go on after the copied ones" test "$(psql_ migrated "select count(distinct batch) from dacs")" = "$(psql_ migrated "select count(*) from dac_batches")"

# through pgbouncer in transaction mode (3 server connections for 4 stations):
# the ledger's SQL keeps no session state
BL=$(pg_bouncer ledger)
check "pgbouncer started (transaction mode)" test -n "$BL"
expect 0 "order create through pgbouncer" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 60 --ledger "$BL"
OB=$(cat out.txt)
pids=""
for i in 1 2 3 4; do "$MP" dac issue $H --order $OB --out-dir bo$i --station bo-$i --block 5 --ledger "$BL" --quiet > bo$i.log 2>&1 & pids="$pids $!"; done
bad=0; for j in $pids; do wait $j || bad=$((bad + 1)); done
check "4 stations through pgbouncer finish the order ($bad failed)" test "$bad" = 0
check "quota, rows and files agree through pgbouncer" test "$(q "select issued from orders where id=$OB")/$(q "select count(distinct udid) from dacs where order_id=$OB")/$(ls bo1 bo2 bo3 bo4 | grep -c '[.]der$')" = "60/60/60"
expect 0 "audit verify through pgbouncer" "$MP" audit verify --ledger "$BL"
pg_bouncer_stop # its server connections would keep the ledger from being a template below

# checkpoints signed by the audit key in the HSM, and the ceremony log's chain
expect 0 "audit init --key-label (its own key in the token)" "$MP" audit init $H --key-label audit-key --out audit-key.pem
check "the audit key's public key is written" openssl pkey -pubin -in audit-key.pem -noout
expect 0 "order create (quota 6)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 6
O5=$(cat out.txt)
expect 0 "dac issue signs a checkpoint at its end" "$MP" dac issue $H --order $O5 --out-dir ck --station line-k --quiet
check "it says so" grep -q "audit checkpoint" state/ceremony.log
expect 0 "audit checkpoint" "$MP" audit checkpoint $H
expect 0 "audit verify --audit-key: chain, signed checkpoints, ceremony log" "$MP" audit verify --audit-key audit-key.pem
check "it counts the checkpoints" grep -qE "[2-9] signed checkpoint" out.txt
check "the ceremony log is chained" bash -c "tail -1 state/ceremony.log | jq -e '.prev | length == 64' > /dev/null"
"$MP" token init --label other --pin-file pin --so-pin-file sopin > /dev/null 2>&1
"$MP" audit init --token other --pin-file pin --key-label k2 --out other-key.pem --ledger "$(pg_newdb otherkey)" > /dev/null 2>&1
expect_err 25 "another key than --audit-key" "checkpoints signed by another key than --audit-key" "$MP" audit verify --audit-key other-key.pem
k=$(q "select min(seq) from audit_checkpoints")
psql_ postgres "CREATE DATABASE cut TEMPLATE ledger" > /dev/null
psql_ cut "ALTER TABLE audit DISABLE TRIGGER audit_no_change; DELETE FROM audit WHERE seq >= $k;
  UPDATE audit_head SET seq = $((k - 1)), hash = (SELECT hash FROM audit WHERE seq = $((k - 1)))" > /dev/null
expect_err 25 "rows were deleted" "a cut trail with its head rewritten is caught by the signed checkpoint" "$MP" audit verify --ledger "host=$PGSOCK user=mp dbname=cut"
psql_ postgres "CREATE DATABASE forged TEMPLATE ledger" > /dev/null
psql_ forged "UPDATE audit_checkpoints SET at = '2020-01-01T00:00:00Z' WHERE seq = $k" > /dev/null
expect_err 25 "signature does not verify" "a changed checkpoint does not verify" "$MP" audit verify --ledger "host=$PGSOCK user=mp dbname=forged"
cp -r state st2
sed -i '2s/"time":"/"time":"X/' st2/ceremony.log
expect_err 25 "ceremony log broken at line 3" "a changed ceremony log line is named" "$MP" audit verify --state-dir st2

# faults
expect_err 14 "/nonexistent/sock" "an unreachable server is named" "$MP" order list --ledger "host=/nonexistent/sock user=mp dbname=x"
expect_err 2 "password on the command line" "a password in a URI on the command line is refused" "$MP" order list --ledger "postgresql://mp:s3cret@localhost/ledger"
check "the password is not echoed" bash -c "! grep -q s3cret err.txt"
expect_err 2 "password on the command line" "password= in a key=value string is refused" "$MP" order list --ledger "host=$PGSOCK password=s3cret dbname=ledger"
psql_ postgres "CREATE ROLE pw LOGIN PASSWORD 'right'; GRANT ALL ON DATABASE ledger TO pw" > /dev/null
as_pg sh -c "printf 'local all pw scram-sha-256\n' | cat - '$PGT/data/pg_hba.conf' > '$PGT/hba.new' && mv '$PGT/hba.new' '$PGT/data/pg_hba.conf'"
psql_ postgres "SELECT pg_reload_conf()" > /dev/null
sleep 0.3
expect_err 3 "password authentication failed" "a wrong password (PGPASSWORD) is exit 3" env PGPASSWORD=wrong "$MP" order list --ledger "host=$PGSOCK user=pw dbname=ledger"
expect_err 14 "permission denied" "a role without rights on the tables is named" env PGPASSWORD=right "$MP" order list --ledger "host=$PGSOCK user=pw dbname=ledger"
V=$(pg_newdb newer)
expect_err 21 "holds no matter-pki ledger" "a read command never creates a ledger in an empty database" "$MP" order list --ledger "$V"
expect 0 "a writing command gives an empty database the schema" "$MP" station add probe --ledger "$V"
psql_ newer "UPDATE meta SET value='99' WHERE key='schema_version'" > /dev/null
expect_err 14 "schema version 99 is newer than this matter-pki's \(10\)" "a newer schema is refused, naming both versions" "$MP" order list --ledger "$V"
# schema 7 -> 8 (order labels, station certificates) on PostgreSQL
V7=$(pg_newdb seven)
expect 0 "a schema 10 ledger to turn back into 7" "$MP" station add probe --ledger "$V7"
psql_ seven "DROP TABLE crl_published, dcl_state, station_certs, leases; DROP INDEX orders_label; ALTER TABLE orders DROP COLUMN label; UPDATE meta SET value='7' WHERE key='schema_version'" > /dev/null
expect_err 14 "schema version 7 .*a command that writes upgrades it" "a read command does not upgrade a schema 7 ledger" "$MP" order list --ledger "$V7"
expect 0 "a writing command upgrades schema 7 to 10" "$MP" station add probe2 --ledger "$V7"
check "schema 8, 9 and 10: version, orders.label, station_certs, crl_published" test "$(psql_ seven "select value from meta where key='schema_version'"),$(psql_ seven "select count(*) from information_schema.columns where table_name='orders' and column_name='label'"),$(psql_ seven "select count(*) from station_certs"),$(psql_ seven "select count(*) from crl_published")" = 10,1,0,0
# schema 8 -> 9 (the tables made on first use before) on PostgreSQL
V8=$(pg_newdb eight)
expect 0 "a schema 10 ledger to turn back into 8" "$MP" station add probe --ledger "$V8"
psql_ eight "DROP TABLE crl_published, dcl_state, leases; UPDATE meta SET value='8' WHERE key='schema_version'" > /dev/null
expect_err 14 "schema version 8 is older than this matter-pki's \(10\); a command that writes upgrades it" "a read command does not upgrade a schema 8 ledger" "$MP" order list --ledger "$V8"
expect 0 "a writing command upgrades schema 8 to 10" "$MP" station add probe2 --ledger "$V8"
check "schema 9 and 10: version, crl_published, dcl_state and leases" test "$(psql_ eight "select value from meta where key='schema_version'"),$(psql_ eight "select count(*) from crl_published"),$(psql_ eight "select count(*) from dcl_state"),$(psql_ eight "select count(*) from leases")" = 10,0,0,0
# EST's ledger functions on PostgreSQL: order labels, station certificates
expect 0 "order create --label on PostgreSQL" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 1 --label pgl
expect_err 16 "labelled 'pgl' exists" "a duplicate label is refused on PostgreSQL (unique index)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 1 --label pgl
expect 0 "order list shows the label" "$MP" order list
check "label=pgl listed" grep -q "label=pgl" out.txt
expect_err 10 "no certificate that is not revoked" "station revoke on PostgreSQL with none issued" "$MP" station revoke nosuch

# a connection lost in the middle of a batch: a re-run finishes
expect 0 "order create (quota 300)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 300
O3=$(cat out.txt)
"$MP" dac issue $H --order $O3 --out-dir lost --station line-x --block 1 --quiet > lost.out 2> lost.err & p=$!
for k in $(seq 1 40); do
    sleep 0.1
    [ "$(q "select count(*) from dacs where order_id=$O3")" -gt 5 ] && break
done
q "select pg_terminate_backend(pid) from pg_stat_activity where datname='ledger' and pid <> pg_backend_pid() and backend_type='client backend'" > /dev/null
wait $p; rc=$?
if [ "$rc" = 14 ] && grep -q "connection" lost.err; then ok "a lost connection stops the run with exit 14, saying so"; else
    fail "a lost connection stops the run with exit 14 (exit $rc)"; head -3 lost.err | sed 's/^/       /'; fi
expect 0 "the re-run finishes the order" "$MP" dac issue $H --order $O3 --out-dir lost --station line-x --quiet
check "nothing twice after the lost connection" test "$(q "select count(distinct udid) from dacs where order_id=$O3")" = "$(q "select issued from orders where id=$O3")"
check "files = ledger rows after the lost connection" test "$(ls lost | grep -c '[.]der$')" = "$(q "select count(*) from dacs where order_id=$O3")"
check "only the cut-off run's block stays reserved until its lease expires" test "$(q "select count(*) from devices where state=3")" -le 2
# a lease lost while signing: the reservations expire under the run (their
# expiry moved into the past); the run records nothing for those devices and
# they go back to the pool, so the order still ends with each device once
expect 0 "order create (quota 200)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 200
O6=$(cat out.txt)
"$MP" dac issue $H --order $O6 --out-dir ll --station line-l --block 4 > ll.out 2> ll.err & p=$!
# (rows the run is writing are skipped: an expiry takes no row locks, a test's UPDATE does)
while kill -0 $p 2> /dev/null; do
    q "update devices set lease_until=0 where udid in (select udid from devices where state=3 and lease_order=$O6 for update skip locked)" > /dev/null 2>&1
    sleep 0.02
done
wait $p; rc=$?
check "the run finishes the order although leases were lost under it (exit $rc)" test "$rc" = 0
check "it says which devices lost their reservation" grep -q "lost their reservation" ll.err
ll_got="$(q "select issued from orders where id=$O6")/$(q "select count(distinct udid) from dacs where order_id=$O6")/$(ls ll | grep -c '[.]der$')"
check "after lost leases: each device once, issued == certificates == files ($ll_got)" test "$ll_got" = "200/200/200"
# the last chunk losing its lease: the next chunk had found no room (its
# devices were still reserved), so the run ended with the order short and
# exit 0 (196 of 200 once in the check above); it looks again now. Made
# certain: a lock on dac_batches holds the run at its commit (the batch row
# comes first) while its reservations expire under it
expect 0 "order create (quota 8)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 8
O8=$(cat out.txt)
psql -X -q -h "$PGSOCK" -U mp -d ledger -c "BEGIN; LOCK TABLE dac_batches IN EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;" > /dev/null 2>&1 & lk=$!
sleep 0.3
"$MP" dac issue $H --order $O8 --out-dir lz --station line-z --block 8 > lz.out 2> lz.err & p=$!
for k in $(seq 1 30); do [ "$(q "select count(*) from devices where state=3 and lease_order=$O8")" = 8 ] && break; sleep 0.1; done
expired=$(q "with e as (update devices set lease_until=0 where state=3 and lease_order=$O8 returning 1) select count(*) from e")
held=0; kill -0 $lk 2> /dev/null && held=1
wait $lk; wait $p; rc=$?
lz_got="$rc:$(q "select issued from orders where id=$O8")/$(q "select count(*) from dacs where order_id=$O8")/$(ls lz | grep -c '[.]der$')"
check "the reservations expired while the run was held at its commit (expired $expired, lock held $held)" test "$expired,$held" = "8,1"
check "it says they lost their reservation" grep -q "lost their reservation" lz.err
check "a run whose last chunk lost its leases looks again and fills the order (exit:issued/certificates/files $lz_got)" test "$lz_got" = "0:8/8/8"
# a chunk is one set-based statement on PostgreSQL: a device that (wrongly)
# already has a certificate row makes the constraint refuse the whole chunk;
# nothing of it is recorded or lost, and once the row is gone a re-run
# records every device of the chunk exactly once
expect 0 "order create (quota 12)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 12
O7=$(cat out.txt)
X=$(q "select udid from devices where state=0 and key_origin=0 order by udid offset 2 limit 1")
q "insert into dacs(udid,order_id,batch,serial,sha256,der) values('$X',$O7,(select min(id) from dac_batches),'\xdeadbeef01','\x01','\x01')" > /dev/null
expect 16 "a chunk with a device that already has a certificate row is refused (exit 16)" "$MP" dac issue $H --order $O7 --out-dir dup --station line-d --block 6 --quiet
check "the message names the duplicated device" grep -q "$X" err.txt
check "nothing of the refused chunk is recorded (only the planted row, quota untouched)" test "$(q "select count(*) from dacs where order_id=$O7"),$(q "select issued from orders where id=$O7")" = "1,0"
check "no device was left issued without its certificate or still reserved" test "$(q "select count(*) from devices d where (state=1 and not exists(select 1 from dacs c where c.udid=d.udid)) or (state=3 and lease_order=$O7)")" = 0
check "no file was written for the refused chunk" test "$(ls dup 2> /dev/null | grep -c '[.]der$')" = 0
q "delete from dacs where serial='\xdeadbeef01'" > /dev/null
expect 0 "the re-run without the planted row finishes the order" "$MP" dac issue $H --order $O7 --out-dir dup --station line-d --block 6 --quiet
dup_got="$(q "select issued from orders where id=$O7")/$(q "select count(*) from dacs where order_id=$O7")/$(q "select count(distinct udid) from dacs where order_id=$O7")/$(ls dup | grep -c '[.]der$')/$(q "select count(*) from dacs where udid='$X'")"
check "each device of the order once, the planted device too ($dup_got)" test "$dup_got" = "12/12/12/12/1"

# MATTER_PKI_LEDGER_STATS (make bench-stations): per connection its
# transactions and round trips, per run where its ledger thread waited. A
# chunk's certificates are one statement, so a transaction of 8 devices takes
# a handful of round trips, not one or more per device (13 before)
expect 0 "order create (quota 40)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 40
O9=$(cat out.txt)
export MATTER_PKI_LEDGER_STATS=$PWD/stats.jsonl
expect 0 "dac issue with MATTER_PKI_LEDGER_STATS" "$MP" dac issue $H --order $O9 --out-dir stats --station line-s --block 8 --quiet
unset MATTER_PKI_LEDGER_STATS
st_got=$(jq -s -r '(map(select(.backend == "postgresql" and .transactions >= 5)) | map(.tx_round_trips / .transactions) | max) as $t |
    (map(select(.kind == "issue")) | .[0]) as $i | "\($t | . * 10 | round / 10) \($i.issued) \($i.run_ms > 0 and $i.sign_wait_ms >= 0 and $i.write_wait_ms >= 0 and $i.sign_self_ms >= 0)"' stats.jsonl 2> /dev/null)
check "stats: at most 6 round trips per transaction of 8 devices; the run's line counts 40 DACs and its waits ($st_got)" \
    awk -v g="$st_got" 'BEGIN { split(g, a, " "); exit !(a[1] > 0 && a[1] <= 6 && a[2] == 40 && a[3] == "true") }'

# the README's station role: INSERT-only on the record, issuing works, editing does not
q "CREATE ROLE station LOGIN;
GRANT CONNECT ON DATABASE ledger TO station;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO station;
GRANT INSERT ON audit, audit_checkpoints, dac_batches, dacs, devices, factory_data, fd_claims,
                fd_images, serial_counters, stations TO station;
GRANT UPDATE ON devices, orders, order_stations, stations, dac_batches, factory_data,
                fd_claims, serial_counters, audit_head TO station;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO station;" > /dev/null
expect 0 "order create (quota 5)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 5
O4=$(cat out.txt)
SL="host=$PGSOCK user=station dbname=ledger"
expect 0 "the README's station role issues" "$MP" dac issue $H --order $O4 --out-dir role --station line-r --ledger "$SL" --quiet
check "the station role cannot change an audit row" bash -c "! psql -X -q -h '$PGSOCK' -U station -d ledger -c \"update audit set detail='{}' where seq=1\" 2> /dev/null"
check "the station role cannot delete a certificate" bash -c "! psql -X -q -h '$PGSOCK' -U station -d ledger -c 'delete from dacs' 2> /dev/null"
expect_err 14 "permission denied" "the station role cannot create orders (exit 14, named)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 5 --ledger "$SL"
expect 0 "audit verify after everything" "$MP" audit verify
finish
