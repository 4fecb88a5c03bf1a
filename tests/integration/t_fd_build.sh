#!/usr/bin/env bash
# t_fd_build.sh - factory-data build over an order: every format, checks by
# inspect, secrets' places, idempotence, crash recovery, refusals.
. "$(dirname "$0")/lib.sh"
H="--token test --pin-file pin"
new_pki
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 1000 > /dev/null
"$MP" dac issue $H --order 1 --generate-keys --count 30 --out-dir dacs --quiet > /dev/null
db() { sqlite3 state/ledger.sqlite "$1"; }
B="--order 1 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem"

expect 0 "build nrf, esp32, nxp and json" "$MP" factory-data build $B --format nrf --format esp32 --format nxp --format json --out-dir fd --jobs 2 --qr-images svg
check "30 devices x 6 files" test "$(ls fd | grep -Ec '\.(nrf\.cbor|nrf\.json|esp32\.bin|esp32\.csv|nxp\.bin|json)$')" = 180
check "images holding keys are 0600" bash -c "for f in fd/*.bin fd/*.cbor fd/*.json; do [ \$(stat -c %a \$f) = 600 ] || exit 1; done"
check "onboarding.csv: header + 30 lines, 0600" bash -c "[ \$(wc -l < fd/onboarding.csv) = 31 ] && [ \$(stat -c %a fd/onboarding.csv) = 600 ]"
check "manifest.jsonl: 30 JSON lines" bash -c "[ \$(jq -c . fd/manifest.jsonl | wc -l) = 30 ]"
check "QR images" test "$(ls fd/*.qr.svg | wc -l)" = 30
check "loose keys removed once packed" test "$(ls dacs/*.key.der 2>/dev/null | wc -l)" = 0
check "ledger has no passcodes" test "$(db 'select count(*) from factory_data where passcode is not null')" = 0
check "manifest has no passcode" bash -c "! grep -q passcode fd/manifest.jsonl"
check "images have no passcode (spec 5.1.7)" bash -c "! grep -q '\"passcode\"' fd/*.json"
line=$(sed -n 2p fd/onboarding.csv)
u=$(echo "$line" | cut -d, -f1); pc=$(echo "$line" | cut -d, -f6); qr=$(echo "$line" | cut -d, -f7); manual=$(echo "$line" | cut -d, -f8)
for f in nrf.cbor nrf.json esp32.bin esp32.csv nxp.bin json; do
    expect 0 "inspect $f: key, chain, verifier, CD" "$MP" factory-data inspect "fd/$u.$f" --pai pai.pem --cd cd.der --passcode "$pc"
    check "inspect $f: no check failed" bash -c "! grep -q ': FAIL' out.txt && grep -q 'verifier_matches_passcode: ok' out.txt"
done
# inspect --lot: the whole folder in one process, against the manifest's
# SHA-256 and onboarding.csv's passcodes
expect 0 "inspect --lot: every image of the folder" "$MP" factory-data inspect --lot fd --pai pai.pem --cd cd.der
check "lot summary: 30 devices, 180 images, all passed" grep -q "^lot fd: 30 device(s), 180 image(s) (.*): every check passed$" out.txt
expect 0 "inspect --lot --json: one line per image" "$MP" factory-data inspect --lot fd --pai pai.pem --cd cd.der --json
check "180 reports, each with its UDID, verifier checked against onboarding.csv's passcode" \
    jq -s -e 'length == 180 and all(.udid != null and .checks.verifier_matches_passcode == "ok" and .checks.sha256_in_manifest == "ok"
              and .checks.dac_key_matches_dac == "ok" and .checks.dac_chains_to_pai == "ok" and .checks.cd_covers_vid_pid == "ok")' out.txt
