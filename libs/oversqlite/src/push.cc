// File: libs/oversqlite/src/push.cc
//
// PushPending (client.md §4.1-§4.5, §4.7): freeze the dirty rows into the durable outbox, upload
// them through a push session, fetch and verify the committed bundle, replay it locally.
//
// Durable boundaries, each a point a crashed push resumes from:
//   1. the freeze tx: dirty rows -> _sync_outbox_rows (state prepared); a restart re-uploads the
//      same rows under the same source_bundle_id in a new session;
//   2. the server-side commit (state committed_remote, or rediscovered as already_committed by the
//      next session create); the committed bundle is then re-fetched and verified;
//   3. the replay tx: applies the verified bundle, advances the checkpoint and clears the outbox.
// The push stage is only a cache of step 2: it is cleared before every fetch.
//
// No SQLite transaction is held across a network call (client.md §0).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "client_impl.h"
#include "oversync/common/rfc3339.h"
#include "oversync/common/sha256.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/canonical_json.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/protocol/wire_profile.h"

namespace oversync::oversqlite {
namespace {

using internal::Exec;
using internal::OutboxRow;
using internal::Prepare;
using internal::Stmt;
using internal::TableInfo;
using internal::Tx;
using protocol::JsonValue;

constexpr std::string_view kOpInsert = "INSERT";
constexpr std::string_view kOpUpdate = "UPDATE";
constexpr std::string_view kOpDelete = "DELETE";
// client.md §4.6: two automatic re-pushes after resolved conflicts, so at most three commits.
constexpr int kMaxConflictAutoRetries = 2;

constexpr std::string_view kResetOutboxSql =
    "UPDATE _sync_outbox_bundle SET state = 'none', source_id = '', source_bundle_id = 0, "
    "canonical_request_hash = '', row_count = 0, initialization_id = '', remote_bundle_hash = '', "
    "remote_bundle_seq = 0 WHERE singleton_key = 1";

// One frozen outbox row plus what the flow derives from it once (table, keys).
struct PushRow {
  OutboxRow row;
  const TableInfo* table = nullptr;
  std::string local_key;
  JsonValue wire_key;
};

// The committed bundle as the server reported it (create: already_committed, or commit).
struct CommittedBundle {
  std::int64_t bundle_seq = 0;
  std::string source_id;
  std::int64_t source_bundle_id = 0;
  std::int64_t row_count = 0;
  std::string bundle_hash;
  bool already_committed = false;
};

enum class PushStage : std::uint8_t { kCreate, kChunk, kCommit };

std::string CanonicalText(const JsonValue& value) {
  std::string out;
  protocol::AppendGoCanonical(value, out);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// The server's own `message` of an HTTP error (source recovery stores it verbatim).
std::string ServerMessage(const Status& status) {
  const ClientErrorDetail* detail = ClientErrorOf(status);
  if (detail != nullptr && !detail->raw_body.empty()) {
    auto decoded = protocol::DecodeErrorResponse(detail->raw_body);
    if (decoded) return decoded->message;
  }
  return status.message();
}

bool IsHttpError(const Status& status) {
  const ClientErrorDetail* detail = ClientErrorOf(status);
  return detail != nullptr && detail->http_status != 0;
}

Status Invalid(std::string message) {
  return Status(ErrorCode::kProtocolViolation, std::move(message));
}

Status ValidateCommittedFields(const CommittedBundle& c, std::string_view what) {
  if (c.bundle_seq <= 0) return Invalid(fmt::format("{}: bundle_seq must be positive", what));
  if (c.source_id.empty()) return Invalid(fmt::format("{}: source_id must be non-empty", what));
  if (c.source_bundle_id <= 0) {
    return Invalid(fmt::format("{}: source_bundle_id must be positive", what));
  }
  if (c.row_count <= 0) return Invalid(fmt::format("{}: row_count must be positive", what));
  if (c.bundle_hash.empty()) return Invalid(fmt::format("{}: bundle_hash must be non-empty", what));
  return Status::Ok();
}

// ---- replay equivalence (client.md §4.5 already_committed comparison) ----

// Go-map view of an object: the last duplicate wins.
std::map<std::string_view, const JsonValue*> MemberMap(const JsonValue& object) {
  std::map<std::string_view, const JsonValue*> members;
  for (const protocol::JsonMember& member : object.as_object()) members[member.key] = &member.value;
  return members;
}

// JSON equality where two strings that both parse as RFC 3339 instants compare as instants
// (the server re-renders timestamptz values with its own offset and precision); naive timestamps
// and everything else compare exactly.
bool ReplayEquivalent(const JsonValue& left, const JsonValue& right) {
  if (left.kind() != right.kind()) return false;
  switch (left.kind()) {
    case JsonValue::Kind::kNull:
      return true;
    case JsonValue::Kind::kBool:
      return left.as_bool() == right.as_bool();
    case JsonValue::Kind::kNumber:
      return left.as_number().value == right.as_number().value;
    case JsonValue::Kind::kString: {
      if (left.as_string() == right.as_string()) return true;
      auto l = ParseRfc3339(left.as_string());
      if (!l) return false;
      auto r = ParseRfc3339(right.as_string());
      return r && *l == *r;
    }
    case JsonValue::Kind::kArray: {
      const auto& l = left.as_array();
      const auto& r = right.as_array();
      if (l.size() != r.size()) return false;
      for (std::size_t i = 0; i < l.size(); ++i) {
        if (!ReplayEquivalent(l[i], r[i])) return false;
      }
      return true;
    }
    case JsonValue::Kind::kObject: {
      const auto l = MemberMap(left);
      const auto r = MemberMap(right);
      if (l.size() != r.size()) return false;
      for (const auto& [key, value] : l) {
        auto it = r.find(key);
        if (it == r.end() || !ReplayEquivalent(*value, *it->second)) return false;
      }
      return true;
    }
  }
  return false;
}

struct ProofRow {
  std::string schema;
  std::string table;
  std::string op;
  std::string wire_key;  // Go-canonical text
  std::optional<std::string> payload;
  std::int64_t ordinal = 0;

  friend bool operator<(const ProofRow& a, const ProofRow& b) {
    if (a.schema != b.schema) return a.schema < b.schema;
    if (a.table != b.table) return a.table < b.table;
    if (a.op != b.op) return a.op < b.op;
    if (a.wire_key != b.wire_key) return a.wire_key < b.wire_key;
    if (a.payload.has_value() != b.payload.has_value()) return !a.payload.has_value();
    if (a.payload != b.payload) return a.payload < b.payload;
    return a.ordinal < b.ordinal;
  }
};

Status CompareProofRows(std::vector<ProofRow> outbox, std::vector<ProofRow> staged) {
  if (outbox.size() != staged.size()) {
    return Invalid(
        fmt::format("committed bundle row count {} does not match canonical outbox row count {}",
                    staged.size(), outbox.size()));
  }
  std::stable_sort(outbox.begin(), outbox.end());
  std::stable_sort(staged.begin(), staged.end());
  for (std::size_t i = 0; i < outbox.size(); ++i) {
    const ProofRow& o = outbox[i];
    const ProofRow& s = staged[i];
    bool payloads_match = o.payload.has_value() == s.payload.has_value();
    if (payloads_match && o.payload.has_value()) {
      auto left = protocol::ParseJson(*o.payload);
      auto right = protocol::ParseJson(*s.payload);
      if (!left || !right)
        return Invalid("failed to decode payloads for the canonical outbox proof");
      payloads_match = ReplayEquivalent(*left, *right);
    }
    if (o.schema != s.schema || o.table != s.table || o.op != s.op || o.wire_key != s.wire_key ||
        !payloads_match) {
      return Invalid(
          fmt::format("committed bundle does not match canonical outbox row {}: outbox=(ordinal={} "
                      "{}.{} {} key={} "
                      "payload={}) staged=(ordinal={} {}.{} {} key={} payload={})",
                      i, o.ordinal, o.schema, o.table, o.op, o.wire_key, o.payload.value_or("null"),
                      s.ordinal, s.schema, s.table, s.op, s.wire_key, s.payload.value_or("null")));
    }
  }
  return Status::Ok();
}

// ---- freeze (client.md §4.2) ----
//
// Client::Impl is a private member type of Client, so the flow helpers below receive it as a
// template parameter instead of naming it; there is exactly one instantiation.

template <typename ImplT>
const TableInfo* RequireTable(ImplT& impl, std::string_view name, Status& error) {
  const TableInfo* table = impl.FindTable(name);
  if (table == nullptr) {
    error = Status(ErrorCode::kFailedPrecondition,
                   fmt::format("table {} is not configured for sync", name));
  }
  return table;
}

// Re-reads a non-empty durable outbox (state != none), or returns an empty vector.
template <typename ImplT>
Result<std::vector<PushRow>> LoadFrozenOutbox(ImplT& impl) {
  OVERSYNC_ASSIGN_OR_RETURN(internal::OutboxBundle bundle, impl.LoadOutboxBundle());
  std::vector<PushRow> rows;
  if (bundle.state == "none") return rows;
  OVERSYNC_ASSIGN_OR_RETURN(std::vector<OutboxRow> stored, impl.LoadOutboxRows());
  std::stable_sort(stored.begin(), stored.end(), [](const OutboxRow& a, const OutboxRow& b) {
    return a.row_ordinal < b.row_ordinal;
  });
  for (OutboxRow& row : stored) {
    if (!rows.empty() && rows.front().row.source_bundle_id != row.source_bundle_id) {
      return Error(
          ErrorCode::kDatabase,
          fmt::format(
              "outbound push snapshot contains multiple source_bundle_id values ({} and {})",
              rows.front().row.source_bundle_id, row.source_bundle_id));
    }
    PushRow push_row;
    Status error;
    push_row.table = RequireTable(impl, row.table_name, error);
    if (push_row.table == nullptr) return Error(std::move(error));
    OVERSYNC_ASSIGN_OR_RETURN(push_row.local_key,
                              impl.LocalKeyFromKeyJson(*push_row.table, row.key_json));
    auto wire_key = protocol::ParseJson(row.wire_key_json);
    if (!wire_key || !wire_key->is_object()) {
      return Error(ErrorCode::kDatabase, fmt::format("failed to decode stored wire key for {}.{}",
                                                     row.schema_name, row.table_name));
    }
    push_row.wire_key = std::move(*wire_key);
    push_row.row = std::move(row);
    rows.push_back(std::move(push_row));
  }
  return rows;
}

// Freezes every dirty row into the outbox in one transaction; returns the frozen rows (empty when
// nothing is left to push).
template <typename ImplT>
Result<std::vector<PushRow>> FreezeDirtyRows(ImplT& impl) {
  OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(impl.db_));

  std::string source_id;
  std::int64_t source_bundle_id = 0;
  {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt stmt,
        Prepare(
            impl.db_,
            "SELECT a.current_source_id, s.next_source_bundle_id FROM _sync_attachment_state AS a "
            "LEFT JOIN _sync_source_state AS s ON s.source_id = a.current_source_id "
            "WHERE a.singleton_key = 1"));
    OVERSYNC_ASSIGN_OR_RETURN(bool found, stmt.Step());
    if (found) source_id = stmt.Text(0);
    if (!found || stmt.IsNull(1)) {
      return Error(ErrorCode::kFailedPrecondition,
                   fmt::format("missing source state for {}", source_id));
    }
    source_bundle_id = stmt.Int(1);
  }

