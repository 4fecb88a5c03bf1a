#!/usr/bin/env bash
# t_dcl.sh - dcl export: golden files for every KIND, determinism, the JSON
# parsed back and compared with the inputs, every cross-check and rule with
# a failing input, `all` with its index and no partial output.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FIX=$ROOT/tests/fixtures/dcl
GOLD=$ROOT/tests/golden/dcl
X=("$MP" dcl export)

# --- golden files (same cases as tests/golden/dcl/regen.sh) ---------------
gen() {
    local name=$1; shift
    if "${X[@]}" "$@" --out "g-$name.json" 2> gerr.txt && cmp -s "g-$name.json" "$GOLD/$name.json"; then
        ok "golden $name"
    else
        fail "golden $name"; sed 's/^/       /' gerr.txt | head -3
    fi
}
. "$GOLD/cases.sh"
dcl_golden_cases
check "determinism: same input, same bytes" bash -c "'$MP' dcl export model --product '$FIX/product.json' > a.json && '$MP' dcl export model --product '$FIX/product.json' > b.json && cmp a.json b.json"
check "one compact line, newline-terminated" bash -c "[ \$(wc -l < a.json) = 1 ] && [ \"\$(tail -c1 a.json | od -An -c | tr -d ' ')\" = '\\n' ]"
expect_err 0 "creator/signer field is empty" "empty creator is announced on stderr" "${X[@]}" vendor-info --product "$FIX/product.json"

# --- parse back and compare with the inputs --------------------------------
prod=$FIX/product.json
msg() { jq -c '.body.messages[0]' "$1"; }
check "envelope: one Msg, no fee, unsigned" bash -c "jq -e '(.body.messages|length)==1 and .body.memo==\"\" and .body.timeout_height==\"0\" and .auth_info.fee.amount==[] and .auth_info.fee.gas_limit==\"200000\" and .auth_info.tip==null and .signatures==[] and .auth_info.signer_infos==[]' g-model.json"
check "vendor-info fields = product" jq -e --slurpfile p "$prod" '.body.messages[0] as $m | $p[0] as $p |
    $m.vendorID == 65521 and $m.vendorName == $p.vendor_name and $m.companyLegalName == $p.dcl.vendor.company_legal_name
    and $m.companyPreferredName == $p.dcl.vendor.company_preferred_name and $m.vendorLandingPageURL == $p.dcl.vendor.landing_page_url
    and $m.creator == "cosmos1qqgjyv6y24n80zye42aueh0wluqpzg3nm75jna" and $m.schemaVersion == 0' g-vendor-info.json
check "model fields = product" jq -e --slurpfile p "$prod" '.body.messages[0] as $m | $p[0] as $p | $p.dcl.model as $d |
    $m.vid == 65521 and $m.pid == 32768 and $m.deviceTypeId == $p.device_type_id and $m.productName == $p.product_name
    and $m.productLabel == $p.product_label and $m.partNumber == $p.part_number and $m.productUrl == $p.product_url
    and $m.commissioningCustomFlow == 2 and $m.discoveryCapabilitiesBitmask == 6
    and $m.commissioningCustomFlowUrl == $d.commissioning_custom_flow_url and $m.userManualUrl == $d.user_manual_url
    and $m.supportUrl == $d.support_url and $m.lsfUrl == $d.lsf_url and $m.commissioningFallbackUrl == $d.commissioning_fallback_url
    and $m.commissioningModeSecondaryStepsInstruction == $d.commissioning_mode_secondary_steps_instruction
    and $m.enhancedSetupFlowOptions == 1 and $m.enhancedSetupFlowTCUrl == $d.enhanced_setup_flow_tc_url
    and $m.enhancedSetupFlowTCRevision == 2 and $m.enhancedSetupFlowTCDigest == $d.enhanced_setup_flow_tc_digest
    and $m.enhancedSetupFlowTCFileSize == 1024 and $m.maintenanceUrl == $d.maintenance_url
    and $m.icdUserActiveModeTriggerHint == 1 and $m.factoryResetStepsHint == 4
    and $m.factoryResetStepsInstruction == $d.factory_reset_steps_instruction and ($m|keys|length) == 31' g-model.json
