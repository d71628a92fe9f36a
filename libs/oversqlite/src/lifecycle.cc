// File: libs/oversqlite/src/lifecycle.cc
//
// Account binding and local lifecycle (client.md §7): Attach over the server connect lifecycle,
// Detach, SyncThenDetach, SourceInfo and UninstallSync.
//
// Invariants kept here:
//   * No SQLite transaction is open across a network call: the remote_authoritative flow persists
//     its intent (operation remote_replace), downloads the snapshot into the stage, and only then
//     runs its two local transactions, so a crash anywhere resumes at the next Attach.
//   * The binding only becomes `attached` after the server agreed (connect resolution) or the
//     snapshot was staged completely; a failed Attach leaves anonymous state and rows untouched.
#include "lifecycle.h"

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client_impl.h"
#include "oversync/common/strings.h"
#include "oversync/protocol/codec.h"

namespace oversync::oversqlite {
namespace {

using internal::Exec;
using internal::Prepare;
using internal::Stmt;
using internal::Tx;

constexpr std::string_view kRemoteReplace = "remote_replace";
constexpr std::string_view kAttached = "attached";

// The `_sync_*` tables UninstallSync drops, in the reference order (client.md §2). Unknown
// `_sync_*` tables are deliberately left alone (§2.3).
constexpr std::string_view kKnownSyncTables[] = {
    "_sync_source_state",   "_sync_attachment_state", "_sync_operation_state",
    "_sync_apply_state",    "_sync_row_state",        "_sync_dirty_rows",
    "_sync_snapshot_stage", "_sync_outbox_bundle",    "_sync_outbox_rows",
    "_sync_push_stage",     "_sync_managed_tables",
};

constexpr std::string_view kTriggerSuffixes[] = {"ai", "au", "ad", "bi_guard", "bu_guard", "bd_guard"};

std::string Trimmed(std::string_view text) { return std::string(TrimAsciiSpace(text)); }

std::string QuoteIdent(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

// Go renders these reasons with %q; plain double quotes are enough for ids and user ids.
std::string Quoted(std::string_view text) { return fmt::format("\"{}\"", text); }

Status LocalStateConflict(std::string reason) {
  ClientErrorDetail detail;
  detail.kind = ClientErrorKind::kAttachLocalStateConflict;
  detail.reason = reason;
  return MakeClientError(
      ErrorCode::kFailedPrecondition,
      "local sync state is incompatible with the requested attach lifecycle: " + reason, detail);
}

Status LifecycleUnsupported(std::string reason) {
  ClientErrorDetail detail;
  detail.kind = ClientErrorKind::kAttachLifecycleUnsupported;
  detail.reason = reason;
  return MakeClientError(ErrorCode::kFailedPrecondition,
                         "server does not support the oversqlite attach lifecycle: " + reason,
                         detail);
}

// 404/405/501 mean the server predates the connect lifecycle (client.md Appendix A).
bool IsMissingEndpoint(const Status& status) {
  const ClientErrorDetail* detail = ClientErrorOf(status);
  if (detail == nullptr || detail->kind != ClientErrorKind::kHttp) return false;
  return detail->http_status == 404 || detail->http_status == 405 || detail->http_status == 501;
}

}  // namespace

// ---- Attach (client.md §7.3) ----

namespace {

// The helpers below are templates over ImplT = Client::Impl only because that type is private to
// Client and cannot be named outside its members; it is always deduced from the call.

// Persists the connected binding and clears the operation state (Go:
// persistConnectedLifecycleState). One transaction so a crash never leaves a half-attached row.
template <typename ImplT>
Status PersistConnected(ImplT& impl, std::string_view source_id, std::string_view user_id,
                        std::string_view initialization_id) {
  sqlite3* db = impl.db_;
  const std::string& schema = impl.config_.schema;
  OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(db));
  OVERSYNC_RETURN_IF_ERROR(impl.EnsureSourceRow(source_id));
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt attach,
      Prepare(db,
              "UPDATE _sync_attachment_state SET current_source_id = ?, binding_state = 'attached', "
              "attached_user_id = ?, pending_initialization_id = ?, "
              "schema_name = CASE WHEN trim(schema_name) = '' THEN ? ELSE schema_name END "
              "WHERE singleton_key = 1"));
  attach.Bind(1, source_id).Bind(2, user_id).Bind(3, initialization_id).Bind(4, schema);
  OVERSYNC_RETURN_IF_ERROR(attach.Run());
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt owner, Prepare(db, "INSERT INTO _sync_cpp_source_users(source_id, user_id) VALUES (?, ?) "
                              "ON CONFLICT(source_id) DO UPDATE SET user_id = excluded.user_id"));
  owner.Bind(1, source_id).Bind(2, user_id);
  OVERSYNC_RETURN_IF_ERROR(owner.Run());
  OVERSYNC_RETURN_IF_ERROR(
      Exec(db,
           "UPDATE _sync_operation_state SET kind = 'none', target_user_id = '', reason = '', "
           "replacement_source_id = '', staged_snapshot_id = '', snapshot_bundle_seq = 0, "
           "snapshot_row_count = 0 WHERE singleton_key = 1"));
  return tx.Commit();
}