  struct Candidate {
    PushRow push;
    std::int64_t dirty_ordinal = 0;
  };
  std::vector<Candidate> candidates;
  std::vector<std::pair<std::string, std::string>> no_ops;  // (table, key_json)
  {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt stmt,
        Prepare(impl.db_,
                "SELECT d.schema_name, d.table_name, d.key_json, d.base_row_version, d.payload, "
                "d.dirty_ordinal, "
                "rs.key_json IS NOT NULL, COALESCE(rs.deleted, 0) FROM _sync_dirty_rows AS d "
                "LEFT JOIN _sync_row_state AS rs ON rs.schema_name = d.schema_name AND "
                "rs.table_name = d.table_name AND rs.key_json = d.key_json "
                "ORDER BY d.dirty_ordinal, d.table_name, d.key_json"));
    while (true) {
      OVERSYNC_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
      if (!has_row) break;
      Candidate c;
      OutboxRow& row = c.push.row;
      row.source_bundle_id = source_bundle_id;
      row.schema_name = stmt.Text(0);
      row.table_name = stmt.Text(1);
      row.key_json = stmt.Text(2);
      row.base_row_version = stmt.Int(3);
      row.local_payload = stmt.OptText(4);
      c.dirty_ordinal = stmt.Int(5);
      const bool state_live = stmt.Int(6) != 0 && stmt.Int(7) == 0;

      Status error;
      c.push.table = RequireTable(impl, row.table_name, error);
      if (c.push.table == nullptr) return Error(std::move(error));
      OVERSYNC_ASSIGN_OR_RETURN(c.push.local_key,
                                impl.LocalKeyFromKeyJson(*c.push.table, row.key_json));
      // Decoding the key also validates it: a BLOB key that is not 16 bytes aborts the freeze
      // ("invalid blob UUID pk", client.md §3.5) and leaves the dirty rows in place.
      OVERSYNC_ASSIGN_OR_RETURN(c.push.wire_key,
                                impl.LocalKeyToWireKey(*c.push.table, c.push.local_key));

      // client.md §3.3: the stored op is informational; it is recomputed here.
      if (!row.local_payload.has_value() && !state_live) {
        no_ops.emplace_back(row.table_name, row.key_json);
        continue;
      }
      if (row.local_payload.has_value()) {
        row.op = std::string(state_live ? kOpUpdate : kOpInsert);
      } else {
        row.op = std::string(kOpDelete);
      }
      candidates.push_back(std::move(c));
    }
  }

