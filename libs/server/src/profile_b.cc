#include "profile_b.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "oversync/common/strings.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/jcs.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/protocol/wire_values.h"

namespace oversync::profile_b {
namespace {

using protocol::JsonValue;
using protocol::Op;
using protocol::WireValueType;

WireValueType ColumnType(const RegisteredTableRuntime& table, std::string_view column) {
  // Stored payload members are the lowercase column names: no allocation on the hot path.
  auto it = table.wire_types.find(column);
  if (it == table.wire_types.end()) it = table.wire_types.find(ToLowerAscii(column));
  return it == table.wire_types.end() ? WireValueType::kOther : it->second;
}

}  // namespace

bool Enabled(const internal::RuntimeState& impl) noexcept {
  return impl.profile->id() == protocol::WireProfileId::kJcsUniformNumericStringsV1;
}

Result<std::string> PrepareUploadedRow(const RegisteredTableRuntime& table,
                                       protocol::ValidatedPushRow& row) {
  std::string request;
  if (row.op == Op::kDelete) return request;
  const std::string& schema = table.shape.schema;
  const std::string& name = table.shape.table;
  if (Status canonical = protocol::AppendJcs(row.payload, request); !canonical.ok()) {
    return Error(ErrorCode::kPushChunkInvalid,
                 fmt::format("canonicalize request payload for {}.{}: {}", schema, name,
                             canonical.message()));
  }
  for (protocol::JsonMember& member : row.payload.mutable_object()) {
    if (member.value.is_null()) continue;  // NULL is never type-checked
    const WireValueType type = ColumnType(table, member.key);
    if (type == WireValueType::kOther) continue;
    Result<JsonValue> checked = protocol::CheckUploadedWireValue(
        type, member.value, schema, name, ToLowerAscii(member.key));
    if (!checked) return Error(ErrorCode::kPushChunkInvalid, checked.error().message());
    member.value = std::move(*checked);
  }
  return request;
}

Result<JsonValue> RenderPayload(const RegisteredTableRuntime& table, const JsonValue& image) {
  if (!image.is_object()) return Error(ErrorCode::kInternal, "row image is not an object");
  JsonValue out = JsonValue::Object();
  for (const protocol::JsonMember& member : image.as_object()) {
    Result<JsonValue> value =
        protocol::WireValueFromPostgres(ColumnType(table, member.key), member.value);
    if (!value) {
      return Error(ErrorCode::kInternal,
                   fmt::format("{}.{}.{}: {}", table.shape.schema, table.shape.table, member.key,
                               value.error().message()));
    }
    out.Add(member.key, std::move(*value));
  }
  return out;
}

bool HasLossyNumber(const JsonValue& image) {
  if (!image.is_object()) return false;
  std::string rendered;
  for (const protocol::JsonMember& member : image.as_object()) {
    if (!member.value.is_number()) continue;
    rendered.clear();
    protocol::AppendGoFloat(member.value.as_number().value, rendered);
    if (rendered != member.value.as_number().lexeme) return true;
  }
  return false;
}

Result<std::string> StagedRequestHash(const internal::RuntimeState& impl, pg::PgConnection& tx,
                                      const std::string& push_id) {
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult staged, tx.Exec(
      "SELECT r.table_id, encode(r.key_bytes, 'hex'), r.op_code, r.base_bundle_seq, "
      "COALESCE(q.payload_request, '') FROM sync.push_session_rows r "
      "LEFT JOIN sync.cpp_push_request_rows q ON q.push_id = r.push_id "
      "AND q.row_ordinal = r.row_ordinal WHERE r.push_id = $1::uuid ORDER BY r.row_ordinal",
      {push_id}));
  protocol::CanonicalRequestHasher hasher;
  protocol::JsonParser parser;
  for (int r = 0; r < staged.rows(); ++r) {
    const auto table_id = static_cast<std::int32_t>(staged.Int64(r, 0).value_or(0));
    const RegisteredTableRuntime* table = impl.TableById(table_id);
    if (table == nullptr) {
      return Error(ErrorCode::kInternal, fmt::format("staged row for unknown table_id {}", table_id));
    }
    const auto op = static_cast<Op>(staged.Int64(r, 2).value_or(1));
    const std::string key_text = KeyTextFromBytes(
        table->shape.key_kind, HexDecode(staged.Text(r, 1)).value_or(std::string()));
    std::optional<JsonValue> payload;
    if (op != Op::kDelete) {
      // A row staged without its request payload (a session a profile-A service opened) can
      // never match: hash it as null.
      if (!staged.Text(r, 4).empty()) {
        OVERSYNC_ASSIGN_OR_RETURN(payload, parser.Parse(staged.Text(r, 4)));
      }
    }
    OVERSYNC_RETURN_IF_ERROR(hasher.AddRow(table->shape.schema, table->shape.table,
                                           WireKey(*table, key_text), op,
                                           staged.Int64(r, 3).value_or(0),
                                           payload ? &*payload : nullptr));
  }
  return hasher.Finish().hex;
}

