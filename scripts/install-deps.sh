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
  libsqlite3-dev libcurl4-openssl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  # Go (bootstrap only; see ensure_go below)
  golang-go
)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Go >= 1.22 is needed: the differential tests compare against encoding/json, whose escaping
# changed in 1.22 (protocol.md §2.6). Debian 12's golang-go is 1.19, so it only bootstraps:
# ensure_go fetches the official toolchain module golang.org/toolchain through the Go module
# proxy (how `go` itself installs toolchains) and links it as /usr/local/bin/go.
GO_TOOLCHAIN_VERSION=1.22.12
go_ok() {  # $1 = go binary; true when it is >= 1.22
  local v
  v=$("$1" env GOVERSION 2>/dev/null) || return 1
  v=${v#go}; local major=${v%%.*} rest=${v#*.}; local minor=${rest%%.*}
  [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 22 ]; }
}
find_good_go() {
  local candidate
  for candidate in "$(command -v go 2>/dev/null)" /usr/local/go/bin/go /usr/local/bin/go; do
    [ -n "$candidate" ] && [ -x "$candidate" ] && go_ok "$candidate" && { echo "$candidate"; return 0; }
  done
  return 1
}
if find_good_go >/dev/null; then
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

ensure_go() {
  find_good_go >/dev/null && return 0
  local bootstrap
  bootstrap=$(command -v go 2>/dev/null || echo /usr/lib/go/bin/go)
  [ -x "$bootstrap" ] || { echo "install-deps: no Go to bootstrap from" >&2; return 1; }
  local target=/usr/local/lib/oversync-go
  local module="golang.org/toolchain@v0.0.1-go${GO_TOOLCHAIN_VERSION}.linux-$(dpkg --print-architecture)"
  echo "install-deps: fetching Go ${GO_TOOLCHAIN_VERSION} toolchain module ($module)"
  "${sudo_cmd[@]}" mkdir -p "$target"
  [ "$(id -u)" = 0 ] || "${sudo_cmd[@]}" chown "$(id -u)" "$target"
  local work
  work=$(mktemp -d)
  (cd "$work" && "$bootstrap" mod init bootstrap >/dev/null 2>&1 &&
     GOMODCACHE="$target/mod" GOFLAGS=-modcacherw "$bootstrap" mod download "$module")
  rm -rf "$work"
  local dir="$target/mod/golang.org/toolchain@v0.0.1-go${GO_TOOLCHAIN_VERSION}.linux-$(dpkg --print-architecture)"
  chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/* 2>/dev/null || true
  "${sudo_cmd[@]}" ln -sf "$dir/bin/go" /usr/local/bin/go
  go_ok /usr/local/bin/go || { echo "install-deps: Go toolchain install failed" >&2; return 1; }
}
sudo_cmd=()
[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
ensure_go
