# lib.sh - helpers of bench/run.sh (sourced; uses its MP BB W H ROWS PRODUCT
# NPEER OUTD variables). Each measurement appends one JSON object to $ROWS;
# bench/report.jq turns them into medians and ratios.

say() { printf '== %s\n' "$*" >&2; }

# q CMD...: run a set-up step; show its output only if it fails.
q() {
    if ! "$@" > "$W/q.out" 2>&1; then
        echo "bench: failed: $*" >&2
        cat "$W/q.out" >&2
        exit 1
    fi
}

now_ns() { date +%s%N; }

# measure CMD...: run CMD once; sets SECS (wall, from here), RSS (peak KiB) and
# USR / SYS (CPU seconds of the process and its threads in user space and in the
# kernel: what binds a row shows in them, next to the load average).
# Dirty data of earlier steps is written back first (sync, not timed): the syncfs
# of a measured run would otherwise pay for it (a floor of 20,000 files measured
# 5k to 20k/s without it, 20.1-20.2k/s with it).
measure() {
    local t0 t1
    sync
    t0=$(now_ns)
    if ! /usr/bin/time -f '%M %U %S' -o "$W/time.txt" "$@" > "$W/cmd.out" 2> "$W/cmd.err"; then
        echo "bench: failed: $*" >&2
        cat "$W/cmd.err" >&2
        exit 1
    fi
    t1=$(now_ns)
    SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
    read -r RSS USR SYS < <(tail -n 1 "$W/time.txt")
    LOAD1=$(cut -d' ' -f1 /proc/loadavg)
}

# row KEY ORD GROUP LABEL N JOBS ITER RATE SECS RSS BYTES DISK LIMIT_KEY LIMIT_RATE PEER_KEY [FLOOR_KEY FLOOR_RATE]
row() {
    jq -cn --arg key "$1" --argjson ord "$2" --arg group "$3" --arg lbl "$4" --argjson n "$5" \
        --argjson jobs "$6" --argjson iterations "$7" --argjson rate "$8" --argjson seconds "$9" \
        --argjson rss_kb "${10}" --argjson bytes_dev "${11}" --argjson disk_dev "${12}" \
        --arg limit_key "${13}" --argjson limit_rate "${14}" --arg peer_key "${15}" \
        --arg floor_key "${16:-}" --argjson floor_rate "${17:-0}" \
        --argjson usr "${USR:-0}" --argjson sys "${SYS:-0}" --argjson load1 "${LOAD1:-0}" \
        '{key: $key, ord: $ord, group: $group, label: $lbl, n: $n, jobs: $jobs, iterations: $iterations,
          rate: $rate, seconds: $seconds, rss_kb: $rss_kb, bytes_dev: $bytes_dev, disk_dev: $disk_dev,
          limit_key: $limit_key, limit_rate: $limit_rate, peer_key: $peer_key,
          floor_key: $floor_key, floor_rate: $floor_rate, usr: $usr, sys: $sys, load1: $load1}' >> "$ROWS"
}

# out_size DIR COUNT: sets BYTES (apparent bytes per device) and DISK (allocated bytes per device).
out_size() {
    local b k
    b=$(du -sb "$1" | cut -f1)
    k=$(du -sk "$1" | cut -f1)
    BYTES=$(( b / $2 ))
    DISK=$(( k * 1024 / $2 ))
}

# a new, empty ledger on purpose (a missing one is an error since issue 13 item 4)
fresh_ledger() { rm -f "$MATTER_PKI_STATE"/ledger.sqlite*; "$MP" ledger init > /dev/null; }

new_order() {
    "$MP" order create "${H[@]}" --vid FFF2 --pid 8001 --pai-cert "$W/pai.pem" --pai-key b-pai \
        --quota "$1" --cn-template "Bench DAC {udid:16}"
}

