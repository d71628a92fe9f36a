// Bundle hash vectors V1-V3 of protocol.md §2.7 (V1 = go-oversync
// TestCompactEncoding_CommittedBundleHashCanonicalizesLogicalJSON).
#include "oversync/protocol/bundle_hash.h"

#include <gtest/gtest.h>

#include "oversync/protocol/canonical_json.h"

namespace oversync::protocol {
namespace {

JsonValue Parse(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.has_value()) << v.error().ToString();
  return v.value_or(JsonValue());
}

BundleRow Row(std::string schema, std::string table, std::string_view key, Op op,
              std::int64_t row_version, std::optional<std::string_view> payload) {
  BundleRow row;
  row.schema = std::move(schema);
  row.table = std::move(table);
  row.key = Parse(key);
  row.op = op;
  row.row_version = row_version;
  if (payload) row.payload = Parse(*payload);
  return row;
}

// Captures the exact hash input by hashing through a profile that records what it writes.
std::string CanonicalText(std::int64_t bundle_seq, const std::vector<BundleRow>& rows) {
  std::string text = "[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i) text += ',';
    JsonValue obj = JsonValue::Object();
    obj.Add("schema", JsonValue::String(rows[i].schema));
    obj.Add("table", JsonValue::String(rows[i].table));
    obj.Add("key", rows[i].key);
    obj.Add("op", JsonValue::String(std::string(OpName(rows[i].op))));
    obj.Add("row_version", JsonValue::Integer(bundle_seq));
    obj.Add("row_ordinal", JsonValue::Integer(static_cast<std::int64_t>(i)));
    obj.Add("payload", rows[i].op == Op::kDelete || !rows[i].payload ? JsonValue()
                                                                      : *rows[i].payload);
    AppendGoCanonical(obj, text);
  }
  return text + "]";
}

TEST(BundleHashTest, V1SingleInsert) {
  const std::vector<BundleRow> rows = {
      Row("public", "users", R"({"id":"row-1"})", Op::kInsert, 3,
          R"({"name":"Alice","email":"alice@example.com"})")};
  const std::string expected_text =
      R"([{"key":{"id":"row-1"},"op":"INSERT","payload":{"email":"alice@example.com","name":"Alice"},"row_ordinal":0,"row_version":3,"schema":"public","table":"users"}])";
  EXPECT_EQ(CanonicalText(3, rows), expected_text);
  EXPECT_EQ(expected_text.size(), 159U);
  auto result = ComputeBundleHash(GoCanonicalV1Profile(), 3, rows);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->hex, "677c5687bb91a8c2d34bc9e2e4f8c1d47981957bd876ba090c39b5e263d26b78");
  EXPECT_EQ(result->byte_count, 159);
  EXPECT_EQ(result->row_count, 1);
  EXPECT_EQ(HexLower(Sha256::Digest(expected_text)), result->hex);
}

TEST(BundleHashTest, V2UpdateDeleteWithEscapingAndNumberNormalization) {
  const std::vector<BundleRow> rows = {
      Row("business", "users", R"({"id":"550e8400-e29b-41d4-a716-446655440000"})", Op::kUpdate,
          7,
          R"({"id":"550e8400-e29b-41d4-a716-446655440000","name":"Tom & Jerry <3>","score":1.50,"big":9007199254740993,"tiny":0.0000001,"huge":1e21,"data":"AAEC","note":null,"ok":true})"),
      Row("business", "posts", R"({"id":"650e8400-e29b-41d4-a716-446655440001"})", Op::kDelete,
          7, std::nullopt)};
  const std::string expected_text =
      R"([{"key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"UPDATE","payload":{"big":9007199254740992,"data":"AAEC","huge":1e+21,"id":"550e8400-e29b-41d4-a716-446655440000","name":"Tom \u0026 Jerry \u003c3\u003e","note":null,"ok":true,"score":1.5,"tiny":1e-7},"row_ordinal":0,"row_version":7,"schema":"business","table":"users"},{"key":{"id":"650e8400-e29b-41d4-a716-446655440001"},"op":"DELETE","payload":null,"row_ordinal":1,"row_version":7,"schema":"business","table":"posts"}])";
  EXPECT_EQ(expected_text.size(), 480U);
  EXPECT_EQ(CanonicalText(7, rows), expected_text);
  auto result = ComputeBundleHash(GoCanonicalV1Profile(), 7, rows);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->hex, "4d1e98243b41586497900ddf0b95ebc4a2e0f5f714fb7f1e8c698051dfaf3cbc");
  EXPECT_EQ(result->byte_count, 480);
}

TEST(BundleHashTest, V3TextKey) {
  const std::vector<BundleRow> rows = {Row("business", "docs", R"({"doc_id":"doc-42"})",
                                           Op::kInsert, 1,
                                           R"({"doc_id":"doc-42","body":"Hello text key"})")};
  auto result = ComputeBundleHash(GoCanonicalV1Profile(), 1, rows);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->byte_count, 164);
  EXPECT_EQ(result->hex, "41f6bbc6ebd72f94d7f7f1f1a6a6d5908c3149f6041c078e2774fe277baf0e7e");
}

// A DELETE row hashes payload as null even if a payload was (wrongly) attached.
TEST(BundleHashTest, DeletePayloadIsHashedAsNull) {
  std::vector<BundleRow> rows = {Row("public", "t", R"({"id":"k"})", Op::kDelete, 2,
                                     R"({"x":1})")};
  std::vector<BundleRow> bare = {Row("public", "t", R"({"id":"k"})", Op::kDelete, 2,
                                     std::nullopt)};
  EXPECT_EQ(ComputeBundleHash(GoCanonicalV1Profile(), 2, rows)->hex,
            ComputeBundleHash(GoCanonicalV1Profile(), 2, bare)->hex);
}

// Streaming across many rows (crossing the 64 KiB flush) equals one-shot hashing of the text.
TEST(BundleHashTest, StreamingMatchesOneShotAcrossFlushes) {
  std::vector<BundleRow> rows;
  for (int i = 0; i < 2000; ++i) {
    rows.push_back(Row("public", "users", R"({"id":"k)" + std::to_string(i) + R"("})",
                       i % 3 == 2 ? Op::kDelete : Op::kInsert, 42,
                       R"({"n":)" + std::to_string(i) + R"(,"s":"<&>"})"));
  }
  const std::string text = CanonicalText(42, rows);
  ASSERT_GT(text.size(), 128U * 1024U);
  auto result = ComputeBundleHash(GoCanonicalV1Profile(), 42, rows);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->hex, HexLower(Sha256::Digest(text)));
  EXPECT_EQ(result->byte_count, static_cast<std::int64_t>(text.size()));
  EXPECT_EQ(result->row_count, 2000);
}

TEST(BundleHashTest, RenderUsesLowercaseHex) {
  // TestCompactEncoding_RenderBundleHashUsesLowercaseHex.
  Sha256Digest digest{};
  const std::uint8_t head[] = {0xA0, 0xB1, 0xC2, 0xD3, 0xE4, 0xF5, 0xA6, 0xB7, 0xC8, 0xD9, 0xE0, 0xF1};
  for (std::size_t i = 0; i < sizeof head; ++i) digest[i] = head[i];
  for (std::size_t i = sizeof head; i < 32; ++i) digest[i] = static_cast<std::uint8_t>(i - 10);
  EXPECT_EQ(HexLower(digest), "a0b1c2d3e4f5a6b7c8d9e0f102030405060708090a0b0c0d0e0f101112131415");
}

}  // namespace
}  // namespace oversync::protocol
