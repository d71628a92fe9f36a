// File: libs/oversqlite/src/codec.cc
//
// Key and payload encodings (client.md §2.2, §3.5, §3.6, §5.3):
//   local key_json   {"<lower key col>":"<text | 32-hex>"} rendered like SQLite's json_object
//   wire key         {"<lower key col>":"<text | dashed UUID>"}
//   local payload    BLOBs as lowercase hex (what the capture triggers write)
//   wire payload     UUID text for key/reference BLOBs, standard base64 for other BLOBs
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "client_impl.h"
#include "oversync/common/base64.h"
#include "oversync/common/sha256.h"
#include "oversync/common/strings.h"
#include "oversync/common/uuid.h"
#include "oversync/protocol/canonical_json.h"
#include "oversync/protocol/jcs.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/protocol/wire_values.h"

namespace oversync::oversqlite {
namespace {

using protocol::JsonValue;

}  // namespace

// SQLite 3.40 json_object string rendering: '"' and '\\' backslash-escaped, \b \t \n \f \r short
// escapes, other control characters as \u00xx (lowercase hex), everything else literal — exactly
// RFC 8785's string form, so the JCS writer renders it.
void internal::AppendSqliteJsonString(std::string_view s, std::string& out) {
  protocol::AppendJcsString(s, out);
}

namespace {

std::string BytesOf(const Uuid& uuid) {
  return std::string(reinterpret_cast<const char*>(uuid.bytes().data()), uuid.bytes().size());
}

Result<Uuid> UuidFromBytes(std::string_view bytes) {
  if (bytes.size() != 16) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("expected 16 bytes, got {}", bytes.size()));
  }
  Uuid::Bytes raw{};
  for (std::size_t i = 0; i < 16; ++i) raw[i] = static_cast<std::uint8_t>(bytes[i]);
  return Uuid(raw);
}

// Inbound UUID text (client.md §3.5): 36 characters, dashes at 8-4-4-4-12, no surrounding
// whitespace; either hex case (Go compares against the lower-cased input).
Result<std::string> DecodeWireUuidBytes(std::string_view text) {
  if (text.size() != 36) return Error(ErrorCode::kInvalidArgument, "not a dashed UUID");
  auto parsed = Uuid::ParseCanonical(ToLowerAscii(text));
  if (!parsed) return Error(ErrorCode::kInvalidArgument, "not a dashed UUID");
  return BytesOf(*parsed);
}

// Upload side of UUID BLOB columns: the local value may be UUID text, exact base64 or hex
// (client.md §3.6) and must decode to 16 bytes.
Result<std::string> DecodeAnyUuidBytes(std::string_view text) {
  if (text.size() == 36) {
    if (auto bytes = DecodeWireUuidBytes(text)) return bytes;
  }
  if (auto hex = HexDecode(text); hex && hex->size() == 16) return *hex;
  if (auto b64 = Base64Decode(text); b64 && b64->size() == 16) return *b64;
  return Error(ErrorCode::kInvalidArgument, fmt::format("value {:?} is not a 16-byte UUID", text));
}

}  // namespace

std::string Client::Impl::LocalKeyJson(const TableInfo& table, std::string_view local_key) const {
  std::string out = "{";
  internal::AppendSqliteJsonString(table.key_lower, out);
  out.push_back(':');
  internal::AppendSqliteJsonString(local_key, out);
  out.push_back('}');
  return out;
}

Result<std::string> Client::Impl::LocalKeyFromKeyJson(const TableInfo& table,
                                                      std::string_view key_json) const {
  auto parsed = protocol::ParseJson(key_json);
  if (!parsed || !parsed->is_object()) {
    return Error(ErrorCode::kDatabase, fmt::format("invalid local key_json {:?} for {}", key_json, table.name));
  }
  const JsonValue* value = parsed->Find(table.key_lower);
  if (value == nullptr && parsed->as_object().size() == 1) value = &parsed->as_object().front().value;
  if (value == nullptr || !value->is_string()) {
    return Error(ErrorCode::kDatabase, fmt::format("invalid local key_json {:?} for {}", key_json, table.name));
  }
  return value->as_string();
}

Result<JsonValue> Client::Impl::LocalKeyToWireKey(const TableInfo& table,
                                                  std::string_view local_key) const {
  std::string wire;
  if (table.key_is_blob) {
    auto bytes = HexDecode(local_key);
    if (!bytes || bytes->size() != 16) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("invalid blob UUID pk for {}: {:?} is not 16 bytes", table.name, local_key));
    }
    OVERSYNC_ASSIGN_OR_RETURN(Uuid uuid, UuidFromBytes(*bytes));
    wire = uuid.ToString();
  } else {
    wire = std::string(local_key);
  }
  JsonValue key = JsonValue::Object();
  key.Add(table.key_lower, JsonValue::String(std::move(wire)));
  return key;
}

