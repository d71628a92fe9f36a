#include "oversync/common/strings.h"
#include "oversync/protocol/codec.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "codec_util.h"
#include "oversync/common/rfc3339.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/json_writer.h"

namespace oversync::protocol {
namespace internal {

Status Fail(const DecodeContext& ctx, std::string_view detail) {
  return {ctx.code, fmt::format("{}: {}", ctx.prefix, detail)};
}

Result<JsonValue> ParseBody(std::string_view body, JsonParser* parser, const DecodeContext& ctx,
                            JsonParseOptions options) {
  if (body.empty()) return Error(Fail(ctx, "empty body"));
  JsonParser temporary;
  Result<JsonValue> parsed = (parser != nullptr ? *parser : temporary).Parse(body, options);
  if (!parsed) return Error(Fail(ctx, parsed.error().message()));
  return parsed;
}

bool EqualFoldAscii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

namespace {
bool NameMatches(std::string_view key, std::string_view name, const DecodeContext& ctx) noexcept {
  return ctx.fold_names ? EqualFoldAscii(key, name) : key == name;
}
}  // namespace

const JsonValue* FindMember(const JsonValue& object, std::string_view name,
                            const DecodeContext& ctx) noexcept {
  if (!object.is_object()) return nullptr;
  const JsonObject& members = object.as_object();
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    if (NameMatches(it->key, name, ctx)) return &it->value;
  }
  return nullptr;
}

std::string JoinPath(std::string_view path, std::string_view name) {
  if (path.empty()) return std::string(name);
  return fmt::format("{}.{}", path, name);
}

bool NumberToInt64(const JsonNumber& number, std::int64_t& out) noexcept {
  if (!number.IsIntegerLexeme()) return false;
  std::int64_t v = 0;
  const char* first = number.lexeme.data();
  const char* last = first + number.lexeme.size();
  const auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || ptr != last) return false;
  out = v;
  return true;
}

namespace {
Status Missing(const DecodeContext& ctx, std::string_view path) {
  return Fail(ctx, fmt::format("{} is required", path));
}

// Go's encoding/json decodes every occurrence of a member in document order: a null is a no-op
// for a scalar (an earlier value survives a later null), a wrongly typed occurrence is an error
// even when a later one is fine, and otherwise the last value wins (protocol.md §1.4).
// `assign` returns false for a wrongly typed value.
template <typename Assign>
Status ReadScalar(const JsonValue& object, std::string_view name, const DecodeContext& ctx,
                  std::string_view path, Presence presence, std::string_view type_phrase,
                  const Assign& assign) {
  bool found = false;
  if (object.is_object()) {
    for (const JsonMember& member : object.as_object()) {
      if (!NameMatches(member.key, name, ctx) || member.value.is_null()) continue;
      if (!assign(member.value)) {
        return Fail(ctx, fmt::format("{} must be {}", JoinPath(path, name), type_phrase));
      }
      found = true;
    }
  }
  if (!found && presence == Presence::kRequired) return Missing(ctx, JoinPath(path, name));
  return {};
}
}  // namespace

Status ReadInt64(const JsonValue& object, std::string_view name, std::int64_t& out,
                 const DecodeContext& ctx, std::string_view path, Presence presence) {
  return ReadScalar(object, name, ctx, path, presence, "an integer", [&](const JsonValue& v) {
    return v.is_number() && NumberToInt64(v.as_number(), out);
  });
}

Status ReadString(const JsonValue& object, std::string_view name, std::string& out,
                  const DecodeContext& ctx, std::string_view path, Presence presence) {
  return ReadScalar(object, name, ctx, path, presence, "a string", [&](const JsonValue& v) {
    if (!v.is_string()) return false;
    out = v.as_string();
    return true;
  });
}

Status ReadBool(const JsonValue& object, std::string_view name, bool& out,
                const DecodeContext& ctx, std::string_view path, Presence presence) {
  return ReadScalar(object, name, ctx, path, presence, "a boolean", [&](const JsonValue& v) {
    if (!v.is_bool()) return false;
    out = v.as_bool();
    return true;
  });
}

bool HasNonFiniteNumber(const JsonValue& value) {
  switch (value.kind()) {
    case JsonValue::Kind::kNumber:
      return !std::isfinite(value.as_number().value);
    case JsonValue::Kind::kArray:
      for (const JsonValue& item : value.as_array()) {
        if (HasNonFiniteNumber(item)) return true;
      }
      return false;
    case JsonValue::Kind::kObject:
      for (const JsonMember& member : value.as_object()) {
        if (HasNonFiniteNumber(member.value)) return true;
      }
      return false;
    default:
      return false;
  }
}

std::string_view TrimSpace(std::string_view s) noexcept { return TrimAsciiSpace(s); }

}  // namespace internal

namespace {

using internal::DecodeContext;
using internal::Fail;
using internal::FindMember;
using internal::JoinPath;
using internal::Presence;
using internal::ReadBool;
using internal::ReadInt64;
using internal::ReadString;

constexpr Presence kRequired = Presence::kRequired;

// Root must be an object; Go also accepts `null` as "leave everything zero".
Status RequireObjectRoot(const JsonValue& root, const DecodeContext& ctx, bool allow_null) {
  if (root.is_object() || (allow_null && root.is_null())) return {};
  return Fail(ctx, "body must be a JSON object");
}

// Reads an array member; absent or null gives an empty array. Non-arrays fail.
Result<const JsonArray*> ReadArray(const JsonValue& object, std::string_view name,
                                   const DecodeContext& ctx, std::string_view path,
                                   Presence presence = Presence::kOptional) {
  static const JsonArray kEmpty;  // NOLINT: immutable empty sentinel
  const JsonValue* v = FindMember(object, name, ctx);
  if (v == nullptr || v->is_null()) {
    if (presence == kRequired) return Error(Fail(ctx, fmt::format("{} is required",
                                                                  JoinPath(path, name))));
    return &kEmpty;
  }
  if (!v->is_array()) return Error(Fail(ctx, fmt::format("{} must be an array",
                                                         JoinPath(path, name))));
  return &v->as_array();
}

// Reads a sync key object; null/absent gives an empty object (Go nil map).
Status ReadKey(const JsonValue& object, JsonValue& out, const DecodeContext& ctx,
               std::string_view path, Presence presence) {
  const JsonValue* v = FindMember(object, "key", ctx);
  if (v == nullptr || v->is_null()) {
    if (presence == kRequired) return Fail(ctx, fmt::format("{} is required",
                                                            JoinPath(path, "key")));
    out = JsonValue::Object();
    return {};
  }
  if (!v->is_object()) return Fail(ctx, fmt::format("{} must be an object",
                                                    JoinPath(path, "key")));
  out = *v;
  return {};
}

std::string Indexed(std::string_view name, std::size_t i) { return fmt::format("{}[{}]", name, i); }

// ---------------------------------------------------------------------------------------------
// Request decoders

const DecodeContext kConnectCtx{ErrorCode::kInvalidRequest, "Failed to parse connect request",
                                true};
const DecodeContext kPushCreateCtx{ErrorCode::kInvalidRequest,
                                   "Failed to parse push session request", true};
const DecodeContext kPushChunkCtx{ErrorCode::kInvalidRequest, "Failed to parse push chunk request",
                                  true};
const DecodeContext kSnapshotCreateCtx{ErrorCode::kSnapshotSessionInvalid,
                                       "Failed to parse snapshot session request", true};

Status RejectUnknownMembers(const JsonValue& object, std::initializer_list<std::string_view> known,
                            const DecodeContext& ctx, std::string_view path) {
  for (const JsonMember& member : object.as_object()) {
    bool found = false;
    for (const std::string_view name : known) {
      if (internal::EqualFoldAscii(member.key, name)) {
        found = true;
        break;
      }
    }
    if (!found) {
      return Fail(ctx, fmt::format("unknown field {:?} in {}", member.key,
                                   path.empty() ? "body" : path));
    }
  }
  return {};
}

}  // namespace

