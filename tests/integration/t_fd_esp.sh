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

# -- the chip's own key in eFuse (ECDSA peripheral) -----------------------------------------
jq 'del(.dac_key)' "$GOLD/dev.json" > nokey.json
expect 0 "pack esp32-secure-cert --esp32-ecdsa-efuse-key-id 1 (a chip-held key)" "$MP" factory-data pack --device nokey.json --format esp32-secure-cert --esp32-sc-commissionable --esp32-ecdsa-efuse-key-id 1 --out ef.bin
check "byte-identical to golden.esp_secure_cert.efuse.bin" cmp ef.bin "$GOLD/golden.esp_secure_cert.efuse.bin"
check "independent reader: key entry empty with flags 0x08, type 6 = block 5 and 39 zero bytes" bash -c "python3 sc.py ef.bin > ef.json && jq -e '.\"2/0\" == {flags: 8, hex: \"\"} and .\"6/0\".hex == (\"05\" + (\"00\" * 39)) and .\"201/3\".hex == \"e8030000\"' ef.json"
expect 0 "the NVS beside it, without DAC, PAI, key" "$MP" factory-data pack --device nokey.json --format esp32 --esp32-secure-cert --esp32-sc-commissionable --esp32-ecdsa-efuse-key-id 1 --out ef.nvs.bin
expect 0 "inspect the pair" "$MP" factory-data inspect ef.nvs.bin --esp32-secure-cert ef.bin --pai "$PAI_T" --passcode 20202021 --json
check "read back: the key's eFuse key id 1, no key, chain and verifier ok" bash -c "jq -e '.device.dac_key == false and .device.dac_key_efuse_key_id == 1 and .checks.dac_chains_to_pai == \"ok\" and .checks.verifier_matches_passcode == \"ok\"' out.txt"
expect_err 10 "held in the chip, but the device has dac_key" "an off-chip key is refused (it would have to be burned from a file in clear)" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-secure-cert --esp32-ecdsa-efuse-key-id 1 --out ef2.bin
expect_err 10 "esp_secure_cert partition" "an NVS without DAC and key but without its partition is refused" "$MP" factory-data pack --device nokey.json --format esp32 --esp32-ecdsa-efuse-key-id 1 --out ef3.bin
check "nothing written on refusal" bash -c "[ ! -e ef2.bin ] && [ ! -e ef3.bin ]"
# --esp-ds: the DS peripheral signs RSA only; a DAC key is P-256: refused, pointing at the two forms that apply
head -c 1200 /dev/urandom > ds.bin
DSWHY="--esp-ds: not applicable to a Matter DAC: .*RSA keys only.*ECDSA P-256.*--esp32-ecdsa-efuse-key-id N.*--esp32-hmac-key FILE"
expect_err 2 "factory-data pack $DSWHY" "pack --esp-ds: refused, saying why and what to use" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-secure-cert --esp-ds ds.bin --out ds.out.bin
expect_err 2 "$DSWHY" "pack --esp-ds with a file that does not exist: the same refusal (its file is never read)" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-secure-cert --esp-ds no-such-file --out ds.out.bin
check "nothing written" test ! -e ds.out.bin
python3 - "$GOLD/golden.esp_secure_cert.bin" ds.part.bin <<'PY'
import struct, sys, zlib
b = bytearray(open(sys.argv[1], 'rb').read()); off = 0
while b[off:off + 4] == b'\x11\xba\x5e\xba':  # the key entry (type 2) made type 3, the DS peripheral's data, CRC fixed
    n = b[off + 10] | b[off + 11] << 8; end = off + 12 + n + (16 - n % 16) % 16
    if b[off + 8] == 2: b[off + 8] = 3; b[end:end + 4] = struct.pack('<I', zlib.crc32(bytes(b[off:end]), 0xFFFFFFFF))
    off = end + 4
open(sys.argv[2], 'wb').write(b)
PY
expect_err 10 "digital-signature peripheral's encrypted key block \\(types 3, 4\\), which holds an RSA key" "inspect of a partition whose key is the RSA DS block says so" "$MP" factory-data inspect ds.part.bin

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

