// Unit tests for oversync/common/base64.h.
//
// Spec items: protocol.md §2.5.2 (bytea = standard padded base64, RFC 4648 §4, no line breaks;
// Go server decoder skips '\r'/'\n', ignores non-zero trailing bits, requires '='; clients accept
// only the canonical form), RFC 4648 §5/§10 (test vectors, base64url) and the JWT use of unpadded
// base64url (base64.h).
#include "oversync/common/base64.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

namespace oversync {
namespace {

// Deterministic RapidCheck runs: pin the seed unless RC_PARAMS is set by the caller.
[[maybe_unused]] const bool kRapidCheckSeedPinned = [] {
  return ::setenv("RC_PARAMS", "seed=20260322", /*overwrite=*/0) == 0;
}();

struct Vector {
  std::string_view bytes;
  std::string_view std_text;
  std::string_view url_text;
};

// RFC 4648 §10 test vectors (url form = same text without padding).
constexpr Vector kRfc4648Vectors[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

constexpr std::string_view kStdAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int v : values) out += static_cast<char>(static_cast<unsigned char>(v));
  return out;
}

// Every byte value 0..255 once.
std::string AllBytes() {
  std::string out;
  for (int v = 0; v < 256; ++v) out += static_cast<char>(static_cast<unsigned char>(v));
  return out;
}

void ExpectDecodes(std::string_view text, Base64Mode mode, std::string_view expected) {
  SCOPED_TRACE(testing::Message() << "input \"" << text << "\"");
  const Result<std::string> r = Base64Decode(text, mode);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(*r, expected);
}

void ExpectRejected(std::string_view text, Base64Mode mode) {
  SCOPED_TRACE(testing::Message() << "input \"" << text << "\"");
  const Result<std::string> r = Base64Decode(text, mode);
  ASSERT_FALSE(r.has_value()) << "decoded to \"" << *r << "\"";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(r.error().message().empty());
}

void ExpectUrlRejected(std::string_view text) {
  SCOPED_TRACE(testing::Message() << "input \"" << text << "\"");
  const Result<std::string> r = Base64UrlDecode(text);
  ASSERT_FALSE(r.has_value()) << "decoded to \"" << *r << "\"";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Standard alphabet: vectors

// RFC 4648 §10 vectors, encode direction.
TEST(Base64Encode, Rfc4648Vectors) {
  for (const Vector& v : kRfc4648Vectors) {
    EXPECT_EQ(Base64Encode(v.bytes), v.std_text) << "bytes \"" << v.bytes << "\"";
  }
}

// RFC 4648 §10 vectors, decode direction, in both modes.
TEST(Base64Decode, Rfc4648Vectors) {
  for (const Vector& v : kRfc4648Vectors) {
    ExpectDecodes(v.std_text, Base64Mode::kCanonical, v.bytes);
    ExpectDecodes(v.std_text, Base64Mode::kGoStd, v.bytes);
  }
}

// protocol.md §2.5.2: alphabet "+/" (not "-_"); binary bytes including NUL survive.
TEST(Base64Encode, StandardAlphabetAndBinary) {
  EXPECT_EQ(Base64Encode(Bytes({0xFB, 0xFF})), "+/8=");
  EXPECT_EQ(Base64Encode(Bytes({0xFF, 0xFF, 0xFF})), "////");
  EXPECT_EQ(Base64Encode(Bytes({0xFB, 0xEF, 0xBE})), "++++");
  EXPECT_EQ(Base64Encode(Bytes({0x00})), "AA==");
  EXPECT_EQ(Base64Encode(Bytes({0x00, 0x00, 0x00})), "AAAA");
  ExpectDecodes("+/8=", Base64Mode::kCanonical, Bytes({0xFB, 0xFF}));
  // The whole alphabet in order: 0x00 0x10 0x83 ... 0xBF (sextets 0..63).
  const Result<std::string> alphabet_bytes = Base64Decode(kStdAlphabet);
  ASSERT_TRUE(alphabet_bytes.has_value());
  ASSERT_EQ(alphabet_bytes->size(), 48U);
  EXPECT_EQ(alphabet_bytes->substr(0, 3), Bytes({0x00, 0x10, 0x83}));
  EXPECT_EQ(alphabet_bytes->substr(45, 3), Bytes({0xF3, 0xDF, 0xBF}));
  EXPECT_EQ(Base64Encode(*Base64Decode(kStdAlphabet)), kStdAlphabet);
  const std::string all = AllBytes();
  const std::string text = Base64Encode(all);
  EXPECT_EQ(text.size(), 344U);  // ceil(256 / 3) * 4
  EXPECT_EQ(text.find('\n'), std::string::npos);
  ExpectDecodes(text, Base64Mode::kCanonical, all);
}

// ---------------------------------------------------------------------------------------------
// Canonical mode rejects (protocol.md §2.5.2 "Client side": only canonical padded standard
// base64, i.e. exactly what Base64Encode produces).

TEST(Base64DecodeCanonical, RejectsMissingPadding) {
  for (const std::string_view s : {"Zg", "Zm8", "Zm9vYg", "Zm9vYmE", "QQ"}) {
    ExpectRejected(s, Base64Mode::kCanonical);
  }
}

TEST(Base64DecodeCanonical, RejectsBadLength) {
  for (const std::string_view s : {"Z", "Zg=", "Zm9vY", "Zg===", "Zm9vYmFyZ", "A", "AAAAA"}) {
    ExpectRejected(s, Base64Mode::kCanonical);
  }
}

TEST(Base64DecodeCanonical, RejectsCharactersOutsideAlphabet) {
  for (const std::string_view s :
       {"Zm9v!A==", "Zm-v", "Zm_v", "Zm9v*mFy", "Zm9v.mFy", "Zm\"v", "Zm9\\"}) {
    ExpectRejected(s, Base64Mode::kCanonical);
  }
  ExpectRejected(std::string_view("Zm\0v", 4), Base64Mode::kCanonical);
  ExpectRejected("Zm\x80v", Base64Mode::kCanonical);
  ExpectRejected("Zm\xC3\xA9v", Base64Mode::kCanonical);  // "é": 2 bytes, length still invalid
  ExpectRejected("Zm9\xFF", Base64Mode::kCanonical);
}

TEST(Base64DecodeCanonical, RejectsPaddingInTheMiddle) {
  for (const std::string_view s :
       {"Zg==Zg==", "Z=9v", "Zm=v", "=Zm9", "Zm9v====", "====", "A===", "Zg=A", "Zm8=Zm8="}) {
    ExpectRejected(s, Base64Mode::kCanonical);
  }
}

TEST(Base64DecodeCanonical, RejectsWhitespaceAndNewlines) {
  for (const std::string_view s :
       {"Zm9v\n", "\nZm9v", "Zm9v\r\nYmFy", "Zm 9v", "Zm9v YmFy", " Zm9v", "Zm9v\t", "Zg==\n",
        "Zm9v\rYmFy", "Zm9v\fYmFy", "Zg=\n="}) {
    ExpectRejected(s, Base64Mode::kCanonical);
  }
}

// RFC 4648 §3.5 canonical encoding: pad bits must be zero ("QR==" vs "QQ==").
TEST(Base64DecodeCanonical, RejectsNonZeroTrailingBits) {
  ExpectDecodes("QQ==", Base64Mode::kCanonical, "A");
  ExpectRejected("QR==", Base64Mode::kCanonical);
  ExpectRejected("QB==", Base64Mode::kCanonical);
  ExpectRejected("QP==", Base64Mode::kCanonical);
  ExpectDecodes("Zm8=", Base64Mode::kCanonical, "fo");
  ExpectRejected("Zm9=", Base64Mode::kCanonical);  // 2 unused bits = 01
  ExpectRejected("Zm+=", Base64Mode::kCanonical);  // 2 unused bits = 10
  ExpectRejected("Zm9vYh==", Base64Mode::kCanonical);
}

// ---------------------------------------------------------------------------------------------
// kGoStd mode (protocol.md §2.5.2 "Inbound": Go's StdEncoding.DecodeString)

// '\r' and '\n' are skipped anywhere, including before, after and between '=' characters.
TEST(Base64DecodeGoStd, SkipsCarriageReturnAndNewlineAnywhere) {
  ExpectDecodes("Zm9v\r\nYmFy", Base64Mode::kGoStd, "foobar");
  ExpectDecodes("\nZm9vYmFy\r\n", Base64Mode::kGoStd, "foobar");
  ExpectDecodes("Z\nm\r9\nv", Base64Mode::kGoStd, "foo");
  ExpectDecodes("Zm9v\r\n\r\nYmFy\r\n", Base64Mode::kGoStd, "foobar");
  ExpectDecodes("Zg=\n=", Base64Mode::kGoStd, "f");
  ExpectDecodes("Zg==\n", Base64Mode::kGoStd, "f");
  ExpectDecodes("Zm8\r=", Base64Mode::kGoStd, "fo");
  ExpectDecodes("\r\n", Base64Mode::kGoStd, "");
  ExpectDecodes("", Base64Mode::kGoStd, "");
  ExpectDecodes("\n\n\n", Base64Mode::kGoStd, "");

  // 76-column MIME-style wrapping of a longer payload.
  const std::string all = AllBytes();
  const std::string text = Base64Encode(all);
  std::string wrapped;
  for (std::size_t i = 0; i < text.size(); i += 76) {
    wrapped += text.substr(i, 76);
    wrapped += "\r\n";
  }
  ExpectDecodes(wrapped, Base64Mode::kGoStd, all);
  ExpectRejected(wrapped, Base64Mode::kCanonical);
}

// Go does not check the unused trailing bits.
TEST(Base64DecodeGoStd, AcceptsNonZeroTrailingBits) {
  ExpectDecodes("QR==", Base64Mode::kGoStd, "A");
  ExpectDecodes("QQ==", Base64Mode::kGoStd, "A");
  ExpectDecodes("QT==", Base64Mode::kGoStd, "A");
  ExpectDecodes("QP==", Base64Mode::kGoStd, "@");
  ExpectDecodes("Zm9=", Base64Mode::kGoStd, "fo");
  ExpectDecodes("Zm9vYh==", Base64Mode::kGoStd, "foob");
}

// '=' padding is still required, and everything else the canonical mode rejects stays rejected.
TEST(Base64DecodeGoStd, StillRequiresPaddingAndAlphabet) {
  for (const std::string_view s :
       {"Zg", "Zg\n", "Zm8", "Zm9vYg", "Zg=", "Zg===", "Z", "Zg==Zg==", "====", "=\nZg",
        "Zm9v YmFy", "Zm9v\tYmFy", "Zm9v\fYmFy", " Zm9v", "Zm-v", "Zm_v", "Zm9v!A=="}) {
    ExpectRejected(s, Base64Mode::kGoStd);
  }
}

// ---------------------------------------------------------------------------------------------
// base64url (RFC 4648 §5, unpadded; JWT segments)

TEST(Base64Url, Rfc4648VectorsBothWays) {
  for (const Vector& v : kRfc4648Vectors) {
    EXPECT_EQ(Base64UrlEncode(v.bytes), v.url_text);
    const Result<std::string> r = Base64UrlDecode(v.url_text);
    ASSERT_TRUE(r.has_value()) << v.url_text << ": " << r.error().ToString();
    EXPECT_EQ(*r, v.bytes);
  }
}

TEST(Base64Url, UsesUrlAlphabet) {
  EXPECT_EQ(Base64UrlEncode(Bytes({0xFB, 0xFF})), "-_8");
  EXPECT_EQ(Base64UrlEncode(Bytes({0xFF, 0xFF, 0xFF})), "____");
  EXPECT_EQ(Base64UrlEncode(Bytes({0xFB, 0xEF, 0xBE})), "----");
  const Result<std::string> r = Base64UrlDecode("-_8");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, Bytes({0xFB, 0xFF}));
  const std::string all = AllBytes();
  const Result<std::string> back = Base64UrlDecode(Base64UrlEncode(all));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
  // A JWT header segment: {"alg":"HS256","typ":"JWT"}.
  EXPECT_EQ(Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})"),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
}