Result<ConnectRequest> DecodeConnectRequest(std::string_view body, JsonParser* parser) {
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, kConnectCtx));
  OVERSYNC_RETURN_IF_ERROR(RequireObjectRoot(root, kConnectCtx, true));
  ConnectRequest request;
  OVERSYNC_RETURN_IF_ERROR(
      ReadBool(root, "has_local_pending_rows", request.has_local_pending_rows, kConnectCtx, ""));
  return request;
}

Result<PushSessionCreateRequest> DecodePushSessionCreateRequest(std::string_view body,
                                                                JsonParser* parser,
                                                                WireProfileId profile) {
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root,
                            internal::ParseBody(body, parser, kPushCreateCtx));
  OVERSYNC_RETURN_IF_ERROR(RequireObjectRoot(root, kPushCreateCtx, true));
  PushSessionCreateRequest request;
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "source_bundle_id", request.source_bundle_id, kPushCreateCtx, ""));
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "planned_row_count", request.planned_row_count, kPushCreateCtx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "canonical_request_hash",
                                      request.canonical_request_hash, kPushCreateCtx, ""));
  OVERSYNC_RETURN_IF_ERROR(
      ReadString(root, "initialization_id", request.initialization_id, kPushCreateCtx, ""));
  // Profile B compares the token exactly (protocol-b.md §1.3).
  if (profile == WireProfileId::kGoCanonicalV1) {
    request.initialization_id = std::string(internal::TrimSpace(request.initialization_id));
  }
  return request;
}

Result<PushChunkRequest> DecodePushChunkRequest(std::string_view body, JsonParser* parser) {
  const DecodeContext& ctx = kPushChunkCtx;
  // Payloads are json.RawMessage in Go: a number beyond float64 inside one fails only that row's
  // validation (push_validation.cc), so keep it here and reject it everywhere else below.
  JsonParseOptions options;
  options.keep_out_of_range_numbers = true;
  OVERSYNC_ASSIGN_OR_RETURN(JsonValue root, internal::ParseBody(body, parser, ctx, options));
  OVERSYNC_RETURN_IF_ERROR(RequireObjectRoot(root, ctx, true));
  PushChunkRequest request;
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "start_row_ordinal", request.start_row_ordinal, ctx, ""));
  OVERSYNC_ASSIGN_OR_RETURN(const JsonArray* rows, ReadArray(root, "rows", ctx, ""));
  request.rows.reserve(rows->size());
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const JsonValue& item = (*rows)[i];
    const std::string path = Indexed("rows", i);
    PushRequestRow row;
    if (item.is_null()) {  // Go decodes a null element into a zero row
      row.key = JsonValue::Object();
      request.rows.push_back(std::move(row));
      continue;
    }
    if (!item.is_object()) return Error(Fail(ctx, fmt::format("{} must be an object", path)));
    OVERSYNC_RETURN_IF_ERROR(ReadString(item, "schema", row.schema, ctx, path));
    OVERSYNC_RETURN_IF_ERROR(ReadString(item, "table", row.table, ctx, path));
    OVERSYNC_RETURN_IF_ERROR(ReadKey(item, row.key, ctx, path, Presence::kOptional));
    if (internal::HasNonFiniteNumber(row.key)) {
      return Error(Fail(ctx, fmt::format("{}.key contains a number out of range", path)));
    }
    OVERSYNC_RETURN_IF_ERROR(ReadString(item, "op", row.op, ctx, path));
    OVERSYNC_RETURN_IF_ERROR(ReadInt64(item, "base_row_version", row.base_row_version, ctx, path));
    if (const JsonValue* payload = FindMember(item, "payload", ctx)) {
      row.payload_present = true;
      // `root` is owned by this function and not read again: move the (possibly large)
      // payload subtree out instead of copying it.
      row.payload = std::move(*const_cast<JsonValue*>(payload));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
    }
    request.rows.push_back(std::move(row));
  }
  return request;
}

Result<SnapshotSessionCreateRequest> DecodeSnapshotSessionCreateRequest(std::string_view body,
                                                                        JsonParser* parser,
                                                                        WireProfileId profile) {
  const DecodeContext& ctx = kSnapshotCreateCtx;
  SnapshotSessionCreateRequest request;
  // No body (or only JSON whitespace: Go's decoder reports io.EOF) = keep-source snapshot. Other
  // whitespace such as \v is a syntax error for Go, so it is left to the parser.
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return request;
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  if (root.is_null()) return request;
  OVERSYNC_RETURN_IF_ERROR(RequireObjectRoot(root, ctx, false));
  OVERSYNC_RETURN_IF_ERROR(RejectUnknownMembers(root, {"source_replacement"}, ctx, ""));
  const JsonValue* replacement = FindMember(root, "source_replacement", ctx);
  if (replacement == nullptr || replacement->is_null()) return request;
  if (!replacement->is_object()) {
    return Error(Fail(ctx, "source_replacement must be an object"));
  }
  OVERSYNC_RETURN_IF_ERROR(RejectUnknownMembers(
      *replacement, {"previous_source_id", "new_source_id", "reason"}, ctx, "source_replacement"));
  SnapshotSourceReplacement r;
  OVERSYNC_RETURN_IF_ERROR(ReadString(*replacement, "previous_source_id", r.previous_source_id,
                                      ctx, "source_replacement"));
  OVERSYNC_RETURN_IF_ERROR(
      ReadString(*replacement, "new_source_id", r.new_source_id, ctx, "source_replacement"));
  OVERSYNC_RETURN_IF_ERROR(ReadString(*replacement, "reason", r.reason, ctx, "source_replacement"));
  if (profile == WireProfileId::kGoCanonicalV1) {
    r.previous_source_id = std::string(internal::TrimSpace(r.previous_source_id));
    r.new_source_id = std::string(internal::TrimSpace(r.new_source_id));
    r.reason = std::string(internal::TrimSpace(r.reason));
  }
  request.source_replacement = std::move(r);
  return request;
}

// ---------------------------------------------------------------------------------------------
// Request encoders

std::string EncodeConnectRequest(const ConnectRequest& request) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("has_local_pending_rows", request.has_local_pending_rows);
  w.EndObject();
  return out;
}

