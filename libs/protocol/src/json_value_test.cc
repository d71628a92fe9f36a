// Unit tests for oversync/protocol/json_value.h (JsonValue, JsonParser, ParseJson,
// ParseJsonNumberLexeme).
//
// Spec items: protocol.md §1.4 (UTF-8 JSON bodies; duplicate object keys: last one wins),
// §2.5.3 (numbers are IEEE-754 doubles, 2^53+1 rounds, 1e400 is invalid), §2.6 step 1 (parse
// into a generic tree of doubles; invalid UTF-8 and lone surrogate escapes become U+FFFD, Go >=
// 1.22), RFC 8259 (grammar, whitespace = space/tab/LF/CR, control characters must be escaped),
// and the contract written in json_value.h (lexemes kept exactly, underflow gives ±0, duplicates
// kept in order, nesting limit kMaxJsonDepth, parser reuse).
#include "oversync/protocol/json_value.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

namespace oversync::protocol {
namespace {

// Deterministic RapidCheck runs: pin the seed unless RC_PARAMS is set by the caller.
[[maybe_unused]] const bool kRapidCheckSeedPinned = [] {
  return ::setenv("RC_PARAMS", "seed=20260322", /*overwrite=*/0) == 0;
}();

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

JsonValue MustParse(std::string_view text) {
  Result<JsonValue> r = ParseJson(text);
  EXPECT_TRUE(r.has_value()) << "input \"" << text << "\": " << r.error().ToString();
  if (!r.has_value()) return JsonValue();
  return std::move(*r);
}

void ExpectRejected(std::string_view text) {
  SCOPED_TRACE(testing::Message() << "input \"" << text << "\"");
  const Result<JsonValue> r = ParseJson(text);
  ASSERT_FALSE(r.has_value()) << "unexpectedly parsed";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(r.error().message().empty());
}

// Parses `"..."` (a root string) and returns the decoded string.
std::string ParseString(std::string_view json) {
  const Result<JsonValue> r = ParseJson(json);
  EXPECT_TRUE(r.has_value()) << "input \"" << json << "\": " << r.error().ToString();
  if (!r.has_value() || !r->is_string()) {
    ADD_FAILURE() << "not a string: " << json;
    return {};
  }
  return r->as_string();
}

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Numbers: lexemes, IsIntegerLexeme, values

// json_value.h: the lexeme is the number exactly as written (profile B passes it through;
// protocol.md §1.4 "1.50 stays 1.50" in pass-through payloads).
TEST(JsonNumbers, LexemesAreKeptExactly) {
  const JsonValue v = MustParse(
      "[1.50,-0,1E5,1e+21,0.0000001,9007199254740993,-12,0,1.0,-0.0e0,1E-5 , 2.5\n]");
  ASSERT_TRUE(v.is_array());
  const std::vector<std::string_view> expected = {"1.50",    "-0",  "1E5",  "1e+21",
                                                  "0.0000001", "9007199254740993", "-12", "0",
                                                  "1.0",     "-0.0e0", "1E-5", "2.5"};
  ASSERT_EQ(v.as_array().size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(v.as_array()[i].is_number()) << i;
    EXPECT_EQ(v.as_array()[i].as_number().lexeme, expected[i]) << i;
  }
  EXPECT_EQ(v.as_array()[0].as_number().value, 1.5);
  EXPECT_EQ(v.as_array()[2].as_number().value, 100000.0);
  EXPECT_EQ(v.as_array()[3].as_number().value, 1e21);
  EXPECT_EQ(v.as_array()[4].as_number().value, 1e-7);
  EXPECT_EQ(v.as_array()[10].as_number().value, 1e-5);
}

// Lexemes of numbers in objects exclude the surrounding whitespace and separators.
TEST(JsonNumbers, LexemesInObjectsAndAtRoot) {
  const JsonValue v = MustParse("{\"a\" : 1.50 , \"b\":\t-0\r\n,\"c\":[ 7 ],\"d\":1e5}");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.Find("a")->as_number().lexeme, "1.50");
  EXPECT_EQ(v.Find("b")->as_number().lexeme, "-0");
  EXPECT_EQ(v.Find("c")->as_array()[0].as_number().lexeme, "7");
  EXPECT_EQ(v.Find("d")->as_number().lexeme, "1e5");

