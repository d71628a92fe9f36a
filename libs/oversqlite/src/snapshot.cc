// File: libs/oversqlite/src/snapshot.cc
//
// Snapshot rebuild core, keep-source and rotate-source Rebuild, and durable source recovery
// (client.md §6).
//
// Invariants this file keeps:
//   * No SQLite transaction is open while a request is in flight: the stage is written one
//     transaction per chunk, and the business tables change only in the single final apply
//     transaction (ApplyStagedSnapshot), which either commits everything (rows, checkpoint,
//     source rotation, outbox re-targeting, recovery exit) or nothing.
//   * rebuild_required = 1 is durable from the first step until that final transaction, so an
//     interrupted rebuild keeps push/pull blocked until a later Rebuild succeeds.
//   * Staged rows are isolated by snapshot_id; every attempt clears the stage and starts a new
//     server session from row 0.
//   * A created snapshot session is always released with a best-effort DELETE.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client_impl.h"
#include "oversync/common/status.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/protocol/canonical_json.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/messages.h"
#include "oversync/protocol/push_validation.h"

namespace oversync::oversqlite {
namespace {

using internal::Exec;
using internal::Prepare;
using internal::Stmt;
using internal::Tx;

Status SnapshotInvalid(std::string message) {
  return Status(ErrorCode::kProtocolViolation, std::move(message));
}

std::string_view Trim(std::string_view s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

Status AttachRequiredError(std::string operation) {
  ClientErrorDetail detail;
  detail.kind = ClientErrorKind::kAttachRequired;
  detail.operation = operation;
  return MakeClientError(ErrorCode::kFailedPrecondition,
                         fmt::format("{} requires an attached session", operation), detail);
}

Status DivergedError(std::string local, std::string remote) {
  ClientErrorDetail detail;
  detail.kind = ClientErrorKind::kSourceReplacementDiverged;
  detail.local_replacement = local;
  detail.remote_replacement = remote;
  return MakeClientError(
      ErrorCode::kFailedPrecondition,
      fmt::format("replacement source diverged between local and server recovery state: "
                  "local=\"{}\" remote=\"{}\"",
                  local, remote),
      detail);
}

// Go validateSnapshotSession (oversqlite/pull.go), same texts.
Status ValidateSession(const protocol::SnapshotSession& session) {
  if (Trim(session.snapshot_id).empty()) {
    return SnapshotInvalid("snapshot session response missing snapshot_id");
  }
  if (session.snapshot_bundle_seq < 0) {
    return SnapshotInvalid(
        fmt::format("snapshot session snapshot_bundle_seq {} must be non-negative",
                    session.snapshot_bundle_seq));
  }
  if (session.row_count < 0) {
    return SnapshotInvalid(
        fmt::format("snapshot session row_count {} must be non-negative", session.row_count));
  }
  if (session.row_count > 0 && session.snapshot_bundle_seq == 0) {
    return SnapshotInvalid("snapshot session missing snapshot_bundle_seq for non-empty row set");
  }
  if (session.byte_count < 0) {
    return SnapshotInvalid(
        fmt::format("snapshot session byte_count {} must be non-negative", session.byte_count));
  }
  if (Trim(session.expires_at).empty()) {
    return SnapshotInvalid("snapshot session response missing expires_at");
  }
  return {};
}

// Go validateSnapshotChunkResponse + validateSnapshotRow, plus the schema check of the Go
// staging step (client.md §6.1 step 4).
Status ValidateChunk(const protocol::SnapshotChunkResponse& chunk,
                     const internal::StagedSnapshot& session, std::int64_t after,
                     std::string_view schema) {
  if (chunk.snapshot_id != session.snapshot_id) {
    return SnapshotInvalid(
        fmt::format("snapshot chunk response snapshot_id \"{}\" does not match requested \"{}\"",
                    chunk.snapshot_id, session.snapshot_id));
  }
  if (chunk.snapshot_bundle_seq != session.snapshot_bundle_seq) {
    return SnapshotInvalid(
        fmt::format("snapshot chunk response snapshot_bundle_seq {} does not match session {}",
                    chunk.snapshot_bundle_seq, session.snapshot_bundle_seq));
  }
  if (!chunk.rows.empty() && chunk.snapshot_bundle_seq == 0) {
    return SnapshotInvalid(
        "snapshot chunk response missing snapshot_bundle_seq for non-empty row set");
  }
  const std::int64_t expected_next = after + static_cast<std::int64_t>(chunk.rows.size());
  if (chunk.next_row_ordinal != expected_next) {
    return SnapshotInvalid(
        fmt::format("snapshot chunk response next_row_ordinal {} does not match expected {}",
                    chunk.next_row_ordinal, expected_next));
  }
  if (chunk.has_more && chunk.rows.empty()) {
    return SnapshotInvalid(
        "snapshot chunk response with has_more=true must include at least one row");
  }
  for (std::size_t i = 0; i < chunk.rows.size(); ++i) {
    const protocol::SnapshotRow& row = chunk.rows[i];
    std::string problem;
    if (Trim(row.schema).empty()) {
      problem = "row schema must be non-empty";
    } else if (Trim(row.table).empty()) {
      problem = "row table must be non-empty";
    } else if (row.key.is_null()) {
      problem = "row key must be non-empty";
    } else if (row.row_version <= 0) {
      problem = fmt::format("row_version {} must be positive", row.row_version);
    } else if (row.payload.is_null()) {
      problem = "snapshot row payload must be present";
    } else if (PayloadHasHiddenScopeColumn(row.payload)) {
      problem = std::string(kHiddenScopePayloadMessage);
    } else if (row.schema != schema) {
      problem =
          fmt::format("snapshot row schema {} does not match client schema {}", row.schema, schema);
    }
    if (!problem.empty()) {
      return SnapshotInvalid(fmt::format("invalid snapshot row {}: {}", i, problem));
    }
  }
  return {};
}

Status SourceRecoveryError(std::string_view code, std::string_view server_message) {
  ClientErrorDetail detail;
  detail.kind = ClientErrorKind::kSourceRecoveryRequired;
  detail.source_recovery_code = ParseSourceRecoveryCode(Trim(code));
  detail.reason = std::string(server_message);
  const std::string_view name = SourceRecoveryCodeName(detail.source_recovery_code);
  std::string message = Trim(server_message).empty()
                            ? fmt::format("source recovery required: {}", name)
                            : fmt::format("source recovery required: {}: {}", name, server_message);
  return MakeClientError(ErrorCode::kFailedPrecondition, std::move(message), std::move(detail));
}

// A dirty row captured between the source-recovery freeze and Rebuild (client.md §6.3 [QUIRK]).
struct HeldDirtyRow {
  std::string table_name;
  std::string key_json;
  std::string op;
  std::optional<std::string> payload;  // local encoding; nullopt for DELETE
};

}  // namespace

// ---- preconditions and variants (client.md §6.2, §6.3) ----

Result<RemoteSyncReport> Client::Impl::RebuildLocked() {
  OVERSYNC_RETURN_IF_ERROR(RequireConnected("Rebuild()"));
  OVERSYNC_ASSIGN_OR_RETURN(OperationState operation, LoadOperation());
  auto skipped_paused = [this]() -> Result<RemoteSyncReport> {
    OVERSYNC_ASSIGN_OR_RETURN(SyncStatus status, SyncStatusLocked());
    RemoteSyncReport report;
    report.outcome = RemoteSyncOutcome::kSkippedPaused;
    report.status = status;
    return report;
  };

  if (operation.kind == "source_recovery") {
    OVERSYNC_RETURN_IF_ERROR(ToStatus(PersistedRecoveryCode(operation.reason)));
    // Rotate-source rebuild. Deviation from Go (client.md §6.3 [QUIRK]): dirty rows do not
    // block it. They can only have been captured between the freeze and the recovery error
    // (the guard triggers block app writes afterwards), and refusing here left the client with
    // no way out (push/pull blocked, Rebuild refused, writes blocked, Detach blocked). They are
    // carried through the snapshot apply instead (ApplyStagedSnapshot).
    if (downloads_paused_.load()) return skipped_paused();
    std::string replacement(Trim(operation.replacement_source_id));
    if (replacement.empty()) {
      OVERSYNC_ASSIGN_OR_RETURN(replacement, GenerateSourceId());
    }
    RebuildOptions options;
    options.rotate_source = true;
    options.replacement_source_id = std::move(replacement);
    options.reason = std::string(Trim(operation.reason));
    options.preserve_outbox = true;
    options.require_fresh_source = true;
    options.clear_source_recovery = true;
    return RunSnapshotRebuild(options);
  }

  // Keep-source rebuild (Go ensureRebuildPreconditionsLocked order).
  // Deviation from Go: once a rebuild failed midway (rebuild_required = 1) push and pull are
  // blocked, so refusing Rebuild because of dirty rows or a committed outbox would leave the
  // device with no way out (the user keeps editing; a §4.7 recovery keeps its committed_remote
  // outbox). Then dirty rows are carried through the apply, and a committed_remote outbox is
  // known to be contained in the snapshot (the server committed it): it is cleared and the
  // source floor advanced past it, exactly what the §4.7 recovery would have done.
  OVERSYNC_ASSIGN_OR_RETURN(AttachmentState gate, LoadAttachment());
  RebuildOptions keep_source;
  if (gate.rebuild_required && operation.kind == "none") {
    OVERSYNC_ASSIGN_OR_RETURN(OutboxBundle outbox, LoadOutboxBundle());
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t outbound_rows, OutboxRowCount());
    if (outbound_rows == 0 || outbox.state == "committed_remote") {
      if (outbound_rows > 0) keep_source.advance_source_floor = outbox.source_bundle_id + 1;
      if (downloads_paused_.load()) return skipped_paused();
      return RunSnapshotRebuild(keep_source);
    }
  }
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t dirty, DirtyCount());
  if (dirty > 0) {
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kDirtyStateRejected;
    detail.dirty_count = dirty;
    return Error(MakeClientError(ErrorCode::kFailedPrecondition,
                                 fmt::format("cannot pull while {} local dirty rows exist", dirty),
                                 detail));
  }
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t outbound, OutboxRowCount());
  if (outbound > 0) {
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kPendingPushReplay;
    detail.outbound_count = outbound;
    return Error(MakeClientError(
        ErrorCode::kFailedPrecondition,
        fmt::format("cannot rebuild while {} staged push rows are pending authoritative replay",
                    outbound),
        detail));
  }
  if (operation.kind != "none" && operation.kind != "remote_replace") {
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kDestructiveTransitionInProgress;
    detail.transition_kind = operation.kind;
    return Error(MakeClientError(
        ErrorCode::kFailedPrecondition,
        fmt::format("destructive transition {} is in progress", operation.kind), detail));
  }
  if (operation.kind == "remote_replace") {
    return Error(ErrorCode::kFailedPrecondition,
                 "cannot rebuild while lifecycle operation \"remote_replace\" is pending");
  }
  if (downloads_paused_.load()) return skipped_paused();
  return RunSnapshotRebuild(RebuildOptions{});
}

