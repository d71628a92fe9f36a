// File: oversync/common/status.h
//
// Status and Result<T>: the one way expected failures travel through oversync.
//
// A Status is either OK (free: no allocation) or carries an ErrorCode and a human-readable
// message. ErrorCode is a closed enum: every protocol error code of protocol.md §5 plus a few
// internal codes. The one table that maps a code to its wire name, HTTP status and client retry
// class lives in status.cc (ErrorInfoFor); nothing else in the code base may repeat it.
//
// Thread-safety: Status and Result<T> are values; distinct objects may be used concurrently.
#ifndef OVERSYNC_COMMON_STATUS_H_
#define OVERSYNC_COMMON_STATUS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace oversync {

// Every error code of the wire protocol (protocol.md §5) plus internal codes that never reach
// the wire under their own name. Enumerator order is not part of any contract.
enum class ErrorCode : std::uint8_t {
  kOk = 0,
  // ---- protocol error codes (protocol.md §5) ----
  kAuthenticationFailed,
  kInvalidRequest,
  kMethodNotAllowed,
  kServiceUnavailable,
  kConnectInvalid,
  kConnectFailed,
  kPushSessionInvalid,
  kScopeUninitialized,
  kScopeInitializing,
  kInitializationStale,
  kInitializationExpired,
  kHistoryPruned,
  kSourceSequenceOutOfOrder,
  kSourceSequenceChanged,
  kSourceRetired,
  kSourceReplacementInvalid,
  kPushSessionCreateFailed,
  kPushChunkInvalid,
  kPushChunkOutOfOrder,
  kPushSessionNotFound,
  kPushSessionExpired,
  kPushSessionForbidden,
  kPushChunkFailed,
  kPushCommitInvalid,
  kPushConflict,
  kPushSessionCommitFailed,
  kPushSessionDeleteFailed,
  kCommittedBundleChunkInvalid,
  kCommittedBundleNotFound,
  kCommittedBundleRowsFailed,
  kPullFailed,
  kBundleChangeWatchForbidden,
  kBundleChangeWatchDisabled,
  kBundleChangeWatchFailed,
  kSnapshotSessionInvalid,
  kSnapshotSessionCreateFailed,
  kSnapshotChunkInvalid,
  kSnapshotSessionNotFound,
  kSnapshotSessionExpired,
  kSnapshotSessionForbidden,
  kSnapshotChunkFailed,
  kSnapshotSessionDeleteFailed,
  kStatusFailed,
  kHealthFailed,
  // ---- added by wire profile B (protocol-b.md §6.1); never sent by a profile-A mount ----
  kCheckpointAhead,
  kSnapshotBuildCapacity,
  kSnapshotChunkCapacity,
  kSnapshotChunkTooSmall,
  kSnapshotSessionLimitExceeded,
  kCommitOutcomeUnknown,
  kSourceRetiredInvalid,
  // ---- transport-level answers that are not sync error codes ----
  kNotFound,         // unknown route
  kPayloadTooLarge,  // request body above the configured limit
  // ---- internal codes (wire name "internal_error" if they ever escape unmapped) ----
  kInternal,          // a bug or an unexpected state
  kInvalidArgument,   // API misuse by the embedding application
  kUnavailable,       // a dependency (database, network) is temporarily unavailable
  kDatabase,          // a database error that is not transient
  kIo,                // file or socket I/O failed
  kProtocolViolation, // the peer sent something the protocol forbids (client side)
  kCancelled,
  kDeadlineExceeded,
  kUnsupportedSchema,   // bootstrap: the database does not fit the supported sync contract
  kFailedPrecondition,  // the operation needs a state the system is not in
};

// How a client should react to an error (protocol.md §5 "Retry classes").
enum class RetryClass : std::uint8_t {
  kNone,          // not an error
  kTransient,     // T: retry the same request with backoff
  kRestart,       // R: restart the operation (new session / re-run the flow)
  kStateRecovery, // S: reconnect, rebuild or rotate
  kFatal,         // F: do not retry unchanged
  kUnexpected,    // X: unexpected server error; the next sync cycle retries
};

struct ErrorInfo {
  ErrorCode code;
  std::string_view wire_name;  // protocol error code, e.g. "push_chunk_invalid"
  int http_status;             // HTTP status the server answers with
  RetryClass retry_class;
};