  if (!no_ops.empty()) {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt del,
        Prepare(impl.db_,
                "DELETE FROM _sync_dirty_rows WHERE schema_name = ? AND table_name = ? AND "
                "key_json = ?"));
    for (const auto& [table, key_json] : no_ops) {
      del.Reset();
      del.Bind(1, impl.config_.schema).Bind(2, table).Bind(3, key_json);
      OVERSYNC_RETURN_IF_ERROR(del.Run());
    }
  }
  if (candidates.empty()) {
    // Unlike the Go reference (which rolls this tx back when only no-ops remain, so such a dirty
    // row would block pulls forever), the no-op deletions are committed.
    OVERSYNC_RETURN_IF_ERROR(tx.Commit());
    return std::vector<PushRow>{};
  }

  // Parents before children for upserts, children before parents for deletes (client.md §4.2).
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) {
                     const bool a_delete = a.push.row.op == kOpDelete;
                     const bool b_delete = b.push.row.op == kOpDelete;
                     if (a_delete != b_delete) return !a_delete;
                     const int a_order = a.push.table->fk_order;
                     const int b_order = b.push.table->fk_order;
                     if (a_order != b_order)
                       return a_delete ? a_order > b_order : a_order < b_order;
                     return a.dirty_ordinal < b.dirty_ordinal;
                   });

  // Wire payloads and the canonical request hash: a Go-canonical array of PushRequestRow objects,
  // members in sorted order (base_row_version, key, op, payload?, schema, table).
  std::string request_text = "[";
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    PushRow& push = candidates[i].push;
    OutboxRow& row = push.row;
    row.row_ordinal = static_cast<std::int64_t>(i);
    row.wire_key_json = CanonicalText(push.wire_key);
    if (row.op != kOpDelete) {
      auto local = protocol::ParseJson(*row.local_payload);
      if (!local) {
        return Error(local.error().WithContext(fmt::format(
            "failed to process dirty payload for {}.{}", row.table_name, push.local_key)));
      }
      auto wire = impl.LocalPayloadToWire(*push.table, *local);
      if (!wire) {
        return Error(wire.error().WithContext(fmt::format(
            "failed to process dirty payload for {}.{}", row.table_name, push.local_key)));
      }
      row.wire_payload = CanonicalText(*wire);
    }
    if (impl.ProfileB()) continue;  // profile B hashes below, with its own rules
    if (i > 0) request_text.push_back(',');
    request_text += fmt::format(
        "{{\"base_row_version\":{},\"key\":{},\"op\":", row.base_row_version, row.wire_key_json);
    protocol::AppendGoQuoted(row.op, request_text);
    if (row.wire_payload.has_value()) {
      request_text += ",\"payload\":";
      request_text += *row.wire_payload;
    }
    request_text += ",\"schema\":";
    protocol::AppendGoQuoted(row.schema_name, request_text);
    request_text += ",\"table\":";
    protocol::AppendGoQuoted(row.table_name, request_text);
    request_text.push_back('}');
  }
  request_text.push_back(']');
  std::string request_hash;
  if (!impl.ProfileB()) {
    request_hash = HexLower(Sha256::Digest(request_text));
  } else {
    // protocol-b.md §4.2: profile B's request hash (the server recomputes and checks it).
    protocol::CanonicalRequestHasher hasher;
    for (const Candidate& candidate : candidates) {
      const OutboxRow& row = candidate.push.row;
      protocol::Op op{};
      if (!protocol::ParseOp(row.op, op)) return Error(Invalid(fmt::format("invalid op {:?}", row.op)));
      OVERSYNC_ASSIGN_OR_RETURN(JsonValue payload, row.wire_payload
                                                       ? protocol::ParseJson(*row.wire_payload)
                                                       : Result<JsonValue>(JsonValue::Null()));
      OVERSYNC_RETURN_IF_ERROR(hasher.AddRow(row.schema_name, row.table_name,
                                             candidate.push.wire_key, op, row.base_row_version,
                                             row.wire_payload ? &payload : nullptr));
    }
    request_hash = hasher.Finish().hex;
  }

  std::string pending_initialization_id;
  {
    std::lock_guard lock(impl.state_mutex_);
    pending_initialization_id = impl.pending_initialization_id_;
  }
  {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt stmt,
        Prepare(impl.db_,
                "UPDATE _sync_outbox_bundle SET state = 'prepared', source_id = ?, "
                "source_bundle_id = ?, "
                "canonical_request_hash = ?, row_count = ?, initialization_id = ?, "
                "remote_bundle_hash = '', remote_bundle_seq = 0 WHERE singleton_key = 1"));
    stmt.Bind(1, impl.SourceId())
        .Bind(2, source_bundle_id)
        .Bind(3, request_hash)
        .Bind(4, static_cast<std::int64_t>(candidates.size()))
        .Bind(5, pending_initialization_id);
    OVERSYNC_RETURN_IF_ERROR(stmt.Run());
  }
  // Rows left behind by a bundle whose state was reset without them would collide on
  // (source_bundle_id, row_ordinal); the outbox holds exactly one bundle (client.md §2.1).
  OVERSYNC_RETURN_IF_ERROR(Exec(impl.db_, "DELETE FROM _sync_outbox_rows"));

  OVERSYNC_ASSIGN_OR_RETURN(Stmt insert,
                            Prepare(impl.db_,
                                    "INSERT INTO _sync_outbox_rows (source_bundle_id, row_ordinal, "
                                    "schema_name, table_name, key_json, "
                                    "wire_key_json, op, base_row_version, local_payload, "
                                    "wire_payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt del, Prepare(impl.db_,
                        "DELETE FROM _sync_dirty_rows WHERE schema_name = ? AND table_name = ? AND "
                        "key_json = ?"));
  std::vector<PushRow> frozen;
  frozen.reserve(candidates.size());
  for (Candidate& c : candidates) {
    const OutboxRow& row = c.push.row;
    insert.Reset();
    insert.Bind(1, row.source_bundle_id)
        .Bind(2, row.row_ordinal)
        .Bind(3, row.schema_name)
        .Bind(4, row.table_name)
        .Bind(5, row.key_json)
        .Bind(6, row.wire_key_json)
        .Bind(7, row.op)
        .Bind(8, row.base_row_version)
        .BindOptional(9, row.local_payload)
        .BindOptional(10, row.wire_payload);
    OVERSYNC_RETURN_IF_ERROR(insert.Run());
    del.Reset();
    del.Bind(1, row.schema_name).Bind(2, row.table_name).Bind(3, row.key_json);
    OVERSYNC_RETURN_IF_ERROR(del.Run());
    frozen.push_back(std::move(c.push));
  }

  // client.md §1.7: the freeze hook runs inside the tx; its error rolls the freeze back.
  if (FreezeHook hook = impl.TakeFreezeHook()) OVERSYNC_RETURN_IF_ERROR(hook(impl.db_));
  OVERSYNC_RETURN_IF_ERROR(tx.Commit());
  return frozen;
}