TEST(Base64Url, RejectsPaddingAndStandardAlphabet) {
  for (const std::string_view s :
       {"Zg==", "Zm8=", "Zg=", "Zm9vYg==", "+/8", "Zm+v", "Zm/v", "Zm9v\n", "Zm 9", "Z", "Zm9vY",
        "Zm9v!", "QR", "Zm9", "=", "===="}) {
    ExpectUrlRejected(s);
  }
  // "QR" has non-zero unused bits; "QQ" is the canonical spelling of "A".
  const Result<std::string> canonical = Base64UrlDecode("QQ");
  ASSERT_TRUE(canonical.has_value());
  EXPECT_EQ(*canonical, "A");
}

// ---------------------------------------------------------------------------------------------
// Properties

std::string AsString(const std::vector<std::uint8_t>& v) {
  return {v.begin(), v.end()};
}

// decode(encode(bytes)) == bytes, standard alphabet, both modes.
RC_GTEST_PROP(Base64Property, StdRoundTrip, (const std::vector<std::uint8_t>& data)) {
  const std::string bytes = AsString(data);
  const std::string text = Base64Encode(bytes);
  const Result<std::string> canonical = Base64Decode(text, Base64Mode::kCanonical);
  RC_ASSERT(canonical.has_value());
  RC_ASSERT(*canonical == bytes);
  const Result<std::string> go = Base64Decode(text, Base64Mode::kGoStd);
  RC_ASSERT(go.has_value());
  RC_ASSERT(*go == bytes);
}

