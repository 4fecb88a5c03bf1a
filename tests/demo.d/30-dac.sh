# 30-dac.sh - demo stage: a simulated chip maker's 1000 chips, the signed
# list imported, a production order, and every DAC issued.
step "chip maker (SIMULATOR): 1000 chips with a signed list"
"$MP" chips simulate --count 1000 --out "$OUT/chips" --quiet
"$MP" chips import "$OUT/chips/chips.csv" --signature "$OUT/chips/chips.csv.sig" --signer "$OUT/chips/chipmaker.pem"
step "production order and DAC issuance"
ORDER=$("$MP" order create "${H[@]}" --vid FFF2 --pid 8001 --pai-cert "$OUT/pai.pem" --pai-key demo-pai \
    --quota 1000 --cn-template "Acme DAC {udid:16}")
"$MP" dac issue "${H[@]}" --order "$ORDER" --out-dir "$OUT/dacs" --jobs 2
"$MP" ledger report
sqlite3 "$MATTER_PKI_STATE/ledger.sqlite" "select udid from certificates where order_id=$ORDER order by udid" |
    jq -R '{udid: ., dac: ("dacs/" + . + ".der")}' | jq -s --arg order "$ORDER" \
    '{chip_list: "chips/chips.csv", chip_list_signature: "chips/chips.csv.sig", chip_maker_cert: "chips/chipmaker.pem",
      ledger: "state/ledger.sqlite", order: ($order | tonumber), devices: .}' > "$FRAG/30-dac.json"
