#include "oversync/protocol/jcs.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <fmt/format.h>

#include "oversync/protocol/json_writer.h"
#include "utf8.h"

namespace oversync::protocol {
namespace {

using internal::ValidUtf8Length;

constexpr char kHex[] = "0123456789abcdef";

bool IsAscii(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool IsWellFormedUtf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = ValidUtf8Length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Decodes well-formed UTF-8 into UTF-16 code units (the JCS member sort key).
std::u16string ToUtf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    const std::size_t n = ValidUtf8Length(s, i);
    char32_t cp = 0;
    switch (n) {
      case 1: cp = b0; break;
      case 2: cp = (b0 & 0x1Fu) << 6 | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu); break;
      case 3:
        cp = (b0 & 0x0Fu) << 12 | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6 |
             (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
        break;
      default:
        cp = (b0 & 0x07u) << 18 | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12 |
             (static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6 |
             (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
        break;
    }
    i += n == 0 ? 1 : n;  // callers validated; never 0 here
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += static_cast<char16_t>(0xD800 + (cp >> 10));
      out += static_cast<char16_t>(0xDC00 + (cp & 0x3FF));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

// One member in JCS order. `utf16` is filled only when some name of the object is not ASCII:
// for ASCII names byte order already is UTF-16 order.
struct SortedMember {
  const JsonMember* member;
  std::u16string utf16;
};

Status AppendJcsValue(const JsonValue& value, std::string& out) {
  switch (value.kind()) {
    case JsonValue::Kind::kNull:
      out += "null";
      return {};
    case JsonValue::Kind::kBool:
      out += value.as_bool() ? "true" : "false";
      return {};
    case JsonValue::Kind::kNumber: {
      const JsonNumber& number = value.as_number();
      if (!std::isfinite(number.value)) {
        return {ErrorCode::kInvalidArgument,
                fmt::format("number {} is outside the binary64 range",
                            number.lexeme.substr(0, 40))};
      }
      AppendJcsNumber(number.value, out);
      return {};
    }
    case JsonValue::Kind::kString: {
      const std::string& s = value.as_string();
      if (!IsWellFormedUtf8(s)) {
        return {ErrorCode::kInvalidArgument, "string is not well-formed UTF-8"};
      }
      AppendJcsString(s, out);
      return {};
    }
    case JsonValue::Kind::kArray: {
      out += '[';
      bool first = true;
      for (const JsonValue& item : value.as_array()) {
        if (!first) out += ',';
        first = false;
        OVERSYNC_RETURN_IF_ERROR(AppendJcsValue(item, out));
      }
      out += ']';
      return {};
    }
    case JsonValue::Kind::kObject: {
      const JsonObject& members = value.as_object();
      bool all_ascii = true;
      for (const JsonMember& member : members) {
        if (!IsWellFormedUtf8(member.key)) {
          return {ErrorCode::kInvalidArgument, "object member name is not well-formed UTF-8"};
        }
        all_ascii = all_ascii && IsAscii(member.key);
      }
      std::vector<SortedMember> order;
      order.reserve(members.size());
      for (const JsonMember& member : members) {
        order.push_back(SortedMember{&member, all_ascii ? std::u16string() : ToUtf16(member.key)});
      }
      if (all_ascii) {
        std::sort(order.begin(), order.end(), [](const SortedMember& a, const SortedMember& b) {
          return a.member->key < b.member->key;
        });
      } else {
        std::sort(order.begin(), order.end(), [](const SortedMember& a, const SortedMember& b) {
          return a.utf16 < b.utf16;
        });
      }
      out += '{';
      for (std::size_t i = 0; i < order.size(); ++i) {
        if (i > 0) {
          if (order[i - 1].member->key == order[i].member->key) {
            return {ErrorCode::kInvalidArgument,
                    fmt::format("duplicate object member name {:?}",
                                order[i].member->key.substr(0, 64))};
          }
          out += ',';
        }
        AppendJcsString(order[i].member->key, out);
        out += ':';
        OVERSYNC_RETURN_IF_ERROR(AppendJcsValue(order[i].member->value, out));
      }
      out += '}';
      return {};
    }
  }
  return {ErrorCode::kInternal, "unknown JSON value kind"};
}

}  // namespace

void AppendJcsString(std::string_view s, std::string& out) {
  out += '"';
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.substr(run_start, i - run_start));
    run_start = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
        break;
    }
  }
  out.append(s.substr(run_start));
  out += '"';
}

void AppendJcsNumber(double x, std::string& out) {
  // ECMAScript's Number::toString and Go's encoding/json agree on digits and layout for every
  // finite double except negative zero (protocol-b.md §3.1).
  if (x == 0) {
    out += '0';
    return;
  }
  AppendGoFloat(x, out);
}

Status AppendJcs(const JsonValue& value, std::string& out) { return AppendJcsValue(value, out); }

JsonParseOptions JcsParseOptions() noexcept {
  JsonParseOptions options;
  options.strict_unicode = true;
  return options;
}

Result<std::string> CanonicalizeJcs(std::string_view text, JsonParser& parser) {
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue value, parser.Parse(text, JcsParseOptions()));
  std::string out;
  out.reserve(text.size());
  OVERSYNC_RETURN_IF_ERROR(AppendJcs(value, out));
  return out;
}

Result<std::string> CanonicalizeJcs(std::string_view text) {
  JsonParser parser;
  return CanonicalizeJcs(text, parser);
}

}  // namespace oversync::protocol
