// Unit tests for push_validation.h: the stateless push-chunk rules of protocol.md §3.3 step 3
// (Go order, first failure wins, exact messages), the identifier/op/key/payload encodings of
// §2.2-§2.5, and our number-precision extension (§2.5.3, push_validation.h).
#include "oversync/protocol/push_validation.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/protocol/codec.h"
#include "oversync/protocol/json_writer.h"

namespace oversync::protocol {
namespace {

constexpr std::string_view kUuid1 = "550e8400-e29b-41d4-a716-446655440000";
constexpr std::string_view kUuid2 = "6df0d8dd-a84b-43b6-bbca-8de70432922a";
constexpr std::int64_t kMaxRows = 5000;  // protocol.md §6 max_rows_per_push_chunk

// business.users (uuid key "id", bytea "avatar"), business.docs (text key "doc_id") and
// public.notes (text key "id").
class TestTables final : public TableLookup {
 public:
  TestTables() {
    users_.schema = "business";
    users_.table = "users";
    users_.key_column = "id";
    users_.key_kind = SyncKeyKind::kUuid;
    users_.bytea_columns = {"avatar"};
    docs_.schema = "business";
    docs_.table = "docs";
    docs_.key_column = "doc_id";
    docs_.key_kind = SyncKeyKind::kText;
    notes_.schema = "public";
    notes_.table = "notes";
    notes_.key_column = "id";
    notes_.key_kind = SyncKeyKind::kText;
  }

  const TableShape* Find(std::string_view schema, std::string_view table) const override {
    for (const TableShape* shape : {&users_, &docs_, &notes_}) {
      if (shape->schema == schema && shape->table == table) return shape;
    }
    return nullptr;
  }

  const TableShape& users() const { return users_; }
  const TableShape& docs() const { return docs_; }
  const TableShape& notes() const { return notes_; }

 private:
  TableShape users_;
  TableShape docs_;
  TableShape notes_;
};

JsonValue Json(std::string_view text) {
  Result<JsonValue> parsed = ParseJson(text);
  EXPECT_TRUE(parsed.has_value()) << "test JSON does not parse: " << text;
  return parsed.has_value() ? std::move(*parsed) : JsonValue();
}

std::string ToJson(const JsonValue& value) {
  std::string out;
  JsonWriter w(out);
  w.Value(value);
  return out;
}

// A row; `payload` nullopt = member absent, "null" = explicit null (payload_present).
PushRequestRow Row(std::string schema, std::string table, std::string_view key, std::string op,
                   std::optional<std::string_view> payload, std::int64_t base_row_version = 0) {
  PushRequestRow row;
  row.schema = std::move(schema);
  row.table = std::move(table);
  row.key = Json(key);
  row.op = std::move(op);
  row.base_row_version = base_row_version;
  if (payload.has_value()) {
    row.payload_present = true;
    row.payload = Json(*payload);
  }
  return row;
}

std::string UserKey(std::string_view id) { return R"({"id":")" + std::string(id) + R"("})"; }
std::string DocKey(std::string_view id) { return R"({"doc_id":")" + std::string(id) + R"("})"; }

PushRequestRow UserInsert(std::string_view payload = R"({"name":"Ada"})",
                          std::string_view id = kUuid1) {
  return Row("business", "users", UserKey(id), "INSERT", payload);
}

PushChunkRequest Chunk(std::vector<PushRequestRow> rows, std::int64_t start = 0) {
  PushChunkRequest chunk;
  chunk.start_row_ordinal = start;
  chunk.rows = std::move(rows);
  return chunk;
}

class PushValidationTest : public testing::Test {
 protected:
  Result<std::vector<ValidatedPushRow>> Validate(PushChunkRequest chunk,
                                                 std::int64_t max_rows = kMaxRows) const {
    return ValidatePushChunk(std::move(chunk), tables_, GoCanonicalV1Profile(), max_rows);
  }

  // Validates `rows` and expects push_chunk_invalid with exactly `message`.
  testing::AssertionResult Rejects(std::vector<PushRequestRow> rows, std::string_view message,
                                   std::int64_t max_rows = kMaxRows) const {
    return RejectsChunk(Chunk(std::move(rows)), message, max_rows);
  }

  testing::AssertionResult RejectsChunk(PushChunkRequest chunk, std::string_view message,
                                        std::int64_t max_rows = kMaxRows) const {
    auto result = Validate(std::move(chunk), max_rows);
    if (result.has_value()) return testing::AssertionFailure() << "expected an error, got OK";
    const Status& st = result.error();
    if (st.code() != ErrorCode::kPushChunkInvalid || st.message() != message) {
      return testing::AssertionFailure()
             << "got " << st.ToString() << ", expected push_chunk_invalid: " << message;
    }
    return testing::AssertionSuccess();
  }

