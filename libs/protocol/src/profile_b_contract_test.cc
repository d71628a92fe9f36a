// Wire profile B contract vectors: the shared client contract fixture
// tests/fixtures/oversqlite-contracts/canonical-json/jcs-uniform-numeric-strings.json
// (SQLiteNow KMP 26c5839; every integer/decimal/float/boolean case, every invalid case and every
// canonical example) and the hash vectors of protocol-b.md §4.3 and §10 (Go
// internal/jcs/contract_fixture_test.go, the profile-B redo of protocol.md's V1/V2/V3 and the
// worked exchange).
#include <array>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "oversync/common/base64.h"
#include "oversync/common/sha256.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/jcs.h"
#include "oversync/protocol/wire_profile.h"
#include "oversync/protocol/wire_values.h"

namespace oversync::protocol {
namespace {

const char kFixture[] =
    OVERSYNC_CONTRACT_FIXTURES_DIR "/canonical-json/jcs-uniform-numeric-strings.json";

JsonValue LoadFixture() {
  std::ifstream in(kFixture, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << kFixture;
  std::stringstream text;
  text << in.rdbuf();
  Result<JsonValue> parsed = ParseJson(text.str());
  EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error().ToString());
  return parsed.value_or(JsonValue::Object());
}

const JsonValue& Member(const JsonValue& object, std::string_view name) {
  const JsonValue* found = object.Find(name);
  if (found == nullptr) {
    ADD_FAILURE() << "fixture member missing: " << name;
    static const JsonValue kNull;
    return kNull;
  }
  return *found;
}

const std::string& Text(const JsonValue& object, std::string_view name) {
  return Member(object, name).as_string();
}

// "int8", "numeric(30,9)", "decimal(8,4)", "float4", "boolean" -> the family.
WireValueType DestinationType(const std::string& destination) {
  return WireValueTypeFromPostgres(destination.substr(0, destination.find('(')));
}

// The value PostgreSQL's to_jsonb produces after storing `committed` in `type` (for the cases
// that need no database: integers, numerics already at their stored scale, float8; float4 from
// the stored float's shortest text).
JsonValue PostgresJsonOf(WireValueType type, const JsonValue& committed) {
  if (!committed.is_string()) return committed;  // booleans
  const std::string& text = committed.as_string();
  if (type == WireValueType::kFloat4) {
    const double wide = ParseJsonNumberLexeme(text).value();
    const auto narrow = static_cast<float>(wide);
    std::array<char, 64> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), narrow);
    EXPECT_EQ(ec, std::errc());
    std::string lexeme(buf.data(), end);
    return JsonValue::NumberWithLexeme(ParseJsonNumberLexeme(lexeme).value(), lexeme);
  }
  return JsonValue::NumberWithLexeme(ParseJsonNumberLexeme(text).value(), text);
}

class ProfileBFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override { fixture_ = LoadFixture(); }
  JsonValue fixture_;
};

TEST_F(ProfileBFixtureTest, IdentifiesTheContract) {
  EXPECT_EQ(Text(fixture_, "contract_id"), JcsUniformNumericStringsV1Profile().name());
  EXPECT_EQ(Text(fixture_, "required_protocol_version"), "v1");
  EXPECT_EQ(FindWireProfile("jcs_uniform_numeric_strings_v1").value(),
            &JcsUniformNumericStringsV1Profile());
}

// integer_cases, decimal_cases, float_cases, boolean_cases: the uploaded wire value is accepted
// for its destination (booleans bridged to JSON booleans), and the committed value PostgreSQL
// holds renders back as the fixture's committed_server.
TEST_F(ProfileBFixtureTest, ValueCasesUploadAndRenderAsCommitted) {
  int cases = 0;
  for (const char* family : {"integer_cases", "decimal_cases", "float_cases", "boolean_cases"}) {
    for (const JsonValue& c : Member(fixture_, family).as_array()) {
      SCOPED_TRACE(Text(c, "name"));
      const WireValueType type = DestinationType(Text(c, "postgres_destination"));
      ASSERT_NE(type, WireValueType::kOther);
      const JsonValue uploaded = JsonValue::String(Text(c, "uploaded_wire"));
      const JsonValue& committed = Member(c, "committed_server");
      Result<JsonValue> applied =
          CheckUploadedWireValue(type, uploaded, "business", "numeric_values", "v");
      ASSERT_TRUE(applied.has_value()) << applied.error().ToString();
      if (type == WireValueType::kBool) {
        EXPECT_EQ(*applied, committed);  // the "0"/"1" bridge
      } else {
        EXPECT_EQ(*applied, uploaded);
      }
      Result<JsonValue> rendered = WireValueFromPostgres(type, PostgresJsonOf(type, committed));
      ASSERT_TRUE(rendered.has_value()) << rendered.error().ToString();
      EXPECT_EQ(*rendered, committed);
      ++cases;
    }
  }
  EXPECT_EQ(cases, 18);
}