// The single error table. Always returns a valid entry (kInternal's for out-of-range values).
const ErrorInfo& ErrorInfoFor(ErrorCode code) noexcept;

// Looks a protocol error code up by wire name ("history_pruned" -> kHistoryPruned).
// Returns kInternal for names the table does not know.
ErrorCode ErrorCodeFromWireName(std::string_view wire_name) noexcept;

// True for codes a client retries unchanged (retry class T).
bool IsRetryable(ErrorCode code) noexcept;

// Structured data an error carries beyond code and message (e.g. the conflict details of
// push_conflict). Layers define subclasses; readers use Status::detail<T>().
class StatusDetail {
 public:
  virtual ~StatusDetail() = default;
};

class [[nodiscard]] Status {
 public:
  Status() noexcept = default;  // OK
  Status(ErrorCode code, std::string message);
  // Lets Status-returning functions `return Error(...)` like Result-returning ones do.
  Status(tl::unexpected<Status> error) noexcept  // NOLINT(google-explicit-constructor)
      : Status(std::move(error.value())) {}

  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status Ok() noexcept { return Status(); }

  bool ok() const noexcept { return state_ == nullptr; }
  ErrorCode code() const noexcept { return state_ ? state_->code : ErrorCode::kOk; }
  // Empty for OK.
  const std::string& message() const noexcept;
  const ErrorInfo& info() const noexcept { return ErrorInfoFor(code()); }

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(std::string_view context) const;

  // Attaches structured data (shared, immutable). No effect on OK.
  Status WithDetail(std::shared_ptr<const StatusDetail> detail) &&;
  // The attached detail if it is a T, else nullptr.
  template <typename T>
  const T* detail() const noexcept {
    return state_ ? dynamic_cast<const T*>(state_->detail.get()) : nullptr;
  }

  // "push_chunk_invalid: rows must not be empty" (or "ok"). Internal codes, which share the wire
  // name "internal_error", are named by code ("failed_precondition: ...") for logs.
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) noexcept {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct State {
    ErrorCode code;
    std::string message;
    std::shared_ptr<const StatusDetail> detail;
  };
  std::unique_ptr<State> state_;  // null == OK
};

template <typename T>
using Result = tl::expected<T, Status>;

// Builds the error side of a Result: `return Error(ErrorCode::kPushChunkInvalid, "...");`
inline tl::unexpected<Status> Error(ErrorCode code, std::string message) {
  return tl::unexpected<Status>(Status(code, std::move(message)));
}
inline tl::unexpected<Status> Error(Status status) {
  return tl::unexpected<Status>(std::move(status));
}

namespace internal {
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.has_value() ? Status() : r.error();
}
}  // namespace internal

// The Status of a Result (OK when it holds a value), for returning an operation's outcome
// without its value.
template <typename T>
Status ToStatus(const Result<T>& r) {
  return internal::StatusOf(r);
}

}  // namespace oversync

#define OVERSYNC_INTERNAL_CONCAT2(a, b) a##b
#define OVERSYNC_INTERNAL_CONCAT(a, b) OVERSYNC_INTERNAL_CONCAT2(a, b)

// Returns the Status of `expr` (a Status or a Result<T>) from the enclosing function if it is
// not OK. The enclosing function must return Status or Result<U>.
#define OVERSYNC_RETURN_IF_ERROR(expr)                                              \
  do {                                                                              \
    ::oversync::Status oversync_status_ = ::oversync::internal::StatusOf((expr));   \
    if (!oversync_status_.ok()) return ::oversync::Error(std::move(oversync_status_)); \
  } while (false)

// `OVERSYNC_ASSIGN_OR_RETURN(auto x, MakeX());` — declares/assigns lhs from a Result<T> or
// returns its error. Expands to several statements; do not use as the body of an unbraced if.
#define OVERSYNC_ASSIGN_OR_RETURN(lhs, rexpr)                                           \
  OVERSYNC_INTERNAL_ASSIGN_OR_RETURN(OVERSYNC_INTERNAL_CONCAT(oversync_result_, __LINE__), \
                                     lhs, rexpr)
#define OVERSYNC_INTERNAL_ASSIGN_OR_RETURN(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                       \
  if (!tmp.has_value()) return ::oversync::Error(std::move(tmp).error()); \
  lhs = std::move(tmp).value()

#endif  // OVERSYNC_COMMON_STATUS_H_
