// File: oversync/protocol/wire_profile.h
//
// The wire-profile seam. go-oversync has two incompatible wire contracts that share every path
// and the version label "v1":
//   * kGoCanonicalV1 — go-oversync at commit 1f1118f (protocol.md): business numbers are JSON
//     numbers, canonical JSON is Go's encoding/json form, hash integers are JSON integers;
//   * kJcsUniformNumericStringsV1 — go-oversync's newer `jcs_uniform_numeric_strings_v1`
//     (protocol-b.md): numbers travel as strings, canonical JSON is RFC 8785 (JCS), hash
//     integers are decimal strings.
// Everything that differs between them at the value/hash level goes through this interface, so a
// server can bind one profile per deployment or base path (kmp-client.md §6.3) and the client can
// speak either. Typed business values of profile B (numeric strings, the boolean bridge) are
// per column and live in wire_values.h; the per-profile HTTP shapes live with the endpoints.
//
// Thread-safety: profiles are immutable and thread-safe; the references returned live forever.
#ifndef OVERSYNC_PROTOCOL_WIRE_PROFILE_H_
#define OVERSYNC_PROTOCOL_WIRE_PROFILE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "oversync/common/status.h"
#include "oversync/protocol/json_value.h"

namespace oversync::protocol {

enum class WireProfileId : std::uint8_t {
  kGoCanonicalV1,
  kJcsUniformNumericStringsV1,
};

class WireProfile {
 public:
  virtual ~WireProfile() = default;

  virtual WireProfileId id() const noexcept = 0;
  // Stable configuration name: "go_canonical_v1" or "jcs_uniform_numeric_strings_v1".
  virtual std::string_view name() const noexcept = 0;

  // Appends the profile's canonical JSON text of `value` (payloads, keys, hash input).
  // Errors: kInvalidArgument when the value cannot be canonicalized under this profile
  // (e.g. duplicate object keys under JCS).
  virtual Status AppendCanonical(const JsonValue& value, std::string& out) const = 0;

  // Appends a canonical string literal (the hash envelope's schema/table/op strings).
  virtual void AppendCanonicalString(std::string_view s, std::string& out) const = 0;

  // Appends an integer member value of the bundle-hash envelope (row_ordinal, row_version):
  // a JSON integer in kGoCanonicalV1, a decimal string in profile B.
  virtual void AppendHashInteger(std::int64_t v, std::string& out) const = 0;

  // Checks one JSON number found in an uploaded business payload.
  // kGoCanonicalV1 accepts every number except integers whose magnitude exceeds 2^53: Go would
  // silently round them through float64 (protocol.md §2.5.3); we refuse instead of corrupting.
  // Errors: kInvalidArgument with a message naming the number.
  virtual Status CheckUploadedNumber(const JsonNumber& number) const = 0;
};

// The go-oversync 1f1118f profile ("profile A").
const WireProfile& GoCanonicalV1Profile() noexcept;
// go-oversync's jcs_uniform_numeric_strings_v1 ("profile B").
const WireProfile& JcsUniformNumericStringsV1Profile() noexcept;

// Looks a profile up by configuration name. Errors: kInvalidArgument for unknown names.
Result<const WireProfile*> FindWireProfile(std::string_view name);

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_WIRE_PROFILE_H_
