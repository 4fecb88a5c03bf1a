#!/usr/bin/env bash
# t_readme.sh - the README's examples run as written. Every ```sh block of
# README.md is run in order, in one shell (variables carry over), in an empty
# folder holding a copy of examples/, with `matter-pki` on PATH and no
# MATTER_PKI_* variables, against a real SoftHSM token: each block sees the
# files the earlier blocks made, and any nonzero exit fails it. Fences:
#   ```sh                       runs; must succeed
#   ```sh expect-exit=N         runs in a subshell; must exit N (a refusal shown on purpose)
#   ```sh no-run: REASON        not run; the reason is required
# Runnable lines may not show option syntax (`[--opt]`, `a|b`, `| --opt`,
# ` ... `): optional flags belong in the tables next to the blocks. Every
# command of `matter-pki help` must appear in a runnable block, and the
# README's exit-code table must be `matter-pki help exit-codes`.
here=$(cd "$(dirname "$0")/../.." && pwd)
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
. "$(dirname "$0")/lib.sh"
unset MATTER_PKI_STATE
README=${README:-$here/README.md}
mkdir -p "$T/bin" "$T/work" "$T/blocks"
# The examples start a throw-away PostgreSQL as the `postgres` user, who must
# reach the folder (mktemp made it 0700).
chmod 755 "$T"
ln -s "$(cd "$(dirname "$MP")" && pwd)/$(basename "$MP")" "$T/bin/matter-pki"
cp -r "$here/examples" "$T/work/"

# Extract: blocks/NNN.sh per runnable block, NNN.line = its README line,
# NNN.exit = the exit status it must end with (0 unless expect-exit=N).
awk -v dir="$T/blocks" '
    /^```/ && !inb { inb = 1; run = ($0 ~ /^```(sh|bash)([ \t]+expect-exit=[0-9]+)?[ \t]*$/)
                     if (run) { n++; f = sprintf("%s/%03d.sh", dir, n); printf "" > f
                                print NR + 1 > sprintf("%s/%03d.line", dir, n)
                                want = 0; if (match($0, /expect-exit=[0-9]+/)) want = substr($0, RSTART + 12, RLENGTH - 12)
                                print want > sprintf("%s/%03d.exit", dir, n) }
                     next }
    /^```/ && inb  { inb = 0; if (run) close(f); run = 0; next }
    inb && run     { print > f }' "$README"
nb=$(ls "$T/blocks"/*.sh 2>/dev/null | wc -l)
nskip=$(grep -cE '^```(sh|bash)[ \t]+no-run' "$README")
check "README has runnable shell blocks ($nb; $nskip marked no-run)" test "$nb" -gt 0
check "every shell block is runnable, expect-exit=N or no-run" \
    test "$(grep -cE '^```(sh|bash)([ \t]|$)' "$README")" = $((nb + nskip))
noreason=$(grep -nE '^```(sh|bash)[ \t]+no-run' "$README" | grep -vE 'no-run: *[^ ]' | head -3)
check "every no-run block says why (\`\`\`sh no-run: REASON)${noreason:+: $noreason}" test -z "$noreason"
other=$(grep -nE '^```(shell|console|zsh|shell-session)([ \t]|$)' "$README" | grep -v 'no-run' | head -3)
check "shell blocks are written \`\`\`sh (or marked no-run)${other:+: $other}" test -z "$other"