  for (const auto& [text, lexeme] : std::vector<std::pair<std::string_view, std::string_view>>{
           {"1.50", "1.50"}, {" \t\r\n1.50 \t\r\n", "1.50"}, {"-0", "-0"}, {"1E5", "1E5"}}) {
    const JsonValue root = MustParse(text);
    ASSERT_TRUE(root.is_number()) << text;
    EXPECT_EQ(root.as_number().lexeme, lexeme);
  }
}

// json_value.h: IsIntegerLexeme = no fraction and no exponent.
TEST(JsonNumbers, IsIntegerLexeme) {
  for (const std::string_view s : {"0", "-0", "-12", "9007199254740993", "123456789012345678901"}) {
    EXPECT_TRUE(MustParse(s).as_number().IsIntegerLexeme()) << s;
  }
  for (const std::string_view s : {"1.0", "1e0", "1E5", "-0.0", "1e-5", "1.50", "0E0"}) {
    EXPECT_FALSE(MustParse(s).as_number().IsIntegerLexeme()) << s;
  }
}

// protocol.md §2.5.3: doubles are correctly rounded (2^53+1 -> 2^53 etc.).
TEST(JsonNumbers, DoublesAreCorrectlyRounded) {
  const auto value = [](std::string_view s) { return MustParse(s).as_number().value; };
  EXPECT_EQ(value("9007199254740993"), 9007199254740992.0);
  EXPECT_EQ(value("9007199254740995"), 9007199254740996.0);  // ties to even
  EXPECT_EQ(value("0.1"), 0.1);
  EXPECT_EQ(value("0.1000000000000000055511151231257827021181583404541015625"), 0.1);
  EXPECT_EQ(value("123456789012345678901234567890"), 1.2345678901234568e29);
  EXPECT_EQ(value("2.2250738585072011e-308"), 2.2250738585072011e-308);
  EXPECT_EQ(value("2.2250738585072014e-308"), std::numeric_limits<double>::min());
  EXPECT_EQ(value("1.7976931348623157e308"), std::numeric_limits<double>::max());
  EXPECT_EQ(value("1.7976931348623158e308"), std::numeric_limits<double>::max());
  EXPECT_EQ(value("-1.7976931348623157e308"), -std::numeric_limits<double>::max());
  // Subnormals are values, not underflow.
  EXPECT_EQ(value("4.9406564584124654e-324"), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(value("5e-324"), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(value("3e-324"), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(value("2.4703282292062328e-324"), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(value("1e-310"), 1e-310);
  EXPECT_EQ(value("0.001e309"), 1e306);
  EXPECT_EQ(value("100e-2"), 1.0);
  EXPECT_EQ(value("-12"), -12.0);
}

// json_value.h: overflow (1e400) is an error (protocol.md §2.5.3), underflow is ±0.
TEST(JsonNumbers, OverflowIsErrorUnderflowIsSignedZero) {
  ExpectRejected("1e400");
  ExpectRejected("-1e400");
  ExpectRejected("[1e400]");
  ExpectRejected("{\"a\":1e400}");
  ExpectRejected("1.7976931348623159e308");  // rounds to +Inf
  ExpectRejected("10e308");
  ExpectRejected("1e99999999999999999999");

  const double pos = MustParse("1e-400").as_number().value;
  EXPECT_EQ(pos, 0.0);
  EXPECT_FALSE(std::signbit(pos));
  const double neg = MustParse("-1e-400").as_number().value;
  EXPECT_EQ(neg, 0.0);
  EXPECT_TRUE(std::signbit(neg));
  const JsonValue arr = MustParse("[1e-400,-1e-400,-1e-99999999999999999999,2.4703282292062327e-324]");
  EXPECT_FALSE(std::signbit(arr.as_array()[0].as_number().value));
  EXPECT_TRUE(std::signbit(arr.as_array()[1].as_number().value));
  EXPECT_EQ(arr.as_array()[2].as_number().value, 0.0);
  EXPECT_TRUE(std::signbit(arr.as_array()[2].as_number().value));
  EXPECT_EQ(arr.as_array()[3].as_number().value, 0.0);  // exactly half of denorm_min: even
  EXPECT_EQ(arr.as_array()[1].as_number().lexeme, "-1e-400");

  // Zero mantissas never overflow.
  EXPECT_EQ(MustParse("0e400").as_number().value, 0.0);
  EXPECT_TRUE(std::signbit(MustParse("-0").as_number().value));
  EXPECT_TRUE(std::signbit(MustParse("-0.0e0").as_number().value));
  EXPECT_FALSE(std::signbit(MustParse("0.000e99999999999").as_number().value));
}

// json_value.h: ParseJsonNumberLexeme grammar (RFC 8259 §6 number production).
TEST(ParseJsonNumberLexeme, GrammarTable) {
  struct Row {
    std::string_view lexeme;
    double value;
  };
  for (const Row& row : {Row{"0", 0.0}, Row{"-0", -0.0}, Row{"1", 1.0}, Row{"1.5", 1.5},
                         Row{"1e5", 1e5}, Row{"1E+5", 1e5}, Row{"1e-5", 1e-5},
                         Row{"-0.0e0", -0.0}, Row{"10", 10.0}, Row{"0.5", 0.5},
                         Row{"-1.25E-2", -0.0125}, Row{"0e0", 0.0}, Row{"1E05", 1e5}}) {
    const Result<double> r = ParseJsonNumberLexeme(row.lexeme);
    ASSERT_TRUE(r.has_value()) << row.lexeme << ": " << r.error().ToString();
    EXPECT_EQ(*r, row.value) << row.lexeme;
    EXPECT_EQ(std::signbit(*r), std::signbit(row.value)) << row.lexeme;
  }
  for (const std::string_view bad :
       {"01", "+1", ".5", "1.", "1e", "-", "0x10", "", " 1", "1 ", "NaN", "Infinity",
        "-Infinity", "nan", "inf", "00", "-01", "1e+", "1e-", "1.e5", "-.5", "1..5", "1e5.5",
        "1ee5", "--1", "1-", "١", "1\n", "\t1", "1,", "1_000", "0b1", "1f", "1d"}) {
    const Result<double> r = ParseJsonNumberLexeme(bad);
    EXPECT_FALSE(r.has_value()) << "accepted \"" << bad << "\"";
    if (!r.has_value()) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_FALSE(ParseJsonNumberLexeme(std::string_view("1\0", 2)).has_value());
  // Range: overflow is an error, underflow gives ±0.
  EXPECT_FALSE(ParseJsonNumberLexeme("1e400").has_value());
  const Result<double> under = ParseJsonNumberLexeme("-1e-400");
  ASSERT_TRUE(under.has_value());
  EXPECT_EQ(*under, 0.0);
  EXPECT_TRUE(std::signbit(*under));
}

// The same grammar applies to numbers inside documents.
TEST(JsonNumbers, InvalidNumbersInDocuments) {
  for (const std::string_view bad :
       {"01", "+1", ".5", "1.", "1e", "-", "0x10", "NaN", "Infinity", "-Infinity", "[01]",
        "[+1]", "[.5]", "[1.]", "[1e]", "[-]", "[0x10]", "[NaN]", "[Infinity]", "{\"a\":01}",
        "{\"a\":1.}", "[1x]", "[-01]", "[1e+]", "[1,]", "[,1]"}) {
    ExpectRejected(bad);
  }
}

// ---------------------------------------------------------------------------------------------
// Objects: duplicate keys (protocol.md §1.4 "last one wins"; json_value.h keeps all in order)

TEST(JsonObjects, DuplicateKeysKeptInOrderFindReturnsLast) {
  const JsonValue v = MustParse(R"({"a":1,"b":2,"a":3,"c":{"x":true},"a":"last"})");
  ASSERT_TRUE(v.is_object());
  const JsonObject& members = v.as_object();
  ASSERT_EQ(members.size(), 5U);
  EXPECT_EQ(members[0].key, "a");
  EXPECT_EQ(members[0].value.as_number().lexeme, "1");
  EXPECT_EQ(members[1].key, "b");
  EXPECT_EQ(members[2].key, "a");
  EXPECT_EQ(members[2].value.as_number().lexeme, "3");
  EXPECT_EQ(members[3].key, "c");
  EXPECT_EQ(members[4].key, "a");
  ASSERT_NE(v.Find("a"), nullptr);
  EXPECT_EQ(v.Find("a")->as_string(), "last");
  EXPECT_EQ(v.Find("b")->as_number().value, 2.0);
  EXPECT_TRUE(v.Find("c")->Find("x")->as_bool());
  EXPECT_EQ(v.Find("missing"), nullptr);
  EXPECT_EQ(v.Find("A"), nullptr);  // case-sensitive
  EXPECT_EQ(v.Find(""), nullptr);
}

TEST(JsonObjects, KeysAreUnescapedAndExact) {
  const JsonValue v = MustParse(R"({"\u0061":1,"a\"b":2,"":3,"\u00e9":4,"é":5})");
  EXPECT_EQ(v.Find("a")->as_number().value, 1.0);
  EXPECT_EQ(v.Find("a\"b")->as_number().value, 2.0);
  EXPECT_EQ(v.Find("")->as_number().value, 3.0);
  EXPECT_EQ(v.Find("\xC3\xA9")->as_number().value, 5.0);  // both keys are "é"; last wins
  EXPECT_EQ(v.as_object().size(), 5U);
}

TEST(JsonObjects, FindOnNonObjectIsNull) {
  EXPECT_EQ(MustParse("[1]").Find("0"), nullptr);
  EXPECT_EQ(MustParse("\"a\"").Find("a"), nullptr);
  EXPECT_EQ(MustParse("null").Find("a"), nullptr);
  EXPECT_EQ(MustParse("{}").Find("a"), nullptr);
}

TEST(JsonObjects, MalformedObjectsRejected) {
  for (const std::string_view bad :
       {"{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}", "{\"a\" 1}", "{a:1}", "{'a':1}",
        "{\"a\":1 \"b\":2}", "{1:2}", "{null:1}", "[", "]", "[1 2]", "[1,,2]", "{\"a\":1]",
        "[1}"}) {
    ExpectRejected(bad);
  }
}

// ---------------------------------------------------------------------------------------------
// Whitespace and document boundaries (RFC 8259 §2: ws = space / tab / LF / CR)

TEST(JsonDocument, AcceptsTheFourWhitespaceCharacters) {
  const JsonValue v = MustParse(" \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n[ \t\r\n1 \t\r\n, \t\r\n"
                                "true \t\r\n] \t\r\n} \t\r\n");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.Find("a")->as_array().size(), 2U);
}

TEST(JsonDocument, RejectsOtherWhitespace) {
  for (const std::string_view bad :
       {"\f{}", "{}\f", "{\f}", "[1,\f2]", "\v[]", "[]\v", "[1\v]", "\xC2\xA0[]", "[]\xC2\xA0",
        "\f1", "1\f", "\ftrue", "true\f", "\f\"a\"", "\"a\"\f", "{\"a\"\f:1}"}) {
    ExpectRejected(bad);
  }
  ExpectRejected(std::string_view("[]\0", 3));
  ExpectRejected(std::string_view("\0[]", 3));
  ExpectRejected(std::string_view("1\0", 2));
}

TEST(JsonDocument, RejectsEmptyAndTrailingData) {
  for (const std::string_view bad :
       {"", " ", "\n", "{} x", "{}{}", "[] []", "[]]", "{}}", "1 2", "1,", "1 x", "true false",
        "true,", "truex", "null x", "nullnull", "\"a\" \"b\"", "\"a\"x", "\"a\",", "[1] 2",
        "{\"a\":1}\"b\"", "0 0", "-1-", "[1]x", "{}\n\n,", "false true", "1]"}) {
    ExpectRejected(bad);
  }
}

// Any JSON value is a valid document (RFC 8259 §2), including scalars.
TEST(JsonDocument, AcceptsRootScalars) {
  EXPECT_TRUE(MustParse("null").is_null());
  EXPECT_TRUE(MustParse(" null ").is_null());
  EXPECT_TRUE(MustParse("true").as_bool());
  EXPECT_FALSE(MustParse("false").as_bool());
  EXPECT_TRUE(MustParse("\ttrue\n").as_bool());
  EXPECT_EQ(MustParse("0").as_number().value, 0.0);
  EXPECT_EQ(MustParse("-1.5e3").as_number().value, -1500.0);
  EXPECT_EQ(MustParse("-1.5e3").as_number().lexeme, "-1.5e3");
  EXPECT_EQ(MustParse("\"str\"").as_string(), "str");
  EXPECT_EQ(MustParse("\"\"").as_string(), "");
  EXPECT_EQ(MustParse(" \"a b\" ").as_string(), "a b");
  EXPECT_TRUE(MustParse("[]").as_array().empty());
  EXPECT_TRUE(MustParse("{}").as_object().empty());
}

TEST(JsonDocument, RejectsBadLiterals) {
  for (const std::string_view bad :
       {"tru", "nul", "fals", "True", "NULL", "FALSE", "nan", "undefined", "[truex]", "[nul]",
        "{\"a\":tru}", "[True]", "'a'", "[null1]"}) {
    ExpectRejected(bad);
  }
}

// json_value.h: kMaxJsonDepth levels of nesting are accepted, one more is rejected. As in Go's
// scanner, only arrays and objects count as levels; a scalar inside the innermost one adds none.
TEST(JsonDocument, NestingLimit) {
  const int n = kMaxJsonDepth;
  EXPECT_TRUE(ParseJson(Repeat("[", n) + Repeat("]", n)).has_value());
  EXPECT_TRUE(ParseJson(Repeat("[", n) + "1" + Repeat("]", n)).has_value());
  EXPECT_TRUE(ParseJson(Repeat("[", n) + "\"s\"" + Repeat("]", n)).has_value());
  EXPECT_TRUE(ParseJson(Repeat("{\"a\":", n - 1) + "{}" + Repeat("}", n - 1)).has_value());
  EXPECT_TRUE(ParseJson(Repeat("{\"a\":", n) + "null" + Repeat("}", n)).has_value());
  EXPECT_TRUE(ParseJson(Repeat("[{\"k\":", n / 2) + "0" + Repeat("}]", n / 2)).has_value());

  ExpectRejected(Repeat("[", n + 1) + Repeat("]", n + 1));
  ExpectRejected(Repeat("[", n + 1) + "1" + Repeat("]", n + 1));
  ExpectRejected(Repeat("{\"a\":", n) + "{}" + Repeat("}", n));
  ExpectRejected(Repeat("[{\"k\":", n / 2) + "[]" + Repeat("}]", n / 2));
  ExpectRejected(Repeat("[", 100000) + Repeat("]", 100000));

  // Depth is nesting, not the number of containers.
  std::string wide = "[";
  for (int i = 0; i < 5000; ++i) wide += i == 0 ? "[[]]" : ",[[]]";
  wide += "]";
  const Result<JsonValue> w = ParseJson(wide);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->as_array().size(), 5000U);

  // The tree has the expected depth.
  const JsonValue deep = MustParse(Repeat("[", n) + "7" + Repeat("]", n));
  const JsonValue* cur = &deep;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(cur->is_array());
    ASSERT_EQ(cur->as_array().size(), 1U);
    cur = &cur->as_array()[0];
  }
  EXPECT_EQ(cur->as_number().value, 7.0);
}

// ---------------------------------------------------------------------------------------------
// Strings (protocol.md §2.6 step 1 note: Go replaces invalid UTF-8 and lone surrogates)

TEST(JsonStrings, EscapesAreDecoded) {
  EXPECT_EQ(ParseString(R"("\"\\\/\b\f\n\r\t")"), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(ParseString(R"("\u0041\u00e9\u20AC\uffff")"), "A\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBF");
  EXPECT_EQ(ParseString(R"("\u0000")"), std::string("\0", 1));
  EXPECT_EQ(ParseString(R"("a\u001fb")"), "a\x1f" "b");
  EXPECT_EQ(ParseString("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\""),
            "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  EXPECT_EQ(ParseString("\"\x7f\""), "\x7f");  // DEL is not a control character in JSON
}

TEST(JsonStrings, InvalidEscapesRejected) {
  for (const std::string_view bad :
       {R"("\x41")", R"("\u12")", R"("\u12G4")", R"("\U0041")", R"("\'")", R"("\a")",
        R"("\0")", R"("\)", "\"abc", "\"\\\"", R"(["\v"])", R"({"\q":1})"}) {
    ExpectRejected(bad);
  }
}

// RFC 8259 §7: U+0000..U+001F must be escaped; Go rejects them raw.
TEST(JsonStrings, RawControlCharactersRejected) {
  for (int c = 0; c < 0x20; ++c) {
    SCOPED_TRACE(c);
    std::string in_value = "\"a";
    in_value += static_cast<char>(c);
    in_value += "b\"";
    ExpectRejected(in_value);
    ExpectRejected("[" + in_value + "]");
    ExpectRejected("{" + in_value + ":1}");
    ExpectRejected("{\"k\":" + in_value + "}");
  }
  // Also when the document needs UTF-8 sanitization.
  ExpectRejected("[\"\xff\x01\"]");
  ExpectRejected("[\"\\ud800\x01\"]");
}

TEST(JsonStrings, InvalidUtf8BecomesReplacementCharacter) {
  const std::string r(kReplacement);
  // One U+FFFD per invalid byte, as Go's utf8.DecodeRune steps over it.
  EXPECT_EQ(ParseString("\"\xff\""), r);
  EXPECT_EQ(ParseString("\"a\xff" "b\""), "a" + r + "b");
  EXPECT_EQ(ParseString("\"\xe2\x82\""), r + r);          // truncated 3-byte sequence
  EXPECT_EQ(ParseString("\"\xe2\x82x\""), r + r + "x");
  EXPECT_EQ(ParseString("\"\xed\xa0\x80\""), r + r + r);  // encoded surrogate U+D800
  EXPECT_EQ(ParseString("\"\xf4\x90\x80\x80\""), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(ParseString("\"\xc0\xaf\""), r + r);          // overlong '/'
  EXPECT_EQ(ParseString("\"\xe0\x80\xaf\""), r + r + r);  // overlong 3-byte
  EXPECT_EQ(ParseString("\"\x80\""), r);                  // lone continuation byte
  EXPECT_EQ(ParseString("\"\xf8\x88\x80\x80\x80\""), r + r + r + r + r);
  // Valid sequences around invalid bytes survive.
  EXPECT_EQ(ParseString("\"\xC3\xA9\xff\xF0\x9F\x98\x80\""),
            "\xC3\xA9" + r + "\xF0\x9F\x98\x80");
  // Inside keys and nested values too.
  const JsonValue v = MustParse("{\"k\xff\":[\"\xfe\"]}");
  ASSERT_EQ(v.as_object().size(), 1U);
  EXPECT_EQ(v.as_object()[0].key, "k" + r);
  EXPECT_EQ(v.as_object()[0].value.as_array()[0].as_string(), r);
  // Escapes next to invalid bytes are still decoded.
  EXPECT_EQ(ParseString("\"\xff\\n\\\"\\u0041\""), r + "\n\"A");
}

TEST(JsonStrings, InvalidUtf8OutsideStringsIsAnError) {
  ExpectRejected("\xff");
  ExpectRejected("[1]\xff");
  ExpectRejected("[\xff]");
  ExpectRejected("{\"a\":1\xff}");
  ExpectRejected("\xEF\xBB\xBF{}");  // a UTF-8 BOM is not whitespace (Go rejects it too)
}

TEST(JsonStrings, LoneSurrogatesBecomeReplacementCharacter) {
  const std::string r(kReplacement);
  EXPECT_EQ(ParseString(R"("\ud800")"), r);
  EXPECT_EQ(ParseString(R"("\uDBFF")"), r);
  EXPECT_EQ(ParseString(R"("\udc00")"), r);
  EXPECT_EQ(ParseString(R"("\uDFFF")"), r);
  EXPECT_EQ(ParseString(R"("\ud800\u0041")"), r + "A");
  EXPECT_EQ(ParseString(R"("\ud800x")"), r + "x");
  EXPECT_EQ(ParseString(R"("x\ud800")"), "x" + r);
  EXPECT_EQ(ParseString(R"("\udc00\ud800")"), r + r);        // reversed pair
  EXPECT_EQ(ParseString(R"("\ud800\ud800\udc00")"), r + "\xF0\x90\x80\x80");
  EXPECT_EQ(ParseString(R"("\ud800\n")"), r + "\n");
  EXPECT_EQ(ParseString(R"("\ud800\\")"), r + "\\");
  // In keys.
  const JsonValue v = MustParse(R"({"\ud800":1,"\ud83d\ude00":2})");
  EXPECT_EQ(v.as_object()[0].key, r);
  EXPECT_EQ(v.as_object()[1].key, "\xF0\x9F\x98\x80");
  // An escaped backslash followed by "ud800" is plain text, not a surrogate escape.
  EXPECT_EQ(ParseString(R"("\\ud800")"), "\\ud800");
  EXPECT_EQ(ParseString(R"("\\\ud800")"), "\\" + r);
}

TEST(JsonStrings, ValidSurrogatePairsAreDecoded) {
  EXPECT_EQ(ParseString(R"("\ud83d\ude00")"), "\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(ParseString(R"("\uD83D\uDE00")"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(ParseString(R"("\ud800\udc00")"), "\xF0\x90\x80\x80");  // U+10000
  EXPECT_EQ(ParseString(R"("\udbff\udfff")"), "\xF4\x8F\xBF\xBF");  // U+10FFFF
  EXPECT_EQ(ParseString(R"("a\ud83d\ude00b\ud83d\ude00")"),
            "a\xF0\x9F\x98\x80" "b\xF0\x9F\x98\x80");
}

// ---------------------------------------------------------------------------------------------
// JsonParser reuse (json_value.h: "Reuses its buffers across calls")

TEST(JsonParser, ReuseAcrossManyDocumentsOfDifferentSizes) {
  JsonParser parser;
  std::vector<JsonValue> kept;
  for (int round = 0; round < 3; ++round) {
    for (const int size : {1000, 1, 50, 20000, 0, 3, 7000, 2}) {
      std::string doc = "[";
      for (int i = 0; i < size; ++i) {
        if (i > 0) doc += ',';
        doc += std::to_string(i);
      }
      doc += "]";
      const Result<JsonValue> r = parser.Parse(doc);
      ASSERT_TRUE(r.has_value()) << "size " << size << ": " << r.error().ToString();
      ASSERT_EQ(r->as_array().size(), static_cast<std::size_t>(size));
      if (size > 0) {
        EXPECT_EQ(r->as_array().back().as_number().lexeme, std::to_string(size - 1));
      }
      kept.push_back(*r);
    }
    // A short document after a long one must not see the long one's leftover bytes.
    const Result<JsonValue> small = parser.Parse("1");
    ASSERT_TRUE(small.has_value());
    EXPECT_EQ(small->as_number().lexeme, "1");
    const Result<JsonValue> s = parser.Parse("\"x\"");
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->as_string(), "x");
    EXPECT_FALSE(parser.Parse("[1,2").has_value());  // truncated: not completed by old bytes
    EXPECT_FALSE(parser.Parse("").has_value());
    // Sanitized (invalid UTF-8) and plain documents alternate.
    const Result<JsonValue> bad_utf8 = parser.Parse("{\"a\":\"\xff\"}");
    ASSERT_TRUE(bad_utf8.has_value());
    EXPECT_EQ(bad_utf8->Find("a")->as_string(), kReplacement);
    const Result<JsonValue> plain = parser.Parse("{\"a\":\"b\"}");
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(plain->Find("a")->as_string(), "b");
    const Result<JsonValue> lone = parser.Parse(R"(["\ud800"])");
    ASSERT_TRUE(lone.has_value());
    EXPECT_EQ(lone->as_array()[0].as_string(), kReplacement);
    // An error in between does not poison the parser.
    EXPECT_FALSE(parser.Parse("{\"a\":}").has_value());
    EXPECT_FALSE(parser.Parse(Repeat("[", kMaxJsonDepth + 1)).has_value());
    const Result<JsonValue> after = parser.Parse(R"({"k":[true,false,null,"s",1.50]})");
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->Find("k")->as_array()[4].as_number().lexeme, "1.50");
  }
  // Values own their data: earlier results are intact after later parses.
  ASSERT_EQ(kept.size(), 24U);
  EXPECT_EQ(kept[3].as_array().size(), 20000U);
  EXPECT_EQ(kept[3].as_array()[19999].as_number().lexeme, "19999");
  EXPECT_EQ(kept[0].as_array()[999].as_number().value, 999.0);
}

TEST(JsonParser, ReuseWithStringsOfDifferentSizes) {
  JsonParser parser;
  for (const std::size_t len : {std::size_t{100000}, std::size_t{0}, std::size_t{17},
                                std::size_t{4096}, std::size_t{1}, std::size_t{65}}) {
    const std::string payload(len, 'z');
    const Result<JsonValue> r = parser.Parse("{\"s\":\"" + payload + "\"}");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->Find("s")->as_string(), payload);
  }
}