// ---- the core (client.md §6.1) ----

Result<RemoteSyncReport> Client::Impl::RunSnapshotRebuild(const RebuildOptions& options) {
  // Profile B's protocol gate comes before anything below is written (a refused contract must
  // not leave the rebuild gate set).
  OVERSYNC_RETURN_IF_ERROR(VerifyProtocolGate("snapshot_rebuild"));
  // Step 1: the durable rebuild gate, only for the user this session is attached as.
  {
    OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
    if (attachment.binding_state != "attached" || attachment.attached_user_id != UserId()) {
      return Error(AttachRequiredError("Rebuild()"));
    }
    OVERSYNC_RETURN_IF_ERROR(Exec(
        db_, "UPDATE _sync_attachment_state SET rebuild_required = 1 WHERE singleton_key = 1"));
  }
  // Step 2: stale stages of earlier attempts are discarded; every attempt starts from row 0.
  OVERSYNC_RETURN_IF_ERROR(Exec(db_, "DELETE FROM _sync_snapshot_stage"));

  // Step 3.
  std::optional<protocol::SnapshotSourceReplacement> replacement;
  if (options.rotate_source) {
    protocol::SnapshotSourceReplacement r;
    r.previous_source_id = SourceId();
    r.new_source_id = std::string(Trim(options.replacement_source_id));
    r.reason = std::string(Trim(options.reason));
    replacement = std::move(r);
  }
  OVERSYNC_ASSIGN_OR_RETURN(StagedSnapshot session, CreateSnapshotSession(replacement));

  // Steps 4-5; the session is released whatever happens.
  Status status = DownloadSnapshotToStage(session);
  if (status.ok()) status = ApplyStagedSnapshot(session, options);
  BestEffortDelete(fmt::format("/sync/snapshot-sessions/{}", internal::PathEscape(session.snapshot_id)));
  OVERSYNC_RETURN_IF_ERROR(status);

  // Step 6.
  OVERSYNC_ASSIGN_OR_RETURN(SyncStatus sync_status, SyncStatusLocked());
  RemoteSyncReport report;
  report.outcome = RemoteSyncOutcome::kAppliedSnapshot;
  report.status = sync_status;
  report.restore = RestoreSummary{session.snapshot_bundle_seq, session.row_count};
  return report;
}

