#!/usr/bin/env bash
# t_stations.sh - several stations on one order with the SQLite ledger: 4
# processes race `dac issue` on one order whose quota is smaller than the chip
# list while some are killed with SIGKILL and restarted (t_pg.sh does the same
# with 8 on PostgreSQL), and a second run of an order no longer stops.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/race.sh"
H="--token test --pin-file pin"
q() { sqlite3 state/ledger.sqlite "$1"; }
new_token
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
"$MP" chips simulate --count 1200 --out sim > /dev/null
expect 0 "chips import" "$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem
expect 0 "order create (quota 800 of 1200 devices)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 800
O=$(cat out.txt)
race 4 "$O" 800 sqlite
check "no device left reserved once the order is done" test "$(q "select count(*) from leases r join devices d on d.udid between r.lo and r.hi and d.state=0 where r.until >= strftime('%s','now')")" = 0
# two runs of one order at once with --count: both finish, nothing twice
expect 0 "order create (quota 100)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 100
O2=$(cat out.txt)
"$MP" dac issue $H --order $O2 --count 50 --out-dir two1 --block 5 --station a --quiet > two1.log 2>&1 & p=$!
"$MP" dac issue $H --order $O2 --count 50 --out-dir two2 --block 5 --station b --quiet > two2.log 2>&1; r2=$?
wait $p; r1=$?
check "two runs with --count on one order both finish (exit $r1 and $r2; 17 before)" test "$r1" = 0 -a "$r2" = 0
check "100 distinct devices for 100 DACs" test "$(q "select count(distinct udid) from dacs where order_id=$O2")" = 100
# stations starting at once on one host: SoftHSM rewrites the token's file at
# every login, and a process loading the module meanwhile failed to
# initialise it or to list the slots (exit 5; about 1 in 4 under load)
fails=0
for r in 1 2 3 4 5; do
    pids=()
    for i in 1 2 3 4 5 6 7 8; do "$MP" token list $H > "tl.$i" 2> "tl.$i.err" & pids+=($!); done
    i=0
    for p in "${pids[@]}"; do i=$((i + 1)); wait "$p" || { fails=$((fails + 1)); sed "s/^/    tl.$i: /" "tl.$i.err"; }; done
done
check "40 logins to one token, 8 at a time: none fails ($fails failed)" test "$fails" = 0
expect_err 2 "--lease" "a bad --lease is a usage error" "$MP" dac issue $H --order $O2 --count 1 --out-dir x --lease 5y
finish