// ---------------------------------------------------------------------------------------------
// JsonValue

TEST(JsonValue, FactoriesAndKinds) {
  EXPECT_TRUE(JsonValue().is_null());
  EXPECT_EQ(JsonValue().kind(), JsonValue::Kind::kNull);
  EXPECT_TRUE(JsonValue::Null().is_null());
  EXPECT_TRUE(JsonValue::Bool(true).as_bool());
  EXPECT_EQ(JsonValue::Bool(false).kind(), JsonValue::Kind::kBool);
  EXPECT_EQ(JsonValue::Integer(-12).as_number().lexeme, "-12");
  EXPECT_EQ(JsonValue::Integer(-12).as_number().value, -12.0);
  EXPECT_EQ(JsonValue::Integer(9007199254740993).as_number().lexeme, "9007199254740993");
  EXPECT_TRUE(JsonValue::Integer(7).as_number().IsIntegerLexeme());
  // Number(): lexeme is the Go canonical rendering (protocol.md §2.6).
  EXPECT_EQ(JsonValue::Number(1.5).as_number().lexeme, "1.5");
  EXPECT_EQ(JsonValue::Number(1e21).as_number().lexeme, "1e+21");
  EXPECT_EQ(JsonValue::Number(1e-7).as_number().lexeme, "1e-7");
  EXPECT_EQ(JsonValue::Number(100).as_number().lexeme, "100");
  EXPECT_EQ(JsonValue::NumberWithLexeme(1.5, "1.50").as_number().lexeme, "1.50");
  EXPECT_EQ(JsonValue::String("s").kind(), JsonValue::Kind::kString);
  EXPECT_TRUE(JsonValue::Array().as_array().empty());
  EXPECT_TRUE(JsonValue::Object().as_object().empty());

  JsonValue obj = JsonValue::Object();
  obj.Add("a", JsonValue::Integer(1));
  obj.Add("a", JsonValue::Integer(2));
  ASSERT_EQ(obj.as_object().size(), 2U);
  EXPECT_EQ(obj.Find("a")->as_number().value, 2.0);
  obj.mutable_object().push_back(JsonMember{"b", JsonValue::Null()});
  EXPECT_TRUE(obj.Find("b")->is_null());

  JsonValue arr = JsonValue::Array({JsonValue::Integer(1)});
  arr.mutable_array().push_back(JsonValue::String("x"));
  EXPECT_EQ(arr.as_array().size(), 2U);
}

