#!/usr/bin/env bash
# t_factory_data.sh - onboarding codes, SPAKE2+ verifier, and factory-data
# images (pack -> inspect) for every format, built from the SDK test vectors;
# corrupted images and mismatched inputs are caught. No token needed.
. "$(dirname "$0")/lib.sh"

# -- onboarding ---------------------------------------------------------------
expect 0 "onboarding encode" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 3840 --passcode 20202021 --caps 2
check "QR and manual code of the SDK example device" bash -c "grep -qx 'qr: MT:Y.K9042C00KA0648G00' out.txt && grep -qx 'manual: 34970112332' out.txt"
expect 0 "onboarding encode --json custom flow" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 3840 --passcode 20202021 --caps 6 --flow custom --json
check "custom flow: 21-digit manual code with VID/PID" bash -c "jq -e '(.manual|length) == 21 and (.manual|test(\"6552132768\"))' out.txt"
expect 0 "onboarding decode QR" "$MP" onboarding decode MT:M5L90MP500K64J00000
check "decode prints every field" bash -c "grep -qx 'vendor_id: 0x000C' out.txt && grep -qx 'discriminator: 128' out.txt && grep -qx 'passcode: 2048' out.txt && grep -q 'soft-ap' out.txt"
expect 0 "onboarding decode manual --json" "$MP" onboarding decode 3497-011-2332 --json
check "manual decode: short discriminator" bash -c "jq -e '.short_discriminator == 15 and .passcode == 20202021' out.txt"
expect_err 10 "passcode" "manual code with passcode 123456780 (packing vector) is not a valid payload" "$MP" onboarding decode 2361-087-5350
expect 0 "onboarding decode concatenated QR" "$MP" onboarding decode 'MT:M5L90MP500K64J00000*M5L90U.D010K4J00000' --json
check "two payloads" bash -c "jq -e 'length == 2 and .[1].discriminator == 129' out.txt"
expect_err 10 "passcode" "passcode 12345678 refused" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 1 --passcode 12345678 --caps 2
expect_err 10 "passcode" "passcode 99999999 refused" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 1 --passcode 99999999 --caps 2
expect_err 10 "passcode" "passcode above range refused" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 1 --passcode 100000000 --caps 2
expect_err 10 "discriminator" "discriminator 4096 refused" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 4096 --passcode 20202021 --caps 2
expect_err 10 "discovery capability" "caps 0 refused in a QR code" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 1 --passcode 20202021 --caps 0
expect_err 10 "unknown discovery" "unknown caps bit refused" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 1 --passcode 20202021 --caps 64
expect_err 10 "vendor ID" "VID FFF5 refused" "$MP" onboarding encode --vid FFF5 --pid 8000 --discriminator 1 --passcode 20202021 --caps 2
expect_err 2 "not one of" "flow 'reserved' refused" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 1 --passcode 20202021 --caps 2 --flow reserved
expect_err 10 "check digit" "wrong check digit" "$MP" onboarding decode 02684354589
expect_err 10 "MT:" "wrong QR prefix" "$MP" onboarding decode AT:M5L90MP500K64J00000
expect_err 10 "passcode" "QR with passcode 111111111" "$MP" onboarding decode MT:M5L90MP500W-GT68D20

