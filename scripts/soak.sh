#!/usr/bin/env bash
# Soak: loops the simulator's scenario sets (`all`, then `watch-all`) with high parallelism for a
# while and stops at the first failure.
#
#   scripts/soak.sh [minutes] [parallel]      defaults: 10 minutes, 32 users in parallel
#
# Builds the release oversync-sim, starts one throwaway PostgreSQL (scripts/with-postgres.sh) and
# runs every iteration against the in-process reference server on a fresh database of it (so the
# server-side write scenarios run too). Each iteration's JSON report goes to $SOAK_DIR (default a
# temporary directory, kept on failure). Exit status 0 when every iteration passed.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${1:-10}"
PARALLEL="${2:-32}"
[[ "$MINUTES" =~ ^[0-9]+$ && "$PARALLEL" =~ ^[0-9]+$ ]] || {
  echo "usage: scripts/soak.sh [minutes] [parallel]" >&2; exit 2; }

bash scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
cmake --preset release >/dev/null
cmake --build --preset release --target oversync-sim

export SOAK_MINUTES="$MINUTES" SOAK_PARALLEL="$PARALLEL"
export SOAK_DIR="${SOAK_DIR:-$(mktemp -d -t oversync-soak.XXXXXX)}"
export SIM_BIN="$PWD/build/release/apps/oversync-sim/oversync-sim"
exec bash scripts/with-postgres.sh bash -c '
  set -uo pipefail
  deadline=$(( $(date +%s) + SOAK_MINUTES * 60 ))
  iteration=0
  while :; do
    iteration=$((iteration + 1))
    for set in all watch-all; do
      echo "==== soak iteration $iteration: $set x $SOAK_PARALLEL users ($(date +%H:%M:%S))"
      report="$SOAK_DIR/iteration-$iteration-$set.json"
      if ! "$SIM_BIN" --database-url "$DATABASE_URL" --scenario "$set" \
           --parallel "$SOAK_PARALLEL" --json "$report" >"$SOAK_DIR/last.log" 2>&1; then
        cat "$SOAK_DIR/last.log"
        echo "soak: FAILED in iteration $iteration ($set); reports kept in $SOAK_DIR"
        exit 1
      fi
      sed -n "/oversync-sim summary/,\$p" "$SOAK_DIR/last.log" | grep -E "scenarios|throughput|push |pull |snapshot " || true
    done
    [ "$(date +%s)" -ge "$deadline" ] && break
  done
  echo "soak: $iteration iteration(s) of all + watch-all x $SOAK_PARALLEL users passed in $SOAK_MINUTES min"
  rm -rf "$SOAK_DIR"
'
