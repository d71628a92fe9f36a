#include "oversync/protocol/wire_values.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include <fmt/format.h>

#include "oversync/protocol/jcs.h"

namespace oversync::protocol {
namespace {

bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }

// Consumes -?-less "(0|[1-9][0-9]*)" at s[i]; returns false when absent or with a leading zero
// followed by more digits.
bool ConsumeCanonicalDigits(std::string_view s, std::size_t& i) noexcept {
  if (i >= s.size() || !IsDigit(s[i])) return false;
  if (s[i] == '0') {
    ++i;
    return i >= s.size() || !IsDigit(s[i]);
  }
  while (i < s.size() && IsDigit(s[i])) ++i;
  return true;
}

std::string_view ExpectedText(WireValueType type) noexcept {
  switch (type) {
    case WireValueType::kInt2:
    case WireValueType::kInt4:
    case WireValueType::kInt8:
      return "canonical signed integer JSON string";
    case WireValueType::kNumeric:
      return "finite decimal JSON string";
    case WireValueType::kFloat4:
    case WireValueType::kFloat8:
      return "canonical finite binary64 JSON string";
    case WireValueType::kBool:
      return "JSON Boolean or SQLite ingress string \"0\"/\"1\"";
    case WireValueType::kOther:
      break;
  }
  return "a supported value";
}

Status Rejection(WireValueType type, WireValueCategory category, std::string_view schema,
                 std::string_view table, std::string_view column) {
  return {ErrorCode::kInvalidArgument,
          fmt::format("payload field {}.{}.{} must use {} (category={})", schema, table, column,
                      ExpectedText(type), WireValueCategoryName(category))};
}

bool InColumnRange(WireValueType type, std::int64_t v) noexcept {
  switch (type) {
    case WireValueType::kInt2:
      return v >= std::numeric_limits<std::int16_t>::min() &&
             v <= std::numeric_limits<std::int16_t>::max();
    case WireValueType::kInt4:
      return v >= std::numeric_limits<std::int32_t>::min() &&
             v <= std::numeric_limits<std::int32_t>::max();
    default:
      return true;
  }
}

Status OutputFault(WireValueType type, std::string_view what) {
  const char* family = "value";
  switch (type) {
    case WireValueType::kInt2:
    case WireValueType::kInt4:
    case WireValueType::kInt8: family = "integer"; break;
    case WireValueType::kNumeric: family = "numeric"; break;
    case WireValueType::kFloat4:
    case WireValueType::kFloat8: family = "floating-point"; break;
    case WireValueType::kBool: family = "boolean"; break;
    case WireValueType::kOther: break;
  }
  return {ErrorCode::kInvalidArgument,
          fmt::format("stored {} value {} has no canonical wire form", family,
                      std::string(what.substr(0, 64)))};
}

// The text of a stored scalar for messages.
std::string Describe(const JsonValue& value) {
  switch (value.kind()) {
    case JsonValue::Kind::kNumber: return value.as_number().lexeme;
    case JsonValue::Kind::kString: return fmt::format("{:?}", value.as_string());
    case JsonValue::Kind::kBool: return value.as_bool() ? "true" : "false";
    case JsonValue::Kind::kNull: return "null";
    case JsonValue::Kind::kArray: return "an array";
    case JsonValue::Kind::kObject: return "an object";
  }
  return "?";
}

}  // namespace

