#include "oversync/common/base64.h"

#include <array>
#include <cstdint>

#include <fmt/format.h>

namespace oversync {
namespace {

constexpr std::string_view kStdAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t kInvalid = 0xFF;

constexpr std::array<std::uint8_t, 256> MakeDecodeTable(std::string_view alphabet) {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table) entry = kInvalid;
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}
constexpr auto kStdDecode = MakeDecodeTable(kStdAlphabet);
constexpr auto kUrlDecode = MakeDecodeTable(kUrlAlphabet);

std::string Encode(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  const auto byte_at = [&](std::size_t k) { return static_cast<std::uint32_t>(
                                                static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = byte_at(i) << 16 | byte_at(i + 1) << 8 | byte_at(i + 2);
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t v = byte_at(i) << 16;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    const std::uint32_t v = byte_at(i) << 16 | byte_at(i + 1) << 8;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    if (pad) out += '=';
  }
  return out;
}

// Decodes groups of sextets. `text` holds only alphabet characters and trailing '=' (already
// stripped of skippable characters). `padded` says whether the input must be a multiple of 4.
Result<std::string> DecodeClean(std::string_view text, const std::array<std::uint8_t, 256>& table,
                                bool padded, bool require_zero_trailing_bits) {
  std::size_t data_len = text.size();
  if (padded) {
    if (text.size() % 4 != 0) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("base64 length {} is not a multiple of 4", text.size()));
    }
    std::size_t pad = 0;
    while (pad < 2 && data_len > 0 && text[data_len - 1] == '=') {
      --data_len;
      ++pad;
    }
  } else if (text.size() % 4 == 1) {
    return Error(ErrorCode::kInvalidArgument, "base64url length is invalid");
  }
  std::string out;
  out.reserve(data_len * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < data_len; ++i) {
    const std::uint8_t v = table[static_cast<unsigned char>(text[i])];
    if (v == kInvalid) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("illegal base64 data at input byte {}", i));
    }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // A final group of 1 sextet cannot encode a byte.
  if (data_len % 4 == 1) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("illegal base64 data at input byte {}", data_len - 1));
  }
  if (require_zero_trailing_bits && bits > 0 && (acc & ((1U << bits) - 1U)) != 0) {
    return Error(ErrorCode::kInvalidArgument, "base64 has non-zero trailing bits");
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) { return Encode(bytes, kStdAlphabet, true); }

std::string Base64UrlEncode(std::string_view bytes) { return Encode(bytes, kUrlAlphabet, false); }

Result<std::string> Base64Decode(std::string_view text, Base64Mode mode) {
  if (mode == Base64Mode::kCanonical) {
    return DecodeClean(text, kStdDecode, /*padded=*/true, /*require_zero_trailing_bits=*/true);
  }
  // Go's StdEncoding skips '\r' and '\n' wherever they appear.
  if (text.find_first_of("\r\n") == std::string_view::npos) {
    return DecodeClean(text, kStdDecode, true, false);
  }
  std::string cleaned;
  cleaned.reserve(text.size());
  for (const char c : text) {
    if (c != '\r' && c != '\n') cleaned += c;
  }
  return DecodeClean(cleaned, kStdDecode, true, false);
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  return DecodeClean(text, kUrlDecode, /*padded=*/false, /*require_zero_trailing_bits=*/true);
}

}  // namespace oversync
