#!/usr/bin/env bash
# The README's main command.
#
#   scripts/demo.sh                 the demo, end to end: installs what is missing, builds
#                                   (release preset: oversyncd + oversync-sim), starts the
#                                   reference server oversyncd as its own process, runs the
#                                   simulator's `all` and `watch-all` scenario sets against it
#                                   (real oversqlite devices over HTTP, verified on the devices
#                                   and in PostgreSQL) with the current contract at the root,
#                                   then `all` with go_canonical_v1 devices under
#                                   /go_canonical_v1 (same server, same database), prints the
#                                   summaries, stops the server.
#                                   Exit status 0 iff every scenario passed.
#   scripts/demo.sh server          build and run oversyncd until Ctrl-C (the previous default)
#   scripts/demo.sh adopt [SCOPE…]  oversyncd adopt (see README)
#   scripts/demo.sh sim --server URL --database-url DSN [oversync-sim options…]
#                                   the simulator against any running server and its database
#                                   (default --scenario all; add e.g. --scenario watch-all,
#                                   --parallel 8, --jwt-secret S, --json report.json)
#
# Database: without DATABASE_URL, oversyncd starts (and on later runs reuses) its own PostgreSQL
# cluster under .oversyncd/ (OVERSYNCD_DATA_DIR) and prints its conninfo on startup
# ("oversyncd database …"); the demo hands that to the simulator for verification. With
# DATABASE_URL set, the server uses that database and the simulator verifies in it.
# Environment: DEMO_PARALLEL (users per scenario set, default 4), PORT (default: a free port),
# JWT_SECRET (shared by server and simulator).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

build() {
  bash scripts/install-deps.sh
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=true
  cmake --preset release >/dev/null
  cmake --build --preset release --target "$@"
}
SERVER_BIN="$ROOT/build/release/apps/oversyncd/oversyncd"
SIM_BIN="$ROOT/build/release/apps/oversync-sim/oversync-sim"

case "${1:-}" in
  server)
    shift
    build oversyncd
    exec "$SERVER_BIN" "$@"
    ;;
  adopt)
    build oversyncd
    exec "$SERVER_BIN" "$@"
    ;;
  sim)
    shift
    build oversync-sim
    exec "$SIM_BIN" "$@"
    ;;
  "") ;;
  *)
    echo "usage: scripts/demo.sh [server | adopt [SCOPE...] | sim --server URL --database-url DSN [...]]" >&2
    exit 2
    ;;
esac

# ---- the end-to-end demo ----
step() { echo; echo "==== $* ($(date +%H:%M:%S))"; }
PARALLEL="${DEMO_PARALLEL:-4}"

step "install dependencies and build (release: oversyncd, oversync-sim)"
build oversyncd oversync-sim

step "start the reference server oversyncd"
LOG="$(mktemp -t oversyncd-demo.XXXXXX.log)"
PORT="${PORT:-0}" "$SERVER_BIN" >"$LOG" 2>&1 &
SERVER_PID=$!
stop_server() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap 'stop_server' EXIT
trap 'exit 130' INT TERM

# First start of the self-managed cluster runs initdb: allow two minutes.
URL=""
for _ in $(seq 1 1200); do
  URL="$(sed -n 's/^oversyncd listening on \(http:[^ ]*\)$/\1/p' "$LOG" | head -1)"
  [ -n "$URL" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    cat "$LOG" >&2; echo "demo: oversyncd exited during startup" >&2; exit 1
  fi
  sleep 0.1
done
[ -n "$URL" ] || { cat "$LOG" >&2; echo "demo: oversyncd did not start listening" >&2; exit 1; }
if [ -n "${DATABASE_URL:-}" ]; then
  DSN="$DATABASE_URL"
else
  # Printed right after the listening line.
  DSN=""
  for _ in $(seq 1 50); do
    DSN="$(sed -n 's/^oversyncd database \(.*\)$/\1/p' "$LOG" | head -1)"
    [ -n "$DSN" ] && break
    sleep 0.1
  done
  [ -n "$DSN" ] || { cat "$LOG" >&2; echo "demo: oversyncd did not print its database" >&2; exit 1; }
fi
echo "oversyncd (pid $SERVER_PID) at $URL, database: $DSN, log: $LOG"

status=0
step "simulator: every device scenario, $PARALLEL users in parallel (jcs_uniform_numeric_strings_v1 at $URL)"
"$SIM_BIN" --server "$URL" --database-url "$DSN" --scenario all --parallel "$PARALLEL" || status=1
step "simulator: the bundle-change watch scenarios, $PARALLEL users in parallel"
"$SIM_BIN" --server "$URL" --database-url "$DSN" --scenario watch-all --parallel "$PARALLEL" || status=1
# The same server and database also serve go-oversync 1f1118f's contract (older apps) under
# /go_canonical_v1 (docs/wire-profiles.md).
step "simulator: every device scenario again with go_canonical_v1 clients at $URL/go_canonical_v1"
"$SIM_BIN" --server "$URL/go_canonical_v1" --wire-profile go_canonical_v1 --database-url "$DSN" \
  --scenario all --parallel "$PARALLEL" || status=1

step "stop the server"
stop_server
trap - EXIT
rm -f "$LOG"
echo
if [ "$status" -eq 0 ]; then
  echo "demo: ALL SCENARIOS PASSED"
else
  echo "demo: SOME SCENARIOS FAILED (see the FAIL lines above)"
fi
exit "$status"
