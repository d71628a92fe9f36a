#include "oversync/common/logger.h"

#include <unistd.h>

#include <string>

namespace oversync {

std::string_view LogLevelName(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "INFO";
}

void StderrLogger::Log(LogLevel level, std::string_view component, std::string_view message) {
  if (level < min_level_) return;
  std::string line;
  line.reserve(component.size() + message.size() + 16);
  line += LogLevelName(level);
  line += ' ';
  line += component;
  line += ": ";
  line += message;
  line += '\n';
  // A single write keeps concurrent lines from interleaving; a failed log write is not an error.
  const ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
  (void)written;
}

}  // namespace oversync