  testing::AssertionResult Accepts(std::vector<PushRequestRow> rows) const {
    auto result = Validate(Chunk(std::move(rows)));
    if (!result.has_value()) {
      return testing::AssertionFailure() << "expected OK, got " << result.error().ToString();
    }
    return testing::AssertionSuccess();
  }

  TestTables tables_;
};

// ---- chunk-level rules ----------------------------------------------------------------------

TEST_F(PushValidationTest, StartRowOrdinalMustBeNonNegative) {
  // protocol.md §3.3 step 3: start_row_ordinal < 0 -> "start_row_ordinal must be >= 0".
  EXPECT_TRUE(RejectsChunk(Chunk({UserInsert()}, -1), "start_row_ordinal must be >= 0"));
  EXPECT_TRUE(RejectsChunk(Chunk({UserInsert()}, INT64_MIN), "start_row_ordinal must be >= 0"));
  // Checked before the empty-rows rule.
  EXPECT_TRUE(RejectsChunk(Chunk({}, -1), "start_row_ordinal must be >= 0"));
  auto ok = Validate(Chunk({UserInsert()}, 7));
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
}

TEST_F(PushValidationTest, RowsMustNotBeEmpty) {
  // protocol.md §3.3 step 3: rows missing/empty -> "rows must not be empty".
  EXPECT_TRUE(RejectsChunk(Chunk({}), "rows must not be empty"));
  EXPECT_TRUE(RejectsChunk(Chunk({}, 3), "rows must not be empty"));
}

TEST_F(PushValidationTest, MaxRowsPerChunk) {
  // protocol.md §3.3 step 3: "rows length N exceeds max_rows_per_push_chunk M"; checked before
  // any row (so it wins over invalid rows).
  std::vector<PushRequestRow> rows = {Row("business", "docs", DocKey("a"), "DELETE", std::nullopt),
                                      Row("business", "docs", DocKey("b"), "DELETE", std::nullopt),
                                      Row("business", "docs", DocKey("c"), "DELETE", std::nullopt)};
  EXPECT_TRUE(RejectsChunk(Chunk(rows), "rows length 3 exceeds max_rows_per_push_chunk 2", 2));
  auto ok = Validate(Chunk(rows), 3);
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->size(), 3U);
  rows.push_back(Row("Bad-Schema", "docs", DocKey("d"), "NOPE", std::nullopt));
  EXPECT_TRUE(RejectsChunk(Chunk(rows), "rows length 4 exceeds max_rows_per_push_chunk 3", 3));
  // Default limit 5000 (protocol.md §6): 5000 rows pass, 5001 do not.
  std::vector<PushRequestRow> many;
  for (int i = 0; i <= 5000; ++i) {
    many.push_back(
        Row("business", "docs", DocKey("d" + std::to_string(i)), "DELETE", std::nullopt));
  }
  EXPECT_TRUE(RejectsChunk(Chunk(many), "rows length 5001 exceeds max_rows_per_push_chunk 5000"));
  many.pop_back();
  auto all = Validate(Chunk(std::move(many)));
  ASSERT_TRUE(all.has_value()) << all.error().ToString();
  EXPECT_EQ(all->size(), 5000U);
}

// ---- successful normalization ----------------------------------------------------------------

TEST_F(PushValidationTest, NormalizesRowsInRequestOrder) {
  // protocol.md §2.2: schema/table trimmed and lowercased; §2.4: op trimmed, case-insensitive.
  auto result = Validate(
      Chunk({Row("  BUSINESS ", "\tUsers\n", UserKey(kUuid1), " insert ",
                 R"({"id":"550e8400-e29b-41d4-a716-446655440000","Name":"Ada","score":1.50})", 0),
             Row("business", "docs", DocKey("doc-1"), "uPdAtE", R"({"title":"t"})", 12),
             Row("Business", "DOCS", DocKey("doc-2"), "\r\ndelete ", std::nullopt, 13)},
            4));
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  const std::vector<ValidatedPushRow>& rows = *result;
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows[0].table, &tables_.users());
  EXPECT_EQ(rows[0].op, Op::kInsert);
  EXPECT_EQ(rows[0].key_value, kUuid1);
  EXPECT_EQ(rows[0].base_row_version, 0);
  EXPECT_EQ(ToJson(rows[0].payload),
            R"({"id":"550e8400-e29b-41d4-a716-446655440000","Name":"Ada","score":1.50})");
  EXPECT_EQ(rows[1].table, &tables_.docs());
  EXPECT_EQ(rows[1].op, Op::kUpdate);
  EXPECT_EQ(rows[1].key_value, "doc-1");
  EXPECT_EQ(rows[1].base_row_version, 12);
  EXPECT_EQ(ToJson(rows[1].payload), R"({"title":"t"})");
  EXPECT_EQ(rows[2].table, &tables_.docs());
  EXPECT_EQ(rows[2].op, Op::kDelete);
  EXPECT_EQ(rows[2].key_value, "doc-2");
  EXPECT_EQ(rows[2].base_row_version, 13);
  EXPECT_TRUE(rows[2].payload.is_null());  // push_validation.h: null for DELETE
}