// ---- push session (client.md §4.3) ----

// Maps a failed create/chunk/commit request (Appendix A). `committed`/`replay_pruned` are set when
// session creation reports history_pruned for an outbox that is already committed_remote (§4.7).
template <typename ImplT>
Status MapPushError(ImplT& impl, Status status, PushStage stage,
                    const internal::OutboxBundle& outbox, CommittedBundle& committed,
                    bool& replay_pruned) {
  if (!IsHttpError(status)) return status;
  const ErrorCode code = status.code();
  if (code == ErrorCode::kInitializationExpired || code == ErrorCode::kInitializationStale) {
    return impl.HandleInitializationLeaseLoss(status);
  }
  if (stage == PushStage::kCreate && code == ErrorCode::kHistoryPruned) {
    if (outbox.state == "committed_remote") {
      committed.bundle_seq = outbox.remote_bundle_seq;
      committed.source_id = outbox.source_id;
      committed.source_bundle_id = outbox.source_bundle_id;
      committed.row_count = outbox.row_count;
      committed.bundle_hash = outbox.remote_bundle_hash;
      replay_pruned = true;
      return status;
    }
    return impl.EnterSourceRecovery("history_pruned", ServerMessage(status), "");
  }
  if (stage == PushStage::kCreate && code == ErrorCode::kSourceSequenceOutOfOrder) {
    return impl.EnterSourceRecovery("source_sequence_out_of_order", ServerMessage(status), "");
  }
  if (stage == PushStage::kCommit && code == ErrorCode::kSourceSequenceChanged) {
    return impl.EnterSourceRecovery("source_sequence_changed", ServerMessage(status), "");
  }
  if (stage != PushStage::kChunk && code == ErrorCode::kSourceRetired) {
    const ClientErrorDetail* detail = ClientErrorOf(status);
    return impl.EnterSourceRecovery(
        "source_retired", ServerMessage(status),
        detail != nullptr ? detail->replaced_by_source_id : std::string());
  }
  return status;  // structured push_conflict keeps its detail; everything else is an HTTP error
}

template <typename ImplT>
Status PersistCommittedRemote(ImplT& impl, const CommittedBundle& committed) {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt stmt,
      Prepare(impl.db_,
              "UPDATE _sync_outbox_bundle SET state = 'committed_remote', source_id = ?, "
              "source_bundle_id = ?, row_count = ?, remote_bundle_hash = ?, remote_bundle_seq = ? "
              "WHERE singleton_key = 1"));
  stmt.Bind(1, committed.source_id)
      .Bind(2, committed.source_bundle_id)
      .Bind(3, committed.row_count)
      .Bind(4, committed.bundle_hash)
      .Bind(5, committed.bundle_seq);
  return stmt.Run();
}

// Uploads the chunks of a staging session and commits it. Any failure deletes the session (best
// effort, client.md §4.3 step 5); a successful commit keeps it.
template <typename ImplT>
Status UploadAndCommit(ImplT& impl, const std::vector<PushRow>& rows, const std::string& push_id,
                       const internal::OutboxBundle& outbox, CommittedBundle& committed,
                       bool& replay_pruned) {
  const std::string base = "/sync/push-sessions/" + internal::PathEscape(push_id);
  const std::size_t chunk_rows =
      static_cast<std::size_t>(impl.config_.upload_limit > 0 ? impl.config_.upload_limit : 1000);
  for (std::size_t start = 0; start < rows.size(); start += chunk_rows) {
    const std::size_t end = std::min(rows.size(), start + chunk_rows);
    protocol::PushChunkRequest request;
    request.start_row_ordinal = static_cast<std::int64_t>(start);
    request.rows.reserve(end - start);
    for (std::size_t i = start; i < end; ++i) {
      const PushRow& push = rows[i];
      protocol::PushRequestRow wire;
      wire.schema = push.row.schema_name;
      wire.table = push.row.table_name;
      wire.key = push.wire_key;
      wire.op = push.row.op;
      wire.base_row_version = push.row.base_row_version;
      if (push.row.op != kOpDelete) {
        // client.md §2.1: chunk payloads are re-derived from local_payload, not wire_payload.
        if (!push.row.local_payload.has_value()) {
          return Status(ErrorCode::kDatabase,
                        fmt::format("outbox row {} of {} has no local payload",
                                    push.row.row_ordinal, push.row.table_name));
        }
        OVERSYNC_ASSIGN_OR_RETURN(JsonValue local, protocol::ParseJson(*push.row.local_payload));
        OVERSYNC_ASSIGN_OR_RETURN(wire.payload, impl.LocalPayloadToWire(*push.table, local));
        wire.payload_present = true;
      }
      request.rows.push_back(std::move(wire));
    }
    auto response = impl.Call("POST", base + "/chunks", protocol::EncodePushChunkRequest(request));
    if (!response) {
      return MapPushError(impl, std::move(response).error(), PushStage::kChunk, outbox, committed,
                          replay_pruned);
    }
    OVERSYNC_ASSIGN_OR_RETURN(protocol::PushChunkResponse chunk,
                              protocol::DecodePushChunkResponse(response->body));
    if (Trim(chunk.push_id) != push_id) {
      return Invalid(fmt::format("push chunk response push_id {:?} does not match requested {:?}",
                                 chunk.push_id, push_id));
    }
    impl.push_chunks_uploaded_.fetch_add(1);
    if (chunk.next_expected_row_ordinal != static_cast<std::int64_t>(end)) {
      return Invalid(
          fmt::format("push chunk response next_expected_row_ordinal {} does not match expected {}",
                      chunk.next_expected_row_ordinal, end));
    }
  }

  if (PushHook hook = impl.TakeHook(impl.before_commit_hook_)) OVERSYNC_RETURN_IF_ERROR(hook());

  auto response = impl.Call("POST", base + "/commit", std::nullopt);
  if (!response) {
    return MapPushError(impl, std::move(response).error(), PushStage::kCommit, outbox, committed,
                        replay_pruned);
  }
  OVERSYNC_ASSIGN_OR_RETURN(
      protocol::PushSessionCommitResponse commit,
      protocol::DecodePushSessionCommitResponse(response->body, nullptr, impl.WireProfile()));
  if (impl.ProfileB() && commit.canonical_request_hash != outbox.canonical_request_hash) {
    return Invalid("push commit response canonical_request_hash does not match the outbox");
  }
  committed.bundle_seq = commit.bundle_seq;
  committed.source_id = commit.source_id;
  committed.source_bundle_id = commit.source_bundle_id;
  committed.row_count = commit.row_count;
  committed.bundle_hash = commit.bundle_hash;
  committed.already_committed = false;
  OVERSYNC_RETURN_IF_ERROR(ValidateCommittedFields(committed, "push commit response"));
  if (committed.source_id != impl.SourceId()) {
    return Invalid(fmt::format("push commit response source_id {:?} does not match client {:?}",
                               committed.source_id, impl.SourceId()));
  }
  return Status::Ok();
}

