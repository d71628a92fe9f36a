// File: oversync/common/logger.h
//
// The logging seam of the libraries: they log only through a Logger the embedding application
// supplies (default: nothing). Messages are pre-formatted; level filtering is the sink's job.
#ifndef OVERSYNC_COMMON_LOGGER_H_
#define OVERSYNC_COMMON_LOGGER_H_

#include <cstdint>
#include <string_view>

namespace oversync {

enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarn, kError };

std::string_view LogLevelName(LogLevel level) noexcept;

// Implementations must be thread-safe: every library thread may log concurrently.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void Log(LogLevel level, std::string_view component, std::string_view message) = 0;
};

// Discards everything. Thread-safe.
class NullLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view, std::string_view) override {}
};

// One line per message on stderr: "<level> <component>: <message>". Thread-safe (one write(2)
// per line).
class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(LogLevel min_level = LogLevel::kInfo) noexcept : min_level_(min_level) {}
  void Log(LogLevel level, std::string_view component, std::string_view message) override;

 private:
  LogLevel min_level_;
};

}  // namespace oversync

#endif  // OVERSYNC_COMMON_LOGGER_H_
