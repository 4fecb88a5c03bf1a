#!/usr/bin/env bash
# run.sh - run every tests/integration/t_*.sh; prints "N passed, N failed".
here=$(cd "$(dirname "$0")" && pwd)
pass=0; fail=0; bad=()
for t in "$here"/t_*.sh; do
    [ -n "${ONLY:-}" ] && [[ "$t" != *"$ONLY"* ]] && continue
    echo "== $(basename "$t")"
    out=$(bash "$t" 2>&1); rc=$?
    echo "$out" | grep -v '^RESULT '
    r=$(echo "$out" | grep '^RESULT ' | tail -1)
    p=$(echo "$r" | cut -d' ' -f2); f=$(echo "$r" | cut -d' ' -f3)
    if [ -z "$r" ]; then f=1; p=0; echo "  FAIL $(basename "$t") ended early (exit $rc)"; fi
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" != 0 ] && bad+=("$(basename "$t")")
done
[ ${#bad[@]} -gt 0 ] && echo "failing scripts: ${bad[*]}"
echo "integration: $pass passed, $fail failed"
[ "$fail" = 0 ]