Result<std::string> Client::Impl::WireKeyToLocalKey(const TableInfo& table,
                                                    const JsonValue& key) const {
  const JsonValue* value = key.is_object() ? key.Find(table.key_lower) : nullptr;
  if (value == nullptr || !value->is_string() || value->as_string().empty()) {
    return Error(ErrorCode::kProtocolViolation,
                 fmt::format("failed to decode canonical wire bundle row key for {}: missing {:?}",
                             table.name, table.key_lower));
  }
  if (!table.key_is_blob) return value->as_string();
  auto bytes = DecodeWireUuidBytes(value->as_string());
  if (!bytes) {
    return Error(ErrorCode::kProtocolViolation,
                 fmt::format("failed to decode canonical wire bundle row key for {}: {:?}", table.name,
                             value->as_string()));
  }
  return HexLower(*bytes);
}

Result<JsonValue> Client::Impl::LocalPayloadToWire(const TableInfo& table,
                                                   const JsonValue& local) const {
  if (!local.is_object()) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("payload for {} must be a JSON object", table.name));
  }
  JsonValue wire = JsonValue::Object();
  for (const protocol::JsonMember& member : local.as_object()) {
    const ColumnInfo* column = table.FindColumn(ToLowerAscii(member.key));
    if (ProfileB() && member.value.is_number()) {
      // protocol-b.md §2.5: SQLite INTEGER values travel as canonical integer strings (also the
      // "0"/"1" bridge to PostgreSQL booleans), REAL values as the shortest binary64 spelling.
      const protocol::JsonNumber& number = member.value.as_number();
      std::int64_t integer = 0;
      if (protocol::ParseWireInt64(number.lexeme, integer) == protocol::WireIntParse::kOk) {
        wire.Add(member.key, JsonValue::String(number.lexeme));
      } else if (std::isfinite(number.value)) {
        wire.Add(member.key, JsonValue::String(protocol::RenderWireFloat(number.value)));
      } else {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("value of {}.{} is not a finite number", table.name, member.key));
      }
      continue;
    }
    if (column == nullptr || !column->is_blob || !member.value.is_string() ||
        member.value.as_string().empty()) {
      wire.Add(member.key, member.value);
      continue;
    }
    const std::string& text = member.value.as_string();
    if (table.IsUuidBlobColumn(*column)) {
      auto bytes = DecodeAnyUuidBytes(text);
      if (!bytes) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("invalid blob UUID {} for {}.{}: {}",
                                 column->lower == table.key_lower ? "pk" : "reference", table.name,
                                 column->lower, bytes.error().message()));
      }
      OVERSYNC_ASSIGN_OR_RETURN(Uuid uuid, UuidFromBytes(*bytes));
      wire.Add(member.key, JsonValue::String(uuid.ToString()));
    } else {
      auto bytes = HexDecode(text);
      if (!bytes) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("invalid hex blob value for {}.{}", table.name, column->lower));
      }
      wire.Add(member.key, JsonValue::String(Base64Encode(*bytes)));
    }
  }
  return wire;
}

Result<JsonValue> Client::Impl::WirePayloadToLocal(const TableInfo& table,
                                                   const JsonValue& wire) const {
  if (!wire.is_object()) {
    return Error(ErrorCode::kProtocolViolation, fmt::format("payload for {} must be a JSON object", table.name));
  }
  JsonValue local = JsonValue::Object();
  for (const protocol::JsonMember& member : wire.as_object()) {
    const ColumnInfo* column = table.FindColumn(ToLowerAscii(member.key));
    if (column == nullptr || !column->is_blob || !member.value.is_string()) {
      local.Add(member.key, member.value);
      continue;
    }
    const std::string& text = member.value.as_string();
    if (table.IsUuidBlobColumn(*column)) {
      auto bytes = DecodeWireUuidBytes(text);
      if (!bytes) {
        return Error(ErrorCode::kProtocolViolation,
                     fmt::format("invalid UUID value for {}.{}", table.name, column->lower));
      }
      local.Add(member.key, JsonValue::String(HexLower(*bytes)));
    } else {
      auto bytes = Base64Decode(text);
      if (!bytes) {
        return Error(ErrorCode::kProtocolViolation,
                     fmt::format("invalid base64 value for {}.{}", table.name, column->lower));
      }
      local.Add(member.key, JsonValue::String(HexLower(*bytes)));
    }
  }
  return local;
}

