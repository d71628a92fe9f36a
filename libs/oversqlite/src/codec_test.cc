// Unit tests of the client's key/payload encodings (client.md §2.2, §3.5, §3.6) on an in-memory
// SQLite database with a BLOB-keyed and a TEXT-keyed table.
#include <gtest/gtest.h>

#include "client_impl.h"
#include "oversync/protocol/json_value.h"

namespace oversync::oversqlite {
namespace {

using protocol::JsonValue;
using protocol::ParseJson;

class CodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(":memory:", &raw), SQLITE_OK);
    db_.reset(raw);
    ASSERT_TRUE(internal::Exec(db_.get(),
                               "CREATE TABLE files (id BLOB PRIMARY KEY NOT NULL, name TEXT, data BLOB);"
                               "CREATE TABLE file_reviews (id BLOB PRIMARY KEY NOT NULL, file_id BLOB REFERENCES files(id),"
                               " review TEXT);"
                               "CREATE TABLE docs (doc_id TEXT PRIMARY KEY NOT NULL, body TEXT)")
                    .ok());
    Config config = DefaultConfig("business", {{"files", "id", {}}, {"file_reviews", "id", {}}, {"docs", "doc_id", {}}});
    ClientDeps deps;
    // A transport is never used by these tests; an unreachable URL keeps it that way.
    auto client = Client::Create(db_.get(), "http://127.0.0.1:1", [] { return Result<std::string>("t"); },
                                 config, deps);
    ASSERT_TRUE(client.has_value()) << client.error().ToString();
    client_ = std::move(*client);
  }
  void TearDown() override { client_.reset(); }

  internal::DbPtr db_;
  std::unique_ptr<Client> client_;
};

// client.md §2.2 / Appendix C item 4: key_json is rendered exactly as the triggers' json_object
// renders it, for every byte value (Go's encoder differs for <, >, &, U+2028: recorded quirk).
TEST_F(CodecTest, KeyJsonMatchesSqliteJsonObject) {
  std::vector<std::string> samples = {"plain", "a\"b\\c", "<>&", "\xe2\x80\xa8\xe2\x80\xa9", "\x7f", "/", "é✓"};
  std::string all_controls;
  for (int c = 1; c < 0x20; ++c) all_controls.push_back(static_cast<char>(c));
  samples.push_back(all_controls);
  for (const std::string& sample : samples) {
    internal::Stmt stmt = *internal::Prepare(db_.get(), "SELECT json_object('doc_id', ?)");
    stmt.Bind(1, sample);
    ASSERT_TRUE(*stmt.Step());
    std::string ours = "{";
    internal::AppendSqliteJsonString("doc_id", ours);
    ours += ":";
    internal::AppendSqliteJsonString(sample, ours);
    ours += "}";
    EXPECT_EQ(ours, stmt.Text(0)) << sample;
  }
}

// client.md §3.1/§3.4: triggers capture BLOB keys and values as lowercase hex; §3.6 upload
// encodes key/reference BLOBs as UUID text and other BLOBs as base64 (Go test
// TestProcessPayloadForUpload_BlobUUIDPK_UsesUUIDStringForPK, ..._TypedRows_Base64EncodesBlobAndKeepsNulls).
TEST_F(CodecTest, CapturedBlobRowsUploadAsUuidAndBase64) {
  ASSERT_TRUE(client_->Open().ok());
  ASSERT_TRUE(internal::Exec(db_.get(),
                             "INSERT INTO files VALUES (x'00112233445566778899aabbccddeeff', 'f', x'001122ff')")
                  .ok());
  internal::Stmt stmt = *internal::Prepare(
      db_.get(), "SELECT key_json, payload, op FROM _sync_dirty_rows WHERE table_name = 'files'");
  ASSERT_TRUE(*stmt.Step());
  EXPECT_EQ(stmt.Text(0), R"({"id":"00112233445566778899aabbccddeeff"})");
  EXPECT_EQ(stmt.Text(1), R"({"id":"00112233445566778899aabbccddeeff","name":"f","data":"001122ff"})");
  EXPECT_EQ(stmt.Text(2), "INSERT");
  auto serialized = client_->SerializeRow("files", "00112233-4455-6677-8899-aabbccddeeff");
  ASSERT_TRUE(serialized.has_value()) << serialized.error().ToString();
  EXPECT_EQ(*serialized, stmt.Text(1));
}

