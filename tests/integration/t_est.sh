#!/usr/bin/env bash
# t_est.sh - `serve` (EST over HTTPS) against a real SoftHSM token and a real
# SQLite ledger, on 127.0.0.1:0; clients are curl + openssl and `matter-pki
# est`; station CA and station certificates are made by the tool. Every
# refusal, the idempotent retry, rate limiting, two stations racing for the
# last DAC, grouping, SIGTERM with requests in flight, SIGKILL under load and
# a restart checked against the ledger. Servers are killed in the trap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/est.sh"
command -v curl > /dev/null || { echo "curl missing"; echo "RESULT 0 0"; exit 0; }
SERVERS=""
cleanup() { for p in $SERVERS; do kill -9 "$p" 2> /dev/null; done; wait 2> /dev/null; rm -rf "$T"; }
trap cleanup EXIT
H="--token test --pin-file pin"
new_token
"$MP" paa create $H --key-label paa --cn "Acme PAA" --vid FFF2 --valid-from 2025-01-01 --out paa.pem > /dev/null
"$MP" pai create $H --paa-cert paa.pem --paa-key paa --key-label pai --cn "Acme PAI" --vid FFF2 --pid 8001 --valid-from 2025-01-02 --out pai.pem > /dev/null
"$MP" chips simulate --count 150 --out sim > /dev/null
"$MP" chips import sim/chips.csv --signature sim/chips.csv.sig --signer sim/chipmaker.pem > /dev/null
db() { sqlite3 state/ledger.sqlite "$1"; }

# orders with labels
expect 0 "order create --label" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 150 --label line1
expect_err 16 "labelled 'line1' exists" "a label is unique" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 1 --label line1
expect_err 10 "not only digits" "a label that reads as an ID" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 1 --label 42
expect 0 "order with 1 DAC left (label last)" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 1 --label last
expect 0 "order list" "$MP" order list
check "order list shows the label" grep -q "label=line1" out.txt

# station CA and stations, made by the tool
expect_err 6 "already has an object labelled" "station CA refuses an existing key label (the PAI's)" "$MP" station ca create $H --key-label pai --cn "Acme Stations" --out x.pem
expect 0 "station ca create" "$MP" station ca create $H --key-label stca --cn "Acme Stations" --out stca.pem
check "station CA: CA:TRUE, keyCertSign" bash -c "openssl x509 -in stca.pem -noout -text | grep -q 'CA:TRUE' && openssl x509 -in stca.pem -noout -text | grep -q 'Certificate Sign'"
station() { # station NAME [ARGS...]: key NAME.key, certificate NAME.pem
    local n=$1; shift
    openssl ecparam -name prime256v1 -genkey -noout -out "$n.key" 2> /dev/null
    openssl req -new -key "$n.key" -subj "/CN=whatever" -out "$n.csr"
    "$MP" station issue "$n" $H --csr "$n.csr" --ca-cert stca.pem --ca-key stca --out "$n.pem" "$@" > /dev/null
}
for s in st1 st2 st3 st4; do station $s; done
check "station issue: clientAuth, CN = name, chains to the station CA" bash -c "openssl x509 -in st1.pem -noout -text | grep -q 'TLS Web Client Authentication' && openssl x509 -in st1.pem -noout -subject | grep -q 'CN = st1' && openssl verify -CAfile stca.pem -purpose sslclient st1.pem"
station old --valid-from 2025-01-01 --days 1
check "an expired station certificate (made with --valid-from)" test -s old.pem
expect_err 10 "station name" "station names are checked" "$MP" station issue "bad name" $H --csr st1.csr --ca-cert stca.pem --ca-key stca --out y.pem
# a foreign CA's certificate for the name st1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout fca.key -out fca.pem -subj /CN=foreign -days 30 2> /dev/null
openssl req -new -key st1.key -subj /CN=st1 -out f.csr
printf 'extendedKeyUsage=clientAuth\n' > ext.c
openssl x509 -req -in f.csr -CA fca.pem -CAkey fca.key -CAcreateserial -out foreign.pem -days 30 -extfile ext.c 2> /dev/null
# the server's own TLS certificate (any CA the stations trust)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srvca.key -out srvca.pem -subj /CN=srvca -days 30 2> /dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost 2> /dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > ext.s
openssl x509 -req -in srv.csr -CA srvca.pem -CAkey srvca.key -CAcreateserial -out srv.pem -days 30 -extfile ext.s 2> /dev/null

