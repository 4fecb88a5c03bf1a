#!/usr/bin/env bash
# t_core.sh - the core's share of issues 13-15: where state is found, a ledger
# bound to its PKI and never recreated, prompts that never hang a script, PINs
# out of the environment, unalterable CA keys, a module that cannot start,
# inputs that are not regular files, read-only media and temporary files that
# a SIGKILL cannot leave behind.
. "$(dirname "$0")/lib.sh"
MOD=/usr/lib/softhsm/libsofthsm2.so
H="--token test --pin-file pin"
RO=""
cleanup_core() { [ -n "$RO" ] && umount "$RO" 2>/dev/null; rm -rf "$T"; }
trap cleanup_core EXIT

# ---- state directory: --state-dir, else MATTER_PKI_STATE, else the nearest .matter-pki
mkdir -p site/a/b
in_b() { (cd site/a/b && env -u MATTER_PKI_STATE "$@"); }
for cmd in "order list" "ledger report" "ledger export" "chips import x.csv" "order create --vid FFF1 --pid 8000 --pai-cert p --pai-key k --quota 1" "dac issue --order 1 --out-dir o" "paa create --key-label k --cn X --out x.pem" "token list"; do
    expect_err 21 "no .matter-pki in $T/site/a/b or any folder above it.*token init.*--state-dir DIR or MATTER_PKI_STATE" \
        "no state: '$cmd' exits 21 naming where it looked" in_b "$MP" $cmd
done
# a usage error is reported before the missing state (the command reads its line first)
for cmd in "order list --bogus" "ledger report --no-such-option" "dac issue --out-dir o" "order create --vid FFF1" "chips import --bogus" "paa create --cn X"; do
    expect_err 2 "unknown option|required|expected" "no state, but a usage error: '$cmd' exits 2 first" in_b "$MP" $cmd
done
expect_err 2 "--order is required" "no state: dac issue names its missing --order, not the state" in_b "$MP" dac issue
check "no state directory was created by those commands" bash -c "! find site -name .matter-pki | grep -q ."
check "nor any output folder" test ! -e site/a/b/o
expect_err 21 "state directory $T/nope \(--state-dir\) does not exist" "a missing --state-dir is named" in_b "$MP" order list --state-dir "$T/nope"
expect_err 21 "state directory $T/nope2 \(MATTER_PKI_STATE\) does not exist" "a missing MATTER_PKI_STATE is named" \
    env MATTER_PKI_STATE="$T/nope2" "$MP" ledger report
expect 0 "token init makes ./.matter-pki in the current folder" bash -c "cd site && env -u MATTER_PKI_STATE \"$MP\" token init --label site --pin-file ../pin --so-pin-file ../sopin"
check "state, PKI ID and ledger made" bash -c "[ -f site/.matter-pki/pki-id ] && [ -s site/.matter-pki/ledger.sqlite ] && [ -f site/.matter-pki/softhsm2.conf ]"
expect 0 "a subfolder finds the nearest .matter-pki (like git)" in_b "$MP" order list
expect 0 "token commands find its token from a subfolder" in_b "$MP" token list --pin-file ../../../pin
check "ledger report from a subfolder reads the right ledger" bash -c "cd site/a/b && env -u MATTER_PKI_STATE \"$MP\" ledger report >/dev/null"
expect 0 "an explicit --ledger needs no state directory" in_b "$MP" order list --ledger "$T/site/.matter-pki/ledger.sqlite"