WireValueType WireValueTypeFromPostgres(std::string_view type_name) noexcept {
  std::string lower;
  lower.reserve(type_name.size());
  for (const char c : type_name) {
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (lower == "int2" || lower == "smallint") return WireValueType::kInt2;
  if (lower == "int4" || lower == "integer" || lower == "int") return WireValueType::kInt4;
  if (lower == "int8" || lower == "bigint") return WireValueType::kInt8;
  if (lower == "numeric" || lower == "decimal") return WireValueType::kNumeric;
  if (lower == "float4" || lower == "real") return WireValueType::kFloat4;
  if (lower == "float8" || lower == "double precision") return WireValueType::kFloat8;
  if (lower == "bool" || lower == "boolean") return WireValueType::kBool;
  return WireValueType::kOther;
}

std::string_view WireValueCategoryName(WireValueCategory category) noexcept {
  switch (category) {
    case WireValueCategory::kLegacyJsonNumber: return "legacy_json_number";
    case WireValueCategory::kInvalidInteger: return "invalid_integer";
    case WireValueCategory::kInvalidDecimal: return "invalid_decimal";
    case WireValueCategory::kInvalidFloat: return "invalid_float";
    case WireValueCategory::kInvalidBooleanBridge: return "invalid_boolean_bridge";
    case WireValueCategory::kOutOfRange: return "out_of_range";
  }
  return "invalid";
}

WireIntParse ParseWireInt64(std::string_view text, std::int64_t& value) noexcept {
  std::size_t i = 0;
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) ++i;
  if (!ConsumeCanonicalDigits(text, i) || i != text.size()) return WireIntParse::kBadGrammar;
  if (negative && text == "-0") return WireIntParse::kBadGrammar;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) return WireIntParse::kOutOfRange;
  if (ec != std::errc() || end != text.data() + text.size()) return WireIntParse::kBadGrammar;
  return WireIntParse::kOk;
}

bool IsWireDecimal(std::string_view text) noexcept {
  std::size_t i = 0;
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) ++i;
  const std::size_t mantissa_start = i;
  if (!ConsumeCanonicalDigits(text, i)) return false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    const std::size_t fraction_start = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    if (i == fraction_start) return false;
  }
  const std::size_t mantissa_end = i;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!ConsumeCanonicalDigits(text, i)) return false;
  }
  if (i != text.size()) return false;
  if (negative) {
    // Negative zero in any spelling ("-0", "-0.000", "-0.0e10") is not a canonical decimal.
    bool all_zero = true;
    for (std::size_t k = mantissa_start; k < mantissa_end; ++k) {
      if (IsDigit(text[k]) && text[k] != '0') all_zero = false;
    }
    if (all_zero) return false;
  }
  return true;
}

std::string RenderWireFloat(double value) {
  std::string out;
  AppendJcsNumber(value, out);
  return out;
}

Result<double> ParseWireFloat(std::string_view text) {
  Result<double> value = ParseJsonNumberLexeme(text);
  if (!value || !std::isfinite(*value) || RenderWireFloat(*value) != text) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{:?} is not a canonical finite binary64 string",
                             std::string(text.substr(0, 64))));
  }
  return *value;
}

Result<JsonValue> CheckUploadedWireValue(WireValueType type, const JsonValue& value,
                                         std::string_view schema, std::string_view table,
                                         std::string_view column) {
  auto reject = [&](WireValueCategory category) {
    return Error(Rejection(type, category, schema, table, column));
  };
  switch (type) {
    case WireValueType::kOther:
      return value;
    case WireValueType::kInt2:
    case WireValueType::kInt4:
    case WireValueType::kInt8: {
      if (value.is_number()) return reject(WireValueCategory::kLegacyJsonNumber);
      if (!value.is_string()) return reject(WireValueCategory::kInvalidInteger);
      std::int64_t parsed = 0;
      switch (ParseWireInt64(value.as_string(), parsed)) {
        case WireIntParse::kBadGrammar: return reject(WireValueCategory::kInvalidInteger);
        case WireIntParse::kOutOfRange: return reject(WireValueCategory::kOutOfRange);
        case WireIntParse::kOk: break;
      }
      if (!InColumnRange(type, parsed)) return reject(WireValueCategory::kOutOfRange);
      return value;
    }
    case WireValueType::kNumeric:
      if (value.is_number()) return reject(WireValueCategory::kLegacyJsonNumber);
      if (!value.is_string() || !IsWireDecimal(value.as_string())) {
        return reject(WireValueCategory::kInvalidDecimal);
      }
      return value;
    case WireValueType::kFloat4:
    case WireValueType::kFloat8:
      if (value.is_number()) return reject(WireValueCategory::kLegacyJsonNumber);
      if (!value.is_string() || !ParseWireFloat(value.as_string())) {
        return reject(WireValueCategory::kInvalidFloat);
      }
      return value;
    case WireValueType::kBool:
      if (value.is_bool()) return value;
      if (value.is_string() && value.as_string() == "0") return JsonValue::Bool(false);
      if (value.is_string() && value.as_string() == "1") return JsonValue::Bool(true);
      return reject(WireValueCategory::kInvalidBooleanBridge);
  }
  return reject(WireValueCategory::kInvalidInteger);
}

