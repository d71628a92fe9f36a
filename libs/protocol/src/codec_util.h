// Private helpers for the codec: Go-style member lookup and typed reads from a JsonValue.
#ifndef OVERSYNC_PROTOCOL_SRC_CODEC_UTIL_H_
#define OVERSYNC_PROTOCOL_SRC_CODEC_UTIL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "oversync/common/status.h"
#include "oversync/protocol/json_value.h"

namespace oversync::protocol::internal {

// How a body is decoded and how its failures are reported.
struct DecodeContext {
  ErrorCode code;           // kInvalidRequest, kSnapshotSessionInvalid, kProtocolViolation ...
  std::string_view prefix;  // "Failed to parse push chunk request"
  bool fold_names;          // Go request decoding matches member names case-insensitively
};

Status Fail(const DecodeContext& ctx, std::string_view detail);

// Parses the body; empty body is an error.
Result<JsonValue> ParseBody(std::string_view body, JsonParser* parser, const DecodeContext& ctx,
                            JsonParseOptions options = {});

bool EqualFoldAscii(std::string_view a, std::string_view b) noexcept;

// The last member named `name` (case-insensitively when ctx.fold_names), or nullptr.
const JsonValue* FindMember(const JsonValue& object, std::string_view name,
                            const DecodeContext& ctx) noexcept;

std::string JoinPath(std::string_view path, std::string_view name);

enum class Presence { kOptional, kRequired };

// Typed reads. Absent or null leaves `out` untouched (Go) unless kRequired, which reports
// "<path> is required". Wrong JSON types report "<path> must be <type>".
Status ReadInt64(const JsonValue& object, std::string_view name, std::int64_t& out,
                 const DecodeContext& ctx, std::string_view path,
                 Presence presence = Presence::kOptional);
Status ReadString(const JsonValue& object, std::string_view name, std::string& out,
                  const DecodeContext& ctx, std::string_view path,
                  Presence presence = Presence::kOptional);
Status ReadBool(const JsonValue& object, std::string_view name, bool& out,
                const DecodeContext& ctx, std::string_view path,
                Presence presence = Presence::kOptional);

// Integer literal that fits int64 (Go's rule for int64 fields: "1.0" and "1e0" are errors).
bool NumberToInt64(const JsonNumber& number, std::int64_t& out) noexcept;

std::string_view TrimSpace(std::string_view s) noexcept;

// True when `value` holds a ±infinity number anywhere (JsonParseOptions::keep_out_of_range_numbers).
bool HasNonFiniteNumber(const JsonValue& value);

}  // namespace oversync::protocol::internal

#endif  // OVERSYNC_PROTOCOL_SRC_CODEC_UTIL_H_
