#include "oversync/jwt/jwt.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "oversync/common/base64.h"

namespace oversync::jwt {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr std::string_view kHs256Header = R"({"alg":"HS256","typ":"JWT"})";
constexpr std::string_view kSecret = "test-secret";

constexpr TimePoint At(std::int64_t unix_seconds, std::int64_t extra_ns = 0) {
  return TimePoint(seconds(unix_seconds)) + nanoseconds(extra_ns);
}

// 2023-11-14T22:15:00Z: inside every validity window below unless a test says otherwise.
constexpr TimePoint kNow = At(1'700'000'100);

std::string Hs256(std::string_view payload, std::string_view secret = kSecret) {
  return SignSegments(HmacAlgorithm::kHs256, kHs256Header, payload, secret);
}

// Verifies and returns the user id, or "ERR: <message>".
std::string Verify(std::string_view token, TimePoint now = kNow,
                   std::string_view secret = kSecret) {
  Result<VerifiedToken> verified = VerifyHmac(token, secret, now);
  if (!verified.has_value()) {
    EXPECT_EQ(verified.error().code(), ErrorCode::kAuthenticationFailed);
    return "ERR: " + verified.error().message();
  }
  return verified->user_id;
}

bool Rejected(std::string_view token, TimePoint now = kNow, std::string_view secret = kSecret) {
  return Verify(token, now, secret).rfind("ERR: ", 0) == 0;
}

// ---------------------------------------------------------------------------------------------
// Known vectors.

// jwt.io's default example token.
constexpr std::string_view kJwtIoToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

TEST(JwtVectorTest, JwtIoDefaultTokenVerifies) {
  Result<VerifiedToken> verified = VerifyHmac(kJwtIoToken, "your-256-bit-secret", kNow);
  ASSERT_TRUE(verified.has_value()) << verified.error().ToString();
  EXPECT_EQ(verified->algorithm, HmacAlgorithm::kHs256);
  EXPECT_EQ(verified->user_id, "1234567890");
  EXPECT_EQ(verified->claims.sub, "1234567890");
  EXPECT_EQ(verified->claims.iat_seconds, 1516239022);  // decoded, not checked
  EXPECT_FALSE(verified->claims.exp_seconds.has_value());
  EXPECT_FALSE(verified->claims.nbf_seconds.has_value());
  EXPECT_EQ(verified->claims.iss, "");
}

TEST(JwtVectorTest, JwtIoDefaultTokenIsReproducedBySignSegments) {
  EXPECT_EQ(SignSegments(HmacAlgorithm::kHs256, kHs256Header,
                         R"({"sub":"1234567890","name":"John Doe","iat":1516239022})",
                         "your-256-bit-secret"),
            kJwtIoToken);
  EXPECT_TRUE(Rejected(kJwtIoToken, kNow, "your-256-bit-secreT"));
}

// RFC 7515 Appendix A.1 (HS256 with a binary JWK key; the header and payload contain CR LF).
TEST(JwtVectorTest, Rfc7515AppendixA1) {
  Result<std::string> key = Base64UrlDecode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE(key.has_value());
  const std::string token =
      SignSegments(HmacAlgorithm::kHs256, "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}",
                   "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n "
                   "\"http://example.com/is_root\":true}",
                   *key);
  EXPECT_EQ(token,
            "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
            "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290"
            "Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  // The signature and exp pass before 2011-03-22T18:43:00Z; the vector has no sub.
  EXPECT_EQ(Verify(token, At(1300819379), *key), "ERR: missing sub (user ID) in token");
  EXPECT_EQ(Verify(token, At(1300819380), *key), "ERR: token is expired");
}

// Vectors computed independently (Python hmac/hashlib).
TEST(JwtVectorTest, Hs384AndHs512AreAccepted) {
  const std::string_view hs384 =
      "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJib2IiLCJleHAiOjE3MDAwMDAzMDB9."
      "-i0VHiT42CbIRgmBMgVWjy8fOMxE_Y5iArFW2MsXioqQ4l9A-kfI8Ch6SFTOHFzD";
  const std::string_view hs512 =
      "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXJvbCIsIm5iZiI6MTcwMDAwMDAwMH0."
      "swjLpr_NbPA3i2cKSd1sV2MLm9Jk3DLl1XeXgcwEpMkCLTh_pFAjf5yj1zj_RSn2lIMw4C7LGpFEb5rsA_0knA";
  Result<VerifiedToken> v384 = VerifyHmac(hs384, "hs384-secret", kNow);
  ASSERT_TRUE(v384.has_value()) << v384.error().ToString();
  EXPECT_EQ(v384->algorithm, HmacAlgorithm::kHs384);
  EXPECT_EQ(v384->user_id, "bob");
  Result<VerifiedToken> v512 = VerifyHmac(hs512, "hs512-secret", kNow);
  ASSERT_TRUE(v512.has_value()) << v512.error().ToString();
  EXPECT_EQ(v512->algorithm, HmacAlgorithm::kHs512);
  EXPECT_EQ(v512->user_id, "carol");

  EXPECT_EQ(SignSegments(HmacAlgorithm::kHs384, R"({"alg":"HS384","typ":"JWT"})",
                         R"({"sub":"bob","exp":1700000300})", "hs384-secret"),
            hs384);
  EXPECT_EQ(SignSegments(HmacAlgorithm::kHs512, R"({"alg":"HS512","typ":"JWT"})",
                         R"({"sub":"carol","nbf":1700000000})", "hs512-secret"),
            hs512);
  // The algorithm named in the header is the one verified: an HS384 MAC under "HS512" fails.
  const std::string mislabeled =
      SignSegments(HmacAlgorithm::kHs384, R"({"alg":"HS512"})", R"({"sub":"bob"})", "hs384-secret");
  EXPECT_EQ(Verify(mislabeled, kNow, "hs384-secret"), "ERR: signature is invalid");
}

// ---------------------------------------------------------------------------------------------
// Issuing.

TEST(JwtSignTest, SignHs256MatchesGolangJwtBytes) {
  JwtClaims claims;
  claims.sub = "alice";
  claims.iss = std::string(kExampleIssuer);
  claims.iat_seconds = 1'700'000'000;
  claims.nbf_seconds = 1'700'000'000;
  claims.exp_seconds = 1'700'000'300;
  EXPECT_EQ(EncodeClaims(claims),
            R"({"iss":"go-oversync-examples","sub":"alice","exp":1700000300,"nbf":1700000000,)"
            R"("iat":1700000000})");
  EXPECT_EQ(
      SignHs256(claims, "your-secret-key-change-in-production"),
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJpc3MiOiJnby1vdmVyc3luYy1leGFtcGxlcyIsInN1YiI6ImFsaWNlIiwiZXhwIjoxNzAwMDAwMzAwLCJu"
      "YmYiOjE3MDAwMDAwMDAsImlhdCI6MTcwMDAwMDAwMH0.07oYz_6qX4crQnesdgFHVDpUlWcsZ8kZfjo22kZmgKE");
}

TEST(JwtSignTest, EncodeClaimsOmitsEmptyAndEscapesLikeGo) {
  EXPECT_EQ(EncodeClaims(JwtClaims{}), "{}");
  JwtClaims claims;
  claims.sub = "<a&b>\u2028\"";
  claims.exp_seconds = -5;
  EXPECT_EQ(EncodeClaims(claims), R"({"sub":"\u003ca\u0026b\u003e\u2028\"","exp":-5})");
}

TEST(JwtSignTest, ExampleClaimsTrimSubAndTruncateToSeconds) {
  const JwtClaims claims =
      ExampleClaims(" \t alice \u3000", At(1'700'000'000, 999'999'999), seconds(300));
  EXPECT_EQ(claims.sub, "alice");
  EXPECT_EQ(claims.iss, "go-oversync-examples");
  EXPECT_EQ(claims.iat_seconds, 1'700'000'000);
  EXPECT_EQ(claims.nbf_seconds, 1'700'000'000);
  EXPECT_EQ(claims.exp_seconds, 1'700'000'300);
}

TEST(JwtSignTest, RoundTripAndValidityWindow) {
  const TimePoint issued = At(1'700'000'000, 500'000'000);
  const std::string token = SignHs256(ExampleClaims("bob", issued, seconds(300)), kSecret);
  EXPECT_EQ(Verify(token, issued), "bob");
  EXPECT_EQ(Verify(token, At(1'700'000'000)), "bob");  // nbf == now is valid
  EXPECT_EQ(Verify(token, At(1'699'999'999, 999'999'999)), "ERR: token is not valid yet");
  EXPECT_EQ(Verify(token, At(1'700'000'299, 999'999'999)), "bob");  // now < exp
  EXPECT_EQ(Verify(token, At(1'700'000'300)), "ERR: token is expired");
  EXPECT_EQ(Verify(token, At(1'700'000'300), "other-secret"), "ERR: signature is invalid");
}

TEST(JwtSignTest, EmptySecretIsAnOrdinaryKey) {
  const std::string token = SignHs256(ExampleClaims("eve", kNow, seconds(60)), "");
  EXPECT_EQ(Verify(token, kNow, ""), "eve");
  EXPECT_TRUE(Rejected(token, kNow, "x"));
}

// ---------------------------------------------------------------------------------------------
// Algorithm.

TEST(JwtAlgorithmTest, OnlyHmacAlgorithmsAreAccepted) {
  const std::string payload = R"({"sub":"mallory"})";
  // alg "none" with an empty signature, and with a valid HS256 MAC.
  const std::string none_unsigned =
      Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." + Base64UrlEncode(payload) + ".";
  EXPECT_EQ(Verify(none_unsigned), "ERR: unexpected signing method: none");
  EXPECT_TRUE(Rejected(SignSegments(HmacAlgorithm::kHs256, R"({"alg":"none"})", payload, kSecret)));
  EXPECT_TRUE(
      Rejected(SignSegments(HmacAlgorithm::kHs256, R"({"alg":"RS256"})", payload, kSecret)));
  EXPECT_TRUE(
      Rejected(SignSegments(HmacAlgorithm::kHs256, R"({"alg":"ES256"})", payload, kSecret)));
  EXPECT_TRUE(
      Rejected(SignSegments(HmacAlgorithm::kHs256, R"({"alg":"hs256"})", payload, kSecret)));
  EXPECT_TRUE(
      Rejected(SignSegments(HmacAlgorithm::kHs256, R"({"alg":"HS256 "})", payload, kSecret)));
  EXPECT_EQ(Verify(SignSegments(HmacAlgorithm::kHs256, R"({"typ":"JWT"})", payload, kSecret)),
            "ERR: signing method (alg) is unspecified");
  EXPECT_EQ(Verify(SignSegments(HmacAlgorithm::kHs256, R"({"alg":256})", payload, kSecret)),
            "ERR: signing method (alg) is unspecified");
  EXPECT_EQ(Verify(SignSegments(HmacAlgorithm::kHs256, "null", payload, kSecret)),
            "ERR: signing method (alg) is unspecified");
  EXPECT_TRUE(Rejected(SignSegments(HmacAlgorithm::kHs256, "[]", payload, kSecret)));
  EXPECT_TRUE(Rejected(SignSegments(HmacAlgorithm::kHs256, "\"HS256\"", payload, kSecret)));
  EXPECT_TRUE(Rejected(SignSegments(HmacAlgorithm::kHs256, "{", payload, kSecret)));
  EXPECT_TRUE(
      Rejected(SignSegments(HmacAlgorithm::kHs256, R"({"alg":"HS256"} x)", payload, kSecret)));
  // Header numbers beyond float64 fail Go's map[string]any decoding.
  EXPECT_TRUE(Rejected(
      SignSegments(HmacAlgorithm::kHs256, R"({"alg":"HS256","x":1e400})", payload, kSecret)));
  // Duplicate "alg": the last one counts (Go map semantics). Other header members are ignored.
  EXPECT_EQ(Verify(SignSegments(HmacAlgorithm::kHs256, R"({"alg":"none","alg":"HS256"})", payload,
                                kSecret)),
            "mallory");
  EXPECT_TRUE(Rejected(
      SignSegments(HmacAlgorithm::kHs256, R"({"alg":"HS256","alg":"none"})", payload, kSecret)));
  EXPECT_EQ(Verify(SignSegments(HmacAlgorithm::kHs256,
                                R"({"alg":"HS256","typ":"whatever","crit":["x"],"kid":1})", payload,
                                kSecret)),
            "mallory");
  // Header member names are case-sensitive (map keys).
  EXPECT_TRUE(
      Rejected(SignSegments(HmacAlgorithm::kHs256, R"({"ALG":"HS256"})", payload, kSecret)));
}

// ---------------------------------------------------------------------------------------------
// Tampering and structure.

TEST(JwtStructureTest, TamperedPayloadAndSignatureAreRejected) {
  const std::string token = Hs256(R"({"sub":"alice"})");
  ASSERT_EQ(Verify(token), "alice");
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = token.find('.', dot1 + 1);

  // Payload swapped for another user, signature kept.
  const std::string forged =
      token.substr(0, dot1 + 1) + Base64UrlEncode(R"({"sub":"admin"})") + token.substr(dot2);
  EXPECT_EQ(Verify(forged), "ERR: signature is invalid");

  // One signature character changed (first char: all 6 bits are significant).
  std::string bad_sig = token;
  bad_sig[dot2 + 1] = bad_sig[dot2 + 1] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Verify(bad_sig), "ERR: signature is invalid");

  // Truncated and empty signatures, a signature from another token.
  EXPECT_TRUE(Rejected(token.substr(0, token.size() - 2)));
  EXPECT_EQ(Verify(token.substr(0, dot2 + 1)), "ERR: signature is invalid");
  const std::string other = Hs256(R"({"sub":"bob"})");
  EXPECT_TRUE(Rejected(token.substr(0, dot2) + other.substr(other.rfind('.'))));

  // Wrong secret.
  EXPECT_EQ(Verify(token, kNow, "test-secreT"), "ERR: signature is invalid");
}

TEST(JwtStructureTest, WrongSegmentCountIsRejected) {
  const std::string token = Hs256(R"({"sub":"alice"})");
  const std::string message = "ERR: token contains an invalid number of segments";
  EXPECT_EQ(Verify(""), message);
  EXPECT_EQ(Verify("abc"), message);
  EXPECT_EQ(Verify("a.b"), message);
  EXPECT_EQ(Verify("..."), message);
  EXPECT_EQ(Verify(token + "."), message);
  EXPECT_EQ(Verify(token + ".AAAA"), message);
  EXPECT_EQ(Verify(token.substr(0, token.rfind('.'))), message);
  // Three empty segments: the structure is fine, the (empty) header is not JSON.
  EXPECT_EQ(Verify("..").rfind("ERR: could not JSON decode header", 0), 0U);
}

TEST(JwtStructureTest, SegmentsMustBeCanonicalUnpaddedBase64Url) {
  const std::string token = Hs256(R"({"sub":"alice"})");
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = token.find('.', dot1 + 1);
  const std::string header = token.substr(0, dot1);
  const std::string payload = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string signature = token.substr(dot2 + 1);
  ASSERT_EQ(signature.size(), 43U);  // 32 bytes: the last character carries 2 unused bits

  const auto join = [](std::string_view h, std::string_view p, std::string_view s) {
    return std::string(h) + "." + std::string(p) + "." + std::string(s);
  };
  // Padding.
  EXPECT_TRUE(Rejected(join(header, payload, signature + "=")));
  // Standard-alphabet characters instead of URL-safe ones.
  std::string std_alphabet = signature;
  for (char& c : std_alphabet) c = c == '-' ? '+' : c == '_' ? '/' : c;
  if (std_alphabet != signature) {
    EXPECT_TRUE(Rejected(join(header, payload, std_alphabet)));
  }
  EXPECT_TRUE(Rejected(join(header + "+", payload, signature)));
  // Impossible length (4n + 1).
  EXPECT_TRUE(Rejected(join(header, payload + "A", signature)));
  // Non-zero unused trailing bits (Go's non-strict decoder would accept this one).
  std::string loose = signature;
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const std::size_t last = alphabet.find(loose.back());
  loose.back() = alphabet[last ^ 1U];
  EXPECT_EQ(Verify(join(header, payload, loose)).rfind("ERR: could not base64 decode signature", 0),
            0U);
  // Whitespace and line breaks.
  EXPECT_TRUE(
      Rejected(join(header, payload, signature.substr(0, 10) + "\n" + signature.substr(10))));
  EXPECT_TRUE(Rejected(" " + token));
  EXPECT_TRUE(Rejected(token + " "));
}

// ---------------------------------------------------------------------------------------------
// Time claims.

TEST(JwtTimeTest, ExpiredAndNotYetValid) {
  const std::string token = Hs256(R"({"sub":"u","exp":1700000100})");
  EXPECT_EQ(Verify(token, At(1'700'000'099, 999'999'999)), "u");
  EXPECT_EQ(Verify(token, At(1'700'000'100)), "ERR: token is expired");  // no leeway
  EXPECT_EQ(Verify(token, At(1'800'000'000)), "ERR: token is expired");

  const std::string later = Hs256(R"({"sub":"u","nbf":1700000101})");
  EXPECT_EQ(Verify(later, At(1'700'000'100, 999'999'999)), "ERR: token is not valid yet");
  EXPECT_EQ(Verify(later, At(1'700'000'101)), "u");

  // Both absent: no time check at all. exp is not required.
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u"})"), At(0)), "u");
  // iat is ignored, even in the future.
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","iat":4102444800})")), "u");
  // Empty window.
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","nbf":1700000200,"exp":1700000000})")));
}

TEST(JwtTimeTest, NumericDatesFollowGo) {
  // Floats are truncated to whole seconds (NumericDate precision): exp 1700000100.9 expires at
  // 1700000100.
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":1700000100.9})"), At(1'700'000'099, 999'999'999)),
            "u");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":1700000100.9})"), At(1'700'000'100, 500'000'000)),
            "ERR: token is expired");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","nbf":1700000100.9})"), At(1'700'000'100)), "u");
  // Exponent notation and a string holding a JSON number (json.Number accepts both).
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":1.7000002e9})")), "u");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":"1700000200"})")), "u");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":"1700000100"})")), "ERR: token is expired");
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","exp":"soon"})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","exp":" 1700000200"})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","exp":""})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","exp":true})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","exp":[1700000200]})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","exp":{}})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","iat":"x"})")));  // ignored claim, still typed
  // Out of float64 range: strconv.ParseFloat fails.
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","exp":1e400})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","nbf":"-1e400"})")));
  // Beyond int64 seconds Go's conversion lands in the distant past: such an exp has expired,
  // such an nbf has passed.
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":1e300})")), "ERR: token is expired");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":9223372036854775807})")), "ERR: token is expired");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","nbf":1e300})")), "u");
  // Within int64 but past Go's internal time range: the year-1 offset wraps to the past.
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":9223372036000000000})")), "ERR: token is expired");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":9000000000000000000})")), "u");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":-1e300})")), "ERR: token is expired");
  // null removes a date; a later value replaces an earlier one.
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":1,"exp":null})")), "u");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","exp":4102444800,"EXP":1})")), "ERR: token is expired");
  Result<VerifiedToken> negative =
      VerifyHmac(Hs256(R"({"sub":"u","iat":-1.5,"nbf":-0.0000000001})"), kSecret, kNow);
  ASSERT_TRUE(negative.has_value()) << negative.error().ToString();
  EXPECT_EQ(negative->claims.iat_seconds, -2);  // floor through time.Unix normalisation
  EXPECT_EQ(negative->claims.nbf_seconds, 0);   // int64(frac*1e9) == 0: no borrow
  Result<VerifiedToken> huge = VerifyHmac(Hs256(R"({"sub":"u","iat":1e300})"), kSecret, kNow);
  ASSERT_TRUE(huge.has_value());
  EXPECT_EQ(huge->claims.iat_seconds, std::numeric_limits<std::int64_t>::min());
}

