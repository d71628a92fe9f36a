// Profile B value encoding (protocol-b.md §2): upload grammars, categories and messages, and
// the output conversion from PostgreSQL's to_jsonb values. The fixture's own vectors run in
// profile_b_contract_test.cc; these pin the rules around them.
#include "oversync/protocol/wire_values.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <utility>
#include <vector>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace oversync::protocol {
namespace {

using T = WireValueType;

JsonValue Str(std::string s) { return JsonValue::String(std::move(s)); }
JsonValue Num(std::string lexeme) {
  const Result<double> value = ParseJsonNumberLexeme(lexeme);
  EXPECT_TRUE(value.has_value()) << lexeme;
  return JsonValue::NumberWithLexeme(value.value_or(0), std::move(lexeme));
}

std::string UploadError(T type, const JsonValue& value) {
  Result<JsonValue> r = CheckUploadedWireValue(type, value, "business", "numbers", "col");
  EXPECT_FALSE(r.has_value());
  return r ? std::string() : r.error().message();
}

bool UploadOk(T type, const JsonValue& value) {
  return CheckUploadedWireValue(type, value, "business", "numbers", "col").has_value();
}

JsonValue Out(T type, const JsonValue& value) {
  Result<JsonValue> r = WireValueFromPostgres(type, value);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().ToString());
  return r.value_or(JsonValue::String("<error>"));
}

TEST(WireValueTypeTest, MapsPostgresTypeNames) {
  EXPECT_EQ(WireValueTypeFromPostgres("int2"), T::kInt2);
  EXPECT_EQ(WireValueTypeFromPostgres("INT4"), T::kInt4);
  EXPECT_EQ(WireValueTypeFromPostgres("bigint"), T::kInt8);
  EXPECT_EQ(WireValueTypeFromPostgres("numeric"), T::kNumeric);
  EXPECT_EQ(WireValueTypeFromPostgres("decimal"), T::kNumeric);
  EXPECT_EQ(WireValueTypeFromPostgres("float4"), T::kFloat4);
  EXPECT_EQ(WireValueTypeFromPostgres("double precision"), T::kFloat8);
  EXPECT_EQ(WireValueTypeFromPostgres("bool"), T::kBool);
  EXPECT_EQ(WireValueTypeFromPostgres("text"), T::kOther);
  EXPECT_EQ(WireValueTypeFromPostgres("money"), T::kOther);  // bootstrap rejects it separately
  EXPECT_EQ(WireValueTypeFromPostgres("jsonb"), T::kOther);
}

// protocol-b.md §2.2 message template (Go binary_wire.go numericPushValidationError).
TEST(UploadedWireValueTest, MessagesNameFieldExpectationAndCategory) {
  EXPECT_EQ(UploadError(T::kInt8, Num("42")),
            "payload field business.numbers.col must use canonical signed integer JSON string "
            "(category=legacy_json_number)");
  EXPECT_EQ(UploadError(T::kNumeric, Str("01.25")),
            "payload field business.numbers.col must use finite decimal JSON string "
            "(category=invalid_decimal)");
  EXPECT_EQ(UploadError(T::kFloat8, Str("1.0")),
            "payload field business.numbers.col must use canonical finite binary64 JSON string "
            "(category=invalid_float)");
  EXPECT_EQ(UploadError(T::kBool, Str("true")),
            "payload field business.numbers.col must use JSON Boolean or SQLite ingress string "
            "\"0\"/\"1\" (category=invalid_boolean_bridge)");
  EXPECT_EQ(UploadError(T::kInt2, Str("32768")),
            "payload field business.numbers.col must use canonical signed integer JSON string "
            "(category=out_of_range)");
}

// protocol-b.md §2.3 integer grammar and column ranges.
TEST(UploadedWireValueTest, IntegerGrammarAndRanges) {
  for (const char* ok : {"0", "-1", "7", "9223372036854775807", "-9223372036854775808"}) {
    EXPECT_TRUE(UploadOk(T::kInt8, Str(ok))) << ok;
  }
  for (const char* bad : {"", "-", "+1", "01", "-0", "00", "1.5", "1e3", " 1", "1 ", "0x10", "١"}) {
    EXPECT_NE(UploadError(T::kInt8, Str(bad)).find("category=invalid_integer"), std::string::npos)
        << bad;
  }
  EXPECT_NE(UploadError(T::kInt8, Str("9223372036854775808")).find("out_of_range"),
            std::string::npos);
  EXPECT_NE(UploadError(T::kInt8, Str("-9223372036854775809")).find("out_of_range"),
            std::string::npos);
  EXPECT_TRUE(UploadOk(T::kInt2, Str("-32768")));
  EXPECT_NE(UploadError(T::kInt2, Str("-32769")).find("out_of_range"), std::string::npos);
  EXPECT_TRUE(UploadOk(T::kInt4, Str("2147483647")));
  EXPECT_NE(UploadError(T::kInt4, Str("2147483648")).find("out_of_range"), std::string::npos);
  EXPECT_NE(UploadError(T::kInt4, JsonValue::Bool(true)).find("invalid_integer"),
            std::string::npos);
  EXPECT_NE(UploadError(T::kInt4, JsonValue::Object()).find("invalid_integer"), std::string::npos);
}

