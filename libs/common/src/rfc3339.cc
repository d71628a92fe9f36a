#include "oversync/common/rfc3339.h"

#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace oversync {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// Reads exactly `n` decimal digits at `pos`.
bool ReadDigits(std::string_view text, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > text.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::string FormatRfc3339Nano(TimePoint t) {
  const auto day_point = floor<days>(t);
  const std::chrono::year_month_day ymd{day_point};
  const nanoseconds in_day = t - day_point;
  const auto secs = floor<seconds>(in_day);
  const long long frac = (in_day - secs).count();
  const long long total = secs.count();
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                                total / 3600, total / 60 % 60, total % 60);
  if (frac != 0) {
    std::string digits = fmt::format("{:09}", frac);
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    out += '.';
    out += digits;
  }
  out += 'Z';
  return out;
}

Result<TimePoint> ParseRfc3339(std::string_view text) {
  const auto bad = [&] {
    return Error(ErrorCode::kInvalidArgument, fmt::format("invalid RFC 3339 timestamp {:?}",
                                                          std::string(text)));
  };
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!ReadDigits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' ||
      !ReadDigits(text, 5, 2, month) || text[7] != '-' || !ReadDigits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !ReadDigits(text, 11, 2, hour) || text[13] != ':' ||
      !ReadDigits(text, 14, 2, minute) || text[16] != ':' || !ReadDigits(text, 17, 2, second)) {
    return bad();
  }
  std::size_t pos = 19;
  long long frac_ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t n = 0;
    long long scale = 100000000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n >= 9) return bad();
      frac_ns += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      ++n;
    }
    if (n == 0) return bad();
  }
  int offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    int oh = 0;
    int om = 0;
    if (!ReadDigits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !ReadDigits(text, pos + 4, 2, om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_seconds = sign * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != text.size()) return bad();
  const std::chrono::year_month_day ymd{std::chrono::year(year),
                                        std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  // RFC 3339 allows second 60 (leap second); like Go we reject it.
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) return bad();
  const auto utc = std::chrono::sys_days(ymd) + std::chrono::hours(hour) +
                   std::chrono::minutes(minute) + seconds(second) - seconds(offset_seconds);
  // TimePoint is int64 nanoseconds (1677-09-21T00:12:43.145224192Z ..
  // 2262-04-11T23:47:16.854775807Z); instants outside that range are errors, not wrapped.
  constexpr long long kNanosPerSecond = 1'000'000'000;
  constexpr long long kMaxSeconds = std::numeric_limits<std::int64_t>::max() / kNanosPerSecond;
  constexpr long long kMaxFrac = std::numeric_limits<std::int64_t>::max() % kNanosPerSecond;
  constexpr long long kMinSeconds = std::numeric_limits<std::int64_t>::min() / kNanosPerSecond - 1;
  constexpr long long kMinFrac =
      std::numeric_limits<std::int64_t>::min() % kNanosPerSecond + kNanosPerSecond;
  const long long secs = utc.time_since_epoch().count();
  if (secs > kMaxSeconds || (secs == kMaxSeconds && frac_ns > kMaxFrac) || secs < kMinSeconds ||
      (secs == kMinSeconds && frac_ns < kMinFrac)) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("RFC 3339 timestamp {:?} is outside the representable range",
                             std::string(text)));
  }
  // Negative seconds: add the fraction to (secs + 1) s minus one second, so that no
  // intermediate value leaves the int64 range.
  const long long total = secs < 0 ? (secs + 1) * kNanosPerSecond + (frac_ns - kNanosPerSecond)
                                   : secs * kNanosPerSecond + frac_ns;
  return TimePoint(nanoseconds(total));
}

}  // namespace oversync
