// Bundle finalization, source activation and retention (server.md §3.2-§3.5, §4.6, §7.1).
#include <map>

#include <fmt/format.h>

#include "oversync/common/strings.h"
#include "oversync/common/base64.h"
#include "oversync/common/sha256.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/canonical_json.h"
#include "oversync/protocol/errors.h"
#include "oversync/protocol/json_writer.h"
#include "profile_b.h"
#include "runtime_internal.h"

namespace oversync {
namespace {

using protocol::JsonValue;
using protocol::Op;

// `\x<hex>` (PostgreSQL) or base64 text -> raw bytes; nullopt for anything else.
std::optional<std::string> ByteaFromText(std::string_view text) {
  if (text.size() >= 2 && text[0] == '\\' && (text[1] == 'x' || text[1] == 'X')) {
    return HexDecode(text.substr(2));
  }
  auto decoded = Base64Decode(text, Base64Mode::kGoStd);
  if (!decoded) return std::nullopt;
  return std::move(*decoded);
}

}  // namespace

Result<std::string> WirePayloadFromDb(const RegisteredTableRuntime& table, std::string_view text,
                                      bool canonical, protocol::JsonParser& parser,
                                      protocol::JsonValue* value_out) {
  OVERSYNC_ASSIGN_OR_RETURN(JsonValue value, parser.Parse(text));
  if (!value.is_object()) return Error(ErrorCode::kInternal, "captured payload is not an object");
  bool changed = false;
  protocol::JsonObject& members = value.mutable_object();
  for (auto it = members.begin(); it != members.end();) {
    const std::string lower = ToLowerAscii(it->key);
    if (lower == "_sync_scope_id") {
      it = members.erase(it);
      changed = true;
      continue;
    }
    if (table.shape.IsBytea(lower) && !it->value.is_null()) {
      if (!it->value.is_string()) {
        return Error(ErrorCode::kInternal,
                     fmt::format("bytea column {} is not a string in the row image", it->key));
      }
      auto bytes = ByteaFromText(it->value.as_string());
      if (!bytes) {
        return Error(ErrorCode::kInternal,
                     fmt::format("bytea column {} has an unreadable value", it->key));
      }
      it->value = JsonValue::String(Base64Encode(*bytes));
      changed = true;
    }
    ++it;
  }
  std::string out;
  if (!canonical && !changed) {
    out = text;
  } else {
    out.reserve(text.size());
    protocol::AppendGoCanonical(value, out);
  }
  if (value_out != nullptr) *value_out = std::move(value);
  return out;
}

Result<std::optional<FinalizedBundle>> FinalizeBundle(internal::RuntimeState& impl,
                                                      pg::PgConnection& tx, std::int64_t user_pk,
                                                      const std::string& source_id,
                                                      std::int64_t source_bundle_id,
                                                      const std::string& canonical_request_hash,
                                                      bool request_hash_from_rows) {
  const std::string user_pk_text = std::to_string(user_pk);
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult staged, tx.Exec(
      "SELECT table_id, op_code, encode(key_bytes, 'hex'), payload_db::text "
      "FROM sync.bundle_capture_stage WHERE txid = txid_current() AND user_pk = $1 "
      "ORDER BY capture_ordinal",
      {user_pk_text}));

