// File: oversync/common/sha256.h
//
// Incremental SHA-256 (OpenSSL EVP behind a pimpl) and lowercase hex rendering.
#ifndef OVERSYNC_COMMON_SHA256_H_
#define OVERSYNC_COMMON_SHA256_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace oversync {

using Sha256Digest = std::array<std::uint8_t, 32>;

// Thread-compatible: one hasher per thread. Move-only.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // Returns the digest and resets the hasher for reuse.
  Sha256Digest Finish();

  static Sha256Digest Digest(std::string_view bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Lowercase hex of arbitrary bytes ("a0b1...").
std::string HexLower(std::string_view bytes);
inline std::string HexLower(const Sha256Digest& digest) {
  return HexLower(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

// Parses exactly 64 lowercase hex characters. Returns false on any other input.
bool ParseSha256Hex(std::string_view hex, Sha256Digest& out) noexcept;

}  // namespace oversync

#endif  // OVERSYNC_COMMON_SHA256_H_