# -- verifier -----------------------------------------------------------------
expect 0 "verifier vector 1" "$MP" factory-data verifier --passcode 20202021 --salt U1BBS0UyUCBLZXkgU2FsdA== --iterations 1000
check "vector 1 output" grep -qx 'uWFwqugDNGiEck/po7KHwwMwwqZgN10XuyBajPGuyzUEV/iree4lOrao5GuwnlQ65CJzbeUB49s31EH+NEkg0JVI5MGCQGMMT/SRPFNRODm3wH/MBiehuFc6FJ/NH6Rmzw==' out.txt
expect 0 "verifier vector 2" "$MP" factory-data verifier --passcode 13243546 --salt U1BBS0UyUCBLZXkgU2FsdA== --iterations 2000
check "vector 2 output" grep -qx 'WN0SgEXLfUN19BbJqp6qn4pS69EtdNLReIMZwv/CIM0ECMP7ytiAJ7txIYJ0Ovlha/rQ3E+88mj3qaqqnviMaZzG+OyXEdSocDIT9ZhmkTCgWwERaHz4Vdh3G37RT6kqbw==' out.txt
expect_err 10 "iterations" "999 iterations refused" "$MP" factory-data verifier --passcode 20202021 --salt U1BBS0UyUCBLZXkgU2FsdA== --iterations 999
expect_err 10 "iterations" "100001 iterations refused" "$MP" factory-data verifier --passcode 20202021 --salt U1BBS0UyUCBLZXkgU2FsdA== --iterations 100001
expect_err 10 "salt" "15-byte salt refused" "$MP" factory-data verifier --passcode 20202021 --salt "$(printf '%015d' 0 | base64)" --iterations 1000
expect_err 10 "salt" "33-byte salt refused" "$MP" factory-data verifier --passcode 20202021 --salt "$(printf '%033d' 0 | base64 -w0)" --iterations 1000
expect_err 10 "base64" "bad base64 refused" "$MP" factory-data verifier --passcode 20202021 --salt 'U1BB S0Uy' --iterations 1000

# -- a device from the SDK test vectors -----------------------------------------
b64der() { openssl x509 -in "$1" -outform DER | base64 -w0; }
keyhex=$(openssl ec -in "$VEC/Chip-Test-DAC-FFF1-8000-0000-Key.pem" -outform DER 2>/dev/null | od -An -tx1 -v | tr -d ' \n' | cut -c15-78)
salt=$(head -c 32 /dev/urandom | base64 -w0)
ver=$("$MP" factory-data verifier --passcode 20202021 --salt "$salt" --iterations 1000)
cat > dev.json <<JSON
{"format": "matter-pki-factory-data", "version": 1,
 "serial_number": "SN-0001", "vendor_id": 65521, "product_id": 32768,
 "vendor_name": "Acme", "product_name": "Bulb", "manufacturing_date": "2025-06-01",
 "hardware_version": 1, "hardware_version_string": "1.0", "discriminator": 3840,
 "spake2p_iterations": 1000, "spake2p_salt": "$salt", "spake2p_verifier": "$ver",
 "rd_uid": "00112233445566778899aabbccddeeff",
 "dac_cert": "$(b64der "$VEC/Chip-Test-DAC-FFF1-8000-0000-Cert.pem")",
 "pai_cert": "$(b64der "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem")",
 "certification_declaration": "$(base64 -w0 "$VEC/Chip-Test-CD-FFF1-8000-8063.der")",
 "dac_key": "$keyhex"}
JSON
for f in nrf nrf-json esp32 esp32-csv nxp json; do
    expect 0 "pack $f" "$MP" factory-data pack --device dev.json --format $f --out img.$f
    check "$f image is 0600 (holds the DAC key)" bash -c "[ \$(stat -c %a img.$f) = 600 ]"
    expect 0 "inspect $f" "$MP" factory-data inspect img.$f --pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem" --cd "$VEC/Chip-Test-CD-FFF1-8000-8063.der" --passcode 20202021 --json
    check "$f: every check ok" bash -c "jq -e '.checks | [.dac_key_matches_dac, .dac_vid_pid_match, .dac_chains_to_pai, .verifier_matches_passcode, .cd_covers_vid_pid] | all(. == \"ok\")' out.txt"
    check "$f: the DAC key is never printed" bash -c "jq -e '.device.dac_key == true' out.txt && ! grep -q '$keyhex' out.txt"
    check "$f: fields decoded" bash -c "jq -e '.device.serial_number == \"SN-0001\" and .device.discriminator == 3840 and .device.spake2p_salt == \"$salt\"' out.txt"
