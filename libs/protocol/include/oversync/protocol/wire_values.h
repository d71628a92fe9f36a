// File: oversync/protocol/wire_values.h
//
// Business value encoding of wire profile B (jcs_uniform_numeric_strings_v1, protocol-b.md §2):
// values of int2/int4/int8/numeric/float4/float8 columns travel as JSON strings in both
// directions, booleans as JSON booleans (uploads may also send the SQLite bridge strings "0"/"1").
// Every other column type keeps profile A's encoding and is not handled here.
//
//  * Upload: CheckUploadedWireValue validates one non-null value of a typed column against the
//    exact grammars of §2.3 and returns the value to apply (the "0"/"1" bridge becomes a JSON
//    boolean; every other accepted value is returned unchanged).
//  * Output: WireValueFromPostgres turns the value PostgreSQL's to_jsonb produced for a typed
//    column into its profile-B wire form (integers and numerics keep PostgreSQL's digits, floats
//    are re-rendered with the ECMAScript algorithm, float4 widened to binary64 first).
//
// Thread-safety: free functions, no shared state.
#ifndef OVERSYNC_PROTOCOL_WIRE_VALUES_H_
#define OVERSYNC_PROTOCOL_WIRE_VALUES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "oversync/common/status.h"
#include "oversync/protocol/json_value.h"

namespace oversync::protocol {

// The column families profile B encodes specially. kOther: every other type (text, uuid, bytea,
// timestamps, json, ...), whose values keep profile A's rules.
enum class WireValueType : std::uint8_t {
  kOther,
  kInt2,
  kInt4,
  kInt8,
  kNumeric,
  kFloat4,
  kFloat8,
  kBool,
};

// Maps a PostgreSQL type name (pg_type.typname, any case; "int4", "numeric", "float8", "bool",
// also the SQL spellings "integer", "bigint", "smallint", "decimal", "real", "double precision",
// "boolean") to its family; kOther for anything else.
WireValueType WireValueTypeFromPostgres(std::string_view type_name) noexcept;

// The failure categories the server reports (protocol-b.md §2.2).
enum class WireValueCategory : std::uint8_t {
  kLegacyJsonNumber,      // a JSON number where a string is required
  kInvalidInteger,
  kInvalidDecimal,
  kInvalidFloat,
  kInvalidBooleanBridge,
  kOutOfRange,            // valid integer grammar, outside the column's range
};
std::string_view WireValueCategoryName(WireValueCategory category) noexcept;

// Checks one non-null uploaded value of column `schema`.`table`.`column` of family `type`.
// Returns the value to apply. kOther values are returned unchanged (no check).
// Errors: kInvalidArgument with the Go message
//   "payload field S.T.C must use <expected> (category=<category>)".
Result<JsonValue> CheckUploadedWireValue(WireValueType type, const JsonValue& value,
                                         std::string_view schema, std::string_view table,
                                         std::string_view column);

// Converts the value PostgreSQL's to_jsonb produced for a column of family `type` into its
// profile-B wire value. null stays null; kOther values are returned unchanged.
// Errors: kInvalidArgument when the stored value has no wire form (NaN, ±Infinity, an integer
// outside its range, a value of the wrong JSON kind); the server answers 500 for those
// (protocol-b.md §2.2 "Output faults").
Result<JsonValue> WireValueFromPostgres(WireValueType type, const JsonValue& value);

// Grammar helpers (protocol-b.md §2.3), shared by the server and the client.
// The exact int64 grammar: -?(0|[1-9][0-9]*), not "-0", within int64.
enum class WireIntParse : std::uint8_t { kOk, kBadGrammar, kOutOfRange };
WireIntParse ParseWireInt64(std::string_view text, std::int64_t& value) noexcept;
// The exact decimal grammar with optional exponent; no negative zero. Finite by construction.
bool IsWireDecimal(std::string_view text) noexcept;
// A float string: must be the ECMAScript rendering of the finite binary64 it denotes.
// Errors: kInvalidArgument.
Result<double> ParseWireFloat(std::string_view text);
// The ECMAScript rendering of a finite double (what ParseWireFloat accepts). REQUIRES finite.
std::string RenderWireFloat(double value);

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_WIRE_VALUES_H_
