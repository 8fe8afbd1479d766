#!/usr/bin/env bash
# Starts a throwaway PostgreSQL, runs the given command with OVERBOOK_PG_URL
# pointing at it, and stops it again (also when the command fails).
#
#   scripts/with-postgres.sh cargo test
#
# Uses Debian's postgresql package (installed when missing and running as
# root). initdb refuses to run as root, so the server runs as the
# `postgres` user then. It listens on a unix socket in its temporary folder
# and on a free port of 127.0.0.1, with trust authentication.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: scripts/with-postgres.sh COMMAND [ARGS...]" >&2
    exit 2
fi

bindir=""
if command -v pg_config >/dev/null 2>&1; then
    bindir="$(pg_config --bindir)"
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "== installing postgresql" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    else
        echo "error: PostgreSQL is not installed (apt-get install postgresql)" >&2
        exit 2
    fi
fi

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

dir="$(mktemp -d /tmp/overbook-pg.XXXXXX)"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || echo $((20000 + RANDOM % 20000)))"
user="$(if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi)"

stop() {
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT

as_pg "$bindir/initdb" -D "$dir/data" -U "$user" -A trust --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 2; }
# autovacuum off: an ANALYZE it runs mid-suite changes the plans (an index
# scan becomes a sequential scan), and with them the SSI predicate locks the
# recorded transcripts depend on.
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c max_connections=200 -c autovacuum=off" \
    start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 2; }

export OVERBOOK_PG_URL="postgresql://$user@127.0.0.1:$port/postgres"
echo "== PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on $OVERBOOK_PG_URL" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
