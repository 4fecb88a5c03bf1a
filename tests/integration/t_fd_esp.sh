#!/usr/bin/env bash
# t_fd_esp.sh - the ESP32 protected forms: esp32-secure-cert with the
# commissionable data and the HMAC-encrypted DAC key, esp32-enc (the NVS
# XTS-AES encrypted with its keys partition). Golden bytes with fixed keys,
# independent readers (python3-cryptography, written from Espressif's
# descriptions), every device of a build read back, refusals.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GOLD=$ROOT/tests/golden/fd
PAI_T=$VEC/Chip-Test-PAI-FFF1-8000-Cert.pem

# Independent readers. sc.py FILE [HMACKEYHEX]: the TLVs (CRC checked), the
# key decrypted as esp_secure_cert_mgr does, printed as JSON. nvs_dec.py ENC
# KEYS OUT: every used entry XTS-AES decrypted under its offset tweak, as
# nvs_partition_gen's decrypt does.
cat > sc.py <<'PY'
import json, struct, sys, zlib, hmac, hashlib
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
b = open(sys.argv[1], 'rb').read(); off = 0; out = {}
assert len(b) == 0x2000
while off + 12 <= len(b) and b[off:off + 4] == bytes.fromhex('11ba5eba'):
    flags, typ, sub, n = b[off + 4], b[off + 8], b[off + 9], struct.unpack_from('<H', b, off + 10)[0]
    pad = (16 - n % 16) % 16
    assert struct.unpack_from('<I', b, off + 12 + n + pad)[0] == zlib.crc32(b[off:off + 12 + n + pad], 0xFFFFFFFF)
    v = b[off + 12:off + 12 + n]
    if typ == 2 and flags == 0x80:
        k = bytes.fromhex(sys.argv[2])
        aes = hmac.new(k, b'\xff' * 32, hashlib.sha256).digest()
        iv = hmac.new(k, struct.pack('<8I', *[0xABCDABCD] * 8), hashlib.sha256).digest()[:16]
        v = AESGCM(aes).decrypt(iv, v, None)
    out['%d/%d' % (typ, sub)] = {'flags': flags, 'hex': v.hex()}
    off += 12 + n + pad + 4