TEST(JsonValue, CopyIsDeep) {
  const JsonValue original = MustParse(R"({"a":[1,{"b":"c"}],"d":null,"e":1.50})");
  JsonValue copy(original);
  EXPECT_EQ(copy, original);
  copy.mutable_object()[0].value.mutable_array().push_back(JsonValue::Bool(true));
  copy.Add("f", JsonValue::String("g"));
  EXPECT_NE(copy, original);
  EXPECT_EQ(original.Find("a")->as_array().size(), 2U);
  EXPECT_EQ(original.as_object().size(), 3U);
  EXPECT_EQ(original.Find("e")->as_number().lexeme, "1.50");

  JsonValue assigned = JsonValue::Integer(5);
  assigned = original;
  EXPECT_EQ(assigned, original);
  assigned = JsonValue();
  EXPECT_TRUE(assigned.is_null());
  EXPECT_FALSE(original.is_null());

  JsonValue self = original;
  const JsonValue& alias = self;
  self = alias;
  EXPECT_EQ(self, original);

  const JsonValue null_copy(JsonValue::Null());
  EXPECT_TRUE(null_copy.is_null());
}

TEST(JsonValue, MoveTransfersTree) {
  JsonValue source = MustParse(R"({"a":[1,2,3]})");
  const JsonValue expected = source;
  const JsonValue* inner = &source.Find("a")->as_array()[0];
  JsonValue moved(std::move(source));
  EXPECT_EQ(moved, expected);
  EXPECT_EQ(&moved.Find("a")->as_array()[0], inner);  // no deep copy
  JsonValue target = JsonValue::String("old");
  target = std::move(moved);
  EXPECT_EQ(target, expected);
}