  // Normalize per logical row (table_id, key): first op, last op, last payload, first position.
  struct Logical {
    std::int32_t table_id = 0;
    std::string key_hex;
    Op first_op = Op::kInsert;
    Op last_op = Op::kInsert;
    int last_row = -1;  // staged row holding the last payload
  };
  std::vector<Logical> order;
  std::map<std::pair<std::int32_t, std::string>, std::size_t> index;
  for (int r = 0; r < staged.rows(); ++r) {
    const auto table_id = static_cast<std::int32_t>(staged.Int64(r, 0).value_or(0));
    const auto op = static_cast<Op>(staged.Int64(r, 1).value_or(1));
    std::string key_hex(staged.Text(r, 2));
    auto [it, inserted] = index.try_emplace({table_id, key_hex}, order.size());
    if (inserted) {
      order.push_back(Logical{table_id, std::move(key_hex), op, op, r});
    } else {
      Logical& l = order[it->second];
      l.last_op = op;
      l.last_row = r;
    }
  }
  struct Output {
    const Logical* logical;
    Op op;
  };
  std::vector<Output> rows;
  for (const Logical& l : order) {
    if (l.last_op == Op::kDelete) {
      if (l.first_op == Op::kInsert) continue;  // created and deleted inside the bundle
      rows.push_back({&l, Op::kDelete});
    } else {
      rows.push_back({&l, l.first_op == Op::kInsert ? Op::kInsert : Op::kUpdate});
    }
  }
  if (rows.empty()) {
    if (staged.rows() > 0) {
      OVERSYNC_RETURN_IF_ERROR(tx.Exec(
          "DELETE FROM sync.bundle_capture_stage WHERE txid = txid_current() AND user_pk = $1",
          {user_pk_text}));
    }
    return std::optional<FinalizedBundle>();
  }

  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult seq, tx.Exec(
      "UPDATE sync.user_state SET next_bundle_seq = next_bundle_seq + 1 WHERE user_pk = $1 "
      "RETURNING next_bundle_seq - 1",
      {user_pk_text}));
  if (seq.rows() != 1) return Error(ErrorCode::kInternal, "user_state row vanished");
  const std::int64_t bundle_seq = seq.Int64(0, 0).value_or(0);

  protocol::BundleHasher hasher(protocol::GoCanonicalV1Profile(), bundle_seq);
  const bool profile_b = profile_b::Enabled(impl);
  std::optional<protocol::BundleHasher> hasher_b;
  if (profile_b) hasher_b.emplace(protocol::JcsUniformNumericStringsV1Profile(), bundle_seq);
  std::optional<protocol::CanonicalRequestHasher> request_hasher;
  if (profile_b && request_hash_from_rows) request_hasher.emplace();
  std::string exact_copy;  // cpp_bundle_rows_exact rows in COPY text format
  protocol::JsonParser parser;
  // bundle_rows in COPY text format (one COPY for the whole bundle).
  const std::string bundle_prefix = fmt::format("{}\t{}\t", user_pk, bundle_seq);
  std::string copy_data;
  std::int64_t ordinal = 0;
  for (const Output& out : rows) {
    const RegisteredTableRuntime* table = impl.TableById(out.logical->table_id);
    if (table == nullptr) {
      return Error(ErrorCode::kInternal,
                   fmt::format("captured row for unknown table_id {}", out.logical->table_id));
    }
    const std::string key_text =
        KeyTextFromBytes(table->shape.key_kind,
                         HexDecode(out.logical->key_hex).value_or(std::string()));
    const JsonValue key = WireKey(*table, key_text);
    std::string payload_text;
    JsonValue payload;
    if (out.op != Op::kDelete) {
      OVERSYNC_ASSIGN_OR_RETURN(
          payload_text, WirePayloadFromDb(*table, staged.Text(out.logical->last_row, 3), true,
                                          parser, &payload));
    }
    OVERSYNC_RETURN_IF_ERROR(hasher.AddRow(table->shape.schema, table->shape.table, key, out.op,
                                           out.op == Op::kDelete ? nullptr : &payload));
    if (profile_b) {
      std::optional<JsonValue> payload_b;
      if (out.op != Op::kDelete) {
        // `payload` still holds PostgreSQL's digits (numbers keep their lexemes).
        OVERSYNC_ASSIGN_OR_RETURN(payload_b, profile_b::RenderPayload(*table, payload));
        if (profile_b::HasLossyNumber(payload)) {
          std::string image;
          protocol::JsonWriter image_writer(image);
          image_writer.Value(payload);
          exact_copy += bundle_prefix;
          exact_copy += std::to_string(ordinal + 1);
          pg::AppendCopyField(exact_copy, image);
          exact_copy += '\n';
        }
      }
      OVERSYNC_RETURN_IF_ERROR(hasher_b->AddRow(table->shape.schema, table->shape.table, key,
                                                out.op, payload_b ? &*payload_b : nullptr));
      if (request_hasher) {
        OVERSYNC_RETURN_IF_ERROR(request_hasher->AddRow(table->shape.schema, table->shape.table,
                                                        key, out.op, 0,
                                                        payload_b ? &*payload_b : nullptr));
      }
    }
    ++ordinal;
    copy_data += bundle_prefix;
    copy_data += std::to_string(ordinal);
    pg::AppendCopyField(copy_data, std::to_string(out.logical->table_id));
    pg::AppendCopyField(copy_data, "\\x" + out.logical->key_hex);
    pg::AppendCopyField(copy_data, std::to_string(static_cast<int>(out.op)));
    if (out.op == Op::kDelete) {
      pg::AppendCopyNull(copy_data);
    } else {
      pg::AppendCopyField(copy_data, payload_text);
    }
    copy_data += '\n';
  }
  const protocol::BundleHashResult hash = hasher.Finish();

  OVERSYNC_RETURN_IF_ERROR(tx.Exec(
      "INSERT INTO sync.bundle_log (user_pk, bundle_seq, source_id, source_bundle_id, row_count, "
      "byte_count, bundle_hash, committed_at) VALUES ($1, $2, $3, $4, $5, $6, decode($7, 'hex'), "
      "now())",
      {user_pk_text, std::to_string(bundle_seq), source_id, std::to_string(source_bundle_id),
       std::to_string(hash.row_count), std::to_string(hash.byte_count), hash.hex}));
  if (impl.config.bundle_change_watch.enabled) {
    std::string payload;
    protocol::JsonWriter w(payload);
    w.BeginObject();
    w.Member("user_pk", user_pk);
    w.Member("bundle_seq", bundle_seq);
    w.Member("source_id", source_id);
    w.Member("source_bundle_id", source_bundle_id);
    w.EndObject();
    OVERSYNC_RETURN_IF_ERROR(tx.Exec("SELECT pg_notify($1, $2)",
                                     {impl.config.bundle_change_watch.notify_channel, payload}));
  }
  OVERSYNC_RETURN_IF_ERROR(tx.CopyIn(
      "COPY sync.bundle_rows (user_pk, bundle_seq, row_ordinal, table_id, key_bytes, op_code, "
      "payload_wire) FROM STDIN",
      copy_data));
  // row_state follows from the rows just written (no second upload of the keys).
  OVERSYNC_RETURN_IF_ERROR(tx.Exec(
      "INSERT INTO sync.row_state (user_pk, table_id, key_bytes, bundle_seq, deleted) "
      "SELECT user_pk, table_id, key_bytes, bundle_seq, op_code = 3 FROM sync.bundle_rows "
      "WHERE user_pk = $1 AND bundle_seq = $2 "
      "ON CONFLICT (user_pk, table_id, key_bytes) DO UPDATE "
      "SET bundle_seq = EXCLUDED.bundle_seq, deleted = EXCLUDED.deleted",
      {user_pk_text, std::to_string(bundle_seq)}));
  OVERSYNC_RETURN_IF_ERROR(tx.Exec(
      "DELETE FROM sync.bundle_capture_stage WHERE txid = txid_current() AND user_pk = $1",
      {user_pk_text}));
  FinalizedBundle bundle;
  bundle.bundle_seq = bundle_seq;
  bundle.row_count = hash.row_count;
  bundle.bundle_hash = hash.hex;
  if (profile_b) {
    const protocol::BundleHashResult hash_b = hasher_b->Finish();
    OVERSYNC_RETURN_IF_ERROR(tx.Exec(
        "INSERT INTO sync.cpp_bundle_profile_b (user_pk, bundle_seq, bundle_hash, byte_count, "
        "canonical_request_hash) VALUES ($1, $2, $3, $4, $5)",
        {user_pk_text, std::to_string(bundle_seq), hash_b.hex, std::to_string(hash_b.byte_count),
         request_hasher ? request_hasher->Finish().hex : canonical_request_hash}));
    if (!exact_copy.empty()) {
      OVERSYNC_RETURN_IF_ERROR(tx.CopyIn(
          "COPY sync.cpp_bundle_rows_exact (user_pk, bundle_seq, row_ordinal, payload_exact) "
          "FROM STDIN",
          exact_copy));
    }
    bundle.bundle_hash = hash_b.hex;
  }
  return std::optional<FinalizedBundle>(std::move(bundle));
}

