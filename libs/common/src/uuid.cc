#include "oversync/common/uuid.h"

namespace oversync {
namespace {

int HexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses 36-char dashed text. `lowercase_only` rejects 'A'-'F'.
Result<Uuid> ParseDashed(std::string_view text, bool lowercase_only) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return Error(ErrorCode::kInvalidArgument, "invalid UUID format");
  }
  Uuid::Bytes bytes{};
  std::size_t out = 0;
  for (std::size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      ++i;
      continue;
    }
    const char hi_c = text[i];
    const char lo_c = text[i + 1];
    const int hi = HexValue(hi_c);
    const int lo = HexValue(lo_c);
    if (hi < 0 || lo < 0 ||
        (lowercase_only && ((hi_c >= 'A' && hi_c <= 'F') || (lo_c >= 'A' && lo_c <= 'F')))) {
      return Error(ErrorCode::kInvalidArgument, "invalid UUID format");
    }
    bytes[out++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return Uuid(bytes);
}

}  // namespace

Result<Uuid> Uuid::ParseCanonical(std::string_view text) { return ParseDashed(text, true); }

Result<Uuid> Uuid::ParseLenient(std::string_view text) {
  constexpr std::string_view kUrn = "urn:uuid:";
  if (text.size() == 36 + kUrn.size()) {
    for (std::size_t i = 0; i < kUrn.size(); ++i) {
      const char c = text[i];
      const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      if (lower != kUrn[i]) return Error(ErrorCode::kInvalidArgument, "invalid urn prefix");
    }
    return ParseDashed(text.substr(kUrn.size()), false);
  }
  if (text.size() == 38) {
    if (text.front() != '{' || text.back() != '}') {
      return Error(ErrorCode::kInvalidArgument, "invalid UUID format");
    }
    return ParseDashed(text.substr(1, 36), false);
  }
  if (text.size() == 32) {
    Bytes bytes{};
    for (std::size_t i = 0; i < 16; ++i) {
      const int hi = HexValue(text[2 * i]);
      const int lo = HexValue(text[2 * i + 1]);
      if (hi < 0 || lo < 0) return Error(ErrorCode::kInvalidArgument, "invalid UUID format");
      bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return Uuid(bytes);
  }
  if (text.size() == 36) return ParseDashed(text, false);
  return Error(ErrorCode::kInvalidArgument, "invalid UUID length");
}

Uuid Uuid::NewV4(RandomSource& random) {
  Bytes bytes{};
  random.Fill(bytes);
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return Uuid(bytes);
}

std::string Uuid::ToString() const {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes_[i] >> 4];
    out += kHex[bytes_[i] & 0x0F];
  }
  return out;
}

}  // namespace oversync