check "model 1.5 has the same fields" bash -c "[ \"\$(jq -c '.body.messages[0]|keys' g-model.json)\" = \"\$(jq -c '.body.messages[0]|keys' g-model-v15.json)\" ]"
check "pai: the PEM of the input, time \"0\"" bash -c "[ \"\$(jq -r '.body.messages[0].cert' g-pai.json)\" = \"\$(openssl x509 -in '$FIX/pai.pem')\" ] && jq -e '.body.messages[0] | .time == \"0\" and .info == \"\" and .certSchemaVersion == 0' g-pai.json"
skid() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' '; }
check "paa: subjectKeyId = the certificate's (colons)" bash -c "[ \"\$(jq -r .subjectKeyId g-paa.json)\" = '$(skid "$FIX/paa.pem")' ]"
check "paa: subject = DER subject (base64)" bash -c "jq -r .subject g-paa.json | base64 -d | openssl asn1parse -inform DER | grep -q 'UTF8STRING *:Matter Test PAA' && jq -r .subject g-paa.json | base64 -d | openssl asn1parse -inform DER | grep -q ':FFF1'"
check "paa: serial in decimal" bash -c "[ \"\$(jq -r .serialNumber g-paa.json)\" = \"\$(echo \"ibase=16; \$(openssl x509 -in '$FIX/paa.pem' -noout -serial | cut -d= -f2)\" | bc)\" ]"
check "paa: propose tx, signer left for the Trustee, vid" jq -e '.proposeTx.body.messages[0] | ."@type" == "/zigbeealliance.distributedcomplianceledger.pki.MsgProposeAddX509RootCert" and .signer == "" and .vid == 65521 and .time == "0"' g-paa.json
check "paa without VID: the product's VID" jq -e '.vid == 65521 and .proposeTx.body.messages[0].vid == 65521' g-paa-novid.json
check "rp PAA: issuerSubjectKeyID = PAA SKID, no colons" bash -c "[ \"\$(jq -r '.body.messages[0].issuerSubjectKeyID' g-revocation-point-paa.json)\" = '$(skid "$FIX/paa.pem" | tr -d :)' ]"
check "rp PAI: isPAA false, pid = PAI PID, http allowed" jq -e '.body.messages[0] | .isPAA == false and .pid == 32768 and .dataURL == "http://pki.example.com/pai.crl" and .crlSignerDelegator == ""' g-revocation-point-pai.json
check "rp case B: signer PEM, issuer = PAA, no delegator" bash -c "[ \"\$(jq -r '.body.messages[0].crlSignerCertificate' g-revocation-point-paa-delegated.json)\" = \"\$(openssl x509 -in '$FIX/crl-signer-paa.pem')\" ] && jq -e '.body.messages[0] | .isPAA and .crlSignerDelegator == \"\" and .issuerSubjectKeyID == \"6AFD22771F511FECBF1641976710DCDC31A1717E\"' g-revocation-point-paa-delegated.json"
check "rp case D: delegator = PAI PEM, issuer = PAI SKID" bash -c "[ \"\$(jq -r '.body.messages[0].crlSignerDelegator' g-revocation-point-pai-delegated.json)\" = \"\$(openssl x509 -in '$FIX/pai.pem')\" ] && [ \"\$(jq -r '.body.messages[0].issuerSubjectKeyID' g-revocation-point-pai-delegated.json)\" = '$(skid "$FIX/pai.pem" | tr -d :)' ]"
check "model-version: CD version, OTA size and SHA-256 of the image" bash -c "jq -e --arg sz \$(stat -c %s '$FIX/ota.bin') --arg sum \$(openssl dgst -sha256 -binary '$FIX/ota.bin' | base64) '.body.messages[0] | .cdVersionNumber == 9876 and .otaFileSize == \$sz and .otaChecksum == \$sum and .otaChecksumType == 1 and .softwareVersion == 2 and .softwareVersionString == \"1.0.2\" and .softwareVersionValid == true' g-model-version.json"
check "compliance: CD id/version, RFC 3339 date, spec version packed" jq -e '.body.messages[0] | ."@type" == "/zigbeealliance.distributedcomplianceledger.compliance.MsgCertifyModel" and .cDCertificateId == "ZIG20142ZB330003-24" and .cDVersionNumber == 9876 and .certificationDate == "2025-01-15T00:00:00Z" and .certificationType == "matter" and .specificationVersion == 17039872 and .schemaVersion == 1 and .softwareVersionString == "1.0.2" and .signer == ""' g-compliance.json
check "compliance 1.5: schemaVersion 0, no specificationVersion" jq -e '.body.messages[0] | .schemaVersion == 0 and (has("specificationVersion")|not)' g-compliance-v15.json

