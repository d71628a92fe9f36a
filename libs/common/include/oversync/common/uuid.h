// File: oversync/common/uuid.h
//
// A 16-byte UUID value. Byte order is RFC 4122 network order, the same 16 bytes PostgreSQL's
// uuid_send produces, which the storage key encoding relies on (protocol.md §2.9).
// Thread-safety: a value type.
#ifndef OVERSYNC_COMMON_UUID_H_
#define OVERSYNC_COMMON_UUID_H_

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "oversync/common/random.h"
#include "oversync/common/status.h"

namespace oversync {

class Uuid {
 public:
  using Bytes = std::array<std::uint8_t, 16>;

  constexpr Uuid() noexcept = default;  // the nil UUID
  explicit constexpr Uuid(const Bytes& bytes) noexcept : bytes_(bytes) {}

  // Accepts only canonical text: 36 characters, lowercase hex, dashes at 8-4-4-4-12
  // (protocol.md §2.3: sync keys and every id the server issues).
  // Errors: kInvalidArgument.
  static Result<Uuid> ParseCanonical(std::string_view text);

  // Accepts the spellings Go's uuid.Parse accepts: dashed in any case, {braced}, urn:uuid:
  // prefixed, or 32 bare hex digits. Errors: kInvalidArgument.
  static Result<Uuid> ParseLenient(std::string_view text);

  // A random (version 4, RFC 4122 variant) UUID drawn from `random`.
  static Uuid NewV4(RandomSource& random);

  // Lowercase dashed 8-4-4-4-12.
  std::string ToString() const;

  const Bytes& bytes() const noexcept { return bytes_; }
  bool is_nil() const noexcept { return *this == Uuid(); }

  friend constexpr auto operator<=>(const Uuid&, const Uuid&) noexcept = default;

 private:
  Bytes bytes_{};
};

}  // namespace oversync

#endif  // OVERSYNC_COMMON_UUID_H_