TEST(UploadedWireValueTest, DecimalGrammar) {
  for (const char* ok : {"0", "1.25", "-1.25", "1.25e3", "1E5", "1e-5", "1e+5", "0.000", "-0.5",
                         "1234567890.123456789", "1e700"}) {
    EXPECT_TRUE(UploadOk(T::kNumeric, Str(ok))) << ok;
  }
  for (const char* bad : {"+1.25", "01.25", "-0", "-0.0", "-0.0e10", "1.", ".5", "1e", "1e05",
                          "NaN", "Infinity", "", "1.2.3", "1e+", "--1"}) {
    EXPECT_FALSE(UploadOk(T::kNumeric, Str(bad))) << bad;
  }
}

TEST(UploadedWireValueTest, FloatMustBeTheShortestEcmaScriptSpelling) {
  for (const char* ok : {"1.5", "5e-324", "1e+21", "0", "1", "-2.5", "0.000001", "1e-7",
                         "1.7976931348623157e+308", "123456789012345680000"}) {
    EXPECT_TRUE(UploadOk(T::kFloat8, Str(ok))) << ok;
    EXPECT_TRUE(UploadOk(T::kFloat4, Str(ok))) << ok;
  }
  for (const char* bad : {"1.0", "1e0", "-0", "1e21", "1E+21", "NaN", "Infinity", "-Infinity",
                          "1e400", "0.10", "1e-400", "+1", "01", ".5", "1e"}) {
    EXPECT_NE(UploadError(T::kFloat8, Str(bad)).find("category=invalid_float"), std::string::npos)
        << bad;
  }
}

TEST(UploadedWireValueTest, BooleanBridge) {
  EXPECT_EQ(CheckUploadedWireValue(T::kBool, Str("0"), "s", "t", "c").value(),
            JsonValue::Bool(false));
  EXPECT_EQ(CheckUploadedWireValue(T::kBool, Str("1"), "s", "t", "c").value(),
            JsonValue::Bool(true));
  EXPECT_EQ(CheckUploadedWireValue(T::kBool, JsonValue::Bool(true), "s", "t", "c").value(),
            JsonValue::Bool(true));
  for (const JsonValue& bad : {Str("true"), Str("2"), Str(""), Num("1"), Num("0")}) {
    EXPECT_NE(UploadError(T::kBool, bad).find("invalid_boolean_bridge"), std::string::npos);
  }
}

TEST(UploadedWireValueTest, OtherTypesPassUnchecked) {
  EXPECT_TRUE(UploadOk(T::kOther, Num("42")));
  EXPECT_TRUE(UploadOk(T::kOther, Str("anything")));
}

// protocol-b.md §2.4, Go uniform_numeric_wire_test.go: the database payload of an
// int2/int4/int8/numeric/float4/float8/bool/bool row and its emitted wire form.
TEST(WireValueFromPostgresTest, GoServerVector) {
  EXPECT_EQ(Out(T::kInt2, Num("-32768")), Str("-32768"));
  EXPECT_EQ(Out(T::kInt4, Num("2147483647")), Str("2147483647"));
  EXPECT_EQ(Out(T::kInt8, Num("9007199254740993")), Str("9007199254740993"));
  EXPECT_EQ(Out(T::kNumeric, Num("1234567890.1234567890")), Str("1234567890.1234567890"));
  EXPECT_EQ(Out(T::kFloat4, Num("1.2345679")), Str("1.2345678806304932"));
  EXPECT_EQ(Out(T::kFloat8, Num("5e-324")), Str("5e-324"));
  EXPECT_EQ(Out(T::kBool, JsonValue::Bool(false)), JsonValue::Bool(false));
  EXPECT_EQ(Out(T::kBool, JsonValue::Bool(true)), JsonValue::Bool(true));
}

