# 50-fd.sh - demo stage: factory data. The chip-list devices keep their DAC
# key in the chip, so they get the platform-neutral JSON; a second order of
# 100 devices without a secure element (--generate-keys) gets all formats.
PRODUCT="$(dirname "$0")/../examples/product.json"
step "factory data for the chip-list order (json: the key stays in the chip)"
"$MP" factory-data build --order "$ORDER" --product "$PRODUCT" --cd "$OUT/cd.der" --paa "$OUT/paa.pem" --cd-signer "$OUT/cd-signer.pem" --format json --format linux \
    --out-dir "$OUT/factory-data" --jobs 2 --iterations 1000
step "off-chip keys: 100 devices, every platform format"
ORDER2=$("$MP" order create "${H[@]}" --vid FFF2 --pid 8001 --pai-cert "$OUT/pai.pem" --pai-key demo-pai \
    --quota 100 --cn-template "Acme DAC {udid:16}")
"$MP" dac issue "${H[@]}" --order "$ORDER2" --generate-keys --count 100 --out-dir "$OUT/dacs-offchip" --quiet
"$MP" factory-data build --order "$ORDER2" --product "$PRODUCT" --cd "$OUT/cd.der" --paa "$OUT/paa.pem" --cd-signer "$OUT/cd-signer.pem" --format nrf --format esp32 \
    --format nxp --format json --format linux --out-dir "$OUT/factory-data-offchip" --jobs 2 --iterations 1000 --qr-images svg
u=$(sed -n 2p "$OUT/factory-data-offchip/onboarding.csv" | cut -d, -f1)
p=$(sed -n 2p "$OUT/factory-data-offchip/onboarding.csv" | cut -d, -f6)
"$MP" factory-data inspect "$OUT/factory-data-offchip/$u.esp32.bin" --pai "$OUT/pai.pem" --cd "$OUT/cd.der" --passcode "$p"
step "every device's factory data read back (inspect --lot): key, chain, verifier, CD, manifest"
# one process per folder: every image its manifest.jsonl lists, with the
# passcodes of its onboarding.csv
for dir in factory-data factory-data-offchip; do
    "$MP" factory-data inspect --lot "$OUT/$dir" --pai "$OUT/pai.pem" --cd "$OUT/cd.der" | sed "s|$OUT/||"
done

# One manifest entry per device of both orders (jq merges arrays by
# replacing, so this fragment carries the whole devices array).
fd_devices() { # fd_devices DIR DACDIR: devices of one build as JSON lines
    local dir=$1 dacs=$2
    tail -n +2 "$OUT/$dir/onboarding.csv" | jq -R 'split(",") | {udid: .[0], passcode: (.[5] | tonumber), qr: .[6], manual_code: .[7]}' |
        jq -s 'map({key: .udid, value: .}) | from_entries' > "$OUT/.onb.json"
    jq -s 'map({key: .udid, value: .files}) | from_entries' "$OUT/$dir/manifest.jsonl" > "$OUT/.files.json"
    find "$OUT/$dir" -name '*.json' ! -name '*.nrf.json' -print0 | xargs -0 jq -c \
        '{udid: input_filename | split("/") | last | sub("\\.json$"; ""), salt: .spake2p_salt, iterations: .spake2p_iterations, verifier: .spake2p_verifier}' |
        jq -s --slurpfile onb "$OUT/.onb.json" --slurpfile files "$OUT/.files.json" --arg dir "$dir" --arg dacs "$dacs" \
        'map(. as $d | $onb[0][$d.udid] + {udid: $d.udid, dac: ($dacs + "/" + $d.udid + ".der"),
             factory_data: ($files[0][$d.udid] | map_values($dir + "/" + .)), salt: $d.salt,
             iterations: $d.iterations, verifier: $d.verifier})'
    rm -f "$OUT/.onb.json" "$OUT/.files.json"
}
{ fd_devices factory-data dacs; fd_devices factory-data-offchip dacs-offchip; } | jq -s \
    '{devices: add, factory_data: {chip_list_order: "factory-data", offchip_order: "factory-data-offchip",
      onboarding: ["factory-data/onboarding.csv", "factory-data-offchip/onboarding.csv"]}}' > "$FRAG/50-fd.json"
