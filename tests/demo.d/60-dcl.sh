# 60-dcl.sh - demo stage: every DCL record that applies to the demo product
# and PKI (dcl export all), as unsigned dcld transactions and CSA hand-offs.
# The demo CD is a development CD (certification_type 0), hence --test-mode.
step "DCL: records for the Distributed Compliance Ledger"
dcl_args=(--product "$(dirname "$0")/../examples/product.json" --paa-cert "$OUT/paa.pem" --pai-cert "$OUT/pai.pem")
if [ -f "$OUT/cd.der" ]; then
    dcl_args+=(--cd "$OUT/cd.der" --test-mode)
else
    echo "no $OUT/cd.der: model-version and compliance are skipped"
fi
"$MP" dcl export all "${dcl_args[@]}" --out-dir "$OUT/dcl"
jq '{dcl: (.records | map_values("dcl/" + .))}' "$OUT/dcl/index.json" > "$FRAG/60-dcl.json"
