# 40-cd.sh - demo stage: a development CD signer in the token and a CD for
# the demo product (examples/product.json, VID FFF2 PID 8001).
step "CD: development CD signer in the token"
"$MP" cd create-signer "${H[@]}" --key-label demo-cd --cn "Acme Development CD Signer" --out "$OUT/cd-signer.pem"
step "CD: Certification Declaration for the demo product"
"$MP" cd create "${H[@]}" --signer-cert "$OUT/cd-signer.pem" --signer-key demo-cd \
    --product "$(dirname "$0")/../examples/product.json" --authorized-paa "$OUT/paa.pem" --out "$OUT/cd.der"
"$MP" cd verify "$OUT/cd.der" --signer-cert "$OUT/cd-signer.pem" --vid FFF2 --pid 8001
openssl cms -verify -binary -noverify -inform DER -in "$OUT/cd.der" -certfile "$OUT/cd-signer.pem" -out /dev/null
"$MP" cd print "$OUT/cd.der"
cat > "$FRAG/40-cd.json" <<JSON
{"cd": "cd.der", "cd_signer": "cd-signer.pem"}
JSON