Status Client::Impl::BindPayloadValue(Stmt& stmt, int index, const TableInfo& table,
                                      const ColumnInfo& column, const JsonValue& value,
                                      PayloadEncoding encoding) const {
  switch (value.kind()) {
    case JsonValue::Kind::kNull:
      stmt.BindNull(index);
      return Status::Ok();
    case JsonValue::Kind::kBool:
      stmt.Bind(index, static_cast<std::int64_t>(value.as_bool() ? 1 : 0));
      return Status::Ok();
    case JsonValue::Kind::kNumber: {
      if (column.is_blob) break;
      const protocol::JsonNumber& number = value.as_number();
      if (encoding == PayloadEncoding::kLocal && number.IsIntegerLexeme()) {
        // Local payloads come from our own capture (json_object renders INTEGER exactly): bind
        // them exactly, so re-applying a local edit never rounds an integer above 2^53.
        errno = 0;
        char* end = nullptr;
        const long long exact = std::strtoll(number.lexeme.c_str(), &end, 10);
        if (errno == 0 && end != nullptr && *end == '\0') {
          stmt.Bind(index, static_cast<std::int64_t>(exact));
          return Status::Ok();
        }
      }
      // Go binds every JSON number as float64 (client.md §5.3); SQLite's column affinity then
      // stores integral values in INTEGER/NUMERIC columns as integers. Same here for server
      // rows, so a file written by either client holds the same values.
      stmt.BindDouble(index, number.value);
      return Status::Ok();
    }
    case JsonValue::Kind::kString: {
      const std::string& text = value.as_string();
      if (!column.is_blob) {
        stmt.Bind(index, text);
        return Status::Ok();
      }
      std::optional<std::string> bytes;
      if (encoding == PayloadEncoding::kLocal) {
        bytes = HexDecode(text);
        if (!bytes && table.IsUuidBlobColumn(column)) {
          if (auto uuid = DecodeWireUuidBytes(text)) bytes = *uuid;
        }
        if (!bytes) {
          return Status(ErrorCode::kInvalidArgument,
                        fmt::format("invalid hex blob value for {}.{}", table.name, column.lower));
        }
      } else if (table.IsUuidBlobColumn(column)) {
        auto uuid = DecodeWireUuidBytes(text);
        if (!uuid) {
          return Status(ErrorCode::kProtocolViolation,
                        fmt::format("failed to decode UUID blob value for {}.{}: {:?}", table.name,
                                    column.lower, text));
        }
        bytes = *uuid;
      } else {
        auto decoded = Base64Decode(text);
        if (!decoded) {
          return Status(ErrorCode::kProtocolViolation,
                        fmt::format("failed to decode base64 blob value for {}.{}", table.name, column.lower));
        }
        bytes = *decoded;
      }
      stmt.BindBlob(index, std::span<const std::uint8_t>(
                               reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size()));
      return Status::Ok();
    }
    case JsonValue::Kind::kArray:
    case JsonValue::Kind::kObject: {
      if (column.is_blob) break;
      std::string text;
      protocol::AppendGoCanonical(value, text);
      stmt.Bind(index, text);
      return Status::Ok();
    }
  }
  return Status(ErrorCode::kProtocolViolation,
                fmt::format("{}.{} must be string-encoded blob data", table.name, column.lower));
}

Status Client::Impl::BindLocalKey(Stmt& stmt, int index, const TableInfo& table,
                                  std::string_view local_key) const {
  if (!table.key_is_blob) {
    stmt.Bind(index, local_key);
    return Status::Ok();
  }
  auto bytes = HexDecode(local_key);
  if (!bytes && local_key.size() == 36) {
    if (auto uuid = DecodeWireUuidBytes(local_key)) bytes = *uuid;
  }
  if (!bytes) {
    // client.md §1.7: SerializeRow also takes the key as exact base64 of the 16 bytes.
    if (auto decoded = Base64Decode(local_key); decoded && decoded->size() == 16) bytes = *decoded;
  }
  if (!bytes) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("invalid blob key {:?} for {}", local_key, table.name));
  }
  stmt.BindBlob(index, std::span<const std::uint8_t>(
                           reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size()));
  return Status::Ok();
}

Result<std::string> Client::Impl::Canonical(std::string_view json_text) const {
  return protocol::CanonicalizeGo(json_text);
}

}  // namespace oversync::oversqlite
