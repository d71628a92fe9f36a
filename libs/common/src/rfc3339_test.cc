// Unit tests for oversync/common/rfc3339.h.
//
// Spec items: protocol.md §2.8 (timestamps are UTC RFC 3339 in Go's RFC3339Nano form: fraction
// trimmed of trailing zeros, up to 9 digits, suffix "Z"; clients MUST parse any RFC 3339
// instant), RFC 3339 §5.6 grammar (date-time, time-offset, 'T'/'Z' case-insensitive per §5.6
// NOTE), and the contract in rfc3339.h (1..9 fraction digits; leap second 60 rejected like Go).
#include "oversync/common/rfc3339.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

namespace oversync {
namespace {

// Deterministic RapidCheck runs: pin the seed unless RC_PARAMS is set by the caller.
[[maybe_unused]] const bool kRapidCheckSeedPinned = [] {
  return ::setenv("RC_PARAMS", "seed=20260322", /*overwrite=*/0) == 0;
}();

using std::chrono::days;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// A UTC instant from calendar fields.
TimePoint At(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0,
             nanoseconds frac = nanoseconds(0)) {
  const std::chrono::sys_days day{std::chrono::year{y} / std::chrono::month{mo} /
                                  std::chrono::day{d}};
  return TimePoint(day) + hours(h) + minutes(mi) + seconds(s) + frac;
}

TimePoint FromNanos(std::int64_t ns) { return TimePoint(nanoseconds(ns)); }

// The last instant TimePoint (int64 nanoseconds since the epoch) can hold.
constexpr std::int64_t kMaxNanos = std::numeric_limits<std::int64_t>::max();

void ExpectParses(std::string_view text, TimePoint expected) {
  SCOPED_TRACE(testing::Message() << "input \"" << text << "\"");
  const Result<TimePoint> r = ParseRfc3339(text);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->time_since_epoch().count(), expected.time_since_epoch().count())
      << FormatRfc3339Nano(*r) << " vs " << FormatRfc3339Nano(expected);
}

void ExpectRejected(std::string_view text) {
  SCOPED_TRACE(testing::Message() << "input \"" << text << "\"");
  const Result<TimePoint> r = ParseRfc3339(text);
  ASSERT_FALSE(r.has_value()) << "parsed as " << FormatRfc3339Nano(*r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// FormatRfc3339Nano (protocol.md §2.8, Go time.RFC3339Nano in UTC)

TEST(FormatRfc3339Nano, SpecExamples) {
  EXPECT_EQ(FormatRfc3339Nano(At(2026, 3, 22, 12)), "2026-03-22T12:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(At(2026, 3, 22, 12, 0, 0, nanoseconds(123456789))),
            "2026-03-22T12:00:00.123456789Z");
}

TEST(FormatRfc3339Nano, Epoch) {
  EXPECT_EQ(FormatRfc3339Nano(TimePoint()), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(FromNanos(1)), "1970-01-01T00:00:00.000000001Z");
}

// No fraction for whole seconds; trailing zeros trimmed; at most 9 digits.
TEST(FormatRfc3339Nano, FractionTrimming) {
  const TimePoint base = At(2026, 3, 22, 12);
  EXPECT_EQ(FormatRfc3339Nano(base + milliseconds(100)), "2026-03-22T12:00:00.1Z");
  EXPECT_EQ(FormatRfc3339Nano(base + milliseconds(120)), "2026-03-22T12:00:00.12Z");
  EXPECT_EQ(FormatRfc3339Nano(base + milliseconds(1)), "2026-03-22T12:00:00.001Z");
  EXPECT_EQ(FormatRfc3339Nano(base + microseconds(100)), "2026-03-22T12:00:00.0001Z");
  EXPECT_EQ(FormatRfc3339Nano(base + microseconds(123456)), "2026-03-22T12:00:00.123456Z");
  EXPECT_EQ(FormatRfc3339Nano(base + nanoseconds(10)), "2026-03-22T12:00:00.00000001Z");
  EXPECT_EQ(FormatRfc3339Nano(base + nanoseconds(1)), "2026-03-22T12:00:00.000000001Z");
  EXPECT_EQ(FormatRfc3339Nano(base + nanoseconds(999999999)),
            "2026-03-22T12:00:00.999999999Z");
  EXPECT_EQ(FormatRfc3339Nano(base + seconds(1)), "2026-03-22T12:00:01Z");
}

TEST(FormatRfc3339Nano, FieldsAndCalendar) {
  EXPECT_EQ(FormatRfc3339Nano(At(2024, 2, 29, 23, 59, 59)), "2024-02-29T23:59:59Z");
  EXPECT_EQ(FormatRfc3339Nano(At(2000, 1, 1, 0, 0, 0)), "2000-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(At(1999, 12, 31, 23, 59, 59, nanoseconds(999999999))),
            "1999-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatRfc3339Nano(At(2026, 1, 2, 3, 4, 5)), "2026-01-02T03:04:05Z");
  // Before the epoch (floor division of days).
  EXPECT_EQ(FormatRfc3339Nano(FromNanos(-1)), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatRfc3339Nano(FromNanos(-1'000'000'000)), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339Nano(At(1900, 3, 1, 6)), "1900-03-01T06:00:00Z");
  // The last representable instant of TimePoint (int64 nanoseconds).
  EXPECT_EQ(FormatRfc3339Nano(FromNanos(kMaxNanos)), "2262-04-11T23:47:16.854775807Z");
}

// ---------------------------------------------------------------------------------------------
// ParseRfc3339: accepted inputs

TEST(ParseRfc3339, SpecExamples) {
  ExpectParses("2026-03-22T12:00:00Z", At(2026, 3, 22, 12));
  ExpectParses("2026-03-22T12:00:00.123456789Z",
               At(2026, 3, 22, 12, 0, 0, nanoseconds(123456789)));
  // PostgreSQL to_jsonb rendering (protocol.md §2.5.2).
  ExpectParses("2026-03-22T12:00:00+00:00", At(2026, 3, 22, 12));
  ExpectParses("1970-01-01T00:00:00Z", TimePoint());
}

// RFC 3339 §5.6 NOTE: 'T' and 'Z' may be lowercase.
TEST(ParseRfc3339, AcceptsLowercaseTAndZ) {
  ExpectParses("2026-03-22t12:00:00Z", At(2026, 3, 22, 12));
  ExpectParses("2026-03-22T12:00:00z", At(2026, 3, 22, 12));
  ExpectParses("2026-03-22t12:00:00z", At(2026, 3, 22, 12));
  ExpectParses("2026-03-22t12:00:00.5z", At(2026, 3, 22, 12, 0, 0, milliseconds(500)));
}

// time-numoffset = ("+" / "-") time-hour ":" time-minute; converted to UTC.
TEST(ParseRfc3339, OffsetsConvertToUtc) {
  ExpectParses("2026-03-22T12:00:00+01:00", At(2026, 3, 22, 11));
  ExpectParses("2026-03-22T12:00:00-01:00", At(2026, 3, 22, 13));
  ExpectParses("2026-03-22T12:00:00-00:30", At(2026, 3, 22, 12, 30));
  ExpectParses("2026-03-22T12:00:00+05:45", At(2026, 3, 22, 6, 15));
  ExpectParses("2026-03-22T12:00:00-00:00", At(2026, 3, 22, 12));
  ExpectParses("2026-03-22T12:00:00+23:59", At(2026, 3, 21, 12, 1));
  ExpectParses("2026-03-22T12:00:00-23:59", At(2026, 3, 23, 11, 59));
  // Crossing day, month and year boundaries.
  ExpectParses("2026-12-31T23:30:00-01:00", At(2027, 1, 1, 0, 30));
  ExpectParses("2027-01-01T00:30:00+01:00", At(2026, 12, 31, 23, 30));
  ExpectParses("2024-03-01T00:00:00+00:01", At(2024, 2, 29, 23, 59));
  // Fraction with an offset.
  ExpectParses("2026-03-22T12:00:00.25+02:00", At(2026, 3, 22, 10, 0, 0, milliseconds(250)));
}

TEST(ParseRfc3339, AcceptsOneToNineFractionDigits) {
  const TimePoint base = At(2026, 3, 22, 12);
  ExpectParses("2026-03-22T12:00:00.1Z", base + milliseconds(100));
  ExpectParses("2026-03-22T12:00:00.12Z", base + milliseconds(120));
  ExpectParses("2026-03-22T12:00:00.123Z", base + milliseconds(123));
  ExpectParses("2026-03-22T12:00:00.1234Z", base + microseconds(123400));
  ExpectParses("2026-03-22T12:00:00.12345Z", base + microseconds(123450));
  ExpectParses("2026-03-22T12:00:00.123456Z", base + microseconds(123456));
  ExpectParses("2026-03-22T12:00:00.1234567Z", base + nanoseconds(123456700));
  ExpectParses("2026-03-22T12:00:00.12345678Z", base + nanoseconds(123456780));
  ExpectParses("2026-03-22T12:00:00.123456789Z", base + nanoseconds(123456789));
  ExpectParses("2026-03-22T12:00:00.000000001Z", base + nanoseconds(1));
  ExpectParses("2026-03-22T12:00:00.0Z", base);
  ExpectParses("2026-03-22T12:00:00.000000000Z", base);
  ExpectParses("2026-03-22T12:00:00.999999999Z", base + nanoseconds(999999999));
  ExpectParses("2026-03-22T12:00:00.100Z", base + milliseconds(100));  // trailing zeros fine
}

TEST(ParseRfc3339, CalendarEdges) {
  ExpectParses("2024-02-29T00:00:00Z", At(2024, 2, 29));  // leap year
  ExpectParses("2000-02-29T00:00:00Z", At(2000, 2, 29));  // 400-year leap year
  ExpectParses("2026-12-31T23:59:59Z", At(2026, 12, 31, 23, 59, 59));
  ExpectParses("2026-04-30T00:00:00Z", At(2026, 4, 30));
  ExpectParses("1969-12-31T23:59:59.999999999Z", FromNanos(-1));
  ExpectParses("2262-04-11T23:47:16.854775807Z", FromNanos(kMaxNanos));
}

// ---------------------------------------------------------------------------------------------
// ParseRfc3339: rejected inputs

TEST(ParseRfc3339, RejectsEmptyAndTruncated) {
  ExpectRejected("");
  ExpectRejected("2026");
  ExpectRejected("2026-03-22");
  ExpectRejected("2026-03-22T12:00");
  ExpectRejected("2026-03-22T12:00:0Z");
  ExpectRejected("Z");
}

TEST(ParseRfc3339, RejectsMissingOffset) {
  ExpectRejected("2026-03-22T12:00:00");
  ExpectRejected("2026-03-22T12:00:00.123");
  ExpectRejected("2026-03-22T12:00:00.123456789");
}

// rfc3339.h: 1..9 fraction digits.
TEST(ParseRfc3339, RejectsBadFractions) {
  ExpectRejected("2026-03-22T12:00:00.1234567891Z");  // 10 digits
  ExpectRejected("2026-03-22T12:00:00.0000000000Z");
  ExpectRejected("2026-03-22T12:00:00.Z");            // no digits
  ExpectRejected("2026-03-22T12:00:00.+01:00");
  ExpectRejected("2026-03-22T12:00:00,5Z");           // comma is not RFC 3339
  ExpectRejected("2026-03-22T12:00:00.5.5Z");
}

TEST(ParseRfc3339, RejectsInvalidDates) {
  ExpectRejected("2026-02-30T00:00:00Z");  // Feb 30
  ExpectRejected("2026-02-29T00:00:00Z");  // not a leap year
  ExpectRejected("2100-02-29T00:00:00Z");  // century, not a leap year
  ExpectRejected("2026-04-31T00:00:00Z");
  ExpectRejected("2026-13-01T00:00:00Z");
  ExpectRejected("2026-00-10T00:00:00Z");
  ExpectRejected("2026-03-00T00:00:00Z");
  ExpectRejected("2026-03-32T00:00:00Z");
}

TEST(ParseRfc3339, RejectsInvalidTimes) {
  ExpectRejected("2026-03-22T24:00:00Z");  // hour 24
  ExpectRejected("2026-03-22T12:60:00Z");
  ExpectRejected("2026-03-22T23:59:60Z");  // leap second (rejected like Go)
  ExpectRejected("2026-03-22T12:00:61Z");
  ExpectRejected("2026-03-22T99:00:00Z");
}

TEST(ParseRfc3339, RejectsMalformedOffsets) {
  ExpectRejected("2026-03-22T12:00:00+0100");
  ExpectRejected("2026-03-22T12:00:00+01");
  ExpectRejected("2026-03-22T12:00:00+1:00");
  ExpectRejected("2026-03-22T12:00:00+01:0");
  ExpectRejected("2026-03-22T12:00:00 +01:00");
  ExpectRejected("2026-03-22T12:00:00+24:00");  // time-hour is 00-23
  ExpectRejected("2026-03-22T12:00:00+01:60");  // time-minute is 00-59
  ExpectRejected("2026-03-22T12:00:00UTC");
  ExpectRejected("2026-03-22T12:00:00GMT+1");
  ExpectRejected("2026-03-22T12:00:00+");
  ExpectRejected("2026-03-22T12:00:00-");
}

TEST(ParseRfc3339, RejectsTrailingJunk) {
  ExpectRejected("2026-03-22T12:00:00Z ");
  ExpectRejected("2026-03-22T12:00:00Zx");
  ExpectRejected("2026-03-22T12:00:00ZZ");
  ExpectRejected("2026-03-22T12:00:00Z\n");
  ExpectRejected("2026-03-22T12:00:00+01:00x");
  ExpectRejected("2026-03-22T12:00:00+01:000");
  ExpectRejected(std::string_view("2026-03-22T12:00:00Z\0", 21));
}

TEST(ParseRfc3339, RejectsOtherShapes) {
  ExpectRejected(" 2026-03-22T12:00:00Z");
  ExpectRejected("2026-03-22 12:00:00Z");  // space separator is not accepted (Go neither)
  ExpectRejected("2026-03-22X12:00:00Z");
  ExpectRejected("2026/03/22T12:00:00Z");
  ExpectRejected("2026-3-22T12:00:00Z");
  ExpectRejected("26-03-22T12:00:00Z");
  ExpectRejected("+2026-03-22T12:00:00Z");
  ExpectRejected("-2026-03-22T12:00:00Z");
  ExpectRejected("20260322T120000Z");
  ExpectRejected("2026-03-22T12-00-00Z");
  ExpectRejected("2026-03-22T1a:00:00Z");
  ExpectRejected("２026-03-22T12:00:00Z");  // non-ASCII digit
}

// TimePoint is int64 nanoseconds (1677-09-21 .. 2262-04-11). Valid RFC 3339 instants outside
// that range must be reported as errors, not wrapped into a wrong instant.
TEST(ParseRfc3339, RejectsInstantsOutsideTimePointRange) {
  ExpectRejected("2262-04-11T23:47:16.854775808Z");  // max + 1 ns
  ExpectRejected("2262-04-11T23:47:17Z");
  ExpectRejected("2262-04-12T00:00:00Z");
  ExpectRejected("9999-12-31T23:59:59.999999999Z");
  ExpectRejected("0000-01-01T00:00:00Z");
  ExpectRejected("1677-09-21T00:12:43.145224191Z");  // min - 1 ns
  // The offset moves an in-range-looking local time out of range.
  ExpectRejected("2262-04-11T23:47:16-00:01");
  // The offset moves an out-of-range-looking local time into range.
  ExpectParses("2262-04-12T00:47:16+01:00", FromNanos(9223372036'000'000'000));
  ExpectParses("1677-09-21T00:12:43.145224192Z",
               FromNanos(std::numeric_limits<std::int64_t>::min()));
}

// ---------------------------------------------------------------------------------------------
// Properties

// A random nanosecond instant from the epoch (1970) to the last TimePoint (2262; year 9999 is not
// representable in TimePoint's int64 nanoseconds).
rc::Gen<std::int64_t> InstantNanos() {
  return rc::gen::oneOf(
      rc::gen::inRange<std::int64_t>(0, kMaxNanos),
      // Whole seconds and whole milliseconds, to exercise the fraction trimming.
      rc::gen::map(rc::gen::inRange<std::int64_t>(0, kMaxNanos / 1'000'000'000),
                   [](std::int64_t s) { return s * 1'000'000'000; }),
      rc::gen::map(rc::gen::inRange<std::int64_t>(0, kMaxNanos / 1'000'000),
                   [](std::int64_t ms) { return ms * 1'000'000; }));
}

// Parse(Format(t)) == t; the text has the RFC3339Nano shape.
RC_GTEST_PROP(Rfc3339Property, FormatParseRoundTrip, ()) {
  const std::int64_t ns = *InstantNanos();
  const TimePoint t = FromNanos(ns);
  const std::string text = FormatRfc3339Nano(t);
  RC_ASSERT(text.size() >= 20U);
  RC_ASSERT(text.back() == 'Z');
  const std::size_t dot = text.find('.');
  if (ns % 1'000'000'000 == 0) {
    RC_ASSERT(dot == std::string::npos);
    RC_ASSERT(text.size() == 20U);
  } else {
    RC_ASSERT(dot == 19U);
    const std::size_t digits = text.size() - 21;
    RC_ASSERT(digits >= 1U);
    RC_ASSERT(digits <= 9U);
    RC_ASSERT(text[text.size() - 2] != '0');
  }
  const Result<TimePoint> back = ParseRfc3339(text);
  RC_ASSERT(back.has_value());
  RC_ASSERT(back->time_since_epoch().count() == ns);
}

// The same instant written with any valid numeric offset parses to the same UTC instant.
RC_GTEST_PROP(Rfc3339Property, OffsetsDenoteTheSameInstant, ()) {
  constexpr std::int64_t kDay = 86'400'000'000'000;
  const std::int64_t ns = *rc::gen::inRange<std::int64_t>(kDay, kMaxNanos - kDay);
  const int offset_minutes = *rc::gen::inRange(-(23 * 60 + 59), 23 * 60 + 59 + 1);
  const TimePoint t = FromNanos(ns);
  std::string text = FormatRfc3339Nano(t + minutes(offset_minutes));
  text.pop_back();  // 'Z'
  const int magnitude = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  text += fmt::format("{}{:02}:{:02}", offset_minutes < 0 ? '-' : '+', magnitude / 60,
                      magnitude % 60);
  const Result<TimePoint> back = ParseRfc3339(text);
  RC_ASSERT(back.has_value());
  RC_ASSERT(back->time_since_epoch().count() == ns);
}

}  // namespace
}  // namespace oversync