# limit MODE JOBS [ITERATIONS]: one run of a bare loop; sets LIMIT_KEY, LIMIT_RATE.
#   soft | hsm | hsm-keygen | keygen (bench/dac_bench.c), pbkdf2 (bench/pbkdf2_bench.c)
# floor MODE JOBS [ITERATIONS BYTES]: the same loop plus one writer thread writing one
# file per device the way the tool does (no ledger, no packing); sets FLOOR_KEY, FLOOR_RATE.
#   hsm-file (dac_bench), pbkdf2-file (pbkdf2_bench)
floor() {
    local mode=$1 j=$2 it=${3:-0} bytes=${4:-0} ord label d=$W/floor-out
    FLOOR_ARGS=("$@")
    trash "$d"
    mkdir -p "$d"
    case $mode in
    hsm-file) ord=2 label="floor: DAC build+sign in SoftHSM, one writer thread writing each DAC file (no ledger)"
        measure "$BB/dac_bench" hsm-file $((15000 * j)) "$j" "$W/pai.pem" b-pai "$d" ;;
    pbkdf2-file) ord=$(( it == 1000 ? 5 : 6 )) label="floor: PBKDF2, $it iterations, one writer thread writing a $bytes-byte file per device (no ledger)"
        measure "$BB/pbkdf2_bench" "$it" "$j" $(( 3000000 / it * j )) "$d" "$bytes" ;;
    esac
    FLOOR_KEY="floor-$mode${3:+-$it-$bytes}-j$j"
    FLOOR_RATE=$(jq -r .rate "$W/cmd.out")
    row "$FLOOR_KEY" "$ord" floor "$label" "$(jq -r .n "$W/cmd.out")" "$j" "$it" "$FLOOR_RATE" \
        "$(jq -r .seconds "$W/cmd.out")" "$RSS" 0 0 "" 0 ""
    trash "$d"
}

limit() {
    local mode=$1 j=$2 it=${3:-0} ord label
    LIMIT_ARGS=("$@")
    case $mode in
    soft) ord=1 label="limit: DAC build+sign, software PAI key"
        measure "$BB/dac_bench" soft $((25000 * j)) "$j" ;;
    hsm) ord=2 label="limit: DAC build+sign, PAI key in SoftHSM (dac issue's session path)"
        measure "$BB/dac_bench" hsm $((15000 * j)) "$j" "$W/pai.pem" b-pai ;;
    hsm-keygen) ord=3 label="limit: P-256 keygen + DAC build+sign in SoftHSM"
        measure "$BB/dac_bench" hsm-keygen $((12000 * j)) "$j" "$W/pai.pem" b-pai ;;
    keygen) ord=4 label="limit: P-256 key generation + export"
        measure "$BB/dac_bench" keygen $((60000 * j)) "$j" ;;
    pbkdf2) ord=$(( it == 1000 ? 5 : 6 )) label="limit: PBKDF2-HMAC-SHA256, 80 B, $it iterations"
        measure "$BB/pbkdf2_bench" "$it" "$j" $(( 3000000 / it * j )) ;;
    esac
    LIMIT_KEY="limit-$mode${3:+-$it}-j$j"
    LIMIT_RATE=$(jq -r .rate "$W/cmd.out")
    row "$LIMIT_KEY" "$ord" limit "$label" "$(jq -r .n "$W/cmd.out")" "$j" "$it" "$LIMIT_RATE" \
        "$(jq -r .seconds "$W/cmd.out")" "$RSS" 0 0 "" 0 ""
}

# bracket [floor]: after a pipeline run, its limit (and floor) once more. A pipeline run
# spans several seconds, a limit run one or two, and this machine's speed moves by a
# third from one minute to the next (dac_bench hsm back to back: 11,000-19,000/s): the
# row is paired with the mean of the runs right before and right after it (PAIR_LIMIT,
# PAIR_FLOOR), and LIMIT_RATE / FLOOR_RATE are left at the runs after, for a next row.
# The pipeline's measure (SECS RSS USR SYS LOAD1) is kept.
bracket() {
    local s=$SECS r=$RSS u=$USR y=$SYS l=$LOAD1 lb=$LIMIT_RATE fb=${FLOOR_RATE:-0}
    limit "${LIMIT_ARGS[@]}"
    PAIR_LIMIT=$(awk -v a="$lb" -v b="$LIMIT_RATE" 'BEGIN { printf "%.1f", (a + b) / 2 }')
    PAIR_FLOOR=0
    if [ "${1:-}" = floor ]; then
        floor "${FLOOR_ARGS[@]}"
        PAIR_FLOOR=$(awk -v a="$fb" -v b="$FLOOR_RATE" 'BEGIN { printf "%.1f", (a + b) / 2 }')
    fi
    SECS=$s RSS=$r USR=$u SYS=$y LOAD1=$l
}

rate_of() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / s }'; }

# import_chips DIR COUNT ORD: `chips import` of DIR/chips.csv (signed) into the current ledger.
import_chips() {
    measure "$MP" chips import "$1/chips.csv" --signature "$1/chips.csv.sig" --signer "$1/chipmaker.pem"
    row "import-n$2" "$3" import "chips import (signed CSV)" "$2" 1 0 "$(rate_of "$2" "$SECS")" "$SECS" \
        "$RSS" 0 0 "" 0 ""
}