TEST_F(PushValidationTest, BlankSchemaMeansPublic) {
  // protocol.md §2.2/§3.3: schema blank -> public (after trimming).
  for (const char* schema : {"", " ", "\t\n "}) {
    auto result =
        Validate(Chunk({Row(schema, "notes", R"({"id":"n-1"})", "INSERT", R"({"body":"x"})")}));
    ASSERT_TRUE(result.has_value()) << "'" << schema << "' -> " << result.error().ToString();
    EXPECT_EQ((*result)[0].table, &tables_.notes());
  }
  // The normalized name appears in messages.
  EXPECT_TRUE(Rejects({Row("", "users", UserKey(kUuid1), "INSERT", "{}")},
                      "table public.users is not registered"));
}

TEST(NormalizeIdentifierTest, TrimsLowercasesAndChecksTheAlphabet) {
  // protocol.md §2.2: trimmed and lowercased; ^[a-z0-9_]+$; blank schema -> public.
  std::string out;
  EXPECT_TRUE(NormalizeIdentifier("  Business_01 ", false, out));
  EXPECT_EQ(out, "business_01");
  EXPECT_TRUE(NormalizeIdentifier("", true, out));
  EXPECT_EQ(out, "public");
  EXPECT_TRUE(NormalizeIdentifier(" \t", true, out));
  EXPECT_EQ(out, "public");
  EXPECT_FALSE(NormalizeIdentifier("", false, out));
  EXPECT_FALSE(NormalizeIdentifier("  ", false, out));
  for (const char* bad : {"a-b", "a b", "a.b", "\"a\"", "ä", "a$", "users;"}) {
    EXPECT_FALSE(NormalizeIdentifier(bad, false, out)) << bad;
    EXPECT_FALSE(NormalizeIdentifier(bad, true, out)) << bad;
  }
}

// ---- per-row rules in Go's order (protocol.md §3.3 step 3) ------------------------------------

