# race.sh - many stations on one order, some killed with SIGKILL and
# restarted; sourced by t_pg.sh and t_stations_sqlite.sh after the token,
# PAA and PAI exist. race NPROC ORDER QUOTA LOCATION DB_QUERY_FUNCTION
#   q SQL: runs SQL against the ledger and prints one value per line.
race() {
    local n=$1 order=$2 quota=$3 tag=$4
    local pids=() i k round
    run_station() { "$MP" dac issue $H --order "$order" --out-dir "$tag.out$1" --station "$tag-st$1" --block 8 --lease 3s --quiet \
                        > "$tag.log$1" 2>&1; echo $? > "$tag.rc$1"; }
    for i in $(seq 1 "$n"); do run_station "$i" & pids[$i]=$!; done
    # kill three random stations at random moments once they have logged in
    # to the token: SoftHSM rewrites its token.object in place at every login,
    # and a process killed in that moment leaves it empty, the token gone for
    # every later run (SoftHSM's file store, not the ledger under test); a
    # station that recorded a batch has logged in
    local killed=0 w
    for k in 1 2 3; do
        sleep "0.$((RANDOM % 3 + 1))"
        i=$((RANDOM % n + 1))
        for w in $(seq 1 50); do
            [ "$(q "select count(*) from dac_batches where station='$tag-st$i'" 2> /dev/null)" -gt 0 ] 2> /dev/null && break
            sleep 0.1
        done
        # the subshell's child is the station process
        local child; child=$(pgrep -P "${pids[$i]}" -f "matter-pki dac issue" | head -1)
        [ -n "$child" ] && kill -9 "$child" 2> /dev/null && killed=$((killed + 1))
    done
    wait
    echo "$killed" > "$tag.killed"
    # restart every station until the order is done (killed stations' leases
    # expire after 3 s, then the others take those devices)
    for round in 1 2 3 4 5 6 7 8; do
        local failed=0
        for i in $(seq 1 "$n"); do [ "$(cat "$tag.rc$i")" = 0 ] || failed=1; done
        [ "$failed" = 0 ] && [ "$(q "select issued from orders where id=$order")" = "$quota" ] && \
            [ "$(q "select count(*) from dac_batches where order_id=$order and written=0")" = 0 ] && break
        sleep 1
        for i in $(seq 1 "$n"); do run_station "$i" & done
        wait
    done
    local bad=0
    for i in $(seq 1 "$n"); do [ "$(cat "$tag.rc$i")" = 0 ] || { bad=$((bad + 1)); sed 's/^/       /' "$tag.log$i" | head -3; }; done
    check "$tag: every station's last run exits 0 ($bad did not; $killed killed on the way)" test "$bad" = 0
    local issued certs udids serials files
    issued=$(q "select issued from orders where id=$order")
    certs=$(q "select count(*) from dacs where order_id=$order")
    udids=$(q "select count(distinct udid) from dacs where order_id=$order")
    serials=$(q "select count(distinct serial) from dacs where order_id=$order")
    files=$(cat $tag.out*/*.der 2> /dev/null | wc -c > /dev/null; ls $tag.out*/ 2> /dev/null | grep -c '[.]der$')
    check "$tag: issued ($issued) == certificates ($certs) == quota ($quota)" test "$issued" = "$certs" -a "$certs" = "$quota"
    check "$tag: no UDID twice ($udids distinct)" test "$udids" = "$certs"
    check "$tag: no serial twice ($serials distinct)" test "$serials" = "$certs"
    check "$tag: files on disk ($files) == ledger rows ($certs)" test "$files" = "$certs"
    q "select path || ' ' || sha256 from certificates where order_id=$order order by path" > "$tag.ledger.sums"
    for f in $tag.out*/*.der; do echo "$(cd "$(dirname "$f")" && pwd)/$(basename "$f") $(sha256sum < "$f" | cut -d' ' -f1)"; done | sort > "$tag.disk.sums"
    check "$tag: every file is its ledger row (path and SHA-256)" cmp -s <(sort "$tag.ledger.sums") "$tag.disk.sums"
    local stations; stations=$(q "select count(distinct station) from dac_batches where order_id=$order")
    # with many stations at once more than one takes part (with 4 on SQLite's
    # single writer one may finish the order before the others start: not asserted)
    [ "$n" -ge 8 ] && check "$tag: the stations shared the order ($stations stations issued)" test "$stations" -gt 1
    expect 0 "$tag: audit verify passes" "$MP" audit verify
    check "$tag: station counts add up to the order" test "$(q "select sum(issued) from stations where name like '$tag-%'")" = "$quota"
}