done
check "esp32 image is 0x6000 bytes" bash -c "[ \$(stat -c %s img.esp32) = 24576 ]"
expect 0 "esp32 partition size 0x3000" "$MP" factory-data pack --device dev.json --format esp32 --partition-size 0x3000 --out small.esp32
check "esp32 image is 0x3000 bytes" bash -c "[ \$(stat -c %s small.esp32) = 12288 ]"
expect 0 "pack esp32-csv" "$MP" factory-data pack --device dev.json --format esp32-csv --out dev.csv
check "CSV for the ESP generator" bash -c "head -2 dev.csv | tr '\n' '|' | grep -qx 'key,type,encoding,value|chip-factory,namespace,,|' && grep -q '^dac-key,data,hex2bin,$keyhex\$' dev.csv"
expect 0 "pack nrf-json" "$MP" factory-data pack --device dev.json --format nrf-json --out dev.nrf.json
check "nRF JSON with hex: bytes" bash -c "jq -e '.version == 1 and (.dac_key == \"hex:$keyhex\") and .sn == \"SN-0001\"' dev.nrf.json"
check "inspect detects nrf-json and esp32-csv by content" bash -c "jq -e '.format == \"nrf-json\"' <(\"$MP\" factory-data inspect img.nrf-json --json) && jq -e '.format == \"esp32-csv\"' <(\"$MP\" factory-data inspect img.esp32-csv --json)"
check "the text forms decode to the same device as the images" bash -c "for f in nrf-json esp32 esp32-csv; do diff <(\"$MP\" factory-data inspect img.\$f --json | jq -S '.device | del(.certification_declaration)') <(\"$MP\" factory-data inspect img.nrf --json | jq -S .device) || exit 1; done"
expect 0 "inspect dev.nrf.json --format nrf-json" "$MP" factory-data inspect dev.nrf.json --format nrf-json --pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem" --passcode 20202021
check "text output names the format and the checks" bash -c "grep -qx 'format: nrf-json' out.txt && grep -q '^check dac_chains_to_pai: ok' out.txt && grep -q '^check verifier_matches_passcode: ok' out.txt"
expect 0 "inspect dev.csv --format esp32-csv" "$MP" factory-data inspect dev.csv --format esp32-csv --pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem" --passcode 20202021
check "esp32-csv: the image's CD is checked" grep -q '^check image_cd_covers_vid_pid: ok' out.txt
expect_err 10 "esp32-csv: line 1: expected the header" "--format esp32-csv on an nrf-json file" "$MP" factory-data inspect dev.nrf.json --format esp32-csv
# tampered text forms: no CRC, so inspect's checks must catch what still parses
sigflip='.dac_cert |= (.[0:-10] + (if .[-10:-9] == "0" then "1" else "0" end) + .[-9:])'
jq "$sigflip" dev.nrf.json > sig.nrf.json
expect_err 13 "check failed" "nrf-json: a changed DAC signature fails the chain check (exit 13)" "$MP" factory-data inspect sig.nrf.json --json
check "nrf-json: dac_chains_to_pai names the signature" bash -c "jq -e '.checks.dac_chains_to_pai | test(\"^FAIL: .*signature\")' out.txt"
jq '.vendor_id = 65522' dev.nrf.json > vid.nrf.json
expect_err 12 "check failed" "nrf-json: a changed vendor ID fails dac_vid_pid_match (exit 12)" "$MP" factory-data inspect vid.nrf.json --json
check "nrf-json: the VID check failed" bash -c "jq -e '.checks.dac_vid_pid_match | startswith(\"FAIL\")' out.txt"
perl -pe 's/^(verifier,data,string,.{10})(.)/$1 . ($2 eq "A" ? "B" : "A")/e' dev.csv > ver.esp32.csv
expect_err 12 "check failed" "esp32-csv: a changed verifier is caught with the passcode (exit 12)" "$MP" factory-data inspect ver.esp32.csv --passcode 20202021 --json
check "esp32-csv: the verifier check failed" bash -c "jq -e '.checks.verifier_matches_passcode | startswith(\"FAIL\")' out.txt"
perl -pe 's/^(dac-cert,data,hex2bin,.*)(.)(.{9})$/$1 . ($2 eq "0" ? "1" : "0") . $3/e' dev.csv > sig.esp32.csv
expect_err 13 "check failed" "esp32-csv: a changed DAC signature fails the chain check (exit 13)" "$MP" factory-data inspect sig.esp32.csv
perl -pe 's/^(dac-key,data,hex2bin,.{5})(.)/$1 . ($2 eq "0" ? "1" : "0")/e' dev.csv > key.esp32.csv
expect_err 12 "dac-pub-key is not the public key of dac-key" "esp32-csv: a changed DAC key (exit 12)" "$MP" factory-data inspect key.esp32.csv
# malformed text forms: exit 10, the line or key named
sed 's/^discriminator,data,u32,3840$/discriminator,data,u32/' dev.csv > trunc.esp32.csv
expect_err 10 "esp32-csv: line 3: 3 field\\(s\\); expected 4" "esp32-csv: a truncated line" "$MP" factory-data inspect trunc.esp32.csv
sed 's/^discriminator,data,u32,/discriminator,data,string,/' dev.csv > enc.esp32.csv
expect_err 10 "line 3: key 'discriminator': encoding 'string'; expected 'u32'" "esp32-csv: a wrong encoding" "$MP" factory-data inspect enc.esp32.csv
sed 's/^salt,data,string,/salt,data,string,!/' dev.csv > b64.esp32.csv
expect_err 10 "line [0-9]+: salt \\(SPAKE2\\+ salt\\): not valid base64" "esp32-csv: bad base64" "$MP" factory-data inspect b64.esp32.csv
head -c -1 dev.csv > cut.esp32.csv
expect_err 10 "no newline at the end of the line" "esp32-csv: a cut last line" "$MP" factory-data inspect cut.esp32.csv
jq '.rd_uid = "hex:0g112233445566778899aabbccddeeff"' dev.nrf.json > hex.nrf.json
expect_err 10 "nrf-json: rd_uid \\(rotating device ID unique ID\\): not valid hex" "nrf-json: bad hex" "$MP" factory-data inspect hex.nrf.json
jq 'del(.spake2_verifier)' dev.nrf.json > miss.nrf.json
expect_err 10 "SPAKE2\\+ verifier is required" "nrf-json: a missing field" "$MP" factory-data inspect miss.nrf.json
jq '.hw_ver = "1"' dev.nrf.json > type.nrf.json
expect_err 10 "key 'hw_ver': expected a non-negative integer" "nrf-json: a wrong type" "$MP" factory-data inspect type.nrf.json
head -c 200 dev.nrf.json > cut.nrf.json
expect_err 10 "nrf-json:[0-9]+:[0-9]+:" "nrf-json: a cut file (named .nrf.json, so read as nrf-json)" "$MP" factory-data inspect cut.nrf.json
expect 0 "inspect without --passcode skips the verifier check" "$MP" factory-data inspect img.nxp
check "text output names the checks" bash -c "grep -q '^check verifier_matches_passcode: skipped' out.txt && grep -q '^check dac_chains_to_pai: ok' out.txt"
expect_err 12 "check failed" "wrong passcode caught" "$MP" factory-data inspect img.esp32 --passcode 20202022
expect_err 12 "check failed" "another PAI refused" "$MP" factory-data inspect img.nrf --pai "$VEC/Chip-Test-PAA-FFF1-Cert.pem"
expect_err 8 "exists" "existing output refused" "$MP" factory-data pack --device dev.json --format nrf --out img.nrf