// json_value.h: numbers compare by double value, objects by member sequence.
TEST(JsonValue, Equality) {
  EXPECT_EQ(MustParse("1.0"), MustParse("1"));
  EXPECT_EQ(MustParse("1.50"), MustParse("1.5"));
  EXPECT_EQ(MustParse("1e2"), MustParse("100"));
  EXPECT_EQ(MustParse("9007199254740993"), MustParse("9007199254740992"));
  EXPECT_EQ(MustParse("-0"), MustParse("0"));
  EXPECT_NE(MustParse("1"), MustParse("2"));
  EXPECT_EQ(MustParse("null"), JsonValue());
  EXPECT_NE(MustParse("null"), MustParse("false"));
  EXPECT_NE(MustParse("0"), MustParse("false"));
  EXPECT_NE(MustParse("\"1\""), MustParse("1"));
  EXPECT_NE(MustParse("[]"), MustParse("{}"));
  EXPECT_EQ(MustParse("[1,[2]]"), MustParse("[ 1 , [ 2 ] ]"));
  EXPECT_NE(MustParse("[1,2]"), MustParse("[2,1]"));
  EXPECT_NE(MustParse("[1]"), MustParse("[1,1]"));
  EXPECT_EQ(MustParse(R"({"a":1,"b":2})"), MustParse(R"({"a":1.0,"b":2})"));
  EXPECT_NE(MustParse(R"({"a":1,"b":2})"), MustParse(R"({"b":2,"a":1})"));  // sequence
  EXPECT_NE(MustParse(R"({"a":1})"), MustParse(R"({"a":1,"a":1})"));        // duplicates count
  EXPECT_NE(MustParse(R"({"a":1})"), MustParse(R"({"b":1})"));
  EXPECT_EQ(MustParse("\"\\u0041\""), MustParse("\"A\""));
  EXPECT_EQ(JsonValue::Integer(3), JsonValue::Number(3.0));
  EXPECT_EQ(JsonValue::Bool(true), MustParse("true"));
}