# ---- ledger identity (issue 13 item 4)
new_token
check "the ledger carries the PKI ID" bash -c "[ \"\$(sqlite3 state/ledger.sqlite \"select value from meta where key='pki_id'\")\" = \"\$(cat state/pki-id)\" ]"
mv state/ledger.sqlite moved.sqlite
expect_err 21 "ledger $T/state/ledger.sqlite does not exist.*never recreates" "a moved-away ledger: order list exits 21 naming it" "$MP" order list
expect_err 21 "ledger $T/state/ledger.sqlite does not exist" "a moved-away ledger: chips import refuses" "$MP" chips import x.csv
expect_err 21 "does not exist" "a moved-away ledger: order close refuses" "$MP" order close --order 1
check "no ledger was recreated" test ! -e state/ledger.sqlite
: > state/ledger.sqlite
expect_err 21 "ledger $T/state/ledger.sqlite is empty" "an empty ledger: order list exits 21" "$MP" order list
expect_err 21 "is empty" "an empty ledger: chips import refuses" "$MP" chips import x.csv
check "the empty file is left as it was" test ! -s state/ledger.sqlite
sqlite3 state/ledger.sqlite 'create table x(a)'
expect_err 21 "holds no matter-pki ledger" "an SQLite file without a ledger schema is refused" "$MP" ledger report
rm state/ledger.sqlite && mv moved.sqlite state/ledger.sqlite
expect 0 "the restored ledger is accepted" "$MP" order list
expect 0 "a second PKI" "$MP" token init --label other --state-dir other --pin-file pin --so-pin-file sopin
expect_err 21 "belongs to PKI $(cat other/pki-id), but the state directory $T/state is PKI $(cat state/pki-id)" \
    "another PKI's ledger is refused" "$MP" order list --ledger other/ledger.sqlite
expect 0 "ledger init makes a new ledger on purpose" "$MP" ledger init --ledger line2.sqlite
check "bound to this PKI" bash -c "[ \"\$(sqlite3 line2.sqlite \"select value from meta where key='pki_id'\")\" = \"\$(cat state/pki-id)\" ]"
expect_err 8 "already exists" "ledger init never replaces a file" "$MP" ledger init --ledger line2.sqlite
: > empty.sqlite
expect_err 8 "already exists" "ledger init never replaces even an empty file" "$MP" ledger init --ledger empty.sqlite

# ---- prompts: never in the suite, and under a terminal the paths that prompt (issue 14)
# pty CMD...: run CMD on a pseudo-terminal (what it prints lands in err.txt), its exit status
# (stdin is /dev/null: when the suite itself runs on a terminal, script would
# otherwise wait on that terminal's input)
pty() { timeout 20 script -qec "$*" /dev/null < /dev/null >&2; }
expect_err 3 "prompting is off" "MATTER_PKI_NO_PROMPT: no PIN source exits 3 at once" \
    pty "\"$MP\" paa create --token test --key-label np1 --cn X --out np1.pem"
expect_err 3 "prompting is off" "--no-prompt on the command" \
    env -u MATTER_PKI_NO_PROMPT bash -c "$(declare -f pty); pty '\"$MP\" paa create --no-prompt --token test --key-label np2 --cn X --out np2.pem'"
expect_err 3 "prompting is off" "--no-prompt before the command words" \
    env -u MATTER_PKI_NO_PROMPT bash -c "$(declare -f pty); pty '\"$MP\" --no-prompt token list --token test'"
check "the 'make test' path never prompts: the no-PIN test of t_ceremony under a terminal" bash -c \
    "timeout 20 script -qec '\"$MP\" paa create --token test --key-label x19 --cn X --out x19.pem < /dev/null' /dev/null < /dev/null | grep -q 'no PIN'"
# a real prompt on a pseudo-terminal: the user PIN typed once, a new PIN twice
expect 0 "the user PIN prompt reads the terminal" \
    bash -c "printf '%s\n' '$PIN' | timeout 20 env -u MATTER_PKI_NO_PROMPT script -qec '\"$MP\" token list --token test' /dev/null | grep -q 'private-key\|objects'"
expect_err 3 "differ" "token init asks twice and refuses two PINs that differ" \
    bash -c "printf '1111\n2222\n' | timeout 20 env -u MATTER_PKI_NO_PROMPT script -qec '\"$MP\" token init --label twice --state-dir tw --so-pin-file sopin' /dev/null >&2; exit \${PIPESTATUS[1]}"

# ---- PINs out of the environment, no core dumps (issue 13 item 7, issue 15)
mkfifo hold
exec 7<>hold
MATTER_PKI_PIN=env-pin-4711 env -u MATTER_PKI_NO_PROMPT \
    script -qec "\"$MP\" token init --label envt2 --state-dir s7b --pin-file pin" /dev/null < hold > /dev/null 2>&1 &