// decode(encode(bytes)) == bytes, URL alphabet.
RC_GTEST_PROP(Base64Property, UrlRoundTrip, (const std::vector<std::uint8_t>& data)) {
  const std::string bytes = AsString(data);
  const Result<std::string> back = Base64UrlDecode(Base64UrlEncode(bytes));
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == bytes);
}

// Encoded length (4*ceil(n/3) padded; ceil(4n/3) unpadded) and alphabet.
RC_GTEST_PROP(Base64Property, OutputLengthAndAlphabet, (const std::vector<std::uint8_t>& data)) {
  const std::string bytes = AsString(data);
  const std::size_t n = bytes.size();
  const std::string std_text = Base64Encode(bytes);
  RC_ASSERT(std_text.size() == (n + 2) / 3 * 4);
  const std::size_t pad = (3 - n % 3) % 3;
  for (std::size_t i = 0; i < std_text.size(); ++i) {
    if (i >= std_text.size() - pad) {
      RC_ASSERT(std_text[i] == '=');
    } else {
      RC_ASSERT(kStdAlphabet.find(std_text[i]) != std::string_view::npos);
    }
  }
  const std::string url_text = Base64UrlEncode(bytes);
  RC_ASSERT(url_text.size() == (4 * n + 2) / 3);
  for (const char c : url_text) RC_ASSERT(kUrlAlphabet.find(c) != std::string_view::npos);
}

