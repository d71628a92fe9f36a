#include "oversync/protocol/json_value.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <simdjson.h>

#include "oversync/protocol/json_writer.h"
#include "utf8.h"

namespace oversync::protocol {

// ---------------------------------------------------------------------------------------------
// JsonNumber / JsonValue

bool JsonNumber::IsIntegerLexeme() const noexcept {
  return lexeme.find_first_of(".eE") == std::string::npos;
}

namespace {
[[noreturn]] void KindMismatch(const char* wanted) {
  std::fprintf(stderr, "oversync: JsonValue accessor %s used on a value of another kind\n", wanted);
  std::abort();
}
}  // namespace

JsonValue::JsonValue() noexcept = default;
JsonValue::~JsonValue() = default;
JsonValue::JsonValue(JsonValue&&) noexcept = default;
JsonValue& JsonValue::operator=(JsonValue&&) noexcept = default;
JsonValue::JsonValue(const JsonValue& other)
    : storage_(other.storage_ ? std::make_unique<Storage>(*other.storage_) : nullptr) {}
JsonValue& JsonValue::operator=(const JsonValue& other) {
  if (this != &other) {
    storage_ = other.storage_ ? std::make_unique<Storage>(*other.storage_) : nullptr;
  }
  return *this;
}

JsonValue JsonValue::Bool(bool b) {
  JsonValue v;
  v.storage_ = std::make_unique<Storage>(b);
  return v;
}

JsonValue JsonValue::Number(double value) {
  std::string lexeme;
  AppendGoFloat(value, lexeme);
  return NumberWithLexeme(value, std::move(lexeme));
}

JsonValue JsonValue::Integer(std::int64_t value) {
  return NumberWithLexeme(static_cast<double>(value), std::to_string(value));
}

JsonValue JsonValue::NumberWithLexeme(double value, std::string lexeme) {
  JsonValue v;
  v.storage_ = std::make_unique<Storage>(JsonNumber{value, std::move(lexeme)});
  return v;
}

JsonValue JsonValue::String(std::string s) {
  JsonValue v;
  v.storage_ = std::make_unique<Storage>(std::move(s));
  return v;
}

JsonValue JsonValue::Array() { return Array(JsonArray()); }
JsonValue JsonValue::Object() { return Object(JsonObject()); }

JsonValue JsonValue::Array(JsonArray items) {
  JsonValue v;
  v.storage_ = std::make_unique<Storage>(std::move(items));
  return v;
}

JsonValue JsonValue::Object(JsonObject members) {
  JsonValue v;
  v.storage_ = std::make_unique<Storage>(std::move(members));
  return v;
}

JsonValue::Kind JsonValue::kind() const noexcept {
  if (!storage_) return Kind::kNull;
  switch (storage_->index()) {
    case 1:
      return Kind::kBool;
    case 2:
      return Kind::kNumber;
    case 3:
      return Kind::kString;
    case 4:
      return Kind::kArray;
    case 5:
      return Kind::kObject;
    default:
      return Kind::kNull;
  }
}

bool JsonValue::as_bool() const {
  if (!is_bool()) KindMismatch("as_bool");
  return std::get<bool>(*storage_);
}
const JsonNumber& JsonValue::as_number() const {
  if (!is_number()) KindMismatch("as_number");
  return std::get<JsonNumber>(*storage_);
}
const std::string& JsonValue::as_string() const {
  if (!is_string()) KindMismatch("as_string");
  return std::get<std::string>(*storage_);
}
const JsonArray& JsonValue::as_array() const {
  if (!is_array()) KindMismatch("as_array");
  return std::get<JsonArray>(*storage_);
}
JsonArray& JsonValue::mutable_array() {
  if (!is_array()) KindMismatch("mutable_array");
  return std::get<JsonArray>(*storage_);
}
const JsonObject& JsonValue::as_object() const {
  if (!is_object()) KindMismatch("as_object");
  return std::get<JsonObject>(*storage_);
}
JsonObject& JsonValue::mutable_object() {
  if (!is_object()) KindMismatch("mutable_object");
  return std::get<JsonObject>(*storage_);
}

const JsonValue* JsonValue::Find(std::string_view key) const noexcept {
  if (!is_object()) return nullptr;
  const auto& members = std::get<JsonObject>(*storage_);
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    if (it->key == key) return &it->value;
  }
  return nullptr;
}

