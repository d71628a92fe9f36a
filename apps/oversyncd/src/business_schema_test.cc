// Label pg: each test gets a fresh database from OVERSYNC_TEST_DSN.
#include "business_schema.h"

#include <gtest/gtest.h>

#include <string>

#include "oversync/testing/pg_test_database.h"
#include "pg.h"

namespace oversync::oversyncd {
namespace {

// Table names in the business schema, sorted.
constexpr const char* kTablesSql =
    "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables "
    "WHERE table_schema = 'business'";

// Every constraint of the schema with its definition, one line each, sorted by name.
constexpr const char* kConstraintsSql =
    "SELECT string_agg(c.conname || ' ' || c.contype::text || ' ' || pg_get_constraintdef(c.oid) "
    "|| "
    "' deferrable=' || c.condeferrable || ' deferred=' || c.condeferred, E'\\n' "
    "ORDER BY c.conname) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
    "WHERE n.nspname = 'business'";

TEST(BusinessSchemaTest, CreatesTheReferenceTablesIdempotently) {
  OVERSYNC_PG_TEST_DATABASE(db);
  Result<PgConnPtr> conn = PgConnect(db->dsn());
  ASSERT_TRUE(conn.has_value()) << conn.error().ToString();
  const Status first = InitializeBusinessSchema(conn->get());
  ASSERT_TRUE(first.ok()) << first.ToString();

  EXPECT_EQ(db->QueryScalar(kTablesSql).value_or("?"),
            "categories,file_reviews,files,posts,team_members,teams,typed_rows,users");
  const std::string constraints = db->QueryScalar(kConstraintsSql).value_or("?");
  EXPECT_EQ(
      constraints,
      "categories_parent_id_fkey f FOREIGN KEY (_sync_scope_id, parent_id) REFERENCES "
      "business.categories(_sync_scope_id, id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED "
      "deferrable=true deferred=true\n"
      "categories_pkey p PRIMARY KEY (_sync_scope_id, id) deferrable=false deferred=false\n"
      "file_reviews_file_id_fkey f FOREIGN KEY (_sync_scope_id, file_id) REFERENCES "
      "business.files(_sync_scope_id, id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED "
      "deferrable=true deferred=true\n"
      "file_reviews_pkey p PRIMARY KEY (_sync_scope_id, id) deferrable=false deferred=false\n"
      "files_pkey p PRIMARY KEY (_sync_scope_id, id) deferrable=false deferred=false\n"
      "posts_author_id_fkey f FOREIGN KEY (_sync_scope_id, author_id) REFERENCES "
      "business.users(_sync_scope_id, id) DEFERRABLE INITIALLY DEFERRED "
      "deferrable=true deferred=true\n"
      "posts_pkey p PRIMARY KEY (_sync_scope_id, id) deferrable=false deferred=false\n"
      "team_members_pkey p PRIMARY KEY (_sync_scope_id, id) deferrable=false deferred=false\n"
      "team_members_team_id_fkey f FOREIGN KEY (_sync_scope_id, team_id) REFERENCES "
      "business.teams(_sync_scope_id, id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED "
      "deferrable=true deferred=true\n"
      "teams_captain_member_id_fkey f FOREIGN KEY (_sync_scope_id, captain_member_id) "
      "REFERENCES business.team_members(_sync_scope_id, id) DEFERRABLE INITIALLY DEFERRED "
      "deferrable=true deferred=true\n"
      "teams_pkey p PRIMARY KEY (_sync_scope_id, id) deferrable=false deferred=false\n"
      "typed_rows_pkey p PRIMARY KEY (_sync_scope_id, id) deferrable=false deferred=false\n"
      "users_pkey p PRIMARY KEY (_sync_scope_id, id) deferrable=false deferred=false");

  // Column shapes (name type nullability default), table by table in ordinal order.
  EXPECT_EQ(
      db->QueryScalar(
            "SELECT string_agg(table_name || '.' || column_name || ' ' || data_type || ' ' || "
            "is_nullable || coalesce(' ' || column_default, ''), E'\\n' "
            "ORDER BY table_name, ordinal_position) FROM information_schema.columns "
            "WHERE table_schema = 'business'")
          .value_or("?"),
      "categories._sync_scope_id text NO\n"
      "categories.id uuid NO\n"
      "categories.name text NO\n"
      "categories.parent_id uuid YES\n"
      "file_reviews._sync_scope_id text NO\n"
      "file_reviews.id uuid NO\n"
      "file_reviews.review text NO\n"
      "file_reviews.file_id uuid NO\n"
      "files._sync_scope_id text NO\n"
      "files.id uuid NO\n"
      "files.name text NO\n"
      "files.data bytea NO\n"
      "posts._sync_scope_id text NO\n"
      "posts.id uuid NO\n"
      "posts.title text NO\n"
      "posts.content text NO\n"
      "posts.author_id uuid YES\n"
      "posts.created_at timestamp with time zone YES now()\n"
      "posts.updated_at timestamp with time zone YES now()\n"
      "team_members._sync_scope_id text NO\n"
      "team_members.id uuid NO\n"
      "team_members.name text NO\n"
      "team_members.team_id uuid NO\n"
      "teams._sync_scope_id text NO\n"
      "teams.id uuid NO\n"
      "teams.name text NO\n"
      "teams.captain_member_id uuid YES\n"
      "typed_rows._sync_scope_id text NO\n"
      "typed_rows.id uuid NO\n"
      "typed_rows.name text NO\n"
      "typed_rows.note text YES\n"
      "typed_rows.count_value bigint YES\n"
      "typed_rows.enabled_flag bigint NO\n"
      "typed_rows.rating double precision YES\n"
      "typed_rows.data bytea YES\n"
      "typed_rows.created_at timestamp with time zone YES\n"
      "users._sync_scope_id text NO\n"
      "users.id uuid NO\n"
      "users.name text NO\n"
      "users.email text NO\n"
      "users.created_at timestamp with time zone YES now()\n"
      "users.updated_at timestamp with time zone YES now()");
  // No index besides the primary keys, no trigger at all (Bootstrap adds those later).
  EXPECT_EQ(db->QueryScalar("SELECT count(*) FROM pg_indexes WHERE schemaname = 'business'")
                .value_or("?"),
            "8");
  EXPECT_EQ(db->QueryScalar("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = "
                            "t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
                            "n.nspname = 'business' AND NOT t.tgisinternal")
                .value_or("?"),
            "0");

  // Every later start runs it again: nothing changes, nothing fails.
  const Status second = InitializeBusinessSchema(conn->get());
  ASSERT_TRUE(second.ok()) << second.ToString();
  EXPECT_EQ(db->QueryScalar(kConstraintsSql).value_or("?"), constraints);
  // Existing rows survive.
  ASSERT_TRUE(PgExec(conn->get(),
                     "INSERT INTO business.users (_sync_scope_id, id, name, email) VALUES "
                     "('u1', '00000000-0000-0000-0000-000000000001', 'n', 'e')")
                  .ok());
  ASSERT_TRUE(InitializeBusinessSchema(conn->get()).ok());
  EXPECT_EQ(db->QueryScalar("SELECT count(*) FROM business.users").value_or("?"), "1");
}

TEST(BusinessSchemaTest, ForeignKeysAreScopedAndDeferred) {
  OVERSYNC_PG_TEST_DATABASE(db);
  Result<PgConnPtr> conn = PgConnect(db->dsn());
  ASSERT_TRUE(conn.has_value());
  ASSERT_TRUE(InitializeBusinessSchema(conn->get()).ok());
  // The teams <-> team_members cycle can be inserted in one transaction in any order.
  const Status cycle = PgExec(
      conn->get(),
      "BEGIN;"
      "INSERT INTO business.teams VALUES ('s', '00000000-0000-0000-0000-00000000000a', 't', "
      "'00000000-0000-0000-0000-00000000000b');"
      "INSERT INTO business.team_members VALUES ('s', '00000000-0000-0000-0000-00000000000b', "
      "'m', '00000000-0000-0000-0000-00000000000a');"
      "COMMIT");
  EXPECT_TRUE(cycle.ok()) << cycle.ToString();
  // A reference into another scope fails at commit.
  const Status cross_scope = PgExec(
      conn->get(),
      "INSERT INTO business.team_members VALUES ('other', "
      "'00000000-0000-0000-0000-00000000000c', 'm', '00000000-0000-0000-0000-00000000000a')");
  EXPECT_FALSE(cross_scope.ok());
  // NULL references are not checked (MATCH SIMPLE).
  EXPECT_TRUE(PgExec(conn->get(),
                     "INSERT INTO business.posts (_sync_scope_id, id, title, content) VALUES "
                     "('s', '00000000-0000-0000-0000-00000000000d', 't', 'c')")
                  .ok());
}

TEST(BusinessSchemaTest, FailureRollsBackEverything) {
  OVERSYNC_PG_TEST_DATABASE(db);
  Result<PgConnPtr> conn = PgConnect(db->dsn());
  ASSERT_TRUE(conn.has_value());
  // A foreign "files" table without the expected key makes file_reviews' FK fail.
  ASSERT_TRUE(
      PgExec(conn->get(), "CREATE SCHEMA business; CREATE TABLE business.files (x int)").ok());
  const Status status = InitializeBusinessSchema(conn->get());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ErrorCode::kDatabase);
  EXPECT_EQ(status.message().rfind("failed to create file_reviews table: ", 0), 0U)
      << status.message();
  // Nothing of the transaction remains, and the connection is usable again.
  EXPECT_EQ(db->QueryScalar(kTablesSql).value_or("?"), "files");
  EXPECT_TRUE(PgExec(conn->get(), "SELECT 1").ok());
}

TEST(BusinessSchemaTest, OtherSchemaNamesAreQuoted) {
  OVERSYNC_PG_TEST_DATABASE(db);
  Result<PgConnPtr> conn = PgConnect(db->dsn());
  ASSERT_TRUE(conn.has_value());
  ASSERT_TRUE(InitializeBusinessSchema(conn->get(), "Mixed \"Case\"").ok());
  ASSERT_TRUE(InitializeBusinessSchema(conn->get(), "Mixed \"Case\"").ok());
  EXPECT_EQ(db->QueryScalar("SELECT count(*) FROM information_schema.tables WHERE "
                            "table_schema = 'Mixed \"Case\"'")
                .value_or("?"),
            "8");
  EXPECT_EQ(db->QueryScalar("SELECT count(*) FROM pg_constraint WHERE conname = "
                            "'teams_captain_member_id_fkey'")
                .value_or("?"),
            "1");
}

}  // namespace
}  // namespace oversync::oversyncd