# Option syntax inside runnable lines (comments aside): [--opt], an optional
# [PLACEHOLDER], a|b, an alternative option after a pipe, and elided
# arguments (" ... ").
for b in "$T/blocks"/*.sh; do
    l=$(cat "${b%.sh}.line")
    bad=$(sed 's/#.*//' "$b" | grep -nE '\[--|\[[A-Z][A-Z_]*\]|[A-Za-z0-9_]\|[A-Za-z0-9_-]|\| *--|( |^)\.\.\.( |$)' | grep -vE '\| *\\$' | head -1)
    check "README block at line $l: no [--opt], a|b or ... in runnable lines${bad:+ (found: $bad)}" test -z "$bad"
done

# Every command of the dispatcher table (src/main.c, as `matter-pki help
# --dump-options` prints it with each command's option table) has a runnable
# example (comments aside).
sed 's/#.*//' "$T/blocks"/*.sh > "$T/runnable.txt"
"$MP" help --dump-options > "$T/dump.tsv"
awk -F'\t' '$1 == "command" { print $2 ($3 != "" ? " " $3 : "") }' "$T/dump.tsv" > "$T/commands.txt"
awk -F'\t' '$1 == "command" { c = $2 ($3 != "" ? " " $3 : "") } $1 == "option" { print c "\t--" $2 }' "$T/dump.tsv" > "$T/options.tsv"
missing=$(while read -r c; do grep -qE "matter-pki $c( |\$)" "$T/runnable.txt" || printf '%s, ' "$c"; done < "$T/commands.txt")
check "every command of the dispatcher table ($(wc -l < "$T/commands.txt")) has a runnable README block${missing:+; missing: ${missing%, }}" \
    test -z "$missing" -a "$(wc -l < "$T/commands.txt")" -ge 40
check "'matter-pki help' lists the dispatcher table's commands" \
    bash -c "diff <('$MP' help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { sub(/^  /, \"\"); split(\$0, a, /  +/); print a[1] } on && /^\$/ { on = 0 }') '$T/commands.txt'"

# The flag tables claim only options that exist, and every option of a command
# is in its section's runnable examples or flag tables (prose alone is not
# enough). A section is a `### ` heading naming commands ("### dac import /
# dac export", "### order create / list / close"); its flag tables are the
# rows whose first cell names a `--flag`. The options every token or ledger
# command shares are in Concepts, and are checked there.
awk -F'\t' -v cf="$T/commands.txt" '
    function resolve(q) { while (q != "" && !(q in cmd)) if (!sub(/ [^ ]+$/, "", q)) q = ""; return q }
    BEGIN { while ((getline line < cf) > 0) cmd[line] = 1 }
    /^```/ { if (!inb) run = ($0 ~ /^```(sh|bash)([ \t]+expect-exit=[0-9]+)?[ \t]*$/); inb = !inb; next }
    inb { if (run && sec != "") { l = $0; sub(/#.*/, "", l); printf "T\t%d\t%s\n", NR, l }; next }
    sec != "" && /^\|/ { printf "T\t%d\t%s\n", NR, $0 }
    /^## / { sec = ""; concepts = ($0 ~ /^## Concepts/); next }
    /^### / { h = substr($0, 5); sub(/ *\(.*$/, "", h); gsub(/,/, " /", h)
              n = split(h, parts, / \/ /); sec = ""; grp = ""
              for (i = 1; i <= n; i++) { p = parts[i]; gsub(/^ +| +$/, "", p)
                  q = resolve(p); if (q == "" && grp != "") q = resolve(grp " " p)
                  if (q != "") { sec = sec (sec == "" ? "" : ",") q; split(q, g, / /); grp = g[1] } }
              if (sec != "") printf "S\t%d\t%s\n", NR, sec
              next }
    concepts { printf "C\t%d\t%s\n", NR, $0 }
    (sec != "" || concepts) && /^\| *`[^|]*--/ { split($0, col, /\|/); s = col[2]
              while (match(s, /--[a-z0-9][a-z0-9_-]*/)) { printf "F\t%d\t%s\n", NR, substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH) } }
' "$README" > "$T/sections.tsv"
common=' --help --state-dir --operator --no-prompt --module --token --pin-file --force-pin-try --ledger '
unknown=; undocumented=
while IFS=$'\t' read -r line cmds; do
    end=$(awk -F'\t' -v l="$line" '$1 == "S" && $2 > l { print $2; exit }' "$T/sections.tsv")
    opts=$(tr , '\n' <<< "$cmds" | while read -r c; do awk -F'\t' -v c="$c" '$1 == c { print $2 }' "$T/options.tsv"; done | sort -u)
    for f in $(awk -F'\t' -v s="$line" -v e="${end:-999999}" '$1 == "F" && $2 > s && $2 < e { print $3 }' "$T/sections.tsv"); do
        grep -qxF -- "$f" <<< "$opts" || unknown="$unknown $f ($cmds, line $line);"
    done
    awk -F'\t' -v s="$line" -v e="${end:-999999}" '$1 == "T" && $2 > s && $2 < e { sub(/^T\t[0-9]+\t/, ""); print }' "$T/sections.tsv" > "$T/section.txt"
    for o in $opts; do
        case "$common" in *" $o "*) continue ;; esac
        grep -qE -- "$o([^a-z0-9-]|\$)" "$T/section.txt" || undocumented="$undocumented $o ($cmds, line $line);"
    done
done < <(awk -F'\t' '$1 == "S" { print $2 "\t" $3 }' "$T/sections.tsv")
check "every flag in a command's table is an option of that command${unknown:+; not:$unknown}" test -z "$unknown"
check "every option of a command is in a runnable example or flag table of its README section${undocumented:+; missing:$undocumented}" test -z "$undocumented"
nocommon=$(for o in $common; do [ "$o" = --help ] || grep -qE -- "^C.*\`$o( |\`)" "$T/sections.tsv" || printf '%s ' "$o"; done)
check "Concepts explains the options commands share${nocommon:+; missing: $nocommon}" test -z "$nocommon"

# No claims of what does not exist: the source files and folders (under a
# top folder of this repository; others name other projects' files), fuzz targets
# and environment variables the README names, and the make targets of its
# table.
if [ -z "${T_README_INNER:-}" ]; then
    nofile=$(grep -oE '`(\.\./shared/|\.ci/|[a-z-]+/)[A-Za-z0-9_./-]*`' "$README" | tr -d '`' | sort -u |
        grep -E '\.(c|h|sh|supp)$|^(core|src|tests|scripts|\.ci|bench|examples|\.\./shared)/' |
        while read -r p; do [ -d "$here/${p%%/*}" ] && [ ! -e "$here/$p" ] && printf '%s ' "$p"; done)
    check "every source file and folder the README names exists${nofile:+; not: $nofile}" test -z "$nofile"
    nofuzz=$(grep -oE '`fuzz_[a-z0-9_]+`' "$README" | tr -d '`' | sort -u | while read -r f; do [ -e "$here/tests/fuzz/$f.c" ] || printf '%s ' "$f"; done)
    check "every fuzz target the README names exists${nofuzz:+; not: $nofuzz}" test -z "$nofuzz"
    notarget=$(awk '/^### Make targets/ { on = 1; next } on && /^#/ { on = 0 } on && /^\| `make / { print }' "$README" |
        grep -oE '`make [a-z-]+' | awk '{ print $2 }' | sort -u | while read -r t; do grep -qE "^([a-z -]* )?$t( [a-z -]*)?:" "$here/Makefile" || printf '%s ' "$t"; done)
    check "every make target of the README's table is in the Makefile${notarget:+; not: $notarget}" test -z "$notarget"
    noenv=$(grep -oE '\b(MATTER_PKI|BENCH|FUZZ|CI)_[A-Z_]+' "$README" | sort -u | while read -r v; do
        grep -rqsF --include='*.c' --include='*.h' --include='*.sh' --include=Makefile --include=run -- "$v" "$here/core" "$here/src" \
            "$here"/[a-z]*/ "$here/.ci" "$here/Makefile" --exclude-dir=tests --exclude-dir='build*' || printf '%s ' "$v"; done)
    check "every environment variable the README names is read somewhere${noenv:+; not: $noenv}" test -z "$noenv"
