// Unit tests for oversync/common/uuid.h.
//
// Spec items: protocol.md §2.3 (UUID sync keys must be canonical: lowercase, dashed, 36 chars
// 8-4-4-4-12; uppercase, braces, no dashes and urn:uuid: are rejected), §2.5.2 (non-key uuid
// columns accept any parsable spelling on input, output lowercase dashed), §2.9 / uuid.h
// (RFC 4122 network byte order, as PostgreSQL uuid_send), RFC 4122 §4.4 (version 4 layout).
#include "oversync/common/uuid.h"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "oversync/common/random.h"

namespace oversync {
namespace {

// Deterministic RapidCheck runs: pin the seed unless RC_PARAMS is set by the caller.
[[maybe_unused]] const bool kRapidCheckSeedPinned = [] {
  return ::setenv("RC_PARAMS", "seed=20260322", /*overwrite=*/0) == 0;
}();

constexpr std::string_view kCanonical = "550e8400-e29b-41d4-a716-446655440000";
constexpr Uuid::Bytes kCanonicalBytes = {0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4,
                                         0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00};

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

void ExpectCanonicalRejects(std::string_view text) {
  SCOPED_TRACE(testing::Message() << "input \"" << text << "\"");
  const Result<Uuid> r = Uuid::ParseCanonical(text);
  ASSERT_FALSE(r.has_value()) << "parsed as " << r->ToString();
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

void ExpectLenientRejects(std::string_view text) {
  SCOPED_TRACE(testing::Message() << "input \"" << text << "\"");
  const Result<Uuid> r = Uuid::ParseLenient(text);
  ASSERT_FALSE(r.has_value()) << "parsed as " << r->ToString();
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Byte order and rendering

// uuid.h / protocol.md §2.9: RFC 4122 network order, the bytes of PostgreSQL uuid_send.
TEST(Uuid, ByteOrderIsNetworkOrder) {
  const Result<Uuid> u = Uuid::ParseCanonical(kCanonical);
  ASSERT_TRUE(u.has_value()) << u.error().ToString();
  EXPECT_EQ(u->bytes()[0], 0x55);
  EXPECT_EQ(u->bytes()[15], 0x00);
  EXPECT_EQ(u->bytes(), kCanonicalBytes);
  EXPECT_EQ(Uuid(kCanonicalBytes).ToString(), kCanonical);
}

// protocol.md §2.3: output is lowercase dashed 8-4-4-4-12.
TEST(Uuid, ToStringIsLowercaseDashed) {
  EXPECT_EQ(Uuid().ToString(), "00000000-0000-0000-0000-000000000000");
  Uuid::Bytes ff{};
  ff.fill(0xFF);
  EXPECT_EQ(Uuid(ff).ToString(), "ffffffff-ffff-ffff-ffff-ffffffffffff");
  const Uuid::Bytes seq = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                           0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
  EXPECT_EQ(Uuid(seq).ToString(), "01234567-89ab-cdef-fedc-ba9876543210");
}

TEST(Uuid, NilAndComparison) {
  EXPECT_TRUE(Uuid().is_nil());
  EXPECT_FALSE(Uuid(kCanonicalBytes).is_nil());
  const Result<Uuid> nil = Uuid::ParseCanonical("00000000-0000-0000-0000-000000000000");
  ASSERT_TRUE(nil.has_value());
  EXPECT_TRUE(nil->is_nil());
  EXPECT_EQ(*nil, Uuid());

  const Result<Uuid> a = Uuid::ParseCanonical("00000000-0000-0000-0000-0000000000ff");
  const Result<Uuid> b = Uuid::ParseCanonical("00000000-0000-0000-0000-000000000100");
  const Result<Uuid> c = Uuid::ParseCanonical("ff000000-0000-0000-0000-000000000000");
  ASSERT_TRUE(a && b && c);
  EXPECT_LT(*a, *b);
  EXPECT_LT(*b, *c);  // most significant byte first (network order)
  EXPECT_NE(*a, *b);
}

// ---------------------------------------------------------------------------------------------
// ParseCanonical (protocol.md §2.3)

TEST(UuidParseCanonical, AcceptsLowercaseDashed) {
  for (const std::string_view s :
       {kCanonical, std::string_view("00000000-0000-0000-0000-000000000000"),
        std::string_view("ffffffff-ffff-ffff-ffff-ffffffffffff"),
        std::string_view("01234567-89ab-cdef-0123-456789abcdef")}) {
    const Result<Uuid> r = Uuid::ParseCanonical(s);
    ASSERT_TRUE(r.has_value()) << s;
    EXPECT_EQ(r->ToString(), s);
  }
}

TEST(UuidParseCanonical, RejectsUppercase) {
  ExpectCanonicalRejects("550E8400-E29B-41D4-A716-446655440000");
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-44665544000A");  // one upper digit, last
  ExpectCanonicalRejects("A50e8400-e29b-41d4-a716-446655440000");  // first
  ExpectCanonicalRejects("550e8400-e29b-41D4-a716-446655440000");  // low nibble of a pair
}

TEST(UuidParseCanonical, RejectsBracesUrnAndBareHex) {
  ExpectCanonicalRejects("{550e8400-e29b-41d4-a716-446655440000}");
  ExpectCanonicalRejects("urn:uuid:550e8400-e29b-41d4-a716-446655440000");
  ExpectCanonicalRejects("550e8400e29b41d4a716446655440000");
}

TEST(UuidParseCanonical, RejectsWrongLengthAndDashPositions) {
  ExpectCanonicalRejects("");
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-44665544000");     // 35
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-4466554400000");   // 37
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-446655440000 ");   // trailing space
  ExpectCanonicalRejects(" 550e8400-e29b-41d4-a716-446655440000");   // leading space
  ExpectCanonicalRejects("550e840-0e29b-41d4-a716-446655440000");    // dash at 7
  ExpectCanonicalRejects("550e8400e-29b-41d4-a716-446655440000");    // dash at 9
  ExpectCanonicalRejects("550e8400-e29b41d4--a716-446655440000");
  ExpectCanonicalRejects("550e8400-e29b-41d4-a7164-46655440000");
  ExpectCanonicalRejects("550e8400_e29b_41d4_a716_446655440000");
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716+446655440000");
  ExpectCanonicalRejects("550e-8400-e29b-41d4-a716-44665544000");
}

TEST(UuidParseCanonical, RejectsNonHex) {
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-44665544000g");
  ExpectCanonicalRejects("g50e8400-e29b-41d4-a716-446655440000");
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-4466554400-0");
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-44665544000 ");
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-44665544000:");
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-44665544000/");
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-44665544000`");
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-44665544000@");
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-44665544000G");
  ExpectCanonicalRejects(std::string_view("550e8400-e29b-41d4-a716-44665544000\0", 36));
  ExpectCanonicalRejects("550e8400-e29b-41d4-a716-44665544000\xC3");
}

// ---------------------------------------------------------------------------------------------
// ParseLenient (Go uuid.Parse spellings; protocol.md §2.5.2 non-key uuid input)

TEST(UuidParseLenient, AcceptsGoSpellingsAndRendersCanonically) {
  const std::string upper = Upper(kCanonical);
  for (const std::string& s :
       {std::string(kCanonical), upper, std::string("550e8400-E29B-41d4-a716-446655440000"),
        "{" + std::string(kCanonical) + "}", "{" + upper + "}",
        "urn:uuid:" + std::string(kCanonical), "URN:UUID:" + std::string(kCanonical),
        "Urn:Uuid:" + upper, std::string("550e8400e29b41d4a716446655440000"),
        std::string("550E8400E29B41D4A716446655440000")}) {
    SCOPED_TRACE(s);
    const Result<Uuid> r = Uuid::ParseLenient(s);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->bytes(), kCanonicalBytes);
    EXPECT_EQ(r->ToString(), kCanonical);
  }
}

TEST(UuidParseLenient, RejectsOtherSpellings) {
  ExpectLenientRejects("");
  ExpectLenientRejects("550e8400-e29b-41d4-a716-44665544000");      // 35
  ExpectLenientRejects("550e8400-e29b-41d4-a716-4466554400000");    // 37
  ExpectLenientRejects("550e8400e29b41d4a71644665544000");          // 31 hex
  ExpectLenientRejects("550e8400e29b41d4a7164466554400000");        // 33 hex
  ExpectLenientRejects("550e8400e29b41d4a71644665544000g");         // 32 with non-hex
  ExpectLenientRejects("550e8400e29b41d4-716446655440000");         // 32 with a dash
  ExpectLenientRejects("(550e8400-e29b-41d4-a716-446655440000)");   // wrong brackets
  ExpectLenientRejects("{550e8400-e29b-41d4-a716-446655440000)");
  ExpectLenientRejects("[550e8400-e29b-41d4-a716-446655440000]");
  ExpectLenientRejects("{550e8400e29b41d4a716446655440000}");       // braced bare hex
  ExpectLenientRejects("urn:uuid:550e8400e29b41d4a716446655440000"); // urn bare hex
  ExpectLenientRejects("urn:uuix:550e8400-e29b-41d4-a716-446655440000");
  ExpectLenientRejects("uri:uuid:550e8400-e29b-41d4-a716-446655440000");
  ExpectLenientRejects("urn:uuid:{550e8400-e29b-41d4-a716-446655440000}");
  ExpectLenientRejects("550e8400-e29b-41d4-a716-44665544000x");
  ExpectLenientRejects("550e840-0e29b-41d4-a716-446655440000");
  ExpectLenientRejects("{550e8400-e29b-41d4-a716-44665544000x}");
  ExpectLenientRejects("urn:uuid:550e8400-e29b-41d4-a716_446655440000");
}

// ---------------------------------------------------------------------------------------------
// NewV4 (RFC 4122 §4.4)

TEST(UuidNewV4, SetsVersionAndVariantBits) {
  SeededRandom random(7);
  for (int i = 0; i < 1000; ++i) {
    const Uuid u = Uuid::NewV4(random);
    EXPECT_EQ(u.bytes()[6] >> 4, 0x4);
    EXPECT_EQ(u.bytes()[8] & 0xC0, 0x80);
    const std::string s = u.ToString();
    EXPECT_EQ(s[14], '4');
    EXPECT_NE(std::string_view("89ab").find(s[19]), std::string_view::npos) << s;
    const Result<Uuid> back = Uuid::ParseCanonical(s);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, u);
  }
}

// random.h: SeededRandom is a deterministic splitmix64 stream; NewV4 keeps all other bits.
TEST(UuidNewV4, DeterministicWithSeededRandom) {
  SeededRandom a(42);
  SeededRandom b(42);
  SeededRandom c(43);
  std::set<Uuid> seen;
  for (int i = 0; i < 100; ++i) {
    const Uuid ua = Uuid::NewV4(a);
    const Uuid ub = Uuid::NewV4(b);
    const Uuid uc = Uuid::NewV4(c);
    EXPECT_EQ(ua, ub);
    EXPECT_NE(ua, uc);
    EXPECT_FALSE(ua.is_nil());
    EXPECT_TRUE(seen.insert(ua).second) << "duplicate " << ua.ToString();
  }
  // Golden value: splitmix64(seed 0) yields 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, written
  // little-endian into the 16 bytes, then byte 6 high nibble = 4 and byte 8 top bits = 10.
  SeededRandom zero(0);
  EXPECT_EQ(Uuid::NewV4(zero).ToString(), "afcd1d7b-39a8-40e2-b465-b9a16a9e786e");
}

// CryptoRandom also produces valid, distinct v4 UUIDs (no fixed expectations on values).
TEST(UuidNewV4, CryptoRandomProducesValidDistinctIds) {
  CryptoRandom random;
  const Uuid a = Uuid::NewV4(random);
  const Uuid b = Uuid::NewV4(random);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.bytes()[6] >> 4, 0x4);
  EXPECT_EQ(b.bytes()[8] & 0xC0, 0x80);
}

// ---------------------------------------------------------------------------------------------
// Properties

// ToString -> ParseCanonical / ParseLenient round trip for any 16 bytes; format is 8-4-4-4-12
// lowercase; uppercase spelling is lenient-only.
RC_GTEST_PROP(UuidProperty, ToStringRoundTrip, (const std::array<std::uint8_t, 16>& raw)) {
  const Uuid u(raw);
  const std::string s = u.ToString();
  RC_ASSERT(s.size() == 36U);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      RC_ASSERT(s[i] == '-');
    } else {
      RC_ASSERT(IsLowerHex(s[i]));
    }
  }
  const Result<Uuid> canonical = Uuid::ParseCanonical(s);
  RC_ASSERT(canonical.has_value());
  RC_ASSERT(*canonical == u);
  const Result<Uuid> lenient = Uuid::ParseLenient(s);
  RC_ASSERT(lenient.has_value());
  RC_ASSERT(*lenient == u);

  const std::string upper = Upper(s);
  if (upper != s) RC_ASSERT(!Uuid::ParseCanonical(upper).has_value());
  const Result<Uuid> from_upper = Uuid::ParseLenient(upper);
  RC_ASSERT(from_upper.has_value());
  RC_ASSERT(from_upper->ToString() == s);
}

// Byte order: comparing UUIDs equals comparing their canonical texts.
RC_GTEST_PROP(UuidProperty, OrderMatchesTextOrder,
              (const std::array<std::uint8_t, 16>& x, const std::array<std::uint8_t, 16>& y)) {
  const Uuid a(x);
  const Uuid b(y);
  RC_ASSERT((a < b) == (a.ToString() < b.ToString()));
  RC_ASSERT((a == b) == (a.ToString() == b.ToString()));
}

}  // namespace
}  // namespace oversync