# -- extra NVS entries (--esp32-extra-config / --esp32-extra-values) --------------------------
printf 'key,type,encoding\nchip-factory,namespace,\nfl-sz/1,data,u32\nfl-k/1/0,data,string\nfl-v/1/0,data,string\nlocale-sz,data,u32\nlocale/0,data,string\napp,namespace,\nfw_key,data,hex2bin\ncounter,data,i32\nbig,data,u64\ntoken,data,base64\n' > xcfg.csv
printf 'udid,fl-sz/1,fl-k/1/0,fl-v/1/0,locale-sz,locale/0,fw_key,counter,big,token\nD1,1,room,"kitchen, north",1,en-US,1a2b3c4d5e6faabb,-5,18446744073709551615,aGVsbG8=\n' > xvals.csv
expect 0 "pack esp32 with extra entries" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32 --esp32-extra-config xcfg.csv --esp32-extra-values xvals.csv --out x.esp32.bin
expect 0 "inspect lists them (nvs_other) and the device still reads back" "$MP" factory-data inspect x.esp32.bin --json --passcode 20202021
check "every extra entry read back with its type: u32, strings (quoted comma), hex2bin, i32 -5, u64 max, base64" bash -c "jq -e '.nvs_other == {\"chip-factory\": {\"fl-sz/1\": 1, \"fl-k/1/0\": \"room\", \"fl-v/1/0\": \"kitchen, north\", \"locale-sz\": 1, \"locale/0\": \"en-US\"}, \"app\": {\"fw_key\": \"1a2b3c4d5e6faabb\", \"counter\": -5, \"big\": \"18446744073709551615\", \"token\": \"68656c6c6f\"}} and .checks.verifier_matches_passcode == \"ok\"' out.txt"
expect 0 "pack esp32-csv with extra entries" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-csv --esp32-extra-config xcfg.csv --esp32-extra-values xvals.csv --out x.esp32.csv
check "the CSV lists them after matter-pki's keys, namespace app opened once" bash -c "tail -10 x.esp32.csv | head -1 | grep -qx 'fl-sz/1,data,u32,1' && grep -qx 'app,namespace,,' x.esp32.csv && grep -qx 'counter,data,i32,-5' x.esp32.csv && grep -qx 'fl-v/1/0,data,string,\"kitchen, north\"' x.esp32.csv"
if python3 -c 'import esp_idf_nvs_partition_gen' 2> /dev/null; then
    check "Espressif's generator makes the same image from the CSV" bash -c "python3 -m esp_idf_nvs_partition_gen generate x.esp32.csv gen.bin 0x6000 > /dev/null && cmp gen.bin x.esp32.bin"
    check "Espressif's generator encrypts golden.esp32.csv to golden.esp32.enc.bin" bash -c "python3 -m esp_idf_nvs_partition_gen encrypt '$GOLD/golden.esp32.csv' genenc.bin 0x6000 --inputkey '$GOLD/nvs_keys.bin' > /dev/null && cmp genenc.bin '$GOLD/golden.esp32.enc.bin'"
else
    echo "  skip Espressif's generator comparison (python3 -m esp_idf_nvs_partition_gen not installed)"
