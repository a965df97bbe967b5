# Sourced by .ci/run: installs PostgreSQL from Debian's packages if needed,
# starts a throwaway server on a loopback port in a temporary directory (as
# the postgres user: initdb refuses root), stops it when the shell exits, and
# exports DETENTE_TEST_POSTGRES so the PostgreSQL tests run instead of
# saying they were skipped.

start_test_postgres() {
    local bin port dir
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -z "$bin" ]; then
        echo "installing PostgreSQL from Debian's packages"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq postgresql postgresql-contrib >/dev/null
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    port=${DETENTE_CI_POSTGRES_PORT:-55433}
    dir=$(mktemp -d /tmp/detente-pg.XXXXXX)
    chmod 755 "$dir"
    chown postgres "$dir"
    runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U detente >"$dir/initdb.log"
    # fsync stays on: the benchmarks and crash tests measure durable commits.
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=on" start >/dev/null
    trap "runuser -u postgres -- '$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1; rm -rf '$dir'" EXIT
    export DETENTE_TEST_POSTGRES="postgres://detente@127.0.0.1:$port/postgres"
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}