Result<JsonValue> WireValueFromPostgres(WireValueType type, const JsonValue& value) {
  if (value.is_null() || type == WireValueType::kOther) return value;
  switch (type) {
    case WireValueType::kInt2:
    case WireValueType::kInt4:
    case WireValueType::kInt8: {
      // PostgreSQL renders integers as JSON numbers; an already converted string is accepted
      // too, so the conversion is idempotent.
      const std::string* text = value.is_number()   ? &value.as_number().lexeme
                                : value.is_string() ? &value.as_string()
                                                    : nullptr;
      std::int64_t parsed = 0;
      if (text == nullptr || ParseWireInt64(*text, parsed) != WireIntParse::kOk ||
          !InColumnRange(type, parsed)) {
        return Error(OutputFault(type, Describe(value)));
      }
      return JsonValue::String(*text);
    }
    case WireValueType::kNumeric: {
      // PostgreSQL's own text, scale included ("12.3000"); numeric NaN/Infinity arrive as
      // strings and have no wire form.
      const std::string* text = value.is_number()   ? &value.as_number().lexeme
                                : value.is_string() ? &value.as_string()
                                                    : nullptr;
      if (text == nullptr || !IsWireDecimal(*text)) return Error(OutputFault(type, Describe(value)));
      return JsonValue::String(*text);
    }
    case WireValueType::kFloat4: {
      float narrow = 0;
      if (value.is_number()) {
        // PostgreSQL prints the shortest float4 spelling ("1.2345679"): read it as a float so
        // the stored float4 is recovered exactly, then widen.
        const std::string& lexeme = value.as_number().lexeme;
        const auto [end, ec] = std::from_chars(lexeme.data(), lexeme.data() + lexeme.size(),
                                               narrow);
        if (ec != std::errc() || end != lexeme.data() + lexeme.size() || !std::isfinite(narrow)) {
          return Error(OutputFault(type, Describe(value)));
        }
      } else if (value.is_string()) {
        Result<double> wide = ParseWireFloat(value.as_string());
        if (!wide) return Error(OutputFault(type, Describe(value)));
        narrow = static_cast<float>(*wide);
        if (static_cast<double>(narrow) != *wide) return Error(OutputFault(type, Describe(value)));
      } else {
        return Error(OutputFault(type, Describe(value)));
      }
      return JsonValue::String(RenderWireFloat(static_cast<double>(narrow)));
    }
    case WireValueType::kFloat8: {
      if (value.is_number()) {
        const double wide = value.as_number().value;
        if (!std::isfinite(wide)) return Error(OutputFault(type, Describe(value)));
        return JsonValue::String(RenderWireFloat(wide));
      }
      if (value.is_string() && ParseWireFloat(value.as_string())) return value;
      return Error(OutputFault(type, Describe(value)));
    }
    case WireValueType::kBool:
      if (value.is_bool()) return value;
      return Error(OutputFault(type, Describe(value)));
    case WireValueType::kOther:
      break;
  }
  return value;
}

}  // namespace oversync::protocol