// float4_rounding: the upload as stored by a float4 column renders as committed_server.
TEST_F(ProfileBFixtureTest, Float4RoundingFromTheUploadedValue) {
  for (const JsonValue& c : Member(fixture_, "float_cases").as_array()) {
    if (Text(c, "postgres_destination") != "float4") continue;
    const JsonValue stored = PostgresJsonOf(WireValueType::kFloat4,
                                            JsonValue::String(Text(c, "uploaded_wire")));
    EXPECT_EQ(WireValueFromPostgres(WireValueType::kFloat4, stored).value(),
              Member(c, "committed_server"));
  }
}

// invalid_cases: every one is rejected before mutation, with the server's coarse category.
TEST_F(ProfileBFixtureTest, InvalidCasesAreRejectedWithTheServerCategory) {
  int cases = 0;
  for (const JsonValue& c : Member(fixture_, "invalid_cases").as_array()) {
    SCOPED_TRACE(Text(c, "name"));
    EXPECT_EQ(Text(c, "outcome"), "reject_before_mutation");
    const std::string& family = Text(c, "family");
    const std::string& category = Text(c, "category");
    WireValueType type = WireValueType::kOther;
    std::string want;
    if (family == "integer") {
      type = WireValueType::kInt8;
      want = "invalid_integer";
    } else if (family == "decimal") {
      type = WireValueType::kNumeric;
      want = "invalid_decimal";
    } else if (family == "float") {
      type = WireValueType::kFloat8;
      want = "invalid_float";
    } else if (family == "boolean") {
      type = WireValueType::kBool;
      want = "invalid_boolean_bridge";
    }
    ASSERT_NE(type, WireValueType::kOther) << family;
    if (category == "legacy_json_number" || category == "out_of_range") want = category;
    Result<JsonValue> r =
        CheckUploadedWireValue(type, Member(c, "input"), "business", "numeric_values", "v");
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message().find("(category=" + want + ")"), std::string::npos)
        << r.error().message();
    ++cases;
  }
  EXPECT_EQ(cases, 25);
}

// canonical_examples: canonical_bytes is a JCS fixed point, utf8_base64 its bytes and sha256
// its digest; push_request and committed_bundle are rebuilt from their rows by the hashers.
TEST_F(ProfileBFixtureTest, CanonicalExamples) {
  const JsonValue& examples = Member(fixture_, "canonical_examples");
  ASSERT_TRUE(examples.is_object());
  EXPECT_EQ(examples.as_object().size(), 5u);
  for (const JsonMember& example : examples.as_object()) {
    SCOPED_TRACE(example.key);
    const std::string& bytes = Text(example.value, "canonical_bytes");
    EXPECT_EQ(CanonicalizeJcs(bytes).value(), bytes);
    EXPECT_EQ(Base64Decode(Text(example.value, "utf8_base64")).value(), bytes);
    EXPECT_EQ(HexLower(Sha256::Digest(bytes)), Text(example.value, "sha256"));
  }

  const JsonValue& push = Member(examples, "push_request");
  const JsonValue push_rows = ParseJson(Text(push, "canonical_bytes")).value();
  CanonicalRequestHasher request;
  for (const JsonValue& row : push_rows.as_array()) {
    Op op{};
    ASSERT_TRUE(ParseOp(Text(row, "op"), op));
    std::int64_t base = 0;
    ASSERT_EQ(ParseWireInt64(Text(row, "base_row_version"), base), WireIntParse::kOk);
    ASSERT_TRUE(request.AddRow(Text(row, "schema"), Text(row, "table"), Member(row, "key"), op,
                               base, &Member(row, "payload")).ok());
  }
  const BundleHashResult request_hash = request.Finish();
  EXPECT_EQ(request_hash.hex, Text(push, "sha256"));
  EXPECT_EQ(request_hash.byte_count, 314);

  const JsonValue& bundle = Member(examples, "committed_bundle");
  const JsonValue bundle_rows = ParseJson(Text(bundle, "canonical_bytes")).value();
  BundleHasher hasher(JcsUniformNumericStringsV1Profile(), 1);
  for (const JsonValue& row : bundle_rows.as_array()) {
    Op op{};
    ASSERT_TRUE(ParseOp(Text(row, "op"), op));
    ASSERT_TRUE(hasher.AddRow(Text(row, "schema"), Text(row, "table"), Member(row, "key"), op,
                              &Member(row, "payload")).ok());
  }
  const BundleHashResult bundle_hash = hasher.Finish();
  EXPECT_EQ(bundle_hash.hex, Text(bundle, "sha256"));
  EXPECT_EQ(bundle_hash.byte_count, 311);
}

