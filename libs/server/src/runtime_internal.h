// Private state of RuntimeService shared by the operation files (runtime_service.cc, scope.cc,
// push.cc, finalize.cc, read.cc).
#ifndef OVERSYNC_SERVER_SRC_RUNTIME_INTERNAL_H_
#define OVERSYNC_SERVER_SRC_RUNTIME_INTERNAL_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bootstrap.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/push_validation.h"
#include "oversync/protocol/wire_profile.h"
#include "oversync/protocol/wire_values.h"
#include "oversync/server/runtime_service.h"
#include "pg.h"
#include "retention.h"
#include "watch.h"

namespace oversync {

// Serializes the write operations of one user inside this process, so that waiters queue here
// instead of holding pooled connections while blocked on the PostgreSQL advisory lock (which
// still excludes other processes, Go servers included). Thread-safe.
class UserLocks {
 public:
  class Guard {
   public:
    Guard(UserLocks* owner, std::string user_id, std::shared_ptr<std::mutex> mu)
        : owner_(owner), user_id_(std::move(user_id)), mu_(std::move(mu)) {}
    Guard(Guard&& other) noexcept = default;
    Guard& operator=(Guard&&) = delete;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard();

   private:
    UserLocks* owner_;
    std::string user_id_;
    std::shared_ptr<std::mutex> mu_;
  };
  Guard Lock(const std::string& user_id);

 private:
  struct Entry {
    std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
    int users = 0;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
};

struct RegisteredTableRuntime {
  bootstrap::TableInfo info;
  protocol::TableShape shape;  // for push validation
  // Profile B's value type of each column (lowercase name), resolved once from info.column_types
  // instead of per rendered value.
  std::map<std::string, protocol::WireValueType, std::less<>> wire_types;
};

// Table lookup for push validation backed by the bootstrapped tables.
class RegisteredTableLookup final : public protocol::TableLookup {
 public:
  explicit RegisteredTableLookup(const std::vector<RegisteredTableRuntime>* tables) : tables_(tables) {}
  const protocol::TableShape* Find(std::string_view schema, std::string_view table) const override;

 private:
  const std::vector<RegisteredTableRuntime>* tables_;
};

enum class Lifecycle { kRunning, kShuttingDown, kClosed };

namespace internal {
struct RuntimeState {
  ServiceConfig config;
  std::vector<NormalizedTable> tables;
  std::string dsn;
  std::unique_ptr<pg::PgPool> pool;
  SystemClock default_clock;
  CryptoRandom default_random;
  NullLogger default_logger;
  const Clock* clock = nullptr;
  RandomSource* random = nullptr;
  Logger* logger = nullptr;
  const protocol::WireProfile* profile = &protocol::GoCanonicalV1Profile();

  // Set by Bootstrap; read-only afterwards.
  std::vector<RegisteredTableRuntime> registered;
  // The same tables, parents before children (BootstrapReport::table_order).
  std::vector<const RegisteredTableRuntime*> dependency_order;
  std::unique_ptr<RegisteredTableLookup> lookup;
  bool bootstrapped = false;

  UserLocks user_locks;

  // Bundle-change watch (only when enabled): the hub lives as long as any subscription; the
  // listener thread runs from Bootstrap to Shutdown.
  std::shared_ptr<WatchHub> watch_hub;
  std::unique_ptr<WatchListener> watch_listener;

  // Deletes pruned bundles off the request path (started by Bootstrap when configured).
  std::unique_ptr<RetentionWorker> retention;
  // After a commit that advanced the scope's floor.
  void MarkRetention(std::int64_t user_pk) {
    if (retention) retention->MarkDirty(user_pk);
  }

  // Injected RandomSources need only be thread-compatible; operations of different users run
  // concurrently, so draws are serialized here.
  std::mutex random_mu;
  std::string NewUuidText();

  // Profile B admission (protocol-b.md §5.10-§5.11): snapshot builds and chunk reads in flight
  // in this process; beyond the configured maxima requests get 429.
  std::atomic<std::int64_t> snapshot_builds{0};
  std::atomic<std::int64_t> snapshot_chunk_reads{0};

  std::mutex lifecycle_mu;
  std::condition_variable drained;
  Lifecycle lifecycle = Lifecycle::kRunning;  // guarded by lifecycle_mu
  int inflight = 0;                           // guarded by lifecycle_mu

  const RegisteredTableRuntime* TableById(std::int32_t table_id) const noexcept;
  // The registered table whose validation shape `lookup` handed out.
  const RegisteredTableRuntime* TableByShape(const protocol::TableShape* shape) const noexcept;
};
}  // namespace internal

// A counting admission permit: Acquire fails when `limit` holders exist; the destructor
// releases. Lock-free; thread-safe.
class AdmissionPermit {
 public:
  static std::optional<AdmissionPermit> Acquire(std::atomic<std::int64_t>& counter,
                                                std::int64_t limit) {
    if (counter.fetch_add(1) >= limit) {
      counter.fetch_sub(1);
      return std::nullopt;
    }
    return AdmissionPermit(&counter);
  }
  AdmissionPermit(AdmissionPermit&& other) noexcept
      : counter_(std::exchange(other.counter_, nullptr)) {}
  AdmissionPermit& operator=(AdmissionPermit&&) = delete;
  AdmissionPermit(const AdmissionPermit&) = delete;
  AdmissionPermit& operator=(const AdmissionPermit&) = delete;
  ~AdmissionPermit() {
    if (counter_ != nullptr) counter_->fetch_sub(1);
  }

