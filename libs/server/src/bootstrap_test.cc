// Bootstrap against a real PostgreSQL: server.md §1.14, §2 and the behaviours pinned by
// go-oversync's schema_bootstrap_test.go / bundle_capture_test.go (server.md §9.1). Each test owns
// a fresh database (tests/support).
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "oversync/server/runtime_service.h"
#include "oversync/testing/pg_test_database.h"

namespace oversync {
namespace {

using testing::PgTestDatabase;

class BootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = PgTestDatabase::Create();
    if (!db) {
      if (db.error().code() == ErrorCode::kUnavailable && std::getenv("CI") == nullptr) {
        GTEST_SKIP() << db.error().ToString();
      }
      FAIL() << db.error().ToString();
    }
    db_ = std::move(*db);
  }

  void Sql(const std::string& sql) {
    auto r = db_->QueryScalar(sql);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
  }
  std::string Scalar(const std::string& sql) {
    auto r = db_->QueryScalar(sql);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or("<error>");
  }

  Result<std::unique_ptr<RuntimeService>> Service(std::vector<RegisteredTable> tables) {
    ServiceConfig config;
    config.registered_tables = std::move(tables);
    RuntimeOptions options;
    options.database_url = db_->dsn();
    options.max_connections = 4;
    return RuntimeService::Create(std::move(config), std::move(options));
  }

  // Bootstraps a fresh service; returns its status.
  Result<BootstrapReport> Boot(std::vector<RegisteredTable> tables) {
    OVERSYNC_ASSIGN_OR_RETURN(auto service, Service(std::move(tables)));
    return service->Bootstrap();
  }

  void ExpectUnsupported(std::vector<RegisteredTable> tables, const std::string& fragment) {
    auto report = Boot(std::move(tables));
    ASSERT_FALSE(report.has_value()) << "bootstrap unexpectedly succeeded";
    EXPECT_EQ(report.error().code(), ErrorCode::kUnsupportedSchema) << report.error().ToString();
    EXPECT_NE(report.error().message().find(fragment), std::string::npos)
        << report.error().message();
  }

  void CreateUsersAndFiles() {
    Sql(R"sql(
CREATE SCHEMA business;
CREATE TABLE business.users (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, name TEXT,
  PRIMARY KEY (_sync_scope_id, id));
CREATE TABLE business.files (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, owner_id UUID, data BYTEA,
  PRIMARY KEY (_sync_scope_id, id),
  CONSTRAINT files_owner_fk FOREIGN KEY (_sync_scope_id, owner_id)
    REFERENCES business.users(_sync_scope_id, id) DEFERRABLE INITIALLY DEFERRED))sql");
  }

  std::unique_ptr<PgTestDatabase> db_;
};

const std::vector<RegisteredTable> kUsersAndFiles = {{"business", "users", {"id"}},
                                                     {"business", "files", {"id"}}};

