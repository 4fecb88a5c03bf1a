# pg.sh - a real PostgreSQL 15 for a test, sourced after lib.sh: initdb in a
# temporary folder, listening on a Unix socket only (no TCP port, nothing
# under /etc), run as the unprivileged `postgres` user when the test runs as
# root; stopped and removed at exit, also when the test fails.
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGT=$(mktemp -d /tmp/mp-pg.XXXXXX)
chmod 755 "$PGT"
mkdir -p "$PGT/sock"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_stop() {
    [ -f "$PGT/bouncer/pid" ] && kill "$(cat "$PGT/bouncer/pid")" 2> /dev/null
    [ -f "$PGT/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$PGT/data" -m immediate stop > /dev/null 2>&1
    rm -rf "$PGT"
}
trap 'pg_stop; rm -rf "$T"' EXIT
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$PGT"
if ! as_pg "$PGBIN/initdb" -D "$PGT/data" -U mp --auth=trust -E UTF8 --no-locale > "$PGT/initdb.log" 2>&1; then
    echo "initdb failed:"; cat "$PGT/initdb.log"; exit 1
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$PGT/data" -l "$PGT/log" -w -o "-c listen_addresses='' -k $PGT/sock -c max_connections=60 -c fsync=on" start > /dev/null 2>&1; then
    echo "pg_ctl start failed:"; cat "$PGT/log"; exit 1
fi
PGSOCK="$PGT/sock"
# psql_ DB SQL: one value per line
psql_() { psql -X -A -t -q -h "$PGSOCK" -U mp -d "$1" -c "$2"; }
# pg_newdb NAME: an empty database; prints its libpq location
pg_newdb() { psql_ postgres "CREATE DATABASE $1" > /dev/null && echo "host=$PGSOCK user=mp dbname=$1"; }
# pg_bouncer DB: pgbouncer in transaction mode in front of DB (Unix socket
# only); prints its libpq location
pg_bouncer() {
    mkdir -p "$PGT/bouncer"
    cat > "$PGT/bouncer/pgb.ini" <<EOF
[databases]
$1 = host=$PGSOCK dbname=$1 user=mp
[pgbouncer]
listen_addr =
listen_port = 6433
unix_socket_dir = $PGT/bouncer
auth_type = trust
auth_file = $PGT/bouncer/users.txt
pool_mode = transaction
max_client_conn = 100
default_pool_size = 3
logfile = $PGT/bouncer/log
pidfile = $PGT/bouncer/pid
EOF
    echo '"mp" ""' > "$PGT/bouncer/users.txt"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$PGT/bouncer"
    as_pg pgbouncer -d "$PGT/bouncer/pgb.ini" > /dev/null 2>&1 || return 1
    for i in $(seq 1 50); do [ -S "$PGT/bouncer/.s.PGSQL.6433" ] && break; sleep 0.1; done
    echo "host=$PGT/bouncer port=6433 user=mp dbname=$1"
}
pg_bouncer_stop() {
    [ -f "$PGT/bouncer/pid" ] && kill "$(cat "$PGT/bouncer/pid")" 2> /dev/null
    for i in $(seq 1 50); do [ -f "$PGT/bouncer/pid" ] || break; sleep 0.1; done
}
