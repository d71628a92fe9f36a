// File: oversync/server/runtime_service.h
//
// RuntimeService: the authoritative side of oversync (go-oversync's oversync.SyncService /
// NewRuntimeService). It owns a PostgreSQL connection pool, validates the registered business
// tables and the `sync` layout at Bootstrap, and serves the sync operations.
//
// Lifecycle: Create (no database access beyond opening one pooled connection to check the URL)
// -> Bootstrap (fail-closed validation and layout creation) -> operations -> Shutdown.
//
// Thread-safety: thread-safe after Bootstrap returned OK; Bootstrap itself must not run
// concurrently with other calls on the same object. Any number of processes may bootstrap and
// serve the same database concurrently (state lives in PostgreSQL).
#ifndef OVERSYNC_SERVER_RUNTIME_SERVICE_H_
#define OVERSYNC_SERVER_RUNTIME_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "oversync/common/clock.h"
#include "oversync/common/logger.h"
#include "oversync/common/random.h"
#include "oversync/common/status.h"
#include "oversync/server/config.h"

namespace oversync {

struct RuntimeOptions {
  // libpq connection string or postgres:// URL.
  std::string database_url;
  int max_connections = 10;
  // Injected dependencies; nullptr selects SystemClock / CryptoRandom / NullLogger. Non-null
  // pointers must outlive the service.
  const Clock* clock = nullptr;
  RandomSource* random = nullptr;
  Logger* logger = nullptr;
};

// What Bootstrap did, for logs and tests.
struct BootstrapReport {
  bool created_layout = false;       // false: an existing layout was validated, no DDL ran
  int trigger_tables_installed = 0;  // tables whose triggers were (re)created
};

class RuntimeService {
 public:
  // Validates and resolves `config` and opens the pool. Errors: kInvalidArgument (config),
  // kUnsupportedSchema (registered-table names), kUnavailable (database unreachable).
  static Result<std::unique_ptr<RuntimeService>> Create(ServiceConfig config,
                                                        RuntimeOptions options);
  ~RuntimeService();
  RuntimeService(const RuntimeService&) = delete;
  RuntimeService& operator=(const RuntimeService&) = delete;

  // server.md §1.14 and §2: validates the registered tables (types, unique identity, FK
  // closure, scope-inclusive and deferrable FKs), creates the `sync` layout or validates an
  // existing one (running no DDL when it matches), installs capture triggers where they differ.
  // Errors: kUnsupportedSchema with go-oversync's messages (fail closed: nothing is created when
  // table validation fails); kFailedPrecondition for a missing table; kDatabase/kUnavailable.
  Result<BootstrapReport> Bootstrap();

  const ServiceConfig& config() const noexcept;
  // Registered tables after normalization, in configuration order, with their table ids.
  const std::vector<NormalizedTable>& registered_tables() const noexcept;

 private:
  struct Impl;
  explicit RuntimeService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace oversync

#endif  // OVERSYNC_SERVER_RUNTIME_SERVICE_H_
