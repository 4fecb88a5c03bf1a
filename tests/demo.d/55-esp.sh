# 55-esp.sh - demo stage: the ESP32 protected forms for the 100 off-chip
# devices' twins: a third order of 100 devices without a secure element gets
# the NVS XTS-AES encrypted (keys partition generated 0600 in the folder) and
# the esp_secure_cert partition with the DAC, PAI, key and the commissionable
# data; every device is decrypted, merged with its partition and read back.
step "ESP32 protected forms: 100 devices, encrypted NVS + esp_secure_cert with the commissionable data"
ORDER3=$("$MP" order create "${H[@]}" --vid FFF2 --pid 8001 --pai-cert "$OUT/pai.pem" --pai-key demo-pai \
    --quota 100 --cn-template "Acme DAC {udid:16}")
"$MP" dac issue "${H[@]}" --order "$ORDER3" --generate-keys --count 100 --out-dir "$OUT/dacs-esp32" --quiet
"$MP" factory-data build --order "$ORDER3" --product "$PRODUCT" --cd "$OUT/cd.der" --paa "$OUT/paa.pem" --cd-signer "$OUT/cd-signer.pem" \
    --format esp32 --esp32-nvs-encrypt --format esp32-secure-cert --esp32-sc-commissionable \
    --out-dir "$OUT/factory-data-esp32" --jobs 2 --iterations 1000
n=0
while IFS=, read -r u _ _ _ _ pc _; do
    "$MP" factory-data inspect "$OUT/factory-data-esp32/$u.esp32.enc.bin" --esp32-nvs-keys "$OUT/factory-data-esp32/nvs_keys.bin" \
        --esp32-secure-cert "$OUT/factory-data-esp32/$u.esp_secure_cert.bin" --pai "$OUT/pai.pem" --cd "$OUT/cd.der" \
        --passcode "$((10#$pc))" --manifest "$OUT/factory-data-esp32/manifest.jsonl" > /dev/null
    n=$((n + 1))
done < <(tail -n +2 "$OUT/factory-data-esp32/onboarding.csv")
echo "  factory-data-esp32: $n device(s) decrypted and read back"
jq -n '{factory_data_esp32: {dir: "factory-data-esp32", nvs_keys: "factory-data-esp32/nvs_keys.bin",
        onboarding: "factory-data-esp32/onboarding.csv", dacs: "dacs-esp32"}}' > "$FRAG/55-esp.json"
