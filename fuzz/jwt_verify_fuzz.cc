// libFuzzer target for oversync::jwt::VerifyHmac (server.md A.4). The first input byte picks the
// mode: even = the rest is a whole token (exercises splitting, base64url, header JSON and the
// signature check); odd = the rest is a claims payload that gets a valid HS256 signature first,
// so the claims decoder and the time/subject rules are reached. Accepted tokens must carry a
// non-empty user id equal to TrimSpace(sub), and a re-signed copy of their claims must verify
// with the same user id. ASan/UBSan/LSan catch memory errors and leaks.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "oversync/jwt/jwt.h"

namespace {

using oversync::TimePoint;
namespace jwt = oversync::jwt;

constexpr std::string_view kSecret = "fuzz-secret";

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool sign_payload = (data[0] & 1U) != 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const TimePoint now = TimePoint(std::chrono::seconds(1'700'000'100));
  const std::string token = sign_payload
                                ? jwt::SignSegments(jwt::HmacAlgorithm::kHs256,
                                                    R"({"alg":"HS256","typ":"JWT"})", rest, kSecret)
                                : std::string(rest);
  const auto verified = jwt::VerifyHmac(token, kSecret, now);
  if (!verified.has_value()) return 0;
  Check(!verified->user_id.empty());
  Check(verified->user_id == jwt::TrimSpace(verified->claims.sub));
  const auto again = jwt::VerifyHmac(jwt::SignHs256(verified->claims, kSecret), kSecret, now);
  Check(again.has_value() && again->user_id == verified->user_id);
  return 0;
}
