// File: apps/oversyncd/src/log.h
//
// oversyncd's diagnostics: one "oversyncd: ..." line per call on stderr, written with a single
// fwrite so lines from different threads never interleave (stdio locks per call). stdout is kept
// for the startup line that scripts wait for. (Libraries do not log this way; they report
// through oversync::Logger.)
#ifndef OVERSYNC_OVERSYNCD_LOG_H_
#define OVERSYNC_OVERSYNCD_LOG_H_

#include <cstdio>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace oversync::oversyncd {

template <typename... Args>
void Log(fmt::format_string<Args...> format, Args&&... args) {
  std::string line = "oversyncd: ";
  fmt::format_to(std::back_inserter(line), format, std::forward<Args>(args)...);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace oversync::oversyncd

#endif  // OVERSYNC_OVERSYNCD_LOG_H_