# --- failing inputs: one per rule and cross-check ---------------------------
# mut FILE JQ: a copy of the fixture product with one change
mut() { jq "$2" "$prod" > "$1"; }
E() {
    local rc=$1 pat=$2 desc=$3; shift 3
    if [ -z "$pat" ]; then expect "$rc" "$desc" "${X[@]}" "$@"; else expect_err "$rc" "$pat" "$desc" "${X[@]}" "$@"; fi
}
mut p1.json 'del(.dcl.vendor.company_legal_name)'
E 10 "MsgCreateVendorInfo.companyLegalName: is required.*dcl.vendor" "vendor: legal name required" vendor-info --product p1.json
mut p1.json '.dcl.vendor.landing_page_url = "http://www.example.com"'
E 10 "vendorLandingPageURL: 'http://www.example.com' must be an absolute https:// URL.*dcl.vendor.landing_page_url" "vendor: landing page https_url" vendor-info --product p1.json
mut p1.json ".dcl.vendor.company_legal_name = \"$(printf 'é%.0s' $(seq 257))\""
E 10 "companyLegalName: must be 1..256 characters \(is 257\)" "vendor: 257 code points" vendor-info --product p1.json
mut p1.json ".dcl.vendor.company_legal_name = \"$(printf 'é%.0s' $(seq 256))\""
E 0 "" "vendor: 256 code points (512 bytes) pass" vendor-info --product p1.json
mut p1.json '.dcl.vendor.legal_name = "x"'
E 10 "dcl.vendor: unknown field 'legal_name'" "vendor: unknown key" vendor-info --product p1.json
mut p1.json '.dcl.colour = "x"'
E 10 "dcl: unknown field 'colour'" "dcl: unknown section" model --product p1.json
mut p1.json 'del(.dcl.model.commissioning_custom_flow_url)'
E 10 "commissioningCustomFlowUrl: is required when commissioningCustomFlow is 2" "model: custom flow needs URL" model --product p1.json
mut p1.json 'del(.dcl.model.maintenance_url)'
E 10 "maintenanceUrl: is required when bit 0" "model: ESF bit 0 needs maintenanceUrl" model --product p1.json
mut p1.json '.dcl.model.enhanced_setup_flow_options = 2'
E 10 "enhancedSetupFlowTCUrl: must be empty unless bit 0" "model: ESF fields without bit 0" model --product p1.json
mut p1.json 'del(.dcl.model.enhanced_setup_flow_tc_file_size)'
E 10 "enhancedSetupFlowTCFileSize: is required with enhancedSetupFlowTCUrl" "model: TC file size required_with" model --product p1.json
mut p1.json '.dcl.model.enhanced_setup_flow_tc_digest = "%%%"'
E 10 "enhancedSetupFlowTCDigest: '%%%' must be standard base64" "model: TC digest base64" model --product p1.json
mut p1.json ".dcl.model.factory_reset_steps_instruction = \"$(printf 'a%.0s' $(seq 1025))\""
E 10 "factoryResetStepsInstruction: must be 1..1024" "model: instruction max 1024" model --product p1.json
mut p1.json '.device_type_id = 65536'
E 10 "deviceTypeId: is 65536.*from .*device_type_id" "model: deviceTypeId <= 65535" model --product p1.json
mut p1.json '.product_label = ""'
E 10 "productLabel: is required \(non-empty\) \(DCL 1.6\)" "model: productLabel required in 1.6" model --product p1.json
E 0 "" "model: productLabel optional in 1.5" model --product p1.json --dcl-version 1.5
mut p1.json '.discovery_capabilities = ["ble", "on-network", "nfc"]'
E 0 "" "model: discovery bitmask 22 ok in 1.6" model --product p1.json
E 10 "discoveryCapabilitiesBitmask: is 22; the DCL accepts 0..14 \(DCL 1.5\)" "model: discovery bitmask <= 14 in 1.5" model --product p1.json --dcl-version 1.5
mut p1.json '.dcl.model.commissioning_fallback_url = "http://x.example.com"'
E 10 "commissioningFallbackUrl: 'http://x.example.com' must not start with http:" "model 1.5: fallback startsnotwith=http:" model --product p1.json --dcl-version 1.5
mut p1.json '.dcl.model.support_url = "https:///nohost"'
E 10 "supportUrl: 'https:///nohost' must be an absolute https:// URL with a host" "model: URL needs a host" model --product p1.json
mut p1.json '.dcl.model.factory_reset_steps_hint = 4294967296'
E 10 "factory_reset_steps_hint' is 4294967296" "model: hint is uint32" model --product p1.json
E 10 "creator: 'cosmos1qqgjyv6y24n80zye42aueh0wluqpzg3nm75jnb' must be a bech32" "--from: bech32 checksum" model --product "$prod" --from cosmos1qqgjyv6y24n80zye42aueh0wluqpzg3nm75jnb
E 2 "--cd does not apply" "option not for this KIND" vendor-info --product "$prod" --cd "$FIX/cd.der"
E 2 "KIND must be one of" "unknown KIND" vendor --product "$prod"
E 2 "--cert \(the PAI\) is required" "pai needs --cert" pai --product "$prod"