expect 0 "inspect --lot --format nxp: only that format" "$MP" factory-data inspect --lot fd --format nxp --json
check "30 nxp reports" jq -s -e 'length == 30 and all(.format == "nxp")' out.txt
rm -rf fdx && cp -a fd fdx
u2=$(sed -n 3p fdx/onboarding.csv | cut -d, -f1)
sed -i "3s/^\([^,]*,[^,]*,[^,]*,[^,]*,[^,]*,\)[0-9]*/\112345679/" fdx/onboarding.csv
expect 12 "inspect --lot: a wrong passcode in onboarding.csv is a mismatch" "$MP" factory-data inspect --lot fdx --pai pai.pem
check "the failed checks are named with their files" grep -q "^fdx/$u2.esp32.bin: check verifier_matches_passcode: FAIL" out.txt
check "the other devices are still checked (summary after the failures)" grep -q "^lot fdx: 30 device(s), 180 image(s) (.*): FAILED$" out.txt
cp fd/onboarding.csv fdx/onboarding.csv
sed -i 's/"Acme Bulb"/"Acme Bulc"/' "fdx/$u2.json"
expect 12 "inspect --lot: an image changed after the build is not the manifest's" "$MP" factory-data inspect --lot fdx --format json --pai pai.pem
check "the changed image named" grep -q "^fdx/$u2.json: check sha256_in_manifest: FAIL: SHA-256 .* is not the .* that line 2 of the manifest lists" out.txt
rm "fdx/$u2.nrf.cbor"
expect_err 9 "lot fdx: 1 of 30" "inspect --lot: a missing image is an I/O error, the rest checked" "$MP" factory-data inspect --lot fdx --format nrf
check "the missing image named" grep -q "^fdx/$u2.nrf.cbor: .*cannot open" out.txt
expect_err 9 "dacs/manifest.jsonl: cannot open: --lot takes the --out-dir of a factory-data build" "inspect --lot: a folder without manifest.jsonl" \
    "$MP" factory-data inspect --lot dacs
expect_err 2 "give FILE or --lot DIR" "inspect: FILE and --lot together refused" "$MP" factory-data inspect "fd/$u.json" --lot fd
expect_err 2 "come from the folder" "inspect --lot: --passcode refused (from onboarding.csv)" "$MP" factory-data inspect --lot fd --passcode 20202021
mkdir -p fdb && printf '{"udid":"U1","bundle":"lot.jsonl","files":{"json":"U1.json"},"sha256":{"json":"00"}}\n{"udid":\n' > fdb/manifest.jsonl
expect 9 "inspect --lot: a line whose bundle is missing, and a torn line" "$MP" factory-data inspect --lot fdb
check "the missing bundle named" grep -q "fdb/manifest.jsonl line 1: fdb/lot.jsonl: cannot open" out.txt
check "the torn line named" grep -q "fdb/manifest.jsonl line 2: not JSON" out.txt
expect 0 "QR decodes to the device's values" "$MP" onboarding decode "$qr" --json
check "QR passcode and discriminator" bash -c "jq -e --argjson p $((10#$pc)) '.passcode == \$p' out.txt > /dev/null && jq -e --argjson d $(echo "$line" | cut -d, -f5) '.discriminator == \$d' out.txt > /dev/null"
expect 0 "manual code decodes" "$MP" onboarding decode "$manual" --json
check "passcode valid range" bash -c "p=\$((10#$pc)); [ \$p -ge 1 ] && [ \$p -le 99999998 ]"
check "distinct passcodes, salts, serials" bash -c "[ \$(cut -d, -f6 fd/onboarding.csv | sort -u | wc -l) = 31 ] && [ \$(sqlite3 state/ledger.sqlite 'select count(distinct salt) from factory_data') = 30 ]"
cp fd/$u.nxp.bin nxp.before
expect 0 "re-run is idempotent" "$MP" factory-data build $B --format nrf --format esp32 --format nxp --format json --out-dir fd
check "nothing new" grep -q "0 new device(s), 0 rebuilt, 30 already built" out.txt
check "onboarding unchanged" test "$(wc -l < fd/onboarding.csv)" = 31
rm fd/$u.nxp.bin
expect 0 "a lost image is rebuilt" "$MP" factory-data build $B --format nrf --format esp32 --format nxp --format json --out-dir fd
check "rebuilt identical (same credentials, key from another image)" cmp fd/$u.nxp.bin nxp.before
# packed by the main thread above (--jobs 1 with a spare CPU), by the worker here (one CPU)
cp fd/$u.json json.before
rm fd/$u.nxp.bin fd/$u.json
expect 0 "a lost image rebuilt on one CPU (the worker packs)" taskset -c 0 "$MP" factory-data build $B --format nrf --format esp32 --format nxp --format json --out-dir fd
check "same bytes whichever thread packs" bash -c "cmp fd/$u.nxp.bin nxp.before && cmp fd/$u.json json.before"
cp fd/$u.qr.svg qr.before; rm fd/$u.qr.svg
expect 0 "a lost QR image is rebuilt (passcode from onboarding.csv)" "$MP" factory-data build $B --format nrf --format esp32 --format nxp --format json --out-dir fd --qr-images svg
check "same QR image" cmp fd/$u.qr.svg qr.before

