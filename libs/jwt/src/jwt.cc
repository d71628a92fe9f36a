#include "oversync/jwt/jwt.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <utility>

#include "oversync/common/base64.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/json_writer.h"

namespace oversync::jwt {
namespace {

using protocol::JsonValue;
using namespace std::string_view_literals;

// ---------------------------------------------------------------------------------------------
// HMAC (OpenSSL 3 EVP_MAC).

struct MacDeleter {
  void operator()(EVP_MAC* mac) const noexcept { EVP_MAC_free(mac); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }
};

// OpenSSL only fails here on allocation failure or a broken installation: not an expected error
// (same policy as oversync/common/sha256.cc).
[[noreturn]] void Die(const char* what) {
  std::fputs("oversync: ", stderr);
  std::fputs(what, stderr);
  std::fputs(" failed\n", stderr);
  std::abort();
}

std::string Hmac(HmacAlgorithm algorithm, std::string_view key, std::string_view data) {
  const std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (mac == nullptr) Die("EVP_MAC_fetch(HMAC)");
  const std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(mac.get()));
  if (ctx == nullptr) Die("EVP_MAC_CTX_new");

  std::array<char, 8> digest{};
  const std::string_view digest_name = algorithm == HmacAlgorithm::kHs256   ? "SHA256"sv
                                       : algorithm == HmacAlgorithm::kHs384 ? "SHA384"sv
                                                                            : "SHA512"sv;
  digest_name.copy(digest.data(), digest.size() - 1);
  const std::array<OSSL_PARAM, 2> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_end()};
  // A null key means "keep the previous key" to OpenSSL; an empty secret is a valid HMAC key
  // (Go accepts it), so always pass a real pointer.
  const unsigned char empty_key = 0;
  const unsigned char* key_bytes =
      key.empty() ? &empty_key : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(ctx.get(), key_bytes, key.size(), params.data()) != 1) Die("EVP_MAC_init");
  if (!data.empty() &&
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
          1) {
    Die("EVP_MAC_update");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  std::size_t out_len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) != 1) Die("EVP_MAC_final");
  return std::string(reinterpret_cast<const char*>(out.data()), out_len);
}

// ---------------------------------------------------------------------------------------------
// Go strings.TrimSpace.

// Length of the Unicode White_Space character `text` starts with (0 if none). Every such
// character is matched by its exact (unique) UTF-8 encoding, which is what decoding a rune and
// asking unicode.IsSpace amounts to.
std::size_t LeadingSpaceLength(std::string_view t) noexcept {
  if (t.empty()) return 0;
  const auto b = [&t](std::size_t i) { return static_cast<unsigned char>(t[i]); };
  switch (b(0)) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
      return 1;
    case 0xC2:  // U+0085, U+00A0
      return t.size() >= 2 && (b(1) == 0x85 || b(1) == 0xA0) ? 2 : 0;
    case 0xE1:  // U+1680
      return t.size() >= 3 && b(1) == 0x9A && b(2) == 0x80 ? 3 : 0;
    case 0xE2:
      if (t.size() < 3) return 0;
      if (b(1) == 0x80) {  // U+2000..U+200A, U+2028, U+2029, U+202F
        const unsigned char c = b(2);
        return (c >= 0x80 && c <= 0x8A) || c == 0xA8 || c == 0xA9 || c == 0xAF ? 3 : 0;
      }
      return b(1) == 0x81 && b(2) == 0x9F ? 3 : 0;  // U+205F
    case 0xE3:                                      // U+3000
      return t.size() >= 3 && b(1) == 0x80 && b(2) == 0x80 ? 3 : 0;
    default:
      return 0;
  }
}

// Length of the White_Space character `text` ends with (0 if none). A suffix equal to one of the
// encodings is exactly what Go's utf8.DecodeLastRune decodes (its lead byte is the last
// non-continuation byte).
std::size_t TrailingSpaceLength(std::string_view t) noexcept {
  for (const std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
    if (t.size() >= n && LeadingSpaceLength(t.substr(t.size() - n)) == n) return n;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Claims decoding with Go's encoding/json rules for jwt.RegisteredClaims.

enum class ClaimField : std::uint8_t { kNone, kIss, kSub, kAud, kExp, kNbf, kIat, kJti };

// Go matches a member name to a struct field by exact name, else by foldName(): ASCII letters
// upper-cased and every other rune replaced by the smallest rune of its simple case-folding
// orbit. The only non-ASCII runes that fold to ASCII letters are U+017F (ſ -> S) and U+212A
// (Kelvin sign -> K), so a folded name equals a field's folded ASCII name exactly when this
// returns it.
ClaimField FieldFor(std::string_view key) {
  std::string folded;
  folded.reserve(key.size());
  for (std::size_t i = 0; i < key.size();) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x80) {
      folded.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A')
                                            : static_cast<char>(c));
      ++i;
    } else if (key.substr(i, 2) == "\xC5\xBF") {  // U+017F LATIN SMALL LETTER LONG S
      folded.push_back('S');
      i += 2;
    } else if (key.substr(i, 3) == "\xE2\x84\xAA") {  // U+212A KELVIN SIGN
      folded.push_back('K');
      i += 3;
    } else {
      return ClaimField::kNone;  // any other non-ASCII rune cannot be part of a claim name
    }
  }
  static constexpr std::array<std::pair<std::string_view, ClaimField>, 7> kFields = {{
      {"ISS", ClaimField::kIss},
      {"SUB", ClaimField::kSub},
      {"AUD", ClaimField::kAud},
      {"EXP", ClaimField::kExp},
      {"NBF", ClaimField::kNbf},
      {"IAT", ClaimField::kIat},
      {"JTI", ClaimField::kJti},
  }};
  for (const auto& [name, field] : kFields) {
    if (folded == name) return field;
  }
  return ClaimField::kNone;
}