// ---------------------------------------------------------------------------------------------
// Subject and other claims.

TEST(JwtClaimsTest, SubjectIsTrimmedAndMustNotBeBlank) {
  Result<VerifiedToken> trimmed = VerifyHmac(Hs256(R"({"sub":"  alice\t\n"})"), kSecret, kNow);
  ASSERT_TRUE(trimmed.has_value());
  EXPECT_EQ(trimmed->user_id, "alice");
  EXPECT_EQ(trimmed->claims.sub, "  alice\t\n");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"\u00a0\u3000bob\u2029"})")), "bob");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"a b"})")), "a b");

  const std::string missing = "ERR: missing sub (user ID) in token";
  EXPECT_EQ(Verify(Hs256(R"({"sub":""})")), missing);
  EXPECT_EQ(Verify(Hs256(R"({"sub":" \t\r\n\u000b\f"})")), missing);
  EXPECT_EQ(Verify(Hs256(R"({"sub":"\u0085\u00a0\u1680\u2000\u200a\u202f\u205f\u3000"})")),
            missing);
  EXPECT_EQ(Verify(Hs256(R"({"iss":"x"})")), missing);
  EXPECT_EQ(Verify(Hs256("{}")), missing);
  EXPECT_EQ(Verify(Hs256("null")), missing);  // Go: null claims decode to empty claims
  EXPECT_EQ(Verify(Hs256(R"({"sub":null})")), missing);
  // Not whitespace: U+200B ZERO WIDTH SPACE, U+180E, U+FEFF.
  EXPECT_EQ(Verify(Hs256(R"({"sub":"\u200b"})")), "\u200b");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"\ufeff"})")), "\ufeff");
}