Result<internal::StagedSnapshot> Client::Impl::CreateSnapshotSession(
    const std::optional<protocol::SnapshotSourceReplacement>& replacement) {
  OVERSYNC_RETURN_IF_ERROR(VerifyProtocolGate("snapshot_session_create"));
  std::optional<std::string> body;
  if (replacement.has_value()) {
    protocol::SnapshotSessionCreateRequest request;
    request.source_replacement = replacement;
    body = protocol::EncodeSnapshotSessionCreateRequest(request);
  }
  HttpResponse response;
  Status sent = WithSnapshotCapacityRetry([&] {
    return WithRetry("snapshot_session_create", [&]() -> Status {
      Result<HttpResponse> answer = Call("POST", "/sync/snapshot-sessions", body);
      if (!answer.has_value()) return answer.error();
      response = std::move(*answer);
      return {};
    });
  });
  if (!sent.ok()) {
    // A 409 source_retired while rotating: the server already retired the old source in favour
    // of a replacement other than ours (client.md §6.1 step 3).
    const ClientErrorDetail* detail = ClientErrorOf(sent);
    const bool retired = sent.code() == ErrorCode::kSourceRetired ||
                         (detail != nullptr && detail->error_code == "source_retired");
    if (replacement.has_value() && retired) {
      return Error(DivergedError(
          std::string(Trim(replacement->new_source_id)),
          detail != nullptr ? std::string(Trim(detail->replaced_by_source_id)) : std::string()));
    }
    return Error(sent.WithContext("failed to send snapshot session request"));
  }
  Result<protocol::SnapshotSession> decoded =
      protocol::DecodeSnapshotSession(response.body, nullptr, WireProfile());
  if (!decoded.has_value()) {
    return Error(SnapshotInvalid(
        fmt::format("failed to decode snapshot session response: {}", decoded.error().message())));
  }
  OVERSYNC_RETURN_IF_ERROR(ValidateSession(*decoded));
  snapshot_sessions_created_.fetch_add(1);
  StagedSnapshot session;
  session.snapshot_id = decoded->snapshot_id;
  session.snapshot_bundle_seq = decoded->snapshot_bundle_seq;
  session.row_count = decoded->row_count;
  return session;
}