Status Invalid(std::string message) {
  return Status(ErrorCode::kAuthenticationFailed, std::move(message));
}

// Go: int64(f) for a float64 outside the int64 range; amd64's conversion yields INT64_MIN and
// the date then lies in the distant past (arm64 saturates, and the later wrap in time's
// internal representation lands in the past as well).
constexpr std::int64_t kOutOfRangeSeconds = std::numeric_limits<std::int64_t>::min();

// jwt.NumericDate.UnmarshalJSON: math.Modf, time.Unix(int64(round), int64(frac*1e9)),
// Truncate(time.Second). Returns Unix seconds.
std::int64_t NumericDateSeconds(double f) {
  double whole = 0;
  const double frac = std::modf(f, &whole);
  constexpr double kTwo63 = 9223372036854775808.0;
  if (!(whole >= -kTwo63 && whole < kTwo63)) return kOutOfRangeSeconds;
  auto seconds = static_cast<std::int64_t>(whole);
  // |frac| < 1, so |frac * 1e9| <= 1e9 (equality only through rounding): fits int64.
  auto nanos = static_cast<std::int64_t>(frac * 1e9);
  // time.Unix normalisation (a fraction only exists for |f| < 2^52: no overflow here).
  if (nanos < 0 || nanos >= 1'000'000'000) {
    const std::int64_t carry = nanos / 1'000'000'000;
    seconds += carry;
    nanos -= carry * 1'000'000'000;
    if (nanos < 0) --seconds;
  }
  return seconds;  // Truncate(time.Second) drops the nanoseconds
}

// Go compares times as seconds since January 1, year 1 in an int64 (wrapping for absurd
// dates); `a` before `b` for whole-second instants.
bool GoSecondsBefore(std::int64_t a_unix, std::int64_t b_unix) {
  constexpr std::uint64_t kUnixToInternal = 62135596800ULL;  // (1969*365 + 1969/4 - ...) * 86400
  const auto internal = [](std::int64_t unix) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(unix) + kUnixToInternal);
  };
  return internal(a_unix) < internal(b_unix);
}

// A NumericDate member value (not null). Errors: kAuthenticationFailed.
Result<std::int64_t> DecodeNumericDate(const JsonValue& value, std::string_view name) {
  double f = 0;
  if (value.is_number()) {
    f = value.as_number().value;
  } else if (value.is_string()) {
    // Go unmarshals the member into a json.Number, which takes a string holding a valid number.
    Result<double> parsed = protocol::ParseJsonNumberLexeme(value.as_string());
    if (!parsed.has_value()) {
      return Error(ErrorCode::kAuthenticationFailed,
                   "could not JSON decode claim: " + std::string(name) + " is not a number");
    }
    f = *parsed;
  } else {
    return Error(ErrorCode::kAuthenticationFailed,
                 "could not JSON decode claim: " + std::string(name) + " is not a number");
  }
  if (!std::isfinite(f)) {  // strconv.ParseFloat fails with ErrRange
    return Error(ErrorCode::kAuthenticationFailed,
                 "could not JSON decode claim: " + std::string(name) + " is out of range");
  }
  return NumericDateSeconds(f);
}

Status DecodeStringClaim(const JsonValue& value, std::string_view name, std::string* out) {
  if (value.is_null()) return Status::Ok();  // Go leaves the field as it is
  if (!value.is_string()) {
    return Invalid("could not JSON decode claim: " + std::string(name) + " is not a string");
  }
  if (out != nullptr) *out = value.as_string();
  return Status::Ok();
}