// ---- protocol-b.md §4.3 and §10 hash vectors ----------------------------------------------

JsonValue Json(std::string_view text) { return ParseJson(text).value(); }

JsonValue Key(std::string_view id) {
  JsonValue key = JsonValue::Object();
  key.Add("id", JsonValue::String(std::string(id)));
  return key;
}

// Go TestAuthoritativeTypedNumericJCSVectors (also the example in Go's api.md).
TEST(ProfileBHashTest, GoContractVectors) {
  const JsonValue payload =
      Json(R"({"amount":"1234567890.123456789","id":"n-1","max":"9223372036854775807"})");
  CanonicalRequestHasher request;
  ASSERT_TRUE(request.AddRow("public", "exact_numbers", Key("n-1"), Op::kInsert, 0, &payload).ok());
  EXPECT_EQ(request.Finish().hex,
            "f9952b89b7b7ce1f4a2b9a3ea31ee7e8ca05d19bb6cb2cd400c8d18a1043fc83");
  BundleHasher bundle(JcsUniformNumericStringsV1Profile(), 1);
  ASSERT_TRUE(bundle.AddRow("public", "exact_numbers", Key("n-1"), Op::kInsert, &payload).ok());
  EXPECT_EQ(bundle.Finish().hex,
            "e012c6db4263db7fe674f7d0ebd95192eb3551e995d5e971a7e9cd3f65bf70f0");
}

// protocol.md §2.7 V1 and V3 redone for profile B.
TEST(ProfileBHashTest, V1AndV3) {
  const JsonValue v1 = Json(R"({"name":"Alice","email":"alice@example.com"})");
  BundleHasher h1(JcsUniformNumericStringsV1Profile(), 3);
  ASSERT_TRUE(h1.AddRow("public", "users", Key("row-1"), Op::kInsert, &v1).ok());
  const BundleHashResult r1 = h1.Finish();
  EXPECT_EQ(r1.hex, "c1d62d553d3276fdf87043fc5c5148e8232602b084e7b784b6c14b196a0adbe7");
  EXPECT_EQ(r1.byte_count, 163);

  const JsonValue v3 = Json(R"({"doc_id":"doc-42","body":"Hello text key"})");
  JsonValue key = JsonValue::Object();
  key.Add("doc_id", JsonValue::String("doc-42"));
  BundleHasher h3(JcsUniformNumericStringsV1Profile(), 1);
  ASSERT_TRUE(h3.AddRow("business", "docs", key, Op::kInsert, &v3).ok());
  const BundleHashResult r3 = h3.Finish();
  EXPECT_EQ(r3.hex, "4546a642b6dc2e9f7a62bc2d63bcdce699f9b37931a4abd0502e293eb1051876");
  EXPECT_EQ(r3.byte_count, 168);
}

// V2-B: escaping (<, &, >, U+2028 raw) and numeric strings; committed and request hashes are
// independent (numeric scale, boolean bridge).
TEST(ProfileBHashTest, V2EscapingAndNumericStrings) {
  const std::string user_id = "550e8400-e29b-41d4-a716-446655440000";
  const std::string post_id = "650e8400-e29b-41d4-a716-446655440001";
  const JsonValue committed = Json(
      R"({"id":"550e8400-e29b-41d4-a716-446655440000","name":"Tom & Jerry <3>\u2028",)"
      R"("score":"1.5","big":"9007199254740993","amount":"12.3000","data":"AAEC","note":null,)"
      R"("ok":true})");
  BundleHasher bundle(JcsUniformNumericStringsV1Profile(), 7);
  ASSERT_TRUE(bundle.AddRow("business", "users", Key(user_id), Op::kUpdate, &committed).ok());
  ASSERT_TRUE(bundle.AddRow("business", "posts", Key(post_id), Op::kDelete, nullptr).ok());
  const BundleHashResult bundle_hash = bundle.Finish();
  EXPECT_EQ(bundle_hash.hex, "0205428ec02bd81540c9d411438240b72411a8d5cb4116fd2f2df8899e4a0b13");
  EXPECT_EQ(bundle_hash.byte_count, 474);

  const JsonValue uploaded = Json(
      R"({"id":"550e8400-e29b-41d4-a716-446655440000","name":"Tom & Jerry <3>\u2028",)"
      R"("score":"1.5","big":"9007199254740993","amount":"12.3","data":"AAEC","note":null,)"
      R"("ok":"1"})");
  CanonicalRequestHasher request;
  ASSERT_TRUE(request.AddRow("business", "users", Key(user_id), Op::kUpdate, 6, &uploaded).ok());
  ASSERT_TRUE(request.AddRow("business", "posts", Key(post_id), Op::kDelete, 5, nullptr).ok());
  const BundleHashResult request_hash = request.Finish();
  EXPECT_EQ(request_hash.hex, "760c34b34aac8e4fc61423ae9aa88708f04118d1a893b58e2452aeae2a3f67bf");
  EXPECT_EQ(request_hash.byte_count, 480);
}