# refusals
"$MP" chips simulate --count 5 --out sim > /dev/null
"$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem > /dev/null
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 10 > /dev/null
"$MP" dac issue $H --order 2 --out-dir dacs2 --quiet > /dev/null
expect_err 10 "keep their key in the chip" "key formats refuse chip-list devices" "$MP" factory-data build --order 2 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format esp32 --out-dir fd2
expect 0 "json for chip-list devices" "$MP" factory-data build --order 2 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format json --out-dir fd2 --record-passcodes
check "json holds no key for chip devices" bash -c "! jq -e '.dac_key' fd2/*.json > /dev/null 2>&1 || [ \"\$(jq -r '.dac_key' \$(ls fd2/*.json | head -1))\" = null ]"
check "--record-passcodes records them" test "$(db 'select count(*) from factory_data where passcode is not null')" = 5
jq '.product_id = "0x8002"' product.json > other.json
expect_err 12 "order 1 is for" "product of another PID" "$MP" factory-data build --order 1 --product other.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format json --out-dir x
expect_err 10 "iterations" "iterations out of range" "$MP" factory-data build $B --format json --out-dir x --iterations 999
expect_err 2 "at least one --format" "no format" "$MP" factory-data build $B --out-dir x
expect_err 2 "is not one of" "unknown format" "$MP" factory-data build $B --format zigbee --out-dir x

