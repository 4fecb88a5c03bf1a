#!/usr/bin/env bash
# t_dac.sh - production orders, DAC issuance (batch, CSR, off-chip keys), the
# ledger's quota and once-only rules, crash recovery, revocation and CRLs.
. "$(dirname "$0")/lib.sh"
H="--token test --pin-file pin"
new_token
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
"$MP" chips simulate --count 60 --out sim > /dev/null
expect 0 "import the simulated list" "$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem
db() { sqlite3 state/ledger.sqlite "$1"; }

# orders
expect 0 "order create" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 40 --cn-template "Acme {udid:12}"
O=$(cat out.txt)
check "order id printed" test "$O" = 1
expect_err 12 "differs from the PAI" "order VID differs from the PAI's" "$MP" order create $H --vid FFF3 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 5
expect_err 12 "differs from the PAI" "order PID differs from the PAI's" "$MP" order create $H --vid FFF2 --pid 8002 --pai-cert pai.pem --pai-key pai --quota 5
expect_err 10 "quota" "quota 0" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 0
expect_err 10 "more than 64" "CN template too long" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 5 --cn-template "Matter DAC {udid}"
expect_err 7 "no private key" "order with an unknown PAI key" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key nope --quota 5
expect_err 3 "PIN incorrect" "wrong PIN" "$MP" dac issue --token test --pin-file badpin --order $O --count 1 --out-dir dacs
expect 0 "order list" "$MP" order list
check "order list shows the quota" grep -q " 40 open" out.txt