check "the CD in esp32/nxp/json images covers the device" bash -c "\"$MP\" factory-data inspect img.nxp --json | jq -e '.checks.image_cd_covers_vid_pid == \"ok\"'"
jq '.product_id = 36864' dev.json > pid.json
expect 0 "pack a device whose PID the CD does not list" "$MP" factory-data pack --device pid.json --format nxp --out pid.nxp
expect_err 12 "check failed" "inspect: CD does not cover the PID" "$MP" factory-data inspect pid.nxp --json
check "the CD check names the product ID" bash -c "jq -e '.checks.image_cd_covers_vid_pid | test(\"product ID 0x9000\")' out.txt"

# corrupted images: a flipped byte is caught
flip_byte img.esp32 bad.esp32 200
expect_err 10 "CRC" "esp32: flipped byte caught by the CRCs" "$MP" factory-data inspect bad.esp32
flip_byte img.nxp bad.nxp 40
expect_err 10 "hash" "nxp: flipped byte caught by the hash" "$MP" factory-data inspect bad.nxp
off=$(grep -boa 'dac_cert' img.nrf | head -1 | cut -d: -f1)
flip_byte img.nrf bad.nrf $((off + 300))
check "nrf: flipped byte in the DAC caught" bash -c "! \"$MP\" factory-data inspect bad.nrf > /dev/null 2>&1"
sed 's/"discriminator": 3840/"discriminator": 3841/' dev.json > bad.json
expect 0 "json: a changed discriminator is still a valid image" "$MP" factory-data inspect bad.json
perl -pe 's/("spake2p_verifier": ")(.)/$1 . ($2 eq "A" ? "B" : "A")/e' dev.json > badv.json
expect_err 12 "check failed" "json: a changed verifier is caught with the passcode" "$MP" factory-data inspect badv.json --passcode 20202021