spid=$!
for i in $(seq 50); do pid=$(pgrep -f -- "--label envt2 --state-dir s7b" | while read p; do [ "$(readlink /proc/$p/exe)" = "$(readlink -f "$MP")" ] && echo $p; done | head -1); [ -n "$pid" ] && break; sleep 0.1; done
sleep 0.3
if [ -n "$pid" ]; then
    tr '\0' '\n' < /proc/$pid/environ > environ.txt
    check "the waiting command runs (at its SO PIN prompt)" grep -q '^MATTER_PKI_NO_PROMPT\|^PATH=' environ.txt
    check "MATTER_PKI_PIN is not in /proc/PID/environ of a running command" bash -c "! grep -q 'env-pin-4711\|MATTER_PKI_PIN=' environ.txt"
    check "core dumps are refused (RLIMIT_CORE 0)" bash -c "grep 'Max core file size' /proc/$pid/limits | grep -Eq '\s0\s+0\s'"
    printf '5678\n5678\n' >&7
    wait $spid
    check "the prompted SO PIN (typed twice) made the token" test -f s7b/ledger.sqlite
else
    fail "the waiting command was not found"
    kill $spid 2>/dev/null
fi
exec 7>&-

# ---- CA keys cannot be altered (issue 13 item 8)
expect 0 "paa create" "$MP" paa create $H --key-label paa --cn "Core PAA" --vid FFF1 --out paa.pem
expect 0 "cd create-signer" "$MP" cd create-signer $H --key-label cds --cn "CD signer" --out cds.pem
expect 0 "token list" "$MP" token list $H
for k in paa cds; do
    check "token list: $k is sensitive, not extractable, signs, no derive, not modifiable, not copyable" \
        grep -Eq "^private-key +$k +[0-9a-f]{40} +yes +no +yes +no +no +no$" out.txt
    check "setting CKA_DERIVE on $k (or copying it) fails" env SOFTHSM2_CONF="$MATTER_PKI_STATE/softhsm2.conf" "$MP_TOOLS/p11_alter_key" $MOD test "$PIN" $k
done

# ---- a module that cannot start: exit 4 with the reason, never SIGSEGV (issue 13 item 6)
mkdir -p bare
expect_err 4 "configuration $T/missing.conf \(SOFTHSM2_CONF\) cannot be read" "SOFTHSM2_CONF naming a missing file: exit 4" \
    env SOFTHSM2_CONF="$T/missing.conf" "$MP" token list --state-dir bare --pin-file pin
printf 'directories.tokendir = %s/nowhere\nobjectstore.backend = file\n' "$T" > nowhere.conf
expect_err 4 "token folder $T/nowhere named in" "tokendir pointing nowhere: exit 4" \
    env SOFTHSM2_CONF="$T/nowhere.conf" "$MP" paa create --state-dir bare --pin-file pin --key-label k --cn X --out k.pem
cp -r state gone && rm -rf gone/tokens && sed -i "s#= .*/state/tokens#= $T/gone/tokens#" gone/softhsm2.conf
expect_err 4 "token folder .*gone/tokens named in" "the state's token folder missing: exit 4" "$MP" token list --state-dir gone --pin-file pin
expect_err 4 "token folder .*gone/tokens named in" "paa create with the token folder missing: exit 4" "$MP" paa create --state-dir gone --pin-file pin --key-label k --cn X --out k.pem

# ---- the PIN flags of the token (issue 13 item 9; the flag logic: tests/unit/test_cli.c)
expect_err 2 "takes no value" "--force-pin-try is a flag, not a value" "$MP" token list $H --force-pin-try=1
expect 0 "--force-pin-try on a healthy token" "$MP" token list $H --force-pin-try
# SoftHSM sets CKF_USER_PIN_COUNT_LOW after a wrong PIN (it has no final try or lock-out)
expect_err 3 "PIN incorrect" "a wrong PIN" "$MP" token list --token test --pin-file badpin
expect_err 0 "warning: token 'test': a wrong PIN was entered recently; few tries are left" \
    "the next login warns that the PIN count is low" "$MP" token list $H
expect 0 "after a good login the warning is gone" "$MP" token list $H
check "...no warning" bash -c "! grep -q 'few tries' err.txt"