// Go: ensureAttachedClientStateLocked. The durable row must not belong to another user or another
// source before a connect resolution binds it.
template <typename ImplT>
Status EnsureAttachableState(ImplT& impl, std::string_view user_id, std::string_view source_id) {
  OVERSYNC_RETURN_IF_ERROR(impl.EnsureSourceRow(source_id));
  OVERSYNC_ASSIGN_OR_RETURN(auto attachment, impl.LoadAttachment());
  if (attachment.binding_state == kAttached && !attachment.attached_user_id.empty() &&
      attachment.attached_user_id != user_id) {
    return LocalStateConflict(fmt::format("existing attached state belongs to user {}",
                                          Quoted(attachment.attached_user_id)));
  }
  if (!attachment.current_source_id.empty() && attachment.current_source_id != source_id) {
    return LocalStateConflict(fmt::format("existing attached state is bound to source {}, not {}",
                                          Quoted(attachment.current_source_id), Quoted(source_id)));
  }
  return Status::Ok();
}

// Go: beginRemoteReplaceLocked. Durable intent first: from here on the guard triggers block app
// writes and any later Attach/restart resumes the replacement instead of trusting local rows.
template <typename ImplT>
Status BeginRemoteReplace(ImplT& impl, std::string_view user_id, std::string_view source_id) {
  sqlite3* db = impl.db_;
  OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(db));
  OVERSYNC_RETURN_IF_ERROR(impl.EnsureSourceRow(source_id));
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt attach,
      Prepare(db,
              "UPDATE _sync_attachment_state SET current_source_id = ?, binding_state = 'anonymous', "
              "attached_user_id = '', pending_initialization_id = '', "
              "schema_name = CASE WHEN trim(schema_name) = '' AND ?3 THEN ?2 ELSE schema_name END "
              "WHERE singleton_key = 1"));
  // Profile B writes schema_name only once the database is bound (KMP's anonymous state).
  attach.Bind(1, source_id).Bind(2, impl.config_.schema).Bind(3, impl.ProfileB() ? 0 : 1);
  OVERSYNC_RETURN_IF_ERROR(attach.Run());
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt operation,
      Prepare(db,
              "UPDATE _sync_operation_state SET kind = 'remote_replace', target_user_id = ?, "
              "reason = '', replacement_source_id = '', staged_snapshot_id = '', "
              "snapshot_bundle_seq = 0, snapshot_row_count = 0 WHERE singleton_key = 1"));
  operation.Bind(1, user_id);
  OVERSYNC_RETURN_IF_ERROR(operation.Run());
  return tx.Commit();
}

template <typename ImplT>
Status PersistStagedFields(ImplT& impl, std::string_view snapshot_id, std::int64_t bundle_seq,
                           std::int64_t row_count) {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt stmt, Prepare(impl.db_,
                         "UPDATE _sync_operation_state SET staged_snapshot_id = ?, "
                         "snapshot_bundle_seq = ?, snapshot_row_count = ? WHERE singleton_key = 1"));
  stmt.Bind(1, snapshot_id).Bind(2, bundle_seq).Bind(3, row_count);
  return stmt.Run();
}