// §9.1 item 1 (TestBootstrap_CreatesExplicitLayoutMarkerAndExactTableCatalog).
TEST_F(BootstrapTest, CreatesLayoutMarkerTablesSequencesFunctionsIndexesAndCatalog) {
  CreateUsersAndFiles();
  auto report = Boot(kUsersAndFiles);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_TRUE(report->created_layout);
  EXPECT_EQ(report->trigger_tables_installed, 2);
  for (const char* table :
       {"meta", "table_catalog", "user_state", "scope_state", "source_state", "row_state",
        "bundle_capture_stage", "bundle_log", "bundle_rows", "push_sessions", "push_session_rows",
        "snapshot_sessions", "snapshot_session_rows"}) {
    EXPECT_EQ(Scalar(fmt::format("SELECT to_regclass('sync.{}') IS NOT NULL", table)), "t")
        << table;
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname = 'sync' AND c.relkind = 'r'"),
            "13");
  for (const char* seq : {"accepted_push_replay_seq", "rejected_registered_write_seq",
                          "history_pruned_error_seq"}) {
    EXPECT_EQ(Scalar(fmt::format("SELECT to_regclass('sync.{}') IS NOT NULL", seq)), "t") << seq;
  }
  EXPECT_EQ(Scalar("SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc p JOIN "
                   "pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'sync'"),
            "capture_registered_row_change,enforce_registered_row_owner,"
            "reject_registered_table_truncate");
  for (const char* idx : {"bcs_tx_user_ordinal_idx", "rs_user_live_snapshot_idx",
                          "ps_expires_at_idx", "ss_expires_at_idx", "ssr_snapshot_table_key_idx"}) {
    EXPECT_EQ(Scalar(fmt::format("SELECT to_regclass('sync.{}') IS NOT NULL", idx)), "t") << idx;
  }
  for (const char* absent : {"applied_pushes", "br_user_bundle_key_idx", "rs_user_table_bundle_idx"}) {
    EXPECT_EQ(Scalar(fmt::format("SELECT to_regclass('sync.{}') IS NULL", absent)), "t") << absent;
  }
  EXPECT_EQ(Scalar("SELECT protocol_label || '/' || layout_name FROM sync.meta"),
            "v1/server_postgres_sync_v1");
  EXPECT_EQ(Scalar("SELECT string_agg(format('%s:%s.%s:%s:%s', table_id, schema_name, table_name, "
                   "sync_key_column, sync_key_kind), ' ' ORDER BY table_id) FROM sync.table_catalog"),
            "1:business.files:id:1 2:business.users:id:1");
  EXPECT_EQ(Scalar("SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE "
                   "conrelid = 'sync.source_state'::regclass AND contype = 'c'"),
            "source_state_active_chk,source_state_max_committed_chk,source_state_reserved_chk,"
            "source_state_retired_chk,source_state_state_chk");
  EXPECT_EQ(Scalar("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'sync' "
                   "AND ((table_name = 'user_state' AND column_name = 'updated_at') OR "
                   "(table_name = 'snapshot_sessions' AND column_name = 'last_accessed_at') OR "
                   "(table_name = 'scope_state' AND column_name = 'state'))"),
            "0");
}

// §1.14 step 3.2 + §10.1 item 4: a second bootstrap validates and runs no DDL.
TEST_F(BootstrapTest, SecondBootstrapValidatesWithoutDdl) {
  CreateUsersAndFiles();
  ASSERT_TRUE(Boot(kUsersAndFiles).has_value());
  const std::string triggers_before = Scalar(
      "SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_trigger WHERE NOT tgisinternal");
  auto again = Boot(kUsersAndFiles);
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_FALSE(again->created_layout);
  EXPECT_EQ(again->trigger_tables_installed, 0);
  // Same trigger objects: nothing was dropped and recreated.
  EXPECT_EQ(Scalar("SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_trigger WHERE NOT "
                   "tgisinternal"),
            triggers_before);
}

// §9.1 item 16 (TestBootstrap_InstallsRegisteredTableCaptureTriggers), and repair of a trigger
// someone dropped.
TEST_F(BootstrapTest, InstallsExactlyOneGuardAndCaptureTriggerPerTableAndRepairsThem) {
  CreateUsersAndFiles();
  ASSERT_TRUE(Boot(kUsersAndFiles).has_value());
  for (const char* table : {"business.users", "business.files"}) {
    EXPECT_EQ(Scalar(fmt::format("SELECT count(*) FROM pg_trigger WHERE tgrelid = '{}'::regclass "
                                 "AND tgname = 'oversync_bundle_capture_row'",
                                 table)),
              "1");
    EXPECT_EQ(Scalar(fmt::format("SELECT count(*) FROM pg_trigger WHERE tgrelid = '{}'::regclass "
                                 "AND tgname = 'oversync_bundle_owner_guard'",
                                 table)),
              "1");
  }
  // Capture arguments: key column, kind, table_id (users = 2).
  EXPECT_EQ(Scalar("SELECT encode(tgargs, 'escape') FROM pg_trigger WHERE tgrelid = "
                   "'business.users'::regclass AND tgname = 'oversync_bundle_capture_row'"),
            "id\\0001\\0002\\000");
  Sql("DROP TRIGGER oversync_bundle_capture_row ON business.users");
  auto repaired = Boot(kUsersAndFiles);
  ASSERT_TRUE(repaired.has_value()) << repaired.error().ToString();
  EXPECT_EQ(repaired->trigger_tables_installed, 1);
  // The two row triggers plus the TRUNCATE guard.
  EXPECT_EQ(Scalar("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'business.users'::regclass "
                   "AND tgname LIKE 'oversync_%'"),
            "3");
}

