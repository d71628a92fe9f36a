#include "oversync/common/strings.h"
#include "oversync/protocol/push_validation.h"

#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "codec_util.h"
#include "oversync/common/base64.h"
#include "oversync/common/uuid.h"

namespace oversync::protocol {
namespace {

bool IsIdentifierChar(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool IsIdentifier(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsIdentifierChar);
}

Status Invalid(std::string message) { return {ErrorCode::kPushChunkInvalid, std::move(message)}; }

// Go %q of a string (close enough for messages: quotes and escapes).
std::string Quote(std::string_view s) { return fmt::format("{:?}", std::string(s)); }

// Walks a payload value and applies the profile's number policy to every number.
Status CheckNumbers(const JsonValue& value, const WireProfile& profile, std::string_view where) {
  switch (value.kind()) {
    case JsonValue::Kind::kNumber: {
      Status st = profile.CheckUploadedNumber(value.as_number());
      if (!st.ok()) return Invalid(fmt::format("payload field {} {}", where, st.message()));
      return {};
    }
    case JsonValue::Kind::kArray:
      for (const JsonValue& item : value.as_array()) {
        OVERSYNC_RETURN_IF_ERROR(CheckNumbers(item, profile, where));
      }
      return {};
    case JsonValue::Kind::kObject:
      for (const JsonMember& member : value.as_object()) {
        OVERSYNC_RETURN_IF_ERROR(CheckNumbers(member.value, profile, where));
      }
      return {};
    default:
      return {};
  }
}

}  // namespace

bool TableShape::IsBytea(std::string_view column) const noexcept {
  return std::find(bytea_columns.begin(), bytea_columns.end(), column) != bytea_columns.end();
}

bool NormalizeIdentifier(std::string_view input, bool is_schema, std::string& out) {
  out = ToLowerAscii(internal::TrimSpace(input));
  if (is_schema && out.empty()) out = "public";
  return IsIdentifier(out);
}

Result<std::vector<ValidatedPushRow>> ValidatePushChunk(PushChunkRequest request,
                                                        const TableLookup& tables,
                                                        const WireProfile& profile,
                                                        std::int64_t max_rows_per_chunk) {
  if (request.start_row_ordinal < 0) return Error(Invalid("start_row_ordinal must be >= 0"));
  if (request.rows.empty()) return Error(Invalid("rows must not be empty"));
  if (static_cast<std::int64_t>(request.rows.size()) > max_rows_per_chunk) {
    return Error(Invalid(fmt::format("rows length {} exceeds max_rows_per_push_chunk {}",
                                     request.rows.size(), max_rows_per_chunk)));
  }
  std::vector<ValidatedPushRow> out;
  out.reserve(request.rows.size());
  std::set<std::pair<const TableShape*, std::string>> seen;
  for (PushRequestRow& row : request.rows) {
    std::string schema;
    std::string table;
    if (!NormalizeIdentifier(row.schema, true, schema)) {
      return Error(Invalid(fmt::format("invalid schema name {}", Quote(row.schema))));
    }
    if (!NormalizeIdentifier(row.table, false, table)) {
      return Error(Invalid(fmt::format("invalid table name {}", Quote(row.table))));
    }
    const TableShape* shape = tables.Find(schema, table);
    if (shape == nullptr) {
      return Error(Invalid(fmt::format("table {}.{} is not registered", schema, table)));
    }
    const std::string qualified = fmt::format("{}.{}", shape->schema, shape->table);
    ValidatedPushRow validated;
    validated.table = shape;
    if (!ParseOp(row.op, validated.op)) {
      return Error(Invalid(fmt::format("invalid op {}", Quote(row.op))));
    }
    // Key: only the member named exactly like the registered column is read.
    const JsonValue* key = row.key.is_object() ? row.key.Find(shape->key_column) : nullptr;
    if (key == nullptr) {
      return Error(Invalid(fmt::format("row key for {} must include \"{}\"", qualified,
                                       shape->key_column)));
    }
    if (!key->is_string()) {
      return Error(Invalid(fmt::format("row key {}.{} must be a string", qualified,
                                       shape->key_column)));
    }
    validated.key_value = key->as_string();
    if (shape->key_kind == SyncKeyKind::kUuid &&
        !Uuid::ParseCanonical(validated.key_value).has_value()) {
      return Error(Invalid(fmt::format("row key {}.{} must use canonical dashed lowercase UUID text",
                                       qualified, shape->key_column)));
    }
    if (!seen.emplace(shape, validated.key_value).second) {
      return Error(Invalid(fmt::format("duplicate target row in push request: {} {}", qualified,
                                       validated.key_value)));
    }
    validated.base_row_version = row.base_row_version;
    if (validated.op == Op::kDelete) {
      if (row.payload_present) {
        return Error(Invalid(fmt::format("DELETE for {} must not include payload", qualified)));
      }
      out.push_back(std::move(validated));
      continue;
    }
    if (!row.payload_present) {
      return Error(Invalid(fmt::format("{} for {} requires payload", OpName(validated.op),
                                       qualified)));
    }
    // A number beyond float64 (kept by the decoder) fails Go's map decode of the payload.
    if (!row.payload.is_object() || internal::HasNonFiniteNumber(row.payload)) {
      return Error(Invalid(fmt::format("payload for {} must be a JSON object", qualified)));
    }
    const JsonObject& members = row.payload.as_object();
    for (const JsonMember& member : members) {
      // Go matches the hidden column case-sensitively; a differently cased spelling then reached
      // the apply (where member names are lower-cased) and failed with a 500. Reject every
      // spelling here instead (docs/compatibility.md).
      if (ToLowerAscii(member.key) == kHiddenScopeColumn) {
        return Error(Invalid(fmt::format(
            "payload for {} must not include hidden scope column \"{}\"", qualified,
            kHiddenScopeColumn)));
      }
    }
    if (const JsonValue* payload_key = row.payload.Find(shape->key_column)) {
      if (!payload_key->is_string() || payload_key->as_string() != validated.key_value) {
        return Error(Invalid(fmt::format("payload key {}.{} must match request key", qualified,
                                         shape->key_column)));
      }
    }
    for (const JsonMember& member : members) {
      if (!IsIdentifier(ToLowerAscii(member.key))) {
        return Error(Invalid(fmt::format("payload for {} contains invalid column {}", qualified,
                                         Quote(member.key))));
      }
    }
    // Go checks the decoded payload map: the type is looked up by the lowercased name, only the
    // last of duplicate members counts, and messages name the member as sent.
    for (const JsonMember& member : members) {
      if (!shape->IsBytea(ToLowerAscii(member.key)) || member.value.is_null()) continue;
      if (row.payload.Find(member.key) != &member.value) continue;  // overridden duplicate
      if (!member.value.is_string()) {
        return Error(Invalid(fmt::format("payload binary field {}.{} must be a base64 string",
                                         qualified, member.key)));
      }
      if (!Base64Decode(member.value.as_string(), Base64Mode::kGoStd).has_value()) {
        return Error(Invalid(fmt::format("payload binary field {}.{} must be valid base64",
                                         qualified, member.key)));
      }
    }
    for (const JsonMember& member : members) {
      OVERSYNC_RETURN_IF_ERROR(
          CheckNumbers(member.value, profile, fmt::format("{}.{}", qualified, member.key)));
    }
    validated.payload = std::move(row.payload);
    out.push_back(std::move(validated));
  }
  return out;
}

bool PayloadHasHiddenScopeColumn(const JsonValue& payload) noexcept {
  if (!payload.is_object()) return false;
  for (const JsonMember& member : payload.as_object()) {
    if (ToLowerAscii(member.key) == kHiddenScopeColumn) return true;
  }
  return false;
}

}  // namespace oversync::protocol