// protocol-b.md §10 steps 3 and 5: the worked exchange's two hashes and sizes.
TEST(ProfileBHashTest, WorkedExchange) {
  const std::string id = "550e8400-e29b-41d4-a716-446655440000";
  const JsonValue payload =
      Json(R"({"id":"550e8400-e29b-41d4-a716-446655440000","name":"John Doe",)"
           R"("email":"john@example.com"})");
  CanonicalRequestHasher request;
  ASSERT_TRUE(request.AddRow("business", "users", Key(id), Op::kInsert, 0, &payload).ok());
  const BundleHashResult r = request.Finish();
  EXPECT_EQ(r.hex, "c475b9c074aa9ba506fe53be4825ffe439d3122d75516259e40185ccc54a81a6");
  EXPECT_EQ(r.byte_count, 247);
  BundleHasher bundle(JcsUniformNumericStringsV1Profile(), 1);
  ASSERT_TRUE(bundle.AddRow("business", "users", Key(id), Op::kInsert, &payload).ok());
  const BundleHashResult b = bundle.Finish();
  EXPECT_EQ(b.hex, "14e70a1b808fd9c4fd163c35344f59ba886f110faceadcd2ffe33a09ef598005");
  EXPECT_EQ(b.byte_count, 242);
}

// Profile A's hash of the same bundle differs (JSON-integer counters): the profiles never mix.
TEST(ProfileBHashTest, ProfilesHashTheSameBundleDifferently) {
  const JsonValue payload = Json(R"({"name":"Alice","email":"alice@example.com"})");
  BundleHasher a(GoCanonicalV1Profile(), 3);
  BundleHasher b(JcsUniformNumericStringsV1Profile(), 3);
  ASSERT_TRUE(a.AddRow("public", "users", Key("row-1"), Op::kInsert, &payload).ok());
  ASSERT_TRUE(b.AddRow("public", "users", Key("row-1"), Op::kInsert, &payload).ok());
  const std::string ha = a.Finish().hex;
  EXPECT_EQ(ha.substr(0, 8), "677c5687");  // protocol.md §2.7 V1
  EXPECT_NE(ha, b.Finish().hex);
}

TEST(ProfileBHashTest, RequestHashRejectsNonCanonicalizablePayloads) {
  JsonValue duplicate = JsonValue::Object();
  duplicate.Add("a", JsonValue::Integer(1));
  duplicate.Add("a", JsonValue::Integer(2));
  CanonicalRequestHasher request;
  EXPECT_FALSE(request.AddRow("s", "t", Key("k"), Op::kInsert, 0, &duplicate).ok());
}

TEST(ProfileBHashTest, CanonicalRequestHashSpelling) {
  EXPECT_TRUE(IsCanonicalRequestHashSpelling(
      "c475b9c074aa9ba506fe53be4825ffe439d3122d75516259e40185ccc54a81a6"));
  EXPECT_FALSE(IsCanonicalRequestHashSpelling(
      "C475b9c074aa9ba506fe53be4825ffe439d3122d75516259e40185ccc54a81a6"));
  EXPECT_FALSE(IsCanonicalRequestHashSpelling(""));
  EXPECT_FALSE(IsCanonicalRequestHashSpelling(
      "c475b9c074aa9ba506fe53be4825ffe439d3122d75516259e40185ccc54a81a"));
  EXPECT_FALSE(IsCanonicalRequestHashSpelling(
      "g475b9c074aa9ba506fe53be4825ffe439d3122d75516259e40185ccc54a81a6"));
}

}  // namespace
}  // namespace oversync::protocol
