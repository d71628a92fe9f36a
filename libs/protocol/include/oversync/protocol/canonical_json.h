// File: oversync/protocol/canonical_json.h
//
// The Go canonical form of JSON (protocol.md §2.6): what Go's json.Marshal produces for the value
// json.Unmarshal decoded into `any`. Used for the bundle hash, stored payload text and
// byte_count. Not RFC 8785 (see wire_profile.h for the profile that uses JCS).
#ifndef OVERSYNC_PROTOCOL_CANONICAL_JSON_H_
#define OVERSYNC_PROTOCOL_CANONICAL_JSON_H_

#include <string>
#include <string_view>

#include "oversync/common/status.h"
#include "oversync/protocol/json_value.h"

namespace oversync::protocol {

// Appends the Go canonical text of `value`: object keys sorted by raw bytes with duplicates
// resolved to the last occurrence, numbers re-rendered from their doubles, Go string escaping.
void AppendGoCanonical(const JsonValue& value, std::string& out);

// Parses `text` with Go semantics (JsonParser) and returns its Go canonical text.
// Errors: kInvalidArgument for anything Go's json.Unmarshal rejects.
Result<std::string> CanonicalizeGo(std::string_view text);
Result<std::string> CanonicalizeGo(std::string_view text, JsonParser& parser);

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_CANONICAL_JSON_H_
