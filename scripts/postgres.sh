#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the datastore tests: a private data directory, loopback
# only, a free port, fsync off (the tests do not need durability from it).
#
#   scripts/postgres.sh start   # initdb + start (if not running); prints the URL
#   scripts/postgres.sh url     # prints the URL of the running cluster
#   scripts/postgres.sh stop    # stops it and removes its directory
#
# The tests read the URL from SPIFFE_TEST_POSTGRES_URL, e.g.
#   export SPIFFE_TEST_POSTGRES_URL=$(scripts/postgres.sh start)
# Each test creates its own database in this cluster.
#
# Environment: SPIFFE_PG_DIR (default: a directory under /tmp named after this checkout).
# Needs the `postgresql` package (initdb, pg_ctl); initdb refuses to run as root, so as root
# the cluster runs as the `postgres` user.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${SPIFFE_PG_DIR:-/tmp/spiffe-test-pg-$(printf '%s' "$repo" | cksum | cut -d' ' -f1)}

bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x $d/initdb && -x $d/pg_ctl ]] && { echo "$d"; return; }
    done
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return
    fi
    echo "postgres.sh: PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2
    exit 1
}

# Runs a PostgreSQL program as the cluster's owner.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

url() {
    [[ -f $dir/port ]] || { echo "postgres.sh: no cluster in $dir (run: $0 start)" >&2; exit 1; }
    echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
}

running() {
    [[ -f $dir/port && -d $dir/data ]] && as_owner "$(bindir)/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    if running; then
        url
        return
    fi
    local bin port
    bin=$(bindir)
    rm -rf "$dir"
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null \
        || { cat "$dir/log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    url
}

stop() {
    if [[ -d $dir/data ]]; then
        as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