TEST_F(PushValidationTest, InvalidSchemaName) {
  // protocol.md §3.3 step 3: "invalid schema name %q" with the original (unnormalized) input.
  EXPECT_TRUE(Rejects({Row("Bad-Schema", "users", UserKey(kUuid1), "INSERT", "{}")},
                      R"(invalid schema name "Bad-Schema")"));
  EXPECT_TRUE(Rejects({Row(" my schema ", "users", UserKey(kUuid1), "INSERT", "{}")},
                      R"(invalid schema name " my schema ")"));
  EXPECT_TRUE(Rejects({Row("bad\tname\"x", "users", UserKey(kUuid1), "INSERT", "{}")},
                      R"(invalid schema name "bad\tname\"x")"));
  EXPECT_TRUE(Rejects({Row("business.x", "users", UserKey(kUuid1), "INSERT", "{}")},
                      R"(invalid schema name "business.x")"));
}

TEST_F(PushValidationTest, InvalidTableName) {
  // protocol.md §3.3 step 3: "invalid table name %q" (original input); an empty table is
  // invalid (no default).
  EXPECT_TRUE(Rejects({Row("business", "Users!", UserKey(kUuid1), "INSERT", "{}")},
                      R"(invalid table name "Users!")"));
  EXPECT_TRUE(
      Rejects({Row("business", "", UserKey(kUuid1), "INSERT", "{}")}, R"(invalid table name "")"));
  EXPECT_TRUE(Rejects({Row("business", "  ", UserKey(kUuid1), "INSERT", "{}")},
                      R"(invalid table name "  ")"));
}

TEST_F(PushValidationTest, NullRowFromTheDecoderFailsOnTheTableName) {
  // protocol.md §3.3: a JSON null row element decodes to a zero row (codec); validation rejects
  // it: schema blank -> public is valid, table "" is not.
  auto decoded = DecodePushChunkRequest(R"({"start_row_ordinal":0,"rows":[null]})");
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  EXPECT_TRUE(RejectsChunk(std::move(*decoded), R"(invalid table name "")"));
}

TEST_F(PushValidationTest, TableNotRegistered) {
  // protocol.md §3.3 step 3: "table S.T is not registered" with normalized names.
  EXPECT_TRUE(Rejects({Row(" Business ", "NOPE", UserKey(kUuid1), "INSERT", "{}")},
                      "table business.nope is not registered"));
  EXPECT_TRUE(Rejects({Row("public", "docs", DocKey("d"), "INSERT", "{}")},
                      "table public.docs is not registered"));
}

TEST_F(PushValidationTest, InvalidOp) {
  // protocol.md §3.3 step 3: "invalid op %q" with the original input; §2.4: only
  // INSERT/UPDATE/DELETE.
  for (const char* op : {"MERGE", "", "  ", "INSERTS", "UPSERT", "DEL", "INSERT;"}) {
    EXPECT_TRUE(Rejects({Row("business", "users", UserKey(kUuid1), op, "{}")},
                        "invalid op \"" + std::string(op) + "\""))
        << op;
  }
  EXPECT_TRUE(Rejects({Row("business", "users", UserKey(kUuid1), "in sert", "{}")},
                      R"(invalid op "in sert")"));
}

TEST_F(PushValidationTest, OpIsCaseInsensitiveAndTrimmed) {
  // protocol.md §2.4: input op trimmed and upper-cased.
  for (const char* op : {"insert", "Insert", " INSERT", "INSERT\t", "\n insert \r"}) {
    PushRequestRow row = UserInsert();
    row.op = op;
    auto r = Validate(Chunk({std::move(row)}));
    ASSERT_TRUE(r.has_value()) << "'" << op << "' -> " << r.error().ToString();
    EXPECT_EQ((*r)[0].op, Op::kInsert) << op;
  }
}

TEST_F(PushValidationTest, KeyMustIncludeTheSyncKeyColumn) {
  // protocol.md §2.3: only the entry named exactly as the registered (lowercase) key column is
  // read; the lookup is case-sensitive.
  for (const char* key :
       {"{}", R"({"ID":"550e8400-e29b-41d4-a716-446655440000"})",
        R"({"user_id":"550e8400-e29b-41d4-a716-446655440000"})", R"({" id":"x"})"}) {
    EXPECT_TRUE(Rejects({Row("business", "users", key, "INSERT", "{}")},
                        R"(row key for business.users must include "id")"))
        << key;
  }
  EXPECT_TRUE(Rejects({Row("business", "docs", R"({"id":"d"})", "DELETE", std::nullopt)},
                      R"(row key for business.docs must include "doc_id")"));
  // A non-object key (only constructible in-process; the decoder rejects it) is "missing" too.
  PushRequestRow row = UserInsert();
  row.key = JsonValue::String(std::string(kUuid1));
  EXPECT_TRUE(Rejects({std::move(row)}, R"(row key for business.users must include "id")"));
}

TEST_F(PushValidationTest, KeyValueMustBeAString) {
  // protocol.md §2.3: the key value is a string.
  for (const char* key : {R"({"id":5})", R"({"id":null})", R"({"id":true})", R"({"id":{}})",
                          R"({"id":["550e8400-e29b-41d4-a716-446655440000"]})"}) {
    EXPECT_TRUE(Rejects({Row("business", "users", key, "INSERT", "{}")},
                        "row key business.users.id must be a string"))
        << key;
  }
  EXPECT_TRUE(Rejects({Row("business", "docs", R"({"doc_id":7})", "DELETE", std::nullopt)},
                      "row key business.docs.doc_id must be a string"));
}

TEST_F(PushValidationTest, ExtraKeyMembersAreIgnored) {
  // protocol.md §2.3: extra entries are ignored.
  auto result = Validate(Chunk(
      {Row("business", "users",
           R"({"other":1,"id":"550e8400-e29b-41d4-a716-446655440000","ID":"x"})", "INSERT", "{}"),
       Row("business", "docs", R"({"doc_id":"d","id":5})", "DELETE", std::nullopt)}));
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ((*result)[0].key_value, kUuid1);
  EXPECT_EQ((*result)[1].key_value, "d");
}

TEST_F(PushValidationTest, UuidKeysMustBeCanonical) {
  // protocol.md §2.3: uppercase, braces, no dashes, urn:uuid: prefix -> "must use canonical
  // dashed lowercase UUID text".
  const std::string message =
      "row key business.users.id must use canonical dashed lowercase UUID text";
  for (const char* id :
       {"550E8400-E29B-41D4-A716-446655440000", "550e8400-e29b-41d4-a716-44665544000A",
        "{550e8400-e29b-41d4-a716-446655440000}", "550e8400e29b41d4a716446655440000",
        "urn:uuid:550e8400-e29b-41d4-a716-446655440000", " 550e8400-e29b-41d4-a716-446655440000",
        "550e8400-e29b-41d4-a716-446655440000 ", "550e8400-e29b-41d4-a716-4466554400",
        "550e8400-e29b-41d4-a716-4466554400000", "550e8400_e29b_41d4_a716_446655440000",
        "gggggggg-e29b-41d4-a716-446655440000", "", "not-a-uuid"}) {
    EXPECT_TRUE(Rejects({Row("business", "users", UserKey(id), "INSERT", "{}")}, message)) << id;
  }
  // Text keys are arbitrary strings (including empty and uppercase UUID text).
  EXPECT_TRUE(Accepts({Row("business", "docs", DocKey("550E8400-E29B-41D4-A716-446655440000"),
                           "DELETE", std::nullopt),
                       Row("business", "docs", DocKey(""), "DELETE", std::nullopt),
                       Row("business", "docs", DocKey("Doc 42 / ü"), "DELETE", std::nullopt)}));
}

TEST_F(PushValidationTest, DuplicateTargetRows) {
  // protocol.md §3.3 step 3: "duplicate target row in push request: S.T <key>" (same table +
  // key twice in one chunk).
  EXPECT_TRUE(
      Rejects({UserInsert(R"({"name":"a"})"), UserInsert(R"({"name":"b"})", kUuid2),
               Row("business", "users", UserKey(kUuid1), "DELETE", std::nullopt)},
              "duplicate target row in push request: business.users " + std::string(kUuid1)));
  EXPECT_TRUE(Rejects({Row("business", "docs", DocKey("doc-1"), "INSERT", "{}"),
                       Row(" BUSINESS", "Docs", DocKey("doc-1"), "update", "{}")},
                      "duplicate target row in push request: business.docs doc-1"));
  // The same key in different tables, or different keys, is fine; text keys are
  // case-sensitive.
  EXPECT_TRUE(Accepts({Row("business", "docs", DocKey("x"), "DELETE", std::nullopt),
                       Row("public", "notes", R"({"id":"x"})", "DELETE", std::nullopt),
                       Row("business", "docs", DocKey("X"), "DELETE", std::nullopt)}));
}

TEST_F(PushValidationTest, DeleteMustNotIncludePayload) {
  // protocol.md §2.5.1: DELETE payload MUST be absent; even "payload": null is rejected.
  for (const char* payload :
       {"{}", "null", R"({"id":"550e8400-e29b-41d4-a716-446655440000"})", "[]", "\"x\""}) {
    EXPECT_TRUE(Rejects({Row("business", "users", UserKey(kUuid1), "DELETE", payload)},
                        "DELETE for business.users must not include payload"))
        << payload;
  }
  EXPECT_TRUE(Rejects({Row("business", "docs", DocKey("d"), " delete", "null")},
                      "DELETE for business.docs must not include payload"));
  EXPECT_TRUE(Accepts({Row("business", "users", UserKey(kUuid1), "DELETE", std::nullopt)}));
}

TEST_F(PushValidationTest, ExplicitNullPayloadFromTheWireIsRejectedForDelete) {
  // protocol.md §2.5.1 end to end: the decoder records "payload": null as present.
  auto decoded = DecodePushChunkRequest(
      R"({"start_row_ordinal":0,"rows":[{"schema":"business","table":"docs","key":{"doc_id":"d"},"op":"DELETE","payload":null}]})");
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  EXPECT_TRUE(
      RejectsChunk(std::move(*decoded), "DELETE for business.docs must not include payload"));
}

TEST_F(PushValidationTest, InsertAndUpdateRequirePayload) {
  // protocol.md §3.3 step 3: "INSERT for S.T requires payload" (resp. UPDATE), normalized op.
  EXPECT_TRUE(Rejects({Row("business", "users", UserKey(kUuid1), "insert", std::nullopt)},
                      "INSERT for business.users requires payload"));
  EXPECT_TRUE(Rejects({Row("business", "docs", DocKey("d"), " Update ", std::nullopt)},
                      "UPDATE for business.docs requires payload"));
}

TEST_F(PushValidationTest, PayloadMustBeAnObject) {
  // protocol.md §3.3 step 3: "payload for S.T must be a JSON object" (incl. null, array).
  for (const char* payload : {"null", "[]", R"([{"name":"x"}])", "\"x\"", "5", "true"}) {
    EXPECT_TRUE(Rejects({UserInsert(payload)}, "payload for business.users must be a JSON object"))
        << payload;
    EXPECT_TRUE(Rejects({Row("business", "docs", DocKey("d"), "UPDATE", payload)},
                        "payload for business.docs must be a JSON object"))
        << payload;
  }
}

TEST_F(PushValidationTest, HiddenScopeColumnIsRejected) {
  // protocol.md §2.5.1: a payload with the exact key _sync_scope_id -> 400.
  EXPECT_TRUE(Rejects(
      {UserInsert(R"({"name":"a","_sync_scope_id":"user-1"})")},
      R"(payload for business.users must not include hidden scope column "_sync_scope_id")"));
  EXPECT_TRUE(Rejects(
      {UserInsert(R"({"_sync_scope_id":null})")},
      R"(payload for business.users must not include hidden scope column "_sync_scope_id")"));
  // Go only matches the exact name (server.md §4.2), and another spelling then failed with a
  // 500 at commit; we reject every spelling with the same 400 (docs/compatibility.md item 27).
  EXPECT_TRUE(Rejects(
      {UserInsert(R"({"_SYNC_SCOPE_ID":"x"})")},
      R"(payload for business.users must not include hidden scope column "_sync_scope_id")"));
}

TEST_F(PushValidationTest, PayloadKeyMustMatchTheRequestKey) {
  // protocol.md §2.5.1: if the payload contains the key column it must be an equal string.
  const std::string message = "payload key business.users.id must match request key";
  for (const char* payload :
       {R"({"id":"6df0d8dd-a84b-43b6-bbca-8de70432922a"})", R"({"id":5})", R"({"id":null})",
        R"({"id":"550E8400-E29B-41D4-A716-446655440000"})", R"({"id":{}})"}) {
    EXPECT_TRUE(Rejects({UserInsert(payload)}, message)) << payload;
  }
  EXPECT_TRUE(Rejects({Row("business", "docs", DocKey("d"), "UPDATE", R"({"doc_id":"e"})")},
                      "payload key business.docs.doc_id must match request key"));
  // Equal string or absent key member is fine; a differently cased member is just a column.
  EXPECT_TRUE(Accepts({UserInsert(R"({"id":"550e8400-e29b-41d4-a716-446655440000","n":1})")}));
  EXPECT_TRUE(Accepts({UserInsert(R"({"n":1})", kUuid2)}));
  EXPECT_TRUE(Accepts({Row("business", "docs", DocKey("d"), "INSERT", R"({"DOC_ID":"other"})")}));
}

TEST_F(PushValidationTest, InvalidColumnNames) {
  // protocol.md §3.3 step 3: "payload for S.T contains invalid column %q" when the lowercased
  // name violates ^[a-z0-9_]+$; uppercase names are valid (lowercased).
  for (const char* column : {"bad-col", "a b", "", "na.me", "x;drop", "ä", "\"q\""}) {
    JsonValue payload = JsonValue::Object();
    payload.Add("name", JsonValue::String("ok"));
    payload.Add(column, JsonValue::Integer(1));
    PushRequestRow row = UserInsert();
    row.payload = std::move(payload);
    std::string quoted;
    AppendGoQuoted(column, quoted);
    EXPECT_TRUE(
        Rejects({std::move(row)}, "payload for business.users contains invalid column " + quoted))
        << column;
  }
  EXPECT_TRUE(Accepts({UserInsert(R"({"Name":"a","EMAIL_2":"b","_x":1,"9":2})")}));
}

TEST_F(PushValidationTest, ByteaMustBeABase64String) {
  // protocol.md §2.5.2: non-null bytea must be a JSON string ("must be a base64 string").
  for (const char* value : {"5", "true", "[]", "{}", R"(["AAAA"])"}) {
    EXPECT_TRUE(Rejects({UserInsert(R"({"avatar":)" + std::string(value) + "}")},
                        "payload binary field business.users.avatar must be a base64 string"))
        << value;
  }
}

TEST_F(PushValidationTest, ByteaMustBeValidBase64) {
  // protocol.md §2.5.2: standard padded base64 ("must be valid base64"); URL alphabet, missing
  // padding and stray characters are rejected.
  for (const char* value : {"!!!!", "AAA", "AA", "A", "AAAA=", "AA=A", "-_-_", "AA==AA==", " AAAA",
                            "AAAA ", "AA AA", "AA\\tAA", "QUJD\\u0000", "Zm9v=", "=AAA"}) {
    EXPECT_TRUE(Rejects({UserInsert(R"({"avatar":")" + std::string(value) + R"("})")},
                        "payload binary field business.users.avatar must be valid base64"))
        << value;
  }
}

TEST_F(PushValidationTest, ByteaAcceptedForms) {
  // protocol.md §2.5.2: NULL and "" (empty bytea) accepted; Go's StdEncoding skips embedded \r
  // and \n and does not require zero trailing bits (§9 verification item 7).
  for (const char* value :
       {"null", R"("")", R"("AAEC")", R"("AA==")", R"("AAE=")", R"("+/+/")", R"("QUJD\r\nREVG")",
        R"("QUJD\nREVG\n")", R"("\r\nQUJD")", R"("QQ\n==")", R"("AB==")", R"("AAF=")"}) {
    EXPECT_TRUE(Accepts({UserInsert(R"({"avatar":)" + std::string(value) + "}")})) << value;
  }
  // Non-bytea columns are not checked.
  EXPECT_TRUE(Accepts({UserInsert(R"({"name":"!!!","photo":5})")}));
  EXPECT_TRUE(Accepts({Row("business", "docs", DocKey("d"), "INSERT", R"({"avatar":5})")}));
}

TEST_F(PushValidationTest, ByteaColumnMatchedCaseInsensitivelyAndNamedAsSent) {
  // Go binary_wire.go: the column type is looked up by the lowercased member name, and the
  // message names the member as sent.
  EXPECT_TRUE(Rejects({UserInsert(R"({"AVATAR":5})")},
                      "payload binary field business.users.AVATAR must be a base64 string"));
  EXPECT_TRUE(Rejects({UserInsert(R"({"Avatar":"***"})")},
                      "payload binary field business.users.Avatar must be valid base64"));
  EXPECT_TRUE(Accepts({UserInsert(R"({"AVATAR":"AAEC"})")}));
}

TEST_F(PushValidationTest, DuplicatePayloadMembersLastWinsForBytea) {
  // Go decodes the payload into a map (last duplicate wins) before checking bytea values.
  EXPECT_TRUE(Accepts({UserInsert(R"({"avatar":5,"avatar":"AAEC"})")}));
  EXPECT_TRUE(Rejects({UserInsert(R"({"avatar":"AAEC","avatar":5})")},
                      "payload binary field business.users.avatar must be a base64 string"));
}

// ---- our extension: integers beyond 2^53 (push_validation.h, protocol.md §2.5.3) --------------

TEST_F(PushValidationTest, IntegersBeyondTwoToThe53AreRejected) {
  // push_validation.h: Go would silently round these through float64 (protocol.md §2.5.3); we
  // refuse with push_chunk_invalid instead of corrupting. Nested values are checked too.
  for (const char* payload :
       {R"({"n":9007199254740993})", R"({"n":-9007199254740993})", R"({"n":18014398509481984})",
        R"({"n":123456789012345678901234567890})", R"({"meta":{"deep":{"n":9007199254740993}}})",
        R"({"list":[1,2,[3,9007199254740993]]})", R"({"list":[{"n":-9007199254740995}]})"}) {
    auto result = Validate(Chunk({UserInsert(payload)}));
    ASSERT_FALSE(result.has_value()) << payload;
    EXPECT_EQ(result.error().code(), ErrorCode::kPushChunkInvalid) << result.error().ToString();
    EXPECT_NE(result.error().message().find("exceeds 2^53"), std::string::npos)
        << result.error().message();
  }
  auto result = Validate(Chunk({UserInsert(R"({"n":9007199254740993})")}));
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message().find("9007199254740993"), std::string::npos)
      << result.error().message();
  EXPECT_NE(result.error().message().find("business.users.n"), std::string::npos)
      << result.error().message();
}

