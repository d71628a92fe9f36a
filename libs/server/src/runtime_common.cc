#include <algorithm>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "oversync/common/rfc3339.h"
#include "oversync/common/uuid.h"
#include "runtime_internal.h"

namespace oversync {

UserLocks::Guard UserLocks::Lock(const std::string& user_id) {
  std::shared_ptr<std::mutex> mu;
  {
    std::lock_guard lock(mu_);
    Entry& entry = entries_[user_id];
    ++entry.users;
    mu = entry.mu;
  }
  mu->lock();
  return Guard(this, user_id, std::move(mu));
}

UserLocks::Guard::~Guard() {
  if (!mu_) return;
  mu_->unlock();
  std::lock_guard lock(owner_->mu_);
  auto it = owner_->entries_.find(user_id_);
  if (it != owner_->entries_.end() && --it->second.users == 0) owner_->entries_.erase(it);
}

const protocol::TableShape* RegisteredTableLookup::Find(std::string_view schema,
                                                        std::string_view table) const {
  for (const RegisteredTableRuntime& t : *tables_) {
    if (t.shape.schema == schema && t.shape.table == table) return &t.shape;
  }
  return nullptr;
}

const RegisteredTableRuntime* internal::RuntimeState::TableById(std::int32_t table_id) const noexcept {
  for (const RegisteredTableRuntime& t : registered) {
    if (t.info.table.table_id == table_id) return &t;
  }
  return nullptr;
}

const RegisteredTableRuntime* internal::RuntimeState::TableByShape(
    const protocol::TableShape* shape) const noexcept {
  for (const RegisteredTableRuntime& t : registered) {
    if (&t.shape == shape) return &t;
  }
  return nullptr;
}

StageTimer::StageTimer(const internal::RuntimeState& impl, std::string_view operation,
                       std::string_view stage)
    : impl_(impl.config.stage_metrics || impl.config.log_stage_timings ? &impl : nullptr),
      operation_(operation),
      stage_(stage) {
  if (impl_ != nullptr) start_ = impl_->clock->Now();
}

StageTimer::~StageTimer() {
  if (impl_ != nullptr) Finish(Status(ErrorCode::kInternal, "stage did not finish"));
}

void StageTimer::Finish(const Status& status, std::int64_t count, int attempt) {
  if (impl_ == nullptr) return;
  const internal::RuntimeState& impl = *std::exchange(impl_, nullptr);
  StageTiming timing;
  timing.operation = operation_;
  timing.stage = stage_;
  timing.duration = std::max(std::chrono::nanoseconds(0), impl.clock->Now() - start_);
  timing.count = count;
  timing.attempt = attempt;
  timing.error = !status.ok() && status.code() != ErrorCode::kServiceUnavailable;
  if (impl.config.stage_metrics) impl.config.stage_metrics->ObserveStage(timing);
  if (impl.config.log_stage_timings) {
    impl.logger->Log(LogLevel::kDebug, "oversync",
                     fmt::format("stage timing op={} stage={} duration_us={} count={} attempt={} "
                                 "error={}",
                                 timing.operation, timing.stage,
                                 std::chrono::duration_cast<std::chrono::microseconds>(
                                     timing.duration).count(),
                                 timing.count, timing.attempt, timing.error));
  }
}

std::string KeyBytesExpr(const RegisteredTableRuntime& table) {
  const std::string column = "src." + pg::QuoteIdent(table.shape.key_column);
  return table.shape.key_kind == protocol::SyncKeyKind::kUuid
             ? "uuid_send(" + column + ")"
             : "convert_to(" + column + ", 'UTF8')";
}

std::string KeyFromBytesExpr(const RegisteredTableRuntime& table) {
  return table.shape.key_kind == protocol::SyncKeyKind::kUuid
             ? "encode(rs.key_bytes, 'hex')::uuid"
             : "convert_from(rs.key_bytes, 'UTF8')";
}

std::string internal::RuntimeState::NewUuidText() {
  std::lock_guard lock(random_mu);
  return Uuid::NewV4(*random).ToString();
}

OperationToken::~OperationToken() {
  if (impl_ == nullptr) return;
  std::lock_guard lock(impl_->lifecycle_mu);
  if (--impl_->inflight == 0) impl_->drained.notify_all();
}

Result<OperationToken> BeginOperation(internal::RuntimeState& impl) {
  std::lock_guard lock(impl.lifecycle_mu);
  if (impl.lifecycle == Lifecycle::kShuttingDown) {
    return Error(ErrorCode::kServiceUnavailable, "sync service is shutting down");
  }
  if (impl.lifecycle == Lifecycle::kClosed) {
    return Error(ErrorCode::kInternal, "sync service has been closed");
  }
  // protocol-b.md §1.4 (go-oversync 95bbd38), both profiles: a service that has not finished
  // Bootstrap is not ready yet, which is a 503 a client retries, not a server fault.
  if (!impl.bootstrapped) {
    return Error(ErrorCode::kServiceUnavailable, std::string(kBootstrapIncompleteMessage));
  }
  ++impl.inflight;
  return OperationToken(&impl);
}

std::string TimestampParam(TimePoint t) { return FormatRfc3339Nano(t); }

TimePoint FromEpochMicros(std::int64_t micros) {
  return TimePoint(std::chrono::microseconds(micros));
}

std::string KeyBytesFromWire(protocol::SyncKeyKind kind, std::string_view key_text) {
  if (kind == protocol::SyncKeyKind::kUuid) {
    auto uuid = Uuid::ParseCanonical(key_text);
    if (!uuid) return {};
    const auto& b = uuid->bytes();
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  return std::string(key_text);
}

std::string KeyTextFromBytes(protocol::SyncKeyKind kind, std::string_view key_bytes) {
  if (kind == protocol::SyncKeyKind::kUuid && key_bytes.size() == 16) {
    Uuid::Bytes b{};
    for (std::size_t i = 0; i < 16; ++i) b[i] = static_cast<std::uint8_t>(key_bytes[i]);
    return Uuid(b).ToString();
  }
  return std::string(key_bytes);
}

protocol::JsonValue WireKey(const RegisteredTableRuntime& table, std::string_view key_text) {
  protocol::JsonValue key = protocol::JsonValue::Object();
  key.Add(table.shape.key_column, protocol::JsonValue::String(std::string(key_text)));
  return key;
}

Status RunUserTransaction(internal::RuntimeState& impl, std::string_view operation,
                          const std::string& user_id, int attempts,
                          const std::function<Status(pg::PgConnection&)>& body) {
  // Waiting for this process's other operations of the same user, then for a connection.
  StageTimer lock_wait(impl, operation, "lock_wait");
  UserLocks::Guard user_guard = impl.user_locks.Lock(user_id);
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl.pool->Acquire());
  lock_wait.Finish(Status());
  int attempt = 0;
  return pg::WithRetry(attempts, std::chrono::milliseconds(25), [&]() -> Status {
    ++attempt;
    StageTimer timer(impl, operation, "transaction");
    Status status = pg::InTransaction(*conn, pg::Isolation::kReadCommitted,
                             [&](pg::PgConnection& tx) -> Status {
                               // Waiting for other processes (Go servers included).
                               StageTimer advisory(impl, operation, "advisory_lock");
                               OVERSYNC_RETURN_IF_ERROR(tx.Exec(
                                   "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                                   {user_id}));
                               advisory.Finish(Status(), 0, attempt);
                               if (impl.config.upload_lock_timeout.count() > 0) {
                                 OVERSYNC_RETURN_IF_ERROR(tx.ExecScript(fmt::format(
                                     "SET LOCAL lock_timeout = '{}ms'",
                                     impl.config.upload_lock_timeout.count())));
                               }
                               return body(tx);
                             });
    timer.Finish(status, 0, attempt);
    return status;
  });
}

Status SetBundleContext(pg::PgConnection& tx, const std::string& user_id, std::int64_t user_pk,
                        const std::string& source_id, std::int64_t source_bundle_id,
                        const std::string& initialization_id) {
  // Refuse to nest two bundles in one transaction (server.md §1.13).
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult current, tx.Exec(
      "SELECT COALESCE(current_setting('oversync.bundle_user_id', true), ''), "
      "COALESCE(current_setting('oversync.bundle_source_id', true), '')"));
  if ((!current.Text(0, 0).empty() && current.Text(0, 0) != user_id) ||
      (!current.Text(0, 1).empty() && current.Text(0, 1) != source_id)) {
    return {ErrorCode::kInternal,
            "transaction already carries conflicting sync bundle context for oversync.bundle_user_id"};
  }
  OVERSYNC_RETURN_IF_ERROR(tx.Exec(
      "SELECT set_config('oversync.bundle_user_id', $1, true), "
      "set_config('oversync.bundle_user_pk', $2, true), "
      "set_config('oversync.bundle_source_id', $3, true), "
      "set_config('oversync.bundle_source_bundle_id', $4, true), "
      "set_config('oversync.bundle_initialization_id', $5, true)",
      {user_id, std::to_string(user_pk), source_id, std::to_string(source_bundle_id),
       initialization_id}));
  return {};
}

}  // namespace oversync