// ---------------------------------------------------------------------------------------------
// Properties

// Any finite double rendered by JsonValue::Number parses back to the same double and lexeme.
RC_GTEST_PROP(JsonValueProperty, NumberLexemeRoundTrip, (std::uint64_t bits)) {
  double x = 0;
  static_assert(sizeof(x) == sizeof(bits));
  std::memcpy(&x, &bits, sizeof(x));
  RC_PRE(std::isfinite(x));
  const JsonValue n = JsonValue::Number(x);
  const Result<JsonValue> back = ParseJson(n.as_number().lexeme);
  RC_ASSERT(back.has_value());
  RC_ASSERT(back->as_number().lexeme == n.as_number().lexeme);
  const double y = back->as_number().value;
  RC_ASSERT(std::memcmp(&x, &y, sizeof(x)) == 0);  // bitwise, so -0 stays -0
  const Result<double> direct = ParseJsonNumberLexeme(n.as_number().lexeme);
  RC_ASSERT(direct.has_value());
  RC_ASSERT(std::memcmp(&x, &*direct, sizeof(x)) == 0);
}

// Integer lexemes: the double is the correctly rounded value of the int64 (as Go's float64).
RC_GTEST_PROP(JsonValueProperty, IntegerLexemesRoundCorrectly, (std::int64_t i)) {
  const std::string text = std::to_string(i);
  const Result<JsonValue> v = ParseJson("[" + text + "]");
  RC_ASSERT(v.has_value());
  const JsonNumber& n = v->as_array()[0].as_number();
  RC_ASSERT(n.lexeme == text);
  RC_ASSERT(n.IsIntegerLexeme());
  RC_ASSERT(n.value == static_cast<double>(i));
}

}  // namespace
}  // namespace oversync::protocol