std::string EncodePushSessionCreateRequest(const PushSessionCreateRequest& request) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("source_bundle_id", request.source_bundle_id);
  w.Member("planned_row_count", request.planned_row_count);
  if (!request.canonical_request_hash.empty()) {
    w.Member("canonical_request_hash", request.canonical_request_hash);
  }
  if (!request.initialization_id.empty()) {
    w.Member("initialization_id", request.initialization_id);
  }
  w.EndObject();
  return out;
}

std::string EncodePushChunkRequest(const PushChunkRequest& request) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("start_row_ordinal", request.start_row_ordinal);
  w.Key("rows");
  w.BeginArray();
  for (const PushRequestRow& row : request.rows) {
    w.BeginObject();
    w.Member("schema", row.schema);
    w.Member("table", row.table);
    w.Key("key");
    w.Value(row.key);
    w.Member("op", row.op);
    w.Member("base_row_version", row.base_row_version);
    if (row.payload_present) {
      w.Key("payload");
      w.Value(row.payload);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

std::string EncodeSnapshotSessionCreateRequest(const SnapshotSessionCreateRequest& request) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  if (request.source_replacement) {
    const SnapshotSourceReplacement& r = *request.source_replacement;
    w.Key("source_replacement");
    w.BeginObject();
    w.Member("previous_source_id", r.previous_source_id);
    w.Member("new_source_id", r.new_source_id);
    w.Member("reason", r.reason);
    w.EndObject();
  }
  w.EndObject();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Response encoders (member order = the Go structs' field order)

namespace {

void WriteBundleRow(JsonWriter& w, const BundleRow& row) {
  w.BeginObject();
  w.Member("schema", row.schema);
  w.Member("table", row.table);
  w.Key("key");
  w.Value(row.key);
  w.Member("op", OpName(row.op));
  w.Member("row_version", row.row_version);
  if (row.payload && row.op != Op::kDelete) {
    w.Key("payload");
    w.Value(*row.payload);
  }
  w.EndObject();
}

void WriteBundleRows(JsonWriter& w, const std::vector<BundleRow>& rows) {
  w.Key("rows");
  w.BeginArray();
  for (const BundleRow& row : rows) WriteBundleRow(w, row);
  w.EndArray();
}

void WriteFeatures(JsonWriter& w, const std::map<std::string, bool>& features) {
  w.Key("features");
  w.BeginObject();
  for (const auto& [name, enabled] : features) w.Member(name, enabled);
  w.EndObject();
}

void WriteStringArray(JsonWriter& w, std::string_view name, const std::vector<std::string>& v) {
  w.Key(name);
  w.BeginArray();
  for (const std::string& s : v) w.String(s);
  w.EndArray();
}

void WriteIfNonZero(JsonWriter& w, std::string_view name, std::int64_t v) {
  if (v != 0) w.Member(name, v);
}

void WriteIfNonEmpty(JsonWriter& w, std::string_view name, const std::string& v) {
  if (!v.empty()) w.Member(name, v);
}

}  // namespace

std::string EncodeConnectResponse(const ConnectResponse& response) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("resolution", ConnectResolutionName(response.resolution));
  WriteIfNonEmpty(w, "initialization_id", response.initialization_id);
  WriteIfNonEmpty(w, "lease_expires_at", response.lease_expires_at);
  WriteIfNonZero(w, "retry_after_seconds", response.retry_after_seconds);
  w.EndObject();
  return out;
}

std::string EncodePushSessionCreateResponse(const PushSessionCreateResponse& response) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  WriteIfNonEmpty(w, "push_id", response.push_id);
  w.Member("status", response.status == PushSessionStatus::kStaging ? "staging"
                                                                     : "already_committed");
  WriteIfNonZero(w, "planned_row_count", response.planned_row_count);
  WriteIfNonZero(w, "next_expected_row_ordinal", response.next_expected_row_ordinal);
  WriteIfNonZero(w, "bundle_seq", response.bundle_seq);
  WriteIfNonEmpty(w, "source_id", response.source_id);
  WriteIfNonZero(w, "source_bundle_id", response.source_bundle_id);
  WriteIfNonZero(w, "row_count", response.row_count);
  WriteIfNonEmpty(w, "bundle_hash", response.bundle_hash);
  WriteIfNonEmpty(w, "canonical_request_hash", response.canonical_request_hash);
  w.EndObject();
  return out;
}

std::string EncodePushChunkResponse(const PushChunkResponse& response) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("push_id", response.push_id);
  w.Member("next_expected_row_ordinal", response.next_expected_row_ordinal);
  w.EndObject();
  return out;
}

std::string EncodePushSessionCommitResponse(const PushSessionCommitResponse& response) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("bundle_seq", response.bundle_seq);
  w.Member("source_id", response.source_id);
  w.Member("source_bundle_id", response.source_bundle_id);
  w.Member("row_count", response.row_count);
  w.Member("bundle_hash", response.bundle_hash);
  WriteIfNonEmpty(w, "canonical_request_hash", response.canonical_request_hash);
  w.EndObject();
  return out;
}

std::string EncodeErrorResponse(const ErrorResponse& response) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("error", response.error);
  w.Member("message", response.message);
  if (response.required_byte_count) {
    w.Member("required_byte_count", *response.required_byte_count);
  }
  if (response.limit_exceeded) {
    w.Member("dimension", response.limit_exceeded->dimension);
    w.Member("actual", response.limit_exceeded->actual);
    w.Member("limit", response.limit_exceeded->limit);
  }
  // Go's SourceRetiredResponse always carries source_id (no omitempty); other bodies have none.
  if (!response.source_id.empty() || response.error == "source_retired") {
    w.Member("source_id", response.source_id);
  }
  WriteIfNonEmpty(w, "replaced_by_source_id", response.replaced_by_source_id);
  if (response.conflict) {
    const PushConflictDetails& c = *response.conflict;
    w.Key("conflict");
    w.BeginObject();
    w.Member("schema", c.schema);
    w.Member("table", c.table);
    w.Key("key");
    w.Value(c.key);
    w.Member("op", c.op);
    w.Member("base_row_version", c.base_row_version);
    w.Member("server_row_version", c.server_row_version);
    w.Member("server_row_deleted", c.server_row_deleted);
    w.Key("server_row");
    if (c.server_row) {
      w.Value(*c.server_row);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndObject();
  return out;
}

std::string EncodeCommittedBundleRowsResponse(const CommittedBundleRowsResponse& response,
                                              WireProfileId profile) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("bundle_seq", response.bundle_seq);
  w.Member("source_id", response.source_id);
  w.Member("source_bundle_id", response.source_bundle_id);
  w.Member("row_count", response.row_count);
  w.Member("bundle_hash", response.bundle_hash);
  if (profile == WireProfileId::kJcsUniformNumericStringsV1) {
    w.Member("canonical_request_hash", response.canonical_request_hash);  // no omitempty in B
  }
  WriteBundleRows(w, response.rows);
  w.Member("next_row_ordinal", response.next_row_ordinal);
  w.Member("has_more", response.has_more);
  w.EndObject();
  return out;
}