Result<std::optional<std::string>> SessionRequestHash(pg::PgConnection& tx,
                                                      const std::string& push_id) {
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult row, tx.Exec(
      "SELECT canonical_request_hash FROM sync.cpp_push_requests WHERE push_id = $1::uuid",
      {push_id}));
  if (row.rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(std::string(row.Text(0, 0)));
}

Result<JsonValue> RenderStoredRow(const RegisteredTableRuntime& table,
                                  std::string_view payload_wire, std::string_view payload_exact,
                                  protocol::JsonParser& parser) {
  protocol::JsonParseOptions options;
  options.keep_out_of_range_numbers = true;  // exact numerics beyond float64 stay text
  OVERSYNC_ASSIGN_OR_RETURN(
      JsonValue image,
      parser.Parse(payload_exact.empty() ? payload_wire : payload_exact, options));
  return RenderPayload(table, image);
}

Result<CommittedBundleB> LoadCommittedBundle(const internal::RuntimeState& impl,
                                             pg::PgConnection& tx, std::int64_t user_pk,
                                             std::int64_t bundle_seq) {
  const std::string user_pk_text = std::to_string(user_pk);
  const std::string bundle_seq_text = std::to_string(bundle_seq);
  const std::vector<pg::Param> params = {user_pk_text, bundle_seq_text};
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult stored, tx.Exec(
      "SELECT bundle_hash, byte_count, canonical_request_hash FROM sync.cpp_bundle_profile_b "
      "WHERE user_pk = $1 AND bundle_seq = $2",
      params));
  CommittedBundleB bundle;
  if (stored.rows() == 1) {
    bundle.bundle_hash = stored.Text(0, 0);
    bundle.byte_count = stored.Int64(0, 1).value_or(0);
    bundle.canonical_request_hash = stored.Text(0, 2);
    return bundle;
  }
  // Committed by a profile-A service or a Go server: hash what profile B serves for it.
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult rows, tx.Exec(
      "SELECT b.table_id, encode(b.key_bytes, 'hex'), b.op_code, COALESCE(b.payload_wire::text, "
      "''), COALESCE(e.payload_exact::text, '') FROM sync.bundle_rows b "
      "LEFT JOIN sync.cpp_bundle_rows_exact e ON e.user_pk = b.user_pk "
      "AND e.bundle_seq = b.bundle_seq AND e.row_ordinal = b.row_ordinal "
      "WHERE b.user_pk = $1 AND b.bundle_seq = $2 ORDER BY b.row_ordinal",
      params));
  protocol::BundleHasher hasher(protocol::JcsUniformNumericStringsV1Profile(), bundle_seq);
  protocol::JsonParser parser;
  for (int r = 0; r < rows.rows(); ++r) {
    const auto table_id = static_cast<std::int32_t>(rows.Int64(r, 0).value_or(0));
    const RegisteredTableRuntime* table = impl.TableById(table_id);
    if (table == nullptr) {
      return Error(ErrorCode::kInternal, fmt::format("bundle row for unknown table_id {}", table_id));
    }
    const auto op = static_cast<Op>(rows.Int64(r, 2).value_or(1));
    const std::string key_text = KeyTextFromBytes(
        table->shape.key_kind, HexDecode(rows.Text(r, 1)).value_or(std::string()));
    std::optional<JsonValue> payload;
    if (op != Op::kDelete) {
      OVERSYNC_ASSIGN_OR_RETURN(payload,
                                RenderStoredRow(*table, rows.Text(r, 3), rows.Text(r, 4), parser));
    }
    OVERSYNC_RETURN_IF_ERROR(hasher.AddRow(table->shape.schema, table->shape.table,
                                           WireKey(*table, key_text), op,
                                           payload ? &*payload : nullptr));
  }
  const protocol::BundleHashResult hash = hasher.Finish();
  bundle.bundle_hash = hash.hex;
  bundle.byte_count = hash.byte_count;
  return bundle;
}