TEST_F(PushValidationTest, ExactlyRepresentableNumbersAreAccepted) {
  // 2^53 itself, fractions and exponent forms are accepted (Go keeps them as doubles).
  for (const char* payload :
       {R"({"n":9007199254740992})", R"({"n":-9007199254740992})", R"({"n":9007199254740991})",
        R"({"n":1.5})", R"({"n":1e300})", R"({"n":-1e300})", R"({"n":1.50})", R"({"n":0})",
        R"({"n":-0})", R"({"n":1e21})", R"({"n":0.0000001})", R"({"n":[9007199254740992,1.5]})",
        R"({"n":"9007199254740993"})"}) {
    EXPECT_TRUE(Accepts({UserInsert(payload)})) << payload;
  }
}

TEST_F(PushValidationTest, BigIntegerInDeleteRowsOrKeysIsNotAPayloadIssue) {
  // push_validation.h: the number rule applies to payloads only; extra key members are ignored
  // (protocol.md §2.3).
  EXPECT_TRUE(Accepts(
      {Row("business", "docs", R"({"doc_id":"d","n":9007199254740993})", "DELETE", std::nullopt)}));
}

// protocol.md §2.5.3 / §3.3 step 3: "A number that does not fit a double (e.g. 1e400) makes the
// payload invalid (400 'must be a JSON object')" — i.e. push_chunk_invalid for that row, after the
// earlier per-row checks. DISABLED: the JSON parser rejects 1e400 while decoding the whole body,
// so the server answers 400 invalid_request "Failed to parse push chunk request" instead
// (same HTTP status, different error code and message, and earlier rows' failures no longer
// win). Fixing it needs a parser mode that keeps out-of-range numbers as lexemes (not small).
TEST_F(PushValidationTest, NumberOutOfDoubleRangeMakesThePayloadInvalid) {
  auto decoded = DecodePushChunkRequest(
      R"({"rows":[{"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"INSERT","payload":{"n":1e400}}]})");
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  EXPECT_TRUE(
      RejectsChunk(std::move(*decoded), "payload for business.users must be a JSON object"));
}

