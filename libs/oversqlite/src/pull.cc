// File: libs/oversqlite/src/pull.cc
//
// PullToStable (client.md §5): downloads complete committed bundles after the durable checkpoint
// up to the stable ceiling frozen by the first page, applying each bundle in its own transaction.
//
// Invariants this file keeps:
//   * No SQLite transaction is open while a request is in flight.
//   * A bundle is applied atomically with its checkpoint: after a failure in bundle k the
//     checkpoint is the last bundle that committed and nothing of bundle k is visible (§5.2).
//   * A page is validated completely before any of its bundles is applied (fail closed, §5.1.4).
#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "client_impl.h"
#include "oversync/common/status.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/messages.h"
#include "oversync/protocol/push_validation.h"

namespace oversync::oversqlite {
namespace {

using internal::Exec;
using internal::Prepare;
using internal::Tx;

Status PullInvalid(std::string message) {
  return Status(ErrorCode::kProtocolViolation, std::move(message));
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Go validateBundleRow (oversqlite/pull.go), plus the schema check the Go client skips for
// pulled bundles (client.md §5.2 [QUIRK], fixed here: a row of another schema would otherwise be
// applied to the local table of the same name and recorded under config.Schema's row state).
Status ValidateBundleRow(const protocol::BundleRow& row, std::string_view schema) {
  if (IsBlank(row.schema)) return PullInvalid("row schema must be non-empty");
  if (IsBlank(row.table)) return PullInvalid("row table must be non-empty");
  if (row.key.is_null()) return PullInvalid("row key must be non-empty");
  if (row.row_version <= 0) {
    // The current Go client's wording (shared fixture pull-snapshot/basic.json).
    return PullInvalid(fmt::format("bundle row row_version {} must be positive", row.row_version));
  }
  if (row.op != protocol::Op::kDelete && !row.payload.has_value()) {
    return PullInvalid(fmt::format("{} row payload must be present",
                                   row.op == protocol::Op::kInsert ? "insert" : "update"));
  }
  if (row.payload.has_value() && PayloadHasHiddenScopeColumn(*row.payload)) {
    return PullInvalid(std::string(kHiddenScopePayloadMessage));
  }
  if (row.schema != schema) {
    return PullInvalid(
        fmt::format("pull row schema {} does not match client schema {}", row.schema, schema));
  }
  return {};
}

Status ValidateBundle(const protocol::Bundle& bundle, std::string_view schema) {
  if (bundle.bundle_seq <= 0) {
    return PullInvalid(fmt::format("bundle_seq {} must be positive", bundle.bundle_seq));
  }
  if (IsBlank(bundle.source_id)) return PullInvalid("bundle source_id must be non-empty");
  if (bundle.source_bundle_id <= 0) {
    return PullInvalid(
        fmt::format("bundle source_bundle_id {} must be positive", bundle.source_bundle_id));
  }
  for (std::size_t i = 0; i < bundle.rows.size(); ++i) {
    Status status = ValidateBundleRow(bundle.rows[i], schema);
    if (!status.ok()) return status.WithContext(fmt::format("invalid bundle row {}", i));
  }
  return {};
}

// Go validatePullResponse (client.md §5.1 step 4), same texts.
Status ValidatePullResponse(const protocol::PullResponse& response, std::int64_t after,
                            std::string_view schema) {
  if (response.stable_bundle_seq < 0) {
    return PullInvalid(fmt::format("pull response stable_bundle_seq {} must be non-negative",
                                   response.stable_bundle_seq));
  }
  if (response.stable_bundle_seq < after) {
    return PullInvalid(
        fmt::format("pull response stable_bundle_seq {} is behind requested after_bundle_seq {}",
                    response.stable_bundle_seq, after));
  }
  if (!response.bundles.empty() && response.stable_bundle_seq == 0) {
    return PullInvalid("pull response missing stable_bundle_seq for non-empty bundle list");
  }
  std::int64_t previous = after;
  for (std::size_t i = 0; i < response.bundles.size(); ++i) {
    const protocol::Bundle& bundle = response.bundles[i];
    Status status = ValidateBundle(bundle, schema);
    if (!status.ok()) return status.WithContext(fmt::format("invalid pull bundle {}", i));
    if (bundle.bundle_seq <= previous) {
      return PullInvalid(
          fmt::format("pull response bundle_seq {} is not strictly greater than previous {}",
                      bundle.bundle_seq, previous));
    }
    if (bundle.bundle_seq > response.stable_bundle_seq) {
      return PullInvalid(fmt::format("pull response bundle_seq {} exceeds stable_bundle_seq {}",
                                     bundle.bundle_seq, response.stable_bundle_seq));
    }
    previous = bundle.bundle_seq;
  }
  return {};
}

}  // namespace

Result<bool> Client::Impl::CheckpointRecoveryPendingLocked() {
  if (!ProfileB()) return false;
  OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
  if (!attachment.rebuild_required) return false;
  OVERSYNC_ASSIGN_OR_RETURN(OperationState operation, LoadOperation());
  return operation.kind == "none";
}

Result<RemoteSyncReport> Client::Impl::ResumeCheckpointRecoveryLocked(
    PushOutcome* resumed_push_outcome) {
  const auto pending = [this]() -> Result<std::pair<std::int64_t, std::int64_t>> {
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t dirty, DirtyCount());
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t outbound, OutboxRowCount());
    return std::make_pair(dirty, outbound);
  };
  const auto blocked = [&](std::string_view reason) -> Status {
    auto counts = pending();
    if (!counts) return counts.error();
    auto outbox = LoadOutboxBundle();
    if (!outbox) return outbox.error();
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kCheckpointRecoveryBlocked;
    detail.reason = std::string(reason);
    detail.dirty_count = counts->first;
    detail.outbound_count = counts->second;
    detail.replay_state = outbox->state;
    return MakeClientError(
        ErrorCode::kFailedPrecondition,
        fmt::format("checkpoint recovery is blocked ({}): dirty_rows={} outbox_rows={} "
                    "replay_state=\"{}\"",
                    reason, counts->first, counts->second, outbox->state),
        std::move(detail));
  };
  // The server's contract first: a refused gate is returned as it is, not as a blocked push.
  OVERSYNC_RETURN_IF_ERROR(VerifyProtocolGate("checkpoint_recovery"));
  OVERSYNC_ASSIGN_OR_RETURN(auto before, pending());
  OVERSYNC_ASSIGN_OR_RETURN(OutboxBundle outbox, LoadOutboxBundle());
  // A committed_remote outbox is already on the server and contained in the snapshot (the
  // rebuild clears it and advances the source floor); pushing it again could only repeat the
  // failure that set the gate.
  if (before.first + before.second > 0 && outbox.state != "committed_remote") {
    // Local work reaches the server before the snapshot replaces the local state: one bundle per
    // push, so a frozen outbox and the dirty rows behind it take up to three (bounded like Sync).
    for (int round = 0; round < 3; ++round) {
      Result<PushReport> pushed = PushPendingLocked(0, true);
      if (!pushed) {
        // Transient failures (retried and exhausted ones included), authentication failures and
        // malformed answers are returned as they are; anything else blocks the recovery.
        const ClientErrorDetail* detail = ClientErrorOf(pushed.error());
        const int http_status = detail != nullptr ? detail->http_status : 0;
        const bool exhausted = detail != nullptr && detail->kind == ClientErrorKind::kRetryExhausted;
        if (exhausted || IsRetryableError(pushed.error()) || http_status == 401 ||
            http_status == 403 || pushed.error().code() == ErrorCode::kProtocolViolation) {
          return Error(pushed.error());
        }
        return Error(blocked("push_failed"));
      }
      if (resumed_push_outcome != nullptr && pushed->outcome == PushOutcome::kCommitted) {
        *resumed_push_outcome = PushOutcome::kCommitted;
      }
      // A committed bundle whose replay was pruned is recovered by a snapshot inside the push:
      // the gate is then already clear and nothing is left to rebuild.
      OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
      if (!attachment.rebuild_required) {
        RemoteSyncReport report;
        report.outcome = RemoteSyncOutcome::kAppliedSnapshot;
        OVERSYNC_ASSIGN_OR_RETURN(report.status, SyncStatusLocked());
        return report;
      }
      OVERSYNC_ASSIGN_OR_RETURN(auto after, pending());
      if (after.first + after.second == 0 || pushed->outcome != PushOutcome::kCommitted) break;
    }
    OVERSYNC_ASSIGN_OR_RETURN(auto after, pending());
    if (after.first + after.second > 0) return Error(blocked("pending_work"));
  }
  return RebuildLocked();
}