// Go: ensureRemoteReplaceSnapshotStagedLocked. A completely staged snapshot (stage count equals
// the recorded row count) is reused without network; anything else starts a new session.
template <typename ImplT>
Result<internal::StagedSnapshot> EnsureRemoteReplaceStaged(ImplT& impl,
                                                           const internal::OperationState& op) {
  if (!Trimmed(op.staged_snapshot_id).empty()) {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt count, Prepare(impl.db_, "SELECT COUNT(*) FROM _sync_snapshot_stage WHERE snapshot_id = ?"));
    count.Bind(1, op.staged_snapshot_id);
    OVERSYNC_ASSIGN_OR_RETURN(bool has_row, count.Step());
    const std::int64_t staged = has_row ? count.Int(0) : 0;
    if (staged == op.snapshot_row_count) {
      return internal::StagedSnapshot{op.staged_snapshot_id, op.snapshot_bundle_seq,
                                      op.snapshot_row_count};
    }
    // Profile B's protocol gate before the incomplete stage is discarded (fixture
    // remote-replace-resume-protocol-mismatch-preserves-staged-state); then Go's order.
    OVERSYNC_RETURN_IF_ERROR(impl.VerifyProtocolGate("attach"));
    OVERSYNC_RETURN_IF_ERROR(Exec(impl.db_, "DELETE FROM _sync_snapshot_stage"));
    OVERSYNC_RETURN_IF_ERROR(PersistStagedFields(impl, "", 0, 0));
  }

  OVERSYNC_ASSIGN_OR_RETURN(internal::StagedSnapshot session,
                            impl.CreateSnapshotSession(std::nullopt));
  // The session is only needed until its rows are staged; it is released on every path.
  Status staged = [&]() -> Status {
    OVERSYNC_RETURN_IF_ERROR(Exec(impl.db_, "DELETE FROM _sync_snapshot_stage"));
    OVERSYNC_RETURN_IF_ERROR(PersistStagedFields(impl, session.snapshot_id,
                                                 session.snapshot_bundle_seq, session.row_count));
    return impl.DownloadSnapshotToStage(session);
  }();
  impl.BestEffortDelete("/sync/snapshot-sessions/" + internal::PathEscape(session.snapshot_id));
  if (!staged.ok()) return Error(std::move(staged));
  return session;
}

// Go: prepareAttachedClientStateForRemoteReplace (tx 1 of 2). The staged fields are cleared in
// the durable row (the in-memory session keeps them): if the apply transaction never commits,
// the resumed Attach downloads a fresh snapshot instead of trusting a stage it cannot re-verify.
template <typename ImplT>
Status PrepareAttachedForRemoteReplace(ImplT& impl, std::string_view user_id,
                                       std::string_view source_id) {
  sqlite3* db = impl.db_;
  OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(db));
  OVERSYNC_RETURN_IF_ERROR(impl.EnsureSourceRow(source_id));
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt attach,
      Prepare(db,
              "UPDATE _sync_attachment_state SET current_source_id = ?, binding_state = 'attached', "
              "attached_user_id = ?, schema_name = ?, last_bundle_seq_seen = 0, "
              "rebuild_required = 0, pending_initialization_id = '' WHERE singleton_key = 1"));
  attach.Bind(1, source_id).Bind(2, user_id).Bind(3, impl.config_.schema);
  OVERSYNC_RETURN_IF_ERROR(attach.Run());
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt operation,
      Prepare(db,
              "UPDATE _sync_operation_state SET kind = 'remote_replace', target_user_id = ?, "
              "reason = '', replacement_source_id = '', staged_snapshot_id = '', "
              "snapshot_bundle_seq = 0, snapshot_row_count = 0 WHERE singleton_key = 1"));
  operation.Bind(1, user_id);
  OVERSYNC_RETURN_IF_ERROR(operation.Run());
  return tx.Commit();
}

