# 55-esp.sh - demo stage: the ESP32 protected forms for the 100 off-chip
# devices' twins: a third order of 100 devices without a secure element gets
# the NVS XTS-AES encrypted (keys partition generated 0600 in the folder) and
# the esp_secure_cert partition with the DAC, PAI, key and the commissionable
# data; every device is decrypted, merged with its partition and read back.
# 100 more simulated chips get the same with their keys in eFuse (ECDSA
# peripheral), and 20 more off-chip devices the partition with each DAC key
# under the chip's own eFuse HMAC key (one key, one build per device, as a
# station does it).
step "ESP32 protected forms: 100 devices, encrypted NVS + esp_secure_cert with the commissionable data"
ORDER3=$("$MP" order create "${H[@]}" --vid FFF2 --pid 8001 --pai-cert "$OUT/pai.pem" --pai-key demo-pai \
    --quota 100 --cn-template "Acme DAC {udid:16}")
"$MP" dac issue "${H[@]}" --order "$ORDER3" --generate-keys --count 100 --out-dir "$OUT/dacs-esp32" --quiet
"$MP" factory-data build --order "$ORDER3" --product "$PRODUCT" --cd "$OUT/cd.der" --paa "$OUT/paa.pem" --cd-signer "$OUT/cd-signer.pem" \
    --format esp32 --esp32-nvs-encrypt --format esp32-secure-cert --esp32-sc-commissionable \
    --out-dir "$OUT/factory-data-esp32" --jobs 2 --iterations 1000
# every device decrypted (nvs_keys.bin of the folder) and read back with its partition
"$MP" factory-data inspect --lot "$OUT/factory-data-esp32" --pai "$OUT/pai.pem" --cd "$OUT/cd.der" | sed "s|$OUT/||"

step "ESP32 chip-held keys: 100 ESP32-H2-like chips (SIMULATOR), encrypted NVS + esp_secure_cert naming the key's eFuse block (ECDSA peripheral)"
"$MP" chips simulate --count 100 --out "$OUT/chips-esp32" --quiet
"$MP" chips import "$OUT/chips-esp32/chips.csv" --signature "$OUT/chips-esp32/chips.csv.sig" --signer "$OUT/chips-esp32/chipmaker.pem"
ORDER_EF=$("$MP" order create "${H[@]}" --vid FFF2 --pid 8001 --pai-cert "$OUT/pai.pem" --pai-key demo-pai \
    --quota 100 --cn-template "Acme DAC {udid:16}")
"$MP" dac issue "${H[@]}" --order "$ORDER_EF" --out-dir "$OUT/dacs-esp32-efuse" --quiet
"$MP" factory-data build --order "$ORDER_EF" --product "$PRODUCT" --cd "$OUT/cd.der" --paa "$OUT/paa.pem" --cd-signer "$OUT/cd-signer.pem" \
    --format esp32 --esp32-nvs-encrypt --format esp32-secure-cert --esp32-sc-commissionable --esp32-ecdsa-efuse-key-id 1 \
    --out-dir "$OUT/factory-data-esp32-efuse" --jobs 2 --iterations 1000
# every NVS read back with its partition, which names eFuse key block 1 and holds no key
"$MP" factory-data inspect --lot "$OUT/factory-data-esp32-efuse" --pai "$OUT/pai.pem" --cd "$OUT/cd.der" --format esp32-enc --json |
    jq -s -e 'length == 100 and all(.device.dac_key == false and .device.dac_key_efuse_key_id == 1 and
              ([.checks[]] | all(. == "ok" or . == "skipped")))' > /dev/null
echo "  factory-data-esp32-efuse: 100 device(s) decrypted and read back (key in eFuse block 5)"

step "ESP32 DAC keys under each chip's eFuse HMAC key: 20 devices, one key and one build per device"
ORDER_HM=$("$MP" order create "${H[@]}" --vid FFF2 --pid 8001 --pai-cert "$OUT/pai.pem" --pai-key demo-pai \
    --quota 20 --cn-template "Acme DAC {udid:16}")
"$MP" dac issue "${H[@]}" --order "$ORDER_HM" --generate-keys --count 20 --out-dir "$OUT/dacs-esp32-hmac" --quiet
mkdir -p "$OUT/esp32-hmac-keys"
n=0
while read -r u; do
    ( umask 077; openssl rand 32 > "$OUT/esp32-hmac-keys/$u.key" ) # burned into the chip's eFuse (purpose HMAC_UP) at the station
    "$MP" factory-data build --order "$ORDER_HM" --product "$PRODUCT" --cd "$OUT/cd.der" --paa "$OUT/paa.pem" --cd-signer "$OUT/cd-signer.pem" \
        --format esp32-secure-cert --iterations 1000 --esp32-hmac-key "$OUT/esp32-hmac-keys/$u.key" --udid "$u" --out-dir "$OUT/factory-data-esp32-hmac" --quiet > /dev/null
    "$MP" factory-data inspect "$OUT/factory-data-esp32-hmac/$u.esp_secure_cert.bin" --esp32-hmac-key "$OUT/esp32-hmac-keys/$u.key" \
        --pai "$OUT/pai.pem" --manifest "$OUT/factory-data-esp32-hmac/manifest.jsonl" > /dev/null
    n=$((n + 1))
done < <(sqlite3 "$MATTER_PKI_STATE/ledger.sqlite" "select udid from certificates where order_id=$ORDER_HM order by udid")
echo "  factory-data-esp32-hmac: $n device(s) encrypted under their own key and read back"
jq -n '{factory_data_esp32: {dir: "factory-data-esp32", nvs_keys: "factory-data-esp32/nvs_keys.bin",
        onboarding: "factory-data-esp32/onboarding.csv", dacs: "dacs-esp32"},
        factory_data_esp32_efuse: {dir: "factory-data-esp32-efuse", nvs_keys: "factory-data-esp32-efuse/nvs_keys.bin", efuse_key_id: 1},
        factory_data_esp32_hmac: {dir: "factory-data-esp32-hmac", hmac_keys: "esp32-hmac-keys"}}' > "$FRAG/55-esp.json"
