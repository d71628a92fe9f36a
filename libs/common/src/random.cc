#include "oversync/common/random.h"

#include <climits>
#include <cstdio>
#include <cstdlib>

#include <openssl/rand.h>

namespace oversync {

void CryptoRandom::Fill(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t chunk = std::min<std::size_t>(out.size() - done, INT_MAX);
    if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) {
      std::fputs("oversync: RAND_bytes failed; refusing to continue without a CSPRNG\n", stderr);
      std::abort();
    }
    done += chunk;
  }
}

std::uint64_t SeededRandom::Next() noexcept {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void SeededRandom::Fill(std::span<std::uint8_t> out) {
  std::size_t i = 0;
  while (i < out.size()) {
    std::uint64_t v = Next();
    for (int b = 0; b < 8 && i < out.size(); ++b, ++i) {
      out[i] = static_cast<std::uint8_t>(v & 0xFF);
      v >>= 8;
    }
  }
}

}  // namespace oversync