fi
expect 0 "pack esp32-enc with extra entries" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-enc --esp32-nvs-keys "$GOLD/nvs_keys.bin" --esp32-extra-config xcfg.csv --esp32-extra-values xvals.csv --out x.enc.bin
expect 0 "inspect the encrypted image: the extras decrypted too" "$MP" factory-data inspect x.enc.bin --esp32-nvs-keys "$GOLD/nvs_keys.bin" --json
check "same extras as the clear image" bash -c "jq -e '.nvs_other.app.fw_key == \"1a2b3c4d5e6faabb\" and .nvs_other[\"chip-factory\"][\"locale/0\"] == \"en-US\"' out.txt && ! grep -a -q en-US x.enc.bin"
xbad() { # xbad WANT DESC CONFIG-LINES VALUES-LINES: a refused pair of files
    printf "$3" > bad.cfg; printf "$4" > bad.vals
    expect_err 10 "$1" "$2" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32 --esp32-extra-config bad.cfg --esp32-extra-values bad.vals --out bad.bin
}
xbad "bad.cfg:2: key 'k': encoding 'u33'" "an unknown encoding names file and line" 'app,namespace,\nk,data,u33\n' 'udid,k\nD,1\n'
xbad "bad.vals:2: column k: '300' is not a decimal u8" "a value out of its type's range names line and column" 'app,namespace,\nk,data,u8\n' 'udid,k\nD,300\n'
xbad "writes chip-factory/serial-num itself" "a key matter-pki writes is refused" 'chip-factory,namespace,\nserial-num,data,string\n' 'udid,serial-num\nD,x\n'
xbad "only .data. is taken" "file lines are refused (a path per device)" 'app,namespace,\nk,data,u8\nf,file,binary\n' 'udid,k,f\nD,1,x\n'
xbad "4th column" "REPEAT is refused" 'app,namespace,\nk,data,string,REPEAT\n' 'udid,k\nD,x\n'
xbad "no column for key k2" "a key without a values column" 'app,namespace,\nk,data,u8\nk2,data,u8\n' 'udid,k\nD,1\n'
xbad "before any" "a key before its namespace" 'k,data,u8\n' 'udid,k\nD,1\n'
xbad "derived Wi-Fi entries" "Wi-Fi keys the generator expands are refused" 'wifi,namespace,\nsta.ssid,data,string\n' 'udid,sta.ssid\nD,x\n'
xbad "column k: not hex" "odd hex is refused" 'app,namespace,\nk,data,hex2bin\n' 'udid,k\nD,abc\n'
xbad "printable ASCII" "a key with a byte outside printable ASCII is refused" 'app,namespace,\nk\xc3\xa9,data,u8\n' 'udid,k\xc3\xa9\nD,1\n'
printf 'app,namespace,\ns,data,string\n' > big.cfg
{ printf 'udid,s\nD,'; head -c 4000 /dev/zero | tr '\0' a; printf '\n'; } > big.vals
expect_err 10 "big.vals:2: column s: a string holds at most 3999 bytes \\(is 4000\\)" "a string over NVS's 3999 bytes names line and column" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32 --esp32-extra-config big.cfg --esp32-extra-values big.vals --out bad.bin
printf 'app,namespace,\ns1,data,string\ns2,data,string\ns3,data,string\n' > fill.cfg
{ printf 'udid,s1,s2,s3\nD'; for i in 1 2 3; do printf ,; head -c 3000 /dev/zero | tr '\0' b; done; printf '\n'; } > fill.vals
expect_err 10 "does not fit a partition of 0x3000 bytes \\(the last page stays reserved\\); raise --partition-size" "esp32-enc: entries past the usable pages of --partition-size 0x3000 are refused" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-enc --esp32-nvs-keys "$GOLD/nvs_keys.bin" --partition-size 0x3000 --esp32-extra-config fill.cfg --esp32-extra-values fill.vals --out bad.bin
expect 0 "the same entries fit 0x6000" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32-enc --esp32-nvs-keys "$GOLD/nvs_keys.bin" --partition-size 0x6000 --esp32-extra-config fill.cfg --esp32-extra-values fill.vals --out fill.enc.bin
check "and read back decrypted, each 3000-byte string whole" bash -c "\"$MP\" factory-data inspect fill.enc.bin --esp32-nvs-keys '$GOLD/nvs_keys.bin' --json | jq -e '[.nvs_other.app.s1, .nvs_other.app.s2, .nvs_other.app.s3] | map(length) == [3000, 3000, 3000]'"
check "nothing written by the refusals" test ! -e bad.bin
printf 'app,namespace,\ns,data,string\n' > u.cfg; printf 'udid,s\nD,a\xae\n' > u.vals
expect 0 "a string that is not UTF-8 is stored as given" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32 --esp32-extra-config u.cfg --esp32-extra-values u.vals --out u.bin
check "and listed as hex:<bytes> (found by fuzz_fd_extras: it was left out of nvs_other)" bash -c "\"$MP\" factory-data inspect u.bin --json | jq -e '.nvs_other.app.s == \"hex:61ae\"'"
printf 'udid,fl-sz/1,fl-k/1/0,fl-v/1/0,locale-sz,locale/0,fw_key,counter,big,token\nD1,1,a,b,1,en,00,1,1,AA==\nD2,1,a,b,1,en,00,1,1,AA==\n' > two.csv
expect_err 2 "pack takes one device" "pack with a two-row values file" "$MP" factory-data pack --device "$GOLD/dev.json" --format esp32 --esp32-extra-config xcfg.csv --esp32-extra-values two.csv --out bad.bin

