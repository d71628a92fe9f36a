#!/usr/bin/env bash
# The main job: builds the reference server and runs it. Without DATABASE_URL, oversyncd starts
# (and on the next run reuses) its own PostgreSQL cluster under .oversyncd/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
cmake --preset release >/dev/null
cmake --build --preset release --target oversyncd
exec build/release/apps/oversyncd/oversyncd "$@"
