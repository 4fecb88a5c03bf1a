# lib.sh - helpers for integration tests: the real binary against a fresh
# SoftHSM token in a temporary directory. Sourced by each t_*.sh.
set -u
export MP=${MATTER_PKI_BIN:?set MATTER_PKI_BIN}
VEC=${MP_VECTORS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared/vectors/chip}
FIXTURES=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)
PASS=0
FAIL=0
T=$(mktemp -d /tmp/mp-it.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
export MATTER_PKI_STATE="$T/state"
unset SOFTHSM2_CONF MATTER_PKI_PIN MATTER_PKI_TOKEN MATTER_PKI_MODULE
# The suite never waits at a prompt, even on a terminal (issue 14): a test that
# means to prompt unsets this and runs under a pseudo-terminal (t_core.sh).
export MATTER_PKI_NO_PROMPT=1
PIN=mp-test-PIN
printf '%s\n' "$PIN" > pin
printf '5678\n' > sopin
printf '9999\n' > badpin

ok() { PASS=$((PASS + 1)); printf '  ok   %s\n' "$1"; }
fail() { FAIL=$((FAIL + 1)); printf '  FAIL %s\n' "$1"; }

# expect RC DESC CMD... : run CMD, require exit status RC.
expect() {
    local want=$1 desc=$2; shift 2
    "$@" > out.txt 2> err.txt
    local rc=$?
    if [ "$rc" = "$want" ]; then ok "$desc"; else
        fail "$desc (exit $rc, wanted $want)"; sed 's/^/       /' err.txt | head -5; fi
}
# expect_err RC PATTERN DESC CMD... : exit RC and stderr matches PATTERN.
expect_err() {
    local want=$1 pat=$2 desc=$3; shift 3
    "$@" > out.txt 2> err.txt
    local rc=$?
    if [ "$rc" = "$want" ] && grep -qE -- "$pat" err.txt; then ok "$desc"; else
        fail "$desc (exit $rc, wanted $want and /$pat/)"; sed 's/^/       /' err.txt | head -5; fi
}
check() { local desc=$1; shift; if "$@" > /dev/null 2>&1; then ok "$desc"; else fail "$desc"; fi; }

# A fresh token named "test" with user PIN $PIN.
new_token() {
    "$MP" token init --label "${1:-test}" --pin-file pin --so-pin-file sopin > /dev/null || { echo "token init failed"; exit 1; }
}
# A fresh token with the factory-data scripts' PKI, run with H="--token test
# --pin-file pin": PAA (key paa, paa.pem), PAI FFF2/8001 (key pai, pai.pem), a
# CD signer (key cds, cds.pem), examples/product.json and its CD (cd.der).
new_pki() {
    new_token
    "$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
    "$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
    "$MP" cd create-signer $H --key-label cds --cn "CD signer" --out cds.pem > /dev/null
    cp "$(dirname "${BASH_SOURCE[0]}")/../../examples/product.json" product.json
    "$MP" cd create $H --signer-cert cds.pem --signer-key cds --product product.json --out cd.der > /dev/null
}
# p11 ARGS...: pkcs11-tool against the test token.
p11() {
    SOFTHSM2_CONF="$MATTER_PKI_STATE/softhsm2.conf" pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so \
        --token-label "${TOKEN:-test}" "$@"
}
# flip_byte IN OUT OFFSET: copy IN to OUT with one bit flipped (negative
# OFFSET counts from the end).
flip_byte() {
    perl -e 'local $/; open my $i, "<:raw", $ARGV[0] or die; my $b = <$i>;
             my $o = $ARGV[2] < 0 ? length($b) + $ARGV[2] : $ARGV[2];
             substr($b, $o, 1) = chr(ord(substr($b, $o, 1)) ^ 1);
             open my $w, ">:raw", $ARGV[1] or die; print $w $b;' "$1" "$2" "$3"
}
finish() { echo "RESULT $PASS $FAIL"; [ "$FAIL" = 0 ]; }
