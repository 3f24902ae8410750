#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server for the COPVivier tests and prints the URL to put in
# CARBONHUB_TEST_POSTGRES_URL. Idempotent: installs the Debian package when missing, reuses a
# running server, (re)creates the role and database only when absent.
#   export CARBONHUB_TEST_POSTGRES_URL="$(bash Plugins/COPVivier/scripts/start-test-postgres.sh)"
set -euo pipefail

PORT="${COPVIVIER_PG_PORT:-55432}"
DIR="${COPVIVIER_PG_DIR:-/tmp/carbonhub-copvivier-pg}"
ROLE=carbonhub
PASSWORD=carbonhub
DB=copvivier_test

log() { echo "$*" >&2; }

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing postgresql (Debian package)"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
  else
    sudo apt-get update >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
  fi
fi
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"

# PostgreSQL refuses to run as root: run the cluster as the 'postgres' system user then.
if [ "$(id -u)" -eq 0 ]; then
  RUN=(runuser -u postgres --)
else
  RUN=()
fi

if [ ! -f "$DIR/PG_VERSION" ]; then
  mkdir -p "$DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DIR"
  "${RUN[@]}" "$BIN/initdb" -D "$DIR" -U postgres --auth-local=trust --auth-host=scram-sha-256 >&2
fi

if ! "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1" start >&2
fi

psql_admin() { "${RUN[@]}" "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
  psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
fi
# CREATEDB: a test that must not share its tables with the tests running beside it (the COP
# pool's upgrade check) creates a database of its own.
psql_admin -c "ALTER ROLE $ROLE CREATEDB" >&2
# A fresh database every run: test data never accumulates between runs (nor do the private
# databases of earlier runs, named ${DB}_<label>_<id>).
for old in $(psql_admin -c "SELECT datname FROM pg_database WHERE datname LIKE '${DB}\_%'"); do
  psql_admin -c "DROP DATABASE IF EXISTS $old WITH (FORCE)" >&2
done
psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >&2
psql_admin -c "CREATE DATABASE $DB OWNER $ROLE" >&2

echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