# device CSRs: the simulated chips' keys (made "inside" the devices)
mkkey() { # mkkey UDID OUT.pem
    local hex; hex=$(grep "^$1," sim/device-keys.csv | cut -d, -f2)
    printf '30310201010420%sa00a06082a8648ce3d030107' "$hex" | perl -ne 'print pack("H*", $_)' > k.der
    openssl ec -inform DER -in k.der -out "$2" 2> /dev/null
}
mkdir -p csr
i=0
for u in $(db "select udid from devices order by udid"); do
    i=$((i + 1)); n=$(printf 'd%03d' $i)
    mkkey "$u" "csr/$n.key"
    openssl req -new -key "csr/$n.key" -subj "/CN=$u" -outform DER -out "csr/$n.der"
    base64 "csr/$n.der" > "csr/$n.b64"
    echo "$u" > "csr/$n.udid"
done
check "150 device CSRs" test "$(ls csr/*.der | wc -l)" = 150
# subsets: d001-d010 single tests, d011-d030 batch, d031-d050 SIGTERM, d051-d150 SIGKILL
mkdir -p b1 b2 b3
for k in $(seq 11 30); do cp csr/$(printf 'd%03d' $k).der b1/; done
for k in $(seq 31 50); do cp csr/$(printf 'd%03d' $k).der b2/; done
for k in $(seq 51 150); do cp csr/$(printf 'd%03d' $k).der b3/; done

start_server A
check "server A listens on the port it wrote" test "$A_PORT" -gt 0
URL="https://127.0.0.1:$A_PORT/.well-known/est"
# curl as a station: code in code.txt, body in body.txt, headers in hdr.txt
cu() { # cu STATION URL [curl args]
    local s=$1 u=$2; shift 2
    curl -sS --cacert srvca.pem --cert "$s.pem" --key "$s.key" -D hdr.txt -o body.txt -w '%{http_code}' "$u" "$@" > code.txt 2> curl.err
}
post() { cu "$1" "$2" -H 'Content-Type: application/pkcs10' --data-binary "@$3"; }
is() { # is CODE PATTERN DESC: the last curl answer
    if [ "$(cat code.txt)" = "$1" ] && grep -qE -- "$2" body.txt; then ok "$3"; else
        fail "$3 (HTTP $(cat code.txt), wanted $1 and /$2/)"; head -c 300 body.txt | sed 's/^/       /'; fi
}

# cacerts, csrattrs, healthz, metrics, 501s, 404s
cu st1 "$URL/line1/cacerts"
check "cacerts: 200" test "$(cat code.txt)" = 200
check "cacerts: application/pkcs7-mime" grep -qi '^Content-Type: application/pkcs7-mime' hdr.txt
check "cacerts: certs-only CMS with the PAI and the PAA" bash -c "base64 -d body.txt | openssl pkcs7 -inform DER -print_certs | grep -c '^subject=' | grep -qx 2 && base64 -d body.txt | openssl pkcs7 -inform DER -print_certs | grep -q 'CN = Acme PAA'"
cu st1 "$URL/1/cacerts"
check "an order named by its ID" test "$(cat code.txt)" = 200
cu st1 "$URL/line1/csrattrs"
check "csrattrs: P-256 and ecdsa-with-SHA256" bash -c "base64 -d body.txt | openssl asn1parse -inform DER | grep -q prime256v1 && base64 -d body.txt | openssl asn1parse -inform DER | grep -q ecdsa-with-SHA256"
cu st1 "https://127.0.0.1:$A_PORT/healthz"
is 200 "ok" "/healthz"
post st1 "$URL/line1/simplereenroll" csr/d001.b64
is 501 "not renewed" "simplereenroll: 501"
post st1 "$URL/line1/serverkeygen" csr/d001.b64
is 501 "never by this server" "serverkeygen: 501"
post st1 "$URL/nosuch/simpleenroll" csr/d001.b64
is 404 "no production order" "unknown order: 404"
cu st1 "$URL/line1/simpleenroll"
is 405 "POST" "GET simpleenroll: 405"

