#!/usr/bin/env bash
# t_help.sh - every command's --help works with no state directory, no token
# and no ledger (the dispatcher opens what a command's row needs only after
# its options are parsed, and --help stops before that); required options
# are marked in --help, in `help --dump-options` and in the man pages, and a
# missing one is a usage error (exit 2) naming it.
. "$(dirname "$0")/lib.sh"
export MATTER_PKI_STATE="$T/no-such-state"
mkdir empty && cd empty || exit 1
cmds=$("$MP" help --dump-options | awk -F'\t' '$1 == "command" { print $2 " " $3 }')
n=0
while read -r g s; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    "$MP" $g $s --help > "$T/out.txt" 2> "$T/err.txt"
    rc=$?
    if [ "$rc" = 0 ] && grep -q "^usage: matter-pki $g" "$T/out.txt" && [ ! -s "$T/err.txt" ]; then :; else
        fail "$g $s --help without state (exit $rc)"; sed "s/^/       /" "$T/err.txt" | head -3
    fi
done <<< "$cmds"
check "--help of all $n commands without state, token or ledger" test "$FAIL" = 0
check "no state directory was made" test ! -e "$MATTER_PKI_STATE"
check "nothing written in the current folder" test -z "$(ls -A .)"
cd .. || exit 1
"$MP" order create --help > out.txt
check "order create --help marks --quota (required)" grep -qE -- '--quota N +.*\(required\)$' out.txt
check "order create --help marks --cn-template as optional" sh -c "grep -- '--cn-template' out.txt | grep -vq required"
"$MP" help --dump-options > dump.txt
check "help --dump-options marks required options" grep -qP '^option\tquota\tuint\tN\t.*\(required\)$' dump.txt
check "help --dump-options gives the value type of a required option" grep -qP '^option\tpai-cert\tfile\t' dump.txt
if bash "$(dirname "$0")/../../scripts/gen-docs.sh" "$MP" docs 0 > /dev/null 2>&1; then
    check "the order man page says --quota is required" sh -c "grep -A2 'quota' docs/man1/matter-pki-order.1 | grep -q 'required'"
else
    fail "scripts/gen-docs.sh"
fi
expect_err 2 "^matter-pki onboarding encode: error: onboarding encode: --pid, --discriminator, --passcode and --caps are required$" \
    "a missing required option is a usage error naming it" "$MP" onboarding encode --vid FFF1
expect_err 2 "trust export: --out and at least one --paa are required" "trust export without --out and --paa" "$MP" trust export --for dir
finish