# bad device descriptions: each names the field, nothing written
jq '.discriminator = 4096' dev.json > b1.json
expect_err 10 "discriminator" "discriminator 4096" "$MP" factory-data pack --device b1.json --format nrf --out o1
jq '.spake2p_iterations = 999' dev.json > b2.json
expect_err 10 "iterations" "999 iterations" "$MP" factory-data pack --device b2.json --format nrf --out o2
jq '.serial_number = "123456789012345678901234567890123"' dev.json > b3.json
expect_err 10 "serial" "33-character serial" "$MP" factory-data pack --device b3.json --format nrf --out o3
jq '.passcode = 87654321' dev.json > b4.json
expect_err 10 "passcode" "invalid passcode in a device" "$MP" factory-data pack --device b4.json --format nrf --out o4
jq 'del(.dac_key)' dev.json > b5.json
expect_err 10 "DAC private key" "nrf refuses a device without its DAC key" "$MP" factory-data pack --device b5.json --format nrf --out o5
expect 0 "json accepts a chip-held key" "$MP" factory-data pack --device b5.json --format json --out o6
check "without the key the JSON is 0644" bash -c "[ \$(stat -c %a o6) = 644 ]"
jq '.manufacturing_date = "20250601"' dev.json > b7.json
expect 0 "YYYYMMDD accepted" "$MP" factory-data pack --device b7.json --format nrf --out o7
expect 0 "and written as YYYY-MM-DD for nRF" "$MP" factory-data inspect o7 --json
check "date normalised" bash -c "jq -e '.device.manufacturing_date == \"2025-06-01\"' out.txt"
jq '.rd_uid = "0011"' dev.json > b8.json
expect_err 10 "unique ID" "short rd_uid" "$MP" factory-data pack --device b8.json --format esp32 --out o8
check "no partial outputs" bash -c "! ls o1 o2 o3 o4 o5 o8 .*.tmp* 2>/dev/null | grep -q ."
expect 0 "factory-data inspect --help" "$MP" factory-data inspect --help
# QR TLV extension (spec 5.1.5)
expect 0 "onboarding encode with a TLV extension" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 3840 --passcode 20202021 --caps 2 --serial-number SN-0001 --vendor-tag 0x80=hello --vendor-tag 0x81=#42 --json
qrx=$(jq -r .qr out.txt)
check "the extension makes the QR longer" test "${#qrx}" -gt 22
expect 0 "decode the TLV extension" "$MP" onboarding decode "$qrx" --json
check "extension fields decoded" jq -e '.tlv_extension.serial_number == "SN-0001" and .tlv_extension.vendor_tags["0x80"] == "hello" and .tlv_extension.vendor_tags["0x81"] == 42' out.txt
expect_err 10 "must be 0x80..0xFF" "a vendor tag below 0x80" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 1 --passcode 20202021 --caps 2 --vendor-tag 0x20=x
expect_err 10 "iterations" "extension iterations out of range" "$MP" onboarding encode --vid FFF1 --pid 8000 --discriminator 1 --passcode 20202021 --caps 2 --pbkdf-iterations 10
finish