# enroll: curl + openssl only, as the README shows
post st1 "$URL/line1/simpleenroll" csr/d001.b64
is 200 "" "simpleenroll: 200"
check "answer is application/pkcs7-mime; smime-type=certs-only" grep -qi '^Content-Type: application/pkcs7-mime; smime-type=certs-only' hdr.txt
cp body.txt d001.resp
base64 -d d001.resp | openssl pkcs7 -inform DER -print_certs -out d001.pem 2> /dev/null
openssl x509 -in d001.pem -outform DER -out d001.dac.der 2> /dev/null
expect 0 "the DAC passes cert lint --type dac" "$MP" cert lint --type dac d001.dac.der
expect 0 "the DAC passes verify attestation" "$MP" verify attestation --paa paa.pem --pai pai.pem --dac d001.dac.der
check "the DAC is in the ledger, with its station" test "$(db "select station from certificates where udid='$(cat csr/d001.udid)'")" = st1
check "ledger DER = the DAC received" test "$(db "select sha256 from certificates where udid='$(cat csr/d001.udid)'")" = "$(sha256sum < d001.dac.der | cut -c1-64)"
# idempotent retry (also with CR LF line ends and Content-Transfer-Encoding, which is ignored)
post st1 "$URL/line1/simpleenroll" csr/d001.b64
check "a retry gets the same DAC bytes (200)" bash -c "[ \"\$(cat code.txt)\" = 200 ] && cmp -s body.txt d001.resp"
sed 's/$/\r/' csr/d002.b64 > d002.crlf
cu st1 "$URL/line1/simpleenroll" -H 'Content-Type: application/pkcs10' -H 'Content-Transfer-Encoding: 7bit' --data-binary @d002.crlf
is 200 "" "CR LF in the base64 body and Content-Transfer-Encoding are tolerated"
check "one DAC per device: 2 so far" test "$(db "select count(*) from certificates where order_id=1")" = 2

# refusals: client certificates (403 / handshake)
curl -sS --cacert srvca.pem -o body.txt -w '%{http_code}' "$URL/line1/cacerts" > code.txt 2> /dev/null
check "no client certificate: refused in the TLS handshake" test "$(cat code.txt)" = 000
cp st1.key foreign.key
cu foreign "$URL/line1/cacerts"
is 403 "client certificate refused: unable to get local issuer" "a foreign CA's certificate: 403"
post old "$URL/line1/simpleenroll" csr/d003.b64
is 403 "certificate has expired" "an expired station certificate: 403"
# TLS sessions: a second connection resumes the first's session (evhttp
# closes without close_notify; the server keeps the session regardless), and a
# resumed connection's station is checked again at its request
sc() { # sc STATION [s_client args]: POST simpleenroll (d001 again: its DAC, 200) on a new connection; output in sc.txt
    local s=$1; shift
    { printf 'POST /.well-known/est/line1/simpleenroll HTTP/1.1\r\nHost: est\r\nContent-Type: application/pkcs10\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' "$(wc -c < csr/d001.b64)"
      cat csr/d001.b64; sleep 0.5; } |
        openssl s_client -connect "127.0.0.1:$A_PORT" -cert "$s.pem" -key "$s.key" -CAfile srvca.pem -ign_eof "$@" > sc.txt 2>&1
}
sc st3 -sess_out st3.sess
check "a new session: full handshake, 200" bash -c "grep -q '^New, TLS' sc.txt && grep -q '^HTTP/1.1 200' sc.txt"
sc st3 -sess_in st3.sess
check "the next connection resumes it, 200" bash -c "grep -q '^Reused, TLS' sc.txt && grep -q '^HTTP/1.1 200' sc.txt"
expect 0 "station revoke st3" "$MP" station revoke st3
sc st3 -sess_in st3.sess
check "a resumed session of a station revoked since: 403" bash -c "grep -q '^Reused, TLS' sc.txt && grep -q '^HTTP/1.1 403' sc.txt && grep -q 'st3.*revoked' sc.txt"
expect_err 10 "no certificate that is not revoked" "revoking again says so" "$MP" station revoke st3
post st3 "$URL/line1/simpleenroll" csr/d003.b64
is 403 "st3.*revoked" "a station revoked in the ledger: 403 at once"
# the station CRL, read again on SIGHUP
expect 0 "station revoke st4" "$MP" station revoke st4
expect 0 "station crl" "$MP" station crl $H --ca-cert stca.pem --ca-key stca --out stcrl.pem
check "the CRL lists 2 revoked certificates" bash -c "openssl crl -in stcrl.pem -noout -text | grep -c 'Serial Number' | grep -qx 2"
start_server C --station-crl stcrl.pem
cu st4 "https://127.0.0.1:$C_PORT/.well-known/est/line1/cacerts"
is 403 "certificate revoked" "a station on the CRL: 403 from the CRL"
cu st1 "https://127.0.0.1:$C_PORT/.well-known/est/line1/cacerts"
check "a station not on the CRL: 200" test "$(cat code.txt)" = 200
station st5
"$MP" station revoke st5 > /dev/null
"$MP" station crl $H --ca-cert stca.pem --ca-key stca --out stcrl.pem --force > /dev/null
kill -HUP "$C_PID"; sleep 0.3
check "SIGHUP: the server reads the CRL again" grep -q "SIGHUP: station CRL" C.err
cu st5 "https://127.0.0.1:$C_PORT/.well-known/est/line1/cacerts"
is 403 "certificate revoked" "after SIGHUP the new CRL refuses st5"
kill -TERM "$C_PID"; wait "$C_PID" 2> /dev/null

