# est.sh - sourced by t_est.sh and t_est_pg.sh: starting `serve` on 127.0.0.1:0
# with the test's server and station-CA files (srv.pem, srv.key, stca.pem, paa.pem).
# The caller's EXIT trap stops every pid in $SERVERS.
start_server() { # start_server NAME ARGS...: sets NAME_PID and NAME_PORT
    local n=$1; shift
    rm -f "$n.port"
    "$MP" serve $H --listen 127.0.0.1:0 --port-file "$n.port" --tls-cert srv.pem --tls-key srv.key \
        --station-ca stca.pem --paa-cert paa.pem "$@" > "$n.out" 2> "$n.err" &
    local pid=$!
    SERVERS="$SERVERS $pid"
    for _ in $(seq 100); do [ -s "$n.port" ] && break; sleep 0.1; done
    eval "${n}_PID=$pid; ${n}_PORT=$(cat "$n.port" 2> /dev/null || echo 0)"
}