// client.md §9 item 17: a never-synced insert then delete leaves one DELETE dirty row (dropped
// at freeze); item 15: INSERT then UPDATE stays INSERT (Go TestCreateTriggersForTable).
TEST_F(CodecTest, CollapseRules) {
  ASSERT_TRUE(client_->Open().ok());
  ASSERT_TRUE(internal::Exec(db_.get(), "INSERT INTO docs VALUES ('d1', 'a'); UPDATE docs SET body = 'b' "
                                        "WHERE doc_id = 'd1'; INSERT INTO docs VALUES ('d2', 'x'); DELETE FROM docs "
                                        "WHERE doc_id = 'd2'")
                  .ok());
  internal::Stmt stmt = *internal::Prepare(
      db_.get(), "SELECT key_json, op, payload, dirty_ordinal FROM _sync_dirty_rows ORDER BY dirty_ordinal");
  ASSERT_TRUE(*stmt.Step());
  EXPECT_EQ(stmt.Text(0), R"({"doc_id":"d1"})");
  EXPECT_EQ(stmt.Text(1), "INSERT");
  EXPECT_EQ(stmt.Text(2), R"({"doc_id":"d1","body":"b"})");
  ASSERT_TRUE(*stmt.Step());
  EXPECT_EQ(stmt.Text(0), R"({"doc_id":"d2"})");
  EXPECT_EQ(stmt.Text(1), "DELETE");
  EXPECT_TRUE(stmt.IsNull(2));
  EXPECT_FALSE(*stmt.Step());
}

// client.md §1.2 step 7 / §2.3: a second client on the same database finds identical trigger
// text and leaves the triggers alone (the refresh rule compares normalized SQL).
TEST_F(CodecTest, TriggersAreStableAcrossClients) {
  auto before = internal::QueryText(db_.get(), "SELECT group_concat(name || sql, '|') FROM sqlite_master WHERE "
                                               "type = 'trigger' ORDER BY name");
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(*internal::QueryInt(db_.get(), "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'"), 18);
  client_->Close();
  auto again = Client::Create(db_.get(), "http://127.0.0.1:1", [] { return Result<std::string>("t"); },
                              DefaultConfig("business", {{"files", "id", {}}, {"file_reviews", "id", {}},
                                                         {"docs", "doc_id", {}}}));
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  auto after = internal::QueryText(db_.get(), "SELECT group_concat(name || sql, '|') FROM sqlite_master WHERE "
                                              "type = 'trigger' ORDER BY name");
  EXPECT_EQ(*before, *after);
}

// client.md §1.7 debug utilities: GetTableRowCount, GetTableRows (serialized like SerializeRow,
// key order), GetTableInfo (ColumnInfo.IsBlob = declared type contains "blob").
TEST_F(CodecTest, DebugTableUtilities) {
  ASSERT_TRUE(client_->Open().ok());
  ASSERT_TRUE(internal::Exec(db_.get(), "INSERT INTO docs VALUES ('b', 'two'); INSERT INTO docs VALUES ('a', NULL)").ok());
  EXPECT_EQ(*client_->GetTableRowCount("DOCS"), 2);
  auto rows = client_->GetTableRows("docs");
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  EXPECT_EQ(*rows, (std::vector<std::string>{R"({"doc_id":"a","body":null})", R"({"doc_id":"b","body":"two"})"}));
  auto info = client_->GetTableInfo("files");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->key_column, "id");
  EXPECT_TRUE(info->key_is_blob);
  ASSERT_EQ(info->columns.size(), 3U);
  EXPECT_TRUE(info->columns[0].is_primary_key);
  EXPECT_FALSE(info->columns[1].is_blob);
  EXPECT_TRUE(info->columns[2].is_blob);
  EXPECT_EQ(client_->GetTableRowCount("nope").error().code(), ErrorCode::kInvalidArgument);
  // SerializeRow takes BLOB keys as dashed UUID, 32-hex or exact base64 (client.md §1.7).
  ASSERT_TRUE(internal::Exec(db_.get(), "INSERT INTO files VALUES (x'00112233445566778899aabbccddeeff', 'f', NULL)").ok());
  auto by_hex = client_->SerializeRow("files", "00112233445566778899aabbccddeeff");
  auto by_b64 = client_->SerializeRow("files", "ABEiM0RVZneImaq7zN3u/w==");
  ASSERT_TRUE(by_hex.has_value() && by_b64.has_value());
  EXPECT_EQ(*by_hex, *by_b64);
  EXPECT_EQ(*by_hex, R"({"id":"00112233445566778899aabbccddeeff","name":"f","data":null})");
}

}  // namespace
}  // namespace oversync::oversqlite