# refusals: the body and the CSR
cp csr/d003.der bad.der
flip_byte csr/d003.der bad.der -3
base64 bad.der > bad.b64
post st1 "$URL/line1/simpleenroll" bad.b64
is 400 "does not verify" "a CSR whose signature does not verify: 400"
openssl ecparam -name prime256v1 -genkey -out stranger.key 2> /dev/null
openssl req -new -key stranger.key -subj /CN=x -outform DER -out stranger.der; base64 stranger.der > stranger.b64
post st1 "$URL/line1/simpleenroll" stranger.b64
is 403 "no chip on a trusted list" "a key on no chip list: 403"
openssl req -new -key stranger.key -subj "/CN=$(cat csr/d001.udid)" -outform DER -out other.der; base64 other.der > other.b64
post st1 "$URL/line1/simpleenroll" other.b64
is 409 "already has a DAC for another key" "another key for a chip that has a DAC: 409"
openssl ecparam -name secp384r1 -genkey -out p384.key 2> /dev/null
openssl req -new -key p384.key -subj /CN=x -outform DER -out p384.der; base64 p384.der > p384.b64
post st1 "$URL/line1/simpleenroll" p384.b64
is 403 "not an EC P-256 key" "a P-384 key: 403"
head -c 1048576 /dev/urandom > garbage.bin
post st1 "$URL/line1/simpleenroll" garbage.bin
check "1 MiB of garbage: refused (413 from the HTTP layer)" bash -c "[ \"\$(cat code.txt)\" = 413 ] || [ \"\$(cat code.txt)\" = 000 ]"
head -c 4000 /dev/urandom | base64 > big.b64
post st1 "$URL/line1/simpleenroll" big.b64
is 400 "larger than 4096" "a body over 4 KiB: 400"
printf 'MIIB!!notbase64%%%%\n' > inv.b64
post st1 "$URL/line1/simpleenroll" inv.b64
is 400 "not valid base64" "invalid base64: 400"
head -c 300 /dev/urandom | base64 > junk.b64
post st1 "$URL/line1/simpleenroll" junk.b64
is 400 "not a DER PKCS#10" "base64 of something else: 400"
cu st1 "https://127.0.0.1:$A_PORT/healthz"
is 200 "ok" "the server still answers after every bad request"
check "refusals are logged with their station" grep -q "403 the request's key belongs to no chip on a trusted list (station st1, order line1)" A.err
cu st1 "https://127.0.0.1:$A_PORT/metrics"
check "/metrics: Prometheus text with DACs, refusals, latency, ledger and HSM time" bash -c "grep -q '^mp_dacs_issued_total 2' body.txt && grep -q '^mp_refusals_total{reason=\"not_listed\"} 1' body.txt && grep -q '^mp_enroll_seconds_bucket{le=\"+Inf\"}' body.txt && grep -q '^mp_hsm_seconds_total' body.txt && grep -q '^mp_ledger_seconds_total' body.txt"