std::string EncodePullResponse(const PullResponse& response) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("stable_bundle_seq", response.stable_bundle_seq);
  w.Key("bundles");
  w.BeginArray();
  for (const Bundle& bundle : response.bundles) {
    w.BeginObject();
    w.Member("bundle_seq", bundle.bundle_seq);
    w.Member("source_id", bundle.source_id);
    w.Member("source_bundle_id", bundle.source_bundle_id);
    WriteIfNonZero(w, "row_count", bundle.row_count);
    WriteIfNonEmpty(w, "bundle_hash", bundle.bundle_hash);
    WriteIfNonEmpty(w, "canonical_request_hash", bundle.canonical_request_hash);
    WriteBundleRows(w, bundle.rows);
    w.EndObject();
  }
  w.EndArray();
  w.Member("has_more", response.has_more);
  w.EndObject();
  return out;
}

std::string EncodeWatchEvent(const WatchEvent& event) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("bundle_seq", event.bundle_seq);
  WriteIfNonEmpty(w, "source_id", event.source_id);
  WriteIfNonZero(w, "source_bundle_id", event.source_bundle_id);
  w.EndObject();
  return out;
}

std::string EncodeSnapshotSession(const SnapshotSession& session, WireProfileId profile) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("snapshot_id", session.snapshot_id);
  w.Member("snapshot_bundle_seq", session.snapshot_bundle_seq);
  w.Member("row_count", session.row_count);
  if (profile == WireProfileId::kJcsUniformNumericStringsV1) {
    w.Member("byte_count", session.byte_count);
  } else {
    WriteIfNonZero(w, "byte_count", session.byte_count);
  }
  w.Member("expires_at", session.expires_at);
  w.EndObject();
  return out;
}

namespace {
void WriteSnapshotRow(JsonWriter& w, const SnapshotRow& row) {
  w.BeginObject();
  w.Member("schema", row.schema);
  w.Member("table", row.table);
  w.Key("key");
  w.Value(row.key);
  w.Member("row_version", row.row_version);
  w.Key("payload");
  w.Value(row.payload);
  w.EndObject();
}
}  // namespace

std::int64_t SnapshotRowWireSize(const SnapshotRow& row) {
  std::string out;
  JsonWriter w(out);
  WriteSnapshotRow(w, row);
  return static_cast<std::int64_t>(out.size());
}

std::string EncodeSnapshotChunkResponse(const SnapshotChunkResponse& response,
                                        WireProfileId profile) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("snapshot_id", response.snapshot_id);
  w.Member("snapshot_bundle_seq", response.snapshot_bundle_seq);
  w.Key("rows");
  w.BeginArray();
  for (const SnapshotRow& row : response.rows) WriteSnapshotRow(w, row);
  w.EndArray();
  w.Member("next_row_ordinal", response.next_row_ordinal);
  w.Member("has_more", response.has_more);
  if (profile == WireProfileId::kJcsUniformNumericStringsV1) {
    w.Member("byte_count", response.byte_count);
  }
  w.EndObject();
  return out;
}

std::string EncodeCapabilitiesResponse(const CapabilitiesResponse& response,
                                       WireProfileId profile) {
  const bool profile_b = profile == WireProfileId::kJcsUniformNumericStringsV1;
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("protocol_version", response.protocol_version);
  w.Member("schema_version", response.schema_version);
  WriteIfNonEmpty(w, "app_name", response.app_name);
  if (!response.registered_tables.empty()) {
    WriteStringArray(w, "registered_tables", response.registered_tables);
  }
  if (profile_b || !response.registered_table_specs.empty()) {
    w.Key("registered_table_specs");
    w.BeginArray();
    for (const RegisteredTableSpec& spec : response.registered_table_specs) {
      w.BeginObject();
      w.Member("schema", spec.schema);
      w.Member("table", spec.table);
      if (!spec.sync_key_columns.empty()) {
        WriteStringArray(w, "sync_key_columns", spec.sync_key_columns);
      }
      w.EndObject();
    }
    w.EndArray();
  }
  WriteFeatures(w, response.features);
  const BundleLimits& l = response.bundle_limits;
  w.Key("bundle_limits");
  w.BeginObject();
  WriteIfNonZero(w, "max_rows_per_bundle", l.max_rows_per_bundle);
  WriteIfNonZero(w, "max_bytes_per_bundle", l.max_bytes_per_bundle);
  WriteIfNonZero(w, "max_bundles_per_pull", l.max_bundles_per_pull);
  WriteIfNonZero(w, "default_rows_per_push_chunk", l.default_rows_per_push_chunk);
  WriteIfNonZero(w, "max_rows_per_push_chunk", l.max_rows_per_push_chunk);
  WriteIfNonZero(w, "push_session_ttl_seconds", l.push_session_ttl_seconds);
  WriteIfNonZero(w, "default_rows_per_committed_bundle_chunk",
                 l.default_rows_per_committed_bundle_chunk);
  WriteIfNonZero(w, "max_rows_per_committed_bundle_chunk", l.max_rows_per_committed_bundle_chunk);
  WriteIfNonZero(w, "default_rows_per_snapshot_chunk", l.default_rows_per_snapshot_chunk);
  WriteIfNonZero(w, "max_rows_per_snapshot_chunk", l.max_rows_per_snapshot_chunk);
  WriteIfNonZero(w, "snapshot_session_ttl_seconds", l.snapshot_session_ttl_seconds);
  WriteIfNonZero(w, "max_rows_per_snapshot_session", l.max_rows_per_snapshot_session);
  WriteIfNonZero(w, "max_bytes_per_snapshot_session", l.max_bytes_per_snapshot_session);
  if (profile_b) {
    w.Member("default_bytes_per_snapshot_chunk", l.default_bytes_per_snapshot_chunk);
    w.Member("max_bytes_per_snapshot_chunk", l.max_bytes_per_snapshot_chunk);
    w.Member("max_bytes_per_snapshot_row", l.max_bytes_per_snapshot_row);
    w.Member("snapshot_materialization_batch_rows", l.snapshot_materialization_batch_rows);
    w.Member("snapshot_materialization_batch_bytes", l.snapshot_materialization_batch_bytes);
    w.Member("max_concurrent_snapshot_builds", l.max_concurrent_snapshot_builds);
    w.Member("max_concurrent_snapshot_chunk_requests", l.max_concurrent_snapshot_chunk_requests);
  }
  WriteIfNonZero(w, "initialization_lease_ttl_seconds", l.initialization_lease_ttl_seconds);
  w.EndObject();
  w.EndObject();
  return out;
}

std::string EncodeStatusResponse(const StatusResponse& r) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("status", r.status);
  w.Member("version", r.version);
  w.Member("app_name", r.app_name);
  w.Member("lifecycle", r.lifecycle);
  w.Member("accepting_operations", r.accepting_operations);
  w.Member("inflight_operations", r.inflight_operations);
  WriteStringArray(w, "registered_tables", r.registered_tables);
  WriteFeatures(w, r.features);
  w.Member("user_state_retention_floor_ahead_count", r.user_state_retention_floor_ahead_count);
  w.Member("latest_bundle_seq_max", r.latest_bundle_seq_max);
  w.Member("retained_bundle_floor_min", r.retained_bundle_floor_min);
  w.Member("retained_bundle_floor_max", r.retained_bundle_floor_max);
  w.Member("retained_bundle_window_min", r.retained_bundle_window_min);
  w.Member("retained_bundle_window_max", r.retained_bundle_window_max);
  w.Member("history_pruned_error_count", r.history_pruned_error_count);
  w.Member("accepted_push_replay_count", r.accepted_push_replay_count);
  w.Member("rejected_registered_write_count", r.rejected_registered_write_count);
  w.Member("committed_bundle_count", r.committed_bundle_count);
  w.Member("committed_bundle_bytes", r.committed_bundle_bytes);
  w.EndObject();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Response decoders (client side): exact member names, strict types.

