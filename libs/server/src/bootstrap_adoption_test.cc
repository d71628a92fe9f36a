// Adoption of populated registered tables when Bootstrap creates the layout (protocol-b.md §8.2;
// go-oversync bootstrap tests TestBootstrap_PopulatedAdoption*; docs/compatibility.md 79).
// Each test starts from a database whose business tables hold rows and have no `sync` layout
// yet (the fixture's layout is dropped, which also drops its triggers), then bootstraps a new
// service on it.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/codec.h"
#include "runtime_test_fixture.h"

namespace oversync::testing {
namespace {

constexpr std::string_view kProfileB = "jcs_uniform_numeric_strings_v1";

// alice: two users, a post, two docs; bob: one file; nobody else has rows.
constexpr std::string_view kSeedRows = R"sql(
INSERT INTO business.users (_sync_scope_id, id, name, age, score) VALUES
  ('alice', '00000000-0000-4000-8000-000000000002', 'Second', 41, 7),
  ('alice', '00000000-0000-4000-8000-000000000001', 'First', 30, 12.50);
INSERT INTO business.posts (_sync_scope_id, id, author_id, title) VALUES
  ('alice', '00000000-0000-4000-8000-000000000010', '00000000-0000-4000-8000-000000000001', 'Hi');
INSERT INTO business.docs (_sync_scope_id, doc_id, body) VALUES
  ('alice', 'doc-b', 'B'), ('alice', 'doc-a', 'A');
INSERT INTO business.files (_sync_scope_id, id, data) VALUES
  ('bob', '00000000-0000-4000-8000-000000000020', '\x0102'::bytea);
)sql";

class BootstrapAdoptionTest : public RuntimeTest {
 protected:
  // Drops the fixture's layout (and with it the capture triggers) and writes `rows` directly,
  // as an application did before it added sync.
  void PopulateWithoutLayout(std::string_view rows = kSeedRows) {
    service_->Shutdown();
    service_.reset();
    Sql("SET client_min_messages = warning; DROP SCHEMA sync CASCADE");
    Sql(std::string(rows));
  }

  // A new service on the database; its Bootstrap result.
  Result<BootstrapReport> Boot(ServiceConfig config) {
    config.registered_tables = FixtureConfig().registered_tables;
    RuntimeOptions options;
    options.database_url = db_->dsn();
    options.max_connections = 4;
    options.clock = &clock_;
    options.random = &random_;
    auto service = RuntimeService::Create(config, options);
    if (!service) return Error(service.error());
    service_ = std::move(*service);
    return service_->Bootstrap();
  }

  protocol::PullResponse Pull(const Actor& actor) {
    protocol::PullQuery query;
    query.max_bundles = 100;
    auto body = service_->ProcessPullBody(actor, query);
    EXPECT_TRUE(body.has_value()) << body.error().ToString();
    if (!body) return {};
    protocol::JsonParser parser;
    auto decoded = protocol::DecodePullResponse(*body, &parser);
    EXPECT_TRUE(decoded.has_value()) << decoded.error().ToString() << *body;
    last_pull_body_ = *body;
    return decoded.value_or(protocol::PullResponse{});
  }

  std::string last_pull_body_;
};

// Bundle 1 per populated scope from a fresh oversync-adoption source; rows are INSERTs at
// row_version 1 in table_id order ("schema.table" byte order: docs, files, posts, users) and
// key-byte order within a table; the scope is INITIALIZED by that source, so connect answers
// remote_authoritative; a device then writes on top of the baseline.
TEST_F(BootstrapAdoptionTest, PopulatedScopesGetABaselineBundleAtLayoutCreation) {
  PopulateWithoutLayout();
  auto report = Boot(config_);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_TRUE(report->created_layout);
  EXPECT_EQ(report->adopted_scopes, 2);
  EXPECT_EQ(report->adopted_rows, 6);

  const Actor alice{"alice", "dev-a"};
  const protocol::PullResponse pull = Pull(alice);
  EXPECT_EQ(pull.stable_bundle_seq, 1);
  ASSERT_EQ(pull.bundles.size(), 1U);
  const protocol::Bundle& bundle = pull.bundles[0];
  EXPECT_EQ(bundle.bundle_seq, 1);
  EXPECT_EQ(bundle.source_id.rfind("oversync-adoption:", 0), 0U) << bundle.source_id;
  EXPECT_EQ(bundle.source_id.size(), std::string("oversync-adoption:").size() + 36);
  EXPECT_EQ(bundle.source_bundle_id, 1);
  EXPECT_EQ(Describe(bundle.rows),
            "INSERT docs doc-a,INSERT docs doc-b,"
            "INSERT posts 00000000-0000-4000-8000-000000000010,"
            "INSERT users 00000000-0000-4000-8000-000000000001,"
            "INSERT users 00000000-0000-4000-8000-000000000002");
  protocol::BundleHasher hasher(protocol::GoCanonicalV1Profile(), 1);
  for (const protocol::BundleRow& row : bundle.rows) {
    EXPECT_EQ(row.row_version, 1);
    ASSERT_TRUE(hasher.AddRow(row).ok());
  }
  EXPECT_EQ(hasher.Finish().hex, bundle.bundle_hash);
  EXPECT_EQ(PayloadText(bundle.rows[3]),
            R"({"age":30,"id":"00000000-0000-4000-8000-000000000001","name":"First","score":12.5})");
  EXPECT_TRUE(bundle.canonical_request_hash.empty());  // profile A has no request hash

  // The scope is initialized by the adoption source, and bob's by his own.
  EXPECT_EQ(Scalar("SELECT string_agg(u.user_id || '=' || (s.initialized_by_source_id = b.source_id)"
                   "::text, ',' ORDER BY u.user_id) FROM sync.user_state u JOIN sync.scope_state s "
                   "USING (user_pk) JOIN sync.bundle_log b USING (user_pk)"),
            "alice=true,bob=true");
  EXPECT_EQ(Scalar("SELECT count(DISTINCT source_id) FROM sync.source_state WHERE state = 'active' "
                   "AND max_committed_source_bundle_id = 1"),
            "2");
  auto connect = service_->Connect(alice, {true});
  ASSERT_TRUE(connect.has_value()) << connect.error().ToString();
  EXPECT_EQ(connect->resolution, protocol::ConnectResolution::kRemoteAuthoritative);

  // A device updates an adopted row at its adopted version.
  auto commit = Push(alice, 1,
                     {Row("users", UserKey(1), "UPDATE", 1,
                          R"({"id":"00000000-0000-4000-8000-000000000001","name":"Renamed"})")});
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  EXPECT_EQ(commit->bundle_seq, 2);

  // The snapshot holds every adopted row; a scope without rows was not touched.
  auto snapshot = service_->CreateSnapshotSession({"bob", "dev-b"}, {});
  ASSERT_TRUE(snapshot.has_value()) << snapshot.error().ToString();
  EXPECT_EQ(snapshot->snapshot_bundle_seq, 1);
  EXPECT_EQ(snapshot->row_count, 1);
  auto carol = service_->Connect({"carol", "dev-c"}, {false});
  ASSERT_TRUE(carol.has_value()) << carol.error().ToString();
  EXPECT_EQ(carol->resolution, protocol::ConnectResolution::kInitializeEmpty);

  // An existing layout is never adopted again: a second service validates it and adds nothing.
  auto again = Boot(config_);
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_FALSE(again->created_layout);
  EXPECT_EQ(again->adopted_scopes, 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "3");
}

// protocol-b.md §8.2: the baseline's canonical_request_hash is the request hash of the same rows
// uploaded with base_row_version 0, and payloads use the profile-B encoding (numbers as strings).
TEST_F(BootstrapAdoptionTest, ProfileBBaselineCarriesTheRequestHashOfItsRows) {
  PopulateWithoutLayout();
  ServiceConfig config = config_;
  config.wire_profile = std::string(kProfileB);
  auto report = Boot(config);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->adopted_scopes, 2);

