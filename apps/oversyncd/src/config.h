// File: apps/oversyncd/src/config.h
//
// Process configuration of oversyncd, read from environment variables the way go-oversync's
// examples/nethttp_server does (server.md Appendix A.1), plus the variables the C++ binary adds.
// Only the app reads the environment; ConfigFromEnv takes the lookup as a function so tests do
// not touch the real environment.
//
// Thread-safety: plain values and a pure function.
#ifndef OVERSYNC_OVERSYNCD_CONFIG_H_
#define OVERSYNC_OVERSYNCD_CONFIG_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "oversync/common/status.h"

namespace oversync::oversyncd {

// The JWT secret Go uses when JWT_SECRET is empty (server.md A.1).
inline constexpr std::string_view kDefaultJwtSecret = "your-secret-key-change-in-production";
// Reference AppName (server.md A.1); reported by /syncx/status.
inline constexpr std::string_view kAppName = "nethttp-server-example";

struct Config {
  // DATABASE_URL (libpq conninfo or URI). Empty = oversyncd starts its own PostgreSQL cluster
  // (Go would use its hard-coded default DSN instead).
  std::string database_url;
  // PORT: the Go example always listens on 8080 (server.md A.1); 0 = pick a free port.
  std::uint16_t port = 8080;
  // OVERSYNCD_LISTEN_ADDR: IP literal to bind. Go binds every interface (":8080"); oversyncd
  // defaults to loopback.
  std::string listen_address = "127.0.0.1";
  // JWT_SECRET: HMAC key of the reference JWTs (server.md A.4); empty = kDefaultJwtSecret, and
  // jwt_secret_defaulted tells main to log Go's warning.
  std::string jwt_secret = std::string(kDefaultJwtSecret);
  bool jwt_secret_defaulted = true;
  // OVERSYNC_DB_POOL_MAX_CONNS / OVERSYNC_DB_POOL_MIN_CONNS (validated like Go, not used yet).
  int pool_max_conns = 50;
  int pool_min_conns = 5;
  // OVERSYNC_LOG_STAGE_TIMINGS: "1", "true" or "yes" (trimmed, case-insensitive).
  bool log_stage_timings = false;
  // OVERSYNCD_DATA_DIR: data directory of the self-managed cluster (relative paths are taken
  // relative to the current directory).
  std::string data_dir = ".oversyncd/pg";
  // OVERSYNCD_WORKER_THREADS: HTTP handler threads. Every open /sync/watch stream holds one for
  // its lifetime (Go serves each connection on its own goroutine), so this bounds the number of
  // concurrent watchers plus in-flight requests. 1..4096.
  int worker_threads = 256;
  // OVERSYNCD_WIRE_PROFILE: the wire contract served at the root paths (docs/wire-profiles.md):
  // "jcs_uniform_numeric_strings_v1" (the default: go-oversync's current contract, what its
  // current nethttp_server speaks) or "go_canonical_v1" (go-oversync 1f1118f).
  std::string wire_profile = "jcs_uniform_numeric_strings_v1";
  // OVERSYNCD_SECOND_PROFILE_PATH: the base path under which the other profile is served from
  // the same database (<path>/sync/..., <path>/syncx/...). Unset: "/" + the other profile's name
  // (so by default "/go_canonical_v1" serves clients of go-oversync 1f1118f). "off": only the
  // root profile. Otherwise "/" + [A-Za-z0-9_-] segments. Empty here means off. The second mount
  // has its own connection pool of a fifth of OVERSYNC_DB_POOL_MAX_CONNS (at least 2).
  std::string second_profile_path = "/go_canonical_v1";
};

// Returns the variable's value, or nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Builds the configuration. Empty values count as unset, as in Go.
// Errors: kInvalidArgument with Go's message for bad pool sizes
// ("OVERSYNC_DB_POOL_MAX_CONNS must be a positive integer", ...), a bad PORT or a bad
// OVERSYNCD_WORKER_THREADS, an unknown OVERSYNCD_WIRE_PROFILE or a malformed
// OVERSYNCD_SECOND_PROFILE_PATH.
Result<Config> ConfigFromEnv(const EnvLookup& lookup);

// The connection pool of the second mount (OVERSYNCD_SECOND_PROFILE_PATH): a fifth of
// pool_max_conns, at least 2, so that with Go's default of 50 both pools stay within
// PostgreSQL's default 100 connections; the second mount normally carries the older apps'
// smaller share of the traffic.
int SecondMountPoolSize(const Config& config) noexcept;

}  // namespace oversync::oversyncd

#endif  // OVERSYNC_OVERSYNCD_CONFIG_H_
