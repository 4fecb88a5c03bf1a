# 56-silabs.sh - demo stage: Silicon Labs provisioning-tool inputs for the
# 100 more off-chip devices (one archive per device, with the passcode the tool
# needs), every one read back: chain, key against DAC, verifier, manifest.
step "Silicon Labs: provisioning-tool inputs for 100 off-chip devices"
ORDER_SL=$("$MP" order create "${H[@]}" --vid FFF2 --pid 8001 --pai-cert "$OUT/pai.pem" --pai-key demo-pai \
    --quota 100 --cn-template "Acme DAC {udid:16}")
"$MP" dac issue "${H[@]}" --order "$ORDER_SL" --generate-keys --count 100 --out-dir "$OUT/dacs-silabs" --quiet
"$MP" factory-data build --order "$ORDER_SL" --product "$PRODUCT" --cd "$OUT/cd.der" --paa "$OUT/paa.pem" --cd-signer "$OUT/cd-signer.pem" \
    --format silabs --include-passcode --out-dir "$OUT/factory-data-silabs" --jobs 2 --iterations 1000
"$MP" factory-data inspect --lot "$OUT/factory-data-silabs" --pai "$OUT/pai.pem" --cd "$OUT/cd.der" | sed "s|$OUT/||"
jq -n '{factory_data_silabs: {dir: "factory-data-silabs", onboarding: "factory-data-silabs/onboarding.csv"}}' > "$FRAG/56-silabs.json"