assert all(x == 0xFF for x in b[off:])
print(json.dumps(out))
PY
cat > nvs_dec.py <<'PY'
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
enc = bytearray(open(sys.argv[1], 'rb').read()); key = open(sys.argv[2], 'rb').read()[:64]
for p in range(0, len(enc), 4096):
    if enc[p:p + 4] == b'\xff' * 4: continue
    for i in range(126):
        if (enc[p + 32 + i // 4] >> (2 * (i % 4))) & 3 == 3: continue
        o = p + 64 + 32 * i
        enc[o:o + 32] = Cipher(algorithms.AES(key), modes.XTS(o.to_bytes(16, 'little'))).decryptor().update(bytes(enc[o:o + 32]))
open(sys.argv[3], 'wb').write(enc)
PY
HK=$(tr -d '\n' < "$GOLD/hmac.key")
KEY=$(jq -r .dac_key "$GOLD/dev.json")

# -- esp32-secure-cert: commissionable data, HMAC-encrypted key -------------------------
expect 0 "pack esp32-secure-cert --esp32-sc-commissionable --esp32-hmac-key" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-secure-cert \
    --esp32-sc-commissionable --esp32-hmac-key "$GOLD/hmac.key" --out sc.bin
check "byte-identical to golden.esp_secure_cert.cd_hmac.bin" cmp sc.bin "$GOLD/golden.esp_secure_cert.cd_hmac.bin"
check "independent reader: key entry flags 0x80, AES-256-GCM under the HMAC-derived key and IV gives the SEC1 key of dev.json" bash -c "python3 sc.py sc.bin $HK > sc.json && jq -e '.\"2/0\".flags == 128 and (.\"2/0\".hex | .[14:78]) == \"$KEY\"' sc.json"
check "type 201: discriminator u16le, verifier, salt, iterations u32le, rd-id-uid as ESP32SecureCertDataProvider reads them" bash -c "jq -e '.\"201/0\".hex == \"000f\" and .\"201/2\".hex == \"5350414b453250204b65792053616c74\" and .\"201/3\".hex == \"e8030000\" and .\"201/4\".hex == \"00112233445566778899aabbccddeeff\" and (.\"201/1\".hex | length) == 194' sc.json"
check "the DAC key is nowhere in clear in the partition" python3 -c "import sys; sys.exit(bytes.fromhex('$KEY') in open('sc.bin','rb').read())"
expect_err 10 "give it: --esp32-hmac-key" "inspect without the HMAC key says what it needs" "$MP" factory-data inspect sc.bin
head -c 32 /dev/zero > zero.key
expect_err 10 "wrong HMAC key" "a wrong HMAC key is refused" "$MP" factory-data inspect sc.bin --esp32-hmac-key zero.key
expect 0 "inspect with the HMAC key" "$MP" factory-data inspect sc.bin --esp32-hmac-key "$GOLD/hmac.key" --pai "$PAI_T" --json
check "key matches the DAC, commissionable data read" bash -c "jq -e '.checks.dac_key_matches_dac == \"ok\" and .device.discriminator == 3840 and .device.spake2p_iterations == 1000' out.txt"
expect 0 "pack esp32 --esp32-secure-cert --esp32-sc-commissionable" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32 --esp32-secure-cert --esp32-sc-commissionable --out nvs.bin
check "byte-identical to golden.sc_cd.esp32.bin" cmp nvs.bin "$GOLD/golden.sc_cd.esp32.bin"
check "the NVS omits discriminator, iteration-count, salt, verifier, rd-id-uid (esp-matter-mfg-tool does the same)" bash -c "! grep -a -q -e discriminator -e iteration-count -e verifier -e rd-id-uid nvs.bin && grep -a -q serial-num nvs.bin"
expect 0 "inspect the NVS with its secure cert partition" "$MP" factory-data inspect nvs.bin --esp32-secure-cert sc.bin --esp32-hmac-key "$GOLD/hmac.key" --pai "$PAI_T" --passcode 20202021 --json
check "one device: every check ok, verifier matches the passcode" bash -c "jq -e '([.checks[] | select(startswith(\"FAIL\"))] | length == 0) and .checks.verifier_matches_passcode == \"ok\" and .device.rd_uid == \"00112233445566778899aabbccddeeff\"' out.txt"
"$MP" factory-data pack --device "$GOLD/dev.json" --format esp32 --esp32-secure-cert --out nvs_att.bin
expect_err 10 "commissionable data too" "an NVS that still holds the commissionable data is refused with such a partition" "$MP" factory-data inspect nvs_att.bin --esp32-secure-cert "$GOLD/golden.esp_secure_cert.cd_hmac.bin" --esp32-hmac-key "$GOLD/hmac.key"

# -- esp32-enc: NVS encryption -----------------------------------------------------------
expect 0 "pack esp32-enc with the fixed keys partition" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-enc --esp32-nvs-keys "$GOLD/nvs_keys.bin" --out enc.bin
check "byte-identical to golden.esp32.enc.bin" cmp enc.bin "$GOLD/golden.esp32.enc.bin"
check "independent XTS decryption gives golden.esp32.bin exactly" bash -c "python3 nvs_dec.py enc.bin '$GOLD/nvs_keys.bin' dec.bin && cmp dec.bin '$GOLD/golden.esp32.bin'"
check "the keys partition: 64-byte key, its CRC32, 0xFF" python3 -c "
import zlib, struct, sys; b = open('$GOLD/nvs_keys.bin','rb').read()
sys.exit(not (len(b) == 4096 and struct.unpack_from('<I', b, 64)[0] == zlib.crc32(b[:64], 0xFFFFFFFF) and b[68:] == b'\xff' * 4028))"
expect 0 "inspect detects esp32-enc and reads it with the keys" "$MP" factory-data inspect enc.bin --esp32-nvs-keys "$GOLD/nvs_keys.bin" --pai "$PAI_T" --passcode 20202021 --json
check "every field, key and verifier" bash -c "jq -e '.format == \"esp32-enc\" and .device.serial_number == \"SN-0001\" and .checks.dac_key_matches_dac == \"ok\" and .checks.verifier_matches_passcode == \"ok\"' out.txt"
expect_err 10 "give its keys partition" "inspect without keys says what it needs" "$MP" factory-data inspect enc.bin
head -c 4096 /dev/zero > bad.keys
expect_err 10 "CRC32" "a keys file that is not a keys partition is refused" "$MP" factory-data inspect enc.bin --esp32-nvs-keys bad.keys
expect 0 "pack esp32-enc --esp32-nvs-keygen" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-enc --esp32-nvs-keygen new.keys --out enc2.bin
check "generated keys partition and image are 0600; the key opens only its image" bash -c "[ \$(stat -c %a new.keys) = 600 ] && [ \$(stat -c %a enc2.bin) = 600 ] && ! cmp -s enc2.bin enc.bin && \"$MP\" factory-data inspect enc2.bin --esp32-nvs-keys new.keys > /dev/null && ! \"$MP\" factory-data inspect enc2.bin --esp32-nvs-keys '$GOLD/nvs_keys.bin' > /dev/null 2>&1"
expect_err 10 "at least 0x3000" "a partition below three pages is refused" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-enc --esp32-nvs-keys "$GOLD/nvs_keys.bin" --partition-size 0x2000 --out small.bin
check "nothing written on refusal" test ! -e small.bin

# -- build: every device packed and read back ---------------------------------------------
H="--token test --pin-file pin"
new_token
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
"$MP" cd create-signer $H --key-label cds --cn "CD signer" --out cds.pem > /dev/null
cp "$ROOT/examples/product.json" product.json
"$MP" cd create $H --signer-cert cds.pem --signer-key cds --product product.json --out cd.der > /dev/null
new_order() { # new_order N DIR: an order of N off-chip devices, DACs in DIR; prints its id
    "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota "$1" > /dev/null
    local o; o=$(sqlite3 state/ledger.sqlite "select max(id) from orders")
    "$MP" dac issue $H --order "$o" --generate-keys --count "$1" --out-dir "$2" --quiet > /dev/null
    echo "$o"
}
B="--product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --iterations 1000"
O1=$(new_order 10 dacs1); O2=$(new_order 3 dacs2); O3=$(new_order 2 dacs3)
expect_err 2 "goes with --esp32-nvs-encrypt" "--esp32-nvs-keys alone" "$MP" factory-data build --order "$O1" $B --format esp32 --esp32-nvs-keys "$GOLD/nvs_keys.bin" --out-dir x
expect_err 2 "no --format esp32 to encrypt" "--esp32-nvs-encrypt without esp32" "$MP" factory-data build --order "$O1" $B --format json --esp32-nvs-encrypt --out-dir x
expect_err 2 "no --format esp32-secure-cert" "--esp32-sc-commissionable without the partition" "$MP" factory-data build --order "$O1" $B --format esp32 --esp32-sc-commissionable --out-dir x
expect_err 2 "same AES-GCM key and IV" "one HMAC key for several devices is refused" "$MP" factory-data build --order "$O1" $B --format esp32-secure-cert --esp32-hmac-key "$GOLD/hmac.key" --out-dir x
expect 0 "build --format esp32 --esp32-nvs-encrypt --format esp32-secure-cert --esp32-sc-commissionable" "$MP" factory-data build --order "$O1" $B \
    --format esp32 --esp32-nvs-encrypt --format esp32-secure-cert --esp32-sc-commissionable --out-dir fd1 --jobs 2 --keep-keys
check "per device: the encrypted NVS and the secure cert partition; no clear NVS, no CSV; nvs_keys.bin 0600" bash -c "[ \$(ls fd1/*.esp32.enc.bin | wc -l) = 10 ] && [ \$(ls fd1/*.esp_secure_cert.bin | wc -l) = 10 ] && ! ls fd1/*.esp32.bin fd1/*.esp32.csv 2>/dev/null | grep -q . && [ \$(stat -c %a fd1/nvs_keys.bin) = 600 ]"
check "no DAC key in clear in any NVS image, no XTS key anywhere but nvs_keys.bin" python3 -c "
import glob, sys
k = open('fd1/nvs_keys.bin','rb').read()[:64]; bad = 0
for kf in glob.glob('dacs1/*.key.der'):
    s = open(kf,'rb').read()[7:39]
    for f in glob.glob('fd1/*.esp32.enc.bin'): bad += s in open(f,'rb').read()
for f in glob.glob('fd1/*'):
    if not f.endswith('nvs_keys.bin'):
        d = open(f,'rb').read(); bad += k[:32] in d or k[32:] in d or k.hex().encode() in d
sys.exit(bad != 0 or len(glob.glob('dacs1/*.key.der')) != 10)"
readback() { # readback DIR [extra inspect args]: every device, NVS + secure cert, passcode from onboarding.csv
    local dir=$1 n=0; shift
    while IFS=, read -r u _ _ _ _ pc _; do
        "$MP" factory-data inspect "$dir/$u.esp32.enc.bin" --esp32-nvs-keys "$dir/nvs_keys.bin" --esp32-secure-cert "$dir/$u.esp_secure_cert.bin" "$@" \
            --pai pai.pem --cd cd.der --passcode "$((10#$pc))" --manifest "$dir/manifest.jsonl" --json > rb.json || return 1
        jq -e '.format == "esp32-enc" and ([.checks[] | select(startswith("FAIL"))] | length == 0) and .checks.verifier_matches_passcode == "ok" and .checks.dac_key_matches_dac == "ok"' rb.json > /dev/null || return 1
        python3 nvs_dec.py "$dir/$u.esp32.enc.bin" "$dir/nvs_keys.bin" plain.bin && ! grep -a -q -e discriminator -e verifier plain.bin && grep -a -q chip-factory plain.bin || return 1
        n=$((n + 1))
    done < <(tail -n +2 "$dir/onboarding.csv")
    [ "$n" -gt 0 ]
}
check "every device read back: decrypted, merged with its partition, every check ok (and the independent decryption)" bash -c "$(declare -f readback); MP='$MP' readback fd1"
cp "$GOLD/nvs_keys.bin" given.keys
expect 0 "build --esp32-nvs-keys FILE (given keys)" "$MP" factory-data build --order "$O2" $B --format esp32 --esp32-nvs-encrypt --esp32-nvs-keys given.keys --out-dir fd2
check "given keys: no nvs_keys.bin written; each image opens with the given keys" bash -c "[ ! -e fd2/nvs_keys.bin ] && for f in fd2/*.esp32.enc.bin; do \"$MP\" factory-data inspect \$f --esp32-nvs-keys given.keys > /dev/null || exit 1; done && [ \$(ls fd2/*.esp32.enc.bin | wc -l) = 3 ]"
U3=$(sqlite3 state/ledger.sqlite "select udid from certificates where order_id = $O3 order by udid limit 1")
expect 0 "build --esp32-hmac-key for one device (--udid)" "$MP" factory-data build --order "$O3" $B --format esp32-secure-cert --esp32-hmac-key "$GOLD/hmac.key" --udid "$U3" --out-dir fd3
check "its key entry is encrypted and reads back with the key only" bash -c "python3 sc.py fd3/$U3.esp_secure_cert.bin $HK | jq -e '.\"2/0\".flags == 128' && \"$MP\" factory-data inspect fd3/$U3.esp_secure_cert.bin --esp32-hmac-key '$GOLD/hmac.key' --pai pai.pem > /dev/null && ! \"$MP\" factory-data inspect fd3/$U3.esp_secure_cert.bin > /dev/null 2>&1"

finish