mut p2.json '.vendor_id = "0xFFF2"'
E 12 "the PAI's VID 0xFFF1 is not the product's vendor_id 0xFFF2" "pai: VID = product" pai --product p2.json --cert "$FIX/pai.pem"
mut p3.json '.product_id = "0x8001"'
E 12 "the PAI's PID 0x8000 is not the product's product_id 0x8001" "pai: PID = product" pai --product p3.json --cert "$FIX/pai.pem"
E 11 "pai: --cert" "pai: a PAA is refused" pai --product "$prod" --cert "$FIX/paa.pem"
E 11 "Matter SDK test PAA" "paa: test PAA needs --test-mode" paa --product "$prod" --cert "$FIX/paa.pem"
E 12 "the PAA's VID 0xFFF1 is not the product's vendor_id 0xFFF2" "paa: VID = certificate VID" paa --product p2.json --cert "$FIX/paa.pem" --test-mode
E 11 "paa: --cert" "paa: a PAI is refused" paa --product "$prod" --cert "$FIX/pai.pem" --test-mode

E 2 "exactly one of --paa-cert" "rp: one CA" revocation-point --product "$prod" --paa-cert "$FIX/paa.pem" --pai-cert "$FIX/pai.pem"
E 11 "revocation-point: --pai-cert: PAI " "rp: PAA given as PAI" revocation-point --product "$prod" --pai-cert "$FIX/paa.pem"
E 11 "revocation-point: --paa-cert: PAA " "rp: PAI given as PAA" revocation-point --product "$prod" --paa-cert "$FIX/pai.pem"
E 12 "CRL signer's VID 0xFFF1 is not the product's vendor_id 0xFFF2" "rp: VID = account VID" revocation-point --product p2.json --pai-cert "$FIX/pai.pem"
E 10 "label: must be 1..64 characters \(is 65\).*--label" "rp: label max 64" revocation-point --product "$prod" --paa-cert "$FIX/paa.pem" --label "$(printf 'l%.0s' $(seq 65))"
E 10 "dataURL: 'ftp://pki.example.com/a.crl' must be an absolute http:// or https://" "rp: dataURL http_or_https_url" revocation-point --product "$prod" --paa-cert "$FIX/paa.pem" --data-url ftp://pki.example.com/a.crl
mut p4.json 'del(.dcl.revocation_points)'
E 10 "label: is required.*--label or .*dcl.revocation_points.paa.label" "rp: label required" revocation-point --product p4.json --paa-cert "$FIX/paa.pem"
E 12 "--crl-signer-cert is not issued by --paa-cert" "rp: delegated signer must be issued by the CA" revocation-point --product "$prod" --paa-cert "$FIX/paa.pem" --crl-signer-cert "$FIX/crl-signer-pai.pem"
E 11 "CRL signer profile: basicConstraints cA must be FALSE" "rp: a CA is not a delegated CRL signer" revocation-point --product "$prod" --paa-cert "$FIX/paa.pem" --crl-signer-cert "$FIX/pai.pem"
E 11 "must not carry a PID \(case B\)" "rp: PAA-delegated signer has no PID" revocation-point --product "$prod" --paa-cert "$FIX/paa.pem" --crl-signer-cert "$FIX/crl-signer-paa-pid.pem"
openssl x509 -in "$FIX/crl-signer-paa.pem" > signer-nopid.pem
E 12 "not issued by --pai-cert" "rp: PAI-delegated signer must be issued by the PAI" revocation-point --product "$prod" --pai-cert "$FIX/pai.pem" --crl-signer-cert signer-nopid.pem