# the est client
E="--server https://127.0.0.1:$A_PORT --cert st1.pem --key st1.key --ca srvca.pem"
expect 0 "est cacerts" "$MP" est cacerts $E --order line1 --out chain.pem
check "est cacerts wrote the PAI and PAA" test "$(grep -c BEGIN chain.pem)" = 2
expect 0 "est enroll" "$MP" est enroll $E --order line1 --csr csr/d004.der --out d004.dac.der
expect 0 "its DAC passes cert lint" "$MP" cert lint --type dac d004.dac.der
expect 0 "and verify attestation" "$MP" verify attestation --paa paa.pem --pai pai.pem --dac d004.dac.der
rm -f d004b.der
expect 0 "est enroll again: the same DAC" "$MP" est enroll $E --order line1 --csr csr/d004.der --out d004b.der
check "identical bytes" cmp -s d004.dac.der d004b.der
expect_err 17 "HTTP 403" "est enroll: a key on no list exits 17" "$MP" est enroll $E --order line1 --csr stranger.der --out s.der
expect_err 13 "HTTP 400" "est enroll: a bad signature exits 13" "$MP" est enroll $E --order line1 --csr bad.der --out s.der
expect_err 3 "HTTP 403" "est enroll: a revoked station exits 3" "$MP" est enroll --server https://127.0.0.1:$A_PORT --cert st3.pem --key st3.key --ca srvca.pem --order line1 --csr csr/d005.der --out s.der
expect_err 23 "Could not connect|Couldn't connect" "est enroll: no server exits 23" "$MP" est enroll --server https://127.0.0.1:1 --cert st1.pem --key st1.key --ca srvca.pem --order line1 --csr csr/d005.der --out s.der
expect_err 23 "SSL|certificate" "est enroll: a server the CA does not vouch for exits 23" "$MP" est enroll $E --ca fca.pem --order line1 --csr csr/d005.der --out s.der
check "no output file for refused requests" test ! -e s.der

# the batch client over keep-alive; requests grouped into ledger transactions
expect 0 "est enroll --csr-dir (20 CSRs, 8 connections)" "$MP" est enroll $E --order line1 --csr-dir b1 --out-dir o1 --jobs 8
check "20 DACs written" test "$(ls o1/*.der | wc -l)" = 20
check "every batch DAC passes cert lint" bash -c "for f in o1/*.der; do \"$MP\" cert lint --type dac \$f > /dev/null || exit 1; done"
check "every batch DAC passes verify attestation" bash -c "for f in o1/*.der; do \"$MP\" verify attestation --paa paa.pem --pai pai.pem --dac \$f > /dev/null || exit 1; done"
check "every batch DAC is the ledger's" bash -c 'for f in o1/*.der; do h=$(sha256sum < $f | cut -c1-64); [ "$(sqlite3 state/ledger.sqlite "select count(*) from certificates where sha256=\"$h\" and station=\"st1\"")" = 1 ] || exit 1; done'
nb=$(db "select count(distinct batch) from certificates where order_id=1 and station='st1'")
nd=$(db "select count(*) from certificates where order_id=1 and station='st1'")
check "concurrent requests share ledger transactions ($nd DACs in $nb batches)" test "$nb" -lt "$nd"
expect 0 "a re-run skips what is there" "$MP" est enroll $E --order line1 --csr-dir b1 --out-dir o1 --jobs 2
check "it says 20 skipped" grep -q "20 skipped" out.txt
check "ledger: issued count = certificates (order 1)" test "$(db 'select issued from orders where id=1')" = "$(db 'select count(*) from certificates where order_id=1')"

