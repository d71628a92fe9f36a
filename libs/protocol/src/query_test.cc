// Unit tests for query.h: Go's query-parameter rules (protocol.md §1.1) and the per-endpoint
// parsers and range checks of protocol.md §3.6, §3.7, §3.8 and §3.10 with their §5 messages.
#include "oversync/protocol/query.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace oversync::protocol {
namespace {

// protocol.md §6 defaults.
constexpr std::int64_t kDefaultMaxBundles = 1000;
constexpr std::int64_t kMaxBundlesLimit = 5000;
constexpr std::int64_t kDefaultRows = 1000;
constexpr std::int64_t kMaxRows = 5000;

testing::AssertionResult IsError(const Status& status, ErrorCode code, std::string_view message) {
  if (status.ok()) return testing::AssertionFailure() << "expected an error, got OK";
  if (status.code() != code || status.message() != message) {
    return testing::AssertionFailure() << "got " << status.ToString() << ", expected "
                                       << ErrorInfoFor(code).wire_name << ": " << message;
  }
  return testing::AssertionSuccess();
}

template <typename T>
testing::AssertionResult IsError(const Result<T>& result, ErrorCode code,
                                 std::string_view message) {
  if (result.has_value()) return testing::AssertionFailure() << "expected an error, got a value";
  return IsError(result.error(), code, message);
}

// ---- ParseGoInt64: strconv.ParseInt(s, 10, 64) (protocol.md §1.1) -----------------------------

TEST(ParseGoInt64Test, AcceptsBase10WithOptionalSign) {
  // protocol.md §1.1: base-10 signed 64-bit with an optional leading +/-.
  EXPECT_EQ(ParseGoInt64("0"), 0);
  EXPECT_EQ(ParseGoInt64("7"), 7);
  EXPECT_EQ(ParseGoInt64("+7"), 7);
  EXPECT_EQ(ParseGoInt64("-7"), -7);
  EXPECT_EQ(ParseGoInt64("+0"), 0);
  EXPECT_EQ(ParseGoInt64("-0"), 0);
  EXPECT_EQ(ParseGoInt64("007"), 7);  // Go accepts leading zeros
  EXPECT_EQ(ParseGoInt64("-007"), -7);
  EXPECT_EQ(ParseGoInt64("00000000000000000000000000000000000001"), 1);
  EXPECT_EQ(ParseGoInt64("1234567890"), 1234567890);
}

TEST(ParseGoInt64Test, Int64Limits) {
  // protocol.md §1.1: int64 range; -9223372036854775808 is representable.
  EXPECT_EQ(ParseGoInt64("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseGoInt64("+9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseGoInt64("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(ParseGoInt64("-9223372036854775807"), INT64_MIN + 1);
}

TEST(ParseGoInt64Test, RejectsOverflow) {
  // strconv.ParseInt returns ErrRange beyond int64.
  for (const std::string_view s :
       {"9223372036854775808", "+9223372036854775808", "-9223372036854775809",
        "18446744073709551615", "18446744073709551616", "-18446744073709551616",
        "99999999999999999999999999"}) {
    EXPECT_EQ(ParseGoInt64(s), std::nullopt) << s;
  }
}

TEST(ParseGoInt64Test, RejectsEverythingElse) {
  // protocol.md §1.1: no whitespace trimming (?after_row_ordinal=%207 is invalid), no
  // underscores, no hex, no empty value, signs only once and only in front.
  for (const std::string_view s : std::initializer_list<std::string_view>{
           "",     "+",   "-",   " 7",  "7 ",  "\t7", "7\n", "1_000",    "0x10",
           "0X10", "0b1", "0o7", "1e3", "1.0", "1.",  ".5",  "++1",      "--1",
           "+-1",  "-+1", "1-",  "1+",  "abc", "7a",  "a7",  "\xd9\xa1", std::string_view("1\0", 2),
           "٣"}) {
    EXPECT_EQ(ParseGoInt64(s), std::nullopt) << "'" << s << "'";
  }
}

// ---- FirstQueryValue (protocol.md §1.1) -------------------------------------------------------

TEST(FirstQueryValueTest, FirstOccurrenceWins) {
  // protocol.md §1.1: only the first occurrence of a repeated parameter is used.
  const QueryParams params = {{"max_rows", "10"}, {"after_row_ordinal", "3"}, {"max_rows", "20"}};
  EXPECT_EQ(FirstQueryValue(params, "max_rows"), std::optional<std::string_view>("10"));
  EXPECT_EQ(FirstQueryValue(params, "after_row_ordinal"), std::optional<std::string_view>("3"));
}

TEST(FirstQueryValueTest, EmptyValueIsAbsent) {
  // protocol.md §1.1: an empty value (?max_rows=) is treated exactly like an absent parameter;
  // Go's Query().Get returns the (empty) first value, so a later non-empty value is not used.
  EXPECT_EQ(FirstQueryValue({{"max_rows", ""}}, "max_rows"), std::nullopt);
  EXPECT_EQ(FirstQueryValue({{"max_rows", ""}, {"max_rows", "5"}}, "max_rows"), std::nullopt);
  EXPECT_EQ(FirstQueryValue({}, "max_rows"), std::nullopt);
}

TEST(FirstQueryValueTest, NamesAreCaseSensitiveAndExact) {
  // protocol.md §1.1 (Go url.Values): names are an exact map lookup; values are not trimmed.
  const QueryParams params = {{"Max_Rows", "1"}, {"max_rows ", "2"}, {"max_rowsx", "3"}};
  EXPECT_EQ(FirstQueryValue(params, "max_rows"), std::nullopt);
  // The value is returned verbatim (no trimming).
  EXPECT_EQ(FirstQueryValue({{"max_rows", " 7 "}}, "max_rows"),
            std::optional<std::string_view>(" 7 "));
}

// ---- ParsePullQuery (protocol.md §3.7; messages §5 invalid_request) ----------------------------

Result<PullQuery> Pull(const QueryParams& params) {
  return ParsePullQuery(params, kDefaultMaxBundles, kMaxBundlesLimit);
}

TEST(ParsePullQueryTest, Defaults) {
  // protocol.md §3.7: after_bundle_seq 0, max_bundles 1000, target_bundle_seq 0 (none).
  for (const QueryParams& params :
       {QueryParams{},
        QueryParams{{"after_bundle_seq", ""}, {"max_bundles", ""}, {"target_bundle_seq", ""}},
        QueryParams{{"other", "x"}}}) {
    auto q = Pull(params);
    ASSERT_TRUE(q.has_value()) << q.error().ToString();
    EXPECT_EQ(q->after_bundle_seq, 0);
    EXPECT_EQ(q->max_bundles, kDefaultMaxBundles);
    EXPECT_EQ(q->target_bundle_seq, 0);
  }
  auto q = ParsePullQuery({}, 77, kMaxBundlesLimit);
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->max_bundles, 77);
}

TEST(ParsePullQueryTest, ParsesValues) {
  // protocol.md §3.7 query table.
  auto q =
      Pull({{"after_bundle_seq", "12"}, {"max_bundles", "5000"}, {"target_bundle_seq", "+156"}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->after_bundle_seq, 12);
  EXPECT_EQ(q->max_bundles, 5000);
  EXPECT_EQ(q->target_bundle_seq, 156);
  q = Pull({{"after_bundle_seq", "0"},
            {"max_bundles", "1"},
            {"target_bundle_seq", "0"},
            {"after_bundle_seq", "-5"}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->after_bundle_seq, 0);
  EXPECT_EQ(q->max_bundles, 1);
  EXPECT_EQ(q->target_bundle_seq, 0);
  q = Pull({{"after_bundle_seq", "9223372036854775807"}, {"target_bundle_seq", "-0"}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->after_bundle_seq, INT64_MAX);
  EXPECT_EQ(q->target_bundle_seq, 0);
}

TEST(ParsePullQueryTest, AfterBundleSeqErrors) {
  // protocol.md §3.7 / §5 invalid_request.
  const ErrorCode code = ErrorCode::kInvalidRequest;
  for (const char* bad :
       {"abc", " 1", "1 ", "1.0", "1e2", "0x1", "1_0", "+", "9223372036854775808"}) {
    EXPECT_TRUE(
        IsError(Pull({{"after_bundle_seq", bad}}), code, "after_bundle_seq must be an integer"))
        << bad;
  }
  for (const char* bad : {"-1", "-9223372036854775808"}) {
    EXPECT_TRUE(IsError(Pull({{"after_bundle_seq", bad}}), code, "after_bundle_seq must be >= 0"))
        << bad;
  }
}

TEST(ParsePullQueryTest, MaxBundlesErrors) {
  // protocol.md §3.7 / §5: "max_bundles must be an integer", "max_bundles must be between 1 and
  // 5000".
  const ErrorCode code = ErrorCode::kInvalidRequest;
  for (const char* bad : {"x", "10.5", " 10", "1e3", "99999999999999999999"}) {
    EXPECT_TRUE(IsError(Pull({{"max_bundles", bad}}), code, "max_bundles must be an integer"))
        << bad;
  }
  for (const char* bad : {"0", "-1", "5001", "-0", "9223372036854775807"}) {
    EXPECT_TRUE(
        IsError(Pull({{"max_bundles", bad}}), code, "max_bundles must be between 1 and 5000"))
        << bad;
  }
  // The limit in the message is the configured one.
  EXPECT_TRUE(IsError(ParsePullQuery({{"max_bundles", "11"}}, 10, 10), code,
                      "max_bundles must be between 1 and 10"));
}

TEST(ParsePullQueryTest, TargetBundleSeqErrors) {
  // protocol.md §3.7: target_bundle_seq integer and >= 0, else 400 invalid_request.
  const ErrorCode code = ErrorCode::kInvalidRequest;
  for (const char* bad : {"x", "1.5", "1 "}) {
    EXPECT_TRUE(
        IsError(Pull({{"target_bundle_seq", bad}}), code, "target_bundle_seq must be an integer"))
        << bad;
  }
  EXPECT_TRUE(IsError(Pull({{"target_bundle_seq", "-1"}}), code, "target_bundle_seq must be >= 0"));
}

TEST(ParsePullQueryTest, ChecksRunInGoOrder) {
  // Go HandlePull: after_bundle_seq (parse, range), then max_bundles, then target_bundle_seq.
  const ErrorCode code = ErrorCode::kInvalidRequest;
  EXPECT_TRUE(
      IsError(Pull({{"target_bundle_seq", "x"}, {"max_bundles", "x"}, {"after_bundle_seq", "-1"}}),
              code, "after_bundle_seq must be >= 0"));
  EXPECT_TRUE(IsError(Pull({{"target_bundle_seq", "x"}, {"max_bundles", "0"}}), code,
                      "max_bundles must be between 1 and 5000"));
  EXPECT_TRUE(IsError(Pull({{"target_bundle_seq", "-1"}, {"max_bundles", "y"}}), code,
                      "max_bundles must be an integer"));
}

TEST(ParsePullQueryTest, FirstOccurrenceWins) {
  // protocol.md §1.1: only the first occurrence counts; a later valid value does not rescue an
  // invalid first one and vice versa.
  auto q = Pull({{"max_bundles", "10"}, {"max_bundles", "x"}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->max_bundles, 10);
  EXPECT_TRUE(IsError(Pull({{"max_bundles", "x"}, {"max_bundles", "10"}}),
                      ErrorCode::kInvalidRequest, "max_bundles must be an integer"));
  q = Pull({{"max_bundles", ""}, {"max_bundles", "x"}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->max_bundles, kDefaultMaxBundles);
}

// ---- ParseWatchAfterBundleSeq (protocol.md §3.8) ------------------------------------------------

TEST(ParseWatchAfterBundleSeqTest, DefaultAndValues) {
  // protocol.md §3.8: after_bundle_seq int64 >= 0, default 0.
  auto v = ParseWatchAfterBundleSeq({});
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_EQ(*v, 0);
  v = ParseWatchAfterBundleSeq({{"after_bundle_seq", ""}});
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_EQ(*v, 0);
  v = ParseWatchAfterBundleSeq({{"after_bundle_seq", "123"}, {"after_bundle_seq", "x"}});
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_EQ(*v, 123);
  v = ParseWatchAfterBundleSeq({{"after_bundle_seq", "+0"}});
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_EQ(*v, 0);
}

TEST(ParseWatchAfterBundleSeqTest, Errors) {
  // protocol.md §3.8: parse/negative -> 400 invalid_request.
  const ErrorCode code = ErrorCode::kInvalidRequest;
  for (const char* bad : {"x", " 1", "1.0", "0x1"}) {
    EXPECT_TRUE(IsError(ParseWatchAfterBundleSeq({{"after_bundle_seq", bad}}), code,
                        "after_bundle_seq must be an integer"))
        << bad;
  }
  EXPECT_TRUE(IsError(ParseWatchAfterBundleSeq({{"after_bundle_seq", "-1"}}), code,
                      "after_bundle_seq must be >= 0"));
}

// ---- committed bundle rows (protocol.md §3.6)
// ----------------------------------------------------

Result<CommittedBundleRowsQuery> Rows(std::string_view bundle_seq, const QueryParams& params) {
  return ParseCommittedBundleRowsQuery(bundle_seq, params, kDefaultRows, kMaxRows);
}

TEST(CommittedBundleRowsQueryTest, Defaults) {
  // protocol.md §3.6: after_row_ordinal absent (start at row 0), max_rows default 1000.
  auto q = Rows("143", {});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->bundle_seq, 143);
  EXPECT_FALSE(q->after_row_ordinal.has_value());
  EXPECT_EQ(q->max_rows, kDefaultRows);
  EXPECT_TRUE(ValidateCommittedBundleRowsQuery(*q).ok());
}

TEST(CommittedBundleRowsQueryTest, AbsentVersusPresentAfterRowOrdinal) {
  // protocol.md §3.6: absent -> start at row 0; present N (even 0) -> rows with ordinal > N.
  auto q = Rows("1", {{"after_row_ordinal", ""}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_FALSE(q->after_row_ordinal.has_value());
  q = Rows("1", {{"after_row_ordinal", "0"}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  ASSERT_TRUE(q->after_row_ordinal.has_value());
  EXPECT_EQ(*q->after_row_ordinal, 0);
  q = Rows("1", {{"after_row_ordinal", "41"}, {"after_row_ordinal", "7"}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  ASSERT_TRUE(q->after_row_ordinal.has_value());
  EXPECT_EQ(*q->after_row_ordinal, 41);
}

TEST(CommittedBundleRowsQueryTest, MaxRowsClampedToLimit) {
  // protocol.md §3.6: values above max_rows_per_committed_bundle_chunk (5000) are silently
  // clamped.
  for (const auto& [text, want] : {std::pair<const char*, std::int64_t>{"1", 1},
                                   {"4999", 4999},
                                   {"5000", 5000},
                                   {"5001", 5000},
                                   {"9223372036854775807", 5000}}) {
    auto q = Rows("1", {{"max_rows", text}});
    ASSERT_TRUE(q.has_value()) << q.error().ToString();
    EXPECT_EQ(q->max_rows, want) << text;
    EXPECT_TRUE(ValidateCommittedBundleRowsQuery(*q).ok()) << text;
  }
  // A configured default above the limit is clamped too (Go clamps after choosing the value).
  auto q = ParseCommittedBundleRowsQuery("1", {}, 6000, kMaxRows);
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->max_rows, kMaxRows);
}

TEST(CommittedBundleRowsQueryTest, ParseErrors) {
  // protocol.md §3.6 steps 1-2 (before the shutdown check): 400 committed_bundle_chunk_invalid.
  const ErrorCode code = ErrorCode::kCommittedBundleChunkInvalid;
  for (const char* bad : {"", "x", " 1", "1 ", "1.0", "0x1", "1_0", "9223372036854775808"}) {
    EXPECT_TRUE(IsError(Rows(bad, {}), code, "bundle_seq must be an integer")) << "'" << bad << "'";
  }
  for (const char* bad : {"x", " 7", "%207", "1.5", "-"}) {
    EXPECT_TRUE(IsError(Rows("1", {{"after_row_ordinal", bad}}), code,
                        "after_row_ordinal must be an integer"))
        << bad;
    EXPECT_TRUE(IsError(Rows("1", {{"max_rows", bad}}), code, "max_rows must be an integer"))
        << bad;
  }
  // Order: bundle_seq, then after_row_ordinal, then max_rows.
  EXPECT_TRUE(IsError(Rows("x", {{"after_row_ordinal", "x"}, {"max_rows", "x"}}), code,
                      "bundle_seq must be an integer"));
  EXPECT_TRUE(IsError(Rows("1", {{"max_rows", "x"}, {"after_row_ordinal", "x"}}), code,
                      "after_row_ordinal must be an integer"));
}

TEST(CommittedBundleRowsQueryTest, RangeErrorsAreSeparateFromParsing) {
  // protocol.md §3.6 step 4 (after the shutdown check): bundle_seq <= 0, after_row_ordinal < 0,
  // max_rows <= 0, in that order.
  const ErrorCode code = ErrorCode::kCommittedBundleChunkInvalid;
  auto q = Rows("0", {{"after_row_ordinal", "-1"}, {"max_rows", "0"}});
  ASSERT_TRUE(q.has_value()) << "range problems are not parse errors: " << q.error().ToString();
  EXPECT_TRUE(IsError(ValidateCommittedBundleRowsQuery(*q), code, "bundle_seq must be > 0"));
  q = Rows("-3", {});
  ASSERT_TRUE(q.has_value());
  EXPECT_TRUE(IsError(ValidateCommittedBundleRowsQuery(*q), code, "bundle_seq must be > 0"));
  q = Rows("1", {{"after_row_ordinal", "-1"}, {"max_rows", "0"}});
  ASSERT_TRUE(q.has_value());
  EXPECT_TRUE(
      IsError(ValidateCommittedBundleRowsQuery(*q), code, "after_row_ordinal must be >= 0"));
  for (const char* bad : {"0", "-1", "-0", "-9223372036854775808"}) {
    q = Rows("1", {{"max_rows", bad}});
    ASSERT_TRUE(q.has_value()) << bad;
    EXPECT_TRUE(IsError(ValidateCommittedBundleRowsQuery(*q), code, "max_rows must be > 0")) << bad;
  }
  q = Rows("1", {{"after_row_ordinal", "0"}, {"max_rows", "1"}});
  ASSERT_TRUE(q.has_value());
  EXPECT_TRUE(ValidateCommittedBundleRowsQuery(*q).ok());
}

// ---- snapshot chunk (protocol.md §3.10) ------------------------------------------------------

Result<SnapshotChunkQuery> Snap(const QueryParams& params) {
  return ParseSnapshotChunkQuery(params, kDefaultRows, kMaxRows);
}

TEST(SnapshotChunkQueryTest, DefaultsAndClamping) {
  // protocol.md §3.10: after_row_ordinal default 0, max_rows default 1000 clamped to 5000.
  auto q = Snap({});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->after_row_ordinal, 0);
  EXPECT_EQ(q->max_rows, kDefaultRows);
  q = Snap({{"after_row_ordinal", "124"}, {"max_rows", "5001"}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->after_row_ordinal, 124);
  EXPECT_EQ(q->max_rows, kMaxRows);
  q = Snap({{"after_row_ordinal", ""}, {"max_rows", ""}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->after_row_ordinal, 0);
  EXPECT_EQ(q->max_rows, kDefaultRows);
  q = Snap({{"max_rows", "3"}, {"max_rows", "4"}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->max_rows, 3);
  q = ParseSnapshotChunkQuery({}, 7000, kMaxRows);
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->max_rows, kMaxRows);
}

TEST(SnapshotChunkQueryTest, ParseErrors) {
  // protocol.md §3.10: "after_row_ordinal must be an integer" / "max_rows must be an integer",
  // 400 snapshot_chunk_invalid, after_row_ordinal first.
  const ErrorCode code = ErrorCode::kSnapshotChunkInvalid;
  for (const char* bad : {"x", " 1", "1.0", "0x10", "1_0", "99999999999999999999"}) {
    EXPECT_TRUE(
        IsError(Snap({{"after_row_ordinal", bad}}), code, "after_row_ordinal must be an integer"))
        << bad;
    EXPECT_TRUE(IsError(Snap({{"max_rows", bad}}), code, "max_rows must be an integer")) << bad;
  }
  EXPECT_TRUE(IsError(Snap({{"max_rows", "x"}, {"after_row_ordinal", "y"}}), code,
                      "after_row_ordinal must be an integer"));
}

TEST(SnapshotChunkQueryTest, ValidateMessagesInOrder) {
  // protocol.md §3.10: empty id -> "snapshot_id must be provided"; after_row_ordinal < 0 ->
  // "after_row_ordinal must be >= 0"; max_rows <= 0 -> "max_rows must be > 0".
  const ErrorCode code = ErrorCode::kSnapshotChunkInvalid;
  auto q = Snap({{"after_row_ordinal", "-1"}, {"max_rows", "0"}});
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_TRUE(IsError(ValidateSnapshotChunkQuery("", *q), code, "snapshot_id must be provided"));
  EXPECT_TRUE(IsError(ValidateSnapshotChunkQuery("s", *q), code, "after_row_ordinal must be >= 0"));
  q = Snap({{"max_rows", "0"}});
  ASSERT_TRUE(q.has_value());
  EXPECT_TRUE(IsError(ValidateSnapshotChunkQuery("s", *q), code, "max_rows must be > 0"));
  q = Snap({{"max_rows", "-5"}});
  ASSERT_TRUE(q.has_value());
  EXPECT_TRUE(IsError(ValidateSnapshotChunkQuery("s", *q), code, "max_rows must be > 0"));
  q = Snap({{"after_row_ordinal", "0"}, {"max_rows", "1"}});
  ASSERT_TRUE(q.has_value());
  EXPECT_TRUE(ValidateSnapshotChunkQuery("2f2d3f7a-1b2c-4d3e-8f4a-5b6c7d8e9f01", *q).ok());
  // Any non-empty id passes here; an unknown or malformed id is the lookup's business (404/500).
  EXPECT_TRUE(ValidateSnapshotChunkQuery("not-a-uuid", *q).ok());
}

}  // namespace
}  // namespace oversync::protocol