Result<bool> ActivateSourceAndRetain(internal::RuntimeState& impl, pg::PgConnection& tx,
                               std::int64_t user_pk, const std::string& user_id,
                               const std::string& source_id, std::int64_t source_bundle_id,
                               std::int64_t bundle_seq) {
  const std::string user_pk_text = std::to_string(user_pk);
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult activated, tx.Exec(
      "INSERT INTO sync.source_state (user_pk, source_id, state, max_committed_source_bundle_id) "
      "VALUES ($1, $2, 'active', $3) ON CONFLICT (user_pk, source_id) DO UPDATE "
      "SET state = 'active', max_committed_source_bundle_id = EXCLUDED.max_committed_source_bundle_id, "
      "replaced_by_source_id = '', retirement_reason = '' "
      "WHERE sync.source_state.state <> 'retired' RETURNING 1",
      {user_pk_text, source_id, std::to_string(source_bundle_id)}));
  if (activated.rows() == 0) {
    OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult retired, tx.Exec(
        "SELECT replaced_by_source_id FROM sync.source_state WHERE user_pk = $1 AND source_id = $2",
        {user_pk_text, source_id}));
    const std::string replaced = retired.rows() > 0 ? std::string(retired.Text(0, 0)) : "";
    return Error(protocol::SourceRetiredError(
        fmt::format("source {} for user {} was retired and replaced by {}", source_id, user_id,
                    replaced),
        source_id, replaced));
  }
  // Retention: keep `retained_bundles_per_user` bundles, advancing the floor at most one batch
  // per commit (server.md §7.1).
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult floor_row, tx.Exec(
      "SELECT retained_bundle_floor FROM sync.user_state WHERE user_pk = $1", {user_pk_text}));
  const std::int64_t floor = floor_row.Int64(0, 0).value_or(0);
  std::int64_t target = std::max<std::int64_t>(0, bundle_seq - impl.config.retained_bundles_per_user);
  if (target <= floor) return false;
  target = std::min(target, floor + impl.config.retention_prune_batch_size);
  OVERSYNC_RETURN_IF_ERROR(tx.Exec(
      "UPDATE sync.user_state SET retained_bundle_floor = $2 WHERE user_pk = $1",
      {user_pk_text, std::to_string(target)}));
  // The bundles at or below the new floor are outside retained history from this commit on;
  // the retention worker deletes them (RetentionWorker).
  return true;
}

}  // namespace oversync