// ---- ordering: first failure wins ---------------------------------------------------------------

TEST_F(PushValidationTest, EarlierRowFailureWinsOverLaterRow) {
  // protocol.md §3.3 step 3: rows are checked in order; the first failing row decides, even when
  // its rule comes later in the rule list than the later row's.
  EXPECT_TRUE(Rejects(
      {UserInsert(R"({"avatar":5})"), Row("Bad-Schema", "users", UserKey(kUuid2), "INSERT", "{}")},
      "payload binary field business.users.avatar must be a base64 string"));
  EXPECT_TRUE(Rejects({Row("business", "docs", DocKey("d"), "MERGE", "{}"),
                       Row("business", "nope", DocKey("d"), "INSERT", "{}")},
                      R"(invalid op "MERGE")"));
  EXPECT_TRUE(Rejects({UserInsert(), Row("business", "nope", DocKey("d"), "INSERT", "{}"),
                       Row("Bad-Schema", "users", UserKey(kUuid2), "INSERT", "{}")},
                      "table business.nope is not registered"));
  // A duplicate is reported at the second occurrence, so an invalid row between wins.
  EXPECT_TRUE(
      Rejects({UserInsert(), Row("business", "docs", DocKey("d"), "UPSERT", "{}"), UserInsert()},
              R"(invalid op "UPSERT")"));
}

