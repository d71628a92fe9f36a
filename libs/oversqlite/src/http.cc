// File: libs/oversqlite/src/http.cc
//
// Requests to the sync server (client.md Appendix A): auth and source headers on every request,
// non-2xx answers decoded into typed errors, and the retry policy (client.md §1.1, §4.8).
#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client_impl.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/json_value.h"

namespace oversync::oversqlite {
namespace {

bool IsRetryableHttpStatus(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

bool IsSnapshotCapacityCode(std::string_view error_code) {
  return error_code == "snapshot_build_capacity" || error_code == "snapshot_chunk_capacity";
}
}  // namespace

std::optional<std::int64_t> internal::ParseRetryAfterMillis(std::string_view value) {
  // snapshot-capacity-retry-v1: only positive delta-seconds count; HTTP dates, fractions,
  // signs and 0 fall back to the default delay. Capped at one hour.
  if (value.empty() || value.size() > 9) return std::nullopt;
  std::int64_t seconds = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  if (seconds <= 0) return std::nullopt;
  return std::min<std::int64_t>(seconds, 3600) * 1000;
}

std::string internal::PathEscape(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (const char c : segment) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~' || c == '$' || c == '&' || c == '+' ||
                      c == ',' || c == ':' || c == ';' || c == '=' || c == '@';
    if (keep) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4U];
      out += kHex[byte & 0x0FU];
    }
  }
  return out;
}

Result<HttpResponse> Client::Impl::CallRaw(std::string_view method, std::string_view path_and_query,
                                           std::optional<std::string> body, bool /*trim_base_slash*/) {
  // Go trims a trailing '/' of the base URL only for capabilities/connect/watch (client.md
  // Appendix A quirk); trimming it everywhere avoids "//sync/..." paths the server does not route.
  std::string_view base = base_url_;
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  HttpRequest request;
  request.method = std::string(method);
  request.url = fmt::format("{}{}", base, path_and_query);
  request.timeout_ms = config_.http_timeout.count();
  if (!token_provider_) return Error(ErrorCode::kInvalidArgument, "no token provider configured");
  Result<std::string> token = token_provider_();
  if (!token) return Error(token.error().WithContext("token provider"));
  request.headers.emplace_back("Authorization", "Bearer " + *token);
  if (std::string source = SourceId(); !source.empty()) {
    request.headers.emplace_back("Oversync-Source-ID", std::move(source));
  }
  if (body.has_value()) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = std::move(*body);
  }
  return transport_->Send(request);
}

Result<HttpResponse> Client::Impl::Call(std::string_view method, std::string_view path_and_query,
                                        std::optional<std::string> body, bool trim_base_slash) {
  OVERSYNC_ASSIGN_OR_RETURN(HttpResponse response,
                            CallRaw(method, path_and_query, std::move(body), trim_base_slash));
  if (response.status < 200 || response.status > 299) return Error(ErrorFromResponse(response));
  return response;
}

Status Client::Impl::ErrorFromResponse(const HttpResponse& response) const {
  ClientErrorDetail detail;
  detail.kind = ClientErrorKind::kHttp;
  detail.http_status = response.status;
  detail.raw_body = response.body;
  for (const auto& [name, value] : response.headers) {
    if (name == "retry-after") detail.retry_after_ms = internal::ParseRetryAfterMillis(value).value_or(0);
  }
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  if (auto decoded = protocol::DecodeErrorResponse(response.body); decoded && !decoded->error.empty()) {
    detail.error_code = decoded->error;
    code = ErrorCodeFromWireName(decoded->error);
    detail.source_id = decoded->source_id;
    detail.replaced_by_source_id = decoded->replaced_by_source_id;
    detail.conflict = decoded->conflict;
    if (decoded->error == "history_pruned") detail.kind = ClientErrorKind::kHistoryPruned;
    if (decoded->error == "push_conflict" && decoded->conflict.has_value()) {
      detail.kind = ClientErrorKind::kPushConflict;
    }
    message = fmt::format("{}: {}", decoded->error, decoded->message);
  } else {
    std::string_view text = response.body;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    message = fmt::format("HTTP {}: {}", response.status, text.substr(0, 512));
    if (IsRetryableHttpStatus(response.status)) code = ErrorCode::kUnavailable;
    if (response.status == 401) code = ErrorCode::kAuthenticationFailed;
  }
  if (code == ErrorCode::kInternal && IsRetryableHttpStatus(response.status)) code = ErrorCode::kUnavailable;
  return MakeClientError(code, std::move(message), std::move(detail));
}