namespace {

DecodeContext ResponseCtx(std::string_view what) {
  return DecodeContext{ErrorCode::kProtocolViolation, what, false};
}

Status RequireObject(const JsonValue& root, const DecodeContext& ctx) {
  if (!root.is_object()) return Fail(ctx, "body must be a JSON object");
  return {};
}

Status ReadOp(const JsonValue& object, Op& op, const DecodeContext& ctx, std::string_view path) {
  std::string text;
  OVERSYNC_RETURN_IF_ERROR(ReadString(object, "op", text, ctx, path, kRequired));
  if (!ParseOp(text, op)) {
    return Fail(ctx, fmt::format("{} has invalid op {:?}", path, text));
  }
  return {};
}

Result<std::vector<BundleRow>> ReadBundleRows(const JsonValue& object, const DecodeContext& ctx,
                                              std::string_view path) {
  OVERSYNC_ASSIGN_OR_RETURN(const JsonArray* items,
                            ReadArray(object, "rows", ctx, path, kRequired));
  std::vector<BundleRow> rows;
  rows.reserve(items->size());
  for (std::size_t i = 0; i < items->size(); ++i) {
    const JsonValue& item = (*items)[i];
    const std::string row_path = JoinPath(path, Indexed("rows", i));
    if (!item.is_object()) return Error(Fail(ctx, fmt::format("{} must be an object", row_path)));
    BundleRow row;
    OVERSYNC_RETURN_IF_ERROR(ReadString(item, "schema", row.schema, ctx, row_path, kRequired));
    OVERSYNC_RETURN_IF_ERROR(ReadString(item, "table", row.table, ctx, row_path, kRequired));
    OVERSYNC_RETURN_IF_ERROR(ReadKey(item, row.key, ctx, row_path, kRequired));
    OVERSYNC_RETURN_IF_ERROR(ReadOp(item, row.op, ctx, row_path));
    OVERSYNC_RETURN_IF_ERROR(
        ReadInt64(item, "row_version", row.row_version, ctx, row_path, kRequired));
    const JsonValue* payload = FindMember(item, "payload", ctx);
    if (payload != nullptr && !payload->is_null()) {
      if (!payload->is_object()) {
        return Error(Fail(ctx, fmt::format("{}.payload must be an object", row_path)));
      }
      row.payload = *payload;
    }
    if (row.op != Op::kDelete && !row.payload) {
      return Error(Fail(ctx, fmt::format("{}.payload is required for {}", row_path,
                                         OpName(row.op))));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Status ReadFeatures(const JsonValue& object, std::map<std::string, bool>& out,
                    const DecodeContext& ctx, Presence presence) {
  const JsonValue* features = FindMember(object, "features", ctx);
  if (features == nullptr || features->is_null()) {
    return presence == kRequired ? Fail(ctx, "features is required") : Status();
  }
  if (!features->is_object()) return Fail(ctx, "features must be an object");
  for (const JsonMember& m : features->as_object()) {
    if (!m.value.is_bool()) return Fail(ctx, fmt::format("features.{} must be a boolean", m.key));
    out[m.key] = m.value.as_bool();
  }
  return {};
}

constexpr bool IsProfileB(WireProfileId profile) noexcept {
  return profile == WireProfileId::kJcsUniformNumericStringsV1;
}

// KMP B decodes snapshot chunks strictly (protocol-b.md §5.11): only the listed members, each
// once.
Status RequireExactMembers(const JsonValue& object, std::initializer_list<std::string_view> known,
                           const DecodeContext& ctx, std::string_view path) {
  const JsonObject& members = object.as_object();
  for (std::size_t i = 0; i < members.size(); ++i) {
    bool listed = false;
    for (const std::string_view name : known) listed = listed || members[i].key == name;
    if (!listed) {
      return Fail(ctx, fmt::format("unknown member {:?} in {}", members[i].key,
                                   path.empty() ? "body" : path));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (members[j].key == members[i].key) {
        return Fail(ctx, fmt::format("duplicate member {:?} in {}", members[i].key,
                                     path.empty() ? "body" : path));
      }
    }
  }
  return {};
}

Status RequireRequestHash(const std::string& hash, const DecodeContext& ctx) {
  if (!IsCanonicalRequestHashSpelling(hash)) {
    return Fail(ctx, "canonical_request_hash must be 64 lowercase hexadecimal characters");
  }
  return {};
}

Status ReadStringArray(const JsonValue& object, std::string_view name,
                       std::vector<std::string>& out, const DecodeContext& ctx,
                       std::string_view path) {
  OVERSYNC_ASSIGN_OR_RETURN(const JsonArray* items, ReadArray(object, name, ctx, path));
  for (std::size_t i = 0; i < items->size(); ++i) {
    if (!(*items)[i].is_string()) {
      return Fail(ctx, fmt::format("{} must be a string", JoinPath(path, Indexed(name, i))));
    }
    out.push_back((*items)[i].as_string());
  }
  return {};
}

// protocol-b.md §5.1: the five snapshot chunk/row members and the two concurrency members are
// required and positive, defaults within their maxima, a row fits in a chunk; the two
// materialization members are optional but never null.
Status ReadProfileBLimits(const JsonValue& limits, BundleLimits& l, const DecodeContext& ctx) {
  const std::pair<std::string_view, std::int64_t*> required[] = {
      {"default_rows_per_snapshot_chunk", &l.default_rows_per_snapshot_chunk},
      {"max_rows_per_snapshot_chunk", &l.max_rows_per_snapshot_chunk},
      {"default_bytes_per_snapshot_chunk", &l.default_bytes_per_snapshot_chunk},
      {"max_bytes_per_snapshot_chunk", &l.max_bytes_per_snapshot_chunk},
      {"max_bytes_per_snapshot_row", &l.max_bytes_per_snapshot_row},
      {"max_concurrent_snapshot_builds", &l.max_concurrent_snapshot_builds},
      {"max_concurrent_snapshot_chunk_requests", &l.max_concurrent_snapshot_chunk_requests},
  };
  for (const auto& [name, field] : required) {
    OVERSYNC_RETURN_IF_ERROR(ReadInt64(limits, name, *field, ctx, "bundle_limits", kRequired));
    if (*field <= 0) return Fail(ctx, fmt::format("bundle_limits.{} must be > 0", name));
  }
  for (const std::string_view name :
       {"snapshot_materialization_batch_rows", "snapshot_materialization_batch_bytes"}) {
    const JsonValue* v = FindMember(limits, name, ctx);
    if (v != nullptr && v->is_null()) {
      return Fail(ctx, fmt::format("bundle_limits.{} must not be null", name));
    }
  }
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(limits, "snapshot_materialization_batch_rows",
                                     l.snapshot_materialization_batch_rows, ctx, "bundle_limits"));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(limits, "snapshot_materialization_batch_bytes",
                                     l.snapshot_materialization_batch_bytes, ctx,
                                     "bundle_limits"));
  if (l.default_rows_per_snapshot_chunk > l.max_rows_per_snapshot_chunk ||
      l.default_bytes_per_snapshot_chunk > l.max_bytes_per_snapshot_chunk ||
      l.max_bytes_per_snapshot_row > l.max_bytes_per_snapshot_chunk) {
    return Fail(ctx, "bundle_limits snapshot defaults exceed their maxima");
  }
  return {};
}

}  // namespace

Result<ConnectResponse> DecodeConnectResponse(std::string_view body, JsonParser* parser) {
  const DecodeContext ctx = ResponseCtx("invalid connect response");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  ConnectResponse r;
  std::string resolution;
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "resolution", resolution, ctx, "", kRequired));
  if (resolution == "remote_authoritative") {
    r.resolution = ConnectResolution::kRemoteAuthoritative;
  } else if (resolution == "initialize_local") {
    r.resolution = ConnectResolution::kInitializeLocal;
  } else if (resolution == "initialize_empty") {
    r.resolution = ConnectResolution::kInitializeEmpty;
  } else if (resolution == "retry_later") {
    r.resolution = ConnectResolution::kRetryLater;
  } else {
    return Error(Fail(ctx, fmt::format("unknown resolution {:?}", resolution)));
  }
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "initialization_id", r.initialization_id, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "lease_expires_at", r.lease_expires_at, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "retry_after_seconds", r.retry_after_seconds, ctx, ""));
  return r;
}