// jwt.ClaimStrings.UnmarshalJSON: a string, an array of strings, or null.
Status CheckAudience(const JsonValue& value) {
  if (value.is_null() || value.is_string()) return Status::Ok();
  if (value.is_array()) {
    for (const JsonValue& item : value.as_array()) {
      if (!item.is_string()) return Invalid("could not JSON decode claim: aud has a non-string");
    }
    return Status::Ok();
  }
  return Invalid("could not JSON decode claim: aud is not a string or array");
}

Result<JwtClaims> DecodeClaims(const JsonValue& root) {
  JwtClaims claims;
  if (root.is_null()) return claims;  // Go: null leaves every claim empty
  if (!root.is_object()) {
    return Error(ErrorCode::kAuthenticationFailed, "could not JSON decode claim: not an object");
  }
  // Members in order: later ones overwrite earlier ones, null is a no-op for strings and
  // removes a date (pointer fields).
  for (const protocol::JsonMember& member : root.as_object()) {
    const JsonValue& value = member.value;
    const ClaimField field = FieldFor(member.key);
    switch (field) {
      case ClaimField::kNone:
        break;
      case ClaimField::kIss:
        OVERSYNC_RETURN_IF_ERROR(DecodeStringClaim(value, "iss", &claims.iss));
        break;
      case ClaimField::kSub:
        OVERSYNC_RETURN_IF_ERROR(DecodeStringClaim(value, "sub", &claims.sub));
        break;
      case ClaimField::kJti:
        OVERSYNC_RETURN_IF_ERROR(DecodeStringClaim(value, "jti", nullptr));
        break;
      case ClaimField::kAud:
        OVERSYNC_RETURN_IF_ERROR(CheckAudience(value));
        break;
      case ClaimField::kExp:
      case ClaimField::kNbf:
      case ClaimField::kIat: {
        std::optional<std::int64_t>& slot = field == ClaimField::kExp   ? claims.exp_seconds
                                            : field == ClaimField::kNbf ? claims.nbf_seconds
                                                                        : claims.iat_seconds;
        if (value.is_null()) {
          slot.reset();
        } else {
          const std::string_view name = field == ClaimField::kExp   ? "exp"sv
                                        : field == ClaimField::kNbf ? "nbf"sv
                                                                    : "iat"sv;
          OVERSYNC_ASSIGN_OR_RETURN(slot, DecodeNumericDate(value, name));
        }
        break;
      }
    }
  }
  return claims;
}

Result<std::string> DecodeSegment(std::string_view segment, std::string_view what) {
  Result<std::string> bytes = Base64UrlDecode(segment);
  if (!bytes.has_value()) {
    return Error(ErrorCode::kAuthenticationFailed,
                 "could not base64 decode " + std::string(what) + ": " + bytes.error().message());
  }
  return bytes;
}

std::optional<HmacAlgorithm> AlgorithmFromName(std::string_view name) noexcept {
  if (name == "HS256") return HmacAlgorithm::kHs256;
  if (name == "HS384") return HmacAlgorithm::kHs384;
  if (name == "HS512") return HmacAlgorithm::kHs512;
  return std::nullopt;
}

}  // namespace

std::string_view AlgorithmName(HmacAlgorithm algorithm) noexcept {
  switch (algorithm) {
    case HmacAlgorithm::kHs256:
      return "HS256";
    case HmacAlgorithm::kHs384:
      return "HS384";
    case HmacAlgorithm::kHs512:
      return "HS512";
  }
  return "HS256";
}

std::string_view TrimSpace(std::string_view text) noexcept {
  while (const std::size_t n = LeadingSpaceLength(text)) text.remove_prefix(n);
  while (const std::size_t n = TrailingSpaceLength(text)) text.remove_suffix(n);
  return text;
}

std::string EncodeClaims(const JwtClaims& claims) {
  std::string out;
  protocol::JsonWriter writer(out);
  writer.BeginObject();
  if (!claims.iss.empty()) writer.Member("iss", claims.iss);
  if (!claims.sub.empty()) writer.Member("sub", claims.sub);
  if (claims.exp_seconds) writer.Member("exp", *claims.exp_seconds);
  if (claims.nbf_seconds) writer.Member("nbf", *claims.nbf_seconds);
  if (claims.iat_seconds) writer.Member("iat", *claims.iat_seconds);
  writer.EndObject();
  return out;
}

std::string SignSegments(HmacAlgorithm algorithm, std::string_view header_json,
                         std::string_view payload_json, std::string_view secret) {
  std::string token = Base64UrlEncode(header_json);
  token.push_back('.');
  token += Base64UrlEncode(payload_json);
  const std::string signature = Hmac(algorithm, secret, token);
  token.push_back('.');
  token += Base64UrlEncode(signature);
  return token;
}

