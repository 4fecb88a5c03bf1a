# 70-verify.sh - demo stage: commissioner test vectors under the demo PAA/PAI
# (keys stay in the token) and the attestation verifier on them and on the
# demo CD.
step "test vectors: one folder per commissioner defect category"
"$MP" testvectors generate "${H[@]}" --paa-cert "$OUT/paa.pem" --paa-key demo-paa \
    --pai-cert "$OUT/pai.pem" --pai-key demo-pai --out "$OUT/testvectors"
step "verify: the valid vector with the demo CD, then a defective DAC"
TV="$OUT/testvectors"
"$MP" verify attestation --paa "$OUT/paa.pem" --pai "$TV/valid/pai.der" --dac "$TV/valid/dac.der" \
    --cd "$OUT/cd.der" --cd-signer "$OUT/cd-signer.pem"
if "$MP" verify attestation --paa "$OUT/paa.pem" --pai "$TV/dac_bc_missing/pai.der" \
    --dac "$TV/dac_bc_missing/dac.der" > /dev/null; then
    echo "demo: a DAC without basicConstraints was accepted" >&2
    exit 1
fi
"$MP" verify attestation --paa "$OUT/paa.pem" --pai "$TV/dac_bc_missing/pai.der" \
    --dac "$TV/dac_bc_missing/dac.der" --json > "$OUT/verify-report.json" || true
jq -c '{verdict, code, code_name}' "$OUT/verify-report.json"
cat > "$FRAG/70-verify.json" <<JSON
{"testvectors": {"dir": "testvectors", "cases": $(jq length "$TV/index.json"), "index": "testvectors/index.json",
                 "cd_signer": "testvectors/cd-signer.pem"},
 "verify_report_example": "verify-report.json"}
JSON