// Differential against OpenSSL's EVP_EncodeBlock (standard alphabet, padded, no newlines).
RC_GTEST_PROP(Base64Property, MatchesOpenSslEncodeBlock, (const std::vector<std::uint8_t>& data)) {
  const std::string bytes = AsString(data);
  std::vector<unsigned char> out((data.size() + 2) / 3 * 4 + 1);
  const int len = EVP_EncodeBlock(out.data(), data.data(), static_cast<int>(data.size()));
  RC_ASSERT(len >= 0);
  const std::string openssl(reinterpret_cast<const char*>(out.data()),
                            static_cast<std::size_t>(len));
  RC_ASSERT(Base64Encode(bytes) == openssl);
}

// Canonical decode accepts a text exactly when it is the encoding of its own decoding; random
// texts over the alphabet plus '=' and '\n' exercise the reject paths.
RC_GTEST_PROP(Base64Property, CanonicalAcceptsOnlyEncoderOutput, ()) {
  const std::string text = *rc::gen::container<std::string>(
      rc::gen::elementOf(std::string("AQgw+/=\nZz09")));
  const Result<std::string> canonical = Base64Decode(text, Base64Mode::kCanonical);
  if (canonical.has_value()) {
    RC_ASSERT(Base64Encode(*canonical) == text);
  }
  const Result<std::string> go = Base64Decode(text, Base64Mode::kGoStd);
  if (canonical.has_value()) {
    RC_ASSERT(go.has_value());
    RC_ASSERT(*go == *canonical);
  }
  // Whatever the Go decoder accepts re-encodes to a canonical text.
  if (go.has_value()) {
    RC_ASSERT(Base64Decode(Base64Encode(*go), Base64Mode::kCanonical).value_or("") == *go);
  }
}

// The url codec and the std codec agree after alphabet substitution.
RC_GTEST_PROP(Base64Property, UrlIsStdWithSubstitutedAlphabet,
              (const std::vector<std::uint8_t>& data)) {
  std::string std_text = Base64Encode(AsString(data));
  while (!std_text.empty() && std_text.back() == '=') std_text.pop_back();
  for (char& c : std_text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  RC_ASSERT(Base64UrlEncode(AsString(data)) == std_text);
}

}  // namespace
}  // namespace oversync
