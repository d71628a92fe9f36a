// File: oversync/jwt/jwt.h
//
// The HMAC JWT of go-oversync's reference server (examples/internal/exampleauth on
// github.com/golang-jwt/jwt/v5 v5.3.1; server.md A.4, protocol.md §1.2): issuing HS256 tokens
// byte-identical to Go's, and validating tokens with exactly the rules of its ValidateToken:
//
//  * exactly three '.'-separated segments, each unpadded base64url;
//  * the header is a JSON object whose "alg" is the string "HS256", "HS384" or "HS512"; every
//    other value ("none", "RS256", "hs256", a number, absent) is rejected. The signature is the
//    HMAC named by "alg" over the raw text `header.payload`, compared in constant time;
//  * the claims are decoded like Go's json.Unmarshal into jwt.RegisteredClaims: member names
//    match case-insensitively (Go's fold, e.g. "SUB" and "ſub" are "sub"), the last occurrence
//    wins, iss/sub/jti must be strings (or null), aud a string or an array of strings (or null),
//    exp/nbf/iat numbers or strings holding a JSON number (or null; a later null removes an
//    earlier value). A wrong type anywhere fails the token even for claims that are not checked;
//  * exp and nbf are enforced when present, with no leeway and at whole-second precision
//    (NumericDate truncation; fractions such as 1700000000.9 are allowed): the token is valid
//    while now < exp and from now >= nbf. iat, iss, aud and jti are not checked;
//  * sub, trimmed with Go's strings.TrimSpace, must be non-empty; the trimmed value is the user
//    id.
//
// Deliberate difference from Go: segments must be canonical base64url (no '\r'/'\n', no
// non-zero unused trailing bits); Go's decoder tolerates both. No client produces such tokens.
// Nesting deeper than oversync::protocol::kMaxJsonDepth is rejected (Go allows 10000).
//
// No exception crosses this API. OpenSSL is used only inside the implementation.
// Thread-safety: every function is pure and thread-safe.
#ifndef OVERSYNC_JWT_JWT_H_
#define OVERSYNC_JWT_JWT_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "oversync/common/clock.h"
#include "oversync/common/status.h"

namespace oversync::jwt {

// The HMAC algorithms a token may name in its "alg" header (the only ones accepted).
enum class HmacAlgorithm : std::uint8_t { kHs256, kHs384, kHs512 };

// "HS256", "HS384" or "HS512".
std::string_view AlgorithmName(HmacAlgorithm algorithm) noexcept;

// `iss` of the tokens issued by the reference server (server.md A.4).
inline constexpr std::string_view kExampleIssuer = "go-oversync-examples";

// The registered claims the reference server writes (plus what validation reports back).
// Dates are Unix seconds.
struct JwtClaims {
  std::string sub;  // as carried by the token (not trimmed); omitted from JSON when empty
  std::string iss;  // omitted from JSON when empty
  std::optional<std::int64_t> iat_seconds;
  std::optional<std::int64_t> nbf_seconds;
  std::optional<std::int64_t> exp_seconds;
};

// What VerifyHmac returns for a valid token.
struct VerifiedToken {
  HmacAlgorithm algorithm = HmacAlgorithm::kHs256;
  // Claims as decoded. Dates are Go's NumericDate after truncation to whole seconds (a fraction
  // rounds toward the past); absurd dates beyond int64 seconds come back as INT64_MIN.
  JwtClaims claims;
  // TrimSpace(claims.sub); never empty. The authenticated user id (protocol.md §1.2).
  std::string user_id;
};

// The claims JSON Go's json.Marshal writes for jwt.RegisteredClaims (member order iss, sub,
// exp, nbf, iat; empty strings and absent dates omitted; strings escaped like Go), e.g.
// {"iss":"go-oversync-examples","sub":"alice","exp":1700000300,"nbf":1700000000,"iat":1700000000}
std::string EncodeClaims(const JwtClaims& claims);

// Compact serialization base64url(header_json) "." base64url(payload_json) "." base64url(HMAC)
// of arbitrary segment texts (no validation). For tests and tools; SignHs256 is the normal way.
std::string SignSegments(HmacAlgorithm algorithm, std::string_view header_json,
                         std::string_view payload_json, std::string_view secret);

// An HS256 token exactly as golang-jwt's SignedString makes it: header
// {"alg":"HS256","typ":"JWT"}, payload EncodeClaims(claims). Any secret, including an empty one,
// is used as the HMAC key as-is.
std::string SignHs256(const JwtClaims& claims, std::string_view secret);

// The claims of exampleauth.GenerateToken (server.md A.4): sub = TrimSpace(user),
// iss = kExampleIssuer, iat = nbf = now and exp = now + lifetime, both truncated to whole
// seconds.
JwtClaims ExampleClaims(std::string_view user, TimePoint now, std::chrono::seconds lifetime);

// Validates `token` with `secret` at time `now` (rules in the file comment).
// Errors: kAuthenticationFailed with a message saying why (malformed segment, bad JSON, wrong or
// missing alg, "signature is invalid", "token is expired", "token is not valid yet",
// "missing sub (user ID) in token"). Callers answer every failure alike (401 "Invalid token").
Result<VerifiedToken> VerifyHmac(std::string_view token, std::string_view secret, TimePoint now);

// Go's strings.TrimSpace: strips leading and trailing Unicode White_Space (ASCII \t \n \v \f
// \r and space, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F,
// U+3000). Invalid UTF-8 is never whitespace. The result views `text`.
std::string_view TrimSpace(std::string_view text) noexcept;

}  // namespace oversync::jwt

#endif  // OVERSYNC_JWT_JWT_H_
