#include "oversync/protocol/errors.h"

namespace oversync::protocol {

Status SourceRetiredError(std::string message, std::string source_id,
                          std::string replaced_by_source_id) {
  auto detail = std::make_shared<SourceRetiredDetail>();
  detail->source_id = std::move(source_id);
  detail->replaced_by_source_id = std::move(replaced_by_source_id);
  return Status(ErrorCode::kSourceRetired, std::move(message)).WithDetail(std::move(detail));
}

Status PushConflictError(std::string message, PushConflictDetails conflict) {
  auto detail = std::make_shared<PushConflictDetail>();
  detail->conflict = std::move(conflict);
  return Status(ErrorCode::kPushConflict, std::move(message)).WithDetail(std::move(detail));
}

Status SnapshotChunkTooSmallError(std::int64_t required_byte_count) {
  auto detail = std::make_shared<SnapshotChunkTooSmallDetail>();
  detail->required_byte_count = required_byte_count;
  return Status(ErrorCode::kSnapshotChunkTooSmall,
                "max_bytes is too small for the next snapshot row; required_byte_count=" +
                    std::to_string(required_byte_count))
      .WithDetail(std::move(detail));
}

Status SnapshotSessionLimitError(std::string dimension, std::int64_t actual, std::int64_t limit) {
  auto detail = std::make_shared<SnapshotLimitDetail>();
  std::string message = "snapshot session " + dimension + " " + std::to_string(actual) +
                        " exceeds limit " + std::to_string(limit);
  detail->limit = ErrorResponse::LimitExceeded{std::move(dimension), actual, limit};
  return Status(ErrorCode::kSnapshotSessionLimitExceeded, std::move(message))
      .WithDetail(std::move(detail));
}

bool IsProtocolErrorCode(ErrorCode code) noexcept {
  const auto v = static_cast<unsigned>(code);
  return v >= static_cast<unsigned>(ErrorCode::kAuthenticationFailed) &&
         v <= static_cast<unsigned>(ErrorCode::kPayloadTooLarge);
}

ErrorResponse ErrorResponseFromStatus(const Status& status, ErrorCode internal_code,
                                      std::string_view internal_message) {
  ErrorResponse body;
  if (!IsProtocolErrorCode(status.code())) {
    body.error = std::string(ErrorInfoFor(internal_code).wire_name);
    body.message = std::string(internal_message);
    return body;
  }
  body.error = std::string(status.info().wire_name);
  body.message = status.message();
  if (const auto* retired = status.detail<SourceRetiredDetail>()) {
    body.source_id = retired->source_id;
    body.replaced_by_source_id = retired->replaced_by_source_id;
  }
  if (const auto* conflict = status.detail<PushConflictDetail>()) {
    body.conflict = conflict->conflict;
  }
  if (const auto* too_small = status.detail<SnapshotChunkTooSmallDetail>()) {
    body.required_byte_count = too_small->required_byte_count;
  }
  if (const auto* limit = status.detail<SnapshotLimitDetail>()) {
    body.limit_exceeded = limit->limit;
  }
  return body;
}

}  // namespace oversync::protocol