void Client::Impl::BestEffortDelete(std::string_view path) {
  auto response = CallRaw("DELETE", path, std::nullopt);
  if (!response) {
    Log(LogLevel::kDebug, fmt::format("best-effort DELETE {} failed: {}", path, response.error().ToString()));
  }
}

bool Client::Impl::IsRetryableError(const Status& status) {
  if (status.ok()) return false;
  if (const ClientErrorDetail* detail = ClientErrorOf(status); detail != nullptr) {
    // Capacity answers have their own budget (WithSnapshotCapacityRetry).
    return detail->kind == ClientErrorKind::kHttp && IsRetryableHttpStatus(detail->http_status) &&
           !IsSnapshotCapacityCode(detail->error_code);
  }
  if (status.code() == ErrorCode::kUnavailable || status.code() == ErrorCode::kDeadlineExceeded) return true;
  const std::string& message = status.message();
  return message.find("connection reset by peer") != std::string::npos ||
         message.find("broken pipe") != std::string::npos;
}

Status Client::Impl::WithRetry(std::string_view operation, const std::function<Status()>& attempt) {
  if (!retry_policy_.enabled) return attempt();
  auto delay = std::chrono::duration<double, std::milli>(retry_policy_.initial_backoff.count());
  const auto max_delay = std::chrono::duration<double, std::milli>(retry_policy_.max_backoff.count());
  Status last;
  for (int n = 1; n <= retry_policy_.max_attempts; ++n) {
    last = attempt();
    if (last.ok() || !IsRetryableError(last)) return last;
    if (n == retry_policy_.max_attempts) break;
    double factor = 1.0;
    if (retry_policy_.jitter_fraction > 0) {
      std::uint64_t bits = 0;
      {
        std::lock_guard lock(state_mutex_);
        random_->Fill(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&bits), sizeof bits));
      }
      const double unit = static_cast<double>(bits >> 11) / static_cast<double>(std::uint64_t{1} << 53);
      factor = 1.0 + retry_policy_.jitter_fraction * (2.0 * unit - 1.0);
    }
    const auto wait = std::max(0.0, delay.count() * factor);
    Log(LogLevel::kDebug, fmt::format("{} attempt {} failed ({}); retrying in {:.0f} ms", operation, n,
                                      last.ToString(), wait));
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(wait));
    delay = std::min(delay * 2, max_delay);
  }
  ClientErrorDetail detail;
  detail.kind = ClientErrorKind::kRetryExhausted;
  detail.operation = std::string(operation);
  detail.attempts = retry_policy_.max_attempts;
  detail.last_error = std::make_shared<const Status>(last);
  return MakeClientError(last.code() == ErrorCode::kOk ? ErrorCode::kUnavailable : last.code(),
                         fmt::format("{} failed after {} attempts: {}", operation,
                                     retry_policy_.max_attempts, last.ToString()),
                         std::move(detail));
}

Status Client::Impl::WithSnapshotCapacityRetry(const std::function<Status()>& attempt) {
  constexpr auto kBudget = std::chrono::milliseconds(30'000);
  constexpr std::int64_t kFallbackMs = 1000;
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    Status status = attempt();
    const ClientErrorDetail* detail = ClientErrorOf(status);
    if (status.ok() || detail == nullptr || !IsSnapshotCapacityCode(detail->error_code)) {
      return status;
    }
    const std::int64_t base = detail->retry_after_ms > 0 ? detail->retry_after_ms : kFallbackMs;
    std::uint64_t bits = 0;
    {
      std::lock_guard lock(state_mutex_);
      random_->Fill(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&bits), sizeof bits));
    }
    const double unit = static_cast<double>(bits >> 11) / static_cast<double>(std::uint64_t{1} << 53);
    const auto wait = std::chrono::milliseconds(
        base + static_cast<std::int64_t>(static_cast<double>(base) * unit));  // positive jitter
    if (std::chrono::steady_clock::now() - started + wait > kBudget) return status;
    Log(LogLevel::kInfo, fmt::format("{}; retrying in {} ms", status.message(), wait.count()));
    std::this_thread::sleep_for(wait);
  }
}

