#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for tests and benchmarks.
#
#   scripts/start-postgres.sh DIR [PORT]
#
# Installs Debian's `postgresql` package if it is missing (needs root), creates a cluster in
# DIR (initdb runs as the `postgres` OS user: PostgreSQL refuses to run as root), starts it on
# 127.0.0.1:PORT (a free port when PORT is omitted; the unix socket stays inside DIR), creates
# a superuser role `streamwidget` (password `streamwidget`) and a database `streamwidget`.
# Prints the DSN on stdout and writes it to DIR/dsn. Stop it with:
#
#   pg_ctl -D DIR/data stop -m fast     (as the postgres user: runuser -u postgres -- ...)
set -euo pipefail

dir=${1:?usage: start-postgres.sh DIR [PORT]}
port=${2:-}

find_bin() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    echo "$found"
}

bin=$(find_bin)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "PostgreSQL is not installed and we are not root: apt-get install postgresql" >&2
        exit 3
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >&2 || { apt-get update -q >&2 && apt-get install -y -q postgresql >&2; }
    bin=$(find_bin)
fi

as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [ -z "$port" ]; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir"
fi
if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 4; }
    # md5/scram for TCP so that role passwords mean something (the row-level security tests
    # log in as ordinary roles); trust on the private unix socket for the admin.
    cat >"$dir/data/pg_hba.conf" <<HBA
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
HBA
fi
as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >&2 || { cat "$dir/server.log" >&2; exit 5; }

psql_admin() { as_postgres "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q "$@"; }
psql_admin -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'streamwidget') THEN CREATE ROLE streamwidget LOGIN SUPERUSER PASSWORD 'streamwidget'; END IF; END\$\$;" >&2
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'streamwidget'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE streamwidget OWNER streamwidget" >&2
fi

dsn="postgresql://streamwidget:streamwidget@127.0.0.1:$port/streamwidget"
echo "$dsn" >"$dir/dsn"
echo "$port" >"$dir/port"
echo "$dsn"