# the shared ledger's stations table: enabled flag, order assignments and sub-quotas
check "st1 is registered in stations, its DACs counted" test "$(db "select issued from stations where name='st1'")" = "$(db "select count(*) from certificates where station='st1'")"
station st6
expect 0 "order create --label asg" "$MP" order create $H --vid FFF2 --pid 8001 --pai-cert pai.pem --pai-key pai --quota 5 --label asg
ASG=$(db "select id from orders where label='asg'")
expect 0 "order assign asg to st6 (sub-quota 1)" "$MP" order assign --order "$ASG" --station st6 --quota 1
post st1 "$URL/asg/simpleenroll" csr/d010.b64
is 403 "st1 is not assigned to production order $ASG" "a station not assigned to the order: 403"
post st6 "$URL/asg/simpleenroll" csr/d010.b64
is 200 "" "the assigned station: 200"
check "its sub-quota and station count are taken" test "$(db "select issued from order_stations where order_id=$ASG and station='st6'"),$(db "select issued from stations where name='st6'"),$(db "select issued from orders where id=$ASG")" = 1,1,1
expect 0 "station disable st6" "$MP" station disable st6
post st6 "$URL/asg/simpleenroll" csr/d010.b64
is 403 "st6 is disabled" "a disabled station: 403 (even for a retry)"

# rate limit
start_server R --station-rate 2
for k in 1 2 3 4 5 6; do cu st1 "https://127.0.0.1:$R_PORT/.well-known/est/line1/cacerts"; echo "$(cat code.txt)" >> rate.codes; grep -i '^Retry-After' hdr.txt >> rate.hdr; done
check "--station-rate 2: a burst of 6 gets 429s" grep -q 429 rate.codes
check "and 200s" grep -q 200 rate.codes
check "429 carries Retry-After" grep -qi 'Retry-After: [1-9]' rate.hdr
sleep 1.2
cu st2 "https://127.0.0.1:$R_PORT/.well-known/est/line1/cacerts"
check "the limit is per station: st2 is served" test "$(cat code.txt)" = 200
while :; do "$MP" est cacerts --server https://127.0.0.1:$R_PORT --cert st1.pem --key st1.key --ca srvca.pem --order line1 --out rc.pem --force > out.txt 2> err.txt; r=$?; [ $r != 0 ] && break; done
check "est exits 22 on 429" test "$r" = 22
kill -TERM "$R_PID"; wait "$R_PID" 2> /dev/null

# clients that give up while their request waits in a group
start_server G --group-ms 800
for k in 1 2 3; do
    curl -s --max-time 0.3 --cacert srvca.pem --cert st1.pem --key st1.key -H 'Content-Type: application/pkcs10' \
        --data-binary @csr/d009.b64 "https://127.0.0.1:$G_PORT/.well-known/est/line1/simpleenroll" -o /dev/null 2> /dev/null
done
sleep 1.5
cu st1 "https://127.0.0.1:$G_PORT/.well-known/est/line1/simpleenroll" -H 'Content-Type: application/pkcs10' --data-binary @csr/d009.b64
is 200 "" "clients that hang up while their request is in flight do not stop the server; the retry gets the DAC"
check "that device has exactly one DAC" test "$(db "select count(*) from certificates where udid='$(cat csr/d009.udid)'")" = 1
kill -TERM "$G_PID"; wait "$G_PID"; check "and it stops with exit 0" test $? = 0

# limits: connections, slow clients; the server's TLS key in the token
start_server M --max-connections 2 --timeout 2
MU="https://127.0.0.1:$M_PORT/healthz"
(sleep 6 | openssl s_client -connect 127.0.0.1:$M_PORT -cert st1.pem -key st1.key -CAfile srvca.pem > /dev/null 2>&1) &
(sleep 6 | openssl s_client -connect 127.0.0.1:$M_PORT -cert st1.pem -key st1.key -CAfile srvca.pem > /dev/null 2>&1) &
sleep 0.8
cu st1 "$MU"
check "--max-connections 2: a third connection is refused in the handshake" test "$(cat code.txt)" = 000
sleep 2.5
cu st1 "$MU"
check "connections idle past --timeout are closed, freeing their slots" test "$(cat code.txt)" = 200
exec 3<> /dev/tcp/127.0.0.1/$M_PORT
printf 'GET /hea' >&3
sleep 3
timeout 2 cat <&3 > /dev/null; src=$?
exec 3>&-
check "a client that stalls mid-request is cut off after --timeout" test "$src" != 124
cu st1 "$MU"
is 200 "ok" "and the server still serves"
kill -TERM "$M_PID"; wait "$M_PID" 2> /dev/null
expect 0 "a TLS key made in the token" "$MP" station ca create $H --key-label tls-key --cn localhost --out tls-hsm.pem
start_server P --tls-cert tls-hsm.pem --tls-key "pkcs11:object=tls-key;type=private"
check "serve --tls-key pkcs11: URI: the handshake is signed in the token" bash -c "curl -sS -k --cert st1.pem --key st1.key https://127.0.0.1:$P_PORT/healthz | grep -qx ok"
check "and the server presents the token key's certificate" bash -c "echo | openssl s_client -connect 127.0.0.1:$P_PORT -cert st1.pem -key st1.key 2> /dev/null | openssl x509 -noout -fingerprint | grep -q \"$(openssl x509 -in tls-hsm.pem -noout -fingerprint)\""
kill -TERM "$P_PID"; wait "$P_PID" 2> /dev/null