// Create (or rediscover) the committed bundle for the frozen outbox.
template <typename ImplT>
Status CommitOutbox(ImplT& impl, const std::vector<PushRow>& rows, CommittedBundle& committed,
                    bool& replay_pruned) {
  OVERSYNC_ASSIGN_OR_RETURN(internal::OutboxBundle outbox, impl.LoadOutboxBundle());
  const std::int64_t source_bundle_id = rows.front().row.source_bundle_id;
  const auto planned = static_cast<std::int64_t>(rows.size());

  protocol::PushSessionCreateRequest create;
  create.source_bundle_id = source_bundle_id;
  create.planned_row_count = planned;
  if (impl.ProfileB()) create.canonical_request_hash = outbox.canonical_request_hash;
  {
    // The in-memory pending id, not the outbox column (client.md §2.1).
    std::lock_guard lock(impl.state_mutex_);
    create.initialization_id = impl.pending_initialization_id_;
  }
  auto response =
      impl.Call("POST", "/sync/push-sessions", protocol::EncodePushSessionCreateRequest(create));
  if (!response) {
    return MapPushError(impl, std::move(response).error(), PushStage::kCreate, outbox, committed,
                        replay_pruned);
  }
  OVERSYNC_ASSIGN_OR_RETURN(
      protocol::PushSessionCreateResponse session,
      protocol::DecodePushSessionCreateResponse(response->body, nullptr, impl.WireProfile()));
  const std::string source_id = impl.SourceId();
  if (impl.ProfileB() && session.canonical_request_hash != outbox.canonical_request_hash) {
    return Invalid("push session response canonical_request_hash does not match the outbox");
  }

  if (session.status == protocol::PushSessionStatus::kAlreadyCommitted) {
    committed.bundle_seq = session.bundle_seq;
    committed.source_id = session.source_id;
    committed.source_bundle_id = session.source_bundle_id;
    committed.row_count = session.row_count;
    committed.bundle_hash = session.bundle_hash;
    committed.already_committed = true;
    if (committed.source_bundle_id != source_bundle_id) {
      return Invalid(fmt::format(
          "push session already_committed response source_bundle_id {} does not match requested {}",
          committed.source_bundle_id, source_bundle_id));
    }
    if (committed.source_id != source_id) {
      return Invalid(fmt::format(
          "push session already_committed response source_id {:?} does not match client {:?}",
          committed.source_id, source_id));
    }
    OVERSYNC_RETURN_IF_ERROR(
        ValidateCommittedFields(committed, "push session already_committed response"));
    OVERSYNC_RETURN_IF_ERROR(impl.PersistPendingInitializationId(""));
    return PersistCommittedRemote(impl, committed);
  }

  const std::string push_id(Trim(session.push_id));
  if (push_id.empty()) return Invalid("push session response missing push_id");
  if (session.planned_row_count != planned) {
    return Invalid(
        fmt::format("push session response planned_row_count {} does not match requested {}",
                    session.planned_row_count, planned));
  }
  if (session.next_expected_row_ordinal != 0) {
    return Invalid(fmt::format("push session response next_expected_row_ordinal {} must be 0",
                               session.next_expected_row_ordinal));
  }
  impl.push_sessions_created_.fetch_add(1);

  Status uploaded = UploadAndCommit(impl, rows, push_id, outbox, committed, replay_pruned);
  if (!uploaded.ok()) {
    impl.BestEffortDelete("/sync/push-sessions/" + internal::PathEscape(push_id));
    return uploaded;
  }
  OVERSYNC_RETURN_IF_ERROR(impl.PersistPendingInitializationId(""));
  return PersistCommittedRemote(impl, committed);
}

// ---- fetch and verify (client.md §4.4) ----

Status ValidateCommittedPage(const protocol::CommittedBundleRowsResponse& page,
                             const CommittedBundle& committed, std::int64_t after) {
  if (page.bundle_seq != committed.bundle_seq || page.source_id != committed.source_id ||
      page.source_bundle_id != committed.source_bundle_id ||
      page.row_count != committed.row_count || page.bundle_hash != committed.bundle_hash) {
    return Invalid(
        fmt::format("committed bundle chunk response metadata (bundle_seq {}, source_id {:?}, "
                    "source_bundle_id {}, "
                    "row_count {}, bundle_hash {:?}) does not match the committed bundle "
                    "(bundle_seq {}, source_id {:?}, "
                    "source_bundle_id {}, row_count {}, bundle_hash {:?})",
                    page.bundle_seq, page.source_id, page.source_bundle_id, page.row_count,
                    page.bundle_hash, committed.bundle_seq, committed.source_id,
                    committed.source_bundle_id, committed.row_count, committed.bundle_hash));
  }
  const std::int64_t expected_next = after + static_cast<std::int64_t>(page.rows.size());
  if (page.next_row_ordinal != expected_next) {
    return Invalid(fmt::format(
        "committed bundle chunk response next_row_ordinal {} does not match expected {}",
        page.next_row_ordinal, expected_next));
  }
  if (page.has_more && page.rows.empty()) {
    return Invalid(
        "committed bundle chunk response with has_more=true must include at least one row");
  }
  for (std::size_t i = 0; i < page.rows.size(); ++i) {
    const protocol::BundleRow& row = page.rows[i];
    const bool key_ok = row.key.is_object() && !row.key.as_object().empty();
    const bool payload_ok = row.op == protocol::Op::kDelete || row.payload.has_value();
    if (row.schema.empty() || row.table.empty() || !key_ok || row.row_version <= 0 || !payload_ok) {
      return Invalid(fmt::format("invalid committed bundle row {}", i));
    }
    // Every row of a bundle carries the bundle's seq as its version (protocol.md §2.7); the hash
    // is computed that way, so a different value here would be applied without being verified.
    if (row.row_version != page.bundle_seq) {
      return Invalid(fmt::format("committed bundle row {} has row_version {} but bundle_seq {}", i,
                                 row.row_version, page.bundle_seq));
    }
  }
  return Status::Ok();
}

