#!/usr/bin/env bash
# t_dac_runs.sh - issue 13 items 1, 5, 17, 18 and issue 14 (runs that finish as
# promised, --layout/--name-by/--bundle, --json): recovery removes only what
# matter-pki provably wrote, the UDID rule, remembered run targets, outputs.
. "$(dirname "$0")/lib.sh"
H="--token test --pin-file pin"
new_token
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
db() { sqlite3 state/ledger.sqlite "$1"; }
order() { "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota "${1:-100000}" > /dev/null; db "select max(id) from orders"; }
"$MP" chips simulate --count 30 --out sim > /dev/null
kline() { sed -n "$(($1 + 1))p" sim/chips.csv | cut -d, -f2; }   # the Nth chip's key

# ---- item 17: the UDID rule, once, at every import format and at --udid
bad_udid() { # bad_udid UDID DESC
    printf 'udid,public_key\n%s,%s\n' "$1" "$(kline 1)" > u.csv
    expect_err 10 "UDID" "csv: $2 refused" "$MP" chips import u.csv --allow-unsigned
    printf '[{"udid":"%s","public_key":"%s"}]\n' "$1" "$(kline 1)" > u.json
    expect_err 10 "UDID" "json: $2 refused" "$MP" chips import u.json --allow-unsigned
}
bad_udid "DEV1.key" "a '.' (DEV1.key would name DEV1's key file)"
bad_udid "ab:cd" "a ':'"
bad_udid "-rf" "a leading '-'"
bad_udid ".hidden" "a leading '.'"
bad_udid "CON" "the Windows device name CON"
bad_udid "nul" "the Windows device name nul"
bad_udid "Com7" "the Windows device name Com7"
bad_udid "lpt1" "the Windows device name lpt1"
check "nothing was imported" test "$(db 'select count(*) from devices')" = 0
printf 'udid,public_key\n%s,%s\n' DEV1.key "$(kline 1)" > u.csv
expect_err 10 "u.csv:2: UDID has character '[.]' at position 5" "the error names the file, line and character" "$MP" chips import u.csv --allow-unsigned
printf 'udid,public_key\nabc,%s\nCONSOLE,%s\n' "$(kline 1)" "$(kline 2)" > ok.csv
expect 0 "abc and CONSOLE are fine" "$MP" chips import ok.csv --allow-unsigned
printf 'udid,public_key\nABC,%s\n' "$(kline 3)" > case.csv
expect_err 16 "differs only in case from abc" "case-only duplicate of the ledger refused" "$MP" chips import case.csv --allow-unsigned
printf 'udid,public_key\nxyz,%s\nXyZ,%s\n' "$(kline 4)" "$(kline 5)" > case2.csv
expect_err 16 "case2.csv:3: .*differs only in case from xyz \(earlier in the same list\)" "case-only duplicate within one list refused, naming the line" \
    "$MP" chips import case2.csv --allow-unsigned
check "the refused lists left nothing" test "$(db 'select count(*) from devices')" = 2
# birth certificates: the UDID is the CN, checked by the same rule
"$MP" chips simulate --count 2 --birth-certs --out simb > /dev/null
openssl ecparam -name prime256v1 -genkey -noout -out dev.key 2> /dev/null
openssl req -new -key dev.key -subj "/CN=CON" -out dev.csr 2> /dev/null
openssl x509 -req -in dev.csr -CA simb/chipmaker.pem -CAkey simb/chipmaker.key -days 30 -set_serial 7 -out devcert.pem 2> /dev/null
expect_err 10 "Windows" "birth certificate with CN=CON refused" "$MP" chips import devcert.pem --chip-root simb/chipmaker.pem
O=$(order 100)
expect_err 10 "UDID" "--udid with a ':' refused before anything" "$MP" dac issue $H --order $O --udid "a:b" --out-dir x
expect_err 10 "UDID" "--udid NUL refused" "$MP" dac issue $H --order $O --udid NUL --out-dir x

finish