Result<PushSessionCreateResponse> DecodePushSessionCreateResponse(std::string_view body,
                                                                  JsonParser* parser,
                                                                  WireProfileId profile) {
  const DecodeContext ctx = ResponseCtx("invalid push session create response");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  PushSessionCreateResponse r;
  std::string status;
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "status", status, ctx, "", kRequired));
  if (status == "staging") {
    r.status = PushSessionStatus::kStaging;
  } else if (status == "already_committed") {
    r.status = PushSessionStatus::kAlreadyCommitted;
  } else {
    return Error(Fail(ctx, fmt::format("unknown status {:?}", status)));
  }
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "push_id", r.push_id, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "planned_row_count", r.planned_row_count, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "next_expected_row_ordinal", r.next_expected_row_ordinal, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "bundle_seq", r.bundle_seq, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "source_id", r.source_id, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "source_bundle_id", r.source_bundle_id, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "row_count", r.row_count, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "bundle_hash", r.bundle_hash, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(
      ReadString(root, "canonical_request_hash", r.canonical_request_hash, ctx, ""));
  if (IsProfileB(profile)) OVERSYNC_RETURN_IF_ERROR(RequireRequestHash(r.canonical_request_hash, ctx));
  return r;
}

Result<PushChunkResponse> DecodePushChunkResponse(std::string_view body, JsonParser* parser) {
  const DecodeContext ctx = ResponseCtx("invalid push chunk response");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  PushChunkResponse r;
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "push_id", r.push_id, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "next_expected_row_ordinal",
                                     r.next_expected_row_ordinal, ctx, "", kRequired));
  return r;
}

Result<PushSessionCommitResponse> DecodePushSessionCommitResponse(std::string_view body,
                                                                  JsonParser* parser,
                                                                  WireProfileId profile) {
  const DecodeContext ctx = ResponseCtx("invalid push commit response");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  PushSessionCommitResponse r;
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "bundle_seq", r.bundle_seq, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "source_id", r.source_id, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "source_bundle_id", r.source_bundle_id, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "row_count", r.row_count, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "bundle_hash", r.bundle_hash, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(
      ReadString(root, "canonical_request_hash", r.canonical_request_hash, ctx, ""));
  if (IsProfileB(profile)) OVERSYNC_RETURN_IF_ERROR(RequireRequestHash(r.canonical_request_hash, ctx));
  return r;
}

Result<ErrorResponse> DecodeErrorResponse(std::string_view body, JsonParser* parser) {
  const DecodeContext ctx = ResponseCtx("invalid error response");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  ErrorResponse r;
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "error", r.error, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "message", r.message, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "source_id", r.source_id, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(
      ReadString(root, "replaced_by_source_id", r.replaced_by_source_id, ctx, ""));
  const JsonValue* conflict = FindMember(root, "conflict", ctx);
  if (conflict != nullptr && !conflict->is_null()) {
    if (!conflict->is_object()) return Error(Fail(ctx, "conflict must be an object"));
    PushConflictDetails c;
    OVERSYNC_RETURN_IF_ERROR(ReadString(*conflict, "schema", c.schema, ctx, "conflict"));
    OVERSYNC_RETURN_IF_ERROR(ReadString(*conflict, "table", c.table, ctx, "conflict"));
    OVERSYNC_RETURN_IF_ERROR(ReadKey(*conflict, c.key, ctx, "conflict", Presence::kOptional));
    OVERSYNC_RETURN_IF_ERROR(ReadString(*conflict, "op", c.op, ctx, "conflict"));
    OVERSYNC_RETURN_IF_ERROR(
        ReadInt64(*conflict, "base_row_version", c.base_row_version, ctx, "conflict"));
    OVERSYNC_RETURN_IF_ERROR(
        ReadInt64(*conflict, "server_row_version", c.server_row_version, ctx, "conflict"));
    OVERSYNC_RETURN_IF_ERROR(
        ReadBool(*conflict, "server_row_deleted", c.server_row_deleted, ctx, "conflict"));
    const JsonValue* server_row = FindMember(*conflict, "server_row", ctx);
    if (server_row != nullptr && !server_row->is_null()) {
      if (!server_row->is_object()) {
        return Error(Fail(ctx, "conflict.server_row must be an object or null"));
      }
      c.server_row = *server_row;
    }
    r.conflict = std::move(c);
  }
  // Profile B's structured bodies (protocol-b.md §6.1), with the checks KMP B applies.
  if (r.error == "snapshot_chunk_too_small") {
    std::int64_t required = 0;
    OVERSYNC_RETURN_IF_ERROR(
        ReadInt64(root, "required_byte_count", required, ctx, "", kRequired));
    if (required <= 0) return Error(Fail(ctx, "required_byte_count must be > 0"));
    r.required_byte_count = required;
  } else if (r.error == "snapshot_session_limit_exceeded") {
    ErrorResponse::LimitExceeded limit;
    OVERSYNC_RETURN_IF_ERROR(ReadString(root, "dimension", limit.dimension, ctx, "", kRequired));
    OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "actual", limit.actual, ctx, "", kRequired));
    OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "limit", limit.limit, ctx, "", kRequired));
    if (limit.dimension != "row_count" && limit.dimension != "byte_count" &&
        limit.dimension != "row_byte_count") {
      return Error(Fail(ctx, fmt::format("unknown limit dimension {:?}", limit.dimension)));
    }
    if (!(limit.actual > limit.limit && limit.limit > 0)) {
      return Error(Fail(ctx, "snapshot limit must satisfy actual > limit > 0"));
    }
    r.limit_exceeded = std::move(limit);
  }
  return r;
}