template <typename ImplT>
Status FetchCommittedBundle(ImplT& impl, const CommittedBundle& committed, bool& replay_pruned) {
  OVERSYNC_RETURN_IF_ERROR(Exec(impl.db_, "DELETE FROM _sync_push_stage"));
  const int max_rows = impl.config_.download_limit > 0 ? impl.config_.download_limit : 1000;
  protocol::BundleHasher hasher(impl.ProfileB() ? protocol::JcsUniformNumericStringsV1Profile()
                                                : protocol::GoCanonicalV1Profile(),
                                committed.bundle_seq);
  std::string expected_request_hash;
  if (impl.ProfileB()) {
    OVERSYNC_ASSIGN_OR_RETURN(internal::OutboxBundle outbox, impl.LoadOutboxBundle());
    expected_request_hash = outbox.canonical_request_hash;
  }
  std::int64_t after = -1;  // logical position before the first row
  std::int64_t staged = 0;
  while (true) {
    std::string path = fmt::format("/sync/committed-bundles/{}/rows?", committed.bundle_seq);
    if (after >= 0) path += fmt::format("after_row_ordinal={}&", after);
    path += fmt::format("max_rows={}", max_rows);
    // 404 committed_bundle_not_found (a commit not yet visible where the rows are read) is
    // tried up to 6 times, 75 ms doubling to 600 ms between tries, like the KMP client.
    auto response = impl.Call("GET", path, std::nullopt);
    auto wait = std::chrono::milliseconds(75);
    for (int attempt = 1; attempt < 6 && !response &&
                          response.error().code() == ErrorCode::kCommittedBundleNotFound;
         ++attempt) {
      std::this_thread::sleep_for(wait);
      wait = std::min(wait * 2, std::chrono::milliseconds(600));
      response = impl.Call("GET", path, std::nullopt);
    }
    if (!response) {
      Status error = std::move(response).error();
      if (IsHttpError(error) && error.code() == ErrorCode::kHistoryPruned) replay_pruned = true;
      return error;
    }
    OVERSYNC_ASSIGN_OR_RETURN(
        protocol::CommittedBundleRowsResponse page,
        protocol::DecodeCommittedBundleRowsResponse(response->body, nullptr, impl.WireProfile()));
    if (impl.ProfileB() && page.canonical_request_hash != expected_request_hash) {
      // The server committed our source tuple from another upload: the committed outbox can
      // never be replayed, so the database must be rebuilt (KMP: SourceSequenceMismatch on a
      // committed_remote outbox sets the durable rebuild gate).
      OVERSYNC_RETURN_IF_ERROR(Exec(
          impl.db_, "UPDATE _sync_attachment_state SET rebuild_required = 1 WHERE singleton_key = 1"));
      ClientErrorDetail detail;
      detail.kind = ClientErrorKind::kRebuildRequired;
      detail.reason = "committed bundle canonical_request_hash does not match the outbox";
      return MakeClientError(ErrorCode::kFailedPrecondition,
                             "rebuild required: the committed bundle's canonical_request_hash "
                             "does not match the outbox",
                             std::move(detail));
    }
    impl.committed_chunks_read_.fetch_add(1);
    OVERSYNC_RETURN_IF_ERROR(ValidateCommittedPage(page, committed, after));

    {
      // One tx per page (client.md §4.4 step 3).
      OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(impl.db_));
      OVERSYNC_ASSIGN_OR_RETURN(
          Stmt insert,
          Prepare(impl.db_,
                  "INSERT INTO _sync_push_stage (bundle_seq, row_ordinal, schema_name, table_name, "
                  "key_json, op, row_version, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
      for (const protocol::BundleRow& row : page.rows) {
        if (row.schema != impl.config_.schema) {
          return Invalid(
              fmt::format("committed bundle row schema {} does not match client schema {}",
                          row.schema, impl.config_.schema));
        }
        Status error;
        const TableInfo* table = RequireTable(impl, row.table, error);
        if (table == nullptr) return error;
        OVERSYNC_ASSIGN_OR_RETURN(std::string local_key, impl.WireKeyToLocalKey(*table, row.key));
        const bool is_delete = row.op == protocol::Op::kDelete;
        insert.Reset();
        insert.Bind(1, committed.bundle_seq)
            .Bind(2, staged)
            .Bind(3, row.schema)
            .Bind(4, row.table)
            .Bind(5, impl.LocalKeyJson(*table, local_key))
            .Bind(6, protocol::OpName(row.op))
            .Bind(7, row.row_version);
        if (is_delete) {
          insert.BindNull(8);
        } else {
          std::string payload_text;
          protocol::JsonWriter(payload_text).Value(*row.payload);
          insert.Bind(8, payload_text);
        }
        OVERSYNC_RETURN_IF_ERROR(insert.Run());
        // The hash key is rebuilt from the local key like the staged row would be (Appendix B).
        OVERSYNC_ASSIGN_OR_RETURN(JsonValue wire_key, impl.LocalKeyToWireKey(*table, local_key));
        OVERSYNC_RETURN_IF_ERROR(hasher.AddRow(row.schema, row.table, wire_key, row.op,
                                               is_delete ? nullptr : &*row.payload));
        ++staged;
      }
      OVERSYNC_RETURN_IF_ERROR(tx.Commit());
    }
    if (!page.has_more) break;
    after = page.next_row_ordinal;
  }
  if (staged != committed.row_count) {
    return Invalid(
        fmt::format("staged committed bundle row count {} does not match expected row_count {}",
                    staged, committed.row_count));
  }
  const protocol::BundleHashResult hash = hasher.Finish();
  if (hash.hex != committed.bundle_hash) {
    return Invalid(fmt::format("staged committed bundle hash {} does not match expected {}",
                               hash.hex, committed.bundle_hash));
  }
  return Status::Ok();
}

// ---- replay (client.md §4.5) ----

struct StagedRow {
  std::int64_t ordinal = 0;
  std::string schema;
  std::string table_name;
  const TableInfo* table = nullptr;
  std::string key_json;
  std::string local_key;
  std::string op;
  std::int64_t row_version = 0;
  std::optional<std::string> payload;
};

struct Decision {
  bool skip_apply = false;
  std::string requeue_op;
  std::optional<std::string> requeue_payload;
};

template <typename ImplT>
Result<bool> CanonicalEqual(ImplT& impl, const std::optional<std::string>& a,
                            const std::optional<std::string>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a.has_value()) return true;
  if (*a == *b) return true;
  OVERSYNC_ASSIGN_OR_RETURN(std::string left, impl.Canonical(*a));
  OVERSYNC_ASSIGN_OR_RETURN(std::string right, impl.Canonical(*b));
  return left == right;
}