Status Client::Impl::DownloadSnapshotToStage(const StagedSnapshot& session) {
  const int max_rows = config_.snapshot_chunk_rows > 0 ? config_.snapshot_chunk_rows : 1000;
  const std::string base_path =
      fmt::format("/sync/snapshot-sessions/{}", internal::PathEscape(session.snapshot_id));
  protocol::JsonParser parser;
  std::int64_t after = 0;
  for (;;) {
    std::string path =
        fmt::format("{}?after_row_ordinal={}&max_rows={}", base_path, after, max_rows);
    // Profile B: a byte budget per chunk (KMP's default, 4 MiB; protocol-b.md §5.11).
    if (ProfileB()) path += "&max_bytes=4194304";
    HttpResponse response;
    Status sent = WithSnapshotCapacityRetry([&] {
      return WithRetry("snapshot_chunk_fetch", [&]() -> Status {
        Result<HttpResponse> answer = Call("GET", path, std::nullopt);
        if (!answer.has_value()) return answer.error();
        response = std::move(*answer);
        return {};
      });
    });
    if (!sent.ok()) return sent.WithContext("failed to send snapshot chunk request");
    Result<protocol::SnapshotChunkResponse> decoded =
        protocol::DecodeSnapshotChunkResponse(response.body, &parser, WireProfile());
    if (!decoded.has_value()) {
      return SnapshotInvalid(
          fmt::format("failed to decode snapshot chunk response: {}", decoded.error().message()));
    }
    const protocol::SnapshotChunkResponse& chunk = *decoded;
    OVERSYNC_RETURN_IF_ERROR(ValidateChunk(chunk, session, after, config_.schema));
    snapshot_chunks_fetched_.fetch_add(1);

    // One transaction per page, so a failure later keeps the earlier pages staged but never
    // touches the business tables.
    {
      OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(db_));
      OVERSYNC_ASSIGN_OR_RETURN(
          Stmt insert,
          Prepare(db_,
                  "INSERT INTO _sync_snapshot_stage (snapshot_id, row_ordinal, schema_name, "
                  "table_name, key_json, row_version, payload) VALUES (?, ?, ?, ?, ?, ?, ?)"));
      std::string payload_text;
      for (std::size_t i = 0; i < chunk.rows.size(); ++i) {
        const protocol::SnapshotRow& row = chunk.rows[i];
        const TableInfo* table = FindTable(row.table);
        if (table == nullptr) {
          return SnapshotInvalid(fmt::format(
              "snapshot row references table {} which is not configured for sync", row.table));
        }
        OVERSYNC_ASSIGN_OR_RETURN(std::string local_key, WireKeyToLocalKey(*table, row.key));
        const std::string key_json = LocalKeyJson(*table, local_key);
        payload_text.clear();
        protocol::AppendGoCanonical(row.payload, payload_text);
        const std::int64_t row_ordinal = after + static_cast<std::int64_t>(i) + 1;
        insert.Reset();
        insert.Bind(1, session.snapshot_id)
            .Bind(2, row_ordinal)
            .Bind(3, row.schema)
            .Bind(4, table->name)
            .Bind(5, key_json)
            .Bind(6, row.row_version)
            .Bind(7, payload_text);
        Status staged = insert.Run();
        if (!staged.ok()) {
          return staged.WithContext(fmt::format("failed to stage snapshot row {} for {}.{}",
                                                row_ordinal, row.schema, row.table));
        }
      }
      OVERSYNC_RETURN_IF_ERROR(tx.Commit());
    }
    if (!chunk.has_more) return {};
    after = chunk.next_row_ordinal;
  }
}

