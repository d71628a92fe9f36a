// File: oversync/oversqlite/errors.h
//
// The client's typed errors (client.md §1.9). Every failure travels as an oversync::Status; the
// client's own categories are attached as a ClientErrorDetail whose `kind` keeps them
// distinguishable and whose fields carry the data each category reports. Errors that come from
// the server keep the protocol ErrorCode of their `error` member (e.g. kHistoryPruned) and carry
// kind kHttp with the HTTP status and raw body.
//
// Thread-safety: values only.
#ifndef OVERSYNC_OVERSQLITE_ERRORS_H_
#define OVERSYNC_OVERSQLITE_ERRORS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "oversync/common/status.h"
#include "oversync/protocol/messages.h"

namespace oversync::oversqlite {

enum class ClientErrorKind : std::uint8_t {
  kNone = 0,                     // no ClientErrorDetail attached (plain Status)
  kDatabaseAlreadyOwned,         // database
  kClientClosed,
  kSyncOperationInProgress,
  kOpenRequired,                 // operation
  kAttachRequired,               // operation
  kDestructiveTransitionInProgress,  // transition_kind
  kAttachLifecycleUnsupported,   // reason
  kAttachBindingConflict,        // attached_user_id, requested_user_id
  kAttachLocalStateConflict,     // reason
  kRemoteReplacePending,         // target_user_id
  kRebuildRequired,
  kSourceRecoveryRequired,       // source_recovery_code, reason (server message, may be empty)
  kSourceReplacementDiverged,    // local_replacement, remote_replacement
  kHistoryPruned,                // http_status, reason
  kPendingPushReplay,            // outbound_count
  kDirtyStateRejected,           // dirty_count
  kPushConflict,                 // http_status, raw_body, conflict
  kInvalidConflictResolution,    // conflict, reason
  kPushConflictRetryExhausted,   // retry_count, remaining_dirty_count
  kRetryExhausted,               // operation, attempts, last_error
  kReconnectRequired,            // seed lease lost (client.md §7.5): error_code
  kHttp,                         // any other non-2xx answer: http_status, error_code, raw_body
  // Profile B: resuming the rebuild gate from PullToStable/Sync could not push the pending local
  // work first (reason "push_failed" or "pending_work"; dirty_count, outbound_count, and the
  // outbox state in replay_state).
  kCheckpointRecoveryBlocked,
  // Profile B: the server's capabilities name a protocol_version other than "v1" (checked at
  // attach and once per push/pull/sync/rebuild operation before its first request; nothing
  // local is changed). reason: the server's protocol_version.
  kProtocolVersionMismatch,
  // Profile B: a persisted source-recovery operation names a reason this client does not know
  // (reason: the stored text); it fails instead of being read as another reason.
  kInvalidSourceRecoveryReason,
};

std::string_view ClientErrorKindName(ClientErrorKind kind) noexcept;

// Source recovery reasons (client.md §1.8). Unknown persisted reasons read as kHistoryPruned.
enum class SourceRecoveryCode : std::uint8_t {
  kHistoryPruned,
  kSourceSequenceOutOfOrder,
  kSourceSequenceChanged,
  kSourceRetired,
};
std::string_view SourceRecoveryCodeName(SourceRecoveryCode code) noexcept;
SourceRecoveryCode ParseSourceRecoveryCode(std::string_view text) noexcept;

struct ClientErrorDetail final : StatusDetail {
  ClientErrorKind kind = ClientErrorKind::kNone;
  std::string operation;          // kOpenRequired, kAttachRequired, kRetryExhausted
  std::string database;           // kDatabaseAlreadyOwned
  std::string attached_user_id;   // kAttachBindingConflict
  std::string requested_user_id;  // kAttachBindingConflict
  std::string reason;             // free text of the category
  std::string transition_kind;    // kDestructiveTransitionInProgress
  std::string target_user_id;     // kRemoteReplacePending
  SourceRecoveryCode source_recovery_code = SourceRecoveryCode::kHistoryPruned;
  std::string local_replacement;   // kSourceReplacementDiverged
  std::string remote_replacement;  // kSourceReplacementDiverged
  std::int64_t outbound_count = 0;       // kPendingPushReplay
  std::int64_t dirty_count = 0;          // kDirtyStateRejected
  int http_status = 0;                   // server answers
  std::string error_code;                // server's `error` member
  std::string raw_body;                  // server's body
  std::int64_t retry_after_ms = 0;       // server's Retry-After (delta-seconds) in ms; 0 = none
  std::string source_id;                 // source_retired answers
  std::string replaced_by_source_id;     // source_retired answers
  std::optional<protocol::PushConflictDetails> conflict;  // kPushConflict, kInvalidConflictResolution
  std::int64_t retry_count = 0;          // kPushConflictRetryExhausted
  std::int64_t remaining_dirty_count = 0;
  std::int64_t attempts = 0;             // kRetryExhausted
  std::shared_ptr<const Status> last_error;  // kRetryExhausted: the cause
  std::string replay_state;              // kCheckpointRecoveryBlocked: the outbox state
};

// The detail of `status`, or nullptr.
const ClientErrorDetail* ClientErrorOf(const Status& status) noexcept;
// kNone when `status` carries no ClientErrorDetail.
ClientErrorKind ClientErrorKindOf(const Status& status) noexcept;

// Builds a Status of the given kind. `code` is the oversync ErrorCode it carries.
Status MakeClientError(ErrorCode code, std::string message, ClientErrorDetail detail);

// True for kSyncOperationInProgress (client.md §1.4 IsExpectedSyncContention).
bool IsExpectedSyncContention(const Status& status) noexcept;
// True for kOpenRequired, kAttachRequired, kDestructiveTransitionInProgress (client.md §1.7).
bool IsLifecyclePreconditionError(const Status& status) noexcept;

}  // namespace oversync::oversqlite

#endif  // OVERSYNC_OVERSQLITE_ERRORS_H_