# two stations racing for the last DAC of order "last"
post st1 "$URL/last/simpleenroll" csr/d006.b64 &
p1=$!
(curl -sS --cacert srvca.pem --cert st2.pem --key st2.key -o race2.txt -w '%{http_code}' -H 'Content-Type: application/pkcs10' --data-binary @csr/d007.b64 "$URL/last/simpleenroll" > race2.code)
wait $p1
codes="$(cat code.txt) $(cat race2.code)"
check "two stations, one DAC left: one 200 and one 409 ($codes)" bash -c "echo '$codes' | tr ' ' '\n' | sort | tr '\n' ' ' | grep -q '^200 409 \$'"
check "the loser is told the quota is gone" bash -c "grep -q 'out of quota' body.txt || grep -q 'out of quota' race2.txt"
check "order 'last': exactly 1 certificate, issued 1" test "$(db 'select count(*) from certificates where order_id=2'),$(db 'select issued from orders where id=2')" = 1,1
expect_err 15 "HTTP 409" "est enroll: quota gone exits 15" "$MP" est enroll $E --order last --csr csr/d008.der --out s.der

# SIGTERM with requests in flight: finish them, exit 0
"$MP" est enroll $E --order line1 --csr-dir b2 --out-dir o2 --jobs 4 > t.out 2> t.err &
cpid=$!
sleep 0.3
kill -TERM "$A_PID"
wait "$A_PID"; arc=$?
wait $cpid
check "SIGTERM: the server exits 0" test "$arc" = 0
check "it said it finished what was in flight" grep -q "SIGTERM: no new connections" A.err
check "every DAC the client got under SIGTERM is in the ledger" bash -c 'for f in o2/*.der; do [ -e "$f" ] || continue; h=$(sha256sum < $f | cut -c1-64); [ "$(sqlite3 state/ledger.sqlite "select count(*) from certificates where sha256=\"$h\"")" = 1 ] || exit 1; done'
check "the port is closed after SIGTERM" bash -c "! curl -s --max-time 2 --cacert srvca.pem --cert st1.pem --key st1.key https://127.0.0.1:$A_PORT/healthz"

