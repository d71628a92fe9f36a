#include "oversync/protocol/wire_profile.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "oversync/protocol/canonical_json.h"
#include "oversync/protocol/jcs.h"
#include "oversync/protocol/json_writer.h"

namespace oversync::protocol {
namespace {

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

class GoCanonicalV1 final : public WireProfile {
 public:
  WireProfileId id() const noexcept override { return WireProfileId::kGoCanonicalV1; }
  std::string_view name() const noexcept override { return "go_canonical_v1"; }

  Status AppendCanonical(const JsonValue& value, std::string& out) const override {
    AppendGoCanonical(value, out);
    return {};
  }

  void AppendCanonicalString(std::string_view s, std::string& out) const override {
    AppendGoQuoted(s, out);
  }

  void AppendHashInteger(std::int64_t v, std::string& out) const override {
    std::array<char, 24> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    (void)ec;
    out.append(buf.data(), end);
  }

  Status CheckUploadedNumber(const JsonNumber& number) const override {
    // An integer lexeme whose exact value needs more than 53 bits cannot survive the float64
    // round trip every Go-profile peer applies. 2^53 itself is exact; 2^53+1 is not. Because
    // doubles round to nearest, |value| > 2^53 also catches lexemes that rounded down to 2^53
    // only when they differ from it, so compare the lexeme's digits too.
    if (!number.IsIntegerLexeme() || std::fabs(number.value) < kMaxExactInteger) return {};
    std::string_view digits = number.lexeme;
    if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
    if (std::fabs(number.value) == kMaxExactInteger && digits == "9007199254740992") return {};
    return {ErrorCode::kInvalidArgument,
            fmt::format("integer {} exceeds 2^53 and cannot be represented exactly",
                        number.lexeme.substr(0, 40))};
  }
};

// go-oversync's jcs_uniform_numeric_strings_v1 (protocol-b.md): RFC 8785 canonical JSON and
// decimal-string counters in the hash model. Typed business values (numbers as strings, the
// boolean bridge) are checked per column through wire_values.h; a JSON number that reaches this
// profile sits in an untyped place (json/jsonb, text) and only has to be a finite binary64.
class JcsUniformNumericStringsV1 final : public WireProfile {
 public:
  WireProfileId id() const noexcept override {
    return WireProfileId::kJcsUniformNumericStringsV1;
  }
  std::string_view name() const noexcept override { return "jcs_uniform_numeric_strings_v1"; }

  Status AppendCanonical(const JsonValue& value, std::string& out) const override {
    return AppendJcs(value, out);
  }

  void AppendCanonicalString(std::string_view s, std::string& out) const override {
    AppendJcsString(s, out);
  }

  void AppendHashInteger(std::int64_t v, std::string& out) const override {
    out += '"';
    out += std::to_string(v);
    out += '"';
  }

  Status CheckUploadedNumber(const JsonNumber& number) const override {
    if (std::isfinite(number.value)) return {};
    return {ErrorCode::kInvalidArgument,
            fmt::format("number {} is outside the binary64 range", number.lexeme.substr(0, 40))};
  }
};

const GoCanonicalV1 kGoCanonicalV1Instance;  // immutable, constant-initialized profile object
const JcsUniformNumericStringsV1 kJcsInstance;  // immutable, constant-initialized profile object

}  // namespace

const WireProfile& GoCanonicalV1Profile() noexcept { return kGoCanonicalV1Instance; }
const WireProfile& JcsUniformNumericStringsV1Profile() noexcept { return kJcsInstance; }

Result<const WireProfile*> FindWireProfile(std::string_view name) {
  if (name == "go_canonical_v1") return &GoCanonicalV1Profile();
  if (name == "jcs_uniform_numeric_strings_v1") return &JcsUniformNumericStringsV1Profile();
  return Error(ErrorCode::kInvalidArgument, fmt::format("unknown wire profile {:?}",
                                                        std::string(name)));
}

}  // namespace oversync::protocol
