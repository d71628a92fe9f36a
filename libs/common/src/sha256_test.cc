// Unit tests for oversync/common/sha256.h.
//
// Spec items: FIPS 180-2 Appendix B (SHA-256 examples: "abc", the 448-bit two-block message,
// one million 'a'), protocol.md §2.7 (the bundle hash is lowercase hex SHA-256; hex parsing of
// client-supplied hashes accepts exactly 64 lowercase hex digits per sha256.h).
#include "oversync/common/sha256.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>

namespace oversync {
namespace {

constexpr std::string_view kEmptyHex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kAbcHex =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view k448Bit = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr std::string_view k448BitHex =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr std::string_view kMillionAHex =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

// FIPS 180-2 / NIST examples, one-shot.
TEST(Sha256, Fips180Vectors) {
  EXPECT_EQ(HexLower(Sha256::Digest("")), kEmptyHex);
  EXPECT_EQ(HexLower(Sha256::Digest("abc")), kAbcHex);
  EXPECT_EQ(HexLower(Sha256::Digest(k448Bit)), k448BitHex);
}

// FIPS 180-2 B.3: one million 'a', fed incrementally in uneven pieces.
TEST(Sha256, MillionAIncremental) {
  Sha256 hasher;
  const std::string chunk(997, 'a');  // prime size: pieces straddle 64-byte block boundaries
  std::size_t fed = 0;
  while (fed < 1'000'000) {
    const std::size_t n = std::min(chunk.size(), 1'000'000 - fed);
    hasher.Update(std::string_view(chunk).substr(0, n));
    fed += n;
  }
  EXPECT_EQ(HexLower(hasher.Finish()), kMillionAHex);

  // One-shot over the whole million.
  EXPECT_EQ(HexLower(Sha256::Digest(std::string(1'000'000, 'a'))), kMillionAHex);
}

// Incremental hashing over every split point equals the one-shot digest (including empty
// updates, which must be no-ops).
TEST(Sha256, IncrementalEqualsOneShot) {
  std::string message;
  for (int i = 0; i < 200; ++i) message += static_cast<char>(static_cast<unsigned char>(i * 37));
  for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{55}, std::size_t{56},
                          std::size_t{63}, std::size_t{64}, std::size_t{65}, std::size_t{119},
                          std::size_t{128}, std::size_t{200}}) {
    const std::string_view m = std::string_view(message).substr(0, len);
    const Sha256Digest expected = Sha256::Digest(m);
    for (std::size_t split = 0; split <= len; ++split) {
      Sha256 hasher;
      hasher.Update(m.substr(0, split));
      hasher.Update("");
      hasher.Update(m.substr(split));
      EXPECT_EQ(hasher.Finish(), expected) << "len " << len << " split " << split;
    }
    Sha256 bytewise;
    for (const char c : m) bytewise.Update(std::string_view(&c, 1));
    EXPECT_EQ(bytewise.Finish(), expected) << "len " << len;
  }
  // Embedded NUL bytes are data.
  EXPECT_NE(Sha256::Digest(std::string_view("a\0b", 3)), Sha256::Digest("ab"));
}

// sha256.h: Finish returns the digest and resets the hasher for reuse.
TEST(Sha256, FinishResets) {
  Sha256 hasher;
  hasher.Update("abc");
  EXPECT_EQ(HexLower(hasher.Finish()), kAbcHex);
  EXPECT_EQ(HexLower(hasher.Finish()), kEmptyHex);  // nothing fed since the reset
  hasher.Update("ab");
  hasher.Update("c");
  EXPECT_EQ(HexLower(hasher.Finish()), kAbcHex);
  hasher.Update(k448Bit);
  EXPECT_EQ(HexLower(hasher.Finish()), k448BitHex);
}

TEST(Sha256, MoveKeepsState) {
  Sha256 a;
  a.Update("ab");
  Sha256 b(std::move(a));
  b.Update("c");
  EXPECT_EQ(HexLower(b.Finish()), kAbcHex);
  Sha256 c;
  c.Update("garbage");
  c = std::move(b);
  c.Update("abc");
  EXPECT_EQ(HexLower(c.Finish()), kAbcHex);
}

TEST(HexLower, RendersLowercaseTwoDigitsPerByte) {
  EXPECT_EQ(HexLower(std::string_view("")), "");
  EXPECT_EQ(HexLower(std::string_view("\x00\x01\x0f\x10\x7f\x80\xab\xff", 8)),
            "00010f107f80abff");
  EXPECT_EQ(HexLower(std::string_view("abc")), "616263");
  Sha256Digest digest{};
  for (std::size_t i = 0; i < digest.size(); ++i) digest[i] = static_cast<std::uint8_t>(i * 8);
  const std::string hex = HexLower(digest);
  EXPECT_EQ(hex.size(), 64U);
  EXPECT_EQ(hex.substr(0, 8), "00081018");
  EXPECT_EQ(hex.substr(56), "e0e8f0f8");
}

// sha256.h: exactly 64 lowercase hex characters.
TEST(ParseSha256Hex, AcceptsExactly64LowercaseHex) {
  Sha256Digest out{};
  ASSERT_TRUE(ParseSha256Hex(kAbcHex, out));
  EXPECT_EQ(out, Sha256::Digest("abc"));
  EXPECT_EQ(HexLower(out), kAbcHex);
  ASSERT_TRUE(ParseSha256Hex(std::string(64, '0'), out));
  EXPECT_EQ(out, Sha256Digest{});
  ASSERT_TRUE(ParseSha256Hex(std::string(64, 'f'), out));
  for (const std::uint8_t b : out) EXPECT_EQ(b, 0xFF);
  ASSERT_TRUE(ParseSha256Hex("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                             out));
  EXPECT_EQ(out[0], 0x01);
  EXPECT_EQ(out[7], 0xef);
}

TEST(ParseSha256Hex, RejectsEverythingElse) {
  const std::string good(kAbcHex);
  std::string upper = good;
  for (char& c : upper) {
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
  }
  std::string one_upper = good;
  one_upper[0] = 'B';
  std::string non_hex = good;
  non_hex[63] = 'g';
  std::string with_space = good;
  with_space[10] = ' ';
  std::string with_nul = good;
  with_nul[31] = '\0';
  for (const std::string& s :
       {std::string(), good.substr(0, 63), good + "0", good + "\n", " " + good.substr(1), upper,
        one_upper, non_hex, with_space, with_nul, "0x" + good.substr(2), good.substr(0, 62) + "-1",
        std::string(128, 'a'), std::string(32, 'a')}) {
    Sha256Digest out{};
    EXPECT_FALSE(ParseSha256Hex(s, out)) << "\"" << s << "\"";
  }
}

}  // namespace
}  // namespace oversync