Result<RemoteSyncReport> Client::Impl::PullToStableLocked() {
  // client.md §1.6 preconditions, in this order; none of them touches the network.
  OVERSYNC_RETURN_IF_ERROR(RequireConnected("PullToStable()"));
  OVERSYNC_RETURN_IF_ERROR(SourceRecoveryGate());
  OVERSYNC_ASSIGN_OR_RETURN(OperationState operation, LoadOperation());
  if (operation.kind != "none" && operation.kind != "remote_replace") {
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kDestructiveTransitionInProgress;
    detail.transition_kind = operation.kind;
    return Error(MakeClientError(
        ErrorCode::kFailedPrecondition,
        fmt::format("destructive transition {} is in progress", operation.kind), detail));
  }
  OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
  if (attachment.binding_state != "attached" || attachment.attached_user_id != UserId()) {
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kAttachRequired;
    detail.operation = "PullToStable()";
    return Error(MakeClientError(ErrorCode::kFailedPrecondition,
                                 "PullToStable() requires an attached session", detail));
  }
  if (attachment.rebuild_required) {
    OVERSYNC_ASSIGN_OR_RETURN(bool resume, CheckpointRecoveryPendingLocked());
    if (resume) return ResumeCheckpointRecoveryLocked();
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kRebuildRequired;
    return Error(MakeClientError(ErrorCode::kFailedPrecondition,
                                 "client rebuild is required; run Rebuild before syncing", detail));
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
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t dirty, DirtyCount());
  if (dirty > 0) {
    Log(LogLevel::kWarn, fmt::format("pull rejected due to local dirty state: {} rows", dirty));
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kDirtyStateRejected;
    detail.dirty_count = dirty;
    return Error(MakeClientError(ErrorCode::kFailedPrecondition,
                                 fmt::format("cannot pull while {} local dirty rows exist", dirty),
                                 detail));
  }
  if (downloads_paused_.load()) {
    OVERSYNC_ASSIGN_OR_RETURN(SyncStatus status, SyncStatusLocked());
    RemoteSyncReport report;
    report.outcome = RemoteSyncOutcome::kSkippedPaused;
    report.status = status;
    return report;
  }
  OVERSYNC_RETURN_IF_ERROR(VerifyProtocolGate("pull_to_stable"));

  // One transaction per bundle (client.md §5.2). Deferred FKs let a bundle carry children before
  // parents, self-references and FK cycles; apply mode keeps the triggers from capturing our own
  // authoritative writes as dirty rows.
  auto apply_bundle = [this](const protocol::Bundle& bundle) -> Status {
    OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(db_));
    // The app may have written while the previous page was downloading (no transaction is held
    // across the network). Applying over such an edit would silently drop it, so the pull stops
    // here, nothing of this bundle applied, and the next Sync pushes the edit first.
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t dirty_now, DirtyCount());
    if (dirty_now > 0) {
      ClientErrorDetail detail;
      detail.kind = ClientErrorKind::kDirtyStateRejected;
      detail.dirty_count = dirty_now;
      return MakeClientError(ErrorCode::kFailedPrecondition,
                             fmt::format("cannot pull while {} local dirty rows exist", dirty_now),
                             detail);
    }
    OVERSYNC_RETURN_IF_ERROR(SetApplyMode(true));
    OVERSYNC_RETURN_IF_ERROR(Exec(db_, "PRAGMA defer_foreign_keys = ON"));

    for (const protocol::BundleRow& row : bundle.rows) {
      const internal::TableInfo* table = FindTable(row.table);
      if (table == nullptr) {
        return Status(
            ErrorCode::kProtocolViolation,
            fmt::format("pulled bundle {} row references table {} which is not configured "
                        "for sync",
                        bundle.bundle_seq, row.table));
      }
      OVERSYNC_ASSIGN_OR_RETURN(std::string local_key, WireKeyToLocalKey(*table, row.key));
      const std::string key_json = LocalKeyJson(*table, local_key);
      OVERSYNC_ASSIGN_OR_RETURN(std::optional<std::int64_t> current,
                                RowStateVersion(table->name, key_json));
      // Idempotent replay: our own pushed bundles and duplicates are already applied.
      if (current.has_value() && *current >= row.row_version) continue;
      const bool is_delete = row.op == protocol::Op::kDelete;
      const protocol::JsonValue* payload =
          (!is_delete && row.payload.has_value()) ? &*row.payload : nullptr;
      OVERSYNC_RETURN_IF_ERROR(
          ApplyAuthoritativeRow(*table, key_json, local_key, is_delete, payload, row.row_version));
    }

    OVERSYNC_ASSIGN_OR_RETURN(internal::Stmt checkpoint,
                              Prepare(db_,
                                      "UPDATE _sync_attachment_state SET last_bundle_seq_seen = "
                                      "max(last_bundle_seq_seen, ?) WHERE singleton_key = 1"));
    checkpoint.Bind(1, bundle.bundle_seq);
    OVERSYNC_RETURN_IF_ERROR(checkpoint.Run());
    OVERSYNC_RETURN_IF_ERROR(SetApplyMode(false));
    return tx.Commit();
  };

  std::int64_t after = attachment.last_bundle_seq_seen;
  const int max_bundles = config_.download_limit > 0 ? config_.download_limit : 1000;
  std::int64_t target = 0;  // the stable ceiling frozen by the first page
  bool applied = false;
  protocol::JsonParser parser;
  for (;;) {
    std::string path =
        fmt::format("/sync/pull?after_bundle_seq={}&max_bundles={}", after, max_bundles);
    if (target > 0) path += fmt::format("&target_bundle_seq={}", target);

    HttpResponse response;
    Status sent = WithRetry("pull_request", [&]() -> Status {
      Result<HttpResponse> answer = Call("GET", path, std::nullopt);
      if (!answer.has_value()) return answer.error();
      response = std::move(*answer);
      return {};
    });
    if (!sent.ok()) {
      const ClientErrorDetail* detail = ClientErrorOf(sent);
      if (sent.code() == ErrorCode::kHistoryPruned ||
          ClientErrorKindOf(sent) == ClientErrorKind::kHistoryPruned ||
          // protocol-b.md §5.8: a checkpoint ahead of the server's head rebuilds the same way.
          sent.code() == ErrorCode::kCheckpointAhead ||
          (detail != nullptr && detail->error_code == "checkpoint_ahead")) {
        // client.md §5.1 step 3: incremental history is gone; a keep-source snapshot rebuild
        // brings the client to the snapshot's bundle seq.
        Log(LogLevel::kInfo,
            fmt::format("pull history pruned; rebuilding from chunked snapshot ({})",
                        sent.message()));
        return RunSnapshotRebuild(RebuildOptions{});
      }
      return Error(sent.WithContext("failed to send pull request"));
    }

    Result<protocol::PullResponse> decoded = protocol::DecodePullResponse(response.body, &parser);
    if (!decoded.has_value()) {
      return Error(PullInvalid(
          fmt::format("failed to decode pull response: {}", decoded.error().message())));
    }
    const protocol::PullResponse& page = *decoded;
    OVERSYNC_RETURN_IF_ERROR(ValidatePullResponse(page, after, config_.schema));
    if (target == 0) {
      target = page.stable_bundle_seq;
    } else if (page.stable_bundle_seq != target) {
      return Error(PullInvalid(fmt::format("pull response stable bundle seq changed from {} to {}",
                                           target, page.stable_bundle_seq)));
    }

    for (const protocol::Bundle& bundle : page.bundles) {
      Status status = apply_bundle(bundle);
      if (!status.ok()) {
        return Error(
            status.WithContext(fmt::format("failed to apply pulled bundle {}", bundle.bundle_seq)));
      }
      applied = true;
      after = bundle.bundle_seq;
    }

    if (after >= page.stable_bundle_seq) {
      OVERSYNC_ASSIGN_OR_RETURN(SyncStatus status, SyncStatusLocked());
      RemoteSyncReport report;
      report.outcome =
          applied ? RemoteSyncOutcome::kAppliedIncremental : RemoteSyncOutcome::kAlreadyAtTarget;
      report.status = status;
      return report;
    }
    if (!page.has_more && page.bundles.empty()) {
      return Error(PullInvalid(
          fmt::format("pull ended before reaching stable bundle seq {}", page.stable_bundle_seq)));
    }
    if (!page.has_more) {
      return Error(
          PullInvalid(fmt::format("pull ended early at bundle seq {} before stable bundle seq {}",
                                  after, page.stable_bundle_seq)));
    }
    if (page.bundles.empty()) {
      // has_more without a bundle would re-request the same page forever.
      return Error(PullInvalid(fmt::format(
          "pull response has_more without bundles at bundle seq {} (stable {})", after,
          page.stable_bundle_seq)));
    }
  }
}

}  // namespace oversync::oversqlite