TEST(JwtClaimsTest, MemberNamesFoldLikeGoStructDecoding) {
  EXPECT_EQ(Verify(Hs256(R"({"SUB":"upper"})")), "upper");
  EXPECT_EQ(Verify(Hs256(R"({"Sub":"mixed"})")), "mixed");
  EXPECT_EQ(Verify(Hs256("{\"\u017fub\":\"long-s\"}")), "long-s");  // ſ folds to S
  EXPECT_EQ(Verify(Hs256(R"({"sub":"first","SUB":"second"})")), "second");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"kept","sub":null})")), "kept");  // null: no-op for strings
  EXPECT_EQ(Verify(Hs256(R"({"su\u0062":"escaped"})")), "escaped");
  EXPECT_EQ(Verify(Hs256(R"({"subject":"x","sub ":"y"})")), "ERR: missing sub (user ID) in token");
  EXPECT_EQ(Verify(Hs256("{\"s\u0130b\":\"x\"}")), "ERR: missing sub (user ID) in token");
}

TEST(JwtClaimsTest, RegisteredClaimsAreTypedEvenWhenIgnored) {
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","iss":"any","aud":"any","jti":"id"})")), "u");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","aud":["a","b"],"aud":[],"iss":null,"jti":null})")), "u");
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","aud":null})")), "u");
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":5})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":["u"]})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","iss":1})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","jti":{}})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","aud":1})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","aud":["a",1]})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","aud":["a",null]})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u","AUD":true})")));
  // Unknown members may hold anything, even numbers beyond float64 (Go skips them).
  EXPECT_EQ(Verify(Hs256(R"({"sub":"u","name":{"deep":[1,2,{"x":null}]},"big":1e400})")), "u");
  // The payload must be a JSON object (or null) and valid JSON.
  EXPECT_TRUE(Rejected(Hs256(R"(["sub","u"])")));
  EXPECT_TRUE(Rejected(Hs256(R"("u")")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u",})")));
  EXPECT_TRUE(Rejected(Hs256(R"({"sub":"u"} {})")));
  EXPECT_TRUE(Rejected(Hs256("")));
}