// protocol-b.md §8.3 (go-oversync 95bbd38's guard, installed in both profiles here): TRUNCATE of
// a registered table, its partition or via CASCADE fails with SQLSTATE 55000 and changes
// nothing, because row-level capture never sees it; a dropped guard is reinstalled at the next
// bootstrap (docs/compatibility.md).
TEST_F(BootstrapTest, TruncateOfARegisteredTableIsRejectedAndTheGuardIsRepaired) {
  CreateUsersAndFiles();
  ASSERT_TRUE(Boot(kUsersAndFiles).has_value());
  for (const char* statement : {"TRUNCATE business.users CASCADE", "TRUNCATE business.files",
                                "TRUNCATE business.users, business.files"}) {
    Result<std::string> truncated = db_->QueryScalar(statement);
    ASSERT_FALSE(truncated.has_value()) << statement;
    EXPECT_NE(truncated.error().message().find("TRUNCATE is not allowed on registered table business."),
              std::string::npos)
        << truncated.error().ToString();
    // SQLSTATE 55000 (object_not_in_prerequisite_state): only that error is caught here.
    EXPECT_TRUE(db_->QueryScalar(fmt::format("DO $$ BEGIN {}; RAISE EXCEPTION 'not rejected'; "
                                             "EXCEPTION WHEN SQLSTATE '55000' THEN NULL; END $$",
                                             statement))
                    .has_value())
        << statement;
  }
  Sql("DROP TRIGGER oversync_registered_truncate_guard ON business.files");
  ASSERT_TRUE(Boot(kUsersAndFiles).has_value());
  EXPECT_FALSE(db_->QueryScalar("TRUNCATE business.files").has_value());
  // An unregistered table is not guarded.
  Sql("CREATE TABLE business.notes (id int)");
  EXPECT_TRUE(db_->QueryScalar("TRUNCATE business.notes").has_value());
}

// The guard trigger rejects writes without bundle context and counts them (server.md §1.12).
TEST_F(BootstrapTest, WritesWithoutBundleContextAreRejectedAndCounted) {
  CreateUsersAndFiles();
  ASSERT_TRUE(Boot(kUsersAndFiles).has_value());
  auto rejected = db_->QueryScalar(
      "INSERT INTO business.users(_sync_scope_id, id) VALUES ('u', gen_random_uuid())");
  ASSERT_FALSE(rejected.has_value());
  EXPECT_NE(rejected.error().message().find(
                "write to registered table business.users requires oversync sync bundle context"),
            std::string::npos)
      << rejected.error().message();
  EXPECT_EQ(Scalar("SELECT last_value FROM sync.rejected_registered_write_seq"), "1");
}

// §9.1 item 2 (TestBootstrap_FailsClosedWhenRegisteredTableCatalogDiffers).
TEST_F(BootstrapTest, FailsClosedWhenTheCatalogDiffers) {
  CreateUsersAndFiles();
  ASSERT_TRUE(Boot(kUsersAndFiles).has_value());
  ExpectUnsupported({{"business", "users", {"id"}}}, "sync.table_catalog row count = 2, expected 1");
}

// §9.1 item 3 (TestBootstrap_FailsClosedForLegacySyncSchemaWithoutLayoutMarker).
TEST_F(BootstrapTest, FailsClosedForLegacySyncObjectsWithoutMarkers) {
  CreateUsersAndFiles();
  Sql("CREATE SCHEMA sync; CREATE TABLE sync.applied_pushes(x int)");
  ExpectUnsupported(kUsersAndFiles, "existing sync schema uses unsupported layout");
  Sql("CREATE TABLE sync.meta(singleton_key boolean)");
  ExpectUnsupported(kUsersAndFiles, "missing required marker tables sync.meta and sync.table_catalog");
}

// §1.14: marker validation.
TEST_F(BootstrapTest, FailsClosedOnAForeignLayoutName) {
  CreateUsersAndFiles();
  ASSERT_TRUE(Boot(kUsersAndFiles).has_value());
  Sql("UPDATE sync.meta SET layout_name = 'server_postgres_sync_v2'");
  ExpectUnsupported(kUsersAndFiles,
                    "sync.meta layout_name = \"server_postgres_sync_v2\", expected "
                    "\"server_postgres_sync_v1\"");
}

