#!/usr/bin/env bash
# t_outs.sh - outputs a line can use (issue 14): --layout, --name-by and
# --bundle for factory-data build (the writer of core/outsink.c that dac
# issue uses), and dac issue --generate-keys --bundle (keys in the lines,
# 0600); crash safety of both bundles (kill -9, re-run: one line a device).
. "$(dirname "$0")/lib.sh"
H="--token test --pin-file pin"
new_pki
db() { sqlite3 state/ledger.sqlite "$1"; }
order() { "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota "$1"; }
T0="--product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --iterations 1000"

# ---- factory-data build --layout per-device --name-by serial
O1=$(order 100)
"$MP" dac issue $H --order $O1 --generate-keys --count 6 --out-dir d1 --quiet > /dev/null
expect 0 "factory-data build --layout per-device --name-by serial" "$MP" factory-data build --order $O1 $T0 \
    --format nrf --format esp32 --format json --out-dir pd --layout per-device --name-by serial \
    --serial-template 'ACME-{seq:4}' --serial-start 1 --qr-images png --jobs 2
serials() { tail -n +2 pd/onboarding.csv | cut -d, -f2; }
check "DIR/SERIAL/SERIAL.<ext> for every image and the label image" bash -c "n=0; for s in \$(tail -n +2 pd/onboarding.csv | cut -d, -f2); do
    for e in nrf.cbor nrf.json esp32.bin esp32.csv json qr.png; do [ -s pd/\$s/\$s.\$e ] || exit 1; done; n=\$((n+1)); done; [ \$n = 6 ]"
check "serials ACME-0001..ACME-0006 name the folders" test "$(ls -d pd/ACME-* | xargs -n1 basename | tr '\n' ' ')" = "ACME-0001 ACME-0002 ACME-0003 ACME-0004 ACME-0005 ACME-0006 "
check "nothing else at the top of the folder" test "$(ls pd | grep -vcE '^(ACME-[0-9]{4}|onboarding.csv|manifest.jsonl)$')" = 0
check "images holding keys are 0600 in their folders" bash -c "for f in pd/*/*.bin pd/*/*.cbor pd/*/*.json; do [ \$(stat -c %a \$f) = 600 ] || exit 1; done"
check "manifest names each file by its relative path" bash -c "jq -e -r '.files.nrf == (.serial + \"/\" + .serial + \".nrf.cbor\")' pd/manifest.jsonl | grep -vq false"
s1=$(serials | head -1)
pc1=$(sed -n 2p pd/onboarding.csv | cut -d, -f6)
expect 0 "inspect an image of the per-device layout (with the manifest)" "$MP" factory-data inspect "pd/$s1/$s1.nrf.cbor" --pai pai.pem --cd cd.der --passcode "$pc1" --manifest pd/manifest.jsonl
check "inspect: no check failed" bash -c "! grep -q ': FAIL' out.txt"
expect 0 "zbarimg reads the label image in its device folder" zbarimg -q --raw "pd/$s1/$s1.qr.png"
check "its QR code is onboarding.csv's" test "$(head -1 out.txt)" = "$(sed -n 2p pd/onboarding.csv | cut -d, -f7)"
expect 0 "re-run: nothing to do" "$MP" factory-data build --order $O1 $T0 --format nrf --format esp32 --format json --out-dir pd --layout per-device --name-by serial --serial-template 'ACME-{seq:4}' --qr-images png
check "0 new, 0 rebuilt, 6 already built (files found by serial in their folders)" grep -q "0 new device(s), 0 rebuilt, 6 already built" out.txt
cp "pd/$s1/$s1.esp32.bin" esp.before; cp "pd/$s1/$s1.qr.png" qr.before
rm "pd/$s1/$s1.esp32.bin" "pd/$s1/$s1.qr.png" "pd/$s1/$s1.nrf.cbor"
expect 0 "lost images rebuilt in their device folder (key from the device's other images)" "$MP" factory-data build --order $O1 $T0 --format nrf --format esp32 --format json --out-dir pd --layout per-device --name-by serial --serial-template 'ACME-{seq:4}' --qr-images png
check "1 rebuilt" grep -q "0 new device(s), 1 rebuilt, 5 already built" out.txt
check "rebuilt byte for byte" bash -c "cmp pd/$s1/$s1.esp32.bin esp.before && cmp pd/$s1/$s1.qr.png qr.before && [ -s pd/$s1/$s1.nrf.cbor ]"
check "no temporary file left anywhere" test "$(find pd -name '*.tmp.*' | wc -l)" = 0
expect_err 2 "a '/'" "--name-by serial with a '/' in the serial template is refused" "$MP" factory-data build --order $O1 $T0 --format json --out-dir x --name-by serial --serial-template 'A/{seq}'
expect_err 2 "not one of flat, per-device" "a bad --layout" "$MP" factory-data build --order $O1 $T0 --format json --out-dir x --layout tree
expect_err 2 "one of --out-dir DIR or --bundle FILE" "--bundle with --out-dir" "$MP" factory-data build --order $O1 $T0 --format json --out-dir x --bundle x/b.jsonl
expect_err 2 "takes no --layout or --name-by" "--bundle with --layout" "$MP" factory-data build --order $O1 $T0 --format json --bundle x/b.jsonl --layout per-device
check "refusals wrote nothing" test ! -e x

# ---- factory-data build --bundle: the same devices' flat files, byte for byte
O2=$(order 100)
"$MP" dac issue $H --order $O2 --generate-keys --count 5 --out-dir d2 --quiet > /dev/null
expect 0 "flat files (keys kept)" "$MP" factory-data build --order $O2 $T0 --format nrf --format esp32 --format nxp --format json --out-dir lot2 --keep-keys --qr-images svg
expect 0 "--bundle in the same folder: the same devices as one JSON Lines file" "$MP" factory-data build --order $O2 $T0 --format nrf --format esp32 --format nxp --format json --bundle lot2/lot.jsonl --qr-images svg --json
check "summary names the bundle" test "$(jq -r '.bundle | endswith("lot2/lot.jsonl")' out.txt)" = true
check "5 lines, one a device, each JSON" bash -c "[ \$(jq -c . lot2/lot.jsonl | wc -l) = 5 ] && [ \$(jq -r .udid lot2/lot.jsonl | sort -u | wc -l) = 5 ]"
check "the bundle holds images (0600)" test "$(stat -c %a lot2/lot.jsonl)" = 600
bundle_vs_files() { # every image of every line equals the flat file of the same name, and its sha256
    local dir=$1 bundle=$2 n=0
    while read -r u; do
        jq -c --arg u "$u" 'select(.udid == $u)' "$bundle" > one.json
        printf '%s' "$(jq -r .dac one.json)" | base64 -d > one.der
        cmp one.der "$3/$u.der" || return 1
        for k in $(jq -r '.images | keys[]' one.json); do
            name=$(jq -r --arg k "$k" '.images[$k].name' one.json)
            jq -r --arg k "$k" '.images[$k].data' one.json | base64 -d > one.img
            cmp one.img "$dir/$name" || { echo "differs: $name"; return 1; }
            [ "$(sha256sum < one.img | cut -c1-64)" = "$(jq -r --arg k "$k" '.images[$k].sha256' one.json)" ] || return 1
            n=$((n + 1))
        done
    done < <(jq -r .udid "$bundle")
    echo "$n images compared"; [ "$n" -gt 0 ]
}
expect 0 "every image in the bundle (nrf, nrf-json, esp32, esp32-csv, nxp, json, qr-svg) equals its flat file byte for byte, DAC too" bash -c "$(declare -f bundle_vs_files); bundle_vs_files lot2 lot2/lot.jsonl d2"
check "7 images a device compared" grep -q "^35 images compared" out.txt
check "each image's sha256 is the one the ledger recorded" bash -c "jq -r '.udid as \$u | .images | to_entries[] | select(.key != \"qr-svg\") | [\$u, .key, .value.sha256] | join(\",\")' lot2/lot.jsonl | sort > b.rows &&
    sqlite3 -separator , state/ledger.sqlite \"select i.udid, i.format, i.sha256 from fd_images i join factory_data f using(udid) where f.order_id=$O2\" | sort > l.rows && diff b.rows l.rows"
check "onboarding.csv still one row a device (the bundle run added none)" test "$(tail -n +2 lot2/onboarding.csv | wc -l)" = 5
# inspect --lot of a bundle build: the manifest's lines name the bundle, whose
# lines hold the images
OL=$(order 100)
"$MP" dac issue $H --order $OL --generate-keys --count 4 --out-dir dl --quiet > /dev/null
expect 0 "a bundle-only build (json, esp32 with its esp_secure_cert partition)" "$MP" factory-data build --order $OL $T0 --format json \
    --format esp32 --format esp32-secure-cert --bundle lotb/lot.jsonl
expect 0 "inspect --lot: the images in the bundle its manifest names" "$MP" factory-data inspect --lot lotb --pai pai.pem --cd cd.der --json
check "4 devices x 4 images (json, esp32, its CSV, esp_secure_cert), every check ok or skipped, verifier checked" \
    jq -s -e 'length == 16 and all(([.checks[]] | all(. == "ok" or . == "skipped")) and (.format == "esp32-secure-cert" or .checks.verifier_matches_passcode == "ok"))' out.txt
check "the bundle's images named BUNDLE#NAME" jq -s -e '[.[] | select(.file | test("^lotb/lot.jsonl#[0-9A-F]+\\.esp32\\.bin$"))] | length == 4' out.txt
cp lotb/lot.jsonl lotb.keep
ub=$(sed -n 2p lotb/onboarding.csv | cut -d, -f1)
jq -c --arg u "$ub" 'if .udid == $u then .images.json.data = (.images.json.data | @base64d | sub("Acme Bulb"; "Acme Bulc") | @base64) else . end' lotb.keep > lotb/lot.jsonl
expect 12 "inspect --lot: an image changed inside the bundle is not the manifest's" "$MP" factory-data inspect --lot lotb --pai pai.pem --format json
check "the changed bundle image named" grep -q "^lotb/lot.jsonl#$ub.json: check sha256_in_manifest: FAIL" out.txt
mv lotb/lot.jsonl lotb/gone.jsonl
expect 9 "inspect --lot: a missing bundle" "$MP" factory-data inspect --lot lotb --format json
check "the missing bundle named" grep -q "lotb/lot.jsonl: cannot open (the bundle its manifest lines name)" out.txt
rm lotb/gone.jsonl && mv lotb.keep lotb/lot.jsonl
expect 0 "a bundle re-run: nothing to do" "$MP" factory-data build --order $O2 $T0 --format nrf --format esp32 --format nxp --format json --bundle lot2/lot.jsonl --qr-images svg
check "5 already built, still 5 lines" bash -c "grep -q '0 new device(s), 0 rebuilt, 5 already built' out.txt && [ \$(wc -l < lot2/lot.jsonl) = 5 ]"
expect 0 "a bundle re-run with fewer formats: its lines cover them" "$MP" factory-data build --order $O2 $T0 --format json --bundle lot2/lot.jsonl
check "still 5 lines" test "$(wc -l < lot2/lot.jsonl)" = 5
expect_err 12 "has no qr-png image .*give this build a new --bundle file" "a bundle made with other options is refused (a line is never rewritten)" "$MP" factory-data build --order $O2 $T0 --format json --bundle lot2/lot.jsonl --qr-images png
check "and left as it was" test "$(wc -l < lot2/lot.jsonl)" = 5
ln -s lot.jsonl lot2/link.jsonl
expect_err 9 "symbolic link" "a bundle path that is a symbolic link is refused" "$MP" factory-data build --order $O2 $T0 --format json --bundle lot2/link.jsonl

# ---- factory-data build --bundle killed with kill -9, then re-run: one line a device
O3=$(order 5000)
"$MP" dac issue $H --order $O3 --generate-keys --count 4000 --out-dir d3 --jobs 2 --quiet > /dev/null
"$MP" factory-data build --order $O3 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --iterations 4000 \
    --format nrf --format json --bundle lot3/fd.jsonl --jobs 2 --quiet > /dev/null 2>&1 &
pid=$!
for i in $(seq 1 1500); do [ "$(db "select count(*) from factory_data where order_id=$O3 and written=1")" -ge 1024 ] 2> /dev/null && break; sleep 0.02; done
kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
killed_at=$(db "select count(*) from factory_data where order_id=$O3")
check "killed mid-run ($killed_at of 4000 recorded)" test "$killed_at" -lt 4000
printf '{"udid":"TORN' >> lot3/fd.jsonl
expect 0 "the same command finishes the run" "$MP" factory-data build --order $O3 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --iterations 4000 --format nrf --format json --bundle lot3/fd.jsonl --jobs 2 --quiet
fd_bundle_ok() { # $1 lines; every line parses, each device once, images as the ledger recorded
    jq -c . < lot3/fd.jsonl > /dev/null || return 1
    [ "$(jq -r .udid lot3/fd.jsonl | sort | uniq -d | wc -l)" = 0 ] || return 1
    [ "$(wc -l < lot3/fd.jsonl)" = "$1" ] || return 1
    jq -r '.udid as $u | .images | to_entries[] | [$u, .key, .value.sha256] | join(",")' lot3/fd.jsonl | sort > b3.rows
    sqlite3 -separator , state/ledger.sqlite "select i.udid, i.format, i.sha256 from fd_images i join factory_data f using(udid) where f.order_id=$O3" | sort > l3.rows
    diff -q b3.rows l3.rows > /dev/null
}
check "4000 lines, each device once, each image the ledger's" bash -c "$(declare -f fd_bundle_ok); O3=$O3 fd_bundle_ok 4000"
check "4000 label rows (committed devices only)" bash -c "[ \$(tail -n +2 lot3/onboarding.csv | wc -l) = 4000 ] && [ \$(cut -d, -f1 lot3/onboarding.csv | sort -u | wc -l) = 4001 ] && [ \$(wc -l < lot3/manifest.jsonl) = 4000 ]"
# a kill after the lines' fdatasync but before the written mark: not appended twice
db "update factory_data set written=0 where udid in (select udid from factory_data where order_id=$O3 order by udid limit 700)"
expect 0 "recovery of lines written but not marked" "$MP" factory-data build --order $O3 --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --iterations 4000 --format nrf --format json --bundle lot3/fd.jsonl --jobs 2
check "700 rebuilt (checked against the ledger)" grep -q "0 new device(s), 700 rebuilt" out.txt
check "still 4000 lines, each device once" bash -c "$(declare -f fd_bundle_ok); O3=$O3 fd_bundle_ok 4000"
check "loose keys of the bundled devices removed once packed" test "$(ls d3 | grep -c 'key[.]der$')" = 0

# ---- dac issue --generate-keys --bundle: the private key in the line, the file 0600
O4=$(order 10000)
expect 0 "dac issue --generate-keys --bundle" "$MP" dac issue $H --order $O4 --generate-keys --count 5 --bundle keys/lot.jsonl
check "the bundle is 0600" test "$(stat -c %a keys/lot.jsonl)" = 600
check "5 lines, each with a key" test "$(jq -r 'select(.key | length > 100) | .udid' keys/lot.jsonl | sort -u | wc -l)" = 5
check "no key file left in the folder or its staging folder" test "$(find keys -name '*.key.der' | wc -l)" = 0
key_ok() { # every line's key is a PKCS#8 P-256 key whose public key is its DAC's
    local n=0
    while read -r k d; do
        printf '%s' "$k" | base64 -d > k.der; printf '%s' "$d" | base64 -d > d.der
        openssl pkey -inform DER -in k.der -noout 2> /dev/null || return 1
        [ "$(openssl pkey -inform DER -in k.der -pubout 2> /dev/null)" = "$(openssl x509 -inform DER -in d.der -noout -pubkey)" ] || return 1
        n=$((n + 1))
    done < <(jq -r '[.key, .dac] | join(" ")' "$1")
    [ "$n" -gt 0 ]
}
check "each key (PKCS#8, openssl reads it) matches its DAC's public key" bash -c "$(declare -f key_ok); key_ok keys/lot.jsonl"
check "openssl parses a key as PKCS#8 PrivateKeyInfo" bash -c "jq -r .key keys/lot.jsonl | head -1 | base64 -d | openssl asn1parse -inform DER | grep -q id-ecPublicKey"
check "the UDID is the SHA-256 of the key's public point" bash -c "jq -r '[.udid, .dac] | join(\" \")' keys/lot.jsonl | while read u d; do printf %s \"\$d\" | base64 -d > dd.der
    p=\$(openssl x509 -inform DER -in dd.der -noout -pubkey | openssl pkey -pubin -outform DER | tail -c 65 | sha256sum | cut -c1-64 | tr a-f A-F); [ \"\$p\" = \"\$u\" ] || exit 1; done"
: > open.jsonl; chmod 644 open.jsonl
expect 0 "an existing 0644 bundle that keys go into" "$MP" dac issue $H --order $O4 --generate-keys --count 2 --bundle open.jsonl --quiet
check "is made 0600" test "$(stat -c %a open.jsonl)" = 600
"$MP" chips simulate --count 2 --out sim > /dev/null
"$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem > /dev/null
O5=$(order 10)
expect 0 "a run without keys (chip-list devices) on that bundle" "$MP" dac issue $H --order $O5 --count 1 --bundle open.jsonl --quiet
check "leaves it 0600 (never widened)" test "$(stat -c %a open.jsonl)" = 600
# killed with kill -9, then re-run: one line a device, each with its key
"$MP" dac issue $H --order $O4 --generate-keys --count 6000 --bundle keys2/lot.jsonl --jobs 2 --quiet > /dev/null 2>&1 &
pid=$!
for i in $(seq 1 1500); do [ "$(db "select count(*) from certificates where path like '%keys2/lot.jsonl#%'")" -ge 2048 ] 2> /dev/null && break; sleep 0.02; done
kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
k2=$(db "select count(*) from certificates where path like '%keys2/lot.jsonl#%'")
check "killed mid-run ($k2 of 6000 recorded)" test "$k2" -lt 6000
printf '{"udid":"TORN","ke' >> keys2/lot.jsonl
expect 0 "the same command finishes the run" "$MP" dac issue $H --order $O4 --generate-keys --count 6000 --bundle keys2/lot.jsonl --jobs 2 --quiet
keys_bundle_ok() { # $1 lines, each device once, every line with a key, equal to the ledger
    [ "$(wc -l < keys2/lot.jsonl)" = "$1" ] || return 1
    [ "$(jq -r .udid keys2/lot.jsonl | sort | uniq -d | wc -l)" = 0 ] || return 1
    [ "$(jq -r 'select((.key // "") | length > 100) | .udid' keys2/lot.jsonl | wc -l)" = "$1" ] || return 1
    jq -r '[.udid, .serial, .sha256] | join(",")' keys2/lot.jsonl | sort > k.lines
    sqlite3 -separator , state/ledger.sqlite "select udid, serial, sha256 from certificates where path like '%/keys2/lot.jsonl#%'" | sort > k.rows
    diff -q k.lines k.rows > /dev/null
}
check "6000 lines, each device once, each with its key, equal to the ledger" bash -c "$(declare -f keys_bundle_ok); keys_bundle_ok 6000"
check "no staged key left" test "$(find keys2 -name '*.key.der' | wc -l)" = 0
check "the keys of the lines the re-run wrote match their DACs (last 40 lines)" bash -c "tail -40 keys2/lot.jsonl > tail.jsonl; $(declare -f key_ok); key_ok tail.jsonl"
# a kill after a chunk's commit, before its lines (keys staged, lines missing, batch not
# marked written): made by hand from a finished run, then the re-run writes the lines
# with the staged keys and removes the staged files
expect 0 "a bundle of 300 with keys" "$MP" dac issue $H --order $O4 --generate-keys --count 300 --bundle keys3/lot.jsonl --quiet
b3=$(db "select max(batch) from dacs where path like '%keys3/lot.jsonl#%'")
mkdir -p keys3/.matter-pki.staging
tail -n 20 keys3/lot.jsonl > gone.jsonl
head -n 280 keys3/lot.jsonl > cut.jsonl && cat cut.jsonl > keys3/lot.jsonl
jq -r '[.udid, .key] | join(" ")' gone.jsonl | while read -r u k; do
    printf '%s' "$k" | base64 -d | openssl ec -inform DER -outform DER -out "keys3/.matter-pki.staging/$u.key.der" 2> /dev/null; done
db "update dac_batches set written=0 where id=$b3"
check "state made: 20 staged SEC1 keys of 121 bytes, 280 lines" bash -c "[ \$(ls keys3/.matter-pki.staging | wc -l) = 20 ] && [ \$(stat -c %s keys3/.matter-pki.staging/* | sort -u) = 121 ] && [ \$(wc -l < keys3/lot.jsonl) = 280 ]"
expect 0 "the re-run finishes the lines from the staged keys (then issues a new run of 1)" "$MP" dac issue $H --order $O4 --generate-keys --count 1 --bundle keys3/lot.jsonl
check "it says so" grep -q "rewrote 20 bundle line" err.txt
check "301 lines, lines 281-300 the 20 restored with the same keys as before" bash -c "[ \$(wc -l < keys3/lot.jsonl) = 301 ] && diff <(jq -r '[.udid, .key] | join(\" \")' gone.jsonl | sort) <(sed -n 281,300p keys3/lot.jsonl | jq -r '[.udid, .key] | join(\" \")' | sort)"
check "the staged keys are gone" test "$(ls keys3/.matter-pki.staging | wc -l)" = 0

# factory data for devices whose keys are in a dac issue bundle
O6=$(order 10)
"$MP" dac issue $H --order $O6 --generate-keys --count 3 --bundle k6/lot.jsonl --quiet > /dev/null
expect 0 "factory-data build takes the off-chip keys from the dac issue bundle's lines" "$MP" factory-data build --order $O6 $T0 --format nrf --out-dir fd6
u6=$(jq -r .udid k6/lot.jsonl | head -1)
expect 0 "inspect: the key in the image is the DAC's" "$MP" factory-data inspect "fd6/$u6.nrf.cbor" --pai pai.pem
check "inspect: no check failed, the key checked" bash -c "! grep -q ': FAIL' out.txt && grep -qi 'key.*ok' out.txt"
check "the bundle keeps its lines (keys are not removed from it)" test "$(wc -l < k6/lot.jsonl)" = 3

finish
