// File: oversync/common/strings.h
//
// Small ASCII string and hex helpers shared by every library (one implementation each).
// All functions are pure and thread-safe.
#ifndef OVERSYNC_COMMON_STRINGS_H_
#define OVERSYNC_COMMON_STRINGS_H_

#include <optional>
#include <string>
#include <string_view>

namespace oversync {

// Removes leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
std::string_view TrimAsciiSpace(std::string_view s) noexcept;

// 'A'-'Z' -> 'a'-'z'; every other byte unchanged.
std::string ToLowerAscii(std::string_view s);

// Decodes hex digits of either case ("00ff", "00FF"). nullopt for an odd length or a non-hex
// character.
std::optional<std::string> HexDecode(std::string_view hex);

}  // namespace oversync

#endif  // OVERSYNC_COMMON_STRINGS_H_
