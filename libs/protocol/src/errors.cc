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
  return body;
}

}  // namespace oversync::protocol