# --assign, --keep-keys, --udid, --include-passcode
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 10 > /dev/null
"$MP" dac issue $H --order 3 --generate-keys --count 3 --out-dir dacs3 --quiet > /dev/null
u1=$(ls dacs3/*.der | grep -v key | head -1 | xargs basename | sed 's/.der$//')
printf 'udid,passcode,discriminator,serial\n%s,20202021,3840,ACME-0001\n' "$u1" > assign.csv
expect 0 "build with --assign, --keep-keys, --include-passcode" "$MP" factory-data build --order 3 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format json --out-dir fd3 --assign assign.csv --keep-keys --include-passcode
check "assigned values used" grep -q "^$u1,ACME-0001,0xFFF2,0x8001,3840,20202021," fd3/onboarding.csv
check "passcode in the image when asked" jq -e '.passcode == 20202021' "fd3/$u1.json"
check "--keep-keys keeps the key files" test "$(ls dacs3/*.key.der | wc -l)" = 3
printf 'udid,passcode\n%s,11111111\n' "$u1" > badassign.csv
expect_err 10 "passcode" "--assign with an invalid passcode" "$MP" factory-data build --order 3 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format json --out-dir fd4 --assign badassign.csv

# crash: kill -9 part-way through a bigger build, then finish
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 3000 > /dev/null
"$MP" dac issue $H --order 4 --generate-keys --count 3000 --out-dir dacs4 --quiet > /dev/null
"$MP" factory-data build --order 4 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format nxp --format json --out-dir fd5 --iterations 1000 --quiet > /dev/null 2>&1 &
pid=$!
for i in $(seq 1 300); do [ "$(ls fd5 2>/dev/null | wc -l)" -gt 1500 ] && break; sleep 0.01; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
expect 0 "re-run after kill -9" "$MP" factory-data build --order 4 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format nxp --format json --out-dir fd5 --iterations 1000 --quiet
check "every device once in onboarding.csv" bash -c "[ \$(tail -n +2 fd5/onboarding.csv | cut -d, -f1 | sort -u | wc -l) = 3000 ] && [ \$(wc -l < fd5/onboarding.csv) = 3001 ]"
check "every device once in manifest.jsonl" bash -c "[ \$(jq -r .udid fd5/manifest.jsonl | sort -u | wc -l) = 3000 ] && [ \$(wc -l < fd5/manifest.jsonl) = 3000 ]"
check "all written in the ledger" test "$(db 'select count(*) from factory_data where order_id=4 and written=1')" = 3000
check "no loose keys left" test "$(ls dacs4/*.key.der 2>/dev/null | wc -l)" = 0
check "onboarding passcodes match the images" bash -c 'for l in $(tail -n +2 fd5/onboarding.csv | shuf -n 20 --random-source=fd5/onboarding.csv); do
    u=$(echo $l | cut -d, -f1); p=$(echo $l | cut -d, -f6)
    "$MP" factory-data inspect fd5/$u.nxp.bin --passcode $p | grep -q "verifier_matches_passcode: ok" || exit 1; done'
check "no temporary files" bash -c "! ls -a fd5 | grep -q tmp"
# device secrets (core/devsecret.h): a rebuild finds the key by UDID through
# the ledger - beside the DAC whatever its layout, staged, or in a recorded image
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 10 > /dev/null
O5=$(db 'select max(id) from orders')
"$MP" dac issue $H --order $O5 --generate-keys --count 3 --out-dir dacs5 --layout per-device --name-by serial --quiet > /dev/null
mapfile -t K5 < <(ls dacs5/*/*.key.der)
u5=$(db "select udid from dacs where path like '%${K5[0]%.key.der}.der'")
check "keys beside their DACs, named by serial, not by UDID" bash -c "[ ${#K5[@]} = 3 ] && [ -n '$u5' ] && ! ls dacs5/*.key.der 2>/dev/null | grep -q ."
# a kill between the ledger commit and the move leaves a key staged
mv "${K5[1]}" "dacs5/.matter-pki.staging/$(db "select udid from dacs where path like '%${K5[1]%.key.der}.der'").key.der"
expect 0 "keys found beside per-device DACs and in staging" "$MP" factory-data build --order $O5 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format nxp --format json --out-dir fd6
check "the key files are gone once packed, the staged one too" bash -c "! ls dacs5/*/*.key.der dacs5/.matter-pki.staging/*.key.der 2>/dev/null | grep -q ."
cp fd6/$u5.json json5.before
rm fd6/$u5.json
expect 0 "key file gone: the rebuild takes the key from the image the ledger records" "$MP" factory-data build --order $O5 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format nxp --format json --out-dir fd6
check "the same image" cmp fd6/$u5.json json5.before
cp fd6/$u5.nxp.bin nxp5.before
rm fd6/$u5.nxp.bin
jq '.dac_key = "1111111111111111111111111111111111111111111111111111111111111111"' json5.before > fd6/$u5.json
expect_err 9 "device $u5: its DAC private key is missing: not at .*dacs5/[0-9A-F]+/[0-9A-F]+\\.key\\.der.*no image in fd6 that the ledger records holds it" \
    "an image whose bytes are not the ledger's record gives no key (its DAC matches, its key was changed): refused, naming where it looked" \
    "$MP" factory-data build --order $O5 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format nxp --format json --out-dir fd6
check "no image made with the changed key" test ! -e fd6/$u5.nxp.bin
cp json5.before fd6/$u5.json
expect 0 "the recorded image back: the key comes from it" "$MP" factory-data build --order $O5 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format nxp --format json --out-dir fd6
check "the same nxp image again" cmp fd6/$u5.nxp.bin nxp5.before
finish