# batch issuance
expect_err 15 "has 40 DAC\(s\) left" "--count beyond the quota says how many remain" "$MP" dac issue $H --order $O --count 41 --out-dir dacs
expect 0 "issue 10" "$MP" dac issue $H --order $O --count 10 --out-dir dacs --quiet
check "10 files" test "$(ls dacs/*.der | wc -l)" = 10
expect 0 "issue the rest of the quota (jobs 2)" "$MP" dac issue $H --order $O --out-dir dacs --jobs 2
check "40 files, quota reached" test "$(ls dacs/*.der | wc -l)" = 40
check "ledger agrees: 40 certificates" test "$(db 'select count(*) from certificates')" = 40
check "ledger agrees: order issued 40" test "$(db 'select issued from orders where id=1')" = 40
expect_err 15 "has 0 DAC" "quota exhausted" "$MP" dac issue $H --order $O --count 1 --out-dir dacs
expect 0 "nothing left to do is not an error" "$MP" dac issue $H --order $O --out-dir dacs
check "says nothing to do" grep -q "nothing to do" out.txt
f=$(ls dacs/*.der | head -1)
check "openssl verify -x509_strict" openssl verify -x509_strict -CAfile paa.pem -untrusted pai.pem $f
expect 0 "cert lint --type dac" "$MP" cert lint --type dac $f
check "every DAC verifies" bash -c "for f in dacs/*.der; do openssl x509 -inform DER -in \$f -out \$f.pem; openssl verify -x509_strict -CAfile paa.pem -untrusted pai.pem \$f.pem > /dev/null || exit 1; done; rm dacs/*.pem"
check "DAC CN from the template" bash -c "openssl x509 -inform DER -in $f -noout -subject | grep -q 'CN = Acme [0-9A-F]\{12\},'"
# each DAC's key is the chip list's key for that UDID
check "DAC public keys equal the chip list's" bash -c '
  for f in dacs/*.der; do u=$(basename $f .der)
    k=$(openssl x509 -inform DER -in $f -noout -pubkey | openssl ec -pubin -outform DER 2>/dev/null | tail -c 65 | od -An -tx1 | tr -d " \n")
    grep -qi "^$u,$k\$" sim/chips.csv || exit 1; done'
check "serials unique and >= 64 bits" bash -c "[ \$(sqlite3 state/ledger.sqlite 'select count(distinct serial) from certificates where length(serial) >= 16') = 40 ]"
check "file hashes equal the ledger's" bash -c 'for f in dacs/*.der; do u=$(basename $f .der); [ "$(sha256sum < $f | cut -c1-64)" = "$(sqlite3 state/ledger.sqlite "select sha256 from certificates where udid=\"$u\"")" ] || exit 1; done'

# --udid and CSR mode under a second order
expect 0 "second order" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 100
O2=2
issued_udid=$(basename "$f" .der)
free_udid=$(db "select udid from devices where state=0 order by udid limit 1")
expect_err 17 "already has a DAC" "--udid of a device that has a DAC" "$MP" dac issue $H --order $O2 --udid "$issued_udid" --out-dir dacs
expect_err 17 "not on any imported chip list" "--udid not on a list" "$MP" dac issue $H --order $O2 --udid NOSUCHDEVICE --out-dir dacs
expect 0 "--udid of an authorized device" "$MP" dac issue $H --order $O2 --udid "$free_udid" --out-dir dacs2
check "its file exists" test -s "dacs2/$free_udid.der"
# a CSR made "inside" a device: its simulated secure element key
mkkey() { # mkkey UDID OUT.pem: the simulated device's key as PEM
    local hex; hex=$(grep "^$1," sim/device-keys.csv | cut -d, -f2)
    printf '30310201010420%sa00a06082a8648ce3d030107' "$hex" | perl -ne 'print pack("H*", $_)' > k.der
    openssl ec -inform DER -in k.der -out "$2" 2> /dev/null
}
csr_udid=$(db "select udid from devices where state=0 order by udid limit 1")
mkkey "$csr_udid" dev.pem
openssl req -new -key dev.pem -subj "/CN=device" -out dev.csr
expect 0 "CSR mode" "$MP" dac issue $H --order $O2 --csr dev.csr --out csr-dac.der
check "CSR DAC has the device key" bash -c "[ \"\$(openssl x509 -inform DER -in csr-dac.der -noout -pubkey)\" = \"\$(openssl ec -in dev.pem -pubout 2>/dev/null)\" ]"
check "CSR DAC recorded for the device" test "$(db "select count(*) from certificates where udid='$csr_udid'")" = 1
expect_err 17 "already has a DAC" "the same CSR again" "$MP" dac issue $H --order $O2 --csr dev.csr --out csr-dac2.der
openssl ecparam -name prime256v1 -genkey -out stranger.pem 2> /dev/null
openssl req -new -key stranger.pem -subj "/CN=x" -out stranger.csr
expect_err 17 "no device on a trusted chip list" "CSR of a key on no list" "$MP" dac issue $H --order $O2 --csr stranger.csr --out s.der
openssl req -in dev.csr -outform DER -out dev.csr.der
flip_byte dev.csr.der bad.csr -3
expect_err 13 "does not verify" "CSR with a wrong signature" "$MP" dac issue $H --order $O2 --csr bad.csr --out s.der
check "no DAC file for refused CSRs" bash -c "! ls s.der csr-dac2.der 2>/dev/null | grep -q ."

# off-chip keys
expect 0 "--generate-keys" "$MP" dac issue $H --order $O2 --generate-keys --count 5 --out-dir gen
check "5 DACs and 5 keys" bash -c "[ \$(ls gen/*.key.der | wc -l) = 5 ] && [ \$(ls gen/*.der | grep -vc key) = 5 ]"
check "key files are 0600" bash -c "for k in gen/*.key.der; do [ \$(stat -c %a \$k) = 600 ] || exit 1; done"
check "each key matches its DAC" bash -c 'for k in gen/*.key.der; do d=${k%.key.der}.der
  [ "$(openssl ec -inform DER -in $k -pubout 2>/dev/null)" = "$(openssl x509 -inform DER -in $d -noout -pubkey)" ] || exit 1; done'
check "UDID is SHA-256 of the key" bash -c 'for d in $(ls gen/*.der | grep -v key); do u=$(basename $d .der)
  h=$(openssl x509 -inform DER -in $d -noout -pubkey | openssl ec -pubin -outform DER 2>/dev/null | tail -c 65 | sha256sum | cut -c1-64 | tr a-f A-F)
  [ "$u" = "$h" ] || exit 1; done'
check "ledger marks them off-chip" test "$(db 'select count(*) from devices where key_origin=1')" = 5
expect_err 2 "takes no --udid" "--generate-keys with --udid" "$MP" dac issue $H --order $O2 --generate-keys --udid X --out-dir gen

# crash safety: kill -9 part-way, then re-run finishes with nothing twice
"$MP" chips simulate --count 20000 --out sim2 > /dev/null
"$MP" chips import sim2/chips.csv --signature sim2/chips.csv.sig --signer sim2/chipmaker.pem > /dev/null
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 100000 > /dev/null
O3=3
before=$(db "select count(*) from certificates")
"$MP" dac issue $H --order $O3 --out-dir crash --jobs 2 --quiet > /dev/null 2>&1 &
pid=$!
for i in $(seq 1 200); do [ "$(ls crash 2>/dev/null | wc -l)" -gt 2500 ] && break; sleep 0.01; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
mid=$(db "select count(*) from certificates where order_id=3")
check "killed part-way ($mid of 20000 recorded)" test "$mid" -lt 20000
: > crash/NOTINLEDGER.der
: > crash/.leftover.der.tmp.99
expect 0 "re-run after kill -9" "$MP" dac issue $H --order $O3 --out-dir crash --jobs 2 --quiet
# files this tool did not write (issue 13 item 1) are never removed, whatever their names
check "files of others left alone" bash -c "ls -a crash | grep -q NOTINLEDGER && ls -a crash | grep -q leftover && rm crash/NOTINLEDGER.der crash/.leftover.der.tmp.99"
n3=$(db "select count(*) from certificates where order_id=3")
check "every authorized device issued ($n3)" test "$(db 'select count(*) from devices where state=0')" = 0
check "files = ledger rows" test "$(ls crash/*.der | wc -l)" = "$n3"
check "no device issued twice" test "$(db 'select count(*) - count(distinct udid) from certificates')" = 0
check "no unwritten rows" test "$(db 'select count(*) from certificates where written=0')" = 0
check "crash files hash as in the ledger" bash -c 'for f in $(ls crash/*.der | head -200); do u=$(basename $f .der); [ "$(sha256sum < $f | cut -c1-64)" = "$(sqlite3 state/ledger.sqlite "select sha256 from certificates where udid=\"$u\"")" ] || exit 1; done'
# SIGINT stops cleanly with code 20; a re-run finishes
"$MP" chips simulate --count 20000 --out sim3 > /dev/null
"$MP" chips import sim3/chips.json --signature sim3/chips.json.p7s --signer sim3/chipmaker.pem > /dev/null
"$MP" dac issue $H --order $O3 --out-dir int --quiet > int.out 2> int.err &
pid=$!
for i in $(seq 1 200); do [ "$(ls int 2>/dev/null | wc -l)" -gt 1000 ] && break; sleep 0.01; done
kill -INT $pid; wait $pid; rc=$?
check "SIGINT exits 20 (exit $rc)" test "$rc" = 20
check "SIGINT says how to finish" grep -q "run the same command again" int.err
expect 0 "re-run after SIGINT" "$MP" dac issue $H --order $O3 --out-dir int --quiet
check "all issued after SIGINT re-run" test "$(db 'select count(*) from devices where state=0')" = 0
check "int files = ledger rows" test "$(ls int/*.der | wc -l)" = "$(db "select count(*) from certificates where path like '%/int/%'")"
# --generate-keys killed part-way: keys are written under their final names before their
# chunk commits, so the re-run must remove the keys whose DAC never committed, rewrite the
# DACs that committed but were not written, and leave every key with its own DAC
"$MP" dac issue $H --order $O3 --generate-keys --count 30000 --out-dir gk --jobs 2 --quiet > /dev/null 2>&1 &
pid=$!
for i in $(seq 1 300); do [ "$(ls gk 2>/dev/null | wc -l)" -gt 5000 ] && break; sleep 0.01; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
gk_rows=$(db "select count(*) from certificates where path like '%/gk/%'")
check "--generate-keys killed part-way ($gk_rows of 30000 recorded)" test "$gk_rows" -lt 30000
expect 0 "re-run in the folder after kill -9 (the same command finishes the run)" "$MP" dac issue $H --order $O3 --generate-keys --count 30000 --out-dir gk --jobs 2 --quiet
gk_rows=$(db "select count(*) from certificates where path like '%/gk/%'")
check "keys = DACs = ledger rows ($gk_rows)" bash -c "[ \$(ls gk | grep -c '[.]key[.]der\$') = $gk_rows ] && [ \$(ls gk | grep -v key | grep -c '[.]der\$') = $gk_rows ]"
check "every key's UDID has a DAC in the ledger, nothing unwritten" bash -c '
  [ "$(sqlite3 state/ledger.sqlite "select count(*) from certificates where written=0")" = 0 ] || exit 1
  ls gk | sed -n "s/[.]key[.]der\$//p" | sort > gk.keys
  sqlite3 state/ledger.sqlite "select udid from certificates where path like \"%/gk/%\" order by udid" > gk.rows
  diff -q gk.keys gk.rows'
check "the keys match their DACs (first 50)" bash -c 'for k in $(ls gk/*.key.der | head -50); do d=${k%.key.der}.der
  [ "$(openssl ec -inform DER -in $k -pubout 2>/dev/null)" = "$(openssl x509 -inform DER -in $d -noout -pubkey)" ] || exit 1; done'
# a chunk that never commits (its order closed part-way) takes its keys with it, and a run
# that is then refused (closed order) still finishes and cleans its folder first
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 100000 > /dev/null
Oc=$(db "select max(id) from orders")
"$MP" dac issue $H --order $Oc --generate-keys --count 40000 --out-dir gc --jobs 2 --quiet > gc.out 2> gc.err & pid=$!
for i in $(seq 1 300); do [ "$(ls gc 2>/dev/null | wc -l)" -gt 5000 ] && break; sleep 0.01; done
"$MP" order close --order $Oc > /dev/null
wait $pid; rc=$?
gc_rows=$(db "select count(*) from certificates where order_id=$Oc")
check "closing the order stops the run with exit 15 ($rc; $gc_rows of 40000 recorded)" test "$rc" = 15 -a "$gc_rows" -lt 40000
check "no key without its DAC: keys = DACs = ledger rows ($gc_rows)" bash -c "[ \$(ls gc | grep -c '[.]key[.]der\$') = $gc_rows ] && [ \$(ls gc | grep -v key | grep -c '[.]der\$') = $gc_rows ]"
: > gc/0000000000000000000000000000000000000000000000000000000000000000.key.der
expect_err 15 "is closed" "a run on the closed order is refused" "$MP" dac issue $H --order $Oc --generate-keys --count 1 --out-dir gc
check "... and a key file it did not write is left alone" test -e gc/0000000000000000000000000000000000000000000000000000000000000000.key.der
check "... after removing its own uncommitted keys first" test -z "$(ls -A gc/.matter-pki.staging)"

# revocation and CRL
serial=$(db "select serial from certificates where order_id=1 limit 1")
expect 0 "dac revoke" "$MP" dac revoke --serial "$serial" --reason keyCompromise
expect_err 16 "already revoked" "revoke twice" "$MP" dac revoke --serial "$serial" --reason keyCompromise
expect_err 10 "no certificate" "revoke an unknown serial" "$MP" dac revoke --serial 0123 --reason superseded
expect_err 2 "is not one of" "bad reason" "$MP" dac revoke --serial "$serial" --reason because
expect 0 "pai crl" "$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out pai.crl
check "CRL verifies with the PAI" bash -c "openssl crl -inform DER -in pai.crl -CAfile pai.pem -noout 2>&1 | grep -q 'verify OK'"
check "CRL lists the serial" bash -c "openssl crl -inform DER -in pai.crl -noout -text | tr -d ':' | grep -qi 'Serial Number $serial'"
check "CRL has AKID and reason" bash -c "openssl crl -inform DER -in pai.crl -noout -text | grep -q 'Key Compromise' && openssl crl -inform DER -in pai.crl -noout -text | grep -q 'Authority Key Identifier'"
check "CRL is v2 with number 1" bash -c "openssl crl -inform DER -in pai.crl -noout -crlnumber | grep -q 'crlNumber=0x01'"
expect 0 "second CRL" "$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out pai2.crl
check "CRL number increases" bash -c "openssl crl -inform DER -in pai2.crl -noout -crlnumber | grep -q 'crlNumber=0x02'"
check "device marked revoked" test "$(db 'select count(*) from devices where state=2')" = 1

# reports
expect 0 "ledger report" "$MP" ledger report
check "report counts" grep -q "revoked    1" out.txt
expect 0 "ledger export csv" "$MP" ledger export --format csv --out export.csv
check "csv has every certificate" test "$(($(wc -l < export.csv) - 1))" = "$(db 'select count(*) from certificates')"
expect 0 "ledger export jsonl" "$MP" ledger export --format jsonl
check "jsonl lines parse" bash -c "jq -c . < out.txt > /dev/null && [ \$(wc -l < out.txt) = $(db 'select count(*) from certificates') ]"
# ---- ledger export streams, and help exit-codes is err.h (one block; the rest of this file is edited by others)
# Rows go straight to standard output, or to a temporary file beside --out FILE that
# becomes FILE only when every row is written.
expect 0 "ledger export csv to standard output" "$MP" ledger export --format csv
check "--out wrote the bytes of standard output (csv)" cmp export.csv out.txt
"$MP" ledger export --format jsonl > export-stdout.jsonl
expect 0 "ledger export jsonl --out" "$MP" ledger export --format jsonl --out export.jsonl
check "--out wrote the bytes of standard output (jsonl)" cmp export.jsonl export-stdout.jsonl
check "--out file is 0644" test "$(stat -c %a export.jsonl)" = 644
expect_err 9 "nodir/x.csv: directory 'nodir' does not exist" "--out into a missing folder: exit 9, naming the file" \
    "$MP" ledger export --out nodir/x.csv
check "... and nothing made" test ! -e nodir
mkdir efbig && echo old > efbig/x.csv
check "the export is over 1 MiB" test "$(stat -c %s export.csv)" -gt 1048576
# writes past 1 MiB fail with EFBIG (SIGXFSZ ignored): the export breaks off part-way
expect_err 9 "efbig/x.csv: write failed: File too large" "--out failing part-way: exit 9, naming the file" \
    bash -c 'trap "" XFSZ; ulimit -f 1024; exec "$MP" ledger export --out efbig/x.csv --force'
check "... the old file kept, no temporary file left" bash -c '[ "$(ls -A efbig)" = x.csv ] && [ "$(cat efbig/x.csv)" = old ]'
expect_err 9 "standard output: write failed" "a failing standard output: exit 9" bash -c 'exec "$MP" ledger export > /dev/full'
# Memory is flat in the rows: peak RSS of exporting copies of the ledger with all and with
# half of the certificates (every other row deleted: the same pages for SQLite to read,
# so its page cache is the same size in both) differs by far less than the output does.
if ldd "$MP" | grep -q libasan; then
    echo "  skip peak-RSS check (AddressSanitizer keeps freed memory in quarantine)"
else
    sqlite3 state/ledger.sqlite ".backup mem-all.sqlite"
    sqlite3 state/ledger.sqlite ".backup mem-half.sqlite"
    sqlite3 mem-half.sqlite "DELETE FROM dacs WHERE id % 2 = 0" # the table behind the view certificates
    expect 0 "export all rows (peak RSS measured)" /usr/bin/time -f %M -o rss-all.txt "$MP" ledger export --ledger mem-all.sqlite --out mem-all.csv
    expect 0 "export half the rows (peak RSS measured)" /usr/bin/time -f %M -o rss-half.txt "$MP" ledger export --ledger mem-half.sqlite --out mem-half.csv
    out_d=$(($(stat -c %s mem-all.csv) - $(stat -c %s mem-half.csv)))
    rss_d=$((($(tail -1 rss-all.txt) - $(tail -1 rss-half.txt)) * 1024))
    check "peak RSS flat in the rows ($rss_d bytes more for $out_d bytes more output; allowed: a quarter)" \
        test "$out_d" -gt 1000000 -a "$((rss_d * 4))" -lt "$out_d"
fi
# Every code of core/err.h is in `help exit-codes`, a code marked reserved there is shown as
# reserved, and a code is reserved exactly when no source file names it (18, MP_ERR_PARTIAL).
expect 0 "help exit-codes" "$MP" help exit-codes
errh="$(dirname "$MP")/../core/err.h"
sed -nE 's/^ *MP_[A-Z_]+ = ([0-9]+),[ ]*(\/\*[ ]*(reserved))?.*/\1 \3/p' "$errh" | awk '{print $1, $2 == "reserved" ? "reserved" : "-"}' > codes-errh.txt
awk 'NR > 1 {print $1, $2 ~ /^reserved/ ? "reserved" : "-"}' out.txt > codes-help.txt
check "help exit-codes lists exactly err.h's codes ($(wc -l < codes-errh.txt)), reserved ones as reserved" \
    bash -c '[ "$(wc -l < codes-errh.txt)" -ge 21 ] && diff codes-errh.txt codes-help.txt'
check "a code is marked reserved exactly when no source file uses it" bash -c '
  src="$(dirname "$MP")/.."
  sed -nE "s/^ *(MP_[A-Z_]+) = ([0-9]+),[ ]*(\/\*[ ]*(reserved))?.*/\1 \4/p" "$src/core/err.h" | while read -r name res; do
    [ "$name" = MP_OK ] && continue
    used=$(grep -rlw --include="*.c" --exclude-dir=tests --exclude-dir=bench "$name" "$src" | grep -vc "/core/err[.]c$")
    if [ -n "$res" ]; then [ "$used" = 0 ] || { echo "$name is reserved but used"; exit 1; }
    else [ "$used" != 0 ] || { echo "$name is never returned: mark it reserved"; exit 1; }; fi
  done'
# ---- end of the ledger export / exit-code block
expect 0 "order close" "$MP" order close --order $O2
expect_err 15 "closed" "closed order refuses issuance" "$MP" dac issue $H --order $O2 --count 1 --out-dir x
# review fixes: huge --days, two writers on one ledger, one run per folder
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 100000 --days 3000000 > /dev/null
O5=$(db "select max(id) from orders")
expect 0 "--days beyond year 9999" "$MP" dac issue $H --order $O5 --generate-keys --count 1 --out-dir big
check "notAfter clamps to 99991231235959Z" bash -c "openssl asn1parse -inform DER -in \$(ls big/*.der | grep -v key) | grep -q ':99991231235959Z'"
"$MP" dac issue $H --order $O5 --generate-keys --count 6000 --out-dir w1 --quiet > w1.out 2>&1 & p1=$!
for i in $(seq 1 300); do [ "$(ls w1 2>/dev/null | wc -l)" -gt 10 ] && break; sleep 0.01; done
expect_err 9 "in use by another matter-pki run" "a second run in the same folder is refused" "$MP" dac issue $H --order $O5 --generate-keys --count 5 --out-dir w1
expect 0 "a second writer on the same ledger waits its turn" "$MP" dac issue $H --order $O5 --generate-keys --count 3000 --out-dir w2 --quiet
wait $p1; rc1=$?
check "the first writer finished too (exit $rc1)" test "$rc1" = 0
check "both runs' files and rows agree" bash -c "[ \$(ls w1/*.der | grep -vc key) = 6000 ] && [ \$(ls w2/*.der | grep -vc key) = 3000 ] && [ \$(sqlite3 state/ledger.sqlite \"select count(*) from certificates where order_id=$O5 and written=1\") = 9001 ]"
# review fixes (session 2): other runs' rows are left to them, a writer error stops the batch
# and keeps what was written, two programs migrate an old ledger once
"$MP" dac issue $H --order $O5 --generate-keys --count 20000 --out-dir w3 --quiet > w3.out 2>&1 & p3=$!
for i in $(seq 1 300); do [ "$(ls w3 2>/dev/null | wc -l)" -gt 10 ] && break; sleep 0.01; done
small=0
for k in 1 2 3 4 5 6; do "$MP" dac issue $H --order $O5 --generate-keys --count 1 --out-dir "s$k" --quiet > /dev/null 2>> small.err && small=$((small + 1)); done
wait $p3; rc3=$?
check "a long run is not disturbed by short runs recovering on its order (exit $rc3)" test "$rc3" = 0
check "the short runs all finished ($small of 6)" test "$small" = 6
check "every file of the long run and its keys in place" bash -c "[ \$(ls w3 | grep -v key | grep -c '[.]der$') = 20000 ] && [ \$(ls w3 | grep -c '[.]key[.]der$') = 20000 ] && ! ls w3 | grep -q pending"
check "nothing left unwritten" test "$(db "select count(*) from certificates where written=0")" = 0
"$MP" chips simulate --count 20000 --out sim4 > /dev/null
"$MP" chips import sim4/chips.csv --signature sim4/chips.csv.sig --signer sim4/chipmaker.pem > /dev/null
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 20000 > /dev/null
O6=$(db "select max(id) from orders")
victim=$(tail -n +2 sim4/chips.csv | cut -d, -f1 | sort | sed -n 9000p)
mkdir -p wf/"$victim.der" # the writer cannot put this device's file in place
expect_err 9 "$victim.der" "a file the writer cannot write stops the batch with exit 9, naming it" \
    "$MP" dac issue $H --order $O6 --out-dir wf --jobs 2 --quiet
issued=$(db "select count(*) from certificates where order_id=$O6")
unwritten=$(db "select count(*) from certificates where order_id=$O6 and written=0")
check "it stopped within a few chunks ($issued of 20000 recorded)" test "$issued" -lt 20000
check "chunks written before the error are marked ($unwritten unwritten)" test "$unwritten" -le 8192
rmdir wf/"$victim.der"
expect 0 "the re-run finishes the order" "$MP" dac issue $H --order $O6 --out-dir wf --jobs 2 --quiet
check "files = ledger rows after the writer error" bash -c "[ \$(ls wf | grep -c '[.]der$') = 20000 ] && [ \$(sqlite3 state/ledger.sqlite 'select count(*) from certificates where order_id=$O6 and written=0') = 0 ]"
# a ledger made by the v4 code (tests/fixtures), taken back to the v2 layout
sqlite3 old.sqlite < "$FIXTURES/ledger-v4.sql"
sqlite3 old.sqlite "DROP INDEX certificates_order; DROP INDEX certificates_unwritten;
  CREATE INDEX certificates_written ON certificates(order_id, written); UPDATE meta SET value='2' WHERE key='schema_version';"
cols="serial, pai_skid, udid, order_id, not_before, not_after, sha256, hex(der), path, station, issued_at, written"
sqlite3 old.sqlite "select $cols from certificates order by udid" > old.rows
migr=0
for k in 1 2 3 4 5; do
    cp old.sqlite m$k.sqlite
    "$MP" order list --ledger m$k.sqlite > /dev/null 2> m$k.a & pa=$!
    "$MP" order list --ledger m$k.sqlite > /dev/null 2> m$k.b; rb=$?
    wait $pa; ra=$?
    [ "$ra" = 0 ] && [ "$rb" = 0 ] && [ "$(sqlite3 m$k.sqlite "select value from meta where key='schema_version'")" = 10 ] &&
        [ "$(sqlite3 m$k.sqlite "select $cols from certificates order by udid")" = "$(cat old.rows)" ] && migr=$((migr + 1))
done
check "two programs opening a v2 ledger at once both migrate it, every certificate kept ($migr of 5)" test "$migr" = 5
expect 0 "ledger export of the migrated ledger" "$MP" ledger export --ledger m1.sqlite --format csv
check "it lists the v4 fixture's 10 certificates" test "$(($(wc -l < out.txt) - 1))" = 10

finish