// Go: finalizeRemoteReplaceLocked: stage (or reuse the stage), bind, then apply the snapshot
// without outbox preservation, so anonymous rows, dirty rows and any outbox are discarded.
template <typename ImplT>
Result<RestoreSummary> FinalizeRemoteReplace(ImplT& impl, const internal::OperationState& op,
                                             std::string_view user_id, std::string_view source_id) {
  OVERSYNC_ASSIGN_OR_RETURN(internal::StagedSnapshot session, EnsureRemoteReplaceStaged(impl, op));
  OVERSYNC_RETURN_IF_ERROR(PrepareAttachedForRemoteReplace(impl, user_id, source_id));
  // ApplyStagedSnapshot requires the attached binding written just above.
  internal::RebuildOptions replace_options;
  replace_options.discard_local_edits = true;  // remote_authoritative: the server's state wins
  OVERSYNC_RETURN_IF_ERROR(impl.ApplyStagedSnapshot(session, replace_options));
  return RestoreSummary{session.snapshot_bundle_seq, session.row_count};
}

}  // namespace

Result<AttachResult> Client::Impl::AttachLocked(std::string_view raw_user_id) {
  const std::string user_id = Trimmed(raw_user_id);
  if (user_id.empty()) return Error(ErrorCode::kInvalidArgument, "userID must be provided");
  OVERSYNC_RETURN_IF_ERROR(RequireOpened("Attach(userID)"));

  // Step 2: re-run Open. A pending remote_replace is reported by Open only as information; Attach
  // is the operation that finalizes it. Open also marks the session disconnected, but a failed
  // Attach must not disconnect an already connected session (Go's Attach never touches it before
  // a result), so the flag is restored until a resolution decides.
  const bool was_connected = connected_;
  if (Status open = OpenLocked();
      !open.ok() && ClientErrorKindOf(open) != ClientErrorKind::kRemoteReplacePending) {
    return Error(std::move(open));
  }
  connected_ = was_connected;

  OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
  OVERSYNC_ASSIGN_OR_RETURN(OperationState operation, LoadOperation());
  if (!Trimmed(attachment.current_source_id).empty()) SetSourceId(attachment.current_source_id);
  std::string source_id = SourceId();  // replaced by a fresh source on a user switch (below)

  auto connected_result = [this](AttachOutcome outcome,
                                 std::optional<RestoreSummary> restore) -> Result<AttachResult> {
    connected_ = true;
    AttachResult result;
    result.status = AttachStatus::kConnected;
    result.outcome = outcome;
    result.restore = restore;
    OVERSYNC_ASSIGN_OR_RETURN(result.sync_status, SyncStatusLocked());
    return result;
  };
  auto set_pending_init = [this](std::string id) {
    std::lock_guard lock(state_mutex_);
    pending_initialization_id_ = std::move(id);
  };

  // Step 3: a pending remote_replace is finished before anything else; it may belong only to the
  // user it was started for.
  if (operation.kind == kRemoteReplace) {
    if (Trimmed(operation.target_user_id) != user_id) {
      return Error(LocalStateConflict(
          fmt::format("pending remote_replace belongs to scope {} on source {}",
                      Quoted(operation.target_user_id), Quoted(source_id))));
    }
    SetUserId(user_id);
    OVERSYNC_ASSIGN_OR_RETURN(RestoreSummary restore, FinalizeRemoteReplace(*this, operation, user_id, source_id));
    set_pending_init("");
    OVERSYNC_RETURN_IF_ERROR(PersistConnected(*this, source_id, user_id, ""));
    return connected_result(AttachOutcome::kUsedRemoteState, restore);
  }

  // Step 4: resume without network. Source recovery is not a lifecycle transition here (Go's
  // lifecycle view maps it to none), so a recovering client resumes and then fails its syncs
  // with the recovery error.
  const bool attached = attachment.binding_state == kAttached;
  const std::string attached_user = Trimmed(attachment.attached_user_id);
  if (attached && attached_user == user_id && attachment.attached_user_id == user_id &&
      attachment.current_source_id == source_id) {
    SetUserId(user_id);
    set_pending_init(attachment.pending_initialization_id);
    return connected_result(AttachOutcome::kResumedAttachedState, std::nullopt);
  }

  // Step 5.
  if (attached && !attached_user.empty() && attached_user != user_id) {
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kAttachBindingConflict;
    detail.attached_user_id = attachment.attached_user_id;
    detail.requested_user_id = user_id;
    return Error(MakeClientError(
        ErrorCode::kFailedPrecondition,
        fmt::format("local database is already attached to user {}; detach before attaching user {}",
                    Quoted(attachment.attached_user_id), Quoted(user_id)),
        detail));
  }

  // Deviation from Go (docs/compatibility.md): the server numbers source bundles per (user,
  // source). Detach keeps the source and its counter, so after a user switch Go's client pushes
  // the new user's first bundle as N+1 and gets source_sequence_out_of_order (then needs a
  // rotating Rebuild). When this source last synced for another user, switch to a fresh source
  // before connecting (the connect and any seed lease then belong to the new source). The same
  // user re-attaching keeps the source and its numbering (client.md §9 item 103).
  {
    OVERSYNC_ASSIGN_OR_RETURN(Stmt owner, Prepare(db_, "SELECT user_id FROM _sync_cpp_source_users WHERE source_id = ?"));
    owner.Bind(1, source_id);
    OVERSYNC_ASSIGN_OR_RETURN(bool known, owner.Step());
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t outbox_rows, OutboxRowCount());
    if (known && owner.Text(0) != user_id && outbox_rows == 0) {
      OVERSYNC_ASSIGN_OR_RETURN(std::string fresh, GenerateSourceId());
      OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(db_));
      OVERSYNC_RETURN_IF_ERROR(EnsureSourceRow(fresh));
      OVERSYNC_ASSIGN_OR_RETURN(
          Stmt set, Prepare(db_, "UPDATE _sync_attachment_state SET current_source_id = ? WHERE singleton_key = 1"));
      set.Bind(1, fresh);
      OVERSYNC_RETURN_IF_ERROR(set.Run());
      OVERSYNC_RETURN_IF_ERROR(tx.Commit());
      Log(LogLevel::kInfo, fmt::format("attaching user {} on a source last used by another user: "
                                       "switched to fresh source {}", user_id, fresh));
      SetSourceId(fresh);
      source_id = std::move(fresh);
    }
  }

  // Step 6: the server must speak the connect lifecycle.
  Result<protocol::CapabilitiesResponse> capabilities = FetchCapabilities("connect_capabilities");
  if (!capabilities) {
    if (IsMissingEndpoint(capabilities.error())) {
      return Error(LifecycleUnsupported("missing /sync/capabilities endpoint"));
    }
    if (capabilities.error().code() == ErrorCode::kProtocolViolation) {
      return Error(LifecycleUnsupported("invalid capabilities response"));
    }
    return Error(capabilities.error());
  }
  if (auto it = capabilities->features.find("connect_lifecycle");
      it == capabilities->features.end() || !it->second) {
    return Error(LifecycleUnsupported("connect_lifecycle capability is absent"));
  }
  OVERSYNC_RETURN_IF_ERROR(CheckRegisteredTables(*capabilities));

  // Step 7: only dirty rows count as "pending" for the server's decision; a frozen outbox is
  // pushed normally whatever the resolution (client.md §7.3). Deviation from Go: a dirty row
  // that the freeze would drop as a no-op (a never-synced insert deleted again: no payload and no
  // live row state) does not count; otherwise it takes a seed lease that nothing ever fulfils
  // and the scope stays "initializing" (docs/compatibility.md).
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t dirty, SendableDirtyCount());
  protocol::ConnectRequest request;
  request.has_local_pending_rows = dirty > 0;
  const std::string body = protocol::EncodeConnectRequest(request);
  std::string response_body;
  Status connect = WithRetry("connect_request", [&]() -> Status {
    OVERSYNC_ASSIGN_OR_RETURN(HttpResponse response, Call("POST", "/sync/connect", body, true));
    response_body = std::move(response.body);
    return Status::Ok();
  });
  if (!connect.ok()) {
    if (IsMissingEndpoint(connect)) return Error(LifecycleUnsupported("missing /sync/connect endpoint"));
    return Error(connect.WithContext("failed to send connect request"));
  }
  Result<protocol::ConnectResponse> response = protocol::DecodeConnectResponse(response_body);
  if (!response) return Error(response.error().WithContext("failed to decode connect response"));

  // Step 8.
  switch (response->resolution) {
    case protocol::ConnectResolution::kRetryLater: {
      // Nothing persisted: another device holds the seed lease.
      connected_ = false;
      AttachResult result;
      result.status = AttachStatus::kRetryLater;
      result.retry_after = Duration(response->retry_after_seconds * 1000);
      return result;
    }
    case protocol::ConnectResolution::kInitializeEmpty:
    case protocol::ConnectResolution::kInitializeLocal: {
      const bool seed = response->resolution == protocol::ConnectResolution::kInitializeLocal;
      OVERSYNC_RETURN_IF_ERROR(EnsureAttachableState(*this, user_id, source_id));
      const std::string init_id = seed ? response->initialization_id : std::string();
      set_pending_init(init_id);
      OVERSYNC_RETURN_IF_ERROR(
          PersistConnected(*this, source_id, user_id, init_id));
      SetUserId(user_id);
      return connected_result(seed ? AttachOutcome::kSeededFromLocal : AttachOutcome::kStartedEmpty,
                              std::nullopt);
    }
    case protocol::ConnectResolution::kRemoteAuthoritative: {
      SetUserId(user_id);
      OVERSYNC_RETURN_IF_ERROR(BeginRemoteReplace(*this, user_id, source_id));
      OperationState fresh;
      fresh.kind = std::string(kRemoteReplace);
      fresh.target_user_id = user_id;
      OVERSYNC_ASSIGN_OR_RETURN(RestoreSummary restore, FinalizeRemoteReplace(*this, fresh, user_id, source_id));
      set_pending_init("");
      OVERSYNC_RETURN_IF_ERROR(PersistConnected(*this, source_id, user_id, ""));
      return connected_result(AttachOutcome::kUsedRemoteState, restore);
    }
  }
  return Error(ErrorCode::kProtocolViolation, "unexpected connect resolution");
}

