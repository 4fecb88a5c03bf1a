#!/usr/bin/env bash
# t_fd_silabs.sh - silabs: the inputs of Silicon Labs' provisioning tool as
# one ustar archive per device. Golden bytes, the archive read back by tar
# and python (the tool's inputs.json names and limits, its files), every
# device of a build read back, the tool's limits refused before packing.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GOLD=$ROOT/tests/golden/fd
PAI_T=$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem

expect 0 "pack silabs" "$MP" factory-data pack --device "$GOLD/dev_pc.json" --format silabs --out s.tar
check "byte-identical to golden.silabs.tar, mode 0600" bash -c "cmp s.tar '$GOLD/golden.silabs.tar' && [ \$(stat -c %a s.tar) = 600 ]"
check "tar lists inputs.json and the four files, 0600, owner 0/0" bash -c "tar -tvf s.tar | awk '{print \$1, \$2, \$6}' | diff - <(printf '%s\n' '-rw------- 0/0 inputs.json' '-rw------- 0/0 dac_cert.der' '-rw------- 0/0 pai_cert.der' '-rw------- 0/0 cd.der' '-rw------- 0/0 dac_key.der')"
mkdir x && tar -xf s.tar -C x
check "inputs.json: version 2.3, the v2.0 formatter's sections and names, the tool's limits" python3 -c "
import json, base64, sys
j = json.load(open('x/inputs.json')); m = j['matter']; i = m['instance_info']; c = m['commissionable_data']; a = m['attestation_credentials']
ok = j['version'] == '2.3' and set(j) == {'version', 'matter'} and set(m) == {'instance_info', 'commissionable_data', 'attestation_credentials'}
ok &= i['vendor_id'] == 0xFFF1 and i['product_id'] == 0x8000 and i['serial_number'] == 'SN-0001' and i['manufacturing_date'] == '2025-06-01'
ok &= all(len(i.get(k, '')) <= 32 for k in ('serial_number', 'vendor_name', 'product_name', 'product_label', 'product_url', 'part_number', 'hw_version_str'))
ok &= len(bytes.fromhex(i['unique_id'])) <= 16 and c['discriminator'] <= 0xFFF and c['passcode'] == 20202021 and 1000 <= c['iterations'] <= 100000
ok &= len(c['salt']) <= 45 and len(c['verifier']) <= 133 and len(base64.b64decode(c['verifier'])) == 97
ok &= a == {'certification': 'cd.der', 'pai_cert': 'pai_cert.der', 'dac_cert': 'dac_cert.der', 'dac_key': 'dac_key.der'}
sys.exit(not ok)"
check "the files: DER certificates and CD as given, the key a P-256 SEC1 DER (openssl ec) matching the DAC" bash -c "openssl x509 -inform der -in x/dac_cert.der -noout && openssl x509 -inform der -in x/pai_cert.der -noout && [ \"\$(openssl ec -inform der -in x/dac_key.der -pubout -outform der 2>/dev/null | sha256sum)\" = \"\$(openssl x509 -inform der -in x/dac_cert.der -pubkey -noout | openssl ec -pubin -pubout -outform der 2>/dev/null | sha256sum)\" ] && [ \"\$(jq -r .certification_declaration '$GOLD/dev_pc.json' | base64 -d | sha256sum)\" = \"\$(sha256sum < x/cd.der)\" ]"
expect 0 "inspect detects silabs and reads it back" "$MP" factory-data inspect s.tar --pai "$PAI_T" --json
check "every field; key matches DAC; verifier matches the passcode in the file" bash -c "jq -e '.format == \"silabs\" and .device.serial_number == \"SN-0001\" and .device.passcode == 20202021 and .checks.dac_key_matches_dac == \"ok\" and .checks.verifier_matches_passcode == \"ok\" and .checks.dac_chains_to_pai == \"ok\"' out.txt"
expect_err 10 "needs the passcode" "no passcode: refused (the tool computes the setup payload)" "$MP" factory-data pack --device "$GOLD/dev.json" --format silabs --out n.tar
jq '.product_url = "https://example.com/a-rather-long-product-page"' "$GOLD/dev_pc.json" > long.json
expect_err 10 "at most 32 characters" "a product URL over the tool's 32 characters is refused" "$MP" factory-data pack --device long.json --format silabs --out n.tar
check "nothing written on refusal" test ! -e n.tar
# corruption: header checksum, a member renamed, inputs.json with an unknown key
cp s.tar bad1.tar; printf 'X' | dd of=bad1.tar bs=1 seek=600 conv=notrunc 2> /dev/null
expect_err 10 "" "a flipped byte in a member is caught by the DAC/key checks or the JSON parser" "$MP" factory-data inspect bad1.tar --format silabs
cp s.tar bad2.tar; printf 'Z' | dd of=bad2.tar bs=1 seek=0 conv=notrunc 2> /dev/null
expect_err 10 "checksum" "a changed header: checksum mismatch" "$MP" factory-data inspect bad2.tar --format silabs
(cd x && jq '.matter.instance_info.sw_version_str = "1"' inputs.json > i2 && mv i2 inputs.json && tar --format=ustar --owner=0 --group=0 -cf ../bad3.tar inputs.json dac_cert.der pai_cert.der cd.der dac_key.der)
expect_err 10 "unknown key 'sw_version_str'" "an inputs.json key matter-pki does not write is refused" "$MP" factory-data inspect bad3.tar --format silabs

H="--token test --pin-file pin"
new_pki
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 10 > /dev/null
"$MP" dac issue $H --order 1 --generate-keys --count 8 --out-dir dacs --quiet > /dev/null
B="--product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --iterations 1000"
expect_err 10 "needs the passcode" "build --format silabs without --include-passcode: refused before writing" "$MP" factory-data build --order 1 $B --format silabs --out-dir fd
check "nothing written" test ! -e fd/onboarding.csv
expect 0 "build --format silabs --include-passcode" "$MP" factory-data build --order 1 $B --format silabs --include-passcode --out-dir fd --jobs 2
check "one 0600 archive per device" bash -c "[ \$(ls fd/*.silabs.tar | wc -l) = 8 ] && for f in fd/*.silabs.tar; do [ \$(stat -c %a \$f) = 600 ] || exit 1; done"
readback() {
    local n=0
    while IFS=, read -r u _ _ _ _ pc _; do
        "$MP" factory-data inspect "fd/$u.silabs.tar" --pai pai.pem --cd cd.der --passcode "$((10#$pc))" --manifest fd/manifest.jsonl --json > rb.json || return 1
        jq -e --argjson pc "$((10#$pc))" '.format == "silabs" and .device.passcode == $pc and ([.checks[] | select(startswith("FAIL"))] | length == 0) and .checks.dac_key_matches_dac == "ok"' rb.json > /dev/null || return 1
        tar -xOf "fd/$u.silabs.tar" inputs.json | jq -e --argjson pc "$((10#$pc))" '.matter.commissionable_data.passcode == $pc' > /dev/null || return 1
        n=$((n + 1))
    done < <(tail -n +2 fd/onboarding.csv)
    [ "$n" = 8 ]
}
check "every device read back: chain, CD, verifier against onboarding.csv's passcode, manifest" bash -c "$(declare -f readback); MP='$MP' readback"

finish