// client.md §6.1 step 5, in one transaction.
Status Client::Impl::ApplyStagedSnapshot(const StagedSnapshot& session,
                                         const RebuildOptions& options) {
  OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(db_));
  // Parents and children, self-references and FK cycles arrive in any order across chunks.
  OVERSYNC_RETURN_IF_ERROR(Exec(db_, "PRAGMA defer_foreign_keys = ON"));
  OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
  if (attachment.binding_state != "attached" || Trim(attachment.attached_user_id).empty()) {
    return AttachRequiredError("Rebuild()");
  }

  // Hold the dirty rows so they survive the wipe below: edits captured after a freeze (source
  // recovery, see RebuildLocked), while the snapshot downloaded (no transaction spans the
  // network), or pending when a failed rebuild left rebuild_required set. Go deletes them
  // (client.md §4.7 [QUIRK]); only Attach's remote replace discards them, by design. Read before
  // ClearManagedTables, in capture order.
  std::vector<HeldDirtyRow> held;
  if (!options.discard_local_edits) {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt query, Prepare(db_,
                            "SELECT table_name, key_json, op, payload FROM _sync_dirty_rows "
                            "WHERE schema_name = ? ORDER BY dirty_ordinal, table_name, key_json"));
    query.Bind(1, config_.schema);
    for (;;) {
      OVERSYNC_ASSIGN_OR_RETURN(bool has_row, query.Step());
      if (!has_row) break;
      held.push_back(HeldDirtyRow{query.Text(0), query.Text(1), query.Text(2), query.OptText(3)});
    }
  }

  OVERSYNC_RETURN_IF_ERROR(SetApplyMode(true));
  OVERSYNC_RETURN_IF_ERROR(ClearManagedTables());
  OVERSYNC_RETURN_IF_ERROR(Exec(db_, "DELETE FROM _sync_dirty_rows"));
  if (!options.preserve_outbox) {
    OVERSYNC_RETURN_IF_ERROR(
        Exec(db_,
             "DELETE FROM _sync_outbox_rows; "
             "UPDATE _sync_outbox_bundle SET state = 'none', source_id = '', source_bundle_id = 0, "
             "canonical_request_hash = '', row_count = 0, initialization_id = '', "
             "remote_bundle_hash = '', remote_bundle_seq = 0 WHERE singleton_key = 1"));
  }
  OVERSYNC_RETURN_IF_ERROR(Exec(db_, "DELETE FROM _sync_push_stage"));

  // Staged rows, in row_ordinal order, as authoritative inserts.
  {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt rows, Prepare(db_,
                           "SELECT schema_name, table_name, key_json, row_version, payload "
                           "FROM _sync_snapshot_stage WHERE snapshot_id = ? ORDER BY row_ordinal"));
    rows.Bind(1, session.snapshot_id);
    protocol::JsonParser parser;
    std::int64_t applied = 0;
    for (;;) {
      OVERSYNC_ASSIGN_OR_RETURN(bool has_row, rows.Step());
      if (!has_row) break;
      const std::string schema_name = rows.Text(0);
      const std::string table_name = rows.Text(1);
      const std::string key_json = rows.Text(2);
      const std::int64_t row_version = rows.Int(3);
      const TableInfo* table = FindTable(table_name);
      if (table == nullptr) {
        return Status(ErrorCode::kFailedPrecondition,
                      fmt::format("staged snapshot row references table {} which is not "
                                  "configured for sync",
                                  table_name));
      }
      OVERSYNC_ASSIGN_OR_RETURN(std::string local_key, LocalKeyFromKeyJson(*table, key_json));
      OVERSYNC_ASSIGN_OR_RETURN(protocol::JsonValue payload, parser.Parse(rows.Text(4)));
      Status status =
          ApplyAuthoritativeRow(*table, key_json, local_key, false, &payload, row_version);
      if (!status.ok()) {
        return status.WithContext(
            fmt::format("failed to apply staged snapshot row for {}.{}", schema_name, table_name));
      }
      ++applied;
    }
    if (applied != session.row_count) {
      return Status(ErrorCode::kProtocolViolation,
                    fmt::format("staged snapshot row count {} does not match expected row_count {}",
                                applied, session.row_count));
    }
  }

  if (options.preserve_outbox) {
    // Keep the frozen outbox's pending edits visible. Deviation from Go (client.md §6.1 step 5
    // [QUIRK]): local_payload holds BLOBs as hex, so it is decoded with the local rules; Go used
    // the wire rules and failed (or wrote wrong bytes) for BLOB tables.
    OVERSYNC_ASSIGN_OR_RETURN(std::vector<OutboxRow> outbox_rows, LoadOutboxRows());
    protocol::JsonParser parser;
    for (const OutboxRow& row : outbox_rows) {
      const TableInfo* table = FindTable(row.table_name);
      if (table == nullptr) {
        return Status(ErrorCode::kFailedPrecondition,
                      fmt::format("table {} is not configured for sync", row.table_name));
      }
      if (row.op == "DELETE") {
        OVERSYNC_ASSIGN_OR_RETURN(std::string local_key, LocalKeyFromKeyJson(*table, row.key_json));
        OVERSYNC_RETURN_IF_ERROR(DeleteRow(*table, local_key));
      } else if (row.op == "INSERT" || row.op == "UPDATE") {
        if (!row.local_payload.has_value()) {
          return Status(
              ErrorCode::kFailedPrecondition,
              fmt::format("preserved outbox row for {} is missing local_payload", row.table_name));
        }
        OVERSYNC_ASSIGN_OR_RETURN(protocol::JsonValue payload, parser.Parse(*row.local_payload));
        Status status = UpsertRow(*table, payload, PayloadEncoding::kLocal);
        if (!status.ok()) {
          return status.WithContext(
              fmt::format("failed to replay preserved outbox upsert for {}", row.table_name));
        }
      } else {
        return Status(ErrorCode::kFailedPrecondition,
                      fmt::format("unsupported preserved outbox op \"{}\"", row.op));
      }
    }
  }

  // Dirty rows held above: re-apply their local intent on top of the snapshot and the outbox,
  // then requeue them against the snapshot's row version so the next push sends them as
  // ordinary edits (of the new source after a rotation).
  protocol::JsonParser held_parser;
  for (const HeldDirtyRow& row : held) {
    const TableInfo* table = FindTable(row.table_name);
    if (table == nullptr) {
      return Status(ErrorCode::kFailedPrecondition,
                    fmt::format("table {} is not configured for sync", row.table_name));
    }
    if (row.op == "DELETE") {
      OVERSYNC_ASSIGN_OR_RETURN(std::string local_key, LocalKeyFromKeyJson(*table, row.key_json));
      OVERSYNC_RETURN_IF_ERROR(DeleteRow(*table, local_key));
    } else {
      if (!row.payload.has_value()) {
        return Status(
            ErrorCode::kFailedPrecondition,
            fmt::format("dirty {} row for {} is missing its payload", row.op, row.table_name));
      }
      OVERSYNC_ASSIGN_OR_RETURN(protocol::JsonValue payload, held_parser.Parse(*row.payload));
      OVERSYNC_RETURN_IF_ERROR(UpsertRow(*table, payload, PayloadEncoding::kLocal));
    }
    OVERSYNC_ASSIGN_OR_RETURN(std::optional<std::int64_t> version,
                              RowStateVersion(table->name, row.key_json));
    OVERSYNC_RETURN_IF_ERROR(
        RequeueDirtyIntent(table->name, row.key_json, row.op, version.value_or(0), row.payload));
  }

  std::string target_source = SourceId();
  if (options.rotate_source) {
    target_source = std::string(Trim(options.replacement_source_id));
    if (target_source.empty()) {
      return Status(ErrorCode::kInvalidArgument,
                    "newSourceID must be provided for rotated rebuild");
    }
    OVERSYNC_RETURN_IF_ERROR(EnsureSourceRow(target_source));
    if (options.require_fresh_source) {
      OVERSYNC_ASSIGN_OR_RETURN(Stmt fresh,
                                Prepare(db_,
                                        "SELECT next_source_bundle_id, replaced_by_source_id "
                                        "FROM _sync_source_state WHERE source_id = ?"));
      fresh.Bind(1, target_source);
      OVERSYNC_ASSIGN_OR_RETURN(bool found, fresh.Step());
      if (!found) {
        return Status(ErrorCode::kInternal,
                      fmt::format("missing source state for rotated source {}", target_source));
      }
      if (fresh.Int(0) != 1 || !Trim(fresh.Text(1)).empty()) {
        return Status(
            ErrorCode::kFailedPrecondition,
            fmt::format("rotated rebuild requires a fresh source id; {} is already in use",
                        target_source));
      }
    }
    const std::string previous = SourceId();
    if (!Trim(previous).empty() && previous != target_source) {
      OVERSYNC_RETURN_IF_ERROR(EnsureSourceRow(previous));
      OVERSYNC_RETURN_IF_ERROR(MarkSourceReplaced(previous, target_source));
    }
  }
  {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt checkpoint,
        Prepare(db_,
                "UPDATE _sync_attachment_state SET current_source_id = ?, "
                "last_bundle_seq_seen = ?, rebuild_required = 0 WHERE singleton_key = 1"));
    checkpoint.Bind(1, target_source).Bind(2, session.snapshot_bundle_seq);
    OVERSYNC_RETURN_IF_ERROR(checkpoint.Run());
  }
  if (options.preserve_outbox) {
    OVERSYNC_ASSIGN_OR_RETURN(OutboxBundle outbox, LoadOutboxBundle());
    if (outbox.state == "prepared") {
      // The frozen bundle becomes bundle 1 of the fresh source (client.md §6.3 exit).
      OVERSYNC_ASSIGN_OR_RETURN(Stmt rows,
                                Prepare(db_,
                                        "UPDATE _sync_outbox_rows SET source_bundle_id = 1 "
                                        "WHERE source_bundle_id = ?"));
      rows.Bind(1, outbox.source_bundle_id);
      OVERSYNC_RETURN_IF_ERROR(rows.Run());
      OVERSYNC_ASSIGN_OR_RETURN(
          Stmt bundle,
          Prepare(db_,
                  "UPDATE _sync_outbox_bundle SET source_id = ?, source_bundle_id = 1, "
                  "remote_bundle_hash = '', remote_bundle_seq = 0 "
                  "WHERE singleton_key = 1"));
      bundle.Bind(1, target_source);
      OVERSYNC_RETURN_IF_ERROR(bundle.Run());
    } else if (outbox.state != "none" || outbox.row_count > 0) {
      // Deviation from Go: an empty outbox (state none) is simply nothing to preserve; Go
      // failed the rebuild forever in that case. A committed_remote outbox still fails closed.
      return Status(ErrorCode::kFailedPrecondition,
                    fmt::format("cannot preserve outbox during source recovery when outbox state "
                                "is \"{}\"",
                                outbox.state));
    }
  }
  if (options.advance_source_floor > 0) {
    OVERSYNC_RETURN_IF_ERROR(
        AdvanceNextSourceBundleId(target_source, options.advance_source_floor));
  }
  if (options.clear_source_recovery) {
    OVERSYNC_RETURN_IF_ERROR(
        Exec(db_,
             "UPDATE _sync_operation_state SET kind = 'none', target_user_id = '', reason = '', "
             "replacement_source_id = '', staged_snapshot_id = '', snapshot_bundle_seq = 0, "
             "snapshot_row_count = 0 WHERE singleton_key = 1"));
  } else if (ProfileB()) {
    // The gate is cleared above, so a reason recorded with it (KMP writes checkpoint_ahead) is
    // history (fixture rebuild-required-restart-keep-source).
    OVERSYNC_RETURN_IF_ERROR(Exec(
        db_, "UPDATE _sync_operation_state SET reason = '' WHERE singleton_key = 1 AND kind = 'none'"));
  }
  {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt clear, Prepare(db_, "DELETE FROM _sync_snapshot_stage WHERE snapshot_id = ?"));
    clear.Bind(1, session.snapshot_id);
    OVERSYNC_RETURN_IF_ERROR(clear.Run());
  }
  OVERSYNC_RETURN_IF_ERROR(SetApplyMode(false));
  OVERSYNC_RETURN_IF_ERROR(tx.Commit());
  if (options.rotate_source) SetSourceId(std::move(target_source));
  return {};
}

