#include "dummy_signin.h"

#include <optional>
#include <string>

#include "oversync/jwt/jwt.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/json_writer.h"

namespace oversync::oversyncd {
namespace {

using protocol::JsonValue;

// A JSON error body written without Content-Type: Go's http.DetectContentType labels it
// text/plain (no X-Content-Type-Options, unlike http.Error).
http::Response SniffedJsonError(std::string_view message) {
  http::Response response;
  response.status = 400;
  response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  std::string body;
  protocol::JsonWriter writer(body);
  writer.BeginObject();
  writer.Member("error", "invalid_request");
  writer.Member("message", message);
  writer.EndObject();
  body.push_back('\n');
  response.body = std::move(body);
  return response;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The text of the first JSON value in `body` when it is an object, as json.Decoder.Decode reads
// it (bytes after the value are never looked at). Bracket matching that skips string contents
// finds the end of a well-formed object; for a malformed one the prefix it returns (or nullopt at
// EOF) fails to parse, as Go fails.
std::optional<std::string_view> FirstObject(std::string_view body) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return body.substr(0, i + 1);
    }
  }
  return std::nullopt;
}

// Go's encoding/json field matching for an ASCII-lowercase field name: exact, else equal under
// foldName (ASCII case; U+017F folds to 's' and U+212A to 'k', the only non-ASCII runes that
// fold onto ASCII letters).
bool MatchesField(std::string_view key, std::string_view field) {
  std::size_t k = 0;
  for (const char f : field) {
    if (k >= key.size()) return false;
    const auto c = static_cast<unsigned char>(key[k]);
    if (c < 0x80) {
      const char lower =
          c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c);
      if (lower != f) return false;
      ++k;
    } else if (f == 's' && key.substr(k, 2) == "\xC5\xBF") {
      k += 2;
    } else if (f == 'k' && key.substr(k, 3) == "\xE2\x84\xAA") {
      k += 3;
    } else {
      return false;
    }
  }
  return k == key.size();
}

}  // namespace

http::Response HandleDummySignin(const http::Request& request, std::string_view jwt_secret,
                                 TimePoint now) {
  std::string_view body = request.body;
  while (!body.empty() && IsJsonSpace(body.front())) body.remove_prefix(1);

  std::string user;
  if (body.substr(0, 4) == "null") {
    // Decoding null into a struct changes nothing (the user stays empty).
  } else if (body.empty() || body.front() != '{') {
    return SniffedJsonError("invalid JSON");  // EOF, a syntax error or a non-object value
  } else {
    const std::optional<std::string_view> object = FirstObject(body);
    if (!object) return SniffedJsonError("invalid JSON");
    protocol::JsonParseOptions options;
    options.keep_out_of_range_numbers = true;  // unknown members are skipped undecoded in Go
    protocol::JsonParser parser;
    Result<JsonValue> root = parser.Parse(*object, options);
    if (!root.has_value() || !root->is_object()) return SniffedJsonError("invalid JSON");
    for (const protocol::JsonMember& member : root->as_object()) {
      const bool is_user = MatchesField(member.key, "user");
      if (!is_user && !MatchesField(member.key, "password")) continue;
      if (member.value.is_null()) continue;  // null leaves a string field unchanged
      if (!member.value.is_string()) return SniffedJsonError("invalid JSON");
      if (is_user) user = member.value.as_string();
    }
  }
  if (user.empty()) return SniffedJsonError("user required");

  const std::string token =
      jwt::SignHs256(jwt::ExampleClaims(user, now, kDummySigninTokenLifetime), jwt_secret);
  std::string out;
  protocol::JsonWriter writer(out);
  writer.BeginObject();
  writer.Member("token", token);
  writer.Member("expires_in", std::int64_t{kDummySigninTokenLifetime.count()});
  writer.Member("user", user);
  writer.EndObject();
  return http::Response::Json(200, std::move(out));
}

}  // namespace oversync::oversyncd
