// File: libs/oversqlite/src/errors.cc
#include "oversync/oversqlite/errors.h"

#include <utility>

namespace oversync::oversqlite {

std::string_view ClientErrorKindName(ClientErrorKind kind) noexcept {
  switch (kind) {
    case ClientErrorKind::kNone: return "none";
    case ClientErrorKind::kDatabaseAlreadyOwned: return "database_already_owned";
    case ClientErrorKind::kClientClosed: return "client_closed";
    case ClientErrorKind::kSyncOperationInProgress: return "sync_operation_in_progress";
    case ClientErrorKind::kOpenRequired: return "open_required";
    case ClientErrorKind::kAttachRequired: return "attach_required";
    case ClientErrorKind::kDestructiveTransitionInProgress: return "destructive_transition_in_progress";
    case ClientErrorKind::kAttachLifecycleUnsupported: return "attach_lifecycle_unsupported";
    case ClientErrorKind::kAttachBindingConflict: return "attach_binding_conflict";
    case ClientErrorKind::kAttachLocalStateConflict: return "attach_local_state_conflict";
    case ClientErrorKind::kRemoteReplacePending: return "remote_replace_pending";
    case ClientErrorKind::kRebuildRequired: return "rebuild_required";
    case ClientErrorKind::kSourceRecoveryRequired: return "source_recovery_required";
    case ClientErrorKind::kSourceReplacementDiverged: return "source_replacement_diverged";
    case ClientErrorKind::kHistoryPruned: return "history_pruned";
    case ClientErrorKind::kPendingPushReplay: return "pending_push_replay";
    case ClientErrorKind::kDirtyStateRejected: return "dirty_state_rejected";
    case ClientErrorKind::kPushConflict: return "push_conflict";
    case ClientErrorKind::kInvalidConflictResolution: return "invalid_conflict_resolution";
    case ClientErrorKind::kPushConflictRetryExhausted: return "push_conflict_retry_exhausted";
    case ClientErrorKind::kRetryExhausted: return "retry_exhausted";
    case ClientErrorKind::kReconnectRequired: return "reconnect_required";
    case ClientErrorKind::kHttp: return "http";
    case ClientErrorKind::kCheckpointRecoveryBlocked: return "checkpoint_recovery_blocked";
    case ClientErrorKind::kProtocolVersionMismatch: return "protocol_version_mismatch";
    case ClientErrorKind::kInvalidSourceRecoveryReason: return "invalid_source_recovery_reason";
  }
  return "unknown";
}

std::string_view SourceRecoveryCodeName(SourceRecoveryCode code) noexcept {
  switch (code) {
    case SourceRecoveryCode::kHistoryPruned: return "history_pruned";
    case SourceRecoveryCode::kSourceSequenceOutOfOrder: return "source_sequence_out_of_order";
    case SourceRecoveryCode::kSourceSequenceChanged: return "source_sequence_changed";
    case SourceRecoveryCode::kSourceRetired: return "source_retired";
  }
  return "history_pruned";
}

SourceRecoveryCode ParseSourceRecoveryCode(std::string_view text) noexcept {
  if (text == "source_sequence_out_of_order") return SourceRecoveryCode::kSourceSequenceOutOfOrder;
  if (text == "source_sequence_changed") return SourceRecoveryCode::kSourceSequenceChanged;
  if (text == "source_retired") return SourceRecoveryCode::kSourceRetired;
  return SourceRecoveryCode::kHistoryPruned;  // client.md §1.8: unknown reads as history_pruned
}

const ClientErrorDetail* ClientErrorOf(const Status& status) noexcept {
  return status.detail<ClientErrorDetail>();
}

ClientErrorKind ClientErrorKindOf(const Status& status) noexcept {
  const ClientErrorDetail* detail = ClientErrorOf(status);
  return detail != nullptr ? detail->kind : ClientErrorKind::kNone;
}

Status MakeClientError(ErrorCode code, std::string message, ClientErrorDetail detail) {
  return Status(code, std::move(message))
      .WithDetail(std::make_shared<const ClientErrorDetail>(std::move(detail)));
}

bool IsExpectedSyncContention(const Status& status) noexcept {
  return ClientErrorKindOf(status) == ClientErrorKind::kSyncOperationInProgress;
}

bool IsLifecyclePreconditionError(const Status& status) noexcept {
  const ClientErrorKind kind = ClientErrorKindOf(status);
  return kind == ClientErrorKind::kOpenRequired || kind == ClientErrorKind::kAttachRequired ||
         kind == ClientErrorKind::kDestructiveTransitionInProgress;
}

}  // namespace oversync::oversqlite