# -- build: every device packed and read back ---------------------------------------------
H="--token test --pin-file pin"
new_pki
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
mv fd1/nvs_keys.bin keys.aside
expect_err 21 "the keys partition they were made with is gone" "a re-run into a folder whose nvs_keys.bin is gone: refused, no new key" "$MP" factory-data build --order "$O1" $B --format esp32 --esp32-nvs-encrypt --format esp32-secure-cert --esp32-sc-commissionable --out-dir fd1
check "no keys partition made" test ! -e fd1/nvs_keys.bin
mv keys.aside fd1/nvs_keys.bin
expect 0 "the re-run with it back: nothing to build, the same key" "$MP" factory-data build --order "$O1" $B --format esp32 --esp32-nvs-encrypt --format esp32-secure-cert --esp32-sc-commissionable --out-dir fd1
check "every device still reads back" bash -c "$(declare -f readback); MP='$MP' readback fd1"
O6=$(new_order 2 dacs6)
expect 0 "build --esp32-nvs-encrypt --layout per-device" "$MP" factory-data build --order "$O6" $B --format esp32 --esp32-nvs-encrypt --layout per-device --out-dir fd6
rm fd6/nvs_keys.bin
expect_err 21 "the keys partition they were made with is gone" "per-device layout: a re-run without its nvs_keys.bin is refused (images in subfolders, found through manifest.jsonl)" "$MP" factory-data build --order "$O6" $B --format esp32 --esp32-nvs-encrypt --layout per-device --out-dir fd6
check "no keys partition made" test ! -e fd6/nvs_keys.bin
O7=$(new_order 2 dacs7)
expect 0 "build --esp32-nvs-encrypt --bundle" "$MP" factory-data build --order "$O7" $B --format esp32 --esp32-nvs-encrypt --bundle fd7/fd.jsonl
check "the bundle's keys partition beside it, 0600" bash -c "[ \$(stat -c %a fd7/nvs_keys.bin) = 600 ]"
rm fd7/nvs_keys.bin
expect_err 21 "the keys partition they were made with is gone" "--bundle: a re-run without its nvs_keys.bin is refused" "$MP" factory-data build --order "$O7" $B --format esp32 --esp32-nvs-encrypt --bundle fd7/fd.jsonl
check "no keys partition made" test ! -e fd7/nvs_keys.bin
cp "$GOLD/nvs_keys.bin" given.keys
expect 0 "build --esp32-nvs-keys FILE (given keys)" "$MP" factory-data build --order "$O2" $B --format esp32 --esp32-nvs-encrypt --esp32-nvs-keys given.keys --out-dir fd2
check "given keys: no nvs_keys.bin written; each image opens with the given keys" bash -c "[ ! -e fd2/nvs_keys.bin ] && for f in fd2/*.esp32.enc.bin; do \"$MP\" factory-data inspect \$f --esp32-nvs-keys given.keys > /dev/null || exit 1; done && [ \$(ls fd2/*.esp32.enc.bin | wc -l) = 3 ]"
# extra entries per device, keyed by UDID
O4=$(new_order 4 dacs4)
printf 'app,namespace,\nnode_id,data,string\nslot,data,u16\n' > bcfg.csv
{ echo "udid,node_id,slot"; i=0; for u in $(sqlite3 state/ledger.sqlite "select udid from certificates where order_id = $O4 order by udid"); do i=$((i + 1)); echo "$u,node-$u,$i"; done; } > bvals.csv
head -4 bvals.csv > bvals3.csv
expect_err 10 "no row for device" "a device without a values row: refused before anything is written" "$MP" factory-data build --order "$O4" $B --format esp32 --esp32-extra-config bcfg.csv --esp32-extra-values bvals3.csv --out-dir fd4
check "nothing written" test ! -e fd4
expect_err 2 "no --format esp32" "--esp32-extra-config without an esp32 format" "$MP" factory-data build --order "$O4" $B --format json --esp32-extra-config bcfg.csv --esp32-extra-values bvals.csv --out-dir fd4
expect 0 "build --format esp32 --esp32-nvs-encrypt with per-device extras" "$MP" factory-data build --order "$O4" $B --format esp32 --esp32-nvs-encrypt --esp32-extra-config bcfg.csv --esp32-extra-values bvals.csv --out-dir fd4
check "every device's image holds its own row" bash -c "n=0; while IFS=, read -r u node slot; do \"$MP\" factory-data inspect fd4/\$u.esp32.enc.bin --esp32-nvs-keys fd4/nvs_keys.bin --pai pai.pem --json | jq -e --arg n \"\$node\" --argjson s \"\$slot\" '.nvs_other.app == {node_id: \$n, slot: \$s}' > /dev/null || exit 1; n=\$((n + 1)); done < <(tail -n +2 bvals.csv); [ \$n = 4 ]"
# chip-list devices: their key in eFuse, the NVS and the partition both built for them
"$MP" chips simulate --count 5 --out sim > /dev/null
"$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem > /dev/null
"$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 5 > /dev/null
O5=$(sqlite3 state/ledger.sqlite "select max(id) from orders")
"$MP" dac issue $H --order "$O5" --out-dir dacs5 --quiet > /dev/null
expect_err 10 "held off the chip" "--esp32-ecdsa-efuse-key-id on an order of off-chip keys: refused before writing" "$MP" factory-data build --order "$O2" $B --format esp32-secure-cert --esp32-ecdsa-efuse-key-id 1 --out-dir fdx
check "nothing written" test ! -e fdx
expect_err 2 "factory-data build $DSWHY" "build --esp-ds: refused before anything is written" "$MP" factory-data build --order "$O5" $B --format esp32-secure-cert --esp-ds ds.bin --out-dir fdds
check "nothing written" test ! -e fdds
expect 0 "build chip-list devices: --format esp32 --esp32-nvs-encrypt --format esp32-secure-cert --esp32-ecdsa-efuse-key-id 1" "$MP" factory-data build --order "$O5" $B \
    --format esp32 --esp32-nvs-encrypt --format esp32-secure-cert --esp32-sc-commissionable --esp32-ecdsa-efuse-key-id 1 --out-dir fd5
