// Private UTF-8 helpers shared by the parser and the writers.
#ifndef OVERSYNC_PROTOCOL_SRC_UTF8_H_
#define OVERSYNC_PROTOCOL_SRC_UTF8_H_

#include <cstddef>
#include <string_view>

namespace oversync::protocol::internal {

// Length of the valid UTF-8 sequence starting at s[i] under Go's utf8.DecodeRune rules
// (no overlongs, no encoded surrogates, max U+10FFFF), or 0 when s[i] starts no valid sequence.
inline std::size_t ValidUtf8Length(std::string_view s, std::size_t i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  const auto at = [&](std::size_t k) -> int {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : -1;
  };
  const auto cont = [](int b, int lo = 0x80, int hi = 0xBF) { return b >= lo && b <= hi; };
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(at(1)) ? 2 : 0;
  if (b0 == 0xE0) return cont(at(1), 0xA0, 0xBF) && cont(at(2)) ? 3 : 0;
  if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
    return cont(at(1)) && cont(at(2)) ? 3 : 0;
  }
  if (b0 == 0xED) return cont(at(1), 0x80, 0x9F) && cont(at(2)) ? 3 : 0;
  if (b0 == 0xF0) return cont(at(1), 0x90, 0xBF) && cont(at(2)) && cont(at(3)) ? 4 : 0;
  if (b0 >= 0xF1 && b0 <= 0xF3) return cont(at(1)) && cont(at(2)) && cont(at(3)) ? 4 : 0;
  if (b0 == 0xF4) return cont(at(1), 0x80, 0x8F) && cont(at(2)) && cont(at(3)) ? 4 : 0;
  return 0;
}

}  // namespace oversync::protocol::internal

#endif  // OVERSYNC_PROTOCOL_SRC_UTF8_H_