TEST(WireValueFromPostgresTest, NullAndOtherTypesPassThrough) {
  EXPECT_EQ(Out(T::kInt8, JsonValue::Null()), JsonValue::Null());
  EXPECT_EQ(Out(T::kOther, Num("1.50")), Num("1.50"));
}

TEST(WireValueFromPostgresTest, FloatsAreReRenderedNegativeZeroIncluded) {
  EXPECT_EQ(Out(T::kFloat8, Num("-0")), Str("0"));
  EXPECT_EQ(Out(T::kFloat8, Num("1e+21")), Str("1e+21"));
  EXPECT_EQ(Out(T::kFloat8, Num("100")), Str("100"));
  EXPECT_EQ(Out(T::kFloat4, Num("0.1")), Str("0.10000000149011612"));
  EXPECT_EQ(Out(T::kFloat4, Num("3.4028235e+38")), Str("3.4028234663852886e+38"));
  EXPECT_EQ(Out(T::kFloat4, Num("1e-45")), Str("1.401298464324817e-45"));  // float4 subnormal
}

TEST(WireValueFromPostgresTest, ConversionIsIdempotent) {
  for (const auto& [type, pg] : std::vector<std::pair<T, JsonValue>>{
           {T::kInt8, Num("-5")},
           {T::kNumeric, Num("12.3000")},
           {T::kFloat8, Num("0.1")},
           {T::kFloat4, Num("1.2345679")},
           {T::kBool, JsonValue::Bool(true)}}) {
    const JsonValue once = Out(type, pg);
    EXPECT_EQ(Out(type, once), once);
  }
}

// protocol-b.md §2.2 "Output faults": values with no wire form fail (the server answers 500).
TEST(WireValueFromPostgresTest, NonRepresentableStoredValuesFail) {
  EXPECT_FALSE(WireValueFromPostgres(T::kFloat8, Str("NaN")).has_value());
  EXPECT_FALSE(WireValueFromPostgres(T::kFloat8, Str("Infinity")).has_value());
  EXPECT_FALSE(WireValueFromPostgres(T::kFloat4, Str("-Infinity")).has_value());
  EXPECT_FALSE(WireValueFromPostgres(T::kNumeric, Str("NaN")).has_value());
  EXPECT_FALSE(WireValueFromPostgres(T::kInt2, Num("40000")).has_value());
  EXPECT_FALSE(WireValueFromPostgres(T::kInt8, Num("1.5")).has_value());
  EXPECT_FALSE(WireValueFromPostgres(T::kBool, Str("t")).has_value());
  EXPECT_FALSE(
      WireValueFromPostgres(T::kFloat8, JsonValue::NumberWithLexeme(HUGE_VAL, "1e400")).has_value());
}

// Every finite double's rendering is accepted by the float grammar and parses back to it.
RC_GTEST_PROP(WireFloatProperty, RenderParseRoundTrip, (std::uint64_t bits)) {
  double value = 0;
  std::memcpy(&value, &bits, sizeof value);
  RC_PRE(std::isfinite(value));
  const std::string text = RenderWireFloat(value);
  const Result<double> parsed = ParseWireFloat(text);
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(*parsed == value);  // -0 renders "0" and parses to +0, which compares equal
}

RC_GTEST_PROP(WireIntProperty, DecimalTextRoundTrip, (std::int64_t value)) {
  std::int64_t parsed = 0;
  RC_ASSERT(ParseWireInt64(std::to_string(value), parsed) == WireIntParse::kOk);
  RC_ASSERT(parsed == value);
  RC_ASSERT(IsWireDecimal(std::to_string(value)));
}

// float4 output: whatever float PostgreSQL stored, the wire text is that float widened.
RC_GTEST_PROP(WireFloat4Property, ShortestFloatTextWidens, (std::uint32_t bits)) {
  float narrow = 0;
  std::memcpy(&narrow, &bits, sizeof narrow);
  RC_PRE(std::isfinite(narrow));
  std::array<char, 64> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), narrow);
  RC_ASSERT(ec == std::errc());
  std::string lexeme(buf.data(), end);
  const Result<double> as_double = ParseJsonNumberLexeme(lexeme);
  RC_ASSERT(as_double.has_value());  // to_chars' shortest form is valid JSON number grammar
  const Result<JsonValue> out =
      WireValueFromPostgres(T::kFloat4, JsonValue::NumberWithLexeme(*as_double, lexeme));
  RC_ASSERT(out.has_value());
  RC_ASSERT(out->as_string() == RenderWireFloat(static_cast<double>(narrow)));
}

}  // namespace
}  // namespace oversync::protocol