std::string DecisionKey(std::string_view schema, std::string_view table,
                        std::string_view key_json) {
  std::string key;
  key.reserve(schema.size() + table.size() + key_json.size() + 2);
  key.append(schema).push_back('\0');
  key.append(table).push_back('\0');
  key.append(key_json);
  return key;
}

template <typename ImplT>
Status ReplayCommittedBundle(ImplT& impl, const std::vector<PushRow>& uploaded,
                             const CommittedBundle& committed) {
  OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(impl.db_));
  OVERSYNC_RETURN_IF_ERROR(Exec(impl.db_, "PRAGMA defer_foreign_keys = ON"));
  OVERSYNC_RETURN_IF_ERROR(impl.SetApplyMode(true));

  std::vector<StagedRow> staged;
  {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt stmt,
        Prepare(impl.db_,
                "SELECT row_ordinal, schema_name, table_name, key_json, op, row_version, payload "
                "FROM _sync_push_stage WHERE bundle_seq = ? ORDER BY row_ordinal"));
    stmt.Bind(1, committed.bundle_seq);
    while (true) {
      OVERSYNC_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
      if (!has_row) break;
      StagedRow row;
      row.ordinal = stmt.Int(0);
      row.schema = stmt.Text(1);
      row.table_name = stmt.Text(2);
      row.key_json = stmt.Text(3);
      row.op = stmt.Text(4);
      row.row_version = stmt.Int(5);
      row.payload = stmt.OptText(6);
      Status error;
      row.table = RequireTable(impl, row.table_name, error);
      if (row.table == nullptr) return error;
      OVERSYNC_ASSIGN_OR_RETURN(row.local_key, impl.LocalKeyFromKeyJson(*row.table, row.key_json));
      staged.push_back(std::move(row));
    }
  }
  if (static_cast<std::int64_t>(staged.size()) != committed.row_count) {
    return Invalid(
        fmt::format("staged push replay row count {} does not match expected row_count {}",
                    staged.size(), committed.row_count));
  }

  // Decide per uploaded row from what happened locally since the freeze.
  std::map<std::string, Decision, std::less<>> decisions;
  {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt dirty_stmt,
        Prepare(impl.db_,
                "SELECT op, payload FROM _sync_dirty_rows WHERE schema_name = ? AND "
                "table_name = ? AND key_json = ?"));
    for (const PushRow& push : uploaded) {
      const OutboxRow& up = push.row;
      dirty_stmt.Reset();
      dirty_stmt.Bind(1, up.schema_name).Bind(2, up.table_name).Bind(3, up.key_json);
      OVERSYNC_ASSIGN_OR_RETURN(bool dirty_exists, dirty_stmt.Step());
      std::string dirty_op;
      std::optional<std::string> dirty_payload;
      if (dirty_exists) {
        dirty_op = dirty_stmt.Text(0);
        dirty_payload = dirty_stmt.OptText(1);
      }
      dirty_stmt.Reset();
      OVERSYNC_ASSIGN_OR_RETURN(std::optional<std::string> live,
                                impl.LiveRowPayload(*push.table, push.local_key));

      Decision decision;
      if (up.op == kOpDelete) {
        if (live.has_value()) {  // re-created locally after the freeze
          decision = {true, std::string(kOpInsert), live};
        }
      } else if (!live.has_value()) {  // deleted locally after the freeze
        decision = {true, std::string(kOpDelete), std::nullopt};
      } else {
        bool dirty_matches = false;
        if (dirty_exists && dirty_op == up.op) {
          OVERSYNC_ASSIGN_OR_RETURN(dirty_matches,
                                    CanonicalEqual(impl, dirty_payload, up.local_payload));
        }
        OVERSYNC_ASSIGN_OR_RETURN(bool live_matches, CanonicalEqual(impl, live, up.local_payload));
        if ((dirty_exists && !dirty_matches) || !live_matches) {
          decision = {true, std::string(kOpUpdate), live};
        }
      }
      decisions.emplace(DecisionKey(up.schema_name, up.table_name, up.key_json),
                        std::move(decision));
    }
  }

  if (committed.already_committed && !impl.ProfileB()) {
    // Resumed after a crash: prove the server's bundle is the one we froze (client.md §4.5).
    // Profile B proves it by the echoed canonical_request_hash instead, checked at create and on
    // every committed-rows page (kmp-client.md §3.5: the payload comparison would reject the
    // server's authoritative renderings, e.g. a timestamptz in another offset).
    std::vector<ProofRow> outbox_proof;
    outbox_proof.reserve(uploaded.size());
    for (const PushRow& push : uploaded) {
      OVERSYNC_ASSIGN_OR_RETURN(std::string key, impl.Canonical(push.row.wire_key_json));
      outbox_proof.push_back({push.row.schema_name, push.row.table_name, push.row.op,
                              std::move(key), push.row.wire_payload, push.row.row_ordinal});
    }
    std::vector<ProofRow> staged_proof;
    staged_proof.reserve(staged.size());
    for (const StagedRow& row : staged) {
      OVERSYNC_ASSIGN_OR_RETURN(JsonValue key, impl.LocalKeyToWireKey(*row.table, row.local_key));
      staged_proof.push_back(
          {row.schema, row.table_name, row.op, CanonicalText(key), row.payload, row.ordinal});
    }
    OVERSYNC_RETURN_IF_ERROR(CompareProofRows(std::move(outbox_proof), std::move(staged_proof)));
  }

  for (const StagedRow& row : staged) {
    const bool is_delete = row.op == kOpDelete;
    auto it = decisions.find(DecisionKey(row.schema, row.table_name, row.key_json));
    const bool has_decision = it != decisions.end();
    if (!has_decision || !it->second.skip_apply) {
      std::optional<JsonValue> payload;
      if (!is_delete) {
        if (!row.payload.has_value()) {
          return Invalid(fmt::format("staged {} row {} has no payload", row.op, row.ordinal));
        }
        OVERSYNC_ASSIGN_OR_RETURN(payload, protocol::ParseJson(*row.payload));
      }
      OVERSYNC_RETURN_IF_ERROR(
          impl.ApplyAuthoritativeRow(*row.table, row.key_json, row.local_key, is_delete,
                                     payload.has_value() ? &*payload : nullptr, row.row_version));
      if (has_decision) OVERSYNC_RETURN_IF_ERROR(impl.DeleteDirtyRow(row.table_name, row.key_json));
      continue;
    }
    // A newer local intent wins locally; it is rebased onto the committed version.
    OVERSYNC_RETURN_IF_ERROR(
        impl.UpsertRowState(row.table_name, row.key_json, row.row_version, is_delete));
    OVERSYNC_RETURN_IF_ERROR(impl.RequeueDirtyIntent(row.table_name, row.key_json,
                                                     it->second.requeue_op, row.row_version,
                                                     it->second.requeue_payload));
  }

  // Contiguity rule: advancing past an unseen peer bundle would make the next pull skip it.
  OVERSYNC_ASSIGN_OR_RETURN(internal::AttachmentState attachment, impl.LoadAttachment());
  if (committed.bundle_seq == attachment.last_bundle_seq_seen + 1) {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt stmt,
        Prepare(
            impl.db_,
            "UPDATE _sync_attachment_state SET last_bundle_seq_seen = ? WHERE singleton_key = 1"));
    stmt.Bind(1, committed.bundle_seq);
    OVERSYNC_RETURN_IF_ERROR(stmt.Run());
  }
  OVERSYNC_RETURN_IF_ERROR(
      impl.AdvanceNextSourceBundleId(committed.source_id, committed.source_bundle_id + 1));
  OVERSYNC_RETURN_IF_ERROR(Exec(impl.db_, "DELETE FROM _sync_outbox_rows"));
  OVERSYNC_RETURN_IF_ERROR(Exec(impl.db_, kResetOutboxSql));
  {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt stmt, Prepare(impl.db_, "DELETE FROM _sync_push_stage WHERE bundle_seq = ?"));
    stmt.Bind(1, committed.bundle_seq);
    OVERSYNC_RETURN_IF_ERROR(stmt.Run());
  }
  OVERSYNC_RETURN_IF_ERROR(impl.SetApplyMode(false));
  return tx.Commit();
}

}  // namespace

