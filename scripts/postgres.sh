#!/usr/bin/env bash
# A private PostgreSQL + PostGIS server for the tests and the benchmarks, on 127.0.0.1 only.
#
#   scripts/postgres.sh start    # install Debian's postgresql + postgis if missing, init, start;
#                                # prints the URL (postgresql://linewatch@127.0.0.1:PORT/linewatch)
#   scripts/postgres.sh url      # print the URL of the running server
#   scripts/postgres.sh stop
#
# The cluster lives in $LINEWATCH_PG_DIR (default: .pg/ in the project; when run as root, a
# folder of this checkout's own under /tmp, owned by the postgres system user, since PostgreSQL
# refuses to run as root and the checkout may sit in a folder only root can enter) and listens
# on $LINEWATCH_PG_PORT (default 54329, or the next free port if another server has it; the
# port is kept in the cluster folder) with trust authentication for local connections only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $(id -u) -eq 0 ]]; then
    DIR="${LINEWATCH_PG_DIR:-/tmp/linewatch-pg-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)}"
else
    DIR="${LINEWATCH_PG_DIR:-$ROOT/.pg}"
fi

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [[ -n "${LINEWATCH_PG_PORT:-}" ]]; then
    PORT="$LINEWATCH_PG_PORT"
elif [[ -f "$DIR/port" ]]; then
    PORT="$(cat "$DIR/port")"
else
    PORT=54329
    while port_busy "$PORT"; do PORT=$((PORT + 1)); done
fi
URL="postgresql://linewatch@127.0.0.1:${PORT}/linewatch"

pg_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -n "$d" && -x "$d/initdb" ]] && echo "$d"
}

install() {
    local bin ver
    bin=$(pg_bin || true)
    ver=$( [[ -n "$bin" ]] && basename "$(dirname "$bin")" || echo "")
    if [[ -n "$bin" && -f "/usr/share/postgresql/$ver/extension/postgis.control" ]]; then
        return 0
    fi
    "$ROOT/scripts/apt-install.sh" "the PostgreSQL store" postgresql postgresql-postgis
}

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {
    local bin
    bin=$(pg_bin) || return 1
    [[ -f "$DIR/data/PG_VERSION" ]] && as_owner "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

init_and_start() {
    local bin="$1"
    mkdir -p "$DIR"
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$DIR"; fi
    echo "$PORT" > "$DIR/port"
    if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
        as_owner "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
        printf '%s\n' "listen_addresses = '127.0.0.1'" "port = $PORT" \
            "unix_socket_directories = '$DIR'" "max_connections = 200" \
            "fsync = off" "synchronous_commit = off" "full_page_writes = off" \
            >> "$DIR/data/postgresql.conf"
    fi
    as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >/dev/null
}

start() {
    install
    local bin
    bin=$(pg_bin)
    if ! running; then
        init_and_start "$bin"
    fi
    local psql=("$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
    if [[ -z "$("${psql[@]}" -d postgres -c "select 1 from pg_roles where rolname='linewatch'")" ]]; then
        "${psql[@]}" -d postgres -c "create role linewatch login superuser"
    fi
    if [[ -z "$("${psql[@]}" -d postgres -c "select 1 from pg_database where datname='linewatch'")" ]]; then
        "${psql[@]}" -d postgres -c "create database linewatch owner linewatch"
    fi
    "${psql[@]}" -d linewatch -c "create extension if not exists postgis"
    echo "$URL"
}

stop() {
    local bin
    bin=$(pg_bin) || return 0
    if running; then as_owner "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null; fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    url) running && echo "$URL" ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