void JsonValue::Add(std::string key, JsonValue value) {
  mutable_object().push_back(JsonMember{std::move(key), std::move(value)});
}

bool operator==(const JsonValue& a, const JsonValue& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case JsonValue::Kind::kNull:
      return true;
    case JsonValue::Kind::kBool:
      return a.as_bool() == b.as_bool();
    case JsonValue::Kind::kNumber:
      return a.as_number().value == b.as_number().value;
    case JsonValue::Kind::kString:
      return a.as_string() == b.as_string();
    case JsonValue::Kind::kArray:
      return a.as_array() == b.as_array();
    case JsonValue::Kind::kObject:
      return a.as_object() == b.as_object();
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Numbers

namespace {

bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }

// RFC 8259 number grammar: -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?
// On success reports the decimal exponent of the first significant digit, used to tell
// underflow from overflow when from_chars reports out of range.
bool CheckNumberGrammar(std::string_view s, bool& is_zero_mantissa, long long& magnitude) {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  const std::size_t int_start = i;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && IsDigit(s[i])) ++i;
  } else {
    return false;
  }
  const std::size_t int_len = i - int_start;
  long long leading_fraction_zeros = 0;
  bool fraction_nonzero = false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const std::size_t frac_start = i;
    bool seen_nonzero = false;
    while (i < s.size() && IsDigit(s[i])) {
      if (s[i] != '0') {
        seen_nonzero = true;
      } else if (!seen_nonzero) {
        ++leading_fraction_zeros;
      }
      ++i;
    }
    if (i == frac_start) return false;
    fraction_nonzero = seen_nonzero;
  }
  long long exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      negative = s[i] == '-';
      ++i;
    }
    const std::size_t exp_start = i;
    while (i < s.size() && IsDigit(s[i])) {
      if (exponent < 100000000) exponent = exponent * 10 + (s[i] - '0');
      ++i;
    }
    if (i == exp_start) return false;
    if (negative) exponent = -exponent;
  }
  if (i != s.size()) return false;
  const bool int_is_zero = int_len == 1 && s[int_start] == '0';
  is_zero_mantissa = int_is_zero && !fraction_nonzero;
  // Position of the first significant digit relative to the decimal point.
  magnitude = int_is_zero ? exponent - leading_fraction_zeros
                          : exponent + static_cast<long long>(int_len);
  return true;
}

}  // namespace

namespace {
// Go's number rules; `overflow` (optional) is set when the only problem is float64 overflow.
Result<double> ParseNumber(std::string_view lexeme, bool* overflow) {
  bool is_zero = false;
  long long magnitude = 0;
  if (!CheckNumberGrammar(lexeme, is_zero, magnitude)) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("invalid JSON number {:?}", std::string(lexeme.substr(0, 64))));
  }
  const bool negative = lexeme.front() == '-';
  if (is_zero) return negative ? -0.0 : 0.0;
  double value = 0;
  const char* first = lexeme.data();
  const char* last = lexeme.data() + lexeme.size();
  const auto [ptr, ec] = std::from_chars(first, last, value, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    // Go's strconv.ParseFloat: underflow silently gives ±0, overflow is a range error.
    if (magnitude <= 0) return negative ? -0.0 : 0.0;
    if (overflow != nullptr) *overflow = true;
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("JSON number {} is out of range of a float64",
                             std::string(lexeme.substr(0, 64))));
  }
  if (ec != std::errc() || ptr != last) {
    return Error(ErrorCode::kInvalidArgument, "invalid JSON number");
  }
  return value;
}
}  // namespace

Result<double> ParseJsonNumberLexeme(std::string_view lexeme) {
  return ParseNumber(lexeme, nullptr);
}

// ---------------------------------------------------------------------------------------------
// Go sanitization: invalid UTF-8 inside strings and unpaired surrogate escapes become U+FFFD,
// exactly as Go's encoding/json decoder (unquote) does. Outside strings bytes are copied as-is
// (invalid bytes there are syntax errors in Go and in simdjson alike).