// ---- source recovery (client.md §6.3) ----

Status Client::Impl::EnterSourceRecovery(std::string_view code, std::string_view server_message,
                                         std::string_view offered_replacement) {
  {
    OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(db_));
    OVERSYNC_RETURN_IF_ERROR(Exec(
        db_, "UPDATE _sync_attachment_state SET rebuild_required = 1 WHERE singleton_key = 1"));
    OVERSYNC_ASSIGN_OR_RETURN(OperationState operation, LoadOperation());
    const std::string reserved(Trim(operation.replacement_source_id));
    const std::string offered(Trim(offered_replacement));
    std::string replacement;
    if (!reserved.empty() && !offered.empty() && reserved != offered) {
      // Returning drops `tx`: the whole entry rolls back, operation state stays as it was.
      return DivergedError(reserved, offered);
    }
    if (!reserved.empty()) {
      replacement = reserved;  // reused across failed attempts, never regenerated
    } else if (!offered.empty()) {
      replacement = offered;
    } else {
      OVERSYNC_ASSIGN_OR_RETURN(replacement, GenerateSourceId());
    }
    OVERSYNC_RETURN_IF_ERROR(EnsureSourceRow(replacement));
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt persist,
        Prepare(db_,
                "UPDATE _sync_operation_state SET kind = 'source_recovery', target_user_id = '', "
                "reason = ?, replacement_source_id = ?, staged_snapshot_id = '', "
                "snapshot_bundle_seq = 0, snapshot_row_count = 0 WHERE singleton_key = 1"));
    persist.Bind(1, Trim(code)).Bind(2, replacement);
    OVERSYNC_RETURN_IF_ERROR(persist.Run());
    OVERSYNC_RETURN_IF_ERROR(tx.Commit());
  }
  return SourceRecoveryError(code, server_message);
}

