#!/usr/bin/env bash
# t_cd.sh - Certification Declarations: a CD signer in SoftHSM, cd create from
# options and from product.json, interop with `openssl cms -verify`, print,
# strict verify, and bad inputs.
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
H="--token test --pin-file pin"
new_token

expect 0 "cd create-signer" "$MP" cd create-signer $H --key-label cdkey --cn "Acme CD Signer" --out signer.pem
check "signer is self-signed and verifies" openssl verify -x509_strict -CAfile signer.pem signer.pem
check "signer keyUsage has digitalSignature" bash -c "openssl x509 -in signer.pem -noout -ext keyUsage | grep -q 'Digital Signature, Certificate Sign, CRL Sign'"
p11 --login --pin "$PIN" --list-objects --type privkey > objs.txt 2>&1
check "signer key is non-extractable" grep -q 'never extractable' objs.txt
check "ceremony log records the signer" grep -q '"command":"cd create-signer"' state/ceremony.log
expect_err 6 "already has an object" "create-signer refuses an existing label" "$MP" cd create-signer $H --key-label cdkey --cn X --out s2.pem

CD="--vid FFF2 --pid 8001 --pid 0x8002 --device-type-id 257 --certificate-id ZIG20141ZB330001-24 --version-number 9876 --certification-type 0"
expect 0 "cd create with the token key" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey $CD --out cd.der
check "openssl cms -verify -binary -noverify -certfile accepts it" bash -c \
  "openssl cms -verify -binary -noverify -inform DER -in cd.der -certfile signer.pem -out content.bin 2>/dev/null"
check "content is our TLV (version 9876 decimal = 0x2694)" bash -c "od -An -tx1 content.bin | tr -d ' \n' | grep -q '25079426'"
expect 0 "cd verify" "$MP" cd verify cd.der --signer-cert signer.pem --vid FFF2 --pid 8002
expect 0 "cd print" "$MP" cd print cd.der
check "print shows fields" grep -q 'version_number:       9876 (0x2694)' out.txt
expect 0 "cd print --json" "$MP" cd print --json cd.der
check "json has the fields" bash -c "jq -e '.vendor_id == 65522 and .product_ids == [32769, 32770] and .device_type_id == 257 and .certificate_id == \"ZIG20141ZB330001-24\"' out.txt"
check "json has the signer key id" bash -c "[ \"\$(jq -r .signer_key_id out.txt)\" = \"\$(openssl x509 -in signer.pem -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')\" ]"
check "ceremony log records the CD" grep -q '"command":"cd create"' state/ceremony.log
# hex and base64 forms are read too
od -An -tx1 cd.der | tr -d ' \n' > cd.hex
openssl base64 -in cd.der -out cd.b64
expect 0 "verify hex" "$MP" cd verify cd.hex --signer-cert signer.pem
expect 0 "verify base64" "$MP" cd verify cd.b64 --signer-cert signer.pem

# product.json with a "cd" section
cat > product.json <<JSON
{"vendor_id": "0xFFF2", "vendor_name": "Acme", "product_id": "0x8001", "product_name": "Bulb",
 "hardware_version": 1, "hardware_version_string": "1.0", "device_type_id": 257,
 "discovery_capabilities": ["ble"],
 "cd": {"certificate_id": "CSA00000SWC00000-01", "version_number": 1, "certification_type": 0,
        "dac_origin_vid": "0xFFF2", "dac_origin_pid": "0x8001", "authorized_paa_certs": ["paa.pem"]}}
