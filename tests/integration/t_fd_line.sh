#!/usr/bin/env bash
# t_fd_line.sh - factory-data build on a production line (issues 13 and 14):
# label lines only for committed records, serial characters and CSV quoting,
# --assign against the ledger, image hashes, file hygiene, the CD checked by
# the verifier before anything is written, revoked devices, serial counters,
# QR label images decoded by zbarimg, --json, mixed orders, NXP/nRF details.
. "$(dirname "$0")/lib.sh"
H="--token test --pin-file pin"
new_token
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" paa create $H --key-label paa2 --cn "Other PAA" --vid FFF2 --valid-from 2025-01-01 --out paa2.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
"$MP" cd create-signer $H --key-label cds --cn "CD signer" --out cds.pem > /dev/null
"$MP" cd create-signer $H --key-label cds2 --cn "Other CD signer" --out cds2.pem > /dev/null
cp "$(dirname "$0")/../../examples/product.json" product.json
"$MP" cd create $H --signer-cert cds.pem --signer-key cds --product product.json --out cd.der > /dev/null
"$MP" cd create $H --signer-cert cds.pem --signer-key cds --product product.json --authorized-paa paa2.pem --out cd-otherpaa.der > /dev/null
"$MP" cd create $H --signer-cert cds.pem --signer-key cds --product product.json --certification-type 2 --out cd-official.der > /dev/null
db() { sqlite3 state/ledger.sqlite "$1"; }
TR="--paa paa.pem --cd-signer cds.pem"
order() { "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota "$1" | grep -o '[0-9]*' | head -1; }
FD() { "$MP" factory-data build --product product.json --cd cd.der $TR --iterations 1000 "$@"; }
# every_label_matches DIR FORMAT: each onboarding.csv line's passcode is the verifier of its image
every_label_matches() {
    tail -n +2 "$1/onboarding.csv" | while IFS=, read -r u s v p d pc rest; do
        "$MP" factory-data inspect "$1/$u.$2" --passcode "$pc" | grep -q "verifier_matches_passcode: ok" || { echo "bad label $u"; exit 1; }
        [ "$(db "select serial from factory_data where udid='$u'")" = "$s" ] || { echo "bad serial $u"; exit 1; }
    done
}

echo "# 13.2 two builds of one order into two folders: the loser keeps no label lines"
O1=$(order 40)
"$MP" dac issue $H --order $O1 --generate-keys --count 40 --out-dir dacs1 --quiet > /dev/null
"$MP" factory-data build --order $O1 --product product.json --cd cd.der $TR --iterations 10000 --format nxp --out-dir fdA --keep-keys > a.out 2> a.err &
pa=$!
"$MP" factory-data build --order $O1 --product product.json --cd cd.der $TR --iterations 10000 --format nxp --out-dir fdB --keep-keys > b.out 2> b.err &
pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
# issue 16: builds on one order share it (each device claimed by one run)
check "both builds finish, sharing the order ($ra/$rb)" test "$ra$rb" = 00
check "each device's label line in exactly one folder" bash -c "[ \$(tail -q -n +2 fdA/onboarding.csv fdB/onboarding.csv | cut -d, -f1 | sort -u | wc -l) = 40 ]"
check "each folder's images are its label lines' devices" bash -c "for d in fdA fdB; do [ \$(ls \$d | grep -c '[.]nxp[.]bin\$') = \$(tail -n +2 \$d/onboarding.csv | wc -l) ] || exit 1; done"
expect 0 "a re-run in one folder has nothing to add" FD --order $O1 --format nxp --out-dir fdB --keep-keys
check "and builds no device of the other folder" test "$(ls fdA fdB | grep -c '[.]nxp[.]bin$')" = 40
check "every label line in both folders is its image's" bash -c "$(declare -f every_label_matches db); MP=$MP; every_label_matches fdA nxp.bin && every_label_matches fdB nxp.bin"
check "40 label lines in all" test "$(cat fdA/onboarding.csv fdB/onboarding.csv 2>/dev/null | grep -vc '^udid,')" = 40

echo "# 13.2 --assign: a device refused in folder X, recorded from folder Y, then X re-run"
O2=$(order 3)
"$MP" dac issue $H --order $O2 --generate-keys --count 3 --out-dir dacs2 --quiet > /dev/null
mapfile -t U2 < <(ls dacs2/*.der | grep -v key | xargs -n1 basename | sed 's/\.der$//' | sort)
printf 'udid,serial\n%s,CLASH-1\n' "${U2[0]}" > a0.csv
expect 0 "device A gets serial CLASH-1" FD --order $O2 --udid "${U2[0]}" --format json --out-dir fdY0 --assign a0.csv
printf 'udid,serial\n%s,CLASH-1\n' "${U2[1]}" > aX.csv
expect_err 16 "aX.csv:2: serial 'CLASH-1' is already the serial of device" "device B refused for the serial clash, naming the line" FD --order $O2 --udid "${U2[1]}" --format json --out-dir fdX --assign aX.csv
check "the refused run wrote nothing (no folder)" test ! -e fdX
expect 0 "device B built in folder Y" FD --order $O2 --udid "${U2[1]}" --format json --out-dir fdY
expect 0 "folder X re-run without the clash" FD --order $O2 --udid "${U2[1]}" --format json --out-dir fdX
check "X holds no label for B (its record was made in Y)" bash -c "! grep -q '^${U2[1]},' fdX/onboarding.csv 2>/dev/null"
check "Y's label for B is the ledger's" bash -c "$(declare -f every_label_matches db); MP=$MP; every_label_matches fdY json"

echo "# 13.2 a staged line of a device that never committed is dropped on recovery"
O3=$(order 2)
"$MP" dac issue $H --order $O3 --generate-keys --count 2 --out-dir dacs3 --quiet > /dev/null
u3=$(ls dacs3/*.der | grep -v key | head -1 | xargs basename | sed 's/\.der$//')
mkdir -p fdP && touch fdP/.build-incomplete
printf 'O\t%s\t%s\t%s,FAKE,0xFFF2,0x8001,1,12121212,MT:X,1,1\nM\t%s\t00\t{"udid":"%s"}\n' "$u3" "$(printf '%064d' 0)" "$u3" "$u3" "$u3" > fdP/.labels.pending
expect 0 "recovery of a staged chunk" FD --order $O3 --format json --out-dir fdP
check "the uncommitted line was dropped" bash -c "! grep -q FAKE fdP/onboarding.csv"
check "both devices have exactly one label" test "$(grep -c ',0xFFF2,0x8001,' fdP/onboarding.csv)" = 2
cp fdP/onboarding.csv onb.before
l3=$(grep "^$u3," fdP/onboarding.csv)
{ echo "$l3" | awk -F, -v OFS=, '{ $7 = sprintf("%3000s", "X"); print }'; printf '%s,"cut by a crash' "$u3"; } >> fdP/onboarding.csv
touch fdP/.build-incomplete
expect 0 "recovery with an over-long line and a line cut inside a quote" FD --order $O3 --format json --out-dir fdP
check "both dropped, the committed lines kept as they were" cmp fdP/onboarding.csv onb.before

echo "# 13.3 serial characters and CSV quoting"
O4=$(order 3)
"$MP" dac issue $H --order $O4 --generate-keys --count 3 --out-dir dacs4 --quiet > /dev/null
expect_err 10 "character 3 is not allowed" "a comma in --serial-template refused" FD --order $O4 --format json --out-dir x --serial-template 'SN,{seq:4}'
expect_err 10 "character 1 is not allowed" "a leading = refused (formula)" FD --order $O4 --format json --out-dir x --serial-template '={seq}'
expect_err 10 "is not allowed" "a quote refused" FD --order $O4 --format json --out-dir x --serial-template 'A"{seq}'
check "nothing written by the refusals" test ! -e x
expect 0 "a serial of letters, digits and -._:/#" FD --order $O4 --format json --out-dir fd4 --serial-template 'AB-{seq:4}/x.y:z#'
check "no bookkeeping files left after a finished build" bash -c "[ ! -e fd4/.labels.pending ] && [ ! -e fd4/.build-incomplete ]"
check "every onboarding line has 9 fields" bash -c "[ \$(tail -n +2 fd4/onboarding.csv | wc -l) = 3 ] && tail -n +2 fd4/onboarding.csv | awk -F, 'NF != 9 {exit 1}'"
check "header names the dashed manual code" grep -q '^udid,serial,vendor_id,product_id,discriminator,passcode,qr,manual_code,manual_code_dashed$' fd4/onboarding.csv
check "dashed code is the manual code 4-3-4" bash -c "[ \$(tail -n +2 fd4/onboarding.csv | wc -l) = 3 ] && tail -n +2 fd4/onboarding.csv | while IFS=, read -r u s v p d pc qr m md; do [ \"\${md//-/}\" = \"\$m\" ] && echo \"\$md\" | grep -qE '^[0-9]{4}-[0-9]{3}-[0-9]{4}\$' || exit 1; done"
python3 - fd4/onboarding.csv > /dev/null 2>&1 <<'PY' && ok "python's csv module reads onboarding.csv (9 fields)" || fail "python's csv module reads onboarding.csv (9 fields)"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
assert all(len(r) == 9 for r in rows) and len(rows) == 4
PY

echo "# 11 / 18 --assign against the order and the ledger"
O5=$(order 4)
"$MP" dac issue $H --order $O5 --generate-keys --count 4 --out-dir dacs5 --quiet > /dev/null
mapfile -t U5 < <(ls dacs5/*.der | grep -v key | xargs -n1 basename | sed 's/\.der$//' | sort)
printf 'udid,rd_uid\n%s,00112233445566778899aabbccddeeff\n' "${U5[0]}" > r1.csv
expect 0 "rd_uid assigned to one device" FD --order $O5 --udid "${U5[0]}" --format json --out-dir fd5 --assign r1.csv
printf 'udid,rd_uid\n# another lot\n%s,00112233445566778899AABBCCDDEEFF\n' "${U5[1]}" > r2.csv
expect_err 16 "r2.csv:3: rd_uid is already" "the same rd_uid in a later run refused, naming the line" FD --order $O5 --udid "${U5[1]}" --format json --out-dir fd5 --assign r2.csv
printf 'udid,passcode\n%s,20202021\nNOT-IN-ORDER,20202022\n' "${U5[2]}" > r3.csv
expect_err 10 "r3.csv:3: udid 'NOT-IN-ORDER' is not in the ledger" "a row for an unknown UDID refused, naming the line" FD --order $O5 --format json --out-dir fd5 --assign r3.csv
printf 'udid,passcode\n%s,20202021\n' "${U4:-$(ls dacs4/*.der | grep -v key | head -1 | xargs basename | sed 's/\.der$//')}" > r4.csv
expect_err 10 "r4.csv:2: udid .* is not a device of this order" "a row for another order's device refused" FD --order $O5 --format json --out-dir fd5 --assign r4.csv
expect_err 10 "--udid NOPE: no such device" "an unknown --udid refused" FD --order $O5 --udid NOPE --format json --out-dir fd5
check "the ledger still has one factory-data row of order $O5" test "$(db "select count(*) from factory_data where order_id=$O5")" = 1
check "rd_uid unique in the ledger (index)" bash -c "sqlite3 state/ledger.sqlite .schema | grep -q 'UNIQUE INDEX factory_data_rd_uid'"

echo "# 12 SHA-256 of every image in manifest.jsonl and the ledger; inspect --manifest"
O6=$(order 3)
"$MP" dac issue $H --order $O6 --generate-keys --count 3 --out-dir dacs6 --quiet > /dev/null
expect 0 "build nrf, esp32, nxp, json" FD --order $O6 --format nrf --format esp32 --format nxp --format json --out-dir fd6
check "manifest hashes are the files'" bash -c 'jq -r ".sha256 | to_entries[] | .value" fd6/manifest.jsonl | sort > m.txt; sha256sum fd6/*.cbor fd6/*.nrf.json fd6/*.bin fd6/*.esp32.csv $(ls fd6/*.json | grep -v nrf.json) | cut -d" " -f1 | sort > f.txt; [ $(wc -l < m.txt) = 18 ] && cmp m.txt f.txt'
check "the ledger has the same hashes" bash -c "[ -s m.txt ] && [ \"\$(sqlite3 state/ledger.sqlite \"select sha256 from fd_images i join factory_data f on f.udid=i.udid where f.order_id=$O6 order by 1\")\" = \"\$(cat m.txt)\" ]"
u6=$(head -1 fd6/manifest.jsonl | jq -r .udid)
expect 0 "inspect --manifest: a listed image" "$MP" factory-data inspect fd6/$u6.nrf.cbor --manifest fd6/manifest.jsonl
check "sha256_in_manifest ok" grep -q "sha256_in_manifest: ok" out.txt
# flip the low bit of the discriminator's value (no checksum in nRF CBOR)
perl -e 'local $/; open my $i, "<:raw", $ARGV[0]; my $b = <$i>; my $k = index($b, "discriminator") + 13; my $o = ord(substr($b, $k, 1)) >= 0x18 ? $k + 1 + (ord(substr($b, $k, 1)) - 0x17) - 1 : $k; substr($b, $o, 1) = chr(ord(substr($b, $o, 1)) ^ 1); open my $w, ">:raw", $ARGV[1]; print $w $b;' fd6/$u6.nrf.cbor flipped.nrf.cbor
expect 0 "a flipped discriminator bit still parses" "$MP" factory-data inspect flipped.nrf.cbor
expect 12 "inspect --manifest catches the flipped bit" "$MP" factory-data inspect flipped.nrf.cbor --manifest fd6/manifest.jsonl
check "sha256_in_manifest FAIL: not an image listed" grep -q "sha256_in_manifest: FAIL: SHA-256 .* is not an image listed" out.txt
rm fd6/$u6.nxp.bin
expect 0 "a lost image is rebuilt to the recorded hash" FD --order $O6 --format nrf --format esp32 --format nxp --format json --out-dir fd6
expect 0 "the rebuilt image is the listed one" "$MP" factory-data inspect fd6/$u6.nxp.bin --manifest fd6/manifest.jsonl
rm fd6/$u6.nxp.bin
expect_err 12 "differs from the one recorded" "a rebuild that would differ from the recorded image is refused" FD --order $O6 --format nrf --format esp32 --format nxp --format json --out-dir fd6 --include-passcode

echo "# 15 file hygiene"
O7=$(order 2)
"$MP" dac issue $H --order $O7 --generate-keys --count 2 --out-dir dacs7 --quiet > /dev/null
mkdir fd7 && ln -s "$T/outside-marker" fd7/.build-incomplete
expect_err 9 "build-incomplete" "a symbolic link as .build-incomplete refused" FD --order $O7 --format json --out-dir fd7
check "no file created through the link" test ! -e outside-marker
rm fd7/.build-incomplete
printf 'name,address\nbob,1 Main St\n' > fd7/onboarding.csv
expect_err 10 "not matter-pki's onboarding header" "a foreign onboarding.csv refused" FD --order $O7 --format json --out-dir fd7
check "the foreign file untouched" test "$(cat fd7/onboarding.csv)" = "$(printf 'name,address\nbob,1 Main St')"
rm fd7/onboarding.csv
ln -s "$T/outside-onb" fd7/onboarding.csv
expect_err 9 "onboarding.csv" "onboarding.csv as a symbolic link refused" FD --order $O7 --format json --out-dir fd7
check "nothing written through it" test ! -e outside-onb
rm fd7/onboarding.csv
expect 0 "then the build runs" FD --order $O7 --format json --out-dir fd7

echo "# 14 the CD is checked by the verifier before anything is written"
O8=$(order 3)
"$MP" dac issue $H --order $O8 --generate-keys --count 3 --out-dir dacs8 --quiet > /dev/null
expect_err 2 "--paa paa.pem" "no PAA / CD signer: refused" "$MP" factory-data build --order $O8 --product product.json --cd cd.der --format json --out-dir fd8
expect_err 19 "cd-payload.*606" "a CD whose authorized_paa_list excludes the order's PAA refused (606)" "$MP" factory-data build --order $O8 --product product.json --cd cd-otherpaa.der $TR --format json --out-dir fd8
check "nothing written (no folder)" test ! -e fd8
expect_err 19 "cd-signature.*601" "a CD signed by another signer refused" "$MP" factory-data build --order $O8 --product product.json --cd cd.der --paa paa.pem --cd-signer cds2.pem --format json --out-dir fd8
expect_err 19 "paa" "a device that does not chain to the given PAA refused" "$MP" factory-data build --order $O8 --product product.json --cd cd.der --paa paa2.pem --cd-signer cds.pem --format json --out-dir fd8
expect_err 19 "certification_type is 0" "a development CD refused with --production" "$MP" factory-data build --order $O8 --product product.json --cd cd.der $TR --production --format json --out-dir fd8
check "still nothing written" test ! -e fd8
mkdir trust && cp paa.pem cds.pem trust/
expect_err 0 "warning: the CD's certification_type is 0" "a development CD warned about otherwise (trust folder)" "$MP" factory-data build --order $O8 --product product.json --cd cd.der --trust-dir trust --format json --out-dir fd8 --udid "$(ls dacs8/*.der | grep -v key | head -1 | xargs basename | sed 's/\.der$//')"
O8b=$(order 1)
"$MP" dac issue $H --order $O8b --generate-keys --count 1 --out-dir dacs8b --quiet > /dev/null
expect 0 "an official CD builds without a warning" "$MP" factory-data build --order $O8b --product product.json --cd cd-official.der $TR --format json --out-dir fd8o
check "no warning" bash -c "! grep -q warning err.txt"

echo "# 14 revoked devices get no factory data and no label"
O9=$(order 4)
"$MP" dac issue $H --order $O9 --generate-keys --count 4 --out-dir dacs9 --quiet > /dev/null
mapfile -t U9 < <(ls dacs9/*.der | grep -v key | xargs -n1 basename | sed 's/\.der$//' | sort)
sn9=$(openssl x509 -inform DER -in dacs9/${U9[0]}.der -noout -serial | cut -d= -f2)
"$MP" dac revoke --serial "$sn9" --reason keyCompromise > /dev/null
expect_err 10 "--udid ${U9[0]}: the device's DAC is revoked" "an explicit --udid of a revoked device refused, naming it" FD --order $O9 --udid "${U9[0]}" --format json --out-dir fd9
expect 0 "the order builds" FD --order $O9 --format json --out-dir fd9
check "says one revoked device skipped" grep -q "1 revoked device(s) skipped" out.txt
check "no image, label or record for it" bash -c "[ ! -e fd9/${U9[0]}.json ] && ! grep -q '^${U9[0]},' fd9/onboarding.csv && [ \$(sqlite3 state/ledger.sqlite \"select count(*) from factory_data where udid='${U9[0]}'\") = 0 ]"

echo "# 14 a failed or refused run leaves no label rows"
O10=$(order 3)
"$MP" dac issue $H --order $O10 --generate-keys --count 3 --out-dir dacs10 --quiet > /dev/null
rm "$(ls dacs10/*.key.der | head -1)"
expect_err 9 "is missing" "a missing loose key refuses the build" FD --order $O10 --format nxp --out-dir fd10
check "no onboarding.csv, manifest.jsonl or images left" bash -c "[ ! -e fd10/onboarding.csv ] && [ ! -e fd10/manifest.jsonl ] && ! ls fd10/*.bin 2>/dev/null | grep -q ."

echo "# 14 {seq} continues across orders sharing a template; --serial-start; clashes refused first"
O11=$(order 3); O12=$(order 3)
"$MP" dac issue $H --order $O11 --generate-keys --count 3 --out-dir dacs11 --quiet > /dev/null
"$MP" dac issue $H --order $O12 --generate-keys --count 3 --out-dir dacs12 --quiet > /dev/null
expect 0 "order A with ACME-{seq:5}" FD --order $O11 --format json --out-dir fd11 --serial-template 'ACME-{seq:5}'
expect_err 16 "ACME-00001.*--serial-start" "--serial-start into used serials refused before anything is written" FD --order $O12 --format json --out-dir fd12 --serial-template 'ACME-{seq:5}' --serial-start 1
check "nothing written" test ! -e fd12
expect 0 "order B continues the sequence" FD --order $O12 --format json --out-dir fd12 --serial-template 'ACME-{seq:5}'
check "serials ACME-00000..00005" test "$(db "select group_concat(serial) from (select serial from factory_data where order_id in ($O11,$O12) order by serial)")" = "ACME-00000,ACME-00001,ACME-00002,ACME-00003,ACME-00004,ACME-00005"
expect 0 "--serial-start N elsewhere" FD --order $(O13=$(order 1); "$MP" dac issue $H --order $O13 --generate-keys --count 1 --out-dir dacs13 --quiet > /dev/null; echo $O13) --format json --out-dir fd13 --serial-template 'LOT7-{seq:4}' --serial-start 500
check "starts at 500" grep -q ',LOT7-0500,' fd13/onboarding.csv

echo "# 14 QR label images, decoded by zbarimg"
O14=$(order 3)
"$MP" dac issue $H --order $O14 --generate-keys --count 3 --out-dir dacs14 --quiet > /dev/null
expect 0 "PNG labels" FD --order $O14 --format json --out-dir fd14 --qr-images png --qr-module-px 4
check "3 PNG images" test "$(ls fd14/*.qr.png | wc -l)" = 3
check "zbarimg reads every PNG as its onboarding.csv QR" bash -c '[ $(tail -n +2 fd14/onboarding.csv | wc -l) = 3 ] && tail -n +2 fd14/onboarding.csv | while IFS=, read -r u s v p d pc qr m md; do [ "$(zbarimg -q --raw fd14/$u.qr.png)" = "$qr" ] || exit 1; done'
check "PNG is taller than wide (the code printed under it)" bash -c 'f=$(ls fd14/*.qr.png | head -1); w=$(file $f | grep -o "[0-9]* x [0-9]*"); [ ${w%% x*} -lt ${w##*x } ]'
O15=$(order 2)
"$MP" dac issue $H --order $O15 --generate-keys --count 2 --out-dir dacs15 --quiet > /dev/null
expect 0 "SVG labels" FD --order $O15 --format json --out-dir fd15 --qr-images svg
check "SVG has width, height and the dashed code" bash -c '[ $(ls fd15/*.qr.svg | wc -l) = 2 ] && tail -n +2 fd15/onboarding.csv | while IFS=, read -r u s v p d pc qr m md; do grep -q "width=\"[0-9]*\" height=\"[0-9]*\"" fd15/$u.qr.svg && grep -q ">$md</text>" fd15/$u.qr.svg || exit 1; done'
check "zbarimg reads every SVG" bash -c '[ $(tail -n +2 fd15/onboarding.csv | wc -l) = 2 ] && tail -n +2 fd15/onboarding.csv | while IFS=, read -r u s v p d pc qr m md; do [ "$(zbarimg -q --raw fd15/$u.qr.svg)" = "$qr" ] || exit 1; done'
expect_err 2 "is not one of" "--qr-images needs png or svg" FD --order $O15 --format json --out-dir fd15 --qr-images gif

echo "# 14 --json summary; one line without a terminal"
O16=$(order 2)
"$MP" dac issue $H --order $O16 --generate-keys --count 2 --out-dir dacs16 --quiet > /dev/null
expect 0 "--json" FD --order $O16 --format json --out-dir fd16 --json
check "one JSON object with the summary's facts" jq -e '.order > 0 and .built == 2 and .rebuilt == 0 and .already_built == 0 and .revoked_skipped == 0 and .out_dir == "fd16"' out.txt
check "one summary line otherwise, no progress on a pipe" bash -c "FD() { \"$MP\" factory-data build --product product.json --cd cd.der $TR --iterations 1000 \"\$@\"; }; FD --order $O16 --format json --out-dir fd16 > o.txt 2> e.txt; [ \$(wc -l < o.txt) = 1 ] && ! grep -q ETA e.txt"
check "progress bar on a terminal" bash -c "script -qec '$MP factory-data build --product product.json --cd cd.der $TR --iterations 1000 --order $O16 --format json --out-dir fd16b' /dev/null | grep -q '100.0%.*ETA'"

echo "# 14 an order mixing chip-list and off-chip devices"
"$MP" chips simulate --count 2 --out sim > /dev/null
"$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem > /dev/null
O17=$(order 4)
"$MP" dac issue $H --order $O17 --out-dir dacs17 --quiet > /dev/null
"$MP" dac issue $H --order $O17 --generate-keys --count 2 --out-dir dacs17 --quiet > /dev/null
expect 0 "esp32 + json for a mixed order" FD --order $O17 --format esp32 --format json --out-dir fd17
check "esp32 images for the 2 off-chip devices only" test "$(ls fd17/*.esp32.bin | wc -l)" = 2
check "json for all 4" test "$(ls fd17/*.json | wc -l)" = 4
O18=$(order 4)
"$MP" chips simulate --count 2 --out sim2 > /dev/null
"$MP" chips import sim2/chips.csv --signature sim2/chips.csv.sig --signer sim2/chipmaker.pem > /dev/null
"$MP" dac issue $H --order $O18 --out-dir dacs18 --quiet > /dev/null
"$MP" dac issue $H --order $O18 --generate-keys --count 2 --out-dir dacs18 --quiet > /dev/null
expect 0 "nxp only for a mixed order: chip devices skipped" FD --order $O18 --format nxp --out-dir fd18
check "reported as skipped" grep -q "2 chip-key device(s) skipped" out.txt
check "2 images, 2 labels" bash -c "[ \$(ls fd18/*.nxp.bin | wc -l) = 2 ] && [ \$(wc -l < fd18/onboarding.csv) = 3 ]"

echo "# 14 examples/product.json, NXP date, nRF zero byte, VID with PID 0"
check "examples/product.json uses 10000 iterations" jq -e '.iterations == 10000' "$(dirname "$0")/../../examples/product.json"
jq '.factory_data = {"x": 1}' product.json > pfd.json
expect_err 10 "factory_data" "an unknown factory_data section refused" FD --order $O16 --product pfd.json --format json --out-dir fdx
cat > dev.json <<'J'
{"format": "matter-pki-factory-data", "version": 1, "serial_number": "SN-1", "vendor_id": 65522, "product_id": 32769,
 "vendor_name": "Acme", "product_name": "Bulb", "manufacturing_date": "2025-01-15-LOT7", "hardware_version": 1,
 "hardware_version_string": "1.0", "discriminator": 3840, "spake2p_iterations": 1000,
 "spake2p_salt": "U1BBS0UyUCBLZXkgU2FsdA==", "spake2p_verifier": "uWFwqugDNGiEck/po7KHwwMwwqZgN10XuyBajPGuyzUEV/iree4lOrao5GuwnlQ65CJzbeUB49s31EH+NEkg0JVI5MGCQGMMT/SRPFNRODm3wH/MBiehuFc6FJ/NH6Rmzw==",
 "rd_uid": "00112233445566778899aabbccddeeff"}
J
u6j=$(head -1 fd6/manifest.jsonl | jq -r .udid)
jq -s '.[0] * {dac_cert: .[1].dac_cert, pai_cert: .[1].pai_cert, certification_declaration: .[1].certification_declaration, dac_key: .[1].dac_key, vendor_id: .[1].vendor_id, product_id: .[1].product_id}' dev.json fd6/$u6j.json > dev2.json
expect_err 10 "exactly YYYY-MM-DD" "NXP refuses a date with a suffix" "$MP" factory-data pack --device dev2.json --format nxp --out d.nxp.bin
u6n=$(sed -n 2p fd6/manifest.jsonl | jq -r .udid)
cp fd6/$u6n.nxp.bin long.nxp.bin
perl -MDigest::SHA=sha256 -e 'local $/; open my $i, "<:raw", $ARGV[0]; my $b = <$i>; my $o = 12; my $p;
    while ($o < length($b)) { my ($k, $l) = unpack("C v", substr($b, $o, 3)); if ($k == 15) { $p = $o; last } $o += 3 + $l }
    substr($b, $p + 3, 10) = "20250115AB"; my $n = unpack("V", substr($b, 4, 4)); substr($b, 8, 4) = substr(sha256(substr($b, 12, $n)), 0, 4);
    open my $w, ">:raw", $ARGV[0]; print $w $b;' long.nxp.bin
expect_err 10 "format nxp: the manufacturing date must be exactly YYYY-MM-DD .is '2025-01-15AB'" "inspect flags a non-conforming NXP date" "$MP" factory-data inspect long.nxp.bin
{ cat fd6/$u6j.nrf.cbor | perl -e 'local $/; my $b = <STDIN>; $b =~ s/\xff+$//; print $b'; printf '\000'; head -c 100 /dev/zero | tr '\0' '\377'; } > nordic.cbor
expect 0 "inspect accepts an nRF partition ending in a zero byte (Nordic's tool)" "$MP" factory-data inspect nordic.cbor --format nrf
{ cat nordic.cbor; printf 'x'; } > bad.cbor
expect_err 10 "not erased flash" "other bytes after the map still refused" "$MP" factory-data inspect bad.cbor --format nrf
expect_err 10 "product ID 0" "onboarding encode: VID with PID 0 refused" "$MP" onboarding encode --vid FFF1 --pid 0 --discriminator 3840 --passcode 20202021 --caps 2
expect 0 "onboarding encode: VID 0 with PID 0 accepted" "$MP" onboarding encode --vid 0 --pid 0 --discriminator 3840 --passcode 20202021 --caps 2
echo "# 13.16 the whole product.json is validated by every command"
"$MP" dcl export model --product product.json --out m.json > /dev/null 2>&1 && ok "dcl export model with the example" || fail "dcl export model with the example"
jq '.cd.certificate_id = "CSA00000SWC00000-0"' product.json > p1.json
expect_err 10 "certificate_id' must be 19..19" "dcl export model: an 18-character cd.certificate_id refused" "$MP" dcl export model --product p1.json --out m1.json
jq '.cd.colour = 1' product.json > p2.json
expect_err 10 "cd: unknown field 'colour'" "dcl export model: an unknown field in cd refused" "$MP" dcl export model --product p2.json --out m2.json
expect_err 10 "cd: unknown field 'colour'" "factory-data build: an unknown field in cd refused" FD --order $O16 --product p2.json --format json --out-dir fdx
jq '.cd.product_ids = [range(1; 102)]' product.json > p3.json
expect_err 10 "1..100 product IDs" "101 product IDs refused" "$MP" dcl export model --product p3.json --out m3.json
jq '.cd.authorized_paa_certs = ["../../../../etc/passwd"]' product.json > p4.json
expect_err 10 "'..' component" "cd.authorized_paa_certs leaving the product's folder refused" "$MP" dcl export model --product p4.json --out m4.json
jq '.cd.authorized_paa_certs = ["/etc/passwd"]' product.json > p5.json
expect_err 10 "relative to the product file" "an absolute cd.authorized_paa_certs refused" "$MP" cd create $H --signer-cert cds.pem --signer-key cds --product p5.json --out x.der
jq '.dcl.model.colour = 1' product.json > p6.json
expect_err 10 "dcl.model: unknown field 'colour'" "cd create: an unknown field in dcl.model refused" "$MP" cd create $H --signer-cert cds.pem --signer-key cds --product p6.json --out x.der
jq '.dcl.revocation_points.pai.url = "x"' product.json > p7.json
expect_err 10 "revocation_points.pai: unknown field 'url'" "an unknown field in dcl.revocation_points refused" "$MP" factory-data build --order $O16 --product p7.json --cd cd.der $TR --format json --out-dir fdx
check "none of the refusals wrote anything" bash -c "[ ! -e x.der ] && [ ! -e fdx ] && [ ! -e m1.json ]"
echo "# 15 a DAC larger than an image holds is refused, not copied past the buffer"
O19=$(order 3)
"$MP" dac issue $H --order $O19 --generate-keys --count 3 --out-dir dacs19 --quiet > /dev/null
u19=$(ls dacs19/*.der | grep -v key | xargs -n1 basename | sed 's/\.der$//' | sort | tail -1)
sqlite3 state/ledger.sqlite "update dacs set der = der || zeroblob(680 - length(der)) where udid = '$u19'"
expect_err 11 "device $u19: its DAC \(.* bytes, at most 600\)" "a 680-byte DAC refused, naming the device" FD --order $O19 --format nxp --out-dir fd19 --keep-keys
check "no label for it" bash -c "! grep -q '^$u19,' fd19/onboarding.csv 2>/dev/null"
echo "# 14 NXP: a manufacturing date with a time is cut to YYYY-MM-DD with a warning"
O20=$(order 1)
"$MP" dac issue $H --order $O20 --generate-keys --count 1 --out-dir dacs20 --quiet > /dev/null
expect_err 0 "warning: --mfg-date 2025-03-04T10:11:12Z cut to 2025-03-04" "a longer --mfg-date warned about" FD --order $O20 --format nxp --out-dir fd20 --mfg-date 2025-03-04T10:11:12Z
check "the NXP image holds exactly 2025-03-04" bash -c "$MP factory-data inspect fd20/*.nxp.bin --json | jq -e '.device.manufacturing_date == \"2025-03-04\"'"
finish
