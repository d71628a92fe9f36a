#include "oversync/http/url.h"

#include <cstddef>

namespace oversync::http {
namespace {

int HexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view text, DecodeMode mode) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;  // needs two more characters
      const int hi = HexValue(text[i + 1]);
      const int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(static_cast<unsigned char>(hi * 16 + lo)));
      i += 2;
    } else if (c == '+' && mode == DecodeMode::kQuery) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string CollapseSlashes(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (const char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  return out;
}

QueryParams ParseQuery(std::string_view raw_query) {
  QueryParams params;
  while (!raw_query.empty()) {
    const std::size_t amp = raw_query.find('&');
    std::string_view pair = raw_query.substr(0, amp);
    raw_query.remove_prefix(amp == std::string_view::npos ? raw_query.size() : amp + 1);
    if (pair.empty()) continue;
    if (pair.find(';') != std::string_view::npos) continue;  // Go: "invalid semicolon separator"
    const std::size_t eq = pair.find('=');
    std::string_view raw_key = pair.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::optional<std::string> key = PercentDecode(raw_key, DecodeMode::kQuery);
    if (!key) continue;
    std::optional<std::string> value = PercentDecode(raw_value, DecodeMode::kQuery);
    if (!value) continue;
    params.emplace_back(std::move(*key), std::move(*value));
  }
  return params;
}

std::optional<std::string_view> FirstQueryValue(const QueryParams& params,
                                                std::string_view name) noexcept {
  for (const auto& [key, value] : params) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

}  // namespace oversync::http