Status WritePullBundles(const internal::RuntimeState& impl, pg::PgConnection& tx,
                        std::int64_t user_pk, std::int64_t after_exclusive, std::int64_t stable,
                        std::int64_t max_bundles, protocol::JsonWriter& w, bool& has_more,
                        std::int64_t& bundles_served) {
  const std::string user_pk_text = std::to_string(user_pk);
  const std::string after_text = std::to_string(after_exclusive);
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult page, tx.Exec(
      "SELECT l.bundle_seq, l.source_id, l.source_bundle_id, l.row_count, "
      "COALESCE(p.bundle_hash, ''), COALESCE(p.canonical_request_hash, '') "
      "FROM sync.bundle_log l LEFT JOIN sync.cpp_bundle_profile_b p ON p.user_pk = l.user_pk "
      "AND p.bundle_seq = l.bundle_seq WHERE l.user_pk = $1 AND l.bundle_seq > $2 "
      "AND l.bundle_seq <= $3 ORDER BY l.bundle_seq LIMIT $4",
      {user_pk_text, after_text, std::to_string(stable), std::to_string(max_bundles + 1)}));
  has_more = page.rows() > max_bundles;
  const int bundles = static_cast<int>(std::min<std::int64_t>(page.rows(), max_bundles));
  if (bundles == 0) return {};
  std::vector<CommittedBundleB> meta(static_cast<std::size_t>(bundles));
  for (int b = 0; b < bundles; ++b) {
    CommittedBundleB& m = meta[static_cast<std::size_t>(b)];
    m.bundle_hash = page.Text(b, 4);
    m.canonical_request_hash = page.Text(b, 5);
    if (m.bundle_hash.empty()) {
      OVERSYNC_ASSIGN_OR_RETURN(m, LoadCommittedBundle(impl, tx, user_pk,
                                                       page.Int64(b, 0).value_or(0)));
    }
  }
  const std::string last_text(page.Text(bundles - 1, 0));
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult rows, tx.Exec(
      "SELECT b.bundle_seq, b.table_id, encode(b.key_bytes, 'hex'), b.op_code, "
      "COALESCE(b.payload_wire::text, ''), COALESCE(e.payload_exact::text, '') "
      "FROM sync.bundle_rows b LEFT JOIN sync.cpp_bundle_rows_exact e ON e.user_pk = b.user_pk "
      "AND e.bundle_seq = b.bundle_seq AND e.row_ordinal = b.row_ordinal "
      "WHERE b.user_pk = $1 AND b.bundle_seq > $2 AND b.bundle_seq <= $3 "
      "ORDER BY b.bundle_seq, b.row_ordinal",
      {user_pk_text, after_text, last_text}));
  protocol::JsonParser parser;
  int next_row = 0;
  for (int b = 0; b < bundles; ++b) {
    const std::int64_t bundle_seq = page.Int64(b, 0).value_or(0);
    const CommittedBundleB& m = meta[static_cast<std::size_t>(b)];
    w.BeginObject();
    w.Member("bundle_seq", bundle_seq);
    w.Member("source_id", page.Text(b, 1));
    w.Member("source_bundle_id", page.Int64(b, 2).value_or(0));
    if (const std::int64_t n = page.Int64(b, 3).value_or(0); n != 0) w.Member("row_count", n);
    w.Member("bundle_hash", m.bundle_hash);
    if (!m.canonical_request_hash.empty()) {
      w.Member("canonical_request_hash", m.canonical_request_hash);
    }
    w.Key("rows");
    w.BeginArray();
    for (; next_row < rows.rows() && rows.Int64(next_row, 0).value_or(0) == bundle_seq;
         ++next_row) {
      const auto table_id = static_cast<std::int32_t>(rows.Int64(next_row, 1).value_or(0));
      const RegisteredTableRuntime* table = impl.TableById(table_id);
      if (table == nullptr) {
        return {ErrorCode::kInternal, fmt::format("bundle row for unknown table_id {}", table_id)};
      }
      const auto op = static_cast<Op>(rows.Int64(next_row, 3).value_or(1));
      w.BeginObject();
      w.Member("schema", table->shape.schema);
      w.Member("table", table->shape.table);
      w.Key("key");
      w.Value(WireKey(*table, KeyTextFromBytes(table->shape.key_kind,
                                               HexDecode(rows.Text(next_row, 2))
                                                   .value_or(std::string()))));
      w.Member("op", protocol::OpName(op));
      w.Member("row_version", bundle_seq);
      if (op != Op::kDelete) {
        OVERSYNC_ASSIGN_OR_RETURN(JsonValue payload,
                                  RenderStoredRow(*table, rows.Text(next_row, 4),
                                                  rows.Text(next_row, 5), parser));
        w.Key("payload");
        w.Value(payload);
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    ++bundles_served;
  }
  return {};
}

}  // namespace oversync::profile_b