TEST_F(PushValidationTest, RulesWithinARowApplyInGoOrder) {
  // protocol.md §3.3 step 3 list order; each case breaks two adjacent rules and expects the
  // earlier one.
  struct Case {
    PushRequestRow row;
    std::string message;
  };
  const std::string uuid(kUuid1);
  std::vector<Case> cases;
  // schema before table
  cases.push_back({Row("Bad-Schema", "Bad-Table", UserKey(uuid), "INSERT", "{}"),
                   R"(invalid schema name "Bad-Schema")"});
  // table name before registration
  cases.push_back({Row("nope", "Bad-Table", UserKey(uuid), "INSERT", "{}"),
                   R"(invalid table name "Bad-Table")"});
  // registration before op
  cases.push_back({Row("business", "nope", UserKey(uuid), "MERGE", "{}"),
                   "table business.nope is not registered"});
  // op before key
  cases.push_back({Row("business", "users", "{}", "MERGE", "{}"), R"(invalid op "MERGE")"});
  // key presence before DELETE payload
  cases.push_back({Row("business", "users", "{}", "DELETE", "{}"),
                   R"(row key for business.users must include "id")"});
  // key type before DELETE payload
  cases.push_back({Row("business", "users", R"({"id":1})", "DELETE", "{}"),
                   "row key business.users.id must be a string"});
  // canonical uuid before payload presence
  cases.push_back({Row("business", "users", UserKey("ABC"), "INSERT", std::nullopt),
                   "row key business.users.id must use canonical dashed lowercase UUID text"});
  // payload object before hidden column / key match (n/a) -> hidden before key mismatch
  cases.push_back(
      {UserInsert(R"({"id":"other","_sync_scope_id":"u"})"),
       R"(payload for business.users must not include hidden scope column "_sync_scope_id")"});
  // key mismatch before invalid column
  cases.push_back({UserInsert(R"({"bad-col":1,"id":"other"})"),
                   "payload key business.users.id must match request key"});
  // invalid column before bytea
  cases.push_back({UserInsert(R"({"avatar":5,"bad-col":1})"),
                   R"(payload for business.users contains invalid column "bad-col")"});
  // bytea before the 2^53 number rule
  cases.push_back({UserInsert(R"({"n":9007199254740993,"avatar":"!"})"),
                   "payload binary field business.users.avatar must be valid base64"});
  for (Case& c : cases) {
    const std::string message = c.message;
    EXPECT_TRUE(Rejects({std::move(c.row)}, message)) << message;
  }
}