// ---- Detach (client.md §7.4) ----

Result<DetachResult> Client::Impl::DetachLocked() {
  OVERSYNC_ASSIGN_OR_RETURN(PendingSyncStatus pending, PendingStatusLocked());
  if (pending.blocks_detach) {
    // A normal result, not an error: the app decides whether to sync first (SyncThenDetach).
    DetachResult blocked;
    blocked.outcome = DetachOutcome::kBlockedUnsyncedData;
    blocked.pending_row_count = pending.pending_row_count;
    return blocked;
  }
  OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());

  std::string rotated_source;  // profile B: the fresh source the attached Detach switches to
  OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(db_));
  if (attachment.binding_state != kAttached) {
    // Deliberate deviation from Go (client.md §7.4 [QUIRK]): Go's Detach while anonymous is
    // never blocked and wipes the managed tables, silently destroying anonymous pending rows
    // (offline writes made before sign-in or after a previous Detach). An anonymous database
    // has nothing to unbind and no other user's data to protect, so Detach keeps business rows,
    // dirty rows, any outbox and row state exactly as they are; those rows belong to whoever
    // attaches next (seeded, or discarded by remote_authoritative). It still cancels a pending
    // remote_replace (client.md §9 item 105: stage cleared, operation none) — the rows that
    // replacement would have discarded simply stay anonymous pending rows. Source recovery is
    // left alone: it protects a frozen outbox that is kept here. This also satisfies §9 item 107
    // (anonymous pre-existing rows do not block Detach).
    OVERSYNC_RETURN_IF_ERROR(Exec(db_, "DELETE FROM _sync_snapshot_stage"));
    OVERSYNC_RETURN_IF_ERROR(
        Exec(db_,
             "UPDATE _sync_operation_state SET kind = 'none', target_user_id = '', reason = '', "
             "replacement_source_id = '', staged_snapshot_id = '', snapshot_bundle_seq = 0, "
             "snapshot_row_count = 0 WHERE singleton_key = 1 AND kind = 'remote_replace'"));
    OVERSYNC_RETURN_IF_ERROR(
        Exec(db_,
             "UPDATE _sync_attachment_state SET attached_user_id = '', "
             "pending_initialization_id = '' WHERE singleton_key = 1"));
  } else {
    // Every managed table is emptied in one statement each; deferring FK checks to the commit
    // (when all of them are empty) makes the deletion order irrelevant.
    OVERSYNC_RETURN_IF_ERROR(Exec(db_, "PRAGMA defer_foreign_keys = ON"));
    OVERSYNC_RETURN_IF_ERROR(SetApplyMode(true));
    OVERSYNC_RETURN_IF_ERROR(ClearManagedTables());
    OVERSYNC_RETURN_IF_ERROR(Exec(db_,
                                  "DELETE FROM _sync_dirty_rows;"
                                  "DELETE FROM _sync_outbox_rows;"
                                  "UPDATE _sync_outbox_bundle SET state = 'none', source_id = '', "
                                  "source_bundle_id = 0, canonical_request_hash = '', row_count = 0, "
                                  "initialization_id = '', remote_bundle_hash = '', "
                                  "remote_bundle_seq = 0 WHERE singleton_key = 1;"
                                  "DELETE FROM _sync_push_stage;"
                                  "DELETE FROM _sync_snapshot_stage;"));
    OVERSYNC_RETURN_IF_ERROR(SetApplyMode(false));
    OVERSYNC_RETURN_IF_ERROR(
        Exec(db_,
             "UPDATE _sync_attachment_state SET binding_state = 'anonymous', attached_user_id = '', "
             "pending_initialization_id = '' WHERE singleton_key = 1;"
             "UPDATE _sync_operation_state SET kind = 'none', target_user_id = '', reason = '', "
             "replacement_source_id = '', staged_snapshot_id = '', snapshot_bundle_seq = 0, "
             "snapshot_row_count = 0 WHERE singleton_key = 1;"));
    if (ProfileB()) {
      // Profile B (KMP, lifecycle fixtures sync-then-detach-*, detach-mid-cleanup-*): the next
      // attach starts on a fresh source, so whoever signs in next never continues this user's
      // source numbering or checkpoint; the old source is marked replaced by the new one and
      // the attachment row returns to its never-attached state (no schema, checkpoint 0, gate
      // clear).
      OVERSYNC_ASSIGN_OR_RETURN(std::string rotated, GenerateSourceId());
      OVERSYNC_RETURN_IF_ERROR(EnsureSourceRow(rotated));
      OVERSYNC_RETURN_IF_ERROR(MarkSourceReplaced(attachment.current_source_id, rotated));
      OVERSYNC_ASSIGN_OR_RETURN(
          Stmt anonymous,
          Prepare(db_, "UPDATE _sync_attachment_state SET current_source_id = ?, schema_name = '', "
                       "last_bundle_seq_seen = 0, rebuild_required = 0 WHERE singleton_key = 1"));
      anonymous.Bind(1, rotated);
      OVERSYNC_RETURN_IF_ERROR(anonymous.Run());
      rotated_source = std::move(rotated);
    }
    // Profile A keeps, on purpose: current_source_id and _sync_source_state (bundle numbering
    // continues on the same source), schema_name, last_bundle_seq_seen and rebuild_required (Go
    // parity, client.md §7.4).
  }
  OVERSYNC_RETURN_IF_ERROR(tx.Commit());
  if (!rotated_source.empty()) SetSourceId(rotated_source);

  {
    std::lock_guard lock(state_mutex_);
    pending_initialization_id_.clear();
  }
  SetUserId("");
  connected_ = false;
  return DetachResult{DetachOutcome::kDetached, 0};
}