# issue chips|gen|bundle|perdev JOBS ORDER COUNT ORD OUTDIR: dac issue, paired with the last limit.
# perdev: chip-list keys, --layout per-device (a folder and a file per device).
# bundle: chip-list keys, every DAC in one JSON Lines file (--bundle OUTDIR/lot.jsonl)
# instead of one file per device, so what binds is signing, not file creation.
issue() {
    local kind=$1 j=$2 order=$3 n=$4 ord=$5 dir=$6 label="dac issue (chip-list keys)" peer="" extra=()
    extra=(--out-dir "$dir")
    if [ "$kind" = gen ]; then
        label="dac issue --generate-keys" peer="peer-j$j" extra=(--generate-keys --out-dir "$dir")
    elif [ "$kind" = bundle ]; then
        label="dac issue --bundle (chip-list keys, one JSON Lines file instead of a file per device)"
        extra=(--bundle "$dir/lot.jsonl")
    elif [ "$kind" = perdev ]; then
        label="dac issue --layout per-device (chip-list keys, a folder per device)"
        extra=(--out-dir "$dir" --layout per-device)
    fi
    measure "$MP" dac issue "${H[@]}" --order "$order" "${extra[@]}" --count "$n" \
        --jobs "$j" --quiet
    out_size "$dir" "$n"
    local fk="" fr=0
    if [ "$kind" = chips ] || [ "$kind" = perdev ]; then
        bracket floor
        fk=$FLOOR_KEY fr=$PAIR_FLOOR
    else
        bracket
    fi
    row "issue-$kind-j$j-n$n" "$ord" issue "$label" "$n" "$j" 0 "$(rate_of "$n" "$SECS")" "$SECS" "$RSS" \
        "$BYTES" "$DISK" "$LIMIT_KEY" "$PAIR_LIMIT" "$peer" "$fk" "$fr"
}

# fd FORMAT JOBS ORDER COUNT ITERATIONS ORD OUTDIR [NAME|bundle ["OPTIONS"]]: factory-data
# build, paired with the last limit (and floor). NAME and OPTIONS: a variant's row key and its
# extra options (word-split), e.g. esp32-enc "--esp32-nvs-encrypt". bundle: every device's images
# in one JSON Lines file (--bundle OUTDIR/fd.jsonl) instead of a file per image; paired with the
# limit only (no file per device).
fd() {
    local f=$1 j=$2 order=$3 n=$4 it=$5 ord=$6 dir=$7 name=${8:-$1} extra=${9:-} out=(--out-dir "$7") key label fk=$FLOOR_KEY fr=$FLOOR_RATE
    key="fd-$name-it$it-j$j-n$n" label="factory-data build --format $f${extra:+ $extra}, $it iterations"
    if [ "$name" = bundle ]; then
        out=(--bundle "$dir/fd.jsonl") key="fd-bundle-$f-it$it-j$j-n$n" fk="" fr=0
        label="factory-data build --format $f --bundle, $it iterations (one JSON Lines file instead of a file per device)"
    fi
    # shellcheck disable=SC2086
    measure "$MP" factory-data build --order "$order" --product "$PRODUCT" --cd "$W/cd.der" --paa "$W/paa.pem" --cd-signer "$W/cd-signer.pem" --format "$f" $extra \
        "${out[@]}" --jobs "$j" --iterations "$it" --quiet
    grep -q "for $n new device" "$W/cmd.out" || { echo "bench: factory-data built fewer than $n devices:" >&2;
        cat "$W/cmd.out" >&2; exit 1; }
    out_size "$dir" "$n"
    if [ -n "$fk" ]; then bracket floor; fr=$PAIR_FLOOR; else bracket; fi
    row "$key" "$ord" fd "$label" "$n" "$j" "$it" \
        "$(rate_of "$n" "$SECS")" "$SECS" "$RSS" "$BYTES" "$DISK" "$LIMIT_KEY" "$PAIR_LIMIT" "" "$fk" "$fr"
    trash "$dir"
}

# The peer: what factory scripts do, one `openssl req` (new P-256 key + CSR with
# the Matter VID/PID attributes) and one `openssl x509 -req` (sign with the PAI
# key from a file, Matter DAC extensions file) per device. SSL_CERT_FILE is left
# at its default (openssl x509 loads the system CA bundle on every run).
peer_setup() {
    local p=$W/peer
    mkdir -p "$p"
    q openssl ecparam -name prime256v1 -genkey -noout -out "$p/pai.key"
    cat > "$p/req.cnf" <<'EOF'
oid_section = matter_oids
[matter_oids]
matterVID = 1.3.6.1.4.1.37244.2.1
matterPID = 1.3.6.1.4.1.37244.2.2
[req]
distinguished_name = dn
string_mask = utf8only
utf8 = yes
prompt = no
[dn]
EOF
    cat > "$p/dac.ext" <<'EOF'
[dac]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
    q openssl req -config "$p/req.cnf" -x509 -new -key "$p/pai.key" -days 3650 \
        -subj "/CN=Bench openssl PAI/matterVID=FFF2/matterPID=8001" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$p/pai.pem"
    cat > "$p/loop.sh" <<'EOF'
# loop.sh PEERDIR OUTDIR FIRST COUNT: one device per iteration, two processes each.
p=$1 d=$2 i=$3 end=$(( $3 + $4 ))
while [ "$i" -lt "$end" ]; do
    openssl req -config "$p/req.cnf" -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$d/$i.key" -subj "/CN=Bench DAC $i/matterVID=FFF2/matterPID=8001" -out "$d/$i.csr" 2>/dev/null &&
    openssl x509 -req -in "$d/$i.csr" -CA "$p/pai.pem" -CAkey "$p/pai.key" -days 36500 \
        -extfile "$p/dac.ext" -extensions dac -outform DER -out "$d/$i.der" 2>/dev/null || exit 1
    i=$((i + 1))
done
EOF
}

