#!/usr/bin/env bash
# code-stats.sh - function-length and file-size figures of the C sources
# (everything but tests/ and bench/): count, median, p90 and max function
# length (lines from the opening brace line to the closing one), functions
# over 80 lines, file sizes (lines) and the largest files.
# Usage: .ci/code-stats.sh [DIR]   (default: the repository root)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
files=$(git ls-files '*.c' '*.h' | grep -v -e '^tests/' -e '^bench/' | sort)
# A function body: a line "{" at column 0 after a definition line, to "}" at column 0.
fn=$(for f in $files; do
    awk -v f="$f" '
        /^[A-Za-z_].*\(/ { name = $0; sub(/\(.*/, "", name); n = split(name, w, /[ *]+/); name = w[n] }
        /^\{/ { start = NR; nm = name }
        /^\}/ && start { print NR - start + 1, f ":" nm; start = 0 }' "$f"
done | sort -n)
nfn=$(printf '%s\n' "$fn" | wc -l)
pct() { printf '%s\n' "$fn" | awk -v p="$1" -v n="$nfn" 'NR == int((n - 1) * p) + 1 { print $1 }'; }
echo "functions:        $nfn"
echo "median length:    $(pct 0.5)"
echo "p90 length:       $(pct 0.9)"
echo "max length:       $(printf '%s\n' "$fn" | tail -1)"
echo "over 80 lines:    $(printf '%s\n' "$fn" | awk '$1 > 80' | wc -l)"
echo "over 50 lines:    $(printf '%s\n' "$fn" | awk '$1 > 50' | wc -l)"
sizes=$(for f in $files; do echo "$(wc -l < "$f") $f"; done | sort -n)
nf=$(printf '%s\n' "$sizes" | wc -l)
echo "files:            $nf ($(printf '%s\n' "$sizes" | awk '{s += $1} END {print s}') lines)"
echo "median file:      $(printf '%s\n' "$sizes" | awk -v n="$nf" 'NR == int((n - 1) / 2) + 1 { print $1 }') lines"
echo "files > 500 lines: $(printf '%s\n' "$sizes" | awk '$1 > 500' | wc -l)"
echo "largest files:"
printf '%s\n' "$sizes" | tail -5 | sed 's/^/  /'
echo "longest functions:"
printf '%s\n' "$fn" | tail -5 | sed 's/^/  /'