namespace {

int HexDigit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads "\uXXXX" at s[i]; returns the code unit or -1.
int ReadU4(std::string_view s, std::size_t i) noexcept {
  if (i + 6 > s.size() || s[i] != '\\' || s[i + 1] != 'u') return -1;
  int v = 0;
  for (std::size_t k = 2; k < 6; ++k) {
    const int d = HexDigit(s[i + k]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

using internal::ValidUtf8Length;

bool HasSurrogateEscape(std::string_view s) noexcept {
  for (std::size_t i = s.find('\\'); i != std::string_view::npos; i = s.find('\\', i + 1)) {
    if (i + 3 < s.size() && s[i + 1] == 'u' && (s[i + 2] == 'd' || s[i + 2] == 'D')) {
      const int d = HexDigit(s[i + 3]);
      if (d >= 8) return true;
    }
  }
  return false;
}

constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";
constexpr std::string_view kReplacementEscape = "\\ufffd";

void GoSanitize(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size() + 16);
  bool in_string = false;
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    if (!in_string) {
      if (c == '"') in_string = true;
      out += c;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = false;
      out += c;
      ++i;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= in.size()) {
        out += c;
        ++i;
        continue;
      }
      const int unit = ReadU4(in, i);
      if (unit >= 0xD800 && unit <= 0xDFFF) {
        const int next = ReadU4(in, i + 6);
        if (unit <= 0xDBFF && next >= 0xDC00 && next <= 0xDFFF) {
          out.append(in.substr(i, 12));  // valid pair
          i += 12;
        } else {
          out += kReplacementEscape;
          i += 6;
        }
        continue;
      }
      out.append(in.substr(i, 2));  // any other escape; the parser validates it
      i += 2;
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x80) {
      out += c;
      ++i;
      continue;
    }
    const std::size_t n = ValidUtf8Length(in, i);
    if (n == 0) {
      out += kReplacementUtf8;
      ++i;
    } else {
      out.append(in.substr(i, n));
      i += n;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// simdjson On-Demand walk into JsonValue. Every value is visited, so the whole document is
// validated (On-Demand alone would skip unvisited values unchecked).

using simdjson::error_code;
namespace od = simdjson::ondemand;

std::string_view TrimRightJsonSpace(std::string_view s) noexcept {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' ||
                        s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

Status SimdjsonError(error_code code, const char* what) {
  return {ErrorCode::kInvalidArgument,
          fmt::format("invalid JSON ({}): {}", what, simdjson::error_message(code))};
}

Result<JsonValue> NumberFromToken(std::string_view raw, const JsonParseOptions& options) {
  const std::string_view lexeme = TrimRightJsonSpace(raw);
  bool overflow = false;
  Result<double> value = ParseNumber(lexeme, &overflow);
  if (!value) {
    if (!overflow || !options.keep_out_of_range_numbers) return Error(std::move(value).error());
    value = lexeme.front() == '-' ? -HUGE_VAL : HUGE_VAL;
  }
  return JsonValue::NumberWithLexeme(*value, std::string(lexeme));
}

template <typename V>  // od::value or od::document
Result<JsonValue> WalkValue(V& v, int depth, const JsonParseOptions& options);

Result<JsonValue> WalkObject(od::object object, int depth, const JsonParseOptions& options) {
  JsonValue out = JsonValue::Object();
  JsonObject& members = out.mutable_object();
  for (auto field : object) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return Error(SimdjsonError(err, "object key"));
    std::string owned_key(key);
    od::value child;
    if (auto err = field.value().get(child)) return Error(SimdjsonError(err, "object member"));
    OVERSYNC_ASSIGN_OR_RETURN(JsonValue value, WalkValue(child, depth + 1, options));
    members.push_back(JsonMember{std::move(owned_key), std::move(value)});
  }
  return out;
}

Result<JsonValue> WalkArray(od::array array, int depth, const JsonParseOptions& options) {
  JsonValue out = JsonValue::Array();
  JsonArray& items = out.mutable_array();
  for (auto element : array) {
    od::value child;
    if (auto err = element.get(child)) return Error(SimdjsonError(err, "array element"));
    OVERSYNC_ASSIGN_OR_RETURN(JsonValue value, WalkValue(child, depth + 1, options));
    items.push_back(std::move(value));
  }
  return out;
}

Status DepthError() {
  return {ErrorCode::kInvalidArgument,
          fmt::format("invalid JSON: nesting deeper than {} levels", kMaxJsonDepth)};
}

// `depth` = number of enclosing arrays/objects. As in Go's scanner only arrays and objects count
// as nesting levels: kMaxJsonDepth nested containers are accepted, scalars inside them included.
template <typename V>
Result<JsonValue> WalkValue(V& v, int depth, const JsonParseOptions& options) {
  od::json_type type{};
  if (auto err = v.type().get(type)) return Error(SimdjsonError(err, "value"));
  switch (type) {
    case od::json_type::object: {
      if (depth >= kMaxJsonDepth) return Error(DepthError());
      od::object object;
      if (auto err = v.get_object().get(object)) return Error(SimdjsonError(err, "object"));
      return WalkObject(object, depth, options);
    }
    case od::json_type::array: {
      if (depth >= kMaxJsonDepth) return Error(DepthError());
      od::array array;
      if (auto err = v.get_array().get(array)) return Error(SimdjsonError(err, "array"));
      return WalkArray(array, depth, options);
    }
    case od::json_type::number:
      return NumberFromToken(v.raw_json_token(), options);
    case od::json_type::string: {
      std::string_view s;
      if (auto err = v.get_string().get(s)) return Error(SimdjsonError(err, "string"));
      return JsonValue::String(std::string(s));
    }
    case od::json_type::boolean: {
      bool b = false;
      if (auto err = v.get_bool().get(b)) return Error(SimdjsonError(err, "boolean"));
      return JsonValue::Bool(b);
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto err = v.is_null().get(is_null)) return Error(SimdjsonError(err, "null"));
      if (!is_null) return Error(ErrorCode::kInvalidArgument, "invalid JSON literal");
      return JsonValue::Null();
    }
  }
  return Error(ErrorCode::kInvalidArgument, "invalid JSON value");
}

}  // namespace

struct JsonParser::Impl {
  od::parser parser;
  std::string sanitized;
  std::string padded;
};

JsonParser::JsonParser() : impl_(std::make_unique<Impl>()) {}
JsonParser::~JsonParser() = default;

Result<JsonValue> JsonParser::Parse(std::string_view text, JsonParseOptions options) {
  // simdjson would reject invalid UTF-8 and lone surrogates outright; Go replaces them.
  if (!simdjson::validate_utf8(text.data(), text.size()) || HasSurrogateEscape(text)) {
    GoSanitize(text, impl_->sanitized);
    // Sanitizing changes nothing but invalid bytes and unpaired surrogate escapes.
    if (options.strict_unicode && impl_->sanitized != text) {
      return Error(ErrorCode::kInvalidArgument,
                   "invalid JSON: invalid UTF-8 or unpaired surrogate escape in a string");
    }
    text = impl_->sanitized;
  }
  // simdjson 3.0.1 rejects a root true/false/null followed by more trailing whitespace than its
  // 6-byte literal buffer holds (simdjson issue #2354); trailing whitespace never changes the
  // result, so drop it first.
  text = TrimRightJsonSpace(text);
  std::string& buffer = impl_->padded;
  buffer.resize(text.size() + simdjson::SIMDJSON_PADDING);
  if (!text.empty()) std::memcpy(buffer.data(), text.data(), text.size());
  std::memset(buffer.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);

  od::document doc;
  if (auto err = impl_->parser.iterate(buffer.data(), text.size(), buffer.size()).get(doc)) {
    return Error(SimdjsonError(err, "document"));
  }
  // A scalar number at the root is not consumed by raw_json_token(); the whole (trimmed) text
  // must then be exactly one number.
  od::json_type root_type{};
  if (auto err = doc.type().get(root_type)) return Error(SimdjsonError(err, "document"));
  if (root_type == od::json_type::number) {
    std::string_view lexeme = text;
    while (!lexeme.empty() && (lexeme.front() == ' ' || lexeme.front() == '\t' ||
                               lexeme.front() == '\n' || lexeme.front() == '\r')) {
      lexeme.remove_prefix(1);
    }
    return NumberFromToken(lexeme, options);
  }
  OVERSYNC_ASSIGN_OR_RETURN(JsonValue root, WalkValue(doc, 0, options));
  const auto location = doc.current_location();
  if (location.error() != simdjson::OUT_OF_BOUNDS) {
    return Error(ErrorCode::kInvalidArgument, "invalid JSON: unexpected data after the document");
  }
  return root;
}

Result<JsonValue> ParseJson(std::string_view text) {
  JsonParser parser;
  return parser.Parse(text);
}

}  // namespace oversync::protocol