TEST(JwtClaimsTest, InvalidUtf8InSubBecomesReplacementCharacter) {
  EXPECT_EQ(Verify(Hs256("{\"sub\":\"a\xff\"}")), "a\xEF\xBF\xBD");
}

// ---------------------------------------------------------------------------------------------
// TrimSpace.

TEST(JwtTrimSpaceTest, MatchesGoStringsTrimSpace) {
  EXPECT_EQ(TrimSpace(""), "");
  EXPECT_EQ(TrimSpace(" \t\n\v\f\r"), "");
  EXPECT_EQ(TrimSpace("  a b  "), "a b");
  EXPECT_EQ(TrimSpace("\u00a0x\u0085"), "x");
  EXPECT_EQ(TrimSpace("\u2000\u2001\u200ax\u2028\u2029\u202f\u205f\u3000\u1680"), "x");
  EXPECT_EQ(TrimSpace("\u200bx\u200b"), "\u200bx\u200b");  // ZWSP is not White_Space
  EXPECT_EQ(TrimSpace("\xC2"), "\xC2");                    // truncated sequence
  EXPECT_EQ(TrimSpace("x\xA0"), "x\xA0");                  // lone continuation byte
  EXPECT_EQ(TrimSpace("x\xE2\x80"), "x\xE2\x80");
  EXPECT_EQ(TrimSpace(std::string_view("\0x\0", 3)), std::string_view("\0x\0", 3));
}

}  // namespace
}  // namespace oversync::jwt