# peer LOOPS: LOOPS parallel openssl loops sharing NPEER devices.
peer() {
    local j=$1 d=$W/peer-out
    trash "$d"
    mkdir -p "$d"
    measure bash -c 'for k in $(seq 0 $(($2 - 1))); do bash "$1/loop.sh" "$1" "$3" $((k * $4)) "$4" & p="$p $!"; done
                     for k in $p; do wait "$k" || exit 1; done' peer "$W/peer" "$j" "$d" $((NPEER / j))
    local n=$((NPEER / j * j))
    [ "$(find "$d" -name '*.der' | wc -l)" = "$n" ] || { echo "bench: the openssl loop made too few DACs" >&2; exit 1; }
    if [ ! -e "$W/peer-linted" ]; then # the peer's output is a real Matter DAC
        q "$MP" cert lint --type dac "$d/0.der"
        touch "$W/peer-linted"
    fi
    out_size "$d" "$n"
    row "peer-j$j" 40 peer "peer: openssl req + openssl x509 -req per device ($j loop(s))" "$n" "$j" 0 \
        "$(rate_of "$n" "$SECS")" "$SECS" "$RSS" "$BYTES" "$DISK" "" 0 ""
    trash "$d"
}

machine_json() {
    jq -n --arg nproc "$(nproc)" --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
        --arg mem "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" \
        --arg kernel "$(uname -r)" --arg openssl "$(openssl version)" \
        --arg softhsm "$(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null || echo unknown)" \
        --arg libp11 "$(dpkg-query -W -f='${Version}' libp11-3 2>/dev/null || echo unknown)" \
        --arg sqlite "$(sqlite3 --version 2>/dev/null | cut -d' ' -f1)" --arg cc "$(cc --version | head -n 1)" \
        --arg ssl_cert_file "unset: OpenSSL default, $(openssl version -d | sed "s/^OPENSSLDIR: //; s/\"//g")/cert.pem" \
        '{nproc: ($nproc | tonumber), cpu: $cpu, memory: $mem, kernel: $kernel, openssl: $openssl,
          softhsm2: $softhsm, libp11: $libp11, sqlite: $sqlite, compiler: $cc, ssl_cert_file: $ssl_cert_file}'
}

# report ELAPSED LOAD_START LOAD_END: results.json, results.md, the table on stdout.
report() {
    local cmd="make bench"
    [ -n "${BENCH_ONLY:-}" ] && cmd="BENCH_ONLY=$BENCH_ONLY BENCH_N=$N BENCH_NS=$NS BENCH_RUNS=$RUNS make bench"
    cp "$ROWS" "$OUTD/rows.jsonl"
    [ "${BENCH_FULL:-0}" = 1 ] && cmd="BENCH_FULL=1 make bench"
    jq -s --argjson machine "$(machine_json)" --argjson elapsed "$1" --arg load_start "$2" --arg load_end "$3" \
        --arg command "$cmd" --argjson rounds "$ROUNDS" --argjson budget "$BUDGET" --argjson n "$N" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        -f "$HERE/report.jq" "$ROWS" > "$OUTD/results.json.tmp"
    mv "$OUTD/results.json.tmp" "$OUTD/results.json"
    jq -r -f "$HERE/table.jq" "$OUTD/results.json" > "$OUTD/results.md.tmp"
    mv "$OUTD/results.md.tmp" "$OUTD/results.md"
    cat "$OUTD/results.md"
}

# trash DIR: move an output folder aside; everything is deleted at the end.
# Deleting 100,000s of files between measurements would slow the next ones:
# ext4 (notably without a journal) skips recently deleted inodes when it
# allocates new ones, so file creation right after a mass delete costs more.
trash() {
    [ -e "$1" ] || return 0
    mkdir -p "$W/trash"
    mv "$1" "$W/trash/$(date +%s%N)"
}
