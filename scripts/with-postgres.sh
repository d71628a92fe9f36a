#!/usr/bin/env bash
# Throwaway PostgreSQL 15: initdb into a temp dir, start on a free loopback port, create the
# database `oversync_test`, export its URL, run the given command, then stop and delete
# everything on exit (also on failure or Ctrl-C).
#
#   scripts/with-postgres.sh ctest --preset ci     # run a command against a fresh cluster
#   scripts/with-postgres.sh                       # print the URL and wait for Ctrl-C
#
# Exports for the command: OVERSYNC_TEST_DSN (libpq keyword form, used by the tests),
# DATABASE_URL (postgres:// form, used by oversyncd), PGHOST/PGPORT/PGUSER/PGDATABASE.
# Runs initdb/pg_ctl through `runuser -u postgres` when started as root (initdb refuses root).
set -euo pipefail

PGBIN="${PGBIN:-}"
if [ -z "$PGBIN" ]; then
  if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
    PGBIN=/usr/lib/postgresql/15/bin
  else
    PGBIN="$(pg_config --bindir)"
  fi
fi
[ -x "$PGBIN/initdb" ] || { echo "with-postgres: no initdb in $PGBIN (run scripts/install-deps.sh)" >&2; exit 1; }

PGROOT="$(mktemp -d -t oversync-pg.XXXXXX)"
RUNAS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$PGROOT"
  RUNAS=(runuser -u postgres --)
fi

cleanup() {
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGROOT/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${RUNAS[@]}" "$PGBIN/initdb" -D "$PGROOT/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
  --no-sync >"$PGROOT/initdb.log" 2>&1 || { cat "$PGROOT/initdb.log" >&2; exit 1; }

started=0
for attempt in 1 2 3 4 5 6 7 8; do
  port=$(( (RANDOM << 15 | RANDOM) % 30000 + 20000 ))
  if "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w -t 60 \
       -o "-p $port -k $PGROOT -c listen_addresses=127.0.0.1 -c fsync=off \
           -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
       start >/dev/null 2>&1; then
    started=1
    break
  fi
done
[ "$started" = 1 ] || { echo "with-postgres: PostgreSQL did not start" >&2; cat "$PGROOT/server.log" >&2; exit 1; }

export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE=oversync_test
"$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres oversync_test
export OVERSYNC_TEST_DSN="host=127.0.0.1 port=$port user=postgres dbname=oversync_test"
export DATABASE_URL="postgres://postgres@127.0.0.1:$port/oversync_test?sslmode=disable"
echo "with-postgres: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') at $DATABASE_URL" >&2

if [ "$#" -eq 0 ]; then
  echo "$DATABASE_URL"
  echo "with-postgres: press Ctrl-C to stop and delete the cluster" >&2
  while true; do sleep 3600; done
fi
"$@"