// ---- SourceInfo (client.md §1.5, §1.8) ----

Result<SourceInfo> Client::Impl::SourceInfoLocked() {
  OVERSYNC_RETURN_IF_ERROR(RequireOpened("SourceInfo()"));
  OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
  OVERSYNC_ASSIGN_OR_RETURN(OperationState operation, LoadOperation());
  SourceInfo info;
  info.current_source_id = attachment.current_source_id;
  info.rebuild_required = attachment.rebuild_required;
  if (operation.kind == "source_recovery") {
    info.source_recovery_required = true;
    OVERSYNC_ASSIGN_OR_RETURN(info.source_recovery_reason, PersistedRecoveryCode(operation.reason));
  }
  return info;
}

// ---- UninstallSync (client.md §1.5) ----

Status Client::Impl::UninstallSyncLocked() {
  OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(db_));

  // Registry first (tables configured by earlier versions keep their triggers, §2.3), then the
  // current configuration; lower-cased and de-duplicated like Go.
  std::vector<std::string> tables;
  std::set<std::string, std::less<>> seen;
  auto add = [&](std::string_view raw) {
    std::string name = ToLowerAscii(TrimAsciiSpace(raw));
    if (name.empty() || seen.count(name) > 0) return;
    seen.insert(name);
    tables.push_back(std::move(name));
  };
  OVERSYNC_ASSIGN_OR_RETURN(
      std::int64_t has_registry,
      internal::QueryInt(db_,
                         "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                         "name = '_sync_managed_tables'"));
  if (has_registry > 0) {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt registry, Prepare(db_, "SELECT table_name FROM _sync_managed_tables ORDER BY table_name"));
    while (true) {
      OVERSYNC_ASSIGN_OR_RETURN(bool has_row, registry.Step());
      if (!has_row) break;
      add(registry.Text(0));
    }
  }
  for (const SyncTable& table : config_.tables) add(table.table_name);

  // Cached statements reference the tables about to be dropped; finalize them first.
  ClearStatementCache();
  for (const std::string& table : tables) {
    for (std::string_view suffix : kTriggerSuffixes) {
      OVERSYNC_RETURN_IF_ERROR(Exec(
          db_, "DROP TRIGGER IF EXISTS " + QuoteIdent(fmt::format("trg_{}_{}", table, suffix))));
    }
  }
  for (std::string_view table : kKnownSyncTables) {
    OVERSYNC_RETURN_IF_ERROR(Exec(db_, "DROP TABLE IF EXISTS " + QuoteIdent(table)));
  }
  // The C++ client's own layout marker (client.cc, §2.3 recommendation) is oversqlite metadata
  // too; Go does not know it, so Go's list of 11 cannot include it.
  OVERSYNC_RETURN_IF_ERROR(Exec(db_, "DROP TABLE IF EXISTS \"_sync_cpp_client_info\""));
  OVERSYNC_RETURN_IF_ERROR(Exec(db_, "DROP TABLE IF EXISTS \"_sync_cpp_source_users\""));
  OVERSYNC_RETURN_IF_ERROR(tx.Commit());

  SetSourceId("");
  SetUserId("");
  {
    std::lock_guard lock(state_mutex_);
    pending_initialization_id_.clear();
  }
  connected_ = false;
  opened_ = false;
  closed_.store(true);
  // Like Close: a fresh client may now claim the database and reinstall from scratch.
  ReleaseOwnership();
  return Status::Ok();
}