 private:
  explicit AdmissionPermit(std::atomic<std::int64_t>* counter) : counter_(counter) {}
  std::atomic<std::int64_t>* counter_;
};

// RAII in-flight operation (server.md §7.4).
class OperationToken {
 public:
  explicit OperationToken(internal::RuntimeState* impl) : impl_(impl) {}
  OperationToken(OperationToken&& other) noexcept : impl_(std::exchange(other.impl_, nullptr)) {}
  OperationToken& operator=(OperationToken&&) = delete;
  OperationToken(const OperationToken&) = delete;
  OperationToken& operator=(const OperationToken&) = delete;
  ~OperationToken();

 private:
  internal::RuntimeState* impl_;
};

// Errors: kServiceUnavailable "sync service is shutting down"; kInternal once closed or before
// Bootstrap.
Result<OperationToken> BeginOperation(internal::RuntimeState& impl);

// Times one stage of an operation for ServiceConfig::stage_metrics / log_stage_timings
// (server.md §8.2). Reads no clock when neither is configured. Finish() reports once; a timer
// destroyed unfinished (an early error return) reports the stage as failed.
class StageTimer {
 public:
  StageTimer(const internal::RuntimeState& impl, std::string_view operation,
             std::string_view stage);
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;
  ~StageTimer();

  // `status` decides `error` (kServiceUnavailable "shutting down" is not an error).
  void Finish(const Status& status, std::int64_t count = 0, int attempt = 1);

 private:
  const internal::RuntimeState* impl_;  // nullptr when timing is disabled or finished
  std::string_view operation_;
  std::string_view stage_;
  TimePoint start_{};
};

// ---- shared helpers ----

// The current time as a timestamptz parameter (microsecond RFC 3339).
std::string TimestampParam(TimePoint t);
// Parses a timestamptz rendered with extract(epoch) * 1e6 as bigint.
TimePoint FromEpochMicros(std::int64_t micros);

// Key bytes (storage) <-> wire key text (protocol.md §2.9).
std::string KeyBytesFromWire(protocol::SyncKeyKind kind, std::string_view key_text);
std::string KeyTextFromBytes(protocol::SyncKeyKind kind, std::string_view key_bytes);
protocol::JsonValue WireKey(const RegisteredTableRuntime& table, std::string_view key_text);

// SQL for a registered table's sync key (protocol.md §2.9): the key bytes of business row `src`,
// and the key column value of row_state row `rs` (its inverse).
std::string KeyBytesExpr(const RegisteredTableRuntime& table);
std::string KeyFromBytesExpr(const RegisteredTableRuntime& table);

// Runs `body` in a READ COMMITTED transaction whose first statement takes the user's advisory
// transaction lock (hashtextextended(user_id, 0): the key Go's session lock uses), under the
// in-process user lock, retrying retryable SQLSTATEs `attempts` times (25 ms x attempt). Each
// attempt is reported as the `operation`'s "transaction" stage.
Status RunUserTransaction(internal::RuntimeState& impl, std::string_view operation,
                          const std::string& user_id, int attempts,
                          const std::function<Status(pg::PgConnection&)>& body);

// Sets the transaction-local bundle context (server.md §1.13).
Status SetBundleContext(pg::PgConnection& tx, const std::string& user_id, std::int64_t user_pk,
                        const std::string& source_id, std::int64_t source_bundle_id,
                        const std::string& initialization_id);

struct FinalizedBundle {
  std::int64_t bundle_seq = 0;
  std::int64_t row_count = 0;
  std::string bundle_hash;
};

// Turns this transaction's captured effects into one bundle (server.md §3.2), records it,
// advances row_state, notifies watchers and clears the stage. nullopt when nothing was captured
// (or everything normalized away).
// bundle_log always gets go-oversync's (profile A) hash, so Go servers sharing the database can
// serve the bundle; a profile-B service also records its own hash, the exact row images that
// payload_wire rounded and `canonical_request_hash` (docs/wire-profiles.md), and returns the
// profile-B hash in FinalizedBundle::bundle_hash. `request_hash_from_rows` (an adoption
// baseline, protocol-b.md §8.2) makes a profile-B service record as canonical_request_hash the
// request hash of the bundle's own rows uploaded with base_row_version 0, instead of
// `canonical_request_hash`.
Result<std::optional<FinalizedBundle>> FinalizeBundle(internal::RuntimeState& impl,
                                                      pg::PgConnection& tx, std::int64_t user_pk,
                                                      const std::string& source_id,
                                                      std::int64_t source_bundle_id,
                                                      const std::string& canonical_request_hash =
                                                          std::string(),
                                                      bool request_hash_from_rows = false);

// Source activation after a committed bundle (server.md §4.6) and the retained-floor advance of
// retention (§7.1). Returns whether the floor moved (the caller marks the scope for the
// retention worker once the transaction committed).
Result<bool> ActivateSourceAndRetain(internal::RuntimeState& impl, pg::PgConnection& tx,
                               std::int64_t user_pk, const std::string& user_id,
                               const std::string& source_id, std::int64_t source_bundle_id,
                               std::int64_t bundle_seq);

// Converts a PostgreSQL to_jsonb row text to the wire payload (server.md §3.4): bytea columns
// re-encoded as base64, `_sync_scope_id` removed. `canonical` forces Go canonical output (bundle
// payloads); otherwise the original text is returned untouched when nothing had to change.
// `value_out`, when given, receives the converted payload as a value (what the text encodes).
Result<std::string> WirePayloadFromDb(const RegisteredTableRuntime& table, std::string_view text,
                                      bool canonical, protocol::JsonParser& parser,
                                      protocol::JsonValue* value_out = nullptr);

}  // namespace oversync

#endif  // OVERSYNC_SERVER_SRC_RUNTIME_INTERNAL_H_
