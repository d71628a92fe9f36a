#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the demo need.
# Idempotent: when everything is already installed it makes no apt call at all.
# Used by the README, .ci/run and every other script (one list, one place).
set -euo pipefail

APT_PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache git
  clang-14 libclang-rt-14-dev
  # PostgreSQL server (throwaway clusters) and client library
  postgresql-15 libpq-dev
  # libraries
  libssl-dev libsimdjson-dev libfmt-dev libexpected-dev libboost1.81-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  # Go for the differential canonical-JSON test and the interop tests
  golang-go
)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# golang-go is optional when a Go toolchain is already on PATH (the CI image ships one).
if command -v go >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [ "$p" = golang-go ] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { "${sudo_cmd[@]}" apt-get update -q \
         && "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; }
fi
