#!/usr/bin/env bash
# t_est_pg.sh - `serve` on a real PostgreSQL 15 ledger (started here in a
# temporary folder, Unix socket only, stopped at exit) against a real SoftHSM
# token: enroll, the idempotent retry, two stations racing for the last DAC,
# a group from concurrent requests, SIGKILL under load and a restart checked
# against the ledger, two servers on one ledger enrolling the same devices
# (several servers behind a load balancer), and the audit trail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/est.sh"
. "$(dirname "$0")/pg.sh"
command -v curl > /dev/null || { echo "curl missing"; echo "RESULT 0 0"; exit 0; }
SERVERS=""
trap 'for p in $SERVERS; do kill -9 "$p" 2> /dev/null; done; wait 2> /dev/null; pg_stop; rm -rf "$T"' EXIT
H="--token test --pin-file pin"
L=$(pg_newdb ledger) || { echo "cannot create the database"; exit 1; }
export MATTER_PKI_LEDGER="$L"
db() { psql_ ledger "$1"; }
new_token
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
"$MP" chips simulate --count 130 --out sim > /dev/null
expect 0 "chips import into PostgreSQL" "$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem
expect 0 "order create --label line1" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 130 --label line1
expect 0 "order create --label last (quota 1)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 1 --label last
O1=$(db "select id from orders where label='line1'"); O2=$(db "select id from orders where label='last'")
expect 0 "station ca create" "$MP" station ca create $H --key-label stca --cn "Acme Stations" --out stca.pem
for s in st1 st2; do
    openssl ecparam -name prime256v1 -genkey -noout -out "$s.key" 2> /dev/null
    openssl req -new -key "$s.key" -subj "/CN=x" -out "$s.csr"
    "$MP" station issue "$s" $H --csr "$s.csr" --ca-cert stca.pem --ca-key stca --out "$s.pem" > /dev/null
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srvca.key -out srvca.pem -subj /CN=srvca -days 30 2> /dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost 2> /dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext.s
openssl x509 -req -in srv.csr -CA srvca.pem -CAkey srvca.key -CAcreateserial -out srv.pem -days 30 -extfile ext.s 2> /dev/null
# device CSRs made with the simulated chips' keys
mkdir -p csr b1 b3 b4
i=0
while IFS=, read -r u hex _; do
    [ ${#hex} = 64 ] || continue
    i=$((i + 1)); n=$(printf 'd%03d' $i)
    printf '30310201010420%sa00a06082a8648ce3d030107' "$hex" | perl -ne 'print pack("H*", $_)' > k.der
    openssl ec -inform DER -in k.der -out "csr/$n.key" 2> /dev/null
    openssl req -new -key "csr/$n.key" -subj "/CN=$u" -outform DER -out "csr/$n.der"
    base64 "csr/$n.der" > "csr/$n.b64"; echo "$u" > "csr/$n.udid"
done < sim/device-keys.csv
check "130 device CSRs" test "$(ls csr/*.der | wc -l)" = 130
for k in $(seq 11 30); do cp csr/$(printf 'd%03d' $k).der b1/; done
for k in $(seq 31 100); do cp csr/$(printf 'd%03d' $k).der b3/; done
for k in $(seq 101 130); do cp csr/$(printf 'd%03d' $k).der b4/; done

post() { # post STATION URL FILE: code in code.txt, body in body.txt
    curl -sS --cacert srvca.pem --cert "$1.pem" --key "$1.key" -o body.txt -w '%{http_code}' \
        -H 'Content-Type: application/pkcs10' --data-binary "@$3" "$2" > code.txt 2> curl.err
}
in_ledger() { # in_ledger DIR: every DAC file in DIR is the ledger's DAC of its device
    local f n h
    for f in "$1"/*.der; do
        n=$(basename "$f" .der); h=$(sha256sum < "$f" | cut -c1-64)
        [ "$(db "select encode(sha256,'hex') from dacs where udid='$(cat csr/$n.udid)'")" = "$h" ] || return 1
    done
}

start_server A
check "serve on a PostgreSQL ledger listens" test "$A_PORT" -gt 0
URL="https://127.0.0.1:$A_PORT/.well-known/est"
post st1 "$URL/line1/simpleenroll" csr/d001.b64
check "simpleenroll: 200" test "$(cat code.txt)" = 200
cp body.txt d001.resp
base64 -d d001.resp | openssl pkcs7 -inform DER -print_certs 2> /dev/null | openssl x509 -outform DER -out d001.dac.der 2> /dev/null
expect 0 "the DAC passes cert lint --type dac" "$MP" cert lint --type dac d001.dac.der
expect 0 "and verify attestation" "$MP" verify attestation --paa paa.pem --pai pai.pem --dac d001.dac.der
check "the DAC is in the PostgreSQL ledger, with its station and the same bytes" \
    test "$(db "select b.station || ' ' || encode(c.sha256,'hex') from dacs c join dac_batches b on b.id=c.batch where c.udid='$(cat csr/d001.udid)'")" = "st1 $(sha256sum < d001.dac.der | cut -c1-64)"
post st1 "$URL/line1/simpleenroll" csr/d001.b64
check "the idempotent retry: the same DAC bytes (200)" bash -c "[ \"\$(cat code.txt)\" = 200 ] && cmp -s body.txt d001.resp"
check "still one DAC for that device" test "$(db "select count(*) from dacs where udid='$(cat csr/d001.udid)'")" = 1

# two stations racing for the last DAC
post st1 "$URL/last/simpleenroll" csr/d006.b64 &
p1=$!
curl -sS --cacert srvca.pem --cert st2.pem --key st2.key -o race2.txt -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
    --data-binary @csr/d007.b64 "$URL/last/simpleenroll" > race2.code 2> /dev/null
wait $p1
codes=$(printf '%s\n%s\n' "$(cat code.txt)" "$(cat race2.code)" | sort | tr '\n' ' ')
check "two stations, one DAC left: one 200 and one 409 ($codes)" test "$codes" = "200 409 "
check "the loser is told the quota is gone" bash -c "grep -q 'out of quota' body.txt || grep -q 'out of quota' race2.txt"
check "order 'last': exactly 1 DAC, issued 1" test "$(db "select count(*) from dacs where order_id=$O2"),$(db "select issued from orders where id=$O2")" = 1,1

# an order with station assignments: the station's sub-quota holds (the group
# takes the per-row path), and an order without them counts its stations
expect 0 "order create --label sub (quota 10)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 10 --label sub
O3=$(db "select id from orders where label='sub'")
expect 0 "order assign st2 a sub-quota of 1" "$MP" order assign --order "$O3" --station st2 --quota 1
post st2 "$URL/sub/simpleenroll" csr/d008.b64; c1=$(cat code.txt)
post st2 "$URL/sub/simpleenroll" csr/d009.b64; c2=$(cat code.txt)
check "sub-quota 1: 200 then 409 ($c1 $c2)" test "$c1,$c2" = 200,409
check "order 'sub': 1 DAC, its station's count 1" test "$(db "select count(*) from dacs where order_id=$O3"),$(db "select issued from orders where id=$O3"),$(db "select issued from order_stations where order_id=$O3 and station='st2'")" = 1,1,1
n_st1=$(db "select issued from stations where name='st1'")
d_st1=$(db "select count(*) from dacs c join dac_batches b on b.id=c.batch where b.station='st1'")
check "stations count their DACs (st1: $n_st1 counted, $d_st1 DACs)" test "$n_st1" = "$d_st1"

# concurrent requests are grouped into transactions
E="--cert st1.pem --key st1.key --ca srvca.pem --order line1"
expect 0 "est enroll --csr-dir (20 CSRs, 8 connections)" "$MP" est enroll --server "https://127.0.0.1:$A_PORT" $E --csr-dir b1 --out-dir o1 --jobs 8
check "20 DACs written" test "$(ls o1/*.der | wc -l)" = 20
check "each is the ledger's DAC of its device" in_ledger o1
check "requests shared transactions" test "$(db "select count(distinct batch) from dacs where order_id=$O1")" -lt "$(db "select count(*) from dacs where order_id=$O1")"
kill -TERM "$A_PID"; wait "$A_PID"; check "SIGTERM: exit 0" test $? = 0

# SIGKILL under load, restart, then the ledger against what the client received
start_server K --group-ms 5
"$MP" est enroll --server "https://127.0.0.1:$K_PORT" --cert st2.pem --key st2.key --ca srvca.pem --order line1 --csr-dir b3 --out-dir o3 --jobs 8 > k.out 2> k.err &
cpid=$!
for _ in $(seq 300); do [ "$(ls o3 2> /dev/null | wc -l)" -ge 3 ] && break; sleep 0.02; done
kill -9 "$K_PID"
wait $cpid; krc=$?
got=$(ls o3/*.der 2> /dev/null | wc -l)
check "SIGKILL under load: the client got some DACs ($got) and failures (exit $krc)" bash -c "[ $got -ge 1 ] && [ $krc != 0 ]"
check "every DAC received before the kill is in the ledger" in_ledger o3
start_server K2
"$MP" est enroll --server "https://127.0.0.1:$K2_PORT" --cert st2.pem --key st2.key --ca srvca.pem --order line1 --csr-dir b3 --out-dir o3 --jobs 8 > k2.out 2> k2.err
check "after a restart the batch finishes (70 DACs)" test "$(ls o3/*.der | wc -l)" = 70
check "every DAC of the batch is the ledger's, for its device" in_ledger o3
check "nothing doubled: one DAC per device, issued = DACs" \
    test "$(db "select count(*) - count(distinct udid) from dacs"),$(db "select issued - (select count(*) from dacs where order_id=$O1) from orders where id=$O1")" = 0,0

# two servers on one ledger, two clients enrolling the same 30 devices through both
start_server B
"$MP" est enroll --server "https://127.0.0.1:$K2_PORT" $E --csr-dir b4 --out-dir o4a --jobs 8 > o4a.log 2>&1 & pa=$!
"$MP" est enroll --server "https://127.0.0.1:$B_PORT" --cert st2.pem --key st2.key --ca srvca.pem --order line1 --csr-dir b4 --out-dir o4b --jobs 8 > o4b.log 2>&1; rb=$?
wait $pa; ra=$?
check "two servers, same devices: both clients finish (exit $ra and $rb)" test "$ra,$rb" = 0,0
check "both clients received the same DAC for every device" bash -c "[ \$(ls o4a/*.der | wc -l) = 30 ] && for f in o4a/*.der; do cmp -s \$f o4b/\$(basename \$f) || exit 1; done"
check "and it is the ledger's DAC of its device" in_ledger o4a
check "one DAC per device" test "$(db "select count(*) - count(distinct udid) from dacs")" = 0
kill -TERM "$K2_PID" "$B_PID"; wait "$K2_PID"; r1=$?; wait "$B_PID"; r2=$?
check "both servers stop with exit 0" test "$r1,$r2" = 0,0

# the audit trail on PostgreSQL
expect 0 "audit verify" "$MP" audit verify
"$MP" audit export --format jsonl > audit.jsonl
jq -r 'select(.event == "est.enroll") | (.detail | if type == "string" then fromjson else . end) | .dacs' audit.jsonl | tr ' ' '\n' | grep . | sort > audit.dacs
db "select b.station || ':' || c.udid from dacs c join dac_batches b on b.id = c.batch where b.dir = 'est:'" | sort > ledger.dacs
check "est.enroll rows name every DAC, once ($(wc -l < ledger.dacs))" bash -c "[ -s ledger.dacs ] && cmp -s audit.dacs ledger.dacs"
check "the race's loser is an est.refuse row (quota)" bash -c "jq -r 'select(.event == \"est.refuse\") | .detail' audit.jsonl | grep -q quota"
finish
