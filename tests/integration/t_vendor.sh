#!/usr/bin/env bash
# t_vendor.sh - issue 18: full PAA/PAI subjects, vendor chip lists (Microchip
# manifests, Infineon birth-certificate bundles), DACs issued by another PKI,
# and batches of CSRs, against a real SoftHSM token and a real SQLite ledger.
GEN="$(cd "$(dirname "$0")" && pwd)/vendor_fixtures.py"
. "$(dirname "$0")/lib.sh"
H="--token test --pin-file pin"
new_token
db() { sqlite3 state/ledger.sqlite "$1"; }

echo "-- full subjects"
expect 0 "paa create --subject" "$MP" paa create $H --key-label paa --subject "/C=NL/O=Acme Inc/OU=Matter\/PKI/serialNumber=PAA-0001/CN=Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem
check "PAA subject in the given order, VID last" bash -c "openssl x509 -in paa.pem -noout -subject -nameopt RFC2253,dump_nostr | grep -q 'CN=Acme PAA,serialNumber=PAA-0001,OU=Matter/PKI,O=Acme Inc,C=NL' && openssl x509 -in paa.pem -noout -subject -nameopt oid | grep -q '1.3.6.1.4.1.37244.2.1'"
check "C and serialNumber are PrintableString" bash -c "openssl asn1parse -in paa.pem | grep -A1 'countryName' | grep -q PRINTABLESTRING && openssl asn1parse -in paa.pem | grep -A1 'serialNumber' | grep -q PRINTABLESTRING"
expect 0 "pai create --subject" "$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --subject "/C=NL/L=Amsterdam/O=Acme Inc/CN=Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem
check "openssl verify -x509_strict (full subjects)" openssl verify -x509_strict -CAfile paa.pem pai.pem
expect 0 "cert lint paa (full subject)" "$MP" cert lint --type paa paa.pem
expect 0 "cert lint pai (full subject)" "$MP" cert lint --type pai pai.pem
expect 0 "pai csr --subject" "$MP" pai csr $H --key-label pai3 --subject "/O=Remote Co/OU=Devices/CN=Remote PAI" --vid FFF2 --out pai3.csr
check "CSR subject kept" bash -c "openssl req -in pai3.csr -noout -subject -nameopt RFC2253 | grep -q 'CN=Remote PAI,OU=Devices,O=Remote Co'"
expect 0 "paa sign-pai keeps the CSR's subject" "$MP" paa sign-pai $H --paa-cert paa.pem --paa-key paa --csr pai3.csr --out pai3.pem
check "signed PAI has O and OU" bash -c "openssl x509 -in pai3.pem -noout -subject -nameopt RFC2253 | grep -q '^subject=.*CN=Remote PAI,OU=Devices,O=Remote Co'"
check "signed PAI verifies -x509_strict" openssl verify -x509_strict -CAfile paa.pem pai3.pem
expect 0 "cert lint signed PAI" "$MP" cert lint --type pai pai3.pem
expect_err 10 "more than one CN" "two CNs refused" "$MP" paa create $H --key-label x1 --subject "/CN=A/CN=B" --out x1.pem
expect_err 10 "C: must be a two-letter" "bad country refused" "$MP" paa create $H --key-label x2 --subject "/C=NLD/CN=A" --out x2.pem
expect_err 10 "O: longer than 64" "O over 64 characters refused" "$MP" paa create $H --key-label x3 --subject "/O=$(printf 'o%.0s' $(seq 65))/CN=A" --out x3.pem
expect_err 10 "'emailAddress' not allowed" "other attributes refused" "$MP" paa create $H --key-label x4 --subject "/emailAddress=a@b/CN=A" --out x4.pem
expect_err 10 "a CN is required" "no CN refused" "$MP" paa create $H --key-label x5 --subject "/O=Acme" --out x5.pem
expect_err 2 "one of --cn or --subject" "--cn and --subject together refused" "$MP" paa create $H --key-label x6 --cn A --subject "/CN=A" --out x6.pem
check "no key left by refused subjects" bash -c "! p11 --login --pin $PIN --list-objects --type privkey 2>/dev/null | grep -q 'label: *x[1-6]'"
# a CSR made elsewhere with two CNs, and one with an attribute Matter does not allow
openssl ecparam -name prime256v1 -genkey -out sw.key 2>/dev/null
mkcsr() { # mkcsr OUT DNLINES: a software-key CSR with a matter-vid attribute
    printf 'oid_section=oids\n[oids]\nmatterVID=1.3.6.1.4.1.37244.2.1\n[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n%bmatterVID=FFF2\n' "$2" > csr.cnf
    openssl req -new -key sw.key -config csr.cnf -utf8 -out "$1" 2>/dev/null
}
mkcsr twocn.csr '0.CN=A\n1.CN=B\n'
expect_err 11 "exactly one CN" "sign-pai refuses a CSR with two CNs" "$MP" paa sign-pai $H --paa-cert paa.pem --paa-key paa --csr twocn.csr --out twocn.pem
mkcsr email.csr 'CN=A\nemailAddress=a@b.example\n'
expect_err 11 "emailAddress: attribute not allowed" "sign-pai refuses an attribute Matter does not allow" "$MP" paa sign-pai $H --paa-cert paa.pem --paa-key paa --csr email.csr --out email.pem
# cert lint finds a second CN and a bad country in a certificate made elsewhere
openssl req -x509 -new -key sw.key -subj "/C=nl/CN=A/CN=B" -days 10 -addext "basicConstraints=critical,CA:TRUE,pathlen:1" -addext "keyUsage=critical,keyCertSign,cRLSign" -out lintbad.pem 2>/dev/null
expect_err 11 "2 paa rules violated" "cert lint: two CNs and a bad country" "$MP" cert lint --type paa lintbad.pem
check "cert lint names both rules" bash -c "grep -q 'more than one CN' out.txt && grep -q 'subject C: must be a two-letter' out.txt"
# the whole chain with full subjects: DACs under the full-subject PAI verify
"$MP" chips simulate --count 12 --out sim > /dev/null
expect 0 "import simulated chips" "$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem
expect 0 "order under the full-subject PAI" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 8 --cn-template "Acme {udid:12}"
O=$(cat out.txt)
expect 0 "issue 2 DACs" "$MP" dac issue $H --order $O --count 2 --out-dir dacs --quiet
d1=$(ls dacs/*.der | head -1)
check "DAC issuer DER = full PAI subject DER" bash -c "[ \"\$(openssl x509 -inform DER -in $d1 -noout -issuer -nameopt RFC2253)\" = \"\$(openssl x509 -in pai.pem -noout -subject -nameopt RFC2253 | sed s/^subject/issuer/)\" ]"
openssl x509 -inform DER -in "$d1" -out d1.pem
check "openssl verify -x509_strict DAC under full subjects" openssl verify -x509_strict -CAfile paa.pem -untrusted pai.pem d1.pem
expect 0 "verify attestation accepts the full-subject chain" "$MP" verify attestation --paa paa.pem --pai pai.pem --dac "$d1"

echo "-- Microchip Trust Platform manifests"
python3 "$GEN" manifest mf 6 || { echo "fixture generator failed"; exit 1; }
MF="--format microchip-manifest --signer mf/manifest-signer.pem"
for v in tamper-payload tamper-signature other-signer; do
    expect_err 13 "mf/$v.json: entry 3 \(uniqueId 012300000000ee0002\)" "manifest $v refused naming the entry" "$MP" chips import mf/$v.json $MF --chip-root mf/root.pem --ledger l-$v.sqlite
    check "manifest $v: nothing imported" bash -c "[ \"\$(sqlite3 l-$v.sqlite 'select count(*) from devices')\" = 0 ]"
done
check "another signer is named by x5t#S256" grep -q "signed by another signer (x5t#S256" err.txt
expect_err 12 "entry 3 .*header uniqueId .* differs from the signed payload" "unsigned header uniqueId that differs refused" "$MP" chips import mf/header-mismatch.json $MF --ledger l-h.sqlite
expect_err 12 "entry 3 .*x5c device certificate's key differs" "x5c certificate of another chip refused (--chip-root)" "$MP" chips import mf/x5c-mismatch.json $MF --chip-root mf/root.pem --ledger l-x.sqlite
expect_err 13 "entry 1 .*signed by another signer" "manifest checked against the wrong --signer refused" "$MP" chips import mf/manifest.json --format microchip-manifest --signer mf/other-signer.pem --ledger l-w.sqlite
expect_err 13 "does not verify to --chip-root" "x5c chain to another root refused" "$MP" chips import mf/manifest.json $MF --chip-root paa.pem --ledger l-r.sqlite
expect_err 2 "no --signature" "a manifest takes no --signature" "$MP" chips import mf/manifest.json $MF --signature mf/root.pem --ledger l-s.sqlite
expect 0 "manifest import with --chip-root" "$MP" chips import mf/manifest.json $MF --chip-root mf/root.pem
check "6 chips recorded, signed by the manifest signer" bash -c "grep -q 'imported 6 chips' out.txt && grep -q 'manifest entries signed by /O=Example Chips Inc/CN=Example Manifest Signer' out.txt"
check "UDID = uniqueId in uppercase, key = slot 0 JWK" bash -c "[ \"\$(sqlite3 state/ledger.sqlite \"select udid || ',' || lower(hex(pubkey)) from devices where udid like '0123%' order by udid\")\" = \"\$(sort mf/expected.csv)\" ]"
check "chip list format recorded" test "$(db "select count(*) from chip_lists where format='microchip-manifest'")" = 1
expect 0 "--kid 1 takes slot 1 (no x5c needed without --chip-root)" "$MP" chips import mf/manifest.json $MF --kid 1 --ledger l-k1.sqlite
expect_err 13 "key slot 1 has no x5c" "--kid 1 with --chip-root needs an x5c" "$MP" chips import mf/manifest.json $MF --kid 1 --chip-root mf/root.pem --ledger l-k2.sqlite
expect_err 10 "no key with kid \"7\"" "a slot the entry lacks refused" "$MP" chips import mf/manifest.json $MF --kid 7 --ledger l-k7.sqlite
N=${MP_VENDOR_BIG:-100000}
python3 "$GEN" bigmanifest big "$N" || { echo "big fixture failed"; exit 1; }
/usr/bin/time -f "%M" -o big.rss "$MP" chips import big/manifest.json --format microchip-manifest --signer big/manifest-signer.pem --ledger big.sqlite --quiet
check "$N manifest entries imported" bash -c "[ \"\$(sqlite3 big.sqlite 'select count(*) from devices')\" = $N ]"
size_kb=$(( $(stat -c %s big/manifest.json) / 1024 ))
python3 "$GEN" bigmanifest small $((N / 10)) || { echo "small fixture failed"; exit 1; }
/usr/bin/time -f "%M" -o small.rss "$MP" chips import small/manifest.json --format microchip-manifest --signer small/manifest-signer.pem --ledger small.sqlite --quiet
small_kb=$(( $(stat -c %s small/manifest.json) / 1024 ))
echo "       manifest $size_kb KB: peak RSS $(cat big.rss) KB; manifest $small_kb KB: $(cat small.rss) KB"
if [ -z "${ASAN_OPTIONS:-}" ]; then  # AddressSanitizer's quarantine keeps freed memory: RSS means nothing there
    # allowed: a quarter of the file's growth, plus 4 MB for the ledger's page cache filling
    check "flat memory: RSS grows by less than a quarter of the manifest's growth" bash -c "[ \$(( $(cat big.rss) - $(cat small.rss) )) -lt \$(( ($size_kb - $small_kb) / 4 + 4096 )) ]"
    check "flat memory: peak RSS under 48 MB for a ${size_kb} KB manifest" bash -c "[ $(cat big.rss) -lt 49152 ]"
fi

echo "-- Infineon OPTIGA Trust M birth certificates"
python3 "$GEN" infineon inf 5 || { echo "fixture generator failed"; exit 1; }
check "every Trust M certificate has the same CN" bash -c "[ \$(for f in inf/bundle/*.pem; do openssl x509 -in \$f -noout -subject; done | sort -u | wc -l) = 1 ]"
check "the chip-dump file starts with the 0xC0 tag header" bash -c "[ \"\$(head -c1 inf/bundle/*_E0E0.bin | od -An -tx1 | tr -d ' ')\" = c0 ]"
expect_err 10 "E0E0.pem: certificate 1: UDID" "--udid-from cn cannot make UDIDs of 'Infineon IoT Node'" "$MP" chips import inf/bundle --chip-root inf/root.pem --ledger l-i0.sqlite
expect 0 "--format birth-certs --udid-from filename (default <UDID>_...)" "$MP" chips import inf/bundle --format birth-certs --chip-root inf/root.pem --udid-from filename --ledger l-i1.sqlite
check "UDIDs are the chip UIDs, the tag-header file included" test "$(sqlite3 l-i1.sqlite 'select group_concat(udid) from (select udid from devices order by udid)')" = "$(cut -d, -f1 inf/map.csv | tail -n +2 | sort | paste -sd,)"
expect 0 "--udid-from csv:FILE" "$MP" chips import inf/bundle --chip-root inf/root.pem --udid-from csv:inf/map.csv --ledger l-i2.sqlite
check "csv map gives the same UDIDs and keys" test "$(sqlite3 l-i2.sqlite 'select udid||hex(pubkey) from devices order by udid')" = "$(sqlite3 l-i1.sqlite 'select udid||hex(pubkey) from devices order by udid')"
expect 0 "--udid-from filename:PATTERN" "$MP" chips import inf/bundle --chip-root inf/root.pem --udid-from 'filename:<UDID>_E0E0.*' --ledger l-i3.sqlite
expect_err 10 "does not match the pattern <UDID>_E0E0.pem" "a file the pattern does not fit is named" "$MP" chips import inf/bundle --chip-root inf/root.pem --udid-from 'filename:<UDID>_E0E0.pem' --ledger l-i4.sqlite
cp -r inf/bundle coll && cp coll/CD16339301001C000001_E0E0.pem coll/CD16339301001C000001_E0E1.pem
expect_err 16 "UDID CD16339301001C000001 collides: coll/CD16339301001C000001_E0E0.pem: certificate 1 and coll/CD16339301001C000001_E0E1.pem: certificate 1" "colliding UDIDs refused naming both files" "$MP" chips import coll --chip-root inf/root.pem --udid-from filename --ledger l-i5.sqlite
check "nothing imported from the colliding folder" test "$(sqlite3 l-i5.sqlite 'select count(*) from devices')" = 0
{ head -3 inf/map.csv; echo "CD16339301001C000000,$(sed -n 4p inf/map.csv | cut -d, -f2)"; tail -n +5 inf/map.csv; } > coll.csv
expect_err 16 "collides: .*and .*give the same UDID" "a map giving two files one UDID refused naming both" "$MP" chips import inf/bundle --chip-root inf/root.pem --udid-from csv:coll.csv --ledger l-i6.sqlite
head -3 inf/map.csv > short.csv
expect_err 10 "E0E0.*: not listed in short.csv" "a file missing from the map is named" "$MP" chips import inf/bundle --chip-root inf/root.pem --udid-from csv:short.csv --ledger l-i7.sqlite
{ cat inf/map.csv; echo "CD16339301001C0000FF,CD16339301001C0000FF_E0E0.pem"; } > extra.csv
expect_err 10 "extra.csv:7: no device certificate file CD16339301001C0000FF_E0E0.pem was read" "a map row without its file is named" "$MP" chips import inf/bundle --chip-root inf/root.pem --udid-from csv:extra.csv --ledger l-i8.sqlite
flip_byte inf/bundle/CD16339301001C000004_E0E0.bin bad.bin 40
mkdir badtag && cp inf/bundle/CD16339301001C000000_E0E0.pem badtag/ && cp bad.bin badtag/CD16339301001C000004_E0E0.bin
expect_err 13 "CD16339301001C000004_E0E0.bin: certificate 1: birth certificate does not verify" "an altered chip-dump certificate refused by name" "$MP" chips import badtag --chip-root inf/root.pem --udid-from filename --ledger l-i9.sqlite

echo "-- DACs issued by another PKI (dac import), dac export --layout infineon, hand-off"
# the other PKI: its own state, token, PAA, PAI and DACs, exported in Infineon's layout
VS="env MATTER_PKI_STATE=$T/vendor-state"
VH="--token vendor --pin-file pin"
$VS "$MP" token init --label vendor --pin-file pin --so-pin-file sopin > /dev/null
$VS "$MP" paa create $VH --key-label vpaa --subject "/C=DE/O=Module Maker AG/CN=Module Maker PAA" --valid-from 2025-01-01 --out vpaa.pem > /dev/null
$VS "$MP" pai create $VH --paa-cert vpaa.pem --paa-key vpaa --key-label vpai --subject "/O=Module Maker AG/CN=Module Maker PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out vpai.pem > /dev/null
$VS "$MP" chips simulate --count 6 --out vsim > /dev/null
$VS "$MP" chips import vsim/chips.csv --signature vsim/chips.csv.sig --signer vsim/chipmaker.pem > /dev/null
$VS "$MP" order create $VH --vid FFF2 --pid 8001 --pai-cert vpai.pem --pai-key vpai --quota 6 --cn-template "{udid}" > /dev/null
$VS "$MP" dac issue $VH --order 1 --out-dir vdacs --quiet > /dev/null
expect 0 "dac export --layout infineon" $VS "$MP" dac export --order 1 --layout infineon --out-dir vbundle
check "6 files named <UDID>_E0E0.pem, PEM of the ledger's DER" bash -c "[ \$(ls vbundle | grep -c '^[0-9A-F]\{64\}_E0E0.pem\$') = 6 ] && for f in vbundle/*_E0E0.pem; do u=\$(basename \$f _E0E0.pem); cmp <(openssl x509 -in \$f -outform DER) vdacs/\$u.der || exit 1; done"
expect 0 "dac export again leaves identical files" $VS "$MP" dac export --order 1 --layout infineon --out-dir vbundle
f1=$(ls vbundle | head -1); cp "vbundle/$f1" keep.pem && echo "# changed" >> "vbundle/$f1"
expect_err 8 "exists" "dac export refuses to replace a different file without --force" $VS "$MP" dac export --order 1 --layout infineon --out-dir vbundle
expect 0 "dac export --force replaces it" $VS "$MP" dac export --order 1 --layout infineon --out-dir vbundle --force
check "replaced file is the ledger's DAC again" cmp keep.pem "vbundle/$f1"
# one tampered DAC in an otherwise good bundle: nothing is imported, the file is named
mkdir badbundle && cp vbundle/*.pem badbundle/
f3=$(ls badbundle | sed -n 3p)
openssl x509 -in "badbundle/$f3" -outform DER -out b.der && flip_byte b.der b2.der -5 && openssl x509 -inform DER -in b2.der -out "badbundle/$f3" 2>/dev/null
expect_err 13 "$f3: the chain is rejected by the attestation verifier: 301 kDacSignatureInvalid" "a DAC whose signature is broken is refused by name" "$MP" dac import badbundle --pai vpai.pem --paa vpaa.pem
check "nothing recorded from the refused import" test "$(db "select count(*) from chip_lists where format='external-dacs'")" = 0
expect_err 13 "rejected by the attestation verifier" "DACs checked against another PAA are refused" "$MP" dac import vbundle --pai vpai.pem --paa paa.pem
expect_err 13 "rejected by the attestation verifier" "our own PAI given for their DACs is refused" "$MP" dac import vbundle --pai pai.pem --paa vpaa.pem
expect 0 "dac import of the vendor's bundle" "$MP" dac import vbundle --pai vpai.pem --paa vpaa.pem --udid-from filename
XO=$(sed -n 's/.* into order \([0-9]*\),.*/\1/p' out.txt)
check "imported 6 into a new external order" grep -q "imported 6 DACs issued by another PKI (VID FFF2 PID 8001)" out.txt
check "ledger: 6 certificates of the external order, DER identical" bash -c "[ \$(sqlite3 state/ledger.sqlite \"select count(*) from certificates where order_id=$XO\") = 6 ] && u=\$(ls vbundle | head -1 | cut -d_ -f1) && [ \"\$(sqlite3 state/ledger.sqlite \"select lower(hex(der)) from certificates where udid='\$u'\")\" = \"\$(od -An -tx1 -v vdacs/\$u.der | tr -d ' \\n')\" ]"
check "the order records, never signs (pai_key external:)" test "$(db "select pai_key from orders where id=$XO")" = "external:"
check "the import is an audit row (dac.import, its order and count)" test "$(db "select objects || ' ' || json_extract(detail, '$.count') from audit where event = 'dac.import'")" = "order=$XO batch=$(db "select max(id) from dac_batches where order_id=$XO") list=$(db "select max(id) from chip_lists") 6"
expect_err 16 "were imported before" "the same bundle twice is refused" "$MP" dac import vbundle --pai vpai.pem --paa vpaa.pem
one=$(ls vbundle | head -1)
mkdir again && cp "vbundle/$one" again/
expect_err 16 "already has a DAC" "one DAC per chip: a second DAC for an imported chip refused" "$MP" dac import again --pai vpai.pem --paa vpaa.pem --order "$XO"
expect_err 2 "records DACs issued by another PKI" "dac issue refuses the external order" "$MP" dac issue $H --order "$XO" --count 1 --out-dir xd
expect_err 2 "issues our own DACs" "--order of one of our orders refused" "$MP" dac import again --pai vpai.pem --paa vpaa.pem --order "$O"
# reports, DCL, labels, factory data
expect 0 "ledger report with external DACs" "$MP" ledger report
expect 0 "ledger export with external DACs" "$MP" ledger export --format jsonl --out ext.jsonl
check "ledger export lists the imported DACs" test "$(jq -c "select(.order == $XO)" ext.jsonl | wc -l)" = 6
cp "$(dirname "$GEN")/../../examples/product.json" product.json
"$MP" cd create-signer $H --key-label cds --cn "CD signer" --out cds.pem > /dev/null
"$MP" cd create $H --signer-cert cds.pem --signer-key cds --product product.json --out cd.der > /dev/null
expect 0 "dcl export pai for the vendor's PAI" "$MP" dcl export pai --product product.json --cert vpai.pem --out dcl-pai.json
expect 0 "factory-data build (json) for the imported devices, checked as a commissioner against the vendor PAA" "$MP" factory-data build --order "$XO" --product product.json --cd cd.der --paa vpaa.pem --cd-signer cds.pem --format json --out-dir fd
check "labels: onboarding.csv has the 6 imported devices" test "$(tail -n +2 fd/onboarding.csv | wc -l)" = 6
u1=$(sed -n 2p fd/onboarding.csv | cut -d, -f1); pc1=$(sed -n 2p fd/onboarding.csv | cut -d, -f6)
expect 0 "factory-data inspect: the vendor DAC chains to the vendor PAI" "$MP" factory-data inspect "fd/$u1.json" --pai vpai.pem --cd cd.der --passcode "$pc1"
expect_err 10 "keep their key in the chip" "formats holding the DAC key refuse chip devices" "$MP" factory-data build --order "$XO" --product product.json --cd cd.der --paa vpaa.pem --cd-signer cds.pem --format nrf --out-dir fd2
# revocation: recorded, handed off to the PAI's owner
s1=$(openssl x509 -in "vbundle/$one" -noout -serial | cut -d= -f2)
expect 0 "dac revoke of an imported DAC" "$MP" dac revoke --serial "$s1" --reason keyCompromise
expect 0 "dac handoff for the vendor's PAI" "$MP" dac handoff --pai vpai.pem --out handoff.json
vskid=$(openssl x509 -in vpai.pem -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
check "hand-off names the PAI and the revoked serial" bash -c "jq -e --arg s $s1 --arg k $vskid '.issuer_subject_key_id == \$k and (.revoked | length) == 1 and .revoked[0].serial_number == \$s and .revoked[0].reason == \"keyCompromise\"' handoff.json"
expect_err 7 "" "pai crl cannot sign for the vendor's PAI (no key here)" "$MP" pai crl $H --pai-cert vpai.pem --pai-key vpai --out v.crl
# UDIDs from CN / a map
"$MP" ledger init --ledger l-cn.sqlite > /dev/null; "$MP" ledger init --ledger l-map.sqlite > /dev/null
"$MP" dac import again --pai vpai.pem --paa vpaa.pem --udid-from cn --ledger l-cn.sqlite > out.txt 2> err.txt
check "--udid-from cn uses the DAC CN" grep -q "imported 1 DACs" out.txt
printf 'udid,certificate-file\nMODULE-0001,%s\n' "$one" > dmap.csv
expect 0 "--udid-from csv:FILE" "$MP" dac import again --pai vpai.pem --paa vpaa.pem --udid-from csv:dmap.csv --ledger l-map.sqlite
check "UDID from the map" test "$(sqlite3 l-map.sqlite 'select udid from certificates')" = MODULE-0001
# chips already on a chip list (the vendor's list imported first) take their DAC; a different key is refused
"$MP" chips import vsim/chips.csv --signature vsim/chips.csv.sig --signer vsim/chipmaker.pem --ledger l-pre.sqlite > /dev/null
expect 0 "dac import for chips already listed" "$MP" dac import vbundle --pai vpai.pem --paa vpaa.pem --ledger l-pre.sqlite
check "no device added twice: 6 devices, 6 issued" test "$(sqlite3 l-pre.sqlite 'select count(*), sum(state=1) from devices')" = "6|6"
printf 'udid,certificate-file\n%s,%s\n' "$(ls vbundle | sed -n 2p | cut -d_ -f1)" "$one" > swap.csv
"$MP" chips import vsim/chips.csv --signature vsim/chips.csv.sig --signer vsim/chipmaker.pem --ledger l-swap.sqlite > /dev/null
expect_err 12 "is on a chip list with another public key" "a DAC whose key is not the listed chip's is refused" "$MP" dac import again --pai vpai.pem --paa vpaa.pem --udid-from csv:swap.csv --ledger l-swap.sqlite

echo "-- batches of CSRs (dac issue --csr-dir / --csr-bundle)"
"$MP" chips simulate --count 40 --out csim > /dev/null
"$MP" chips import csim/chips.csv --signature csim/chips.csv.sig --signer csim/chipmaker.pem > /dev/null
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 100 > /dev/null
CO=$(db "select max(id) from orders where pai_key='pai'")
python3 "$GEN" csrs creq 20 csim || { echo "csr fixture failed"; exit 1; }
expect_err 13 "5 request\(s\) refused" "CSR folder: good ones issued, the run exits with the first refusal's code" "$MP" dac issue $H --order "$CO" --csr-dir creq/dir --out-dir cdacs --jobs 2
check "21 DACs written for the 21 good requests (one with attributes)" test "$(ls cdacs/*.der | wc -l)" = 21
check "one refusal line per bad request, naming file and reason" bash -c "[ \$(grep -c '^refused ' out.txt) = 5 ] && grep -q '^refused creq/dir/p384.pem: .*not EC P-256' out.txt && grep -q '^refused creq/dir/bad-signature.der: the request.s signature does not verify' out.txt && grep -q '^refused creq/dir/unknown-key.pem: its key belongs to no device on a trusted chip list' out.txt && grep -q '^refused creq/dir/not-a-request.pem: not a PKCS#10 request' out.txt && grep -Eq '^refused creq/dir/same-device.pem: the same device twice: UDID [0-9A-F]+ collides: creq/dir/0001-.* and creq/dir/same-device.pem give the same UDID' out.txt"
check "each DAC holds its request's key and verifies" bash -c "for u in \$(cat creq/good.txt); do openssl x509 -inform DER -in cdacs/\$u.der -out c.pem || exit 1; openssl verify -x509_strict -CAfile paa.pem -untrusted pai.pem c.pem > /dev/null || exit 1; done"
check "ledger: 21 certificates in the order" test "$(db "select count(*) from certificates where order_id=$CO")" = 21
expect_err 13 "5 request\(s\) refused" "a re-run issues nothing twice" "$MP" dac issue $H --order "$CO" --csr-dir creq/dir --out-dir cdacs
check "re-run: 21 done earlier, 0 issued" bash -c "[ \$(grep -c '^done ' out.txt) = 21 ] && grep -q 'issued 0 DAC(s)' out.txt"
# a crash after the commit, before the files: the next run writes them from the ledger
rm cdacs/$(sed -n 1p creq/good.txt).der cdacs/$(sed -n 2p creq/good.txt).der
db "update dac_batches set written=0 where order_id=$CO"
"$MP" dac issue $H --order "$CO" --csr-dir creq/dir --out-dir cdacs > out.txt 2>&1
check "files lost in a crash are rewritten by the re-run" bash -c "[ -f cdacs/$(sed -n 1p creq/good.txt).der ] && [ -f cdacs/$(sed -n 2p creq/good.txt).der ] && [ \$(grep -c '^done ' out.txt) = 21 ]"
expect_err 13 "5 request\(s\) refused" "--export-layout infineon on a CSR batch keeps its status" "$MP" dac issue $H --order "$CO" --csr-dir creq/dir --out-dir cdacs --export-layout infineon
check "the folder's 21 DACs also as <UDID>_E0E0.pem" bash -c "[ \$(ls cdacs/*_E0E0.pem | wc -l) = 21 ] && for u in \$(cat creq/good.txt); do cmp <(openssl x509 -in cdacs/\${u}_E0E0.pem -outform DER) cdacs/\$u.der || exit 1; done"
expect 0 "dac issue --export-layout infineon in a chip-list batch" "$MP" dac issue $H --order "$O" --count 2 --out-dir dacs --export-layout infineon
check "only that folder's DACs (2 earlier + 2 now) in the layout" test "$(ls dacs/*_E0E0.pem | wc -l)" = 4
expect 0 "a re-run's sweep leaves the layout files" "$MP" dac issue $H --order "$O" --count 1 --out-dir dacs
check "layout files kept" test "$(ls dacs/*_E0E0.pem | wc -l)" = 4
# a bundle: into another ledger
"$MP" chips import csim/chips.csv --signature csim/chips.csv.sig --signer csim/chipmaker.pem --ledger l-cb.sqlite > /dev/null
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 100 --ledger l-cb.sqlite > /dev/null
expect_err 17 "2 request\(s\) refused" "CSR bundle: good ones issued, bad ones refused" "$MP" dac issue $H --order 1 --csr-bundle creq/bundle.pem --out-dir cbdacs --ledger l-cb.sqlite
check "bundle: 20 DACs, refusals name the request number" bash -c "[ \$(ls cbdacs/*.der | wc -l) = 20 ] && grep -q '^refused creq/bundle.pem: request 3: its key belongs to no device' out.txt && grep -q '^refused creq/bundle.pem: request 22: the same device twice' out.txt"
expect_err 15 "has 3 DAC\(s\) left" "a batch beyond the quota is refused before anything is issued" bash -c "\"$MP\" ledger init --ledger l-cq.sqlite > /dev/null; \"$MP\" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 3 --ledger l-cq.sqlite > /dev/null; \"$MP\" chips import csim/chips.csv --signature csim/chips.csv.sig --signer csim/chipmaker.pem --ledger l-cq.sqlite > /dev/null; \"$MP\" dac issue $H --order 1 --csr-dir creq/dir --out-dir cqdacs --ledger l-cq.sqlite"
check "nothing issued past the quota" test "$(sqlite3 l-cq.sqlite 'select count(*) from dacs')" = 0
expect_err 2 "one of --csr-dir or --csr-bundle" "--csr-dir with --count refused" "$MP" dac issue $H --order "$CO" --csr-dir creq/dir --count 2 --out-dir x
finish
