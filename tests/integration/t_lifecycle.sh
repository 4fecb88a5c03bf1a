#!/usr/bin/env bash
# t_lifecycle.sh - the credential lifecycle after launch (issue 19): PAI
# revocation and PAA CRLs, delegated CRL signers and indirect CRLs, CRL
# numbers across a kill -9, `crl --check`, the revocation set read back by
# our verifier, trust export layouts, `cd verify --trust`, DCL changes.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
H="--token test --pin-file pin"
new_token
db() { sqlite3 state/ledger.sqlite "$1"; }
# MP_LIFE_LEDGER=pg (t_lifecycle_pg.sh): every scenario on a PostgreSQL ledger
if [ "${MP_LIFE_LEDGER:-}" = pg ]; then
    . "$(dirname "$0")/pg.sh"
    L=$(pg_newdb ledger) || { echo "cannot create the database"; exit 1; }
    export MATTER_PKI_LEDGER="$L"
    db() { psql_ ledger "$1"; }
fi
pem() { openssl crl -inform DER -in "$1" -out "$2" 2> /dev/null; }
crlnum() { openssl crl -inform DER -in "$1" -noout -crlnumber | cut -d= -f2; }
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
"$MP" chips simulate --count 4 --out sim > /dev/null
"$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem > /dev/null
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 4 > /dev/null
expect 0 "four DACs" "$MP" dac issue $H --order 1 --out-dir dacs --quiet
set -- dacs/*.der; dac1=$1; dac2=$2; dac3=$3
for f in dacs/*.der; do openssl x509 -inform DER -in "$f" -out "${f%.der}.pem"; done
s1=$(openssl x509 -inform DER -in "$dac1" -noout -serial | cut -d= -f2)
s3=$(openssl x509 -inform DER -in "$dac3" -noout -serial | cut -d= -f2)
V() { "$MP" verify attestation "$@"; }
verdict() { local code=$1 desc=$2; shift 2
    V "$@" > out.txt 2> err.txt; local rc=$?
    if { [ "$code" = 0 ] && [ $rc = 0 ]; } || { [ $rc = 19 ] && grep -q "rejected: $code " err.txt; }; then ok "$desc"
    else fail "$desc (exit $rc)"; sed 's/^/       /' err.txt | head -3; fi; }

# --- PAI CRL (direct), checked by openssl
"$MP" dac revoke --serial "$s1" --reason keyCompromise > /dev/null
expect 0 "pai crl --next-update-days 30" "$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out pai.crl --next-update-days 30
pem pai.crl pai.crl.pem
check "openssl crl -verify with the PAI" bash -c "openssl crl -in pai.crl.pem -CAfile pai.pem -noout -verify 2>&1 | grep -q 'verify OK'"
check "v2, AKID = PAI SKID, CRL number" bash -c "openssl crl -in pai.crl.pem -noout -text | grep -q 'Version 2' &&
  [ \"\$(openssl crl -in pai.crl.pem -noout -text | grep -A1 'Authority Key Identifier' | tail -1 | tr -d ' :' | sed 's/^keyid//')\" = \"\$(openssl x509 -in pai.pem -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')\" ]"
check "nextUpdate 30 days after thisUpdate" bash -c "t0=\$(date -d \"\$(openssl crl -in pai.crl.pem -noout -lastupdate | cut -d= -f2)\" +%s); t1=\$(date -d \"\$(openssl crl -in pai.crl.pem -noout -nextupdate | cut -d= -f2)\" +%s); [ \$((t1 - t0)) = 2592000 ]"
check "openssl verify -crl_check: the revoked DAC is refused" bash -c "! openssl verify -crl_check -CAfile paa.pem -untrusted pai.pem -CRLfile pai.crl.pem ${dac1%.der}.pem 2>&1 | grep -q ': OK' &&
  openssl verify -crl_check -CAfile paa.pem -untrusted pai.pem -CRLfile pai.crl.pem ${dac1%.der}.pem 2>&1 | grep -q 'certificate revoked'"
check "openssl verify -crl_check: another DAC passes" openssl verify -crl_check -CAfile paa.pem -untrusted pai.pem -CRLfile pai.crl.pem "${dac2%.der}.pem"

# --- CRL numbers survive a kill -9 between the number and the signature
n1=$(crlnum pai.crl)
{ MATTER_PKI_FAULT=crl-number "$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out killed.crl & wait $!; rc=$?; } > /dev/null 2>&1
check "kill -9 after the number is committed (exit $rc)" test "$rc" = 137
check "nothing written by the killed run" test ! -e killed.crl
expect 0 "next CRL after the kill" "$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out pai-b.crl
check "the killed run's number is skipped, never reused ($n1 -> $(crlnum pai-b.crl))" test "$(printf '%d' "$(crlnum pai-b.crl)")" = $(( $(printf '%d' "$n1") + 2 ))

# --- crl --check
expect 0 "pai crl --check: current" "$MP" pai crl --check pai.crl --pai-cert pai.pem
check "--check prints the times" grep -q "nextUpdate" out.txt
"$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out soon.crl --next-update-days 3 > /dev/null
expect_err 24 "less than 7 day" "pai crl --check: nextUpdate within 7 days exits 24" "$MP" pai crl --check soon.crl
expect 0 "--warn-days 1 accepts it" "$MP" pai crl --check soon.crl --warn-days 1
openssl crl -in pai.crl.pem -out old.crl -outform DER 2> /dev/null
expect_err 13 "does not verify" "--check with the wrong certificate" "$MP" pai crl --check pai.crl --pai-cert paa.pem
expect_err 2 "--pai-cert and --out are required|--pai-key, or with --signer" "pai crl without a key" "$MP" pai crl $H --pai-cert pai.pem --out x.crl

# --- revocation set from the ledger, read back by our verifier
expect 0 "revocation-set from the ledger" "$MP" revocation-set --out revset.json
check "format of the SDK generator (json.dump indent=4)" python3 -c '
import json, sys
t = open("revset.json").read(); d = json.loads(t)
assert t == json.dumps(d, indent=4), "layout"
assert [list(e) for e in d] == [["type", "issuer_subject_key_id", "issuer_name", "revoked_serial_numbers", "crl_signer_cert", "crl_signer_delegator"]] * len(d)
assert len(d) == 1 and d[0]["type"] == "revocation_set" and d[0]["crl_signer_delegator"] is None'
check "entry: the PAI's SKID, the revoked serial" python3 -c "
import json; d = json.load(open('revset.json'))[0]
assert d['revoked_serial_numbers'] == ['$s1'], d['revoked_serial_numbers']
assert d['issuer_subject_key_id'] == '$(openssl x509 -in pai.pem -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')'"
verdict 302 "revoked DAC refused: 302 kDacRevoked" --paa paa.pem --pai pai.pem --dac "$dac1" --revocation-set revset.json
verdict 0 "other DAC accepted" --paa paa.pem --pai pai.pem --dac "$dac2" --revocation-set revset.json

# --- delegated CRL signer under the PAI: an indirect CRL
expect 0 "crl-signer create from the PAI" "$MP" crl-signer create $H --issuer-cert pai.pem --issuer-key pai --key-label pai-crl --out pai-signer.pem
check "signer: cA FALSE, keyUsage cRLSign only, critical" bash -c "openssl x509 -in pai-signer.pem -noout -ext basicConstraints,keyUsage | tr -d '\n ' | grep -q 'BasicConstraints:critical.*CA:FALSE.*KeyUsage:critical.*CRLSign\$'"
check "signer: the PAI's VID and PID, AKID = PAI SKID" bash -c "openssl x509 -in pai-signer.pem -noout -subject | grep -q '1.3.6.1.4.1.37244.2.1 = FFF2, 1.3.6.1.4.1.37244.2.2 = 8001' && openssl verify -partial_chain -CAfile pai.pem pai-signer.pem"
p11 --login --pin "$PIN" --list-objects --type privkey > objs.txt 2>&1
check "signer key in the token" grep -q "label: *pai-crl" objs.txt
expect_err 11 "CRL signer|cRLSign|cA" "a DAC is not a CRL signer" "$MP" pai crl $H --pai-cert pai.pem --signer-cert "${dac2%.der}.pem" --signer-key pai --out x.crl
"$MP" dac revoke --serial "$s3" --reason superseded > /dev/null
expect 0 "pai crl signed by the delegated signer" "$MP" pai crl $H --pai-cert pai.pem --signer-cert pai-signer.pem --signer-key pai-crl --out ind.crl --data-url https://pki.example.com/pai.crl
pem ind.crl ind.crl.pem
check "openssl crl -verify with the signer" bash -c "openssl crl -in ind.crl.pem -CAfile pai-signer.pem -noout -verify 2>&1 | grep -q 'verify OK'"
check "indirect CRL: IDP indirectCRL + URI, certificateIssuer on entries" bash -c "t=\$(openssl crl -in ind.crl.pem -noout -text); echo \"\$t\" | grep -q 'Indirect CRL' && echo \"\$t\" | grep -q 'URI:https://pki.example.com/pai.crl' && [ \$(echo \"\$t\" | grep -c 'Certificate Issuer') = 2 ]"
check "its own CRL number sequence starts at 1" test "$(crlnum ind.crl)" = 0x01
# (openssl verify -extended_crl applies an indirect CRL only to certificates whose CRL
# distribution point names the CRL issuer in cRLIssuer, RFC 5280 4.2.1.13; our DACs
# carry no CDP, so the revocation set below is what checks the entries.)
verdict 302 "verify attestation --crl (indirect) --crl-signer: revoked DAC refused" --paa paa.pem --pai pai.pem --dac "$dac3" --crl ind.crl --crl-signer pai-signer.pem
verdict 0 "verify attestation --crl (indirect): other DAC accepted" --paa paa.pem --pai pai.pem --dac "$dac2" --crl ind.crl --crl-signer pai-signer.pem
expect 0 "revocation-set from the delegated CRL file" "$MP" revocation-set --no-ledger --crl ind.crl --cert pai-signer.pem --cert pai.pem --out revset-d.json
check "delegated entry: delegator = the PAI, SKID of the PAI" python3 -c "
import json, base64, subprocess
d = json.load(open('revset-d.json'))[0]
pai = subprocess.run(['openssl', 'x509', '-in', 'pai.pem', '-outform', 'DER'], capture_output=True).stdout
assert base64.b64decode(d['crl_signer_delegator']) == pai
assert sorted(d['revoked_serial_numbers']) == sorted(['$s1', '$s3'])"
verdict 302 "delegated revocation set: revoked DAC refused" --paa paa.pem --pai pai.pem --dac "$dac3" --revocation-set revset-d.json
verdict 0 "delegated revocation set: other DAC accepted" --paa paa.pem --pai pai.pem --dac "$dac2" --revocation-set revset-d.json

# --- DCL after launch: a product's life, each step's records checked
jq '.dcl.model_version.software_version_valid = true' "$ROOT/examples/product.json" > p.json
"$MP" cd create-signer $H --key-label cd --cn "Acme CD Signer" --out cd-signer.pem > /dev/null
"$MP" cd create $H --signer-cert cd-signer.pem --signer-key cd --product p.json --out cd.der > /dev/null
CH=("$MP" dcl export changes --product p.json --cd cd.der --pai-cert pai.pem --test-mode)
types() { for f in "$1"/[0-9]*.json; do jq -r '.body.messages[0]["@type"] // .msg["@type"]' "$f" | sed 's/.*\.//'; done | tr '\n' ' '; }
export -f types
expect 0 "life 1: first export" "${CH[@]}" --out-dir d1
check "first export: vendor, model, version 1, PAI, PAI revocation point" test "$(types d1)" = "MsgCreateVendorInfo MsgCreateModel MsgCreateModelVersion MsgAddX509Cert MsgAddPkiRevocationDistributionPoint "
check "index lists them in signing order" jq -e '.records == ["01-vendor-info.json","02-model.json","03-model-version.json","04-pai.json","05-revocation-point.json"]' d1/index.json
check "records stored in the ledger" test "$(db 'select count(*) from dcl_state')" = 5
expect 0 "unchanged product: nothing to export" "${CH[@]}" --out-dir d1b
check "says no changes, writes nothing" bash -c "grep -q 'no changes' out.txt && [ ! -e d1b ]"
jq '.dcl.model_version += {software_version: 2, software_version_string: "2.0.0", max_applicable_software_version: 2}' p.json > p2.json && mv p2.json p.json
expect 0 "life 2: new firmware version" "${CH[@]}" --out-dir d2
check "only MsgCreateModelVersion 2" bash -c "[ \"\$(types d2)\" = 'MsgCreateModelVersion ' ] && jq -e '.body.messages[0].softwareVersion == 2 and .body.messages[0].softwareVersionValid == true' d2/01-model-version.json"
jq '.dcl.model_version.software_version_valid = false' p.json > p2.json && mv p2.json p.json
expect 0 "life 3: pull version 2" "${CH[@]}" --out-dir d3
check "MsgUpdateModelVersion 2, softwareVersionValid false, nothing else set" bash -c "[ \"\$(types d3)\" = 'MsgUpdateModelVersion ' ] && jq -e '.body.messages[0] | .softwareVersion == 2 and .softwareVersionValid == false and .otaUrl == \"\" and .otaFileSize == \"0\" and .releaseNotesUrl == \"\" and .schemaVersion == 0' d3/01-update-model-version.json"
check "update field order = MsgUpdateModelVersion proto" bash -c "[ \"\$(jq -r '.body.messages[0] | keys_unsorted | join(\",\")' d3/01-update-model-version.json)\" = '@type,creator,vid,pid,softwareVersion,softwareVersionValid,otaUrl,minApplicableSoftwareVersion,maxApplicableSoftwareVersion,releaseNotesUrl,otaFileSize,otaChecksum,schemaVersion,otaChecksumType' ]"
head -c 4321 /dev/urandom > fw2.ota
expect 0 "life 4: an OTA image for version 2" "${CH[@]}" --ota-url https://fw.example.com/ab100-2.ota --ota-file fw2.ota --out-dir d4
check "MsgUpdateModelVersion with otaUrl, exact size, SHA-256, type 1; still not valid" bash -c "jq -e --arg sum \"\$(openssl dgst -sha256 -binary fw2.ota | base64)\" '.body.messages[0] | .otaUrl == \"https://fw.example.com/ab100-2.ota\" and .otaFileSize == \"4321\" and .otaChecksum == \$sum and .otaChecksumType == 1 and .softwareVersionValid == false' d4/01-update-model-version.json"
head -c 999 /dev/urandom > fw2b.ota
expect_err 10 "fixes the OTA image" "a different image for the same version is refused (DCL: OTA fields fixed)" "${CH[@]}" --ota-url https://fw.example.com/ab100-2.ota --ota-file fw2b.ota --out-dir d4b
check "... and nothing written" test ! -e d4b
jq '.device_type_id = 256' p.json > p3.json
expect_err 10 "deviceTypeId changed" "a changed deviceTypeId is refused (immutable on DCL)" "$MP" dcl export changes --product p3.json --cd cd.der --pai-cert pai.pem --test-mode --ota-url https://fw.example.com/ab100-2.ota --ota-file fw2.ota --out-dir d4c
OTA=(--ota-url https://fw.example.com/ab100-2.ota --ota-file fw2.ota)
jq '.dcl.model.lsf_url = "https://www.example.com/lsf-1.json"' p.json > p2.json && mv p2.json p.json
expect 0 "a Localized String File appears" "${CH[@]}" "${OTA[@]}" --out-dir d5
check "MsgUpdateModel with lsfUrl, lsfRevision 1" jq -e '.body.messages[0] | .lsfUrl == "https://www.example.com/lsf-1.json" and .lsfRevision == 1 and .productName == "" and .supportUrl == ""' d5/01-update-model.json
jq '.dcl.model.lsf_url = "https://www.example.com/lsf-2.json"' p.json > p2.json && mv p2.json p.json
expect 0 "the LSF changes" "${CH[@]}" "${OTA[@]}" --out-dir d6
check "lsfRevision increments to 2" jq -e '.body.messages[0].lsfRevision == 2' d6/01-update-model.json
jq '.dcl.revocation_points.pai.data_url = "https://pki2.example.com/acme-pai.crl"' p.json > p2.json && mv p2.json p.json
expect 0 "the PAI's CRL moves" "${CH[@]}" "${OTA[@]}" --out-dir d7
check "MsgUpdatePkiRevocationDistributionPoint with the new dataURL only" jq -e '.body.messages[0] | .["@type"] | endswith("MsgUpdatePkiRevocationDistributionPoint")' d7/01-update-revocation-point.json
check "... label and issuer SKID kept, certificate unchanged (empty)" jq -e '.body.messages[0] | .dataURL == "https://pki2.example.com/acme-pai.crl" and .label == "acme-pai-crl" and .crlSignerCertificate == "" and (.issuerSubjectKeyID|length) == 40' d7/01-update-revocation-point.json
expect 0 "delete software version 1" "${CH[@]}" "${OTA[@]}" --delete-model-version 1 --out-dir d8
check "MsgDeleteModelVersion 1" jq -e '.body.messages[0] | .softwareVersion == 1 and (keys_unsorted == ["@type","creator","vid","pid","softwareVersion"])' d8/01-delete-model-version.json
expect_err 10 "no such version" "deleting it twice is refused" "${CH[@]}" "${OTA[@]}" --delete-model-version 1 --out-dir d8b
# standalone update/delete of a revocation point, the CRL checked
expect 0 "update-revocation-point --crl-file" "$MP" dcl export update-revocation-point --product p.json --pai-cert pai.pem --crl-file pai.crl --out urp.json
check "note: dataFileSize stays 0 for a CRL" bash -c "grep -q 'ErrDataFieldPresented' err.txt && jq -e '.body.messages[0] | .dataFileSize == \"0\" and .dataDigest == \"\"' urp.json"
flip_byte pai.crl forged.crl -3
expect_err 13 "does not verify" "--crl-file with a broken signature is refused" "$MP" dcl export revocation-point --product p.json --pai-cert pai.pem --crl-file forged.crl --out x.json
expect_err 12 "not the point's CRL signer" "--crl-file of another signer is refused" "$MP" dcl export revocation-point --product p.json --pai-cert pai.pem --crl-file ind.crl --out x.json
expect 0 "delete-revocation-point" "$MP" dcl export delete-revocation-point --product p.json --pai-cert pai.pem --out drp.json
check "MsgDeletePkiRevocationDistributionPoint: signer, vid, label, issuerSubjectKeyID" jq -e '.body.messages[0] | keys_unsorted == ["@type","signer","vid","label","issuerSubjectKeyID"] and .vid == 65522' drp.json

# --- trust export: the layouts the consumers read
expect 0 "trust export --for chip-tool" "$MP" trust export --for chip-tool --out tc --paa paa.pem --cd-signer cd-signer.pem
check "chip-tool: tc/paa/*.der, DER, <= 600 bytes, nothing else" bash -c "[ \$(ls tc/paa | wc -l) = 1 ] && f=\$(ls tc/paa/*.der) && openssl x509 -inform DER -in \$f -noout && [ \$(stat -c %s \$f) -le 600 ] && cmp <(openssl x509 -in paa.pem -outform DER) \$f"
check "chip-tool: the CD signer in tc/cd/*.der" bash -c "cmp <(openssl x509 -in cd-signer.pem -outform DER) tc/cd/*.der"
check "prints the chip-tool options" grep -q -- "--paa-trust-store-path tc/paa --cd-trust-store-path tc/cd" out.txt
verdict 0 "verify attestation --paa FOLDER (chip-tool layout)" --paa tc/paa --pai pai.pem --dac "$dac2"
expect 0 "trust export --for matter-server" "$MP" trust export --for matter-server --out ms --paa paa.pem
skid_lc=$(openssl x509 -in paa.pem -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
check "matter-server: .der and .pem pair named *_SKID, and .version = 1" bash -c "ls ms/*_${skid_lc}.der ms/*_${skid_lc}.pem > /dev/null && [ \"\$(cat ms/.version)\" = 1 ] && cmp <(openssl x509 -in ms/*.pem -outform DER) ms/*.der"
check "prints the matter-server setting" grep -q -- "--paa-root-cert-dir ms" out.txt
verdict 0 "verify attestation reads the matter-server folder" --paa ms --pai pai.pem --dac "$dac2"
expect 0 "trust export --for test-harness" "$MP" trust export --for test-harness --out th --paa paa.pem
check "test harness: flat DER files; says /var/paa-root-certs and chip_tool_use_paa_certs" bash -c "[ \$(ls th | wc -l) = 1 ] && openssl x509 -inform DER -in th/*.der -noout && grep -q '/var/paa-root-certs/' out.txt && grep -q 'chip_tool_use_paa_certs' out.txt"
expect 0 "trust export --for dir" "$MP" trust export --for dir --out td --paa paa.pem --cd-signer cd-signer.pem
verdict 0 "verify attestation --paa DIR --cd-signer DIR with the CD" --paa td/paa --cd-signer td/cd-signers --pai pai.pem --dac "$dac2" --cd cd.der
expect_err 11 "not a conforming|drop" "a PAI given as PAA is refused (chip-tool would drop it)" "$MP" trust export --for chip-tool --out bad --paa pai.pem
check "... and no folder left" test ! -e bad
expect_err 8 "exists" "an existing folder needs --force" "$MP" trust export --for chip-tool --out tc --paa paa.pem

# --- cd verify --trust: the signer's chain and key usage
mkdir -p troot tother
expect 0 "cd verify --trust: a signer trusted as a root" "$MP" cd verify cd.der --trust td/cd-signers
check "says it is a trusted root" grep -q "itself a trusted root" out.txt
cp "$VEC/Chip-Test-CD-Signing-Cert.pem" troot/test-cd.pem
expect 0 "the SDK test CD (test signer in the folder, found by key ID)" "$MP" cd verify "$VEC/Chip-Test-CD-FFF1-8000-8063.der" --trust troot
openssl ecparam -name prime256v1 -genkey -noout -out root.key 2> /dev/null
openssl req -x509 -new -key root.key -subj "/CN=Test CD Root" -days 3650 -addext basicConstraints=critical,CA:TRUE,pathlen:1 -addext keyUsage=critical,keyCertSign,cRLSign -out troot/root.pem 2> /dev/null
mksigner() { # mksigner NAME KEYUSAGE
    openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2> /dev/null
    openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr" 2> /dev/null
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$2" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA troot/root.pem -CAkey root.key -CAcreateserial -days 365 -extfile "$1.ext" -out "$1.pem" 2> /dev/null
    "$MP" cd create --signer-cert "$1.pem" --signer-key-file "$1.key" --product p.json --out "$1.cd" > /dev/null 2>&1
}
mksigner good digitalSignature
mksigner nods keyCertSign
expect 0 "a signer chained to the folder's root" "$MP" cd verify good.cd --trust troot --signer-cert good.pem
check "says it chains to a root" grep -q "chains to a root" out.txt
expect_err 11 "lacks digitalSignature" "a chained signer without digitalSignature is refused" "$MP" cd verify nods.cd --trust troot --signer-cert nods.pem
openssl ecparam -name prime256v1 -genkey -noout -out other.key 2> /dev/null
openssl req -x509 -new -key other.key -subj "/CN=Other Root" -days 3650 -addext basicConstraints=critical,CA:TRUE,pathlen:1 -addext keyUsage=critical,keyCertSign -out tother/other.pem 2> /dev/null
expect_err 13 "does not chain" "a signer outside the trust folder's roots is refused" "$MP" cd verify good.cd --trust tother --signer-cert good.pem
expect_err 12 "no certificate in the trust folder" "without --signer-cert the signer must be in the folder" "$MP" cd verify good.cd --trust tother

# --- PAI revoked under the PAA; the PAA's CRL
expect 0 "pai revoke" "$MP" pai revoke --pai-cert pai.pem --reason cACompromise
check "the CA revocation is an audit row" test "$(db "select count(*) from audit where event='ca.revoke' and detail like '%cACompromise%'")" = 1
expect_err 16 "already revoked" "pai revoke twice" "$MP" pai revoke --pai-cert pai.pem --reason cACompromise
expect_err 11 "not a PAI" "pai revoke of a PAA" "$MP" pai revoke --pai-cert paa.pem --reason superseded
expect 0 "paa crl" "$MP" paa crl $H --paa-cert paa.pem --paa-key paa --out paa.crl --next-update-days 10
pem paa.crl paa.crl.pem
check "openssl crl -verify with the PAA" bash -c "openssl crl -in paa.crl.pem -CAfile paa.pem -noout -verify 2>&1 | grep -q 'verify OK'"
check "PAA CRL lists the PAI serial with cACompromise" bash -c "openssl crl -in paa.crl.pem -noout -text | tr -d ':' | grep -qi \"Serial Number \$(openssl x509 -in pai.pem -noout -serial | cut -d= -f2)\" && openssl crl -in paa.crl.pem -noout -text | grep -q 'CA Compromise'"
check "openssl verify -crl_check_all: every DAC refused (PAI revoked)" bash -c "cat pai.crl.pem paa.crl.pem > all.pem; openssl verify -crl_check_all -CAfile paa.pem -untrusted pai.pem -CRLfile all.pem ${dac2%.der}.pem 2>&1 | grep -q 'certificate revoked'"
expect 0 "paa crl --check" "$MP" paa crl --check paa.crl --paa-cert paa.pem
expect 0 "crl-signer create from the PAA" "$MP" crl-signer create $H --issuer-cert paa.pem --issuer-key paa --key-label paa-crl --out paa-signer.pem
check "PAA-issued signer: VID, no PID" bash -c "openssl x509 -in paa-signer.pem -noout -subject | grep -q '37244.2.1 = FFF2' && ! openssl x509 -in paa-signer.pem -noout -subject | grep -q '37244.2.2'"
expect 0 "paa crl by the PAA's delegated signer" "$MP" paa crl $H --paa-cert paa.pem --signer-cert paa-signer.pem --signer-key paa-crl --out paa-ind.crl
expect 0 "revocation-set: the ledger's CRLs" "$MP" revocation-set --out revset2.json --force
check "two entries (PAI's, PAA's); the PAA-delegated one has no delegator" python3 -c "
import json; d = json.load(open('revset2.json')); assert len(d) == 2
assert sum(e['crl_signer_delegator'] is None for e in d) == 1"
check "the ledger keeps the last CRL of each issuer (PAI, PAA)" test "$(db 'select count(*) from crl_published')" = 2
verdict 208 "PAI and DAC revoked: 208" --paa paa.pem --pai pai.pem --dac "$dac1" --revocation-set revset2.json
verdict 202 "PAI revoked: 202 for an unrevoked DAC" --paa paa.pem --pai pai.pem --dac "$dac2" --revocation-set revset2.json

# --- DCL life, last step: the PAI revoked
expect 0 "life 5: the PAI revoked" "${CH[@]}" "${OTA[@]}" --reason "key leaked" --out-dir d9
check "MsgRevokeX509Cert of the PAI: subject, colon SKID, decimal serial, reason" bash -c "jq -e --arg sn \"\$(python3 -c \"import subprocess;print(int(subprocess.run(['openssl','x509','-in','pai.pem','-noout','-serial'],capture_output=True,text=True).stdout.split('=')[1],16))\")\" '.body.messages[0] | (.[\"@type\"]|endswith(\"MsgRevokeX509Cert\")) and .serialNumber == \$sn and (.subjectKeyId|test(\"^([0-9A-F]{2}:){19}[0-9A-F]{2}\$\")) and .info == \"cACompromise: key leaked\" and .revokeChild == false' d9/01-revoke-x509-cert.json"
expect 0 "revoked once: nothing more to export" "${CH[@]}" "${OTA[@]}" --out-dir d10
check "no second MsgRevokeX509Cert" grep -q "no changes" out.txt
expect 0 "PAA hand-off for Trustees" "$MP" dcl export changes --product p.json --paa-cert paa.pem --revoke-paa --reason retired --test-mode --out-dir d11
check "propose-revoke-x509-root-cert hand-off, signer empty" jq -e '.msg | (.["@type"] | endswith("MsgProposeRevokeX509RootCert")) and .signer == "" and .info == "retired"' d11/02-paa-revoke-handoff.json

expect 0 "audit verify after the lifecycle" "$MP" audit verify
if [ "${MP_LIFE_LEDGER:-}" = pg ]; then
    v=$(db "select value from meta where key='schema_version'")
    check "the ledger was on PostgreSQL (schema $v); the token's SQLite ledger has no rows" \
        test "$v/$(sqlite3 state/ledger.sqlite 'select count(*) from dacs')/$(sqlite3 state/ledger.sqlite 'select count(*) from revocations')" = 10/0/0
fi
finish
