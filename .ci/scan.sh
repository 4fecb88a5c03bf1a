#!/usr/bin/env bash
# scan.sh - clang's static analyzer (scan-build) over a full build; fails on
# any finding not accepted in .ci/scan.supp (which gives a reason for each).
# The build uses SCAN=1 so that .ci/analyzer.h tells the analyzer what
# mp_err() returns.
set -euo pipefail
cd "$(dirname "$0")/.."
supp=.ci/scan.supp
out=build-scan/report
disable=()
while IFS='|' read -r what _; do
    set -- $what
    [ "${1:-}" = disable ] && disable+=(-disable-checker "$2")
done < <(grep -v '^#' "$supp")
rm -rf build-scan
scan-build --use-cc=clang -o "$out" "${disable[@]}" \
    make --no-print-directory BUILD=build-scan SCAN=1 build-scan/matter-pki > build-scan.log 2>&1 ||
    { tail -20 build-scan.log; exit 1; }
bad=0 n=0
for r in "$out"/*/report-*.html; do
    [ -e "$r" ] || continue
    n=$((n + 1))
    file=$(sed -n 's|^<!-- BUGFILE \(.*\) -->$|\1|p' "$r"); file=${file#"$PWD"/}
    type=$(sed -n 's|^<!-- BUGTYPE \(.*\) -->$|\1|p' "$r")
    line=$(sed -n 's|^<!-- BUGLINE \(.*\) -->$|\1|p' "$r")
    desc=$(sed -n 's|^<!-- BUGDESC \(.*\) -->$|\1|p' "$r")
    if grep -v '^#' "$supp" | awk -F' [|] ' -v f="$file" -v t="$type" '$1 == f && $2 == t { found = 1 } END { exit !found }'; then
        continue
    fi
    echo "$file:$line: $type: $desc"
    bad=$((bad + 1))
done
rm -f build-scan.log
echo "scan-build: $n findings, $((n - bad)) accepted in $supp, $bad new"
[ "$bad" = 0 ]