# CD cross-checks
E 12 "the CD's vendor_id 0xFFF1 is not the product's vendor_id 0xFFF2" "model-version: CD VID = product" model-version --product p2.json --cd "$FIX/cd.der"
mut p5.json '.product_id = "0x9000"'
E 12 "product_id 0x9000 .* is not in the CD's product_id_array" "model-version: PID in CD" model-version --product p5.json --cd "$FIX/cd.der"
mut p5.json '.dcl.model_version.cd_version_number = 1'
E 12 "cd_version_number is 1 but the CD's version_number is 9876" "model-version: CD version = CD" model-version --product p5.json --cd "$FIX/cd.der"
mut p5.json '.dcl.compliance.cd_certificate_id = "ZIG20142ZB330003-25"'
E 12 "cd_certificate_id is 'ZIG20142ZB330003-25' but the CD's certificate_id is 'ZIG20142ZB330003-24'" "compliance: certificate ID = CD" compliance --product p5.json --cd "$FIX/cd.der" --test-mode
E 10 "certification_type is 0 \(development and test\)" "compliance: a development CD needs --test-mode" compliance --product "$prod" --cd "$FIX/cd.der"
E 2 "--cd is required" "compliance needs --cd" compliance --product "$prod"
E 10 "otaFileSize: must be zero/empty when otaUrl is empty.*--ota-file" "model-version: OTA size without URL" model-version --product "$prod" --cd "$FIX/cd.der" --ota-file "$FIX/ota.bin"
E 10 "otaFileSize: is required with otaUrl \(required_with\)" "model-version: OTA URL needs size" model-version --product "$prod" --cd "$FIX/cd.der" --ota-url https://fw.example.com/x.ota
E 12 "differ from the otaFileSize" "model-version: OTA file vs given size" model-version --product "$prod" --cd "$FIX/cd.der" --ota-url https://fw.example.com/x.ota --ota-file "$FIX/ota.bin" --ota-file-size 5
E 10 "maxApplicableSoftwareVersion: must be >= minApplicableSoftwareVersion" "model-version: max >= min" model-version --product "$prod" --cd "$FIX/cd.der" --min-applicable 3
mut p6.json 'del(.dcl.model_version.software_version)'
E 2 "software version is needed" "model-version: software version required" model-version --product p6.json --cd "$FIX/cd.der"
E 0 "" "model-version: --software-version given" model-version --product p6.json --cd "$FIX/cd.der" --software-version 3
mut p6.json '.dcl.compliance.specification_version = "one"'
E 10 "specification_version: must be a Matter version" "compliance: spec version format" compliance --product p6.json --cd "$FIX/cd.der" --test-mode
mut p6.json 'del(.dcl.compliance.specification_version)'
E 10 "specificationVersion: is required" "compliance: spec version required in 1.6" compliance --product p6.json --cd "$FIX/cd.der" --test-mode
mut p6.json '.dcl.compliance.transport = "thread,zigbee"'
E 10 "transport: 'thread,zigbee' must be a comma list" "compliance: transport words" compliance --product p6.json --cd "$FIX/cd.der" --test-mode

# --- outputs ----------------------------------------------------------------
"${X[@]}" model --product "$prod" --out o.json 2>/dev/null
E 8 "exists" "refuses an existing output" model --product "$prod" --out o.json
E 0 "" "--force replaces it" model --product "$prod" --out o.json --force
check "output mode 0644" bash -c "[ \$(stat -c %a o.json) = 644 ]"
E 0 "" "all: writes every record" all --product "$prod" --paa-cert "$FIX/paa.pem" --pai-cert "$FIX/pai.pem" --cd "$FIX/cd.der" --test-mode --from cosmos1qqgjyv6y24n80zye42aueh0wluqpzg3nm75jna --out-dir outall
check "all: 8 records + index" bash -c "[ \$(ls outall | wc -l) = 9 ] && jq -e '(.records|length) == 8 and .skipped == {} and .dclVersion == \"1.6\"' outall/index.json"
check "all: files equal the single-KIND goldens" bash -c "cmp outall/model.json '$GOLD/model.json' && cmp outall/pai.json '$GOLD/pai.json' && cmp outall/revocation-point-pai.json '$GOLD/revocation-point-pai.json'"
E 0 "" "all: without certificates or CD" all --product "$prod" --out-dir outsome
check "all: skipped records named with the reason" jq -e '.records == {"vendor-info":"vendor-info.json","model":"model.json"} and .skipped["model-version"] == "no --cd given" and .skipped.paa == "no --paa-cert given"' outsome/index.json
mut p7.json '.dcl.revocation_points.pai.label = ""'
E 10 "revocation-point-pai: .*label: is required" "all: one bad record fails the run" all --product p7.json --pai-cert "$FIX/pai.pem" --out-dir outbad
check "all: nothing written after a failure" bash -c "[ ! -e outbad ] || [ -z \"\$(ls -A outbad)\" ]"
check "no temporary files left" bash -c "! ls -a outall outsome | grep -q '\\.tmp'"
finish