Result<CommittedBundleRowsResponse> DecodeCommittedBundleRowsResponse(std::string_view body,
                                                                      JsonParser* parser,
                                                                      WireProfileId profile) {
  const DecodeContext ctx = ResponseCtx("invalid committed bundle rows response");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  CommittedBundleRowsResponse r;
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "bundle_seq", r.bundle_seq, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "source_id", r.source_id, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "source_bundle_id", r.source_bundle_id, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "row_count", r.row_count, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "bundle_hash", r.bundle_hash, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "canonical_request_hash", r.canonical_request_hash,
                                      ctx, "", IsProfileB(profile) ? kRequired
                                                                   : Presence::kOptional));
  OVERSYNC_ASSIGN_OR_RETURN(r.rows, ReadBundleRows(root, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "next_row_ordinal", r.next_row_ordinal, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadBool(root, "has_more", r.has_more, ctx, "", kRequired));
  return r;
}

Result<PullResponse> DecodePullResponse(std::string_view body, JsonParser* parser) {
  const DecodeContext ctx = ResponseCtx("invalid pull response");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  PullResponse r;
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "stable_bundle_seq", r.stable_bundle_seq, ctx, "", kRequired));
  OVERSYNC_ASSIGN_OR_RETURN(const JsonArray* bundles,
                            ReadArray(root, "bundles", ctx, "", kRequired));
  r.bundles.reserve(bundles->size());
  for (std::size_t i = 0; i < bundles->size(); ++i) {
    const JsonValue& item = (*bundles)[i];
    const std::string path = Indexed("bundles", i);
    if (!item.is_object()) return Error(Fail(ctx, fmt::format("{} must be an object", path)));
    Bundle b;
    OVERSYNC_RETURN_IF_ERROR(ReadInt64(item, "bundle_seq", b.bundle_seq, ctx, path, kRequired));
    OVERSYNC_RETURN_IF_ERROR(ReadString(item, "source_id", b.source_id, ctx, path, kRequired));
    OVERSYNC_RETURN_IF_ERROR(
        ReadInt64(item, "source_bundle_id", b.source_bundle_id, ctx, path, kRequired));
    OVERSYNC_RETURN_IF_ERROR(ReadInt64(item, "row_count", b.row_count, ctx, path));
    OVERSYNC_RETURN_IF_ERROR(ReadString(item, "bundle_hash", b.bundle_hash, ctx, path));
    OVERSYNC_RETURN_IF_ERROR(
        ReadString(item, "canonical_request_hash", b.canonical_request_hash, ctx, path));
    OVERSYNC_ASSIGN_OR_RETURN(b.rows, ReadBundleRows(item, ctx, path));
    r.bundles.push_back(std::move(b));
  }
  OVERSYNC_RETURN_IF_ERROR(ReadBool(root, "has_more", r.has_more, ctx, "", kRequired));
  return r;
}

Result<WatchEvent> DecodeWatchEvent(std::string_view data, JsonParser* parser) {
  const DecodeContext ctx = ResponseCtx("invalid watch event");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(data, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  WatchEvent e;
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "bundle_seq", e.bundle_seq, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "source_id", e.source_id, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "source_bundle_id", e.source_bundle_id, ctx, ""));
  return e;
}

Result<SnapshotSession> DecodeSnapshotSession(std::string_view body, JsonParser* parser,
                                              WireProfileId profile) {
  const DecodeContext ctx = ResponseCtx("invalid snapshot session response");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  SnapshotSession s;
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "snapshot_id", s.snapshot_id, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "snapshot_bundle_seq", s.snapshot_bundle_seq, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "row_count", s.row_count, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "byte_count", s.byte_count, ctx, "",
                                     IsProfileB(profile) ? kRequired : Presence::kOptional));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "expires_at", s.expires_at, ctx, "", kRequired));
  // The current Go client parses the expiry (shared fixture pull-snapshot/basic.json); a session
  // whose expiry is not an instant is not one we can reason about, in either profile.
  if (!ParseRfc3339(s.expires_at).has_value()) {
    return Error(Fail(ctx, fmt::format("expires_at {:?} is not an RFC3339/ISO-8601 instant",
                                       s.expires_at)));
  }
  if (IsProfileB(profile)) {
    // KMP B (kmp-client.md §3.2): counts are non-negative and empty exactly together. The
    // messages are the current Go client's (shared fixture pull-snapshot/basic.json).
    if (s.row_count < 0) {
      return Error(Fail(ctx, fmt::format("row_count {} must be non-negative", s.row_count)));
    }
    if (s.byte_count < 0) {
      return Error(Fail(ctx, fmt::format("byte_count {} must be non-negative", s.byte_count)));
    }
    if ((s.row_count == 0) != (s.byte_count == 0)) {
      return Error(Fail(ctx, "row_count and byte_count must be zero together"));
    }
  }
  return s;
}

Result<SnapshotChunkResponse> DecodeSnapshotChunkResponse(std::string_view body,
                                                          JsonParser* parser,
                                                          WireProfileId profile) {
  const DecodeContext ctx = ResponseCtx("invalid snapshot chunk response");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  if (IsProfileB(profile)) {
    OVERSYNC_RETURN_IF_ERROR(RequireExactMembers(
        root,
        {"snapshot_id", "snapshot_bundle_seq", "rows", "next_row_ordinal", "has_more",
         "byte_count"},
        ctx, ""));
  }
  SnapshotChunkResponse r;
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "snapshot_id", r.snapshot_id, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "snapshot_bundle_seq", r.snapshot_bundle_seq, ctx, "", kRequired));
  OVERSYNC_ASSIGN_OR_RETURN(const JsonArray* rows, ReadArray(root, "rows", ctx, "", kRequired));
  r.rows.reserve(rows->size());
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const JsonValue& item = (*rows)[i];
    const std::string path = Indexed("rows", i);
    if (!item.is_object()) return Error(Fail(ctx, fmt::format("{} must be an object", path)));
    if (IsProfileB(profile)) {
      OVERSYNC_RETURN_IF_ERROR(RequireExactMembers(
          item, {"schema", "table", "key", "row_version", "payload"}, ctx, path));
    }
    SnapshotRow row;
    OVERSYNC_RETURN_IF_ERROR(ReadString(item, "schema", row.schema, ctx, path, kRequired));
    OVERSYNC_RETURN_IF_ERROR(ReadString(item, "table", row.table, ctx, path, kRequired));
    OVERSYNC_RETURN_IF_ERROR(ReadKey(item, row.key, ctx, path, kRequired));
    OVERSYNC_RETURN_IF_ERROR(ReadInt64(item, "row_version", row.row_version, ctx, path,
                                       kRequired));
    const JsonValue* payload = FindMember(item, "payload", ctx);
    if (payload == nullptr || !payload->is_object()) {
      return Error(Fail(ctx, fmt::format("{}.payload must be an object", path)));
    }
    row.payload = *payload;
    r.rows.push_back(std::move(row));
  }
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "next_row_ordinal", r.next_row_ordinal, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadBool(root, "has_more", r.has_more, ctx, "", kRequired));
  if (IsProfileB(profile)) {
    OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "byte_count", r.byte_count, ctx, "", kRequired));
    if (r.byte_count < 0 || r.rows.empty() != (r.byte_count == 0)) {
      return Error(Fail(ctx, "byte_count must be >= 0 and zero exactly when rows is empty"));
    }
    if (r.has_more && r.rows.empty()) {
      return Error(Fail(ctx, "has_more=true must include at least one row"));
    }
  }
  return r;
}