JSON
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --out paa.pem > /dev/null
expect 0 "cd create --product" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey --product product.json --out cd2.der
expect 0 "print --json product CD" "$MP" cd print --json cd2.der
paa_skid=$(openssl x509 -in paa.pem -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
check "product CD fields" bash -c "jq -e '.product_ids == [32769] and .dac_origin_vendor_id == 65522 and .authorized_paa_list == [\"$paa_skid\"]' out.txt"
expect 0 "options override the product" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey --product product.json --version-number 0x10 --pid 8003 --out cd3.der
expect 0 "print overridden" "$MP" cd print --json cd3.der
check "override applied" bash -c "jq -e '.version_number == 16 and .product_ids == [32771]' out.txt"
expect 0 "verify product CD" "$MP" cd verify cd2.der --signer-cert signer.pem --pid 8001

# test key file: works, warns
expect_err 0 "only for public test keys" "signer-key-file warns" "$MP" cd create --signer-cert "$VEC/Chip-Test-CD-Signing-Cert.pem" \
    --signer-key-file "$VEC/Chip-Test-CD-Signing-Key.pem" --vid FFF1 --pid 8000 --device-type-id 0x1234 \
    --certificate-id ZIG20141ZB330001-24 --version-number 0x2694 --certification-type 0 --out v1.der
check "test-key CD content = SDK V1 content" bash -c \
  "openssl cms -verify -binary -noverify -inform DER -in v1.der -certfile '$VEC/Chip-Test-CD-Signing-Cert.pem' 2>/dev/null | od -An -tx1 | tr -d ' \n' | grep -qx '152400012501f1ff360205008018250334122c04135a494732303134315a423333303030312d32342405002406002507942624080018'"
expect 0 "SDK CD vector verifies" "$MP" cd verify "$VEC/Chip-Test-CD-FFF1-8000-8063.der" --signer-cert "$VEC/Chip-Test-CD-Signing-Cert.pem" --vid FFF1 --pid 8063

# bad inputs
expect_err 12 "not the key" "wrong signer certificate" "$MP" cd verify cd.der --signer-cert paa.pem
expect_err 12 "vendor_id is 0xFFF2" "wrong --vid" "$MP" cd verify cd.der --signer-cert signer.pem --vid FFF1
expect_err 12 "not in product_id_array" "wrong --pid" "$MP" cd verify cd.der --signer-cert signer.pem --pid 8009
flip_byte cd.der bad-sig.der -2
expect_err 13 "does not verify" "flipped signature byte" "$MP" cd verify bad-sig.der --signer-cert signer.pem
openssl cms -sign -binary -nodetach -noattr -keyid -md sha256 -in content.bin -signer "$VEC/Chip-Test-CD-Signing-Cert.pem" \
    -inkey "$VEC/Chip-Test-CD-Signing-Key.pem" -outform DER -out certs.der 2>/dev/null
expect_err 10 "certificates present" "envelope with certificates" "$MP" cd verify certs.der --signer-cert "$VEC/Chip-Test-CD-Signing-Cert.pem"
openssl cms -sign -binary -nodetach -nocerts -keyid -md sha256 -in content.bin -signer "$VEC/Chip-Test-CD-Signing-Cert.pem" \
    -inkey "$VEC/Chip-Test-CD-Signing-Key.pem" -outform DER -out attrs.der 2>/dev/null
expect_err 10 "signedAttrs present" "envelope with signed attributes" "$MP" cd verify attrs.der --signer-cert "$VEC/Chip-Test-CD-Signing-Cert.pem"
openssl cms -sign -binary -noattr -nocerts -keyid -md sha256 -in content.bin -signer "$VEC/Chip-Test-CD-Signing-Cert.pem" \
    -inkey "$VEC/Chip-Test-CD-Signing-Key.pem" -outform DER -out detached.der 2>/dev/null
expect_err 10 "detached" "detached content" "$MP" cd verify detached.der --signer-cert "$VEC/Chip-Test-CD-Signing-Cert.pem"
openssl cms -sign -binary -nodetach -noattr -nocerts -keyid -md sha256 -in content.bin -signer "$VEC/Chip-Test-CD-Signing-Cert.pem" \
    -inkey "$VEC/Chip-Test-CD-Signing-Key.pem" -outform DER -out good.der 2>/dev/null
expect 0 "openssl cms -sign with the documented flags is accepted" "$MP" cd verify good.der --signer-cert "$VEC/Chip-Test-CD-Signing-Cert.pem"
printf 'hello' > junk.der
expect_err 10 "junk.der: not a CD" "junk file" "$MP" cd print junk.der
expect_err 10 "certificate_id must be exactly 19" "short certificate id" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey \
    --vid FFF2 --pid 8001 --device-type-id 257 --certificate-id SHORT --version-number 1 --certification-type 0 --out x.der
expect_err 10 "certification_type" "certification type 3" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey \
    --vid FFF2 --pid 8001 --device-type-id 257 --certificate-id ZIG20141ZB330001-24 --version-number 1 --certification-type 3 --out x.der
expect_err 10 "security_level" "security level 1" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey $CD --security-level 1 --out x.der
expect_err 10 "give both or neither" "origin VID without PID" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey $CD --dac-origin-vid FFF2 --out x.der
expect_err 10 "vendor ID" "VID 0" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey $CD --vid 0 --out x.der
expect_err 10 "version-number" "version 65536" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey $CD --version-number 65536 --out x.der
expect_err 11 "not a conforming PAA" "authorized PAA that is not a PAA" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey $CD --authorized-paa "$VEC/Chip-Test-DAC-FFF1-8000-0000-Cert.pem" --out x.der
expect_err 2 "certificate_id .* is required" "missing certificate id" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey --vid FFF2 --pid 8001 --device-type-id 1 --version-number 1 --certification-type 0 --out x.der
expect_err 12 "is not the key of" "key does not match the certificate" "$MP" cd create $H --signer-cert "$VEC/Chip-Test-CD-Signing-Cert.pem" --signer-key cdkey $CD --out x.der
expect_err 7 "" "unknown key label" "$MP" cd create $H --signer-cert signer.pem --signer-key nokey $CD --out x.der
expect_err 8 "" "existing output refused" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey $CD --out cd.der
check "no partial output on failure" test ! -e x.der
printf '{"vendor_id": "0xFFF2", "vendor_name": "A", "product_id": 1, "product_name": "B", "hardware_version": 1, "hardware_version_string": "1", "device_type_id": 1, "discovery_capabilities": ["ble"], "cd": {"certificate_id": "X", "version_number": 1, "certification_type": 0}}' > bad-product.json
expect_err 10 "bad-product.json: cd: field 'certificate_id'" "product: short certificate_id" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey --product bad-product.json --out x.der
printf '{"vendor_id": "0xFFF2", "vendor_name": "A", "product_id": 1, "product_name": "B", "hardware_version": 1, "hardware_version_string": "1", "device_type_id": 1, "discovery_capabilities": ["ble"], "cd": {"certificate_id": "ZIG20141ZB330001-24", "version_number": 1, "certification_type": 0, "typo": 1}}' > bad-product2.json
expect_err 10 "unknown field 'typo'" "product: unknown cd field" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey --product bad-product2.json --out x.der
check "--help says integers are decimal" bash -c "'$MP' cd create --help | grep -q 'DECIMAL unless written 0x'"
check "shipped example product makes a CD" "$MP" cd create $H --signer-cert signer.pem --signer-key cdkey --product "$here/examples/product.json" --out ex.der
finish
