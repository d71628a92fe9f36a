// File: oversync/common/base64.h
//
// Base64 codecs used by the protocol: standard padded base64 (RFC 4648 §4) for bytea values and
// unpadded base64url (RFC 4648 §5) for JWTs. Decoded bytes are returned in a std::string (binary).
// All functions are pure and thread-safe.
#ifndef OVERSYNC_COMMON_BASE64_H_
#define OVERSYNC_COMMON_BASE64_H_

#include <string>
#include <string_view>

#include "oversync/common/status.h"

namespace oversync {

enum class Base64Mode {
  // Canonical only: padded, no whitespace, unused trailing bits zero. Exactly the strings
  // Base64Encode produces. What clients accept (protocol.md §2.5.2 "Client side").
  kCanonical,
  // Go's base64.StdEncoding.DecodeString: '\r' and '\n' anywhere are skipped, padding is
  // required, unused trailing bits may be non-zero. What the Go server accepts on upload.
  kGoStd,
};

// Standard alphabet, '=' padded, no line breaks.
std::string Base64Encode(std::string_view bytes);

// Errors: kInvalidArgument with a message naming the offending position.
Result<std::string> Base64Decode(std::string_view text, Base64Mode mode = Base64Mode::kCanonical);

// URL-safe alphabet without padding (JWT segments).
std::string Base64UrlEncode(std::string_view bytes);
// Accepts only the canonical unpadded URL-safe form. Errors: kInvalidArgument.
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace oversync

#endif  // OVERSYNC_COMMON_BASE64_H_