Status Client::Impl::SourceRecoveryGate() {
  OVERSYNC_ASSIGN_OR_RETURN(OperationState operation, LoadOperation());
  if (operation.kind != "source_recovery") return {};
  OVERSYNC_RETURN_IF_ERROR(ToStatus(PersistedRecoveryCode(operation.reason)));
  return SourceRecoveryError(operation.reason, "");
}

Result<SourceRecoveryCode> Client::Impl::PersistedRecoveryCode(std::string_view stored_reason) const {
  if (!ProfileB()) return ParseSourceRecoveryCode(stored_reason);  // client.md §1.8, untrimmed
  const std::string_view reason = Trim(stored_reason);
  if (std::find(std::begin(protocol::kReplacementReasons), std::end(protocol::kReplacementReasons),
                reason) == std::end(protocol::kReplacementReasons)) {
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kInvalidSourceRecoveryReason;
    detail.reason = std::string(reason);
    return Error(MakeClientError(
        ErrorCode::kFailedPrecondition,
        fmt::format("persisted source recovery reason {:?} is not one this client knows "
                    "(history_pruned, source_sequence_out_of_order, source_sequence_changed, "
                    "source_retired); the local sync state was changed outside the SDK",
                    reason),
        std::move(detail)));
  }
  return ParseSourceRecoveryCode(reason);
}

}  // namespace oversync::oversqlite
