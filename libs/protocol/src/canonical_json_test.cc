// Go canonical JSON (protocol.md §2.6) and the bundle hash inputs it feeds (§2.7).
#include "oversync/protocol/canonical_json.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "oversync/protocol/json_writer.h"

namespace oversync::protocol {
namespace {

std::string Canon(std::string_view text) {
  auto r = CanonicalizeGo(text);
  EXPECT_TRUE(r.has_value()) << text << ": " << r.error().ToString();
  return r.value_or("<error>");
}

std::string GoFloat(double x) {
  std::string out;
  AppendGoFloat(x, out);
  return out;
}

// protocol.md §2.6 number rules; values cross-checked with Go's encoding/json
// (cpp-stack.md §2.4 lists 1e20, 1e21, 1e-6, 1e-7, 12.5, 3).
TEST(GoFloatTest, MatchesGoEncodingJsonRules) {
  EXPECT_EQ(GoFloat(0.0), "0");
  EXPECT_EQ(GoFloat(-0.0), "-0");
  EXPECT_EQ(GoFloat(1), "1");
  EXPECT_EQ(GoFloat(3.0), "3");
  EXPECT_EQ(GoFloat(12.5), "12.5");
  EXPECT_EQ(GoFloat(1.5), "1.5");
  EXPECT_EQ(GoFloat(1e20), "100000000000000000000");
  EXPECT_EQ(GoFloat(1e21), "1e+21");
  EXPECT_EQ(GoFloat(1.2345e25), "1.2345e+25");
  EXPECT_EQ(GoFloat(1e-6), "0.000001");
  EXPECT_EQ(GoFloat(1e-7), "1e-7");
  EXPECT_EQ(GoFloat(2.5e-8), "2.5e-8");
  EXPECT_EQ(GoFloat(1e-10), "1e-10");
  EXPECT_EQ(GoFloat(-1e-7), "-1e-7");
  EXPECT_EQ(GoFloat(9007199254740993.0), "9007199254740992");
  EXPECT_EQ(GoFloat(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(GoFloat(5e-324), "5e-324");
  EXPECT_EQ(GoFloat(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(GoFloat(123456789012345680000.0), "123456789012345680000");
  EXPECT_EQ(GoFloat(999999999999999900000.0), "999999999999999900000");
}

TEST(GoQuotedTest, EscapesLikeGoWithHtmlEscaping) {
  const auto q = [](std::string_view s) {
    std::string out;
    AppendGoQuoted(s, out);
    return out;
  };
  EXPECT_EQ(q("plain"), "\"plain\"");
  EXPECT_EQ(q("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(q("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
  EXPECT_EQ(q(std::string_view("\x00\x01\x1f", 3)), "\"\\u0000\\u0001\\u001f\"");
  EXPECT_EQ(q("<>&"), "\"\\u003c\\u003e\\u0026\"");
  EXPECT_EQ(q("/ \x7f"), "\"/ \x7f\"");                   // slash and DEL raw
  EXPECT_EQ(q("\xe2\x80\xa8\xe2\x80\xa9"), "\"\\u2028\\u2029\"");
  EXPECT_EQ(q("h\xc3\xa9 \xf0\x9f\x98\x80"), "\"h\xc3\xa9 \xf0\x9f\x98\x80\"");  // raw UTF-8
  EXPECT_EQ(q("\xff"), "\"\\ufffd\"");                     // invalid byte
  EXPECT_EQ(q("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // UTF-8 encoded surrogate
}

TEST(CanonicalizeGoTest, SortsKeysByBytesAndDropsWhitespace) {
  EXPECT_EQ(Canon(R"( { "b" : 1 , "a" : [ true , false , null ] , "A" : {} } )"),
            R"({"A":{},"a":[true,false,null],"b":1})");
  // Keys sort by raw UTF-8 bytes: "Z" < "a" < "é" (0xC3) < "😀" (0xF0).
  EXPECT_EQ(Canon("{\"\xf0\x9f\x98\x80\":1,\"\xc3\xa9\":2,\"a\":3,\"Z\":4}"),
            "{\"Z\":4,\"a\":3,\"\xc3\xa9\":2,\"\xf0\x9f\x98\x80\":1}");
}

TEST(CanonicalizeGoTest, DuplicateKeysLastWins) {
  EXPECT_EQ(Canon(R"({"a":1,"b":2,"a":3})"), R"({"a":3,"b":2})");
}

TEST(CanonicalizeGoTest, NumbersAreDoubleNormalized) {
  // protocol.md §2.5.3 examples.
  EXPECT_EQ(Canon("[1.50, 9007199254740993, 0.0000001, 1e21, 1E5, -0, -0.0, 1e-400, 100]"),
            "[1.5,9007199254740992,1e-7,1e+21,100000,-0,-0,0,100]");
  EXPECT_EQ(Canon("123456789012345678901234567890"), "1.2345678901234568e+29");
  EXPECT_EQ(Canon("-1e-400"), "-0");
}

TEST(CanonicalizeGoTest, InvalidUtf8AndLoneSurrogatesBecomeReplacementCharacter) {
  // Go's decoder replaces each invalid byte with U+FFFD; the encoder writes it raw.
  EXPECT_EQ(Canon("\"a\xff" "b\""), "\"a\xef\xbf\xbd" "b\"");
  EXPECT_EQ(Canon("\"\xe2\x82\""), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  EXPECT_EQ(Canon(R"("\ud800")"), "\"\xef\xbf\xbd\"");
  EXPECT_EQ(Canon(R"("\udc00\ud800")"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  EXPECT_EQ(Canon(R"("\ud800\u0041")"), "\"\xef\xbf\xbd" "A\"");
  EXPECT_EQ(Canon(R"("\ud83d\ude00")"), "\"\xf0\x9f\x98\x80\"");
  EXPECT_EQ(Canon(R"("\\ud800")"), R"("\\ud800")");  // an escaped backslash, not an escape
  // Keys are strings too.
  EXPECT_EQ(Canon("{\"\xff\":1}"), "{\"\xef\xbf\xbd\":1}");
}

TEST(CanonicalizeGoTest, EscapesAreReEncodedTheGoWay) {
  EXPECT_EQ(Canon(R"("\u003c\/\u00e9\u2028")"), "\"\\u003c/\xc3\xa9\\u2028\"");
}

TEST(CanonicalizeGoTest, RejectsWhatGoRejects) {
  for (const char* bad : {"", " ", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", ".5", "+1", "1e",
                          "1e400", "-1e400", "tru", "nul", "\"a\tb\"", "{} {}", "[1] x", "'a'",
                          "{\"a\" 1}", "\"\\x\"", "\"\\u12\"", "NaN", "Infinity", "\xff"}) {
    EXPECT_FALSE(CanonicalizeGo(bad).has_value()) << "accepted: " << bad;
  }
}

TEST(CanonicalizeGoTest, NestingLimit) {
  std::string deep(static_cast<std::size_t>(kMaxJsonDepth), '[');
  deep += std::string(static_cast<std::size_t>(kMaxJsonDepth), ']');
  EXPECT_TRUE(CanonicalizeGo(deep).has_value());
  const std::string too_deep = "[" + deep + "]";
  EXPECT_FALSE(CanonicalizeGo(too_deep).has_value());
}

// Property: any finite double survives render -> parse exactly, and the rendering is stable.
RC_GTEST_PROP(GoFloatProperty, RoundTripsEveryFiniteDouble, (std::uint64_t bits)) {
  double x = 0;
  std::memcpy(&x, &bits, sizeof x);
  RC_PRE(std::isfinite(x));
  const std::string text = GoFloat(x);
  auto parsed = ParseJsonNumberLexeme(text);
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(std::memcmp(&*parsed, &x, sizeof x) == 0);
  // Canonical form is a fixed point.
  auto again = CanonicalizeGo(text);
  RC_ASSERT(again.has_value());
  RC_ASSERT(*again == text);
  // Exponent form exactly outside [1e-6, 1e21).
  const double m = std::fabs(x);
  const bool has_exponent = text.find('e') != std::string::npos;
  RC_ASSERT(has_exponent == (m != 0 && (m < 1e-6 || m >= 1e21)));
  RC_ASSERT(text.find("e-0") == std::string::npos);
}

// Property: any string (arbitrary bytes) quotes to a JSON literal that parses back to the
// Go-sanitized string, and re-canonicalizing is a fixed point.
RC_GTEST_PROP(GoQuotedProperty, QuotedStringsParseBackAndAreStable, (std::string s)) {
  std::string quoted;
  AppendGoQuoted(s, quoted);
  auto parsed = ParseJson(quoted);
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(parsed->is_string());
  std::string requoted;
  AppendGoQuoted(parsed->as_string(), requoted);
  // Printable ASCII input must round-trip exactly (escapes are undone by the parser).
  bool printable = true;
  for (const char c : s) printable = printable && c >= 0x20 && c < 0x7f;
  if (printable) RC_ASSERT(parsed->as_string() == s);
  auto canon = CanonicalizeGo(quoted);
  RC_ASSERT(canon.has_value());
  RC_ASSERT(*canon == requoted);
  RC_ASSERT(CanonicalizeGo(*canon).value() == *canon);
}

// Property: canonicalization is idempotent and independent of member order.
RC_GTEST_PROP(CanonicalProperty, MemberOrderDoesNotMatter,
              (std::vector<std::pair<std::string, int>> members)) {
  std::string forward = "{";
  std::string backward = "{";
  // Deduplicate names first: with duplicates, order decides the winner (tested elsewhere).
  std::map<std::string, int> unique;
  for (auto [k, v] : members) {
    // Keys with invalid UTF-8 can collapse into the same U+FFFD key; keep printable ASCII.
    std::erase_if(k, [](char c) { return c < 0x20 || c >= 0x7f; });
    unique[k] = v;
  }
  bool first = true;
  for (const auto& [k, v] : unique) {
    std::string key;
    AppendGoQuoted(k, key);
    forward += (first ? "" : ",") + key + ":" + std::to_string(v);
    first = false;
  }
  first = true;
  for (auto it = unique.rbegin(); it != unique.rend(); ++it) {
    std::string key;
    AppendGoQuoted(it->first, key);
    backward += (first ? "" : ",") + key + ":" + std::to_string(it->second);
    first = false;
  }
  forward += "}";
  backward += "}";
  auto a = CanonicalizeGo(forward);
  auto b = CanonicalizeGo(backward);
  RC_ASSERT(a.has_value());
  RC_ASSERT(b.has_value());
  RC_ASSERT(*a == *b);
  RC_ASSERT(CanonicalizeGo(*a).value() == *a);
}

}  // namespace
// Go's encoder writes a json.RawMessage through compact(..., escapeHTML=true): whitespace
// outside strings goes, escapes are kept, <, >, & and U+2028/9 are escaped (used for snapshot
// payloads stored as PostgreSQL jsonb text, protocol.md §3.10).
TEST(JsonWriterRawCompactTest, CompactsLikeGoRawMessage) {
  std::string out;
  JsonWriter w(out);
  w.BeginArray();
  w.RawCompact("{\"id\": \"a b\", \"n\": [1, 2.50, {\"x\": null}],\n \"t\": \"<p>&\\\" \\u0041\"}");
  w.RawCompact(" \"line\xE2\x80\xA8sep\xE2\x80\xA9\" ");
  w.RawCompact("{}");
  w.EndArray();
  EXPECT_EQ(out,
            "[{\"id\":\"a b\",\"n\":[1,2.50,{\"x\":null}],\"t\":\"\\u003cp\\u003e\\u0026\\\" "
            "\\u0041\"},\"line\\u2028sep\\u2029\",{}]");
}

}  // namespace oversync::protocol
