#!/usr/bin/env bash
# t_fd_formats.sh - every factory-data format of the table: byte-level golden
# images of one device (tests/golden/fd), read back by inspect; the format
# lists of the commands come from the table.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GOLD=$ROOT/tests/golden/fd

# format extension (as the table in factory-data/fd_formats.c says)
FORMATS="nrf:nrf.cbor nrf-json:nrf.json esp32:esp32.bin esp32-csv:esp32.csv nxp:nxp.bin json:json linux:chip_factory.ini"

for fe in $FORMATS; do
    f=${fe%%:*} e=${fe#*:}
    expect 0 "pack $f" "$MP" factory-data pack --device "$GOLD/dev.json" --format "$f" --out "g.$e"
    check "$f: byte-identical to tests/golden/fd/golden.$e" cmp "g.$e" "$GOLD/golden.$e"
    expect 0 "inspect golden.$e (format detected)" "$MP" factory-data inspect "$GOLD/golden.$e" --json \
        --pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem" --passcode 20202021
    check "$f: detected and every field read back" bash -c "jq -e '.format == \"$f\" and .device.serial_number == \"SN-0001\" and .device.discriminator == 3840 and .checks.verifier_matches_passcode == \"ok\" and .checks.dac_chains_to_pai == \"ok\"' out.txt"
done

# the --format choices of pack, inspect and build are the table's
"$MP" factory-data pack --help > pack-help.txt
"$MP" factory-data build --help > build-help.txt
check "pack --help lists every format" bash -c "grep -q -- '--format nrf|nrf-json|esp32|esp32-csv|nxp|json|linux|nrf-hex|nxp-hex|nxp-aes128|esp32-secure-cert' pack-help.txt"
check "build --help lists the build formats (no side outputs)" bash -c "grep -q -- '--format nrf|esp32|nxp|json|linux|esp32-secure-cert|silabs ' build-help.txt"
expect_err 2 "not one of nrf|nrf-json" "an unknown format is refused with the table's list" "$MP" factory-data pack --device "$GOLD/dev.json" --format bogus --out x

# -- linux: chip_factory.ini ----------------------------------------------------
check "linux: [DEFAULT] section, SDK keys, base64 blobs" bash -c "head -1 '$GOLD/golden.chip_factory.ini' | grep -qx '\[DEFAULT\]' && grep -qx 'serial-num=SN-0001' '$GOLD/golden.chip_factory.ini' && grep -qx 'discriminator=3840' '$GOLD/golden.chip_factory.ini' && grep -qx 'salt=U1BBS0UyUCBLZXkgU2FsdA==' '$GOLD/golden.chip_factory.ini' && grep -q '^device-cert=MIIB' '$GOLD/golden.chip_factory.ini'"
check "linux: no passcode unless asked (spec 5.1.7)" bash -c "! grep -q '^pin-code=' '$GOLD/golden.chip_factory.ini'"
sed 's/^product-id=.*/product-id=32768\nbogus=1/' "$GOLD/golden.chip_factory.ini" > unknown.chip_factory.ini
expect_err 10 "linux: line 5: unknown key 'bogus'" "linux: an unknown key is refused with its line" "$MP" factory-data inspect unknown.chip_factory.ini
sed '3s/^/; a comment\n  /' "$GOLD/golden.chip_factory.ini" | sed 's/^vendor-id=/vendor-id = /' > spaced.chip_factory.ini
expect 0 "linux: comments and spaces around '=' read as the SDK's parser does" "$MP" factory-data inspect spaced.chip_factory.ini
{ cat "$GOLD/golden.chip_factory.ini"; echo "vendor-id=65521"; } > twice.chip_factory.ini
expect_err 10 "key 'vendor-id' given twice" "linux: a repeated key is refused" "$MP" factory-data inspect twice.chip_factory.ini
sed 's/^\[DEFAULT\]/[chip-factory]/' "$GOLD/golden.chip_factory.ini" > sect.chip_factory.ini
expect_err 10 "line 1: expected the section \\[DEFAULT\\]" "linux: another section is refused" "$MP" factory-data inspect sect.chip_factory.ini --format linux
sed 's/^discriminator=.*/discriminator=0x10/' "$GOLD/golden.chip_factory.ini" > hex.chip_factory.ini
expect_err 10 "key 'discriminator': expected a decimal integer" "linux: a non-decimal integer is refused" "$MP" factory-data inspect hex.chip_factory.ini
jq '.vendor_name = " Acme"' "$GOLD/dev.json" > space.json
expect_err 10 "vendor-name .* white space" "linux: a value the INI parser would change is refused" "$MP" factory-data pack --device space.json --format linux --out sp.ini
check "linux: nothing written after the refusal" test ! -e sp.ini

# -- Intel HEX forms (nrf-hex, nxp-hex) ---------------------------------------------
expect 0 "pack nrf-hex at 0xFFF80" "$MP" factory-data pack --device "$GOLD/dev.json" --format nrf-hex --offset 0xFFF80 --partition-size 0x1000 --out g.nrf.hex
check "nrf-hex: byte-identical to golden.nrf.hex" cmp g.nrf.hex "$GOLD/golden.nrf.hex"
expect 0 "pack nxp-hex at 0x9D600" "$MP" factory-data pack --device "$GOLD/dev.json" --format nxp-hex --offset 0x9D600 --partition-size 0x1000 --out g.nxp.hex
check "nxp-hex: byte-identical to golden.nxp.hex" cmp g.nxp.hex "$GOLD/golden.nxp.hex"
check "objcopy reads the hex files back to the raw images at their addresses" bash -c "objcopy -I ihex -O binary g.nrf.hex a.bin && cmp a.bin '$GOLD/golden.nrf.cbor' && objcopy -I ihex -O binary g.nxp.hex b.bin && cmp b.bin '$GOLD/golden.nxp.bin' && grep -qx ':02000004000FEB' g.nrf.hex && grep -qx ':020000040010EA' g.nrf.hex && grep -q '^:10D60000' g.nxp.hex && tail -1 g.nxp.hex | grep -qx ':00000001FF'"
for e in nrf.hex nxp.hex; do
    expect 0 "inspect $e (detected)" "$MP" factory-data inspect "g.$e" --json --pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem" --passcode 20202021
    check "$e: read back" bash -c "jq -e '.format == \"${e%.hex}-hex\" and .checks.verifier_matches_passcode == \"ok\" and .checks.dac_key_matches_dac == \"ok\"' out.txt"
done
sed '5s/.$/0/' g.nrf.hex | sed '5s/.$/0/' > bad.nrf.hex
cmp -s bad.nrf.hex g.nrf.hex && sed -i '5s/.$/1/' bad.nrf.hex
expect_err 10 "intel hex: line 5: checksum mismatch" "nrf-hex: a corrupted record is refused" "$MP" factory-data inspect bad.nrf.hex
head -n -1 g.nxp.hex > cut.nxp.hex
expect_err 10 "no end-of-file record" "nxp-hex: a truncated file is refused" "$MP" factory-data inspect cut.nxp.hex
sed '4d' g.nxp.hex > gap.nxp.hex
expect_err 10 "not contiguous" "nxp-hex: a missing record is refused" "$MP" factory-data inspect gap.nxp.hex
expect_err 10 "the image is 1462 bytes; the partition \\(--partition-size\\) holds 1024" "an image larger than the partition is refused" "$MP" factory-data pack --device "$GOLD/dev.json" --format nrf-hex --offset 0xF8000 --partition-size 0x400 --out big.nrf.hex
check "nothing written after the refusal" test ! -e big.nrf.hex
expect_err 10 "holds 1024" "the raw nrf image is bounded by --partition-size too" "$MP" factory-data pack --device "$GOLD/dev.json" --format nrf --partition-size 0x400 --out big.nrf.cbor
expect_err 2 "--offset and --partition-size are required" "nrf-hex without the partition's address" "$MP" factory-data pack --device "$GOLD/dev.json" --format nrf-hex --out x.nrf.hex

# -- nxp-aes128: NXP's AES-128 encrypted variant ----------------------------------------
expect 0 "pack nxp-aes128" "$MP" factory-data pack --device "$GOLD/dev.json" --format nxp-aes128 --nxp-aes128-key "$GOLD/aes128.key" --out g.nxp.aes128.bin
check "nxp-aes128: byte-identical to golden.nxp.aes128.bin" cmp g.nxp.aes128.bin "$GOLD/golden.nxp.aes128.bin"
check "nxp-aes128: python-cryptography decrypts it to the clear image's KLV + zero padding, hash over both" python3 -c "
import hashlib, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
b = open('g.nxp.aes128.bin', 'rb').read(); plain = open('$GOLD/golden.nxp.bin', 'rb').read()
n = int.from_bytes(b[4:8], 'little'); k = bytes.fromhex(open('$GOLD/aes128.key').read().strip())
d = Cipher(algorithms.AES(k), modes.ECB()).decryptor(); p = d.update(b[12:12 + n]) + d.finalize()
size = len(plain) - 12
sys.exit(not (b[:4] == plain[:4] and n % 16 == 0 and 1 <= n - size <= 16 and p[:size] == plain[12:] and not any(p[size:]) and hashlib.sha256(p).digest()[:4] == b[8:12] and len(b) == 12 + n))"
expect 0 "inspect nxp-aes128 with the key" "$MP" factory-data inspect g.nxp.aes128.bin --nxp-aes128-key "$GOLD/aes128.key" --json --pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem" --passcode 20202021
check "nxp-aes128: detected, read back, key matches" bash -c "jq -e '.format == \"nxp-aes128\" and .checks.dac_key_matches_dac == \"ok\" and .checks.verifier_matches_passcode == \"ok\"' out.txt"
expect_err 10 "give its AES-128 key: --nxp-aes128-key FILE\\) or a corrupted one" "nxp-aes128 without the key (or a corrupted clear image: exit 10 either way)" "$MP" factory-data inspect g.nxp.aes128.bin
printf '000102030405060708090a0b0c0d0e0f\n' > wrong.key
expect_err 10 "wrong key" "nxp-aes128 with a wrong key" "$MP" factory-data inspect g.nxp.aes128.bin --nxp-aes128-key wrong.key
printf 'short' > short.key
expect_err 10 "16 bytes, or 32 hex digits" "a key file that is not a key" "$MP" factory-data pack --device "$GOLD/dev.json" --format nxp-aes128 --nxp-aes128-key short.key --out x.bin

# -- esp32-secure-cert: the esp_secure_cert TLV partition ---------------------------------
GSC=$GOLD/golden.esp_secure_cert.bin
expect 0 "pack esp32-secure-cert" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-secure-cert --out g.sc.bin
check "esp32-secure-cert: byte-identical to golden.esp_secure_cert.bin" cmp g.sc.bin "$GSC"
check "esp32-secure-cert: TLVs as esp_secure_cert_mgr reads them (magic, types 0/1/2, padding, CRC32), then erased flash" python3 -c "
import zlib, sys
b = open('g.sc.bin', 'rb').read(); off = 0; types = []
while b[off:off + 4] == bytes.fromhex('11ba5eba'):
    n = int.from_bytes(b[off + 10:off + 12], 'little'); pad = (16 - n % 16) % 16
    crc = int.from_bytes(b[off + 12 + n + pad:off + 16 + n + pad], 'little')
    if zlib.crc32(b[off:off + 12 + n + pad], 0xFFFFFFFF) != crc: sys.exit(1)  # esp_crc32_le(UINT32_MAX, ...)
    types.append((b[off + 8], b[off + 9], n, b[off + 4])); off += 16 + n + pad
sys.exit(not ([t[0] for t in types] == [0, 1, 2] and types[2][2] == 121 and all(t[1] == 0 and t[3] == 0 for t in types) and len(b) == 0x2000 and set(b[off:]) == {0xFF}))"
expect 0 "inspect esp32-secure-cert alone: key and chain" "$MP" factory-data inspect g.sc.bin --json --pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem"
check "esp32-secure-cert: detected; key matches DAC; chains to the PAI" bash -c "jq -e '.format == \"esp32-secure-cert\" and .checks.dac_key_matches_dac == \"ok\" and .checks.dac_chains_to_pai == \"ok\"' out.txt"
expect 0 "pack esp32 --esp32-secure-cert (NVS without DAC, PAI, key)" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32 --esp32-secure-cert --out sc.esp32.bin
check "the NVS omits dac-cert, dac-key, dac-pub-key, pai-cert" bash -c "! grep -q -a -e dac-cert -e dac-key -e pai-cert sc.esp32.bin && grep -q -a cert-dclrn sc.esp32.bin"
expect_err 10 "give that partition: --esp32-secure-cert" "the NVS alone says what is missing" "$MP" factory-data inspect sc.esp32.bin
expect 0 "inspect the NVS with its esp_secure_cert partition" "$MP" factory-data inspect sc.esp32.bin --esp32-secure-cert g.sc.bin --json --pai "$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem" --passcode 20202021
check "NVS + secure cert: one complete device, every check ok" bash -c "jq -e '([.checks[] | select(startswith(\"FAIL\"))] | length == 0) and .checks.dac_key_matches_dac == \"ok\" and .checks.verifier_matches_passcode == \"ok\" and .checks.image_cd_covers_vid_pid == \"ok\"' out.txt"
cp g.sc.bin bad.sc.bin; printf '\x00' | dd of=bad.sc.bin bs=1 seek=40 conv=notrunc 2> /dev/null
expect_err 10 "CRC mismatch" "esp32-secure-cert: a corrupted entry is refused" "$MP" factory-data inspect bad.sc.bin

# -- build --format linux: every device of an off-chip and a chip-list order ------
H="--token test --pin-file pin"
new_pki
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 100 > /dev/null
"$MP" dac issue $H --order 1 --generate-keys --count 12 --out-dir dacs --quiet > /dev/null
"$MP" chips simulate --count 8 --out sim > /dev/null
"$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem > /dev/null
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 10 > /dev/null
"$MP" dac issue $H --order 2 --out-dir dacs2 --quiet > /dev/null
B="--product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --iterations 1000"
expect 0 "build --format linux --format nxp (off-chip keys)" "$MP" factory-data build --order 1 $B --format linux --format nxp --out-dir fd1 --jobs 2 --keep-keys
expect 0 "build --format linux (chip-list devices: no key in the file)" "$MP" factory-data build --order 2 $B --format linux --out-dir fd2
check "one chip_factory.ini per device" bash -c "[ \$(ls fd1/*.chip_factory.ini | wc -l) = 12 ] && [ \$(ls fd2/*.chip_factory.ini | wc -l) = 8 ]"
check "off-chip: 0600 with device-key; chip-list: 0644 without" bash -c "for f in fd1/*.chip_factory.ini; do [ \$(stat -c %a \$f) = 600 ] && grep -q '^device-key=' \$f || exit 1; done; for f in fd2/*.chip_factory.ini; do [ \$(stat -c %a \$f) = 644 ] && ! grep -q '^device-key=' \$f || exit 1; done"
readback() { # every device of DIR read back: chain, verifier against onboarding.csv, listed in the manifest
    local dir=$1 n=0
    while IFS=, read -r u _ _ _ _ pc _; do
        "$MP" factory-data inspect "$dir/$u.chip_factory.ini" --pai pai.pem --cd cd.der --passcode "$((10#$pc))" --manifest "$dir/manifest.jsonl" --json > rb.json || return 1
        jq -e '.format == "linux" and ([.checks[] | select(startswith("FAIL"))] | length == 0) and .checks.verifier_matches_passcode == "ok" and .checks.dac_chains_to_pai == "ok"' rb.json > /dev/null || return 1
        n=$((n + 1))
    done < <(tail -n +2 "$dir/onboarding.csv")
    [ "$n" -gt 0 ]
}
check "every off-chip device read back (key matches its DAC)" bash -c "$(declare -f readback); MP='$MP' readback fd1 && for f in fd1/*.chip_factory.ini; do \"$MP\" factory-data inspect \$f --json | jq -e '.checks.dac_key_matches_dac == \"ok\"' > /dev/null || exit 1; done"
check "every chip-list device read back" bash -c "$(declare -f readback); MP='$MP' readback fd2"

# -- build --hex: raw images and their Intel HEX forms ---------------------------------
# each build below gets an order of its own (a device is built once, whatever the folder)
new_order() { # new_order N DIR: an order of N off-chip devices, DACs in DIR; prints its id
    "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota "$1" > /dev/null
    local o; o=$(sqlite3 state/ledger.sqlite "select max(id) from orders")
    "$MP" dac issue $H --order "$o" --generate-keys --count "$1" --out-dir "$2" --quiet > /dev/null
    echo "$o"
}
OH=$(new_order 6 dacs3); OA=$(new_order 6 dacs4); OS=$(new_order 6 dacs5)
expect_err 10 "holds 1024" "build: an image larger than the partition is refused" "$MP" factory-data build --order "$OH" $B --format nxp --hex --offset 0xF8000 --partition-size 0x400 --out-dir fdbig
expect_err 2 "--offset ADDR and --partition-size BYTES are required" "build --hex needs the partition" "$MP" factory-data build --order "$OH" $B --format nrf --hex --out-dir fdh
expect_err 2 "no.*Intel HEX form|none of the formats" "build --hex with no hex-capable format" "$MP" factory-data build --order "$OH" $B --format json --hex --offset 0xF8000 --partition-size 0x1000 --out-dir fdh
expect 0 "build --format nrf --format nxp --hex" "$MP" factory-data build --order "$OH" $B --format nrf --format nxp --hex --offset 0xF8000 --partition-size 0x1000 --out-dir fdh --jobs 2
check "raw images and hex forms per device" bash -c "[ \$(ls fdh/*.nrf.cbor | wc -l) = 6 ] && [ \$(ls fdh/*.nrf.hex | wc -l) = 6 ] && [ \$(ls fdh/*.nxp.hex | wc -l) = 6 ] && [ \$(ls fdh/*.nxp.bin | wc -l) = 6 ]"
check "each hex file is its raw image at 0xF8000 (objcopy) and 0600" bash -c "for h in fdh/*.hex; do b=\${h%.hex}; raw=\$b.bin; [ -e \$raw ] || raw=\$b.cbor; objcopy -I ihex -O binary \$h x.bin && cmp x.bin \$raw && grep -q '^:10800000' \$h && [ \$(stat -c %a \$h) = 600 ] || exit 1; done"
check "the ledger records each hex form's SHA-256 (a rebuild must give the same bytes)" bash -c "[ \$(sqlite3 state/ledger.sqlite \"select count(*) from fd_images where format in ('nrf-hex','nxp-hex')\") = 12 ] && u=\$(ls fdh/*.nrf.hex | head -1) && s=\$(sha256sum \$u | cut -c1-64) && [ \$(sqlite3 state/ledger.sqlite \"select count(*) from fd_images where format = 'nrf-hex' and sha256 = '\$s'\") = 1 ]"
printf '2b7e151628aed2a6abf7158809cf4f3c\n' > build.key
expect 0 "build --format nxp --nxp-aes128-key" "$MP" factory-data build --order "$OA" $B --format nxp --nxp-aes128-key build.key --out-dir fda --keep-keys
check "encrypted images only: no clear UDID.nxp.bin" bash -c "[ \$(ls fda/*.nxp.aes128.bin | wc -l) = 6 ] && ! ls fda/*.nxp.bin 2>/dev/null | grep -q ."
check "no DAC key and no AES key in clear in any output file" python3 -c "
import glob, sys
k = bytes.fromhex('2b7e151628aed2a6abf7158809cf4f3c'); bad = 0
files = glob.glob('fda/*') + glob.glob('fda/.*')
assert len(glob.glob('dacs4/*.key.der')) == 6
for kf in glob.glob('dacs4/*.key.der'):
    scalar = open(kf, 'rb').read()[7:39]
    for f in files:
        try: data = open(f, 'rb').read()
        except IsADirectoryError: continue
        if scalar in data or k in data or k.hex().encode() in data: bad += 1
sys.exit(bad != 0 or len(files) < 6)"
check "each encrypted image reads back with the key" bash -c "for f in fda/*.nxp.aes128.bin; do \"$MP\" factory-data inspect \$f --nxp-aes128-key build.key --pai pai.pem --json | jq -e '.checks.dac_key_matches_dac == \"ok\" and .checks.dac_chains_to_pai == \"ok\"' > /dev/null || exit 1; done"
expect_err 2 "no --format nxp to encrypt" "--nxp-aes128-key without nxp" "$MP" factory-data build --order "$OA" $B --format json --nxp-aes128-key build.key --out-dir fdx
expect_err 2 "in clear" "--hex with --nxp-aes128-key (its hex would be clear)" "$MP" factory-data build --order "$OA" $B --format nxp --nxp-aes128-key build.key --hex --offset 0x1000 --partition-size 0x1000 --out-dir fdx
expect 0 "build --format esp32 --format esp32-secure-cert" "$MP" factory-data build --order "$OS" $B --format esp32 --format esp32-secure-cert --out-dir fds
check "per device: NVS without attestation, its CSV, the secure cert partition" bash -c "[ \$(ls fds/*.esp_secure_cert.bin | wc -l) = 6 ] && [ \$(ls fds/*.esp32.bin | wc -l) = 6 ] && ! grep -l -a -e dac-key -e dac-cert fds/*.esp32.bin fds/*.esp32.csv | grep -q ."
check "every device: NVS + secure cert read back, every check ok" bash -c "for s in fds/*.esp_secure_cert.bin; do u=\${s%.esp_secure_cert.bin}; \"$MP\" factory-data inspect \$u.esp32.bin --esp32-secure-cert \$s --pai pai.pem --cd cd.der --json | jq -e '([.checks[] | select(startswith(\"FAIL\"))] | length == 0) and .checks.dac_key_matches_dac == \"ok\"' > /dev/null || exit 1; done"

finish