// protocol-b.md §9: go-oversync 95bbd38+ keeps the marker but changes the layout behind it; each
// of its distinctive objects makes bootstrap refuse the database (docs/wire-profiles.md).
TEST_F(BootstrapTest, FailsClosedOnTheUpstreamProfileBLayout) {
  CreateUsersAndFiles();
  ASSERT_TRUE(Boot(kUsersAndFiles).has_value());
  Sql("ALTER TABLE sync.bundle_log ADD COLUMN canonical_request_hash TEXT COLLATE \"C\" NOT NULL "
      "DEFAULT ''");
  ExpectUnsupported(kUsersAndFiles,
                    "this database has the sync layout of go-oversync's "
                    "jcs_uniform_numeric_strings_v1 servers (95bbd38 and later: "
                    "sync.bundle_log.canonical_request_hash)");
  Sql("ALTER TABLE sync.bundle_log DROP COLUMN canonical_request_hash");
  ASSERT_TRUE(Boot(kUsersAndFiles).has_value());  // a dropped column is not the layout
  Sql("CREATE TABLE sync.server_source_reservations (source_id TEXT PRIMARY KEY)");
  ExpectUnsupported(kUsersAndFiles, "(95bbd38 and later: sync.server_source_reservations)");
}

// §9.1 item 4 (TestBootstrap_FailsWhenRegisteredTablesAreNotFKClosed); fail closed: nothing of
// the sync schema is created when the tables are rejected.
TEST_F(BootstrapTest, FailsWhenRegisteredTablesAreNotFkClosed) {
  CreateUsersAndFiles();
  ExpectUnsupported({{"business", "files", {"id"}}},
                    "registered tables are not FK-closed: business.files -> business.users "
                    "(files_owner_fk)");
  EXPECT_EQ(Scalar("SELECT to_regnamespace('sync') IS NULL"), "t");
}

// §9.1 items 5 and 15: self reference and DEFERRABLE INITIALLY IMMEDIATE are accepted.
TEST_F(BootstrapTest, AcceptsSelfReferenceAndInitiallyImmediateDeferrableFks) {
  Sql(R"sql(
CREATE TABLE public.nodes (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, parent_id UUID,
  PRIMARY KEY (_sync_scope_id, id),
  FOREIGN KEY (_sync_scope_id, parent_id) REFERENCES public.nodes(_sync_scope_id, id)
    DEFERRABLE INITIALLY IMMEDIATE))sql");
  auto report = Boot({{"", "nodes", {"id"}}});
  EXPECT_TRUE(report.has_value()) << report.error().ToString();
}

// §9.1 item 6: text key.
TEST_F(BootstrapTest, AcceptsATextSyncKey) {
  Sql("CREATE TABLE public.docs (_sync_scope_id TEXT NOT NULL, doc_id TEXT NOT NULL, "
      "body TEXT, PRIMARY KEY (_sync_scope_id, doc_id))");
  ASSERT_TRUE(Boot({{"public", "docs", {"doc_id"}}}).has_value());
  EXPECT_EQ(Scalar("SELECT sync_key_kind FROM sync.table_catalog"), "2");
}

// §9.1 item 7: integer and numeric keys rejected.
TEST_F(BootstrapTest, RejectsIntegerAndNumericSyncKeys) {
  Sql("CREATE TABLE public.a (_sync_scope_id TEXT NOT NULL, id BIGINT NOT NULL, "
      "PRIMARY KEY (_sync_scope_id, id)); "
      "CREATE TABLE public.b (_sync_scope_id TEXT NOT NULL, id NUMERIC NOT NULL, "
      "PRIMARY KEY (_sync_scope_id, id))");
  ExpectUnsupported({{"public", "a", {"id"}}},
                    "registered table public.a uses unsupported sync key column type int8 for id; "
                    "the current server runtime allows only uuid and text");
  ExpectUnsupported({{"public", "b", {"id"}}}, "unsupported sync key column type numeric");
}

// §9.1 item 8: the key may differ from the primary key.
TEST_F(BootstrapTest, AcceptsAVisibleKeyThatIsNotThePrimaryKey) {
  Sql("CREATE TABLE public.items (_sync_scope_id TEXT NOT NULL, pk_id BIGINT NOT NULL, "
      "external_id UUID NOT NULL, PRIMARY KEY (_sync_scope_id, pk_id), "
      "UNIQUE (_sync_scope_id, external_id))");
  EXPECT_TRUE(Boot({{"public", "items", {"external_id"}}}).has_value());
}

