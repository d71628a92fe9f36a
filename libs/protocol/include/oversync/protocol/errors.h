// File: oversync/protocol/errors.h
//
// Extended error bodies (protocol.md §1.5) travel inside a Status as a StatusDetail, so the
// runtime can return them through Result<T> and the HTTP layer can render them. This file is the
// one place that turns a Status into the wire ErrorResponse.
#ifndef OVERSYNC_PROTOCOL_ERRORS_H_
#define OVERSYNC_PROTOCOL_ERRORS_H_

#include <memory>
#include <string>

#include "oversync/common/status.h"
#include "oversync/protocol/messages.h"

namespace oversync::protocol {

// 409 source_retired: adds source_id and replaced_by_source_id to the body.
struct SourceRetiredDetail final : StatusDetail {
  std::string source_id;
  std::string replaced_by_source_id;
};

// 409 push_conflict: adds the conflict object.
struct PushConflictDetail final : StatusDetail {
  PushConflictDetails conflict;
};

// Profile B (protocol-b.md §6.1). 400 snapshot_chunk_too_small: adds required_byte_count.
struct SnapshotChunkTooSmallDetail final : StatusDetail {
  std::int64_t required_byte_count = 0;
};
// 409 snapshot_session_limit_exceeded: adds dimension, actual and limit.
struct SnapshotLimitDetail final : StatusDetail {
  ErrorResponse::LimitExceeded limit;
};

Status SourceRetiredError(std::string message, std::string source_id,
                          std::string replaced_by_source_id);
Status PushConflictError(std::string message, PushConflictDetails conflict);
// "max_bytes is too small for the next snapshot row; required_byte_count=N".
Status SnapshotChunkTooSmallError(std::int64_t required_byte_count);
// "snapshot session <dimension> <actual> exceeds limit <limit>".
Status SnapshotSessionLimitError(std::string dimension, std::int64_t actual, std::int64_t limit);

// The wire error body for `status`. Internal codes (no protocol name) are reported as
// `internal_code` with `internal_message` instead (the endpoint's generic 500, e.g.
// push_chunk_failed / "Failed to upload push chunk"), so server internals never leak.
ErrorResponse ErrorResponseFromStatus(const Status& status, ErrorCode internal_code,
                                      std::string_view internal_message);

// True for codes that have their own protocol name (everything in protocol.md §5).
bool IsProtocolErrorCode(ErrorCode code) noexcept;

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_ERRORS_H_