TEST_F(PushValidationTest, DuplicateCheckComesBeforePayloadChecks) {
  // protocol.md §3.3 step 3: duplicate target row precedes the DELETE/payload rules.
  EXPECT_TRUE(Rejects({Row("business", "docs", DocKey("d"), "DELETE", std::nullopt),
                       Row("business", "docs", DocKey("d"), "DELETE", "null")},
                      "duplicate target row in push request: business.docs d"));
  EXPECT_TRUE(
      Rejects({UserInsert(), UserInsert("[]")},
              "duplicate target row in push request: business.users " + std::string(kUuid1)));
}

TEST_F(PushValidationTest, ChunkFromTheWireEndToEnd) {
  // protocol.md §3.3: decode then validate a realistic chunk.
  auto decoded = DecodePushChunkRequest(
      R"({"start_row_ordinal":1000,"rows":[{"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"INSERT","base_row_version":0,"payload":{"id":"550e8400-e29b-41d4-a716-446655440000","name":"Ada","avatar":"AAEC"}},{"schema":"business","table":"docs","key":{"doc_id":"doc-42"},"op":"DELETE","base_row_version":7}]})");
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  auto result = Validate(std::move(*decoded));
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  ASSERT_EQ(result->size(), 2U);
  EXPECT_EQ((*result)[0].table, &tables_.users());
  EXPECT_EQ((*result)[0].key_value, kUuid1);
  EXPECT_EQ((*result)[1].table, &tables_.docs());
  EXPECT_EQ((*result)[1].op, Op::kDelete);
  EXPECT_EQ((*result)[1].base_row_version, 7);
}

}  // namespace
}  // namespace oversync::protocol