// §9.1 items 9, 10, 12, 13 and the remaining §2.1 rules.
TEST_F(BootstrapTest, RejectsTablesWithoutScopeAwareIdentity) {
  Sql("CREATE TABLE public.d1 (_sync_scope_id TEXT NOT NULL, doc_id TEXT NOT NULL, "
      "rev INTEGER NOT NULL, PRIMARY KEY (_sync_scope_id, doc_id, rev))");
  ExpectUnsupported({{"public", "d1", {"doc_id"}}},
                    "must provide unique identity (_sync_scope_id, doc_id)");
  Sql("CREATE TABLE public.d2 (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, email TEXT, "
      "PRIMARY KEY (_sync_scope_id, id), UNIQUE (email))");
  ExpectUnsupported({{"public", "d2", {"id"}}}, "that does not begin with _sync_scope_id");
  Sql("CREATE TABLE public.d3 (_sync_scope_id UUID NOT NULL, id UUID NOT NULL, "
      "PRIMARY KEY (_sync_scope_id, id))");
  ExpectUnsupported({{"public", "d3", {"id"}}}, "registered table public.d3 must define "
                                                "_sync_scope_id TEXT");
  Sql("CREATE TABLE public.d4 (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, flag BOOLEAN)");
  Sql("CREATE UNIQUE INDEX d4_partial ON public.d4 (_sync_scope_id, id) WHERE flag");
  ExpectUnsupported({{"public", "d4", {"id"}}}, "unsupported partial or expression unique index "
                                                "d4_partial");
  Sql("CREATE TABLE public.d5 (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, name TEXT)");
  Sql("CREATE UNIQUE INDEX d5_expr ON public.d5 (_sync_scope_id, lower(name))");
  ExpectUnsupported({{"public", "d5", {"id"}}}, "unsupported partial or expression unique index "
                                                "d5_expr");
  Sql("CREATE TABLE public.d6 (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL)");
  ExpectUnsupported({{"public", "d6", {"id"}}},
                    "must provide unique indexes or constraints for scope-aware identity");
}

// §2.1 rule 3: a missing table is a plain (not UnsupportedSchema) error.
TEST_F(BootstrapTest, MissingTableIsAPlainError) {
  auto report = Boot({{"public", "nope", {"id"}}});
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(report.error().message(),
            "registered table public.nope could not load column metadata for sync key validation");
}

// §9.1 item 11: non-deferrable FKs are listed as schema.constraint.
TEST_F(BootstrapTest, RejectsNonDeferrableFks) {
  Sql(R"sql(
CREATE TABLE public.p (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, PRIMARY KEY (_sync_scope_id, id));
CREATE TABLE public.c (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, p_id UUID,
  PRIMARY KEY (_sync_scope_id, id),
  CONSTRAINT c_p_fk FOREIGN KEY (_sync_scope_id, p_id) REFERENCES public.p(_sync_scope_id, id)))sql");
  ExpectUnsupported({{"public", "p", {"id"}}, {"public", "c", {"id"}}},
                    "registered schema contains non-deferrable FK constraints: public.c_p_fk; make "
                    "these constraints DEFERRABLE before bootstrap (INITIALLY DEFERRED recommended)");
}

// §9.1 item 14: the owner column must come first in a registered FK.
TEST_F(BootstrapTest, RejectsFksThatAreNotScopeInclusive) {
  Sql(R"sql(
CREATE TABLE public.p (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, PRIMARY KEY (_sync_scope_id, id));
CREATE TABLE public.c (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, p_id UUID,
  PRIMARY KEY (_sync_scope_id, id),
  CONSTRAINT c_p_fk FOREIGN KEY (p_id, _sync_scope_id) REFERENCES public.p(id, _sync_scope_id)
    DEFERRABLE INITIALLY DEFERRED))sql");
  ExpectUnsupported({{"public", "p", {"id"}}, {"public", "c", {"id"}}},
                    "registered child FKs must be scope-inclusive and reference (_sync_scope_id, "
                    "parent_sync_key): public.c -> public.p (c_p_fk)");
}

// §2.2 rule 2: MATCH FULL is rejected.
TEST_F(BootstrapTest, RejectsMatchFullFks) {
  Sql(R"sql(
CREATE TABLE public.p (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, PRIMARY KEY (_sync_scope_id, id));
CREATE TABLE public.c (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, p_id UUID,
  PRIMARY KEY (_sync_scope_id, id),
  CONSTRAINT c_p_fk FOREIGN KEY (_sync_scope_id, p_id) REFERENCES public.p(_sync_scope_id, id)
    MATCH FULL DEFERRABLE INITIALLY DEFERRED))sql");
  ExpectUnsupported({{"public", "p", {"id"}}, {"public", "c", {"id"}}},
                    "unsupported FK MATCH option \"FULL\" on public.c (c_p_fk)");
}