fi

# The exit-code table is `matter-pki help exit-codes` (the same codes, in order).
awk '/^## Exit codes/ { on = 1 } on && /^## / && !/Exit codes/ { on = 0 } on && /^\| [0-9]+ \|/ { print $2 }' "$README" > "$T/codes-readme.txt"
"$MP" help exit-codes | awk '/^ *[0-9]+ / { print $1 }' > "$T/codes-help.txt"
if [ -z "${T_README_INNER:-}" ]; then
    check "the README's exit-code table lists the codes of 'matter-pki help exit-codes' ($(wc -l < "$T/codes-help.txt"))" \
        bash -c "[ \$(wc -l < '$T/codes-help.txt') -ge 26 ] && diff '$T/codes-readme.txt' '$T/codes-help.txt'"
fi

# Run them all in one shell, each block followed by a marker. A block with
# expect-exit=N runs in a subshell (errexit on) and must end with status N.
{
    echo 'set -eo pipefail'
    echo 'echo "@@ time 000 $(date +%s%N)"'
    for b in "$T/blocks"/*.sh; do
        id=$(basename "$b" .sh); want=$(cat "$T/blocks/$id.exit")
        if [ "$want" = 0 ]; then cat "$b"
        else
            echo 'set +e'; echo '('; echo 'set -e'; cat "$b"; echo ')'
            echo "rc=\$?; set -e; [ \$rc = $want ] || { echo \"block $id exited \$rc, wanted $want\" >&2; exit 1; }"
        fi
        echo "echo \"@@ block $id ok\"; echo \"@@ time $id \$(date +%s%N)\""
    done
} > "$T/readme-script.sh"
# Its own process group (setsid), so what the examples start in the
# background (serve) is stopped afterwards even when a block fails; the
# throw-away PostgreSQL of the ledger migrate example likewise.
stop_examples() {
    [ -n "${spid:-}" ] && kill -TERM -- "-$spid" 2> /dev/null
    [ -f "$T/work/pg/data/postmaster.pid" ] &&
        if [ "$(id -u)" = 0 ]; then runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$T/work/pg/data" -m immediate stop
        else /usr/lib/postgresql/15/bin/pg_ctl -D "$T/work/pg/data" -m immediate stop; fi > /dev/null 2>&1
    spid=
}
trap 'stop_examples; rm -rf "$T"' EXIT
(cd "$T/work" && exec env -u MATTER_PKI_PIN -u MATTER_PKI_TOKEN -u MATTER_PKI_MODULE -u MATTER_PKI_LEDGER \
    -u MATTER_PKI_NO_PROMPT PATH="$T/bin:$PATH" \
    setsid timeout 600 bash "$T/readme-script.sh" > "$T/readme.out" 2> "$T/readme.err" < /dev/null) &
spid=$!
wait "$spid"
rc=$?
stop_examples
# T_README_KEEP=DIR keeps the folder and the output for a look afterwards.
[ -n "${T_README_KEEP:-}" ] && [ -z "${T_README_INNER:-}" ] && { mkdir -p "$T_README_KEEP" && cp -a "$T/work" "$T/readme.out" "$T/readme.err" "$T_README_KEEP/"; }
for b in "$T/blocks"/*.sh; do
    id=$(basename "$b" .sh)
    if grep -qx "@@ block $id ok" "$T/readme.out"; then
        ms=$(awk -v id="$id" '$1 == "@@" && $2 == "time" { if ($3 == id) { print int(($4 - prev) / 1000000); exit } prev = $4 }' "$T/readme.out")
        ok "README block at line $(cat "$T/blocks/$id.line") runs (${ms} ms)"
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
noout=$(awk '/^### Output files/ { on = 1; next } on && /^#/ { on = 0 } on && /^\|/' "$README" | grep -oE '`UDID\.[a-z0-9_.]+`' |
    tr -d '`' | sort -u | while read -r f; do [ -n "$(find "$W" -name "*.${f#UDID.}" -print -quit)" ] || printf '%s ' "$f"; done)
check "the examples made a file of every kind the output-file table names${noout:+; none: $noout}" test -z "$noout"
check "certification engineer: the defective vector was rejected (19)" jq -e '.code == 19 or .verdict != "accepted"' "$W/rejected.json"
# What the command reference's comments promise.
check "onboarding encode prints the QR text and manual code its comments show" \
    bash -c "grep -q 'MT:Y.K9042C00KA0648G00' '$T/readme.out' && grep -q '34970112332' '$T/readme.out'"
check "the revoked DAC is rejected with 302 kDacRevoked" grep -q '302 kDacRevoked' "$T/readme.err"
check "the defective vector is rejected with 303 kDacFormatInvalid" grep -q '303 kDacFormatInvalid' "$T/readme.err"
check "serve issued over curl and est enroll (single and --csr-dir)" test -s "$W/dev6-dac.pem" -a -s "$W/dev7-dac.der" -a -s "$W/est-dacs/dev8.der"
check "serve and the throw-away PostgreSQL were stopped by the examples" bash -c "! grep -q 'block.*exited' '$T/readme.err' && [ ! -e '$W/pg/data/postmaster.pid' ]"
check "dac issue --generate-keys --bundle: 5 lines, each with its key, file 0600" bash -c "[ \$(jq -r 'select(.key != null) | .udid' '$W/keys-17.jsonl' | wc -l) = 5 ] && [ \$(stat -c %a '$W/keys-17.jsonl') = 600 ]"
check "factory-data build --layout per-device --name-by serial, and --bundle of the rest (5 lines)" bash -c "ls '$W'/fd-lot17/L17-*/L17-*.nrf.cbor && [ \$(wc -l < '$W/lot-17/fd.jsonl') = 5 ]"
check "factory-data build of the mixed order: nrf only for the 5 off-chip devices, json and svg for all" \
    bash -c "cd '$W/fd-line7' && [ \$(ls *.nrf.cbor | wc -l) = 5 ] && [ \$(ls *.qr.svg | wc -l) = \$(ls *.json | grep -vc nrf.json) ] && [ \$(ls *.qr.svg | wc -l) -gt 100 ]"

# The checker itself, on bad READMEs: option syntax in a runnable line, a
# block that fails, an unmarked ```shell block, a no-run block without a
# reason, expect-exit=N both met and not met, a table flag that does not
# exist and a command option the README omits must each be reported.
if [ -z "${T_README_INNER:-}" ]; then
    printf '%s\n' '# x' '```sh' 'true' '```' '```sh expect-exit=3' '(exit 3)' '```' \
        '```sh' 'false' '```' '```sh' 'matter-pki ledger export --format csv|jsonl' '```' \
        '```shell' 'echo' '```' '```sh no-run: synopsis' 'matter-pki x [--y]' '```' '```sh no-run' 'echo' '```' \
        '## Commands' '### cert lint' '| flag | meaning |' '|---|---|' '| `--bogus` | no such option |' '' 'Prose alone, such as `--type`, does not count.' > "$T/bad.md"
    T_README_INNER=1 README="$T/bad.md" bash "$self" > "$T/inner.out" 2>&1
    check "checker: flags a|b in a runnable line" grep -q 'FAIL README block at line 12: no \[--opt\]' "$T/inner.out"
    check "checker: flags a block that fails" grep -q 'FAIL README block at line 9 runs' "$T/inner.out"
    check "checker: flags an unmarked \`\`\`shell block" grep -q 'FAIL shell blocks are written' "$T/inner.out"
    check "checker: flags a no-run block without a reason" grep -q 'FAIL every no-run block says why' "$T/inner.out"
    check "checker: flags a command without a runnable example" grep -q 'FAIL every command .*missing: token init' "$T/inner.out"
    check "checker: flags a table flag the command does not have" grep -q 'FAIL every flag in a .*not: --bogus (cert lint, line 24)' "$T/inner.out"
    check "checker: flags an option its command's section names in prose only" grep -q 'FAIL every option of a command .*missing: --type (cert lint, line 24)' "$T/inner.out"
    check "checker: flags shared options Concepts does not explain" grep -q 'FAIL Concepts explains .*--pin-file' "$T/inner.out"
    check "checker: runs the good block, accepts expect-exit=3 ending 3, skips no-run" bash -c "grep -q 'ok   README block at line 3 runs' '$T/inner.out' &&
        grep -q 'ok   README block at line 6 runs' '$T/inner.out' && grep -q '4; 2 marked no-run' '$T/inner.out'"
    # The real README with one option misspelt in its first runnable block.
    first=$(awk '/^```sh$/ { print NR + 1; exit }' "$README")
    awk -v l="$first" 'NR >= l && !done && /--out / { sub(/--out /, "--output "); done = 1 } { print }' "$README" > "$T/broken.md"
    T_README_INNER=1 README="$T/broken.md" bash "$self" > "$T/inner3.out" 2>&1
    check "checker: the README with a misspelt option in its first block fails that block" \
        bash -c "! cmp -s '$README' '$T/broken.md' && grep -q 'FAIL README block at line $first runs' '$T/inner3.out'"
    printf '%s\n' '# y' '```sh expect-exit=3' 'true' '```' '```sh' 'matter-pki cert lint --type pai [FILE]' '```' > "$T/bad2.md"
    T_README_INNER=1 README="$T/bad2.md" bash "$self" > "$T/inner2.out" 2>&1
    check "checker: flags an expect-exit=3 block that exits 0" grep -q 'FAIL README block at line 3 runs' "$T/inner2.out"
    check "checker: flags an optional [PLACEHOLDER] in a runnable line" grep -q 'FAIL README block at line 6: no \[--opt\]' "$T/inner2.out"
fi
finish
