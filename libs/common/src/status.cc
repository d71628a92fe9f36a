#include "oversync/common/status.h"

#include <array>

namespace oversync {
namespace {

using RC = RetryClass;
using EC = ErrorCode;

// The one table: protocol.md §5 (codes, HTTP statuses, retry classes). Indexed by ErrorCode.
constexpr std::array kErrorTable = {
    ErrorInfo{EC::kOk, "ok", 200, RC::kNone},
    ErrorInfo{EC::kAuthenticationFailed, "authentication_failed", 401, RC::kStateRecovery},
    ErrorInfo{EC::kInvalidRequest, "invalid_request", 400, RC::kFatal},
    ErrorInfo{EC::kMethodNotAllowed, "method_not_allowed", 405, RC::kFatal},
    ErrorInfo{EC::kServiceUnavailable, "service_unavailable", 503, RC::kTransient},
    ErrorInfo{EC::kConnectInvalid, "connect_invalid", 400, RC::kFatal},
    ErrorInfo{EC::kConnectFailed, "connect_failed", 500, RC::kUnexpected},
    ErrorInfo{EC::kPushSessionInvalid, "push_session_invalid", 400, RC::kFatal},
    ErrorInfo{EC::kScopeUninitialized, "scope_uninitialized", 409, RC::kStateRecovery},
    ErrorInfo{EC::kScopeInitializing, "scope_initializing", 409, RC::kStateRecovery},
    ErrorInfo{EC::kInitializationStale, "initialization_stale", 409, RC::kStateRecovery},
    ErrorInfo{EC::kInitializationExpired, "initialization_expired", 410, RC::kStateRecovery},
    ErrorInfo{EC::kHistoryPruned, "history_pruned", 409, RC::kStateRecovery},
    ErrorInfo{EC::kSourceSequenceOutOfOrder, "source_sequence_out_of_order", 409,
              RC::kStateRecovery},
    ErrorInfo{EC::kSourceSequenceChanged, "source_sequence_changed", 409, RC::kStateRecovery},
    ErrorInfo{EC::kSourceRetired, "source_retired", 409, RC::kStateRecovery},
    ErrorInfo{EC::kSourceReplacementInvalid, "source_replacement_invalid", 409,
              RC::kStateRecovery},
    ErrorInfo{EC::kPushSessionCreateFailed, "push_session_create_failed", 500, RC::kUnexpected},
    ErrorInfo{EC::kPushChunkInvalid, "push_chunk_invalid", 400, RC::kFatal},
    ErrorInfo{EC::kPushChunkOutOfOrder, "push_chunk_out_of_order", 409, RC::kRestart},
    ErrorInfo{EC::kPushSessionNotFound, "push_session_not_found", 404, RC::kRestart},
    ErrorInfo{EC::kPushSessionExpired, "push_session_expired", 410, RC::kRestart},
    ErrorInfo{EC::kPushSessionForbidden, "push_session_forbidden", 403, RC::kFatal},
    ErrorInfo{EC::kPushChunkFailed, "push_chunk_failed", 500, RC::kUnexpected},
    ErrorInfo{EC::kPushCommitInvalid, "push_commit_invalid", 400, RC::kFatal},
    ErrorInfo{EC::kPushConflict, "push_conflict", 409, RC::kStateRecovery},
    ErrorInfo{EC::kPushSessionCommitFailed, "push_session_commit_failed", 500, RC::kUnexpected},
    ErrorInfo{EC::kPushSessionDeleteFailed, "push_session_delete_failed", 500, RC::kUnexpected},
    ErrorInfo{EC::kCommittedBundleChunkInvalid, "committed_bundle_chunk_invalid", 400,
              RC::kFatal},
    ErrorInfo{EC::kCommittedBundleNotFound, "committed_bundle_not_found", 404, RC::kFatal},
    ErrorInfo{EC::kCommittedBundleRowsFailed, "committed_bundle_rows_failed", 500,
              RC::kUnexpected},
    ErrorInfo{EC::kPullFailed, "pull_failed", 500, RC::kUnexpected},
    ErrorInfo{EC::kBundleChangeWatchForbidden, "bundle_change_watch_forbidden", 403, RC::kFatal},
    ErrorInfo{EC::kBundleChangeWatchDisabled, "bundle_change_watch_disabled", 503, RC::kFatal},
    ErrorInfo{EC::kBundleChangeWatchFailed, "bundle_change_watch_failed", 500, RC::kUnexpected},
    ErrorInfo{EC::kSnapshotSessionInvalid, "snapshot_session_invalid", 400, RC::kFatal},
    ErrorInfo{EC::kSnapshotSessionCreateFailed, "snapshot_session_create_failed", 500,
              RC::kUnexpected},
    ErrorInfo{EC::kSnapshotChunkInvalid, "snapshot_chunk_invalid", 400, RC::kFatal},
    ErrorInfo{EC::kSnapshotSessionNotFound, "snapshot_session_not_found", 404, RC::kRestart},
    ErrorInfo{EC::kSnapshotSessionExpired, "snapshot_session_expired", 410, RC::kRestart},
    ErrorInfo{EC::kSnapshotSessionForbidden, "snapshot_session_forbidden", 403, RC::kFatal},
    ErrorInfo{EC::kSnapshotChunkFailed, "snapshot_chunk_failed", 500, RC::kUnexpected},
    ErrorInfo{EC::kSnapshotSessionDeleteFailed, "snapshot_session_delete_failed", 500,
              RC::kUnexpected},
    ErrorInfo{EC::kStatusFailed, "status_failed", 500, RC::kTransient},
    ErrorInfo{EC::kHealthFailed, "health_failed", 500, RC::kTransient},
    ErrorInfo{EC::kCheckpointAhead, "checkpoint_ahead", 409, RC::kStateRecovery},
    ErrorInfo{EC::kSnapshotBuildCapacity, "snapshot_build_capacity", 429, RC::kTransient},
    ErrorInfo{EC::kSnapshotChunkCapacity, "snapshot_chunk_capacity", 429, RC::kTransient},
    ErrorInfo{EC::kSnapshotChunkTooSmall, "snapshot_chunk_too_small", 400, RC::kFatal},
    ErrorInfo{EC::kSnapshotSessionLimitExceeded, "snapshot_session_limit_exceeded", 409,
              RC::kFatal},
    ErrorInfo{EC::kCommitOutcomeUnknown, "commit_outcome_unknown", 503, RC::kRestart},
    ErrorInfo{EC::kSourceRetiredInvalid, "source_retired_invalid", 500, RC::kUnexpected},
    ErrorInfo{EC::kNotFound, "not_found", 404, RC::kFatal},
    ErrorInfo{EC::kPayloadTooLarge, "request_too_large", 413, RC::kFatal},
    ErrorInfo{EC::kInternal, "internal_error", 500, RC::kUnexpected},
    ErrorInfo{EC::kInvalidArgument, "internal_error", 500, RC::kFatal},
    ErrorInfo{EC::kUnavailable, "internal_error", 503, RC::kTransient},
    ErrorInfo{EC::kDatabase, "internal_error", 500, RC::kUnexpected},
    ErrorInfo{EC::kIo, "internal_error", 500, RC::kTransient},
    ErrorInfo{EC::kProtocolViolation, "internal_error", 500, RC::kFatal},
    ErrorInfo{EC::kCancelled, "internal_error", 500, RC::kFatal},
    ErrorInfo{EC::kDeadlineExceeded, "internal_error", 504, RC::kTransient},
    ErrorInfo{EC::kUnsupportedSchema, "internal_error", 500, RC::kFatal},
    ErrorInfo{EC::kFailedPrecondition, "internal_error", 500, RC::kFatal},
};

constexpr bool TableIsIndexedByCode() {
  for (std::size_t i = 0; i < kErrorTable.size(); ++i) {
    if (static_cast<std::size_t>(kErrorTable[i].code) != i) return false;
  }
  return kErrorTable.back().code == EC::kFailedPrecondition;
}
static_assert(TableIsIndexedByCode(), "kErrorTable must list every ErrorCode in enum order");

const std::string& EmptyString() {
  static const std::string kEmpty;  // NOLINT: function-local constant, not mutable state
  return kEmpty;
}

}  // namespace

const ErrorInfo& ErrorInfoFor(ErrorCode code) noexcept {
  const auto index = static_cast<std::size_t>(code);
  if (index >= kErrorTable.size()) {
    return kErrorTable[static_cast<std::size_t>(EC::kInternal)];
  }
  return kErrorTable[index];
}

ErrorCode ErrorCodeFromWireName(std::string_view wire_name) noexcept {
  // Only the protocol codes (and the two transport codes) are addressable by name; internal
  // codes share "internal_error" and resolve to kInternal.
  for (const ErrorInfo& info : kErrorTable) {
    if (info.code == EC::kOk) continue;
    if (info.wire_name == wire_name) return info.code;
  }
  return EC::kInternal;
}

bool IsRetryable(ErrorCode code) noexcept {
  return ErrorInfoFor(code).retry_class == RetryClass::kTransient;
}

Status::Status(ErrorCode code, std::string message) {
  if (code != ErrorCode::kOk) {
    state_ = std::make_unique<State>(State{code, std::move(message), nullptr});
  }
}

Status::Status(const Status& other)
    : state_(other.state_ ? std::make_unique<State>(*other.state_) : nullptr) {}

Status& Status::operator=(const Status& other) {
  if (this != &other) {
    state_ = other.state_ ? std::make_unique<State>(*other.state_) : nullptr;
  }
  return *this;
}

const std::string& Status::message() const noexcept {
  return state_ ? state_->message : EmptyString();
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return {};
  std::string message(context);
  message += ": ";
  message += state_->message;
  Status out(state_->code, std::move(message));
  out.state_->detail = state_->detail;
  return out;
}

Status Status::WithDetail(std::shared_ptr<const StatusDetail> detail) && {
  if (state_) state_->detail = std::move(detail);
  return std::move(*this);
}

namespace {
// Log names of the internal codes, which all share the wire name "internal_error": a log line
// saying "internal_error: another sync operation is in progress" reads like a bug.
std::string_view InternalCodeName(EC code) noexcept {
  switch (code) {
    case EC::kInvalidArgument: return "invalid_argument";
    case EC::kUnavailable: return "unavailable";
    case EC::kDatabase: return "database_error";
    case EC::kIo: return "io_error";
    case EC::kProtocolViolation: return "protocol_violation";
    case EC::kCancelled: return "cancelled";
    case EC::kDeadlineExceeded: return "deadline_exceeded";
    case EC::kUnsupportedSchema: return "unsupported_schema";
    case EC::kFailedPrecondition: return "failed_precondition";
    default: return {};
  }
}
}  // namespace

std::string Status::ToString() const {
  if (ok()) return "ok";
  const std::string_view internal_name = InternalCodeName(code());
  std::string out(internal_name.empty() ? info().wire_name : internal_name);
  out += ": ";
  out += state_->message;
  return out;
}

}  // namespace oversync