// server.md §10.1 item 5: constraints with the same name on different tables must not
// cross-contaminate (information_schema joins by name; pg_catalog does not).
TEST_F(BootstrapTest, SameConstraintNameOnTwoTablesIsJudgedPerTable) {
  Sql(R"sql(
CREATE TABLE public.p (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, PRIMARY KEY (_sync_scope_id, id));
CREATE TABLE public.c1 (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, p_id UUID,
  PRIMARY KEY (_sync_scope_id, id),
  CONSTRAINT fk_parent FOREIGN KEY (_sync_scope_id, p_id) REFERENCES public.p(_sync_scope_id, id)
    DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE public.c2 (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, p_id UUID,
  PRIMARY KEY (_sync_scope_id, id),
  CONSTRAINT fk_parent FOREIGN KEY (_sync_scope_id, p_id) REFERENCES public.p(_sync_scope_id, id)
    DEFERRABLE INITIALLY DEFERRED))sql");
  auto report = Boot({{"public", "p", {"id"}}, {"public", "c1", {"id"}}, {"public", "c2", {"id"}}});
  EXPECT_TRUE(report.has_value()) << report.error().ToString();
}

// §1.14: concurrent bootstraps of several processes are serialized by the advisory lock; all
// succeed and exactly one creates the layout.
TEST_F(BootstrapTest, ConcurrentBootstrapsAllSucceedAndCreateOnce) {
  CreateUsersAndFiles();
  constexpr int kServices = 4;
  std::vector<std::unique_ptr<RuntimeService>> services;
  for (int i = 0; i < kServices; ++i) {
    auto service = Service(kUsersAndFiles);
    ASSERT_TRUE(service.has_value()) << service.error().ToString();
    services.push_back(std::move(*service));
  }
  std::vector<Result<BootstrapReport>> reports(kServices, Error(ErrorCode::kInternal, "unset"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kServices; ++i) {
    threads.emplace_back([&, i] { reports[static_cast<std::size_t>(i)] = services[static_cast<std::size_t>(i)]->Bootstrap(); });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  for (const auto& r : reports) {
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    created += r->created_layout ? 1 : 0;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.meta"), "1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'oversync_%'"), "6");
}

// §9.1 item 18: the constructor touches no database objects.
TEST_F(BootstrapTest, CreateDoesNotTouchTheSchema) {
  CreateUsersAndFiles();
  auto service = Service(kUsersAndFiles);
  ASSERT_TRUE(service.has_value()) << service.error().ToString();
  EXPECT_EQ(Scalar("SELECT to_regnamespace('sync') IS NULL"), "t");
  EXPECT_EQ((*service)->registered_tables().size(), 2U);
}

// server.md §2.2 rule 4: the FK graph (discovered from pg_catalog) plus dependency_overrides gives
// the informational table order of the bootstrap report (go-oversync
// TestDependencyOverrides_AffectOrdering): files references users, so users comes first; an
// override making users depend on a third table puts that table first.
TEST_F(BootstrapTest, ReportsFkTableOrderWithOverrides) {
  CreateUsersAndFiles();
  Sql("CREATE TABLE business.zones (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, "
      "PRIMARY KEY (_sync_scope_id, id))");
  auto report = Boot({{"business", "files", {"id"}}, {"business", "users", {"id"}},
                      {"business", "zones", {"id"}}});
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->table_order,
            (std::vector<std::string>{"business.users", "business.files", "business.zones"}));

  ServiceConfig config;
  config.registered_tables = {{"business", "files", {"id"}}, {"business", "users", {"id"}},
                              {"business", "zones", {"id"}}};
  config.dependency_overrides = {{"Business.Users", {"business.zones", "business.unknown"}}};
  RuntimeOptions options;
  options.database_url = db_->dsn();
  auto service = RuntimeService::Create(std::move(config), std::move(options));
  ASSERT_TRUE(service.has_value()) << service.error().ToString();
  auto overridden = (*service)->Bootstrap();
  ASSERT_TRUE(overridden.has_value()) << overridden.error().ToString();
  EXPECT_EQ(overridden->table_order,
            (std::vector<std::string>{"business.zones", "business.users", "business.files"}));
}

}  // namespace
}  // namespace oversync
