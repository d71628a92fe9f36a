#include "oversync/http/url.h"

#include <gtest/gtest.h>

namespace oversync::http {
namespace {

TEST(PercentDecodeTest, PathModeKeepsPlus) {
  EXPECT_EQ(PercentDecode("a+b%20c", DecodeMode::kPath), "a+b c");
  EXPECT_EQ(PercentDecode("%2f%2F", DecodeMode::kPath), "//");
}

TEST(PercentDecodeTest, QueryModeDecodesPlusAsSpace) {
  EXPECT_EQ(PercentDecode("a+b%2Bc", DecodeMode::kQuery), "a b+c");
}

TEST(PercentDecodeTest, RejectsInvalidEscapes) {
  EXPECT_FALSE(PercentDecode("%", DecodeMode::kPath).has_value());
  EXPECT_FALSE(PercentDecode("%2", DecodeMode::kPath).has_value());
  EXPECT_FALSE(PercentDecode("%zz", DecodeMode::kQuery).has_value());
  EXPECT_FALSE(PercentDecode("ab%g0", DecodeMode::kQuery).has_value());
}

TEST(PercentDecodeTest, DecodesNonAsciiBytes) {
  EXPECT_EQ(PercentDecode("%C3%A9", DecodeMode::kPath), "\xC3\xA9");
  EXPECT_EQ(PercentDecode("%00", DecodeMode::kPath), std::string(1, '\0'));
}

TEST(CollapseSlashesTest, CollapsesRuns) {
  EXPECT_EQ(CollapseSlashes("//sync//pull"), "/sync/pull");
  EXPECT_EQ(CollapseSlashes("/a/b/"), "/a/b/");
  EXPECT_EQ(CollapseSlashes("///"), "/");
  EXPECT_EQ(CollapseSlashes(""), "");
  EXPECT_EQ(CollapseSlashes("/a/./b"), "/a/./b");  // dot segments are kept
}

TEST(ParseQueryTest, SplitsAndDecodes) {
  const QueryParams params = ParseQuery("a=1&b=x+y&c=%41%2b&a=2");
  ASSERT_EQ(params.size(), 4U);
  EXPECT_EQ(params[0], (std::pair<std::string, std::string>("a", "1")));
  EXPECT_EQ(params[1], (std::pair<std::string, std::string>("b", "x y")));
  EXPECT_EQ(params[2], (std::pair<std::string, std::string>("c", "A+")));
  EXPECT_EQ(params[3], (std::pair<std::string, std::string>("a", "2")));
}

TEST(ParseQueryTest, FirstOccurrenceWins) {
  const QueryParams params = ParseQuery("max_rows=10&max_rows=20");
  EXPECT_EQ(FirstQueryValue(params, "max_rows"), "10");
  EXPECT_FALSE(FirstQueryValue(params, "MAX_ROWS").has_value());  // names are case-sensitive
  EXPECT_FALSE(FirstQueryValue(params, "absent").has_value());
}

TEST(ParseQueryTest, EmptyValuesAndKeysWithoutEquals) {
  const QueryParams params = ParseQuery("max_rows=&flag&=v");
  ASSERT_EQ(params.size(), 3U);
  EXPECT_EQ(FirstQueryValue(params, "max_rows"), "");
  EXPECT_EQ(FirstQueryValue(params, "flag"), "");
  EXPECT_EQ(FirstQueryValue(params, ""), "v");
}

TEST(ParseQueryTest, SkipsEmptyPairsSemicolonsAndBadEscapes) {
  const QueryParams params = ParseQuery("&&a=1&b=%zz&c=1;d=2&e=%207&&");
  ASSERT_EQ(params.size(), 2U);
  EXPECT_EQ(FirstQueryValue(params, "a"), "1");
  EXPECT_FALSE(FirstQueryValue(params, "b").has_value());
  EXPECT_FALSE(FirstQueryValue(params, "c").has_value());
  EXPECT_EQ(FirstQueryValue(params, "e"), " 7");  // no trimming (protocol.md §1.1)
}

TEST(ParseQueryTest, EmptyInput) { EXPECT_TRUE(ParseQuery("").empty()); }

}  // namespace
}  // namespace oversync::http
