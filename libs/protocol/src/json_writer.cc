#include "oversync/protocol/json_writer.h"

#include <array>
#include <charconv>
#include <cmath>

#include "utf8.h"

namespace oversync::protocol {
namespace {

constexpr std::string_view kHex = "0123456789abcdef";

// Bytes < 0x80 that Go writes verbatim with HTML escaping on.
constexpr std::array<bool, 128> MakeSafeSet() {
  std::array<bool, 128> safe{};
  for (int c = 0x20; c < 0x80; ++c) safe[static_cast<std::size_t>(c)] = true;
  for (const char c : {'"', '\\', '<', '>', '&'}) safe[static_cast<std::size_t>(c)] = false;
  return safe;
}
constexpr auto kSafe = MakeSafeSet();

}  // namespace

void AppendGoQuoted(std::string_view s, std::string& out) {
  out += '"';
  std::size_t run_start = 0;
  std::size_t i = 0;
  const auto flush = [&](std::size_t end) {
    if (end > run_start) out.append(s.data() + run_start, end - run_start);
  };
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (kSafe[b]) {
        ++i;
        continue;
      }
      flush(i);
      switch (b) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:  // control characters and <, >, &
          out += "\\u00";
          out += kHex[b >> 4];
          out += kHex[b & 0xF];
          break;
      }
      ++i;
      run_start = i;
      continue;
    }
    const std::size_t n = internal::ValidUtf8Length(s, i);
    if (n == 0) {
      flush(i);
      out += "\\ufffd";
      ++i;
      run_start = i;
      continue;
    }
    if (n == 3 && b == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
      flush(i);
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 3;
      run_start = i;
      continue;
    }
    i += n;
  }
  flush(i);
  out += '"';
}

void AppendGoFloat(double x, std::string& out) {
  if (x == 0) {
    out += std::signbit(x) ? "-0" : "0";
    return;
  }
  // Shortest round-trip digits come from to_chars' scientific form ("d.ddde±XX"); Go's 'f'
  // format then places those digits, padding with zeros (1.2345678901234568e20 renders as
  // "123456789012345680000", not the exact binary expansion).
  std::array<char, 64> buf{};
  const auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), x, std::chars_format::scientific);
  (void)ec;  // 64 bytes always suffice for a shortest double rendering
  const std::string_view sci(buf.data(), static_cast<std::size_t>(end - buf.data()));
  const std::size_t e_pos = sci.find('e');
  const bool negative = sci.front() == '-';
  std::string_view mantissa = sci.substr(negative ? 1 : 0, e_pos - (negative ? 1 : 0));
  std::string digits;
  digits.reserve(20);
  for (const char c : mantissa) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                  exponent);
  const double magnitude = std::fabs(x);
  if (magnitude < 1e-6 || magnitude >= 1e21) {
    // Exponent form: Go prints at least two exponent digits, then shortens "e-0D" to "e-D".
    out += negative ? "-" : "";
    out += digits.front();
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1, std::string::npos);
    }
    out += exponent < 0 ? "e-" : "e+";
    const int abs_exp = exponent < 0 ? -exponent : exponent;
    if (abs_exp < 10 && exponent >= 0) out += '0';
    out += std::to_string(abs_exp);
    return;
  }
  if (negative) out += '-';
  const auto ndigits = static_cast<int>(digits.size());
  const int point = exponent + 1;  // digits before the decimal point
  if (point <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-point), '0');
    out += digits;
  } else if (point >= ndigits) {
    out += digits;
    out.append(static_cast<std::size_t>(point - ndigits), '0');
  } else {
    out.append(digits, 0, static_cast<std::size_t>(point));
    out += '.';
    out.append(digits, static_cast<std::size_t>(point), std::string::npos);
  }
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (first_.back()) {
      first_.back() = false;
    } else {
      out_ += ',';
    }
  }
}

void JsonWriter::BeginObject() {
  BeforeValue();
  out_ += '{';
  first_.push_back(true);
}

void JsonWriter::EndObject() {
  out_ += '}';
  first_.pop_back();
}

void JsonWriter::BeginArray() {
  BeforeValue();
  out_ += '[';
  first_.push_back(true);
}

void JsonWriter::EndArray() {
  out_ += ']';
  first_.pop_back();
}

void JsonWriter::Key(std::string_view key) {
  BeforeValue();
  AppendGoQuoted(key, out_);
  out_ += ':';
  after_key_ = true;
}

void JsonWriter::String(std::string_view s) {
  BeforeValue();
  AppendGoQuoted(s, out_);
}

void JsonWriter::Int(std::int64_t v) {
  BeforeValue();
  std::array<char, 24> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  (void)ec;
  out_.append(buf.data(), end);
}

void JsonWriter::Uint(std::uint64_t v) {
  BeforeValue();
  std::array<char, 24> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  (void)ec;
  out_.append(buf.data(), end);
}

void JsonWriter::Double(double v) {
  BeforeValue();
  AppendGoFloat(v, out_);
}

void JsonWriter::Bool(bool b) {
  BeforeValue();
  out_ += b ? "true" : "false";
}

void JsonWriter::Null() {
  BeforeValue();
  out_ += "null";
}

void JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  out_ += json;
}

void JsonWriter::RawCompact(std::string_view json) {
  BeforeValue();
  out_.reserve(out_.size() + json.size());
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (!in_string && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) continue;
    switch (c) {
      case '"':
        in_string = !in_string;
        out_ += c;
        break;
      case '\\':  // an escape: copy it and the escaped character unchanged
        out_ += c;
        if (i + 1 < json.size()) out_ += json[++i];
        break;
      case '<':
        out_ += "\\u003c";
        break;
      case '>':
        out_ += "\\u003e";
        break;
      case '&':
        out_ += "\\u0026";
        break;
      default:
        // U+2028 / U+2029 (E2 80 A8 / E2 80 A9) are escaped like Go's encoder does.
        if (static_cast<unsigned char>(c) == 0xE2 && i + 2 < json.size() &&
            static_cast<unsigned char>(json[i + 1]) == 0x80 &&
            (static_cast<unsigned char>(json[i + 2]) & 0xFE) == 0xA8) {
          out_ += static_cast<unsigned char>(json[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
          i += 2;
        } else {
          out_ += c;
        }
    }
  }
}

void JsonWriter::Value(const JsonValue& value) {
  switch (value.kind()) {
    case JsonValue::Kind::kNull:
      Null();
      return;
    case JsonValue::Kind::kBool:
      Bool(value.as_bool());
      return;
    case JsonValue::Kind::kNumber:
      Raw(value.as_number().lexeme);
      return;
    case JsonValue::Kind::kString:
      String(value.as_string());
      return;
    case JsonValue::Kind::kArray:
      BeginArray();
      for (const JsonValue& item : value.as_array()) Value(item);
      EndArray();
      return;
    case JsonValue::Kind::kObject:
      BeginObject();
      for (const JsonMember& member : value.as_object()) {
        Key(member.key);
        Value(member.value);
      }
      EndObject();
      return;
  }
}

}  // namespace oversync::protocol
