// File: oversync/common/random.h
//
// Injected randomness. Libraries never call a global RNG: they take a RandomSource&.
#ifndef OVERSYNC_COMMON_RANDOM_H_
#define OVERSYNC_COMMON_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace oversync {

// Thread-safety: implementations state their own; CryptoRandom is thread-safe.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Fills `out` completely. Must not fail (implementations abort on an unusable CSPRNG, because
  // continuing with predictable ids would be a security bug, not an expected error).
  virtual void Fill(std::span<std::uint8_t> out) = 0;
};

// OpenSSL RAND_bytes. Thread-safe.
class CryptoRandom final : public RandomSource {
 public:
  void Fill(std::span<std::uint8_t> out) override;
};

// Deterministic splitmix64 stream for tests and simulations. Thread-compatible.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(std::uint64_t seed) noexcept : state_(seed) {}
  void Fill(std::span<std::uint8_t> out) override;
  std::uint64_t Next() noexcept;

 private:
  std::uint64_t state_;
};

}  // namespace oversync

#endif  // OVERSYNC_COMMON_RANDOM_H_
