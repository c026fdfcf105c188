#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the store tests; prints its URL.
# Usage: eval "$(bash .ci/postgres.sh)"   (sets ODLAR_TEST_POSTGRES_URL)
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
fi
bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
dir=$(mktemp -d /tmp/odlar-pg.XXXXXX)
chown postgres "$dir"
port=${ODLAR_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
su postgres -c "$bin/initdb -D $dir/data -A trust -U postgres" >&2
su postgres -c "$bin/pg_ctl -D $dir/data -w -l $dir/log -o '-k $dir -p $port -c listen_addresses=127.0.0.1' start" >&2
echo "export ODLAR_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