# ---- stray arguments are never echoed in full (issue 13 item 10)
expect_err 2 "unexpected argument 'my...' \(13 characters" "a long stray argument is cut" "$MP" order list mysecretpin12
check "...and not shown in full" bash -c "! grep -q mysecretpin12 err.txt"
expect_err 2 "unexpected argument of 4 characters" "a short stray argument is not shown" "$MP" paa create $H 4711 --key-label x --cn X --out x.pem
check "...at all" bash -c "! grep -q 4711 err.txt"
expect_err 2 "unknown option '-s...'" "a stray -option is cut too" "$MP" ledger report -secretpin99

# ---- inputs that are not regular files are refused before reading (issue 13 item 13)
mkfifo fifo.csv fifo.pin
expect_err 9 "fifo.csv: is a FIFO; only a regular file is read" "chips import of a FIFO" timeout 10 "$MP" chips import fifo.csv --ledger f1.sqlite
mkdir -p bc && mkfifo bc/z-fifo.pem
expect_err 9 "z-fifo.pem: is a FIFO" "a FIFO in a birth-certificate folder" timeout 10 "$MP" chips import bc --chip-root paa.pem --ledger f2.sqlite
expect_err 3 "fifo.pin: is a FIFO" "--pin-file FIFO" timeout 10 "$MP" token list --token test --pin-file fifo.pin
expect_err 3 "character device" "--pin-file /dev/zero" timeout 10 "$MP" token list --token test --pin-file /dev/zero

# ---- read commands on read-only media (issue 13 item 14)
mkdir -p ro
if mount -t tmpfs -o size=8m tmpfs ro 2>/dev/null; then
    RO="$T/ro"
    "$MP" order create --vid FFF1 --pid 8000 --pai-cert paa.pem --pai-key paa --quota 3 > /dev/null 2>&1
    cp state/ledger.sqlite* ro/ && mount -o remount,ro "$RO"
    expect 0 "order list on a read-only medium" "$MP" order list --ledger ro/ledger.sqlite
    expect 0 "ledger report on a read-only medium" "$MP" ledger report --ledger ro/ledger.sqlite
    expect 0 "ledger export on a read-only medium" "$MP" ledger export --ledger ro/ledger.sqlite --format csv
    expect_err 9 "ledger ro/ledger.sqlite is on a read-only medium" "a write command says the medium is read-only" \
        "$MP" order close --order 1 --ledger ro/ledger.sqlite
    check "no 'is it an SQLite database' on read-only media" bash -c "! grep -q 'is it an SQLite' err.txt"
else
    ok "read-only media (skipped: cannot mount here)"
fi

# ---- temporary files a SIGKILL cannot leave (issue 13 item 15)
sqlite3 state/ledger.sqlite "
  INSERT INTO orders(id,vid,pid,pai_cert,pai_key,pai_skid,quota,issued,cn_template,valid_from,days,closed,created_at)
    VALUES(77,65521,32768,'p','k','00',1000000,0,'',0,0,0,'');
  INSERT INTO dac_batches(id,order_id,pai_skid,not_before,not_after,dir,station,issued_at,written) VALUES(77,77,'AA',0,0,'$T','s','',1);
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<300000)
  INSERT INTO dacs(udid,order_id,batch,serial,sha256,der,path) SELECT 'K'||i,77,77,randomblob(16),randomblob(32),randomblob(400),NULL FROM n;" 2>err.txt \
  || { fail "could not fill the ledger for the export test"; sed 's/^/       /' err.txt | head -3; }
mkdir -p ex
"$MP" ledger export --format jsonl --out ex/all.jsonl > /dev/null 2>&1 &
epid=$!; sleep 0.4
if kill -9 $epid 2>/dev/null; then
    wait $epid 2>/dev/null
    check "ledger export --out killed with SIGKILL leaves no file behind" bash -c "[ -z \"\$(ls -A ex)\" ]"
else
    fail "ledger export finished before it could be killed (test inconclusive)"
fi
"$MP" chips simulate --count 300000 --out simk > /dev/null 2>&1 &
cpid=$!; sleep 0.8
if kill -9 $cpid 2>/dev/null; then
    wait $cpid 2>/dev/null
    check "chips simulate killed with SIGKILL leaves no temporary (key) files" bash -c "! ls -A simk 2>/dev/null | grep -q 'tmp\|device-keys'"
else
    fail "chips simulate finished before it could be killed (test inconclusive)"
fi
finish
