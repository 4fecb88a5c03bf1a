#!/usr/bin/env bash
# t_dac_runs.sh - issue 13 items 1, 5, 17, 18 and issue 14 (runs that finish as
# promised, --layout/--name-by/--bundle, --json): recovery removes only what
# matter-pki provably wrote, the UDID rule, remembered run targets, outputs.
. "$(dirname "$0")/lib.sh"
H="--token test --pin-file pin"
new_token
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
db() { sqlite3 state/ledger.sqlite "$1"; }
order() { "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota "${1:-100000}" > /dev/null; db "select max(id) from orders"; }
"$MP" chips simulate --count 30 --out sim > /dev/null
kline() { sed -n "$(($1 + 1))p" sim/chips.csv | cut -d, -f2; }   # the Nth chip's key

# ---- item 17: the UDID rule, once, at every import format and at --udid
bad_udid() { # bad_udid UDID DESC
    printf 'udid,public_key\n%s,%s\n' "$1" "$(kline 1)" > u.csv
    expect_err 10 "UDID" "csv: $2 refused" "$MP" chips import u.csv --allow-unsigned
    printf '[{"udid":"%s","public_key":"%s"}]\n' "$1" "$(kline 1)" > u.json
    expect_err 10 "UDID" "json: $2 refused" "$MP" chips import u.json --allow-unsigned
}
bad_udid "DEV1.key" "a '.' (DEV1.key would name DEV1's key file)"
bad_udid "ab:cd" "a ':'"
bad_udid "-rf" "a leading '-'"
bad_udid ".hidden" "a leading '.'"
bad_udid "CON" "the Windows device name CON"
bad_udid "nul" "the Windows device name nul"
bad_udid "Com7" "the Windows device name Com7"
bad_udid "lpt1" "the Windows device name lpt1"
check "nothing was imported" test "$(db 'select count(*) from devices')" = 0
printf 'udid,public_key\n%s,%s\n' DEV1.key "$(kline 1)" > u.csv
expect_err 10 "u.csv:2: UDID has character 0x2E [(]'[.]'[)] at position 5" "the error names the file, line and character" "$MP" chips import u.csv --allow-unsigned
printf 'udid,public_key\nabc,%s\nCONSOLE,%s\n' "$(kline 1)" "$(kline 2)" > ok.csv
expect 0 "abc and CONSOLE are fine" "$MP" chips import ok.csv --allow-unsigned
printf 'udid,public_key\nABC,%s\n' "$(kline 3)" > case.csv
expect_err 16 "differs only in case from abc" "case-only duplicate of the ledger refused" "$MP" chips import case.csv --allow-unsigned
printf 'udid,public_key\nxyz,%s\nXyZ,%s\n' "$(kline 4)" "$(kline 5)" > case2.csv
expect_err 16 "case2.csv:3: .*differs only in case from xyz \(earlier in the same list\)" "case-only duplicate within one list refused, naming the line" \
    "$MP" chips import case2.csv --allow-unsigned
check "the refused lists left nothing" test "$(db 'select count(*) from devices')" = 2
# birth certificates: the UDID is the CN, checked by the same rule
"$MP" chips simulate --count 2 --birth-certs --out simb > /dev/null
openssl ecparam -name prime256v1 -genkey -noout -out dev.key 2> /dev/null
openssl req -new -key dev.key -subj "/CN=CON" -out dev.csr 2> /dev/null
openssl x509 -req -in dev.csr -CA simb/chipmaker.pem -CAkey simb/chipmaker.key -days 30 -set_serial 7 -out devcert.pem 2> /dev/null
expect_err 10 "Windows" "birth certificate with CN=CON refused" "$MP" chips import devcert.pem --chip-root simb/chipmaker.pem
O=$(order 100)
expect_err 10 "UDID" "--udid with a ':' refused before anything" "$MP" dac issue $H --order $O --udid "a:b" --out-dir x
expect_err 10 "UDID" "--udid NUL refused" "$MP" dac issue $H --order $O --udid NUL --out-dir x

# ---- item 1: recovery removes only what this tool provably wrote
# (a) a ledger from before the UDID rule holds DEV1.key and DEV2: the DAC of DEV1.key is
# DEV1.key.der, which the old pattern sweep took for the key file of a UDID "DEV1" and deleted
"$MP" ledger init --ledger old.sqlite > /dev/null
"$MP" order create $H --ledger old.sqlite --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 10 > /dev/null
sqlite3 old.sqlite "insert into chip_lists(sha256,format,source,signed,signer,count,imported_at) values('00','csv','old.csv',0,'',2,'2025-01-01T00:00:00Z');
  insert into devices(udid,pubkey,list_id,state,key_origin,created_at) values('DEV1.key', x'$(kline 6)', 1, 0, 0, '2025-01-01T00:00:00Z');
  insert into devices(udid,pubkey,list_id,state,key_origin,created_at) values('DEV2', x'$(kline 7)', 1, 0, 0, '2025-01-01T00:00:00Z');"
expect 0 "issue the device DEV1.key of an old ledger" "$MP" dac issue $H --ledger old.sqlite --order 1 --count 1 --out-dir old
check "DEV1.key.der written" test -s old/DEV1.key.der
expect 0 "issue DEV2 into the same folder" "$MP" dac issue $H --ledger old.sqlite --order 1 --count 1 --out-dir old
check "DEV1.key.der is still there (not taken for a key file of DEV1)" test -s old/DEV1.key.der
check "the ledger's DER of DEV1.key equals the file" test "$(sha256sum < old/DEV1.key.der | cut -c1-64)" = "$(sqlite3 old.sqlite "select sha256 from certificates where udid='DEV1.key'")"
# (b) --out-dir . with the operator's own files, before and after a killed --generate-keys run
mkdir op && cp paa.pem op/ && (cd op && openssl x509 -in paa.pem -outform DER -out paa.der && cp paa.der cd.der &&
  cp paa.der backup.key.der && cp paa.der 3F2A000000000000000000000000000000000000000000000000000000000000.der &&
  cp paa.der .station2.der.tmp.99 && cp paa.der 0000000000000000000000000000000000000000000000000000000000000000.key.der)
ls -A op | sort > op.before
Og=$(order 100000)
(cd op && exec "$MP" dac issue --token test --pin-file ../pin --order $Og --generate-keys --count 20000 --out-dir . --jobs 2 --quiet > /dev/null 2>&1) &
pid=$!
for i in $(seq 1 500); do [ "$(db "select count(*) from dacs where order_id=$Og")" -ge 2048 ] && break; sleep 0.02; done
kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
staged=$(ls op/.matter-pki.staging | wc -l)
check "the kill left uncommitted keys in the staging folder ($staged)" test "$staged" -gt 0
expect 0 "re-run in . finishes the interrupted run" bash -c "cd op && exec \"\$MP\" dac issue --token test --pin-file ../pin --order $Og --generate-keys --count 20000 --out-dir . --jobs 2 --quiet"
check "every operator file is still there, unchanged" bash -c 'for f in $(cat op.before); do cmp -s op/$f op/paa.der || [ $f = paa.pem ] || exit 1; done'
check "recovery printed one summary line, not one per file ($(wc -l < err.txt) lines)" test "$(wc -l < err.txt)" -le 2
check "the summary says what it removed, from the staging folder only" grep -q "removed [0-9]* key file(s) of devices whose DAC never committed.*staging" err.txt
check "the staging folder is empty" test -z "$(ls -A op/.matter-pki.staging)"
rows=$(db "select count(*) from dacs where order_id=$Og")
check "the run issued exactly 20000 ($rows)" test "$rows" = 20000
check "keys = DACs = rows" bash -c "[ \$(ls op | grep -c '^[0-9A-F]\{64\}[.]key[.]der\$') = $((rows + 1)) ] && [ \$(ls op | grep -c '^[0-9A-F]\{64\}[.]der\$') = $((rows + 1)) ]"
check "the foreign-looking names are not in the ledger" test "$(db "select count(*) from devices where udid like '3F2A0000%' or udid like '00000000%'")" = 0

# ---- item 5 / issue 14: a run's target is remembered per order and folder
"$MP" chips simulate --count 9000 --out sim2 > /dev/null
"$MP" chips import sim2/chips.csv --signature sim2/chips.csv.sig --signer sim2/chipmaker.pem > /dev/null
O5=$(order 8000)
"$MP" dac issue $H --order $O5 --count 8000 --out-dir r5 --jobs 2 --quiet > /dev/null 2>&1 &
pid=$!
for i in $(seq 1 500); do [ "$(db "select count(*) from dacs where order_id=$O5")" -ge 2048 ] && break; sleep 0.02; done
kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
mid=$(db "select count(*) from dacs where order_id=$O5")
check "killed part-way ($mid of 8000)" test "$mid" -lt 8000 -a "$mid" -gt 0
expect_err 12 "unfinished run of order $O5 \($mid of 8000 DACs issued\).*--count 8000" "another --count in that folder is refused, naming the run" \
    "$MP" dac issue $H --order $O5 --count 100 --out-dir r5
expect_err 12 "unfinished run of order $O5" "issuing every device (no --count) in that folder is refused too" \
    "$MP" dac issue $H --order $O5 --out-dir r5
expect_err 0 "finishing the interrupted run in .*r5: $mid of 8000 DAC\(s\) were issued, $((8000 - mid)) remain" \
    "the same command finishes the remainder although the quota has fewer than 8000 left, and says so" \
    "$MP" dac issue $H --order $O5 --count 8000 --out-dir r5 --jobs 2
check "summary says it finished an interrupted run" grep -q "issued $((8000 - mid)) DAC(s).*finished an interrupted run" out.txt
check "exactly 8000 issued for the run" test "$(db "select count(*) from dacs where order_id=$O5")" = 8000
# killed after its last commit, before it could say it was done: the re-run issues nothing more
O6=$(order 1000)
expect 0 "a run of 500" "$MP" dac issue $H --order $O6 --count 500 --out-dir r6 --quiet
db "update dac_runs set finished_at=NULL where order_id=$O6"   # the state a kill after the last commit leaves
expect 0 "the same command again after a kill after the last commit" "$MP" dac issue $H --order $O6 --count 500 --out-dir r6 --quiet
check "it issued nothing more (500 for the run)" test "$(db "select count(*) from dacs where order_id=$O6")" = 500
expect 0 "a finished run's folder takes a new run" "$MP" dac issue $H --order $O6 --count 7 --out-dir r6 --quiet
# killed right after its summary (MATTER_PKI_FAULT=dac-issue-summary): the run is
# recorded as finished only after the summary is out, so the same command again
# (the operator saw no prompt come back) issues nothing more
O7=$(order 1000)
{ MATTER_PKI_FAULT=dac-issue-summary "$MP" dac issue $H --order $O7 --count 300 --out-dir r7 > r7.out 2> r7.err & wait $!; r7=$?; } 2> /dev/null
check "killed (SIGKILL) right after its summary" test "$r7" = 137
check "the summary was out before the kill" grep -q "issued 300 DAC" r7.out
expect 0 "the same command again" "$MP" dac issue $H --order $O7 --count 300 --out-dir r7
check "it issued nothing more and says the run is finished" bash -c "grep -q 'issued 0 DAC' out.txt && [ \$(sqlite3 state/ledger.sqlite 'select count(*) from dacs where order_id=$O7') = 300 ]"
expect 0 "then the folder takes a new run" "$MP" dac issue $H --order $O7 --count 5 --out-dir r7 --quiet
check "305 in all" test "$(db "select count(*) from dacs where order_id=$O7")" = 305
check "507 in all" test "$(db "select count(*) from dacs where order_id=$O6")" = 507
# --generate-keys without --count: up to the order's remaining quota
O7=$(order 25)
expect 0 "--generate-keys without --count" "$MP" dac issue $H --order $O7 --generate-keys --out-dir g7
check "the whole quota of 25 issued, keys and DACs" bash -c "[ \$(ls g7 | grep -c 'key[.]der\$') = 25 ] && [ \$(db_n=\$(sqlite3 state/ledger.sqlite 'select issued from orders where id=$O7'); echo \$db_n) = 25 ]"
expect 0 "again: nothing to do" "$MP" dac issue $H --order $O7 --generate-keys --out-dir g7
check "says nothing to do" grep -q "nothing to do" out.txt


# ---- issue 14: --layout, --name-by, --bundle
"$MP" chips simulate --count 6000 --out sim3 > /dev/null
"$MP" chips import sim3/chips.csv --signature sim3/chips.csv.sig --signer sim3/chipmaker.pem > /dev/null
Ol=$(order 100000)
expect 0 "--layout per-device" "$MP" dac issue $H --order $Ol --count 3 --out-dir pd --layout per-device
check "DIR/UDID/UDID.der for each device" bash -c 'n=0; for d in pd/*/; do u=$(basename $d); [ -s "$d/$u.der" ] || exit 1; n=$((n+1)); done; [ $n = 3 ]'
check "the ledger records each file's path" bash -c "for p in \$(sqlite3 state/ledger.sqlite \"select path from certificates where order_id=$Ol\"); do [ -s \$p ] || exit 1; done"
expect 0 "--name-by serial --generate-keys --layout per-device" "$MP" dac issue $H --order $Ol --generate-keys --count 3 --out-dir ps --layout per-device --name-by serial
check "DIR/SERIAL/SERIAL.der and .key.der" bash -c "for s in \$(sqlite3 state/ledger.sqlite \"select serial from certificates where path like '%/ps/%'\"); do [ -s ps/\$s/\$s.der ] && [ -s ps/\$s/\$s.key.der ] || exit 1; done"
check "each key matches its DAC" bash -c 'for d in ps/*/; do s=$(basename $d); [ "$(openssl ec -inform DER -in $d/$s.key.der -pubout 2>/dev/null)" = "$(openssl x509 -inform DER -in $d/$s.der -noout -pubkey)" ] || exit 1; done'
expect 0 "--name-by serial flat" "$MP" dac issue $H --order $Ol --count 2 --out-dir sf --name-by serial
check "SERIAL.der names" bash -c "for s in \$(sqlite3 state/ledger.sqlite \"select serial from certificates where path like '%/sf/%'\"); do [ -s sf/\$s.der ] || exit 1; done"
expect_err 2 "not one of flat, per-device" "a bad --layout" "$MP" dac issue $H --order $Ol --count 1 --out-dir x --layout tree
expect_err 2 "one of --out-dir DIR or --bundle FILE" "--bundle and --out-dir together" "$MP" dac issue $H --order $Ol --count 1 --out-dir x --bundle b.jsonl
# the bundle: every DAC of the run in one JSON Lines file, crash-safe
# killed at a known point (MATTER_PKI_FAULT): right after its first chunk of
# 2048 committed, before that chunk's lines. (A kill -9 sent once the ledger
# showed 2048 rows failed with exit 17 under load: the whole run takes about
# half a second, so the kill could land after it had finished; the same
# command then starts a new run of 5000 that the chip lists cannot cover.)
{ MATTER_PKI_FAULT=dac-issue-commit "$MP" dac issue $H --order $Ol --count 5000 --bundle lot/lot.jsonl --jobs 2 --quiet & wait $!; rc=$?; } > /dev/null 2>&1
lot_got="$rc:$(db "select count(*) from certificates where path like '%lot.jsonl#%'")/$(cat lot/lot.jsonl 2> /dev/null | wc -l)"
check "killed after the first chunk's commit, before its lines (exit:rows/lines $lot_got)" test "$lot_got" = "137:2048/0"
printf '{"udid":"TORN' >> lot/lot.jsonl   # a line cut by the kill
expect 0 "the same bundle command finishes the run" "$MP" dac issue $H --order $Ol --count 5000 --bundle lot/lot.jsonl --jobs 2 --quiet
bundle_ok() { # every line parses, each device once, each line equals the ledger's record
    jq -c . < lot/lot.jsonl > /dev/null || return 1
    [ "$(jq -r .udid lot/lot.jsonl | sort | uniq -d | wc -l)" = 0 ] || return 1
    jq -r '[.udid, .serial, .sha256] | join(",")' lot/lot.jsonl | sort > lot.lines
    sqlite3 -separator , state/ledger.sqlite "select udid, serial, sha256 from certificates where path like '%/lot/lot.jsonl#%' order by udid" | sort > lot.rows
    diff -q lot.lines lot.rows > /dev/null || return 1
    jq -r '.dac' lot/lot.jsonl | head -50 | while read -r b; do printf '%s' "$b" | base64 -d > one.der; openssl x509 -inform DER -in one.der -noout || exit 1; done
}
check "5000 lines, each device once, equal to the ledger ($(wc -l < lot/lot.jsonl) lines)" bash -c "$(declare -f bundle_ok); bundle_ok && [ \$(wc -l < lot/lot.jsonl) = 5000 ]"
check "the DAC in each line hashes to its sha256 (first 100)" bash -c 'head -100 lot/lot.jsonl | jq -r "[.dac,.sha256]|join(\" \")" | while read d h; do [ "$(printf %s "$d" | base64 -d | sha256sum | cut -c1-64)" = "$h" ] || exit 1; done'
# lines appended before the kill but not yet marked written are not appended twice
db "update dac_batches set written=0 where id in (select max(batch) from dacs where path like '%lot.jsonl#%')"
expect 0 "recovery of a bundle whose lines were written but not marked" "$MP" dac issue $H --order $Ol --count 1 --bundle lot/lot.jsonl --quiet
check "still each device once (5001 lines)" bash -c "$(declare -f bundle_ok); bundle_ok && [ \$(wc -l < lot/lot.jsonl) = 5001 ]"
# a kill at each point of a run, and one during the recovery that follows:
# the same command finishes the run, each device once in the bundle, every
# line equal to the ledger's record (--generate-keys: each key in its line,
# none left staged)
lines_ok() { # lines_ok FILE N
    [ "$(wc -l < "$1")" = "$2" ] && jq -c . < "$1" > /dev/null || return 1
    [ "$(jq -r .udid "$1" | sort | uniq -d | wc -l)" = 0 ] || return 1
    jq -r '[.udid, .serial, .sha256] | join(",")' "$1" | sort > k.lines
    sqlite3 -separator , state/ledger.sqlite "select udid, serial, sha256 from certificates where path like '%/$1#%' order by udid" | sort > k.rows
    diff -q k.lines k.rows > /dev/null
}
for gen in "" --generate-keys; do
    for pt in dac-issue-commit dac-issue-written; do
        b=k${gen:+g}-${pt#dac-issue-}/b.jsonl
        { MATTER_PKI_FAULT=$pt "$MP" dac issue $H --order $Ol $gen --count 300 --block 100 --bundle $b --quiet & wait $!; r1=$?; } > /dev/null 2>&1
        # the re-run is killed too once it has rewritten the lines the ledger had recorded
        { MATTER_PKI_FAULT=dac-issue-recovered "$MP" dac issue $H --order $Ol $gen --count 300 --block 100 --bundle $b --quiet & wait $!; r2=$?; } > /dev/null 2>&1
        # (after a kill at written, the re-run may have nothing to rewrite, unless
        # the next chunk had committed meanwhile: then it finishes at once)
        r3=-
        [ $r2 = 137 ] && { "$MP" dac issue $H --order $Ol $gen --count 300 --block 100 --bundle $b --quiet > /dev/null 2> k.err; r3=$?; }
        staged=$(ls -A "$(dirname $b)"/.matter-pki.staging | wc -l)
        got="$r1,$r2,$r3,$staged"
        check "killed at $pt${gen:+ ($gen)}, then in the recovery: the same command finishes (exits, staged: $got)" \
            bash -c "[ $got = 137,137,0,0 ] || { [ $pt = dac-issue-written ] && [ $got = 137,0,-,0 ]; }"
        check "  300 lines, each device once, equal to the ledger" bash -c "$(declare -f lines_ok); lines_ok $b 300"
        [ -n "$gen" ] && check "  each line holds its device's key" test "$(jq -r 'select((.key // "") == "") | .udid' $b | wc -l)" = 0
    done
done

# ---- issue 14: --json on order create/list, ledger report, chips import, dac issue/revoke, pai crl
"$MP" chips simulate --count 3 --out sim4 > /dev/null
expect 0 "chips import --json" "$MP" chips import sim4/chips.csv --signature sim4/chips.csv.sig --signer sim4/chipmaker.pem --json
check "chips import JSON: 3 imported, signed" test "$(jq -r '[.imported, .signed, .format] | join(",")' out.txt)" = "3,true,csv"
expect 0 "order create --json" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 9 --json
Oj=$(jq -r .order out.txt)
check "order create JSON: order $Oj, quota 9, open" test "$(jq -r '[.quota, .state, .vid, .pid] | join(",")' out.txt)" = "9,open,FFF2,8001"
expect 0 "order list --json" "$MP" order list --json
check "order list JSON has every order" test "$(jq '.orders | length' out.txt)" = "$(db 'select count(*) from orders')"
expect 0 "dac issue --json" "$MP" dac issue $H --order $Oj --count 2 --out-dir j --json
check "dac issue JSON: issued 2 of quota 9" test "$(jq -r '[.issued, .quota, .quota_used, .resumed] | join(",")' out.txt)" = "2,9,2,false"
check "dac issue --json prints one line" test "$(wc -l < out.txt)" = 1
serial=$(db "select serial from certificates where order_id=$Oj limit 1")
expect 0 "dac revoke --json" "$MP" dac revoke --serial "$serial" --reason superseded --json
check "dac revoke JSON" test "$(jq -r '[.serial, .reason] | join(",")' out.txt)" = "$serial,superseded"
expect 0 "pai crl --json" "$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out j.crl --json
check "pai crl JSON: 1 revoked, CRL number 1" test "$(jq -r '[.revoked, .crl_number, .out] | join(",")' out.txt)" = "1,1,j.crl"
expect 0 "ledger report --json" "$MP" ledger report --json
check "ledger report --json: stdout is one JSON object, per-station counts inside ($(wc -l < out.txt) line(s))" bash -c 'test "$(wc -l < out.txt)" = 1 && jq -e ".stations | type == \"array\"" out.txt > /dev/null'
check "ledger report JSON counts agree" test "$(jq -r '[.revoked, .issued + .revoked, (.orders | length)] | join(",")' out.txt)" = "1,$(db 'select count(*) from certificates'),$(db 'select count(*) from orders')"

# ---- item 18: the loser of two runs on one order prints no stale summary before its error
"$MP" chips simulate --count 12000 --out sim5 > /dev/null
"$MP" chips import sim5/chips.csv --signature sim5/chips.csv.sig --signer sim5/chipmaker.pem > /dev/null
Ot=$(order 100000)
"$MP" dac issue $H --order $Ot --out-dir ta --jobs 1 --quiet > ta.out 2> ta.err & pa=$!
for i in $(seq 1 500); do [ "$(db "select count(*) from dacs where order_id=$Ot")" -ge 1 ] && break; sleep 0.02; done
"$MP" dac issue $H --order $Ot --out-dir tb --jobs 1 --quiet > tb.out 2> tb.err & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
if [ "$ra" = 0 ]; then lo=tb; lrc=$rb; else lo=ta; lrc=$ra; fi
sed 's/^/       /' ta.err tb.err | head -4
# issue 16: two runs on one order reserve their devices and finish it together
check "both runs on one order finish ($ra, $rb; 17 before issue 16)" test "$ra$rb" = 00
check "each prints its summary" bash -c "grep -q 'issued' ta.out && grep -q 'issued' tb.out"
check "each device once, the order's DACs split between the folders" bash -c "[ \$(sqlite3 state/ledger.sqlite 'select count(distinct udid) from dacs where order_id=$Ot') = \$(( \$(ls ta | grep -c '[.]der\$') + \$(ls tb | grep -c '[.]der\$') )) ]"


# ---- --count N whose devices lost their lease under it: it looks again
# (as a whole-order run does) instead of ending "issued 0 of 6" with exit 15.
# Made certain: the run stops at its first commit (MATTER_PKI_FAULT ...:stop)
# while every reservation of both chunks expires, then goes on
"$MP" chips simulate --count 10 --out sim7 > /dev/null
"$MP" chips import sim7/chips.csv --signature sim7/chips.csv.sig --signer sim7/chipmaker.pem > /dev/null
Oq=$(order 100)
MATTER_PKI_FAULT=dac-issue-record:stop "$MP" dac issue $H --order $Oq --count 6 --block 4 --out-dir lq > lq.out 2> lq.err & p=$!
for k in $(seq 1 200); do ps -o stat= -p $p | grep -q T && break; sleep 0.05; done
# (SQLite reserves spans of UDIDs: the devices a run holds are the free ones in its spans)
held() { db "select count(*) from leases r join devices d on d.udid between r.lo and r.hi and d.state=0 and d.key_origin=0 where r.order_id=$1"; }
expired=$(held $Oq)
db "update leases set until=0 where order_id=$Oq" > /dev/null
kill -CONT $p; wait $p; rc=$?
lq_got="$rc:$(db "select issued from orders where id=$Oq")/$(db "select count(distinct udid) from dacs where order_id=$Oq")/$(ls lq | grep -c '[.]der$')"
check "every reservation of the --count 6 run expired while it was held at its commit (expired $expired)" test "$expired" = 6
check "it says they lost their reservation" grep -q "lost their reservation" lq.err
check "--count 6 whose devices lost their leases looks again and issues 6 (exit:issued/certificates/files $lq_got)" test "$lq_got" = "0:6/6/6"
check "  the run is finished (a new command in the folder starts a new run)" test "$(db "select count(*) from dac_runs where order_id=$Oq and finished_at is null")" = 0
# with too few devices left to look at, it still ends short, saying so
Oz=$(order 100)
left=$(db "select count(*) from devices where state=0 and key_origin=0")
MATTER_PKI_FAULT=dac-issue-record:stop "$MP" dac issue $H --order $Oz --count $left --block 2 --out-dir lz > lz.out 2> lz.err & p=$!
for k in $(seq 1 200); do ps -o stat= -p $p | grep -q T && break; sleep 0.05; done
first=$(db "select min(d.udid) from leases r join devices d on d.udid between r.lo and r.hi and d.state=0 and d.key_origin=0 where r.order_id=$Oz")
db "update leases set until=0 where order_id=$Oz" > /dev/null
# meanwhile another run holds one of them
db "insert into leases(lease, order_id, until, lo, hi) values('other', $Oq, 4000000000, '$first', '$first')" > /dev/null
kill -CONT $p; wait $p; rc=$?
db "delete from leases where lease='other'" > /dev/null
check "one device fewer than --count after lost leases: exit 15, issued $((left - 1)) of $left (exit $rc)" \
    bash -c "[ $rc = 15 ] && grep -q 'issued $((left - 1)) of the $left asked' lz.err"

# ---- issue 14: a --udid run re-run after an interruption finishes, it does not refuse
"$MP" chips simulate --count 4 --out sim6 > /dev/null
"$MP" chips import sim6/chips.csv --signature sim6/chips.csv.sig --signer sim6/chipmaker.pem > /dev/null
Ou=$(order 100)
u1=$(db "select udid from devices where state=0 and key_origin=0 order by udid limit 1 offset 0")
u2=$(db "select udid from devices where state=0 and key_origin=0 order by udid limit 1 offset 1")
expect 0 "--udid of the first device (as if the run of two stopped after it)" "$MP" dac issue $H --order $Ou --udid "$u1" --out-dir ud --quiet
expect_err 0 "1 of the 2 --udid device\(s\) already have their DAC" "the same --udid command for both finishes the second" \
    "$MP" dac issue $H --order $Ou --udid "$u1" --udid "$u2" --out-dir ud
check "both DACs in the folder, one each" bash -c "[ -s ud/$u1.der ] && [ -s ud/$u2.der ] && [ \$(sqlite3 state/ledger.sqlite \"select count(*) from certificates where udid in ('$u1','$u2')\") = 2 ]"
expect_err 17 "already has a DAC" "--udid of a device whose DAC is in another folder is still refused" \
    "$MP" dac issue $H --order $Ou --udid "$u1" --out-dir ud2

finish