std::string SignHs256(const JwtClaims& claims, std::string_view secret) {
  // golang-jwt's header map marshals with sorted keys.
  return SignSegments(HmacAlgorithm::kHs256, R"({"alg":"HS256","typ":"JWT"})", EncodeClaims(claims),
                      secret);
}

JwtClaims ExampleClaims(std::string_view user, TimePoint now, std::chrono::seconds lifetime) {
  const std::int64_t now_seconds =
      std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count();
  const std::int64_t exp_seconds =
      std::chrono::floor<std::chrono::seconds>(now + lifetime).time_since_epoch().count();
  JwtClaims claims;
  claims.sub = std::string(TrimSpace(user));
  claims.iss = std::string(kExampleIssuer);
  claims.iat_seconds = now_seconds;
  claims.nbf_seconds = now_seconds;
  claims.exp_seconds = exp_seconds;
  return claims;
}

Result<VerifiedToken> VerifyHmac(std::string_view token, std::string_view secret, TimePoint now) {
  // 1. Exactly three segments.
  const std::size_t first_dot = token.find('.');
  const std::size_t second_dot =
      first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      token.find('.', second_dot + 1) != std::string_view::npos) {
    return Error(ErrorCode::kAuthenticationFailed, "token contains an invalid number of segments");
  }
  const std::string_view header_segment = token.substr(0, first_dot);
  const std::string_view payload_segment = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_segment = token.substr(second_dot + 1);

  // 2. Header: a JSON object (Go decodes it into map[string]any; null gives an empty map).
  OVERSYNC_ASSIGN_OR_RETURN(const std::string header_json, DecodeSegment(header_segment, "header"));
  protocol::JsonParser parser;
  Result<JsonValue> header = parser.Parse(header_json);
  if (!header.has_value() || !(header->is_object() || header->is_null())) {
    return Error(
        ErrorCode::kAuthenticationFailed,
        "could not JSON decode header" + (header.has_value() ? std::string(": not an object")
                                                             : ": " + header.error().message()));
  }

  // 3. Claims (decoded before the algorithm is looked at, as in golang-jwt). Unknown members may
  // hold numbers beyond float64 (Go skips them undecoded), so keep those instead of failing.
  OVERSYNC_ASSIGN_OR_RETURN(const std::string payload_json,
                            DecodeSegment(payload_segment, "claim"));
  protocol::JsonParseOptions payload_options;
  payload_options.keep_out_of_range_numbers = true;
  Result<JsonValue> payload = parser.Parse(payload_json, payload_options);
  if (!payload.has_value()) {
    return Error(ErrorCode::kAuthenticationFailed,
                 "could not JSON decode claim: " + payload.error().message());
  }
  OVERSYNC_ASSIGN_OR_RETURN(JwtClaims claims, DecodeClaims(*payload));

  // 4. Algorithm: the header names it, but only the three HMAC algorithms are acceptable (the
  // key function of exampleauth rejects every non-HMAC method, including "none").
  const JsonValue* alg = header->Find("alg");
  if (alg == nullptr || !alg->is_string()) {
    return Error(ErrorCode::kAuthenticationFailed, "signing method (alg) is unspecified");
  }
  const std::optional<HmacAlgorithm> algorithm = AlgorithmFromName(alg->as_string());
  if (!algorithm) {
    return Error(ErrorCode::kAuthenticationFailed,
                 "unexpected signing method: " + std::string(alg->as_string()));
  }

  // 5. Signature over the received `header.payload` text, compared in constant time.
  OVERSYNC_ASSIGN_OR_RETURN(const std::string signature,
                            DecodeSegment(signature_segment, "signature"));
  const std::string expected = Hmac(*algorithm, secret, token.substr(0, second_dot));
  if (signature.size() != expected.size() ||
      CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) != 0) {
    return Error(ErrorCode::kAuthenticationFailed, "signature is invalid");
  }

  // 6. exp / nbf (no leeway). Dates are whole seconds, so "now < exp" is floor(now) < exp.
  const std::int64_t now_seconds =
      std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count();
  if (claims.exp_seconds && !GoSecondsBefore(now_seconds, *claims.exp_seconds)) {
    return Error(ErrorCode::kAuthenticationFailed, "token is expired");
  }
  if (claims.nbf_seconds && GoSecondsBefore(now_seconds, *claims.nbf_seconds)) {
    return Error(ErrorCode::kAuthenticationFailed, "token is not valid yet");
  }

  // 7. Subject.
  const std::string_view user_id = TrimSpace(claims.sub);
  if (user_id.empty()) {
    return Error(ErrorCode::kAuthenticationFailed, "missing sub (user ID) in token");
  }
  VerifiedToken verified;
  verified.algorithm = *algorithm;
  verified.user_id = std::string(user_id);
  verified.claims = std::move(claims);
  return verified;
}

}  // namespace oversync::jwt