Result<CapabilitiesResponse> DecodeCapabilitiesResponse(std::string_view body,
                                                        JsonParser* parser,
                                                        WireProfileId profile) {
  const DecodeContext ctx = ResponseCtx("invalid capabilities response");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  CapabilitiesResponse r;
  r.protocol_version.clear();
  OVERSYNC_RETURN_IF_ERROR(
      ReadString(root, "protocol_version", r.protocol_version, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, "schema_version", r.schema_version, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "app_name", r.app_name, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadStringArray(root, "registered_tables", r.registered_tables, ctx,
                                           ""));
  OVERSYNC_ASSIGN_OR_RETURN(
      const JsonArray* specs,
      ReadArray(root, "registered_table_specs", ctx, "",
                IsProfileB(profile) ? kRequired : Presence::kOptional));
  for (std::size_t i = 0; i < specs->size(); ++i) {
    const JsonValue& item = (*specs)[i];
    const std::string path = Indexed("registered_table_specs", i);
    if (!item.is_object()) return Error(Fail(ctx, fmt::format("{} must be an object", path)));
    RegisteredTableSpec spec;
    OVERSYNC_RETURN_IF_ERROR(ReadString(item, "schema", spec.schema, ctx, path, kRequired));
    OVERSYNC_RETURN_IF_ERROR(ReadString(item, "table", spec.table, ctx, path, kRequired));
    OVERSYNC_RETURN_IF_ERROR(
        ReadStringArray(item, "sync_key_columns", spec.sync_key_columns, ctx, path));
    if (IsProfileB(profile)) {
      // protocol-b.md §5.1: names non-blank, exactly one non-blank key column, no duplicates.
      if (internal::TrimSpace(spec.schema).empty() || internal::TrimSpace(spec.table).empty()) {
        return Error(Fail(ctx, fmt::format("{} has a blank schema or table", path)));
      }
      if (spec.sync_key_columns.size() != 1 ||
          internal::TrimSpace(spec.sync_key_columns.front()).empty()) {
        return Error(Fail(ctx, fmt::format("{}.sync_key_columns must hold exactly one column",
                                           path)));
      }
      for (const RegisteredTableSpec& earlier : r.registered_table_specs) {
        if (earlier.schema == spec.schema && earlier.table == spec.table) {
          return Error(Fail(ctx, fmt::format("{} duplicates {}.{}", path, spec.schema,
                                             spec.table)));
        }
      }
    }
    r.registered_table_specs.push_back(std::move(spec));
  }
  OVERSYNC_RETURN_IF_ERROR(ReadFeatures(root, r.features, ctx, Presence::kOptional));
  const JsonValue* limits = FindMember(root, "bundle_limits", ctx);
  if (IsProfileB(profile) && (limits == nullptr || limits->is_null())) {
    return Error(Fail(ctx, "bundle_limits is required"));
  }
  if (limits != nullptr && !limits->is_null()) {
    if (!limits->is_object()) return Error(Fail(ctx, "bundle_limits must be an object"));
    BundleLimits& l = r.bundle_limits;
    const std::pair<std::string_view, std::int64_t*> members[] = {
        {"max_rows_per_bundle", &l.max_rows_per_bundle},
        {"max_bytes_per_bundle", &l.max_bytes_per_bundle},
        {"max_bundles_per_pull", &l.max_bundles_per_pull},
        {"default_rows_per_push_chunk", &l.default_rows_per_push_chunk},
        {"max_rows_per_push_chunk", &l.max_rows_per_push_chunk},
        {"push_session_ttl_seconds", &l.push_session_ttl_seconds},
        {"default_rows_per_committed_bundle_chunk", &l.default_rows_per_committed_bundle_chunk},
        {"max_rows_per_committed_bundle_chunk", &l.max_rows_per_committed_bundle_chunk},
        {"default_rows_per_snapshot_chunk", &l.default_rows_per_snapshot_chunk},
        {"max_rows_per_snapshot_chunk", &l.max_rows_per_snapshot_chunk},
        {"snapshot_session_ttl_seconds", &l.snapshot_session_ttl_seconds},
        {"max_rows_per_snapshot_session", &l.max_rows_per_snapshot_session},
        {"max_bytes_per_snapshot_session", &l.max_bytes_per_snapshot_session},
        {"initialization_lease_ttl_seconds", &l.initialization_lease_ttl_seconds},
    };
    for (const auto& [name, field] : members) {
      OVERSYNC_RETURN_IF_ERROR(ReadInt64(*limits, name, *field, ctx, "bundle_limits"));
    }
    if (IsProfileB(profile)) OVERSYNC_RETURN_IF_ERROR(ReadProfileBLimits(*limits, l, ctx));
  }
  return r;
}

Result<StatusResponse> DecodeStatusResponse(std::string_view body, JsonParser* parser) {
  const DecodeContext ctx = ResponseCtx("invalid status response");
  OVERSYNC_ASSIGN_OR_RETURN(const JsonValue root, internal::ParseBody(body, parser, ctx));
  OVERSYNC_RETURN_IF_ERROR(RequireObject(root, ctx));
  StatusResponse r;
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "status", r.status, ctx, "", kRequired));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "version", r.version, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "app_name", r.app_name, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadString(root, "lifecycle", r.lifecycle, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(
      ReadBool(root, "accepting_operations", r.accepting_operations, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(
      ReadInt64(root, "inflight_operations", r.inflight_operations, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(
      ReadStringArray(root, "registered_tables", r.registered_tables, ctx, ""));
  OVERSYNC_RETURN_IF_ERROR(ReadFeatures(root, r.features, ctx, Presence::kOptional));
  const std::pair<std::string_view, std::int64_t*> counters[] = {
      {"user_state_retention_floor_ahead_count", &r.user_state_retention_floor_ahead_count},
      {"latest_bundle_seq_max", &r.latest_bundle_seq_max},
      {"retained_bundle_floor_min", &r.retained_bundle_floor_min},
      {"retained_bundle_floor_max", &r.retained_bundle_floor_max},
      {"retained_bundle_window_min", &r.retained_bundle_window_min},
      {"retained_bundle_window_max", &r.retained_bundle_window_max},
      {"history_pruned_error_count", &r.history_pruned_error_count},
      {"accepted_push_replay_count", &r.accepted_push_replay_count},
      {"rejected_registered_write_count", &r.rejected_registered_write_count},
      {"committed_bundle_count", &r.committed_bundle_count},
      {"committed_bundle_bytes", &r.committed_bundle_bytes},
  };
  for (const auto& [name, field] : counters) {
    OVERSYNC_RETURN_IF_ERROR(ReadInt64(root, name, *field, ctx, ""));
  }
  return r;
}

}  // namespace oversync::protocol
