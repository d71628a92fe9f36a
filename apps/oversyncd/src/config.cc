#include "config.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace oversync::oversyncd {
namespace {

std::string_view TrimSpace(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const std::size_t last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

// Go strconv.Atoi: optional sign, decimal digits, int range.
std::optional<int> ParseInt(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

bool EqualsFoldAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

int SecondMountPoolSize(const Config& config) noexcept {
  return std::max(2, config.pool_max_conns / 5);
}

Result<Config> ConfigFromEnv(const EnvLookup& lookup) {
  const auto get = [&lookup](std::string_view name) -> std::string {
    std::optional<std::string> value = lookup(name);
    return value.value_or(std::string());
  };
  Config config;
  config.database_url = get("DATABASE_URL");

  if (const std::string jwt = get("JWT_SECRET"); !jwt.empty()) {
    config.jwt_secret = jwt;
    config.jwt_secret_defaulted = false;
  }

  if (const std::string raw = get("PORT"); !raw.empty()) {
    const std::optional<int> port = ParseInt(TrimSpace(raw));
    if (!port || *port < 0 || *port > std::numeric_limits<std::uint16_t>::max()) {
      return Error(ErrorCode::kInvalidArgument, "PORT must be an integer between 0 and 65535");
    }
    config.port = static_cast<std::uint16_t>(*port);
  }

  if (const std::string raw = get("OVERSYNCD_LISTEN_ADDR"); !raw.empty()) {
    config.listen_address = std::string(TrimSpace(raw));
  }

  // Same rules and messages as Go's configuredPoolSizeFromEnv (server.md A.1).
  if (const std::string raw = get("OVERSYNC_DB_POOL_MAX_CONNS"); !TrimSpace(raw).empty()) {
    const std::optional<int> value = ParseInt(TrimSpace(raw));
    if (!value || *value < 1) {
      return Error(ErrorCode::kInvalidArgument,
                   "OVERSYNC_DB_POOL_MAX_CONNS must be a positive integer");
    }
    config.pool_max_conns = *value;
  }
  if (const std::string raw = get("OVERSYNC_DB_POOL_MIN_CONNS"); !TrimSpace(raw).empty()) {
    const std::optional<int> value = ParseInt(TrimSpace(raw));
    if (!value || *value < 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "OVERSYNC_DB_POOL_MIN_CONNS must be a non-negative integer");
    }
    config.pool_min_conns = *value;
  }
  if (config.pool_min_conns > config.pool_max_conns) {
    return Error(ErrorCode::kInvalidArgument,
                 "OVERSYNC_DB_POOL_MIN_CONNS cannot exceed OVERSYNC_DB_POOL_MAX_CONNS");
  }

  const std::string timings_raw = get("OVERSYNC_LOG_STAGE_TIMINGS");
  const std::string_view timings = TrimSpace(timings_raw);
  config.log_stage_timings =
      timings == "1" || EqualsFoldAscii(timings, "true") || EqualsFoldAscii(timings, "yes");

  if (const std::string raw = get("OVERSYNCD_DATA_DIR"); !raw.empty()) config.data_dir = raw;
  if (const std::string raw = get("OVERSYNCD_WORKER_THREADS"); !TrimSpace(raw).empty()) {
    const std::optional<int> value = ParseInt(TrimSpace(raw));
    if (!value || *value < 1 || *value > 4096) {
      return Error(ErrorCode::kInvalidArgument,
                   "OVERSYNCD_WORKER_THREADS must be an integer between 1 and 4096");
    }
    config.worker_threads = *value;
  }
  if (const std::string raw = get("OVERSYNCD_WIRE_PROFILE"); !TrimSpace(raw).empty()) {
    config.wire_profile = std::string(TrimSpace(raw));
    if (config.wire_profile != "go_canonical_v1" &&
        config.wire_profile != "jcs_uniform_numeric_strings_v1") {
      return Error(ErrorCode::kInvalidArgument,
                   "OVERSYNCD_WIRE_PROFILE must be go_canonical_v1 or "
                   "jcs_uniform_numeric_strings_v1");
    }
  }
  // The default second mount is named after the profile it serves.
  config.second_profile_path = config.wire_profile == "go_canonical_v1"
                                   ? "/jcs_uniform_numeric_strings_v1"
                                   : "/go_canonical_v1";
  if (const std::string raw = get("OVERSYNCD_SECOND_PROFILE_PATH"); TrimSpace(raw) == "off") {
    config.second_profile_path.clear();
  } else if (!TrimSpace(raw).empty()) {
    const std::string path(TrimSpace(raw));
    bool valid = path.size() > 1 && path.front() == '/' && path.back() != '/' &&
                 path.find("//") == std::string::npos;
    for (const char c : path) {
      valid = valid && (c == '/' || c == '_' || c == '-' || (c >= '0' && c <= '9') ||
                        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    }
    if (!valid || path == "/sync" || path == "/syncx" || path == "/test") {
      return Error(ErrorCode::kInvalidArgument,
                   "OVERSYNCD_SECOND_PROFILE_PATH must be \"off\" or a path like /b (letters, "
                   "digits, _ and - between slashes) that is not /sync, /syncx or /test");
    }
    config.second_profile_path = path;
  }
  return config;
}

}  // namespace oversync::oversyncd