check "every chip-list device: encrypted NVS + partition naming eFuse key id 1, read back with every check" bash -c "n=0; while IFS=, read -r u _ _ _ _ pc _; do \"$MP\" factory-data inspect fd5/\$u.esp32.enc.bin --esp32-nvs-keys fd5/nvs_keys.bin --esp32-secure-cert fd5/\$u.esp_secure_cert.bin --pai pai.pem --cd cd.der --passcode \$((10#\$pc)) --json | jq -e '.device.dac_key_efuse_key_id == 1 and .device.dac_key == false and ([.checks[] | select(startswith(\"FAIL\"))] | length == 0)' > /dev/null || exit 1; n=\$((n + 1)); done < <(tail -n +2 fd5/onboarding.csv); [ \$n = 5 ]"
U3=$(sqlite3 state/ledger.sqlite "select udid from certificates where order_id = $O3 order by udid limit 1")
expect 0 "build --esp32-hmac-key for one device (--udid)" "$MP" factory-data build --order "$O3" $B --format esp32-secure-cert --esp32-hmac-key "$GOLD/hmac.key" --udid "$U3" --out-dir fd3
check "its key entry is encrypted and reads back with the key only" bash -c "python3 sc.py fd3/$U3.esp_secure_cert.bin $HK | jq -e '.\"2/0\".flags == 128' && \"$MP\" factory-data inspect fd3/$U3.esp_secure_cert.bin --esp32-hmac-key '$GOLD/hmac.key' --pai pai.pem > /dev/null && ! \"$MP\" factory-data inspect fd3/$U3.esp_secure_cert.bin > /dev/null 2>&1"

finish