Result<PushReport> Client::Impl::PushPendingLocked(int conflict_retry_count,
                                                   bool resuming_checkpoint) {
  // client.md §1.6 preconditions, in order.
  OVERSYNC_RETURN_IF_ERROR(RequireConnected("PushPending()"));
  OVERSYNC_RETURN_IF_ERROR(SourceRecoveryGate());
  OVERSYNC_ASSIGN_OR_RETURN(OperationState operation, LoadOperation());
  if (operation.kind != "none" && operation.kind != "remote_replace") {
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kDestructiveTransitionInProgress;
    detail.transition_kind = operation.kind;
    return Error(
        MakeClientError(ErrorCode::kFailedPrecondition,
                        fmt::format("destructive transition {} is in progress", operation.kind),
                        std::move(detail)));
  }
  OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
  if (attachment.rebuild_required && !resuming_checkpoint) {
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kRebuildRequired;
    return Error(MakeClientError(ErrorCode::kFailedPrecondition,
                                 "rebuild required: call Rebuild() before syncing",
                                 std::move(detail)));
  }
  PushReport report;
  if (uploads_paused_.load()) {
    report.outcome = PushOutcome::kSkippedPaused;
    OVERSYNC_ASSIGN_OR_RETURN(report.status, SyncStatusLocked());
    return report;
  }

  // Profile B: the server's contract is checked before the outbox is frozen or sent (nothing to
  // send stays without network). Profile A and an operation that already passed the gate skip
  // the two counts.
  if (ProtocolGatePending()) {
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t outbound, OutboxRowCount());
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t dirty, SendableDirtyCount());
    if (outbound + dirty > 0) OVERSYNC_RETURN_IF_ERROR(VerifyProtocolGate("push_pending"));
  }

  // Reuse the durable outbox unchanged, else freeze the dirty rows.
  OVERSYNC_ASSIGN_OR_RETURN(std::vector<PushRow> rows, LoadFrozenOutbox(*this));
  if (rows.empty()) {
    OVERSYNC_ASSIGN_OR_RETURN(rows, FreezeDirtyRows(*this));
  }
  if (rows.empty()) {
    report.outcome = PushOutcome::kNoChange;
    OVERSYNC_ASSIGN_OR_RETURN(report.status, SyncStatusLocked());
    return report;
  }
  OVERSYNC_RETURN_IF_ERROR(Exec(db_, "DELETE FROM _sync_push_stage"));

  // One retry unit (client.md §4.4): after a commit whose fetch failed transiently, the retried
  // create answers already_committed and the fetch is redone.
  CommittedBundle committed;
  bool replay_pruned = false;
  const Status pushed = WithRetry("push_pending", [&]() -> Status {
    committed = CommittedBundle{};
    replay_pruned = false;
    OVERSYNC_RETURN_IF_ERROR(CommitOutbox(*this, rows, committed, replay_pruned));
    return FetchCommittedBundle(*this, committed, replay_pruned);
  });

  if (!pushed.ok()) {
    if (replay_pruned) {
      // client.md §4.7: the committed rows are gone; a keep-source snapshot contains them.
      RebuildOptions options;
      options.advance_source_floor = committed.source_bundle_id + 1;
      OVERSYNC_ASSIGN_OR_RETURN(RemoteSyncReport rebuilt, RunSnapshotRebuild(options));
      report.outcome = PushOutcome::kCommitted;
      report.status = rebuilt.status;
      return report;
    }
    if (ClientErrorKindOf(pushed) == ClientErrorKind::kPushConflict) {
      OVERSYNC_RETURN_IF_ERROR(ResolveConflictLocked(pushed));
      OVERSYNC_ASSIGN_OR_RETURN(std::int64_t remaining, DirtyCount());
      if (remaining > 0) {
        if (conflict_retry_count >= kMaxConflictAutoRetries) {
          ClientErrorDetail detail;
          detail.kind = ClientErrorKind::kPushConflictRetryExhausted;
          detail.retry_count = kMaxConflictAutoRetries;
          detail.remaining_dirty_count = remaining;
          return Error(MakeClientError(
              ErrorCode::kPushConflict,
              fmt::format(
                  "push conflict auto-retry exhausted after {} retries; {} dirty rows remain",
                  kMaxConflictAutoRetries, remaining),
              std::move(detail)));
        }
        return PushPendingLocked(conflict_retry_count + 1, resuming_checkpoint);
      }
      report.outcome = PushOutcome::kNoChange;
      OVERSYNC_ASSIGN_OR_RETURN(report.status, SyncStatusLocked());
      return report;
    }
    return Error(pushed);
  }

  if (PushHook hook = TakeHook(before_replay_hook_)) OVERSYNC_RETURN_IF_ERROR(hook());
  OVERSYNC_RETURN_IF_ERROR(ReplayCommittedBundle(*this, rows, committed));
  report.outcome = PushOutcome::kCommitted;
  OVERSYNC_ASSIGN_OR_RETURN(report.status, SyncStatusLocked());
  return report;
}

}  // namespace oversync::oversqlite
