// File: oversync/protocol/json_value.h
//
// JsonValue: a generic JSON tree with Go encoding/json semantics, and the parser that builds it.
//
// The tree is what Go's json.Unmarshal into `any` produces, plus the source lexeme of every
// number: numbers carry both the IEEE-754 double Go would hold and their original text, so the
// server can tell a 2^53+1 integer from its rounded double (protocol.md §2.5.3) and profile B can
// later pass numeric strings through untouched.
//
// Objects keep their members in input order, duplicates included; canonical writers decide how to
// order and de-duplicate (Go: last wins; JCS: reject).
//
// Thread-safety: JsonValue is a value type. JsonParser is thread-compatible (one per thread).
#ifndef OVERSYNC_PROTOCOL_JSON_VALUE_H_
#define OVERSYNC_PROTOCOL_JSON_VALUE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "oversync/common/status.h"

namespace oversync::protocol {

struct JsonNumber {
  double value = 0;     // what Go's float64 holds (correctly rounded; underflow gives ±0)
  std::string lexeme;   // the number exactly as written in the source (valid JSON grammar)

  // True when the lexeme has no fraction and no exponent ("-12", "9007199254740993").
  bool IsIntegerLexeme() const noexcept;
};

class JsonValue;
struct JsonMember;
using JsonArray = std::vector<JsonValue>;
using JsonObject = std::vector<JsonMember>;

class JsonValue {
 public:
  enum class Kind : std::uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

  JsonValue() noexcept;  // null
  ~JsonValue();
  JsonValue(const JsonValue&);
  JsonValue& operator=(const JsonValue&);
  JsonValue(JsonValue&&) noexcept;
  JsonValue& operator=(JsonValue&&) noexcept;

  static JsonValue Null() { return {}; }
  static JsonValue Bool(bool b);
  // Lexeme = the Go canonical rendering of `value`. `value` must be finite.
  static JsonValue Number(double value);
  static JsonValue Integer(std::int64_t value);
  // Caller guarantees `lexeme` is valid JSON number grammar and `value` its double.
  static JsonValue NumberWithLexeme(double value, std::string lexeme);
  static JsonValue String(std::string s);
  // (Overloads instead of default arguments: JsonMember is incomplete here, which clang rejects
  // in a default argument.)
  static JsonValue Array();
  static JsonValue Array(JsonArray items);
  static JsonValue Object();
  static JsonValue Object(JsonObject members);

  Kind kind() const noexcept;
  bool is_null() const noexcept { return kind() == Kind::kNull; }
  bool is_bool() const noexcept { return kind() == Kind::kBool; }
  bool is_number() const noexcept { return kind() == Kind::kNumber; }
  bool is_string() const noexcept { return kind() == Kind::kString; }
  bool is_array() const noexcept { return kind() == Kind::kArray; }
  bool is_object() const noexcept { return kind() == Kind::kObject; }

  // Accessors: REQUIRES the matching kind (checked; a mismatch aborts — it is a bug).
  bool as_bool() const;
  const JsonNumber& as_number() const;
  const std::string& as_string() const;
  const JsonArray& as_array() const;
  JsonArray& mutable_array();
  const JsonObject& as_object() const;
  JsonObject& mutable_object();

  // Object member lookup with Go's duplicate rule: the LAST member named exactly `key`.
  // nullptr when absent or when this is not an object.
  const JsonValue* Find(std::string_view key) const noexcept;

  // Appends a member (objects only; REQUIRES is_object()).
  void Add(std::string key, JsonValue value);

  // Structural equality (numbers compare by double value, objects by member sequence).
  friend bool operator==(const JsonValue& a, const JsonValue& b);

 private:
  using Storage = std::variant<std::monostate, bool, JsonNumber, std::string, JsonArray, JsonObject>;
  std::unique_ptr<Storage> storage_;  // null == JSON null; keeps sizeof(JsonValue) one pointer
};

struct JsonMember {
  std::string key;
  JsonValue value;
  friend bool operator==(const JsonMember& a, const JsonMember& b) {
    return a.key == b.key && a.value == b.value;
  }
};

// Maximum nesting depth the parser accepts (Go allows 10000; see docs/compatibility.md).
inline constexpr int kMaxJsonDepth = 512;

struct JsonParseOptions {
  // Keep numbers beyond the float64 range (1e400) as ±infinity with their lexeme instead of
  // failing the whole document. Go decodes push payloads lazily (json.RawMessage), so such a
  // number only fails the row that carries it (protocol.md §2.5.3, §3.3); the push-chunk decoder
  // uses this mode and the row validation reports it. Never canonicalize such a value.
  bool keep_out_of_range_numbers = false;
  // Reject invalid UTF-8 and unpaired surrogate escapes instead of replacing them with U+FFFD
  // as Go does. RFC 8785 input (wire profile B, protocol-b.md §1.5, §3.1) must be well formed.
  bool strict_unicode = false;
};

// Parses one JSON document with Go encoding/json semantics:
//  * strict RFC 8259 grammar, only space/tab/CR/LF as whitespace, nothing after the document;
//  * invalid UTF-8 bytes inside strings and unpaired surrogate escapes become U+FFFD (Go);
//  * numbers become doubles with correct rounding; overflow (1e400) is an error, underflow is ±0;
//  * duplicate keys are kept (see JsonValue).
// Reuses its buffers across calls. Thread-compatible.
class JsonParser {
 public:
  JsonParser();
  ~JsonParser();
  JsonParser(const JsonParser&) = delete;
  JsonParser& operator=(const JsonParser&) = delete;

  // Errors: kInvalidArgument with a message saying what and where.
  Result<JsonValue> Parse(std::string_view text, JsonParseOptions options = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: parses with a temporary parser.
Result<JsonValue> ParseJson(std::string_view text);

// Parses a JSON number lexeme with Go's rules (grammar check + correctly rounded double;
// overflow is an error, underflow gives ±0). Errors: kInvalidArgument.
Result<double> ParseJsonNumberLexeme(std::string_view lexeme);

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_JSON_VALUE_H_
