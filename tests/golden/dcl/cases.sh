# cases.sh - the DCL golden cases: `gen NAME ARGS...` runs `matter-pki dcl
# export ARGS...` on the fixed inputs in tests/fixtures/dcl ($FIX) and gives
# NAME.json. Sourced by regen.sh (writes the goldens) and by
# tests/integration/t_dcl.sh (compares byte for byte).
ADDR=cosmos1qqgjyv6y24n80zye42aueh0wluqpzg3nm75jna
P=(--product "$FIX/product.json")
dcl_golden_cases() {
    gen vendor-info vendor-info "${P[@]}" --from "$ADDR"
    gen vendor-info-nosigner vendor-info "${P[@]}"
    gen model model "${P[@]}" --from "$ADDR"
    gen model-v15 model "${P[@]}" --from "$ADDR" --dcl-version 1.5
    gen pai pai "${P[@]}" --from "$ADDR" --cert "$FIX/pai.pem"
    gen paa paa "${P[@]}" --cert "$FIX/paa.pem" --test-mode
    gen paa-novid paa "${P[@]}" --cert "$FIX/paa-novid.pem" --test-mode
    gen revocation-point-paa revocation-point "${P[@]}" --from "$ADDR" --paa-cert "$FIX/paa.pem"
    gen revocation-point-pai revocation-point "${P[@]}" --from "$ADDR" --pai-cert "$FIX/pai.pem"
    gen revocation-point-paa-delegated revocation-point "${P[@]}" --from "$ADDR" --paa-cert "$FIX/paa.pem" \
        --crl-signer-cert "$FIX/crl-signer-paa.pem" --label delegated-paa --data-url https://pki.example.com/d-paa.crl
    gen revocation-point-pai-delegated revocation-point "${P[@]}" --from "$ADDR" --pai-cert "$FIX/pai.pem" \
        --crl-signer-cert "$FIX/crl-signer-pai.pem" --label delegated-pai --data-url https://pki.example.com/d-pai.crl
    gen model-version model-version "${P[@]}" --from "$ADDR" --cd "$FIX/cd.der" \
        --ota-url https://fw.example.com/tb100-2.ota --ota-file "$FIX/ota.bin"
    gen model-version-v15 model-version "${P[@]}" --from "$ADDR" --cd "$FIX/cd.der" --dcl-version 1.5
    gen compliance compliance "${P[@]}" --cd "$FIX/cd.der" --test-mode
    gen compliance-v15 compliance "${P[@]}" --cd "$FIX/cd.der" --test-mode --dcl-version 1.5
}