// ---- SyncThenDetach (client.md §1.5) ----

namespace internal {

Result<SyncThenDetachResult> RunSyncThenDetach(
    const std::function<Result<SyncReport>()>& sync,
    const std::function<Result<DetachResult>()>& detach,
    const std::function<Result<PendingSyncStatus>()>& pending) {
  constexpr int kMaxRounds = 3;
  std::int64_t previous_pending = std::numeric_limits<std::int64_t>::max();
  SyncThenDetachResult result;
  for (int round = 1; round <= kMaxRounds; ++round) {
    OVERSYNC_ASSIGN_OR_RETURN(result.last_sync, sync());
    OVERSYNC_ASSIGN_OR_RETURN(result.detach, detach());
    result.sync_rounds = round;
    if (result.detach.outcome == DetachOutcome::kDetached) {
      result.remaining_pending_row_count = 0;
      return result;
    }
    OVERSYNC_ASSIGN_OR_RETURN(PendingSyncStatus status, pending());
    result.remaining_pending_row_count = status.pending_row_count;
    // No progress (e.g. uploads paused, or edits arriving as fast as they are pushed): stop
    // instead of spinning through the remaining rounds.
    if (status.pending_row_count >= previous_pending) return result;
    previous_pending = status.pending_row_count;
  }
  OVERSYNC_ASSIGN_OR_RETURN(PendingSyncStatus status, pending());
  result.detach.outcome = DetachOutcome::kBlockedUnsyncedData;
  result.detach.pending_row_count = status.pending_row_count;
  result.remaining_pending_row_count = status.pending_row_count;
  return result;
}

}  // namespace internal
}  // namespace oversync::oversqlite
