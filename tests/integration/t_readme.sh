#!/usr/bin/env bash
# t_readme.sh - the README's examples run as written. Every ```sh block of
# README.md (a block opened with ```sh no-run is skipped; other languages
# are not shell) is run in order, in one shell (variables carry over), in an
# empty folder holding a copy of examples/, with `matter-pki` on PATH and no
# MATTER_PKI_* variables, against a real SoftHSM token: each block sees the
# files the earlier blocks made. Runnable lines may not show option syntax
# (`[--opt]`, `a|b`): those belong in tables or in no-run blocks.
here=$(cd "$(dirname "$0")/../.." && pwd)
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
. "$(dirname "$0")/lib.sh"
unset MATTER_PKI_STATE
README=${README:-$here/README.md}
mkdir -p "$T/bin" "$T/work" "$T/blocks"
ln -s "$(cd "$(dirname "$MP")" && pwd)/$(basename "$MP")" "$T/bin/matter-pki"
cp -r "$here/examples" "$T/work/"

# Extract: blocks/NNN.sh per runnable block, blocks/NNN.line = its README line.
awk -v dir="$T/blocks" '
    /^```/ && !inb { inb = 1; run = ($0 ~ /^```(sh|bash)[ \t]*$/); if (run) { n++; f = sprintf("%s/%03d.sh", dir, n)
                     printf "" > f; print NR + 1 > sprintf("%s/%03d.line", dir, n) } ; next }
    /^```/ && inb  { inb = 0; if (run) close(f); run = 0; next }
    inb && run     { print > f }' "$README"
nb=$(ls "$T/blocks"/*.sh 2>/dev/null | wc -l)
nskip=$(grep -cE '^```(sh|bash)[ \t]+no-run' "$README")
check "README has runnable shell blocks ($nb; $nskip marked no-run)" test "$nb" -gt 0
check "every shell block is either runnable or marked no-run" \
    test "$(grep -cE '^```(sh|bash)([ \t]|$)' "$README")" = $((nb + nskip))
other=$(grep -nE '^```(shell|console|zsh|shell-session)([ \t]|$)' "$README" | grep -v 'no-run' | head -3)
check "shell blocks are written \`\`\`sh (or marked no-run)${other:+: $other}" test -z "$other"

# Option syntax inside runnable lines (comments aside).
for b in "$T/blocks"/*.sh; do
    l=$(cat "${b%.sh}.line")
    bad=$(sed 's/#.*//' "$b" | grep -nE '\[--|[A-Za-z0-9_]\|[A-Za-z0-9_-]' | head -1)
    check "README block at line $l: no [--opt] or a|b in runnable lines${bad:+ (found: $bad)}" test -z "$bad"
done

# Run them all in one shell, each block followed by a marker.
{
    echo 'set -eo pipefail'
    for b in "$T/blocks"/*.sh; do
        cat "$b"
        echo "echo \"@@ block $(basename "$b" .sh) ok\""
    done
} > "$T/readme-script.sh"
(cd "$T/work" && env -u MATTER_PKI_PIN -u MATTER_PKI_TOKEN -u MATTER_PKI_MODULE PATH="$T/bin:$PATH" \
    timeout 600 bash "$T/readme-script.sh" > "$T/readme.out" 2> "$T/readme.err" < /dev/null)
rc=$?
for b in "$T/blocks"/*.sh; do
    id=$(basename "$b" .sh)
    if grep -qx "@@ block $id ok" "$T/readme.out"; then ok "README block at line $(cat "$T/blocks/$id.line") runs"
    else fail "README block at line $(cat "$T/blocks/$id.line") runs (script exit $rc)"
        [ -n "${shown:-}" ] || { sed 's/^/       /' "$T/readme.err" | tail -8; shown=1; }
    fi
done
# What the quick starts promise exists.
W="$T/work"
[ -n "${T_README_INNER:-}" ] && { finish; exit; }
check "PKI admin: paa.pem, pai.pem and cd.der" test -s "$W/paa.pem" -a -s "$W/pai.pem" -a -s "$W/cd.der"
check "factory engineer: one DAC per chip" test "$(ls "$W"/dacs/*.der 2>/dev/null | wc -l)" = 200
check "factory engineer: every output extension of the table" bash -c "cd '$W/fd-offchip' &&
    for e in nrf.cbor nrf.json esp32.bin esp32.csv nxp.bin json qr.png; do ls *.\$e > /dev/null || exit 1; done"
check "certification engineer: the defective vector was rejected (19)" jq -e '.code == 19 or .verdict != "accepted"' "$W/rejected.json"

# The checker itself: a README with option syntax in a runnable line, a block
# that fails and an unmarked ```shell block must each be reported.
if [ -z "${T_README_INNER:-}" ]; then
    printf '%s\n' '# x' '```sh' 'true' '```' '```sh' 'matter-pki ledger export --format csv|jsonl' '```' \
        '```sh' 'false' '```' '```shell' 'echo' '```' '```sh no-run: synopsis' 'matter-pki x [--y]' '```' > "$T/bad.md"
    T_README_INNER=1 README="$T/bad.md" bash "$self" > "$T/inner.out" 2>&1
    check "checker: flags a|b in a runnable line" grep -q 'FAIL README block at line 6: no \[--opt\]' "$T/inner.out"
    check "checker: flags a block that fails" grep -q 'FAIL README block at line 9 runs' "$T/inner.out"
    check "checker: flags an unmarked \`\`\`shell block" grep -q 'FAIL shell blocks are written' "$T/inner.out"
    check "checker: runs the good block and skips no-run" bash -c "grep -q 'ok   README block at line 3 runs' '$T/inner.out' && grep -q '3; 1 marked no-run' '$T/inner.out'"
fi
finish
