#!/usr/bin/env bash
# Runs every test: installs dependencies, builds with warnings as errors (gcc, RelWithDebInfo),
# runs the whole ctest suite against a throwaway PostgreSQL, repeats the suite under
# ASan+UBSan, smoke-runs the benchmarks, and builds and briefly runs every fuzzer (clang-14).
# This is the README's test command and what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# CI builds in a fresh clone each time: hash paths relative to the checkout so the cache hits.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
export PATH="$PATH:/usr/local/go/bin"

stage() { echo; echo "==== $* ($(date +%H:%M:%S))"; }
LOGDIR="$(mktemp -d -t oversync-test.XXXXXX)"
trap 'rm -rf "$LOGDIR"' EXIT
# ctest prints "100% tests passed, 0 tests failed out of N"; keep the counts of every pass.
run_ctest() {
  local log="$LOGDIR/ctest-$1.log"; shift
  bash scripts/with-postgres.sh ctest "$@" 2>&1 | tee "$log"
}

stage "build (gcc, warnings as errors)"
cmake --preset ci >/dev/null
cmake --build --preset ci

stage "tests"
run_ctest ci --preset ci

stage "tests under ASan+UBSan"
cmake --preset asan >/dev/null
cmake --build --preset asan
run_ctest asan --preset asan

stage "server runtime and client SDK concurrency tests under ThreadSanitizer"
cmake --preset tsan -DOVERSYNC_BUILD_APPS=ON >/dev/null
cmake --build --preset tsan --target oversync_runtime_test oversync_bootstrap_test \
  oversqlite_lifecycle_test oversqlite_push_test
if ! TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" bash scripts/with-postgres.sh \
     bash -c 'build/tsan/libs/server/oversync_runtime_test && build/tsan/libs/server/oversync_bootstrap_test && build/tsan/libs/oversqlite/tests/oversqlite_lifecycle_test && build/tsan/libs/oversqlite/tests/oversqlite_push_test' \
     >"$LOGDIR/tsan.log" 2>&1; then
  tail -60 "$LOGDIR/tsan.log"; echo "ThreadSanitizer stage failed"; exit 1
fi
grep -E "^\[  PASSED  \]" "$LOGDIR/tsan.log"

stage "benchmarks start (one short run each; numbers come from docs/benchmarks.md runs)"
bash scripts/with-postgres.sh bash -c '
  set -e
  for b in build/ci/bench/*_bench; do
    [ -x "$b" ] || continue
    out=$("$b" --benchmark_min_time=0.01 2>&1) || { echo "$out"; exit 1; }
    if echo "$out" | grep -q "ERROR OCCURRED"; then echo "$out"; exit 1; fi
    echo "$(basename "$b"): ok"
  done'


stage "fuzzers (clang-14 libFuzzer, ASan+UBSan), 10 s each"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
for f in build/fuzz/fuzz/*_fuzz; do
  [ -x "$f" ] || continue
  name="$(basename "$f")"
  work="$(mktemp -d)"
  cp -r "fuzz/corpus/$name/." "$work" 2>/dev/null || true
  if ! "$f" -max_total_time=10 -rss_limit_mb=2048 "$work" >"$work/log" 2>&1; then
    tail -50 "$work/log"; echo "fuzzer $name failed"; exit 1
  fi
  echo "$name: $(grep -o 'Done [0-9]* runs' "$work/log" | tail -1), ok"
  rm -rf "$work"
done
stage "all test stages passed"
total=0
for log in "$LOGDIR"/ctest-*.log; do
  n=$(grep -Eo 'tests failed out of [0-9]+' "$log" | awk '{print $5}' | tail -1)
  total=$((total + ${n:-0}))
done
echo "(ctest totals over the gcc and ASan passes)"
echo "tests: $total passed, 0 failed"
