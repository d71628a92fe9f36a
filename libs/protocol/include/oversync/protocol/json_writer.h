// File: oversync/protocol/json_writer.h
//
// JsonWriter: the one streaming JSON emitter of the project. It writes compact JSON (no
// insignificant whitespace) into a caller-owned std::string, escaping strings exactly like Go's
// encoding/json (HTML-safe: <, >, & as \u003c..., U+2028/9 escaped, invalid UTF-8 as \ufffd) and
// formatting doubles the Go way, so every body we send is byte-identical to the Go server's
// (protocol.md §1.4, §2.6).
//
// The writer does not validate the call sequence beyond comma placement; callers are encoders
// with a fixed shape. Thread-compatible.
#ifndef OVERSYNC_PROTOCOL_JSON_WRITER_H_
#define OVERSYNC_PROTOCOL_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "oversync/protocol/json_value.h"

namespace oversync::protocol {

// Appends `s` as a Go-escaped JSON string literal (with quotes).
void AppendGoQuoted(std::string_view s, std::string& out);

// Appends the Go encoding/json rendering of a finite double: shortest round-trip digits, plain
// decimal for 1e-6 <= |x| < 1e21, else exponent form with "e-7" (not "e-07"); -0 as "-0".
// REQUIRES: std::isfinite(x).
void AppendGoFloat(double x, std::string& out);

class JsonWriter {
 public:
  // `out` must outlive the writer; output is appended.
  explicit JsonWriter(std::string& out) : out_(out) {}

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  // Writes a member name; the next call writes its value.
  void Key(std::string_view key);

  void String(std::string_view s);
  void Int(std::int64_t v);
  void Uint(std::uint64_t v);
  void Double(double v);  // Go formatting; REQUIRES finite
  void Bool(bool b);
  void Null();
  // A pre-encoded, valid JSON value, copied verbatim.
  void Raw(std::string_view json);
  // A pre-encoded, valid JSON value written the way Go's encoder writes a json.RawMessage:
  // insignificant whitespace removed and <, >, &, U+2028, U+2029 escaped (encoding/json's
  // compact with HTML escaping). For stored PostgreSQL jsonb text ({"a": 1} -> {"a":1}).
  void RawCompact(std::string_view json);
  // A JsonValue in its own member order, numbers by their lexemes (not canonicalized).
  void Value(const JsonValue& value);

  // Convenience members.
  void Member(std::string_view key, std::string_view s) { Key(key); String(s); }
  void Member(std::string_view key, const char* s) { Key(key); String(s); }
  void Member(std::string_view key, std::int64_t v) { Key(key); Int(v); }
  void Member(std::string_view key, bool b) { Key(key); Bool(b); }

  std::string& out() noexcept { return out_; }

 private:
  void BeforeValue();

  std::string& out_;
  // One entry per open container: true while no element has been written yet.
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_JSON_WRITER_H_