# SIGKILL under load, restart, then the ledger against what clients received
start_server K --group-ms 5
"$MP" est enroll --server https://127.0.0.1:$K_PORT --cert st2.pem --key st2.key --ca srvca.pem --order line1 --csr-dir b3 --out-dir o3 --jobs 8 > k.out 2> k.err &
cpid=$!
for _ in $(seq 200); do [ "$(ls o3 2> /dev/null | wc -l)" -ge 3 ] && break; sleep 0.02; done
kill -9 "$K_PID"
wait $cpid; krc=$?
got=$(ls o3/*.der 2> /dev/null | wc -l)
check "SIGKILL under load: the client got some DACs ($got) and failures (exit $krc)" bash -c "[ $got -ge 1 ] && [ $krc != 0 ]"
check "every DAC received before the kill is in the ledger" bash -c 'for f in o3/*.der; do h=$(sha256sum < $f | cut -c1-64); [ "$(sqlite3 state/ledger.sqlite "select count(*) from certificates where sha256=\"$h\"")" = 1 ] || exit 1; done'
start_server K2
"$MP" est enroll --server https://127.0.0.1:$K2_PORT --cert st2.pem --key st2.key --ca srvca.pem --order line1 --csr-dir b3 --out-dir o3 --jobs 8 > k2.out 2> k2.err
check "after a restart the same batch finishes" test "$(ls o3/*.der | wc -l)" = 100
check "nothing doubled: one certificate per device, issued = certificates" bash -c "[ \"\$(sqlite3 state/ledger.sqlite 'select count(*) - count(distinct udid) from certificates')\" = 0 ] && [ \"\$(sqlite3 state/ledger.sqlite 'select issued from orders where id=1')\" = \"\$(sqlite3 state/ledger.sqlite 'select count(*) from certificates where order_id=1')\" ]"
check "every DAC of the batch is the ledger's, for its device" bash -c 'for f in o3/*.der; do n=$(basename $f .der); u=$(cat csr/$n.udid); h=$(sha256sum < $f | cut -c1-64); [ "$(sqlite3 state/ledger.sqlite "select sha256 from certificates where udid=\"$u\"")" = "$h" ] || exit 1; done'
check "every DAC of the batch passes cert lint" bash -c "for f in o3/*.der; do \"$MP\" cert lint --type dac \$f > /dev/null || exit 1; done"
kill -TERM "$K2_PID"; wait "$K2_PID"; check "the restarted server stops with exit 0" test $? = 0

# the audit trail: every enrollment and every refusal, chained
expect 0 "audit verify after every scenario above (SIGKILL included)" "$MP" audit verify
"$MP" audit export --format jsonl > audit.jsonl
jq -r 'select(.event == "est.enroll") | .detail.dacs // (.detail | fromjson? | .dacs) // empty' audit.jsonl | tr ' ' '\n' | grep . | sort > audit.dacs
db "select c.station || ':' || c.udid from certificates c join dac_batches b on b.id = c.batch where b.dir = 'est:' order by 1" | sort > ledger.dacs
check "est.enroll rows name every DAC the server recorded, once ($(wc -l < ledger.dacs) DACs)" bash -c "[ -s ledger.dacs ] && cmp -s audit.dacs ledger.dacs"
check "one est.enroll row per commit, not per DAC" test "$(grep -c '"est.enroll"' audit.jsonl)" -lt "$(wc -l < ledger.dacs)"
refused() { jq -r 'select(.event == "est.refuse") | (.detail | if type == "string" then fromjson else . end) | .reason' audit.jsonl | sort | uniq -c; }
refused > audit.reasons
for r in client_certificate station rate body csr key not_listed quota issued not_found method; do
    check "est.refuse rows with reason $r" grep -qE " $r\$" audit.reasons
done
check "a refusal row carries its station, status and one-line reason" bash -c "jq -c 'select(.event == \"est.refuse\")' audit.jsonl | grep '\"station\":\"st1\"' | grep -q 'no chip on a trusted list'"

# audit checkpoints from serve (issue 16): every N audit rows while it runs
# (1,000; MATTER_PKI_AUDIT_EVERY=2 here), from the committer thread, and one at
# its end (the dispatcher's), each in the ceremony log
expect 0 "audit init" "$MP" audit init $H --key-label audit --out audit-key.pem
c0=$(db "select max(seq) from audit_checkpoints")
MATTER_PKI_AUDIT_EVERY=2 start_server Q
for i in 1 2 3 4 5 6; do post st1 "https://127.0.0.1:$Q_PORT/.well-known/est/line1/simpleenroll" stranger.b64; sleep 0.3; done
is 403 "" "serve Q refuses the stranger (an est.refuse row each)"
kill -TERM "$Q_PID"; wait "$Q_PID"; check "serve Q stops with exit 0" test $? = 0
check "refusal rows written while it ran ($(db "select count(*) from audit where seq > $c0"))" test "$(db "select count(*) from audit where event = 'est.refuse' and seq > $c0")" -ge 6
check "checkpoints every 2 rows while it ran" jq -s -e 'map(select(.command | test("^audit checkpoint [0-9]+ \\(every 2 rows\\)$"))) | length >= 1 and all(.sig | length > 100)' state/ceremony.log
check "and the trail's head signed at its end" test "$(db "select count(*) from audit_checkpoints where seq = (select max(seq) from audit)")" = 1
expect 0 "audit verify --audit-key: serve's checkpoints" "$MP" audit verify --audit-key audit-key.pem

finish
