// File: oversync/protocol/jcs.h
//
// RFC 8785 JSON Canonicalization Scheme (JCS), the canonical form of wire profile B
// (jcs_uniform_numeric_strings_v1, protocol-b.md §3): no whitespace; object members sorted by the
// UTF-16 code units of their names, duplicate names rejected; strings re-escaped with only the
// mandatory escapes (lowercase \u00xx for other control characters), everything else raw UTF-8;
// numbers as IEEE-754 binary64 written with the ECMAScript Number-to-String algorithm, -0 as 0.
// Used for both hashes of profile B, stored payload text and byte counts.
//
// Thread-safety: free functions, no shared state.
#ifndef OVERSYNC_PROTOCOL_JCS_H_
#define OVERSYNC_PROTOCOL_JCS_H_

#include <string>
#include <string_view>

#include "oversync/common/status.h"
#include "oversync/protocol/json_value.h"

namespace oversync::protocol {

// Appends the JCS text of `value`.
// Errors (kInvalidArgument; `out` then holds a partial text the caller must discard): a duplicate
// object member name, a non-finite number (a value kept by keep_out_of_range_numbers), a string
// or member name that is not well-formed UTF-8.
Status AppendJcs(const JsonValue& value, std::string& out);

// Appends `s` as a JCS string literal (with quotes). REQUIRES: `s` is well-formed UTF-8 (the
// protocol's fixed names and validated values); use AppendJcs for untrusted text.
void AppendJcsString(std::string_view s, std::string& out);

// Appends the ECMAScript rendering of a finite double (shortest round-trip digits; plain decimal
// for 1e-6 <= |x| < 1e21, else d[.ddd]e±n; zero of either sign as "0"). REQUIRES: finite.
void AppendJcsNumber(double x, std::string& out);

// Parses one JSON text strictly (valid UTF-8, no unpaired surrogate escape, numbers within the
// binary64 range, exactly one value with optional surrounding whitespace) and returns its JCS
// text. Errors: kInvalidArgument saying what is wrong.
Result<std::string> CanonicalizeJcs(std::string_view text);
Result<std::string> CanonicalizeJcs(std::string_view text, JsonParser& parser);

// The JsonParseOptions JCS input needs (strict Unicode; out-of-range numbers fail the parse).
JsonParseOptions JcsParseOptions() noexcept;

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_JCS_H_
