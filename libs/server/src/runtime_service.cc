#include "oversync/server/runtime_service.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "adoption.h"
#include "runtime_internal.h"
#include "schema_layout.h"

namespace oversync {

RuntimeService::RuntimeService(std::unique_ptr<internal::RuntimeState> impl) : impl_(std::move(impl)) {}
RuntimeService::~RuntimeService() { Shutdown(); }

Result<std::unique_ptr<RuntimeService>> RuntimeService::Create(ServiceConfig config,
                                                               RuntimeOptions options) {
  auto impl = std::make_unique<internal::RuntimeState>();
  OVERSYNC_ASSIGN_OR_RETURN(impl->config, ResolveServiceConfig(std::move(config)));
  OVERSYNC_ASSIGN_OR_RETURN(impl->tables, NormalizeRegisteredTables(impl->config.registered_tables));
  OVERSYNC_ASSIGN_OR_RETURN(impl->profile, protocol::FindWireProfile(impl->config.wire_profile));
  impl->clock = options.clock != nullptr ? options.clock : &impl->default_clock;
  impl->random = options.random != nullptr ? options.random : &impl->default_random;
  impl->logger = options.logger != nullptr ? options.logger : &impl->default_logger;
  impl->dsn = options.database_url;
  if (impl->config.bundle_change_watch.enabled) impl->watch_hub = std::make_shared<WatchHub>();
  pg::PgPool::Options pool_options;
  pool_options.dsn = std::move(options.database_url);
  pool_options.max_connections = options.max_connections;
  OVERSYNC_ASSIGN_OR_RETURN(impl->pool, pg::PgPool::Create(std::move(pool_options)));
  return std::unique_ptr<RuntimeService>(new RuntimeService(std::move(impl)));  // NOLINT
}

protocol::WireProfileId RuntimeService::wire_profile() const noexcept { return impl_->profile->id(); }

bool RuntimeService::IsReservedSourceId(std::string_view source_id) const noexcept {
  const std::vector<std::string>& reserved = impl_->config.reserved_server_source_ids;
  return std::find(reserved.begin(), reserved.end(), source_id) != reserved.end();
}
Result<BootstrapReport> RuntimeService::Bootstrap() {
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
  // Validate everything about the business tables before touching the `sync` schema, so a
  // rejected configuration leaves the database as it was.
  OVERSYNC_ASSIGN_OR_RETURN(std::vector<bootstrap::TableInfo> tables,
                            bootstrap::ValidateRegisteredTables(*conn, impl_->tables));
  if (impl_->profile->id() == protocol::WireProfileId::kJcsUniformNumericStringsV1) {
    OVERSYNC_RETURN_IF_ERROR(bootstrap::ValidateProfileBColumnTypes(*conn, impl_->tables));
  }
  OVERSYNC_ASSIGN_OR_RETURN(TableDependencies dependencies,
                            bootstrap::ValidateForeignKeys(*conn, tables));
  BootstrapReport report;
  std::set<std::string> names;
  for (const bootstrap::TableInfo& t : tables) names.insert(t.table.qualified());
  MergeDependencyOverrides(dependencies, names, impl_->config.dependency_overrides);
  std::string order_text;
  for (const std::vector<std::string>& component : OrderTables(names, dependencies)) {
    for (const std::string& table : component) report.table_order.push_back(table);
    if (!order_text.empty()) order_text += ", ";
    order_text += component.size() == 1 ? component.front()
                                        : fmt::format("{{{}}}", fmt::join(component, " "));
  }
  // The registered-table runtime is built before the layout, which may need it to finalize
  // adoption baselines. A re-bootstrap of a running service (the example server's /test/reset)
  // re-validates and re-creates the layout but keeps the runtime it already serves with: the
  // configuration is immutable, so the validated shapes are the same, and replacing them would
  // race with in-flight operations.
  const bool first_bootstrap = !impl_->bootstrapped;
  if (first_bootstrap) {
    impl_->registered.clear();
    for (const bootstrap::TableInfo& info : tables) {
      RegisteredTableRuntime runtime;
      runtime.shape.schema = info.table.schema;
      runtime.shape.table = info.table.table;
      runtime.shape.key_column = info.table.sync_key_column;
      runtime.shape.key_kind = info.key_kind;
      for (const auto& [column, type] : info.column_types) {
        if (type == "bytea") runtime.shape.bytea_columns.push_back(column);
        runtime.wire_types.emplace(column, protocol::WireValueTypeFromPostgres(type));
      }
      runtime.info = info;
      impl_->registered.push_back(std::move(runtime));
    }
    impl_->lookup = std::make_unique<RegisteredTableLookup>(&impl_->registered);
    impl_->dependency_order.clear();
    for (const std::string& name : report.table_order) {
      for (const RegisteredTableRuntime& t : impl_->registered) {
        if (t.info.table.qualified() == name) impl_->dependency_order.push_back(&t);
      }
    }
  }
  const bool profile_b = impl_->profile->id() == protocol::WireProfileId::kJcsUniformNumericStringsV1;
  const auto create_profile_b_tables = [](pg::PgConnection& tx) -> Status {
    for (const std::string_view statement : layout::ProfileBStatements()) {
      OVERSYNC_RETURN_IF_ERROR(tx.ExecScript(statement));
    }
    return {};
  };
  // A new layout commits together with its triggers and the adoption of the rows the registered
  // tables already hold (protocol-b.md §8.2), so no write falls between them.
  int installed_at_creation = 0;
  AdoptionSummary adopted;
  const auto on_fresh_layout = [&](pg::PgConnection& tx) -> Status {
    adopted = AdoptionSummary{};
    if (profile_b) OVERSYNC_RETURN_IF_ERROR(create_profile_b_tables(tx));
    OVERSYNC_ASSIGN_OR_RETURN(installed_at_creation,
                              bootstrap::InstallCaptureTriggersInTx(tx, tables));
    if (impl_->config.adopt_populated_tables) {
      OVERSYNC_ASSIGN_OR_RETURN(adopted, AdoptPopulatedTables(*impl_, tx));
    }
    return {};
  };
  OVERSYNC_ASSIGN_OR_RETURN(report.created_layout,
                            bootstrap::EnsureSyncLayout(*conn, tables, on_fresh_layout));
  if (!report.created_layout) installed_at_creation = 0;
  OVERSYNC_ASSIGN_OR_RETURN(report.trigger_tables_installed,
                            bootstrap::InstallCaptureTriggers(*conn, tables));
  report.trigger_tables_installed += installed_at_creation;
  report.adopted_scopes = report.created_layout ? adopted.scopes : 0;
  report.adopted_rows = report.created_layout ? adopted.rows : 0;
  if (profile_b) {
    // Idempotent, under the bootstrap lock so concurrent starts do not race on CREATE TABLE.
    const Status created = pg::WithRetry(3, std::chrono::milliseconds(50), [&]() -> Status {
      return pg::InTransaction(*conn, pg::Isolation::kReadCommitted,
                               [&](pg::PgConnection& tx) -> Status {
        OVERSYNC_RETURN_IF_ERROR(tx.Exec("SELECT pg_advisory_xact_lock($1)",
                                         {std::to_string(layout::kBootstrapLockKey)}));
        return create_profile_b_tables(tx);
      });
    });
    if (!created.ok()) return Error(created);
  }
  impl_->logger->Log(LogLevel::kInfo, "bootstrap",
                     fmt::format("sync layout {}; {} registered tables; triggers (re)installed on "
                                 "{}; adopted {} rows of {} populated scopes; table order (FK "
                                 "cycles in braces): {}",
                                 report.created_layout ? "created" : "validated", tables.size(),
                                 report.trigger_tables_installed, report.adopted_rows,
                                 report.adopted_scopes, order_text));
  if (!first_bootstrap) return report;
  if (impl_->watch_hub) {
    impl_->watch_listener = std::make_unique<WatchListener>(
        impl_->dsn, impl_->config.bundle_change_watch.notify_channel, impl_->watch_hub,
        impl_->logger);
    OVERSYNC_RETURN_IF_ERROR(impl_->watch_listener->Start());
    // Commits after Bootstrap returns wake subscribers. If LISTEN is not in place in time the
    // listener keeps retrying, and its catch-up covers what was committed meanwhile.
    if (!impl_->watch_listener->WaitUntilListening(std::chrono::seconds(10))) {
      impl_->logger->Log(LogLevel::kWarn, "watch",
                         "bundle-change listener is not listening yet; retrying in background");
    }
  }
  if (impl_->config.background_retention) {
    impl_->retention = std::make_unique<RetentionWorker>(
        impl_->pool.get(), impl_->logger, impl_->config.retention_prune_batch_size,
        impl_->config.retention_sweep_interval);
    impl_->retention->Start();
  }
  {
    // Read under this mutex by BeginOperation and GetStatus, which may already be serving.
    std::lock_guard lock(impl_->lifecycle_mu);
    impl_->bootstrapped = true;
  }
  return report;
}

void RuntimeService::Shutdown() {
  std::unique_lock lock(impl_->lifecycle_mu);
  if (impl_->lifecycle == Lifecycle::kClosed) return;
  impl_->lifecycle = Lifecycle::kShuttingDown;
  // Watch streams are not in-flight operations: end them instead of waiting for them.
  if (impl_->watch_hub) impl_->watch_hub->Close();
  impl_->drained.wait(lock, [&] { return impl_->inflight == 0; });
  impl_->lifecycle = Lifecycle::kClosed;
  lock.unlock();
  if (impl_->watch_listener) impl_->watch_listener->Stop();
  if (impl_->retention) impl_->retention->Stop();
}

Result<std::int64_t> RuntimeService::RunRetentionPass() {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  return RetentionWorker::PruneAll(*impl_->pool, impl_->config.retention_prune_batch_size);
}

const ServiceConfig& RuntimeService::config() const noexcept { return impl_->config; }

const std::vector<NormalizedTable>& RuntimeService::registered_tables() const noexcept {
  return impl_->tables;
}

}  // namespace oversync