Status Client::Impl::CheckServerWireProfile(std::string_view capabilities_body) const {
  // Both contracts share every path and the label "v1"; what tells them apart is that a
  // profile-B server always sends registered_table_specs and the snapshot admission limits
  // (protocol-b.md §5.1), which a go_canonical_v1 server never sends. Naming the mismatch beats
  // the decoder's "missing member" or the first push's 400.
  Result<protocol::JsonValue> document = protocol::ParseJson(capabilities_body);
  if (!document.has_value() || !document->is_object()) return Status::Ok();  // the decoder reports it
  const protocol::JsonValue* limits = document->Find("bundle_limits");
  const bool server_speaks_b = document->Find("registered_table_specs") != nullptr &&
                               limits != nullptr && limits->is_object() &&
                               limits->Find("max_concurrent_snapshot_builds") != nullptr;
  if (server_speaks_b == ProfileB()) return Status::Ok();
  const std::string_view server_profile =
      server_speaks_b ? "jcs_uniform_numeric_strings_v1" : "go_canonical_v1";
  ClientErrorDetail detail;
  detail.kind = ClientErrorKind::kAttachLifecycleUnsupported;
  detail.reason = fmt::format("server speaks wire profile {}", server_profile);
  return MakeClientError(
      ErrorCode::kFailedPrecondition,
      fmt::format("the server at {} speaks wire profile {} but this database syncs with {}; point "
                  "the client at a mount that serves {} (oversyncd serves the other profile under "
                  "OVERSYNCD_SECOND_PROFILE_PATH) or use a new database with Config::wire_profile "
                  "= \"{}\"",
                  base_url_, server_profile, config_.wire_profile, config_.wire_profile,
                  server_profile),
      detail);
}

Result<protocol::CapabilitiesResponse> Client::Impl::FetchCapabilities(std::string_view retry_operation) {
  protocol::CapabilitiesResponse capabilities;
  Status status = WithRetry(retry_operation, [&]() -> Status {
    OVERSYNC_ASSIGN_OR_RETURN(HttpResponse response, Call("GET", "/sync/capabilities", std::nullopt, true));
    OVERSYNC_RETURN_IF_ERROR(CheckServerWireProfile(response.body));
    OVERSYNC_ASSIGN_OR_RETURN(capabilities, protocol::DecodeCapabilitiesResponse(
                                                  response.body, nullptr, WireProfile()));
    return Status::Ok();
  });
  if (!status.ok()) return Error(std::move(status));
  if (ProfileB() && capabilities.protocol_version != "v1") {
    // Not retryable and not a malformed answer: the server speaks another protocol.
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kProtocolVersionMismatch;
    detail.reason = capabilities.protocol_version;
    return Error(MakeClientError(
        ErrorCode::kFailedPrecondition,
        fmt::format("server protocol_version {:?} is not supported; this client speaks \"v1\"",
                    capabilities.protocol_version),
        std::move(detail)));
  }
  return capabilities;
}

Status Client::Impl::CheckRegisteredTables(const protocol::CapabilitiesResponse& capabilities) const {
  if (!ProfileB()) return Status::Ok();
  // kmp-client.md §3.2: a profile-B client syncs exactly the server's registered tables; any
  // difference is a configuration error that retrying cannot fix.
  std::vector<protocol::RegisteredTableSpec> local;
  for (const TableInfo& table : tables_) {
    local.push_back({config_.schema, table.name, {table.key_lower}});
  }
  const protocol::TableSpecComparison compared =
      protocol::CompareTableSpecs(local, capabilities.registered_table_specs);
  if (compared.match()) return Status::Ok();
  std::string keys;
  for (const auto& mismatch : compared.sync_key_mismatches) {
    keys += fmt::format("{}{} (client {}, server {})", keys.empty() ? "" : ", ",
                        mismatch.qualified_table, fmt::join(mismatch.client_sync_key_columns, "+"),
                        fmt::join(mismatch.server_sync_key_columns, "+"));
  }
  return Status(ErrorCode::kFailedPrecondition,
                fmt::format("the server's registered tables differ from this client's: server-only "
                            "[{}], client-only [{}], sync key mismatches [{}]",
                            fmt::join(compared.server_only_tables, ", "),
                            fmt::join(compared.client_only_tables, ", "), keys));
}

Status Client::Impl::VerifyProtocolGate(std::string_view operation) {
  if (!ProtocolGatePending()) return Status::Ok();
  OVERSYNC_ASSIGN_OR_RETURN(protocol::CapabilitiesResponse capabilities,
                            FetchCapabilities(fmt::format("{}_capability_gate", operation)));
  OVERSYNC_RETURN_IF_ERROR(CheckRegisteredTables(capabilities));
  protocol_gate_verified_ = true;
  return Status::Ok();
}

}  // namespace oversync::oversqlite
