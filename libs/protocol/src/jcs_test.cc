// RFC 8785 JCS, the canonical form of wire profile B (protocol-b.md §3). Vectors: protocol-b.md
// §3.3 (go-oversync internal/jcs/contract_fixture_test.go TestAuthoritativeTypedNumericJCSVectors
// and the computed extra vector).
#include "oversync/protocol/jcs.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "oversync/common/sha256.h"
#include "oversync/protocol/canonical_json.h"
#include "oversync/protocol/wire_values.h"

namespace oversync::protocol {
namespace {

std::string Jcs(std::string_view text) {
  Result<std::string> r = CanonicalizeJcs(text);
  EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error().ToString());
  return r.value_or("<error>");
}

std::string JcsError(std::string_view text) {
  Result<std::string> r = CanonicalizeJcs(text);
  EXPECT_FALSE(r.has_value()) << text << " canonicalized to " << r.value_or("");
  return r ? std::string() : r.error().message();
}

// protocol-b.md §3.3, Go TestAuthoritativeTypedNumericJCSVectors.
TEST(JcsTest, GoContractVectors) {
  EXPECT_EQ(Jcs("333333333.33333329"), "333333333.3333333");
  EXPECT_EQ(Jcs("-0"), "0");
  EXPECT_EQ(Jcs("[1e30,4.50e-6,1e-7]"), "[1e+30,0.0000045,1e-7]");
  EXPECT_EQ(Jcs("[9.999999999999997e22,1e23,1.0000000000000001e23,999999999999999700000,1e21,"
                "9.999999999999997e-7,0.000001]"),
            "[9.999999999999997e+22,1e+23,1.0000000000000001e+23,999999999999999700000,1e+21,"
            "9.999999999999997e-7,0.000001]");
  EXPECT_EQ(Jcs(R"({"max":"9223372036854775807","above53":"9007199254740993",)"
                R"("amount":"1234567890.123456789","large":"1e700"})"),
            R"({"above53":"9007199254740993","amount":"1234567890.123456789","large":"1e700",)"
            R"("max":"9223372036854775807"})");
  // UTF-16 order: U+10000 (D800 DC00) sorts before U+E000 although its UTF-8 bytes sort after.
  EXPECT_EQ(Jcs(R"({"\ue000":"bmp","\ud800\udc00":"supplementary"})"),
            "{\"\xF0\x90\x80\x80\":\"supplementary\",\"\xEE\x80\x80\":\"bmp\"}");
  // No Unicode normalization.
  EXPECT_EQ(Jcs(R"({"nfd":"e\u0301","nfc":"\u00e9"})"),
            "{\"nfc\":\"\xC3\xA9\",\"nfd\":\"e\xCC\x81\"}");
}

// protocol-b.md §3.3 "Additional vector [computed]": 70 bytes with a known SHA-256.
TEST(JcsTest, ComputedVectorWithDigest) {
  const std::string canonical =
      Jcs(R"({"\ue000":"bmp","\ud800\udc00":"supplementary","a":1.50,"b":-0.0,"c":1e21,"d":"<&>"})");
  EXPECT_EQ(canonical, "{\"a\":1.5,\"b\":0,\"c\":1e+21,\"d\":\"<&>\",\"\xF0\x90\x80\x80\":"
                       "\"supplementary\",\"\xEE\x80\x80\":\"bmp\"}");
  EXPECT_EQ(canonical.size(), 70u);
  EXPECT_EQ(HexLower(Sha256::Digest(canonical)),
            "46e28d4a59948eafa12fa7d285ca51a752456db8c30ca567f66f586145a23cbb");
}

// protocol-b.md §3.1 rule 6: only the mandatory escapes; lowercase hex; <>&/ DEL U+2028 raw.
TEST(JcsTest, StringEscaping) {
  EXPECT_EQ(Jcs(R"("a\"b\\c\/d")"), R"("a\"b\\c/d")");
  EXPECT_EQ(Jcs(R"("\b\t\n\f\r")"), R"("\b\t\n\f\r")");
  EXPECT_EQ(Jcs(R"("\u0000\u001F\u000b")"), R"("\u0000\u001f\u000b")");
  EXPECT_EQ(Jcs(R"("<>&\u007f\u2028\u2029")"), "\"<>&\x7F\xE2\x80\xA8\xE2\x80\xA9\"");
  EXPECT_EQ(Jcs("\"\xF0\x9F\x98\x80\""), "\"\xF0\x9F\x98\x80\"");  // raw astral passes through
  EXPECT_EQ(Jcs(R"("\ud83d\ude00")"), "\"\xF0\x9F\x98\x80\"");     // escaped pair is decoded
}

// Differences from Go's canonical form (protocol-b.md §3.1 last paragraph).
TEST(JcsTest, DiffersFromGoCanonicalWhereTheSpecSays) {
  const std::string doc = R"({"b":-0,"a":"<&>"})";
  EXPECT_EQ(Jcs(doc), R"({"a":"<&>","b":0})");
  EXPECT_EQ(CanonicalizeGo(doc).value(), R"({"a":"\u003c\u0026\u003e","b":-0})");
}

TEST(JcsTest, StructureAndWhitespace) {
  EXPECT_EQ(Jcs(" { \"z\" : [ 1 , true , null , { } , [ ] ] , \"a\" : { \"y\":1,\"x\":2 } } \n"),
            R"({"a":{"x":2,"y":1},"z":[1,true,null,{},[]]})");
  EXPECT_EQ(Jcs("\"s\""), "\"s\"");
  EXPECT_EQ(Jcs("true"), "true");
  EXPECT_EQ(Jcs(" 12 "), "12");
  // A shorter name that is a prefix sorts first.
  EXPECT_EQ(Jcs(R"({"ab":1,"a":2,"":3})"), R"({"":3,"a":2,"ab":1})");
}

// protocol-b.md §3.1 rules 1, 3, 6, 7: what JCS input must not contain.
TEST(JcsTest, RejectsWhatRfc8785Forbids) {
  EXPECT_NE(JcsError(R"({"a":1,"a":2})").find("duplicate object member name \"a\""),
            std::string::npos);
  EXPECT_NE(JcsError(R"({"x":{"k":1,"k":1}})").find("duplicate"), std::string::npos);
  // The same name spelled with an escape is still a duplicate.
  EXPECT_NE(JcsError(R"({"a":1,"\u0061":2})").find("duplicate"), std::string::npos);
  JcsError("1e400");
  JcsError("[-1e400]");
  JcsError("\"\xFF\"");              // invalid UTF-8
  JcsError("\"\xED\xA0\x80\"");      // UTF-8-encoded surrogate
  JcsError(R"("\ud800")");           // unpaired high surrogate
  JcsError(R"("\udc00x")");          // unpaired low surrogate
  JcsError(R"(["\ud800\u0041"])");   // high surrogate followed by a non-surrogate escape
  JcsError("{\"\xC3\":1}");          // invalid UTF-8 in a member name
  JcsError("[1] [2]");
  JcsError("[1,]");
  JcsError("");
  JcsError("NaN");
}

// Go's parser repairs what JCS rejects; the strict option is what makes the difference.
TEST(JcsTest, GoParserStillRepairsInvalidUtf8) {
  EXPECT_EQ(CanonicalizeGo("\"\xFF\"").value(), "\"\xEF\xBF\xBD\"");
  EXPECT_EQ(CanonicalizeGo(R"("\ud800")").value(), "\"\xEF\xBF\xBD\"");
}

TEST(JcsTest, AppendJcsRejectsMalformedStringsBuiltInMemory) {
  std::string out;
  EXPECT_FALSE(AppendJcs(JsonValue::String("\xC3"), out).ok());
  JsonValue object = JsonValue::Object();
  object.Add("\xFF", JsonValue::Integer(1));
  out.clear();
  EXPECT_FALSE(AppendJcs(object, out).ok());
  out.clear();
  EXPECT_FALSE(
      AppendJcs(JsonValue::NumberWithLexeme(std::numeric_limits<double>::infinity(), "1e400"), out)
          .ok());
}

// ECMAScript Number::toString (protocol-b.md §3.2) at the layout boundaries.
TEST(JcsTest, NumberLayoutBoundaries) {
  auto render = [](double x) {
    std::string out;
    AppendJcsNumber(x, out);
    return out;
  };
  EXPECT_EQ(render(0.0), "0");
  EXPECT_EQ(render(-0.0), "0");
  EXPECT_EQ(render(1e21), "1e+21");
  EXPECT_EQ(render(1e21 - 131072), "999999999999999900000");
  EXPECT_EQ(render(1e-6), "0.000001");
  EXPECT_EQ(render(1e-7), "1e-7");
  EXPECT_EQ(render(-1.5e-7), "-1.5e-7");
  EXPECT_EQ(render(123.456), "123.456");
  EXPECT_EQ(render(5e-324), "5e-324");
  EXPECT_EQ(render(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(render(9007199254740993.0), "9007199254740992");
}

// Canonicalization is idempotent and stable under re-parsing, for arbitrary trees of strings,
// numbers and objects (including non-ASCII member names).
RC_GTEST_PROP(JcsProperty, IdempotentOnRandomDocuments, ()) {
  const auto keys = *rc::gen::container<std::vector<std::string>>(
      rc::gen::oneOf(rc::gen::element<std::string>("a", "b", "ab", "\xEE\x80\x80", "\xF0\x90\x80\x80",
                                                   "\xC3\xA9", "z", ""),
                     rc::gen::string<std::string>()));
  std::vector<std::string> valid_keys;
  for (const std::string& key : keys) {
    if (ParseJson("\"" + key + "\"").has_value() &&
        CanonicalizeJcs("\"" + key + "\"").has_value()) {
      valid_keys.push_back(key);
    }
  }
  std::sort(valid_keys.begin(), valid_keys.end());
  valid_keys.erase(std::unique(valid_keys.begin(), valid_keys.end()), valid_keys.end());
  JsonValue object = JsonValue::Object();
  for (const std::string& key : valid_keys) {
    const double number = *rc::gen::map(rc::gen::arbitrary<std::uint64_t>(), [](std::uint64_t bits) {
      double d = 0;
      std::memcpy(&d, &bits, sizeof d);
      return std::isfinite(d) ? d : 1.0;
    });
    object.Add(key, JsonValue::Number(number));
  }
  std::string first;
  RC_ASSERT(AppendJcs(object, first).ok());
  const Result<std::string> second = CanonicalizeJcs(first);
  RC_ASSERT(second.has_value());
  RC_ASSERT(*second == first);
}

}  // namespace
}  // namespace oversync::protocol
