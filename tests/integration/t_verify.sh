#!/usr/bin/env bash
# t_verify.sh - `verify attestation` on the SDK chain, on our own pipeline's
# output, on every generated test vector, and revocation through a CRL made
# by `pai crl` and through a revocation-set JSON; `testvectors generate`.
. "$(dirname "$0")/lib.sh"
H="--token test --pin-file pin"
V() { "$MP" verify attestation "$@"; }
# verdict CODE DESC ARGS...: verify exits 0 for code 0, else 19 with the code in the message.
verdict() {
    local code=$1 desc=$2; shift 2
    if [ "$code" = 0 ]; then expect 0 "$desc" V "$@"; else expect_err 19 "attestation rejected: $code k" "$desc" V "$@"; fi
}

# --- the SDK test chain and CD
SDK=(--paa "$VEC/Chip-Test-PAA-FFF1-Cert.pem" --pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem" --dac "$VEC/Chip-Test-DAC-FFF1-8000-0000-Cert.pem")
CD=(--cd "$VEC/Chip-Test-CD-FFF1-8000-8063.der" --cd-signer "$VEC/Chip-Test-CD-Signing-Cert.pem")
verdict 0 "SDK chain accepted at 2025-06-01" "${SDK[@]}" --at 2025-06-01T00:00:00Z
verdict 0 "SDK chain and SDK CD with its signer accepted" "${SDK[@]}" "${CD[@]}" --at 2025-06-01
check "one verdict line per check" bash -c "[ \$(grep -cE '^(PASS|FAIL|SKIP|----) ' out.txt) = 19 ]"
verdict 300 "SDK DAC not yet valid in 2021-01-01" "${SDK[@]}" --at 2021-01-01
check "per-check lines on stdout when rejected" grep -q '^FAIL  dac-validity  *300 kDacExpired' out.txt
verdict 605 "Basic Information PID outside the CD's list" "${SDK[@]}" "${CD[@]}" --pid 8064
verdict 604 "Basic Information VID differs from the CD's" "${SDK[@]}" "${CD[@]}" --vid FFF2
verdict 601 "CD signer not trusted" "${SDK[@]}" --cd "$VEC/Chip-Test-CD-FFF1-8000-8063.der" --cd-signer "$VEC/Chip-Test-PAA-FFF1-Cert.pem"
verdict 100 "--production refuses the SDK test PAA" "${SDK[@]}" "${CD[@]}" --production
verdict 101 "PAA not in the trust store" --paa "$VEC/Chip-Test-PAA-NoVID-Cert.pem" --pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem" --dac "$VEC/Chip-Test-DAC-FFF1-8000-0000-Cert.pem"
verdict 0 "trust store of two PAAs" --paa "$VEC/Chip-Test-PAA-NoVID-Cert.pem" "${SDK[@]}"
verdict 207 "no PAI: kPaiMissing" --paa "$VEC/Chip-Test-PAA-FFF1-Cert.pem" --dac "$VEC/Chip-Test-DAC-FFF1-8000-0000-Cert.pem"
verdict 203 "DAC given as PAI and PAI as DAC: the PAI is checked first" --paa "$VEC/Chip-Test-PAA-FFF1-Cert.pem" --pai "$VEC/Chip-Test-DAC-FFF1-8000-0000-Cert.pem" --dac "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem"
check "the failed rule is named" grep -q 'basicConstraints' err.txt
V "${SDK[@]}" "${CD[@]}" --json > rep.json 2>/dev/null
check "--json report: verdict, code, every check" bash -c "jq -e '.verdict == \"accepted\" and .code == 0 and (.checks | length) == 19 and all(.checks[]; has(\"name\") and has(\"status\") and has(\"code\"))' rep.json"
V "${SDK[@]}" --json --at 2021-01-01 > rep.json 2>/dev/null
check "--json report when rejected" bash -c "jq -e '.verdict == \"rejected\" and .code == 300 and .code_name == \"kDacExpired\"' rep.json"

# --- bad inputs
expect_err 2 "required" "--dac missing" V --paa "$VEC/Chip-Test-PAA-FFF1-Cert.pem"
expect_err 9 "no such file" "missing file" V "${SDK[@]}" --cd nosuch.der
expect_err 10 "8063.der: not a DER or PEM X.509 certificate" "a CD given as --dac" V --paa "$VEC/Chip-Test-PAA-FFF1-Cert.pem" --dac "$VEC/Chip-Test-CD-FFF1-8000-8063.der"
expect_err 2 "cd-signer" "--cd without --cd-signer" V "${SDK[@]}" --cd "$VEC/Chip-Test-CD-FFF1-8000-8063.der"
expect_err 2 "TIME|date|time" "bad --at" V "${SDK[@]}" --at yesterday
printf '[{"type":"revocation_set","issuer_subject_key_id":"XYZ"}]' > bad.json
expect_err 10 "bad.json: entry 0: 'issuer_name'|bad.json: entry 0" "malformed revocation set names file and entry" V "${SDK[@]}" --revocation-set bad.json
printf '{' > bad2.json
expect_err 10 "bad2.json: line 1" "revocation set that is not JSON" V "${SDK[@]}" --revocation-set bad2.json
expect_err 10 "PEM 'X509 CRL' block" "a certificate given as --crl" V "${SDK[@]}" --crl "$VEC/Chip-Test-PAA-FFF1-Cert.pem"

# --- our own pipeline: PAA, PAI, order, DACs with off-chip keys
new_token
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --out pai.pem > /dev/null
order=$("$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 5)
"$MP" dac issue $H --order "$order" --generate-keys --count 2 --out-dir dacs --quiet > /dev/null
set -- dacs/*.key.der
dac1=${1%.key.der}.der dac2=${2%.key.der}.der
verdict 0 "our pipeline's chain accepted" --paa paa.pem --pai pai.pem --dac "$dac1"
verdict 0 "our pipeline's chain accepted in --production mode" --paa paa.pem --pai pai.pem --dac "$dac1" --production
check "our DAC passes openssl -x509_strict too" openssl verify -x509_strict -CAfile paa.pem -untrusted pai.pem "$dac1"

# --- revocation via `pai crl`
"$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out empty.crl > /dev/null
verdict 0 "empty CRL: not revoked" --paa paa.pem --pai pai.pem --dac "$dac1" --crl empty.crl
expect_err 2 "not both" "--crl with --revocation-set" V --paa paa.pem --pai pai.pem --dac "$dac1" --crl empty.crl --revocation-set bad.json
serial=$(openssl x509 -in "$dac1" -inform DER -noout -serial | cut -d= -f2)
"$MP" dac revoke --serial "$serial" --reason keyCompromise > /dev/null
"$MP" pai crl $H --pai-cert pai.pem --pai-key pai --out revoked.crl > /dev/null
verdict 302 "DAC on the PAI's CRL: kDacRevoked" --paa paa.pem --pai pai.pem --dac "$dac1" --crl revoked.crl
check "message names the code" grep -q 'kDacRevoked' err.txt
verdict 0 "the other DAC is not revoked" --paa paa.pem --pai pai.pem --dac "$dac2" --crl revoked.crl
openssl crl -in revoked.crl -inform DER -out revoked.pem 2> /dev/null
verdict 302 "PEM CRL accepted too" --paa paa.pem --pai pai.pem --dac "$dac1" --crl revoked.pem
flip_byte revoked.crl forged.crl -3
expect_err 13 "does not verify" "a CRL with a broken signature is refused" V --paa paa.pem --pai pai.pem --dac "$dac1" --crl forged.crl

# --- revocation via a revocation-set JSON (section 7.3)
b64() { openssl base64 -A; }
pai_skid=$(openssl x509 -in pai.pem -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
# the issuer Name DER: the PAI's subject, cut from its TBSCertificate
perl -e '
  local $/; open my $f, "<:raw", $ARGV[0] or die; my $d = <$f>;
  sub hdr { my ($b, $o) = @_; my $l = ord(substr($b, $o + 1, 1)); my $h = 2;
            if ($l & 0x80) { my $n = $l & 0x7f; $l = 0; $l = $l * 256 + ord(substr($b, $o + 2 + $_, 1)) for 0 .. $n - 1; $h += $n; }
            return ($h, $l); }
  my ($h, $l) = hdr($d, 0); my $o = $h;           # inside Certificate
  ($h, $l) = hdr($d, $o); $o += $h;                 # inside TBSCertificate
  my @e; for (1 .. 6) { my ($hh, $ll) = hdr($d, $o); push @e, [$o, $hh + $ll]; $o += $hh + $ll; }
  my ($so, $sl) = @{$e[5]};                        # version, serial, sigalg, issuer, validity, subject
  print substr($d, $so, $sl);' <(openssl x509 -in pai.pem -outform DER) > pai_subject.der
check "PAI subject DER extracted" test -s pai_subject.der
cat > revset.json <<JSON
[{"type": "revocation_set", "issuer_subject_key_id": "$pai_skid",
  "issuer_name": "$(b64 < pai_subject.der)",
  "revoked_serial_numbers": ["01", "$serial"],
  "crl_signer_cert": "$(openssl x509 -in pai.pem -outform DER | b64)"}]
JSON
verdict 302 "DAC in the revocation set: kDacRevoked" --paa paa.pem --pai pai.pem --dac "$dac1" --revocation-set revset.json
verdict 0 "other DAC not in the revocation set" --paa paa.pem --pai pai.pem --dac "$dac2" --revocation-set revset.json

# --- test vectors: generated with the PAA and a new PAI key in the token
expect 0 "testvectors generate" "$MP" testvectors generate $H --paa-cert paa.pem --paa-key paa --pai-key tvpai --out vec
check "the PAI key was made in the token" bash -c "p11 --list-objects --type pubkey 2>/dev/null | grep -q tvpai || SOFTHSM2_CONF=\$MATTER_PKI_STATE/softhsm2.conf pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label test --list-objects --type pubkey | grep -q tvpai"
expect_err 8 "already exists" "existing output directory refused" "$MP" testvectors generate $H --paa-cert paa.pem --paa-key paa --pai-key tvpai2 --out vec
check "no partial directory left" bash -c "! ls -d vec.partial-* 2>/dev/null"
n=$(jq length vec/index.json)
check "more than 100 cases" test "$n" -gt 100
bad=0 total=0
for d in vec/*/; do
    [ -f "$d/case.json" ] || continue
    total=$((total + 1))
    want=$(jq -r .expected_code "$d/case.json")
    V --json --paa vec/paa.pem --pai "$d/pai.der" --dac "$d/dac.der" --cd "$d/cd.der" --cd-signer vec/cd-signer.pem \
        --vid "$(jq -r .basic_info_vid "$d/case.json")" --pid "$(jq -r .basic_info_pid "$d/case.json")" > rep.json 2> /dev/null
    rc=$? got=$(jq -r .code rep.json)
    if [ "$got" != "$want" ] || { [ "$want" = 0 ] && [ $rc != 0 ]; } || { [ "$want" != 0 ] && [ $rc != 19 ]; }; then
        bad=$((bad + 1)); echo "       $(basename "$d"): want $want, got $got (exit $rc)"
    fi
done
check "every generated case ($total) gives exactly the expected verdict and code" test "$bad" = 0
check "exchange JSON: every key, lowercase hex, key sizes" bash -c "for f in vec/*/test_case_vector.json; do jq -e '
    (keys == [\"basic_info_pid\",\"certification_declaration\",\"dac_cert\",\"dac_private_key\",\"dac_public_key\",\"description\",\"is_success_case\",\"pai_cert\"])
    and (.dac_private_key | length == 64) and (.dac_public_key | length == 130)
    and ([.dac_cert, .pai_cert, .certification_declaration, .dac_private_key, .dac_public_key] | all(test(\"^[0-9a-f]+\$\")))
    and (.dac_cert | length <= 1200) and (.is_success_case == \"true\" or .is_success_case == \"false\")' \$f > /dev/null || exit 1; done"
check "private keys and vector files are 0600" bash -c "[ \$(stat -c %a vec/valid/dac_key.pem) = 600 ] && [ \$(stat -c %a vec/valid/test_case_vector.json) = 600 ] && [ \$(stat -c %a vec/cd-signer-key.pem) = 600 ]"
check "DAC public key in the JSON is the DAC's" bash -c "[ \"\$(jq -r .dac_public_key vec/valid/test_case_vector.json)\" = \"\$(openssl x509 -in vec/valid/dac.der -inform DER -noout -pubkey | openssl ec -pubin -outform DER 2>/dev/null | tail -c 65 | od -An -tx1 | tr -d ' \n')\" ]"
check "the valid case verifies with openssl -x509_strict" openssl verify -x509_strict -CAfile vec/paa.pem -untrusted vec/valid/pai.pem vec/valid/dac.pem
check "the invalid_paa case is signed under another PAA" bash -c "! openssl verify -CAfile vec/paa.pem -untrusted vec/invalid_paa/pai.pem vec/invalid_paa/dac.pem"
# an existing PAI from our pipeline
expect 0 "testvectors generate with an existing PAI" "$MP" testvectors generate $H --paa-cert paa.pem --paa-key paa --pai-cert pai.pem --pai-key pai --out vec2
check "vectors use the existing PAI" cmp vec2/pai.pem pai.pem
verdict 0 "its valid case verifies" --paa vec2/paa.pem --pai vec2/valid/pai.der --dac vec2/valid/dac.der --cd vec2/valid/cd.der --cd-signer vec2/cd-signer.pem
expect_err 12 "differs from the PAI" "--vid differing from the PAI" "$MP" testvectors generate $H --paa-cert paa.pem --paa-key paa --pai-cert pai.pem --pai-key pai --vid FFF3 --out vec3
check "nothing left behind on failure" bash -c "! ls -d vec3 vec3.partial-* 2>/dev/null"
long="$T/$(printf 'a%.0s' $(seq 1 90))"
mkdir -p "$long"
expect 0 "testvectors generate into a long absolute path" "$MP" testvectors generate $H --paa-cert paa.pem --paa-key paa --pai-cert pai.pem --pai-key pai --out "$long/vec"
check "PEM files written under the long path" test -s "$long/vec/dac_version_v2/dac.pem"
finish