  const protocol::PullResponse pull =
      Pull({"alice", "dev-a"});
  ASSERT_EQ(pull.bundles.size(), 1U);
  const protocol::Bundle& bundle = pull.bundles[0];
  ASSERT_EQ(bundle.rows.size(), 5U);
  EXPECT_EQ(PayloadText(bundle.rows[3]),
            R"({"id":"00000000-0000-4000-8000-000000000001","age":"30","name":"First","score":"12.50"})");
  protocol::BundleHasher bundle_hasher(protocol::JcsUniformNumericStringsV1Profile(), 1);
  protocol::CanonicalRequestHasher request_hasher;
  for (const protocol::BundleRow& row : bundle.rows) {
    ASSERT_TRUE(bundle_hasher.AddRow(row).ok());
    ASSERT_TRUE(request_hasher
                    .AddRow(row.schema, row.table, row.key, row.op, 0,
                            row.payload ? &*row.payload : nullptr)
                    .ok());
  }
  EXPECT_EQ(bundle_hasher.Finish().hex, bundle.bundle_hash);
  const std::string request_hash = request_hasher.Finish().hex;
  EXPECT_EQ(bundle.canonical_request_hash, request_hash) << last_pull_body_;
  EXPECT_TRUE(protocol::IsCanonicalRequestHashSpelling(bundle.canonical_request_hash));
}

// go-oversync loadAdoptionUserIDs: a row with an empty scope aborts bootstrap with
// identity_unrepresentable, and nothing of the layout is left behind.
TEST_F(BootstrapAdoptionTest, EmptyScopeAbortsBootstrapAndLeavesNoLayout) {
  PopulateWithoutLayout(
      "INSERT INTO business.users (_sync_scope_id, id, name) VALUES "
      "('alice', '00000000-0000-4000-8000-000000000001', 'ok'), "
      "('', '00000000-0000-4000-8000-000000000002', 'orphan')");
  auto report = Boot(config_);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(report.error().message(),
            "populated-table adoption identity_unrepresentable at business.users "
            "(business_rows=0 row_state=0): registered row has a NULL or empty scope");
  EXPECT_EQ(Scalar("SELECT to_regnamespace('sync') IS NULL"), "t");
  EXPECT_EQ(Scalar("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"), "0");
  // Fixing the data lets the next start adopt.
  Sql("DELETE FROM business.users WHERE _sync_scope_id = ''");
  auto fixed = Boot(config_);
  ASSERT_TRUE(fixed.has_value()) << fixed.error().ToString();
  EXPECT_EQ(fixed->adopted_scopes, 1);
  EXPECT_EQ(fixed->adopted_rows, 1);
}

// ServiceConfig::adopt_populated_tables = false keeps go-oversync 1f1118f's behaviour: the rows
// stay outside sync until RuntimeService::AdoptScope.
TEST_F(BootstrapAdoptionTest, AdoptionCanBeTurnedOff) {
  PopulateWithoutLayout();
  ServiceConfig config = config_;
  config.adopt_populated_tables = false;
  auto report = Boot(config);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_TRUE(report->created_layout);
  EXPECT_EQ(report->adopted_scopes, 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.user_state"), "0");
  auto unadopted = service_->ListUnadoptedScopes();
  ASSERT_TRUE(unadopted.has_value()) << unadopted.error().ToString();
  EXPECT_EQ(*unadopted, (std::vector<std::string>{"alice", "bob"}));
}

}  // namespace
}  // namespace oversync::testing
