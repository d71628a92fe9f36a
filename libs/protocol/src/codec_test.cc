// Unit tests for codec.h: every request/response decoder's error paths, the Go request-decoding
// rules of protocol.md §1.4, byte-exact encoder output for the examples of protocol.md §3, and
// encode -> decode round trips of every response body.
#include "oversync/protocol/codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/protocol/json_value.h"
#include "oversync/protocol/json_writer.h"

namespace oversync::protocol {
namespace {

// Go handler messages (protocol.md §3.1-§3.3, §3.9, §5).
constexpr std::string_view kConnectPrefix = "Failed to parse connect request";
constexpr std::string_view kPushCreatePrefix = "Failed to parse push session request";
constexpr std::string_view kPushChunkPrefix = "Failed to parse push chunk request";
constexpr std::string_view kSnapshotPrefix = "Failed to parse snapshot session request";

constexpr std::string_view kHash =
    "677c5687bb91a8c2d34bc9e2e4f8c1d47981957bd876ba090c39b5e263d26b78";
constexpr std::string_view kPushId = "7f6c2b1e-3d4a-4b5c-8d6e-7f8091a2b3c4";
constexpr std::string_view kSnapshotId = "2f2d3f7a-1b2c-4d3e-8f4a-5b6c7d8e9f01";

// ---- helpers ------------------------------------------------------------------------------------

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

std::string ToJson(const std::optional<JsonValue>& value) {
  return value.has_value() ? ToJson(*value) : std::string("<absent>");
}

// `object_json` with every member `name` removed and, when `value_json` is given, a member `name`
// with that value appended.
std::string Edit(std::string_view object_json, std::string_view name,
                 std::optional<std::string_view> value_json = std::nullopt) {
  const JsonValue in = Json(object_json);
  JsonValue out = JsonValue::Object();
  if (in.is_object()) {
    for (const JsonMember& member : in.as_object()) {
      if (member.key != name) out.Add(member.key, member.value);
    }
  }
  if (value_json.has_value()) out.Add(std::string(name), Json(*value_json));
  return ToJson(out);
}

// Checks that `result` failed with `code` and a message "<prefix>: <detail>" (detail only checked
// when non-empty).
template <typename T>
testing::AssertionResult FailsWith(const Result<T>& result, ErrorCode code, std::string_view prefix,
                                   std::string_view detail = {}) {
  if (result.has_value()) return testing::AssertionFailure() << "expected an error, got a value";
  const Status& status = result.error();
  if (status.code() != code) {
    return testing::AssertionFailure() << "wrong code: " << status.ToString() << " (expected "
                                       << ErrorInfoFor(code).wire_name << ")";
  }
  const std::string head = std::string(prefix) + ": ";
  if (status.message().rfind(head, 0) != 0) {
    return testing::AssertionFailure()
           << "message \"" << status.message() << "\" does not start with \"" << head << "\"";
  }
  if (!detail.empty() && status.message() != head + std::string(detail)) {
    return testing::AssertionFailure()
           << "message \"" << status.message() << "\" != \"" << head << detail << "\"";
  }
  return testing::AssertionSuccess();
}

using Wrap = std::function<std::string(const std::string&)>;

struct TypeCase {
  std::string member;
  std::string value;   // JSON text of the wrong value
  std::string detail;  // expected message after "<prefix>: "
};

// For a decoder and a valid object (optionally embedded by `wrap` into a full body):
//  * every `required` member missing or null -> "<path><name> is required";
//  * every TypeCase -> its detail.
template <typename Decode>
void ExpectMemberErrors(const Decode& decode, ErrorCode code, std::string_view prefix,
                        std::string_view valid, const std::vector<std::string>& required,
                        const std::vector<TypeCase>& wrong_types, const Wrap& wrap = nullptr,
                        std::string_view path = {}) {
  const auto body = [&](const std::string& object) { return wrap ? wrap(object) : object; };
  {
    const std::string ok_body = body(std::string(valid));
    auto ok = decode(ok_body);
    ASSERT_TRUE(ok.has_value()) << "the valid body must decode: " << ok_body << " -> "
                                << ok.error().ToString();
  }
  for (const std::string& name : required) {
    const std::string detail = std::string(path) + name + " is required";
    const std::string missing = body(Edit(valid, name));
    EXPECT_TRUE(FailsWith(decode(missing), code, prefix, detail)) << missing;
    const std::string null_body = body(Edit(valid, name, "null"));
    EXPECT_TRUE(FailsWith(decode(null_body), code, prefix, detail)) << null_body;
  }
  for (const TypeCase& c : wrong_types) {
    const std::string bad = body(Edit(valid, c.member, c.value));
    EXPECT_TRUE(FailsWith(decode(bad), code, prefix, c.detail)) << bad;
  }
}

// Empty body, malformed JSON and non-object roots.
template <typename Decode>
void ExpectBodyErrors(const Decode& decode, ErrorCode code, std::string_view prefix) {
  EXPECT_TRUE(FailsWith(decode(""), code, prefix, "empty body"));
  for (const std::string_view malformed :
       {"{", "{\"a\":}", "{'a':1}", "nul", "{\"a\":1,}", "[1,2", "\"unterminated", "{\"a\" 1}"}) {
    EXPECT_TRUE(FailsWith(decode(malformed), code, prefix)) << malformed;
  }
  for (const std::string_view root : {"[]", "[{}]", "\"x\"", "5", "true", "false"}) {
    EXPECT_TRUE(FailsWith(decode(root), code, prefix, "body must be a JSON object")) << root;
  }
}

// Integer members accept only JSON integer literals in int64 range (protocol.md §1.4).
std::vector<TypeCase> IntegerCases(const std::string& member, const std::string& path = {}) {
  const std::string detail = path + member + " must be an integer";
  std::vector<TypeCase> cases;
  for (const char* bad : {"1.0", "1e0", "1E2", "1.5", "-0.0", "\"1\"", "true", "{}", "[]",
                          "9223372036854775808", "-9223372036854775809"}) {
    cases.push_back({member, bad, detail});
  }
  return cases;
}

std::vector<TypeCase> StringCases(const std::string& member, const std::string& path = {}) {
  const std::string detail = path + member + " must be a string";
  return {{member, "5", detail},
          {member, "true", detail},
          {member, "{}", detail},
          {member, "[]", detail}};
}

std::vector<TypeCase> BoolCases(const std::string& member, const std::string& path = {}) {
  const std::string detail = path + member + " must be a boolean";
  return {{member, "1", detail},
          {member, "0", detail},
          {member, "\"true\"", detail},
          {member, "{}", detail},
          {member, "[]", detail}};
}

std::vector<TypeCase> Concat(std::vector<std::vector<TypeCase>> parts) {
  std::vector<TypeCase> out;
  for (auto& part : parts) {
    for (auto& c : part) out.push_back(std::move(c));
  }
  return out;
}

// ---- request decoders: connect (protocol.md §3.1) --------------------------------------------

const auto kDecodeConnect = [](std::string_view body) { return DecodeConnectRequest(body); };

TEST(ConnectRequestDecodeTest, BodyErrorsAreInvalidRequest) {
  // protocol.md §3.1: decode errors (incl. empty body, wrong type) -> 400 invalid_request
  // "Failed to parse connect request"; §1.4: an empty body is a decode error for connect.
  ExpectBodyErrors(kDecodeConnect, ErrorCode::kInvalidRequest, kConnectPrefix);
  // Go's Decoder returns io.EOF for a whitespace-only body: still a decode error.
  EXPECT_TRUE(
      FailsWith(DecodeConnectRequest(" \r\n\t"), ErrorCode::kInvalidRequest, kConnectPrefix));
}

TEST(ConnectRequestDecodeTest, HasLocalPendingRowsMustBeABoolean) {
  // protocol.md §1.4: boolean fields accept only true/false.
  ExpectMemberErrors(kDecodeConnect, ErrorCode::kInvalidRequest, kConnectPrefix,
                     R"({"has_local_pending_rows":true})", {}, BoolCases("has_local_pending_rows"));
}

TEST(ConnectRequestDecodeTest, AcceptsEmptyObjectAndNullRoot) {
  // protocol.md §3.1: "{}" is valid; has_local_pending_rows defaults to false.
  auto r = DecodeConnectRequest("{}");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_FALSE(r->has_local_pending_rows);
  // Go decodes a JSON null root into the zero struct without error.
  r = DecodeConnectRequest("null");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_FALSE(r->has_local_pending_rows);
  r = DecodeConnectRequest(" {\"has_local_pending_rows\":true}\n");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->has_local_pending_rows);
}

TEST(ConnectRequestDecodeTest, NullLeavesFalse) {
  // protocol.md §1.4: {"has_local_pending_rows":null} -> false.
  auto r = DecodeConnectRequest(R"({"has_local_pending_rows":null})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_FALSE(r->has_local_pending_rows);
}

TEST(ConnectRequestDecodeTest, MemberNamesAreCaseInsensitive) {
  // protocol.md §1.4: field names are matched case-insensitively.
  for (const std::string_view body :
       {R"({"HAS_LOCAL_PENDING_ROWS":true})", R"({"Has_Local_Pending_Rows":true})",
        R"({"has_LOCAL_pending_ROWS":true})"}) {
    auto r = DecodeConnectRequest(body);
    ASSERT_TRUE(r.has_value()) << body << " -> " << r.error().ToString();
    EXPECT_TRUE(r->has_local_pending_rows) << body;
  }
}

TEST(ConnectRequestDecodeTest, UnknownMembersAreIgnored) {
  // protocol.md §1.3/§1.4: unknown fields (e.g. source_id from older Kotlin clients) are ignored.
  auto r = DecodeConnectRequest(
      R"({"source_id":"dev-a","extra":{"nested":[1,2,{"x":null}]},"has_local_pending_rows":true,"n":1.5})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->has_local_pending_rows);
  // Even an unknown member whose type would be wrong for a known field is ignored.
  r = DecodeConnectRequest(R"({"has_local_pending_rows_x":"yes"})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_FALSE(r->has_local_pending_rows);
}

TEST(ConnectRequestDecodeTest, LastDuplicateWins) {
  // protocol.md §1.4: duplicate object keys: last one wins (also across spellings).
  auto r =
      DecodeConnectRequest(R"({"has_local_pending_rows":true,"has_local_pending_rows":false})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_FALSE(r->has_local_pending_rows);
  r = DecodeConnectRequest(R"({"has_local_pending_rows":false,"HAS_LOCAL_PENDING_ROWS":true})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->has_local_pending_rows);
}

TEST(ConnectRequestDecodeTest, DuplicatesFollowGoNullAndTypeErrorRules) {
  // protocol.md §1.4 (Go encoding/json): a null is a no-op for a scalar, so a later null does not
  // undo an earlier value; a wrongly typed earlier duplicate is still a decode error.
  auto r = DecodeConnectRequest(R"({"has_local_pending_rows":true,"has_local_pending_rows":null})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->has_local_pending_rows);
  EXPECT_TRUE(FailsWith(
      DecodeConnectRequest(R"({"has_local_pending_rows":1,"has_local_pending_rows":true})"),
      ErrorCode::kInvalidRequest, kConnectPrefix, "has_local_pending_rows must be a boolean"));
}

TEST(ConnectRequestDecodeTest, ReusesACallerParser) {
  // codec.h: a caller-supplied JsonParser may be reused across calls.
  JsonParser parser;
  for (int i = 0; i < 3; ++i) {
    auto ok = DecodeConnectRequest(R"({"has_local_pending_rows":true})", &parser);
    ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
    EXPECT_TRUE(ok->has_local_pending_rows);
    EXPECT_TRUE(
        FailsWith(DecodeConnectRequest("{", &parser), ErrorCode::kInvalidRequest, kConnectPrefix));
  }
}

// ---- request decoders: push session create (protocol.md §3.2) ---------------------------------

const auto kDecodePushCreate = [](std::string_view body) {
  return DecodePushSessionCreateRequest(body);
};

TEST(PushSessionCreateRequestDecodeTest, BodyErrorsAreInvalidRequest) {
  // protocol.md §3.2 step 1: body decode error -> 400 invalid_request
  // "Failed to parse push session request"; §1.4: empty body is an error.
  ExpectBodyErrors(kDecodePushCreate, ErrorCode::kInvalidRequest, kPushCreatePrefix);
  EXPECT_TRUE(FailsWith(DecodePushSessionCreateRequest("  \n"), ErrorCode::kInvalidRequest,
                        kPushCreatePrefix));
}

TEST(PushSessionCreateRequestDecodeTest, MemberTypeErrors) {
  // protocol.md §1.4: integers only as integer literals (1.0, 1e0, "1" rejected), int64 range;
  // initialization_id must be a string.
  ExpectMemberErrors(kDecodePushCreate, ErrorCode::kInvalidRequest, kPushCreatePrefix,
                     R"({"source_bundle_id":4,"planned_row_count":3,"initialization_id":"x"})", {},
                     Concat({IntegerCases("source_bundle_id"), IntegerCases("planned_row_count"),
                             StringCases("initialization_id")}));
}

TEST(PushSessionCreateRequestDecodeTest, DecodesAllMembers) {
  // protocol.md §3.2 request table.
  auto r = DecodePushSessionCreateRequest(
      R"({"source_bundle_id":4,"planned_row_count":3,"initialization_id":"6df0d8dd-a84b-43b6-bbca-8de70432922a"})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->source_bundle_id, 4);
  EXPECT_EQ(r->planned_row_count, 3);
  EXPECT_EQ(r->initialization_id, "6df0d8dd-a84b-43b6-bbca-8de70432922a");
}

TEST(PushSessionCreateRequestDecodeTest, NullAndAbsentLeaveZeroValues) {
  // protocol.md §1.4: {"source_bundle_id":null,...} -> 0 (then push_session_invalid later).
  for (const std::string_view body :
       {"{}", "null",
        R"({"source_bundle_id":null,"planned_row_count":null,"initialization_id":null})"}) {
    auto r = DecodePushSessionCreateRequest(body);
    ASSERT_TRUE(r.has_value()) << body << " -> " << r.error().ToString();
    EXPECT_EQ(r->source_bundle_id, 0) << body;
    EXPECT_EQ(r->planned_row_count, 0) << body;
    EXPECT_EQ(r->initialization_id, "") << body;
  }
}

TEST(PushSessionCreateRequestDecodeTest, Int64RangeAndSignsAreAccepted) {
  // protocol.md §1.4: integers are int64 JSON integer literals; range checks (> 0) come later
  // (push_session_invalid), not in the decoder.
  auto r = DecodePushSessionCreateRequest(
      R"({"source_bundle_id":9223372036854775807,"planned_row_count":-9223372036854775808})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->source_bundle_id, INT64_MAX);
  EXPECT_EQ(r->planned_row_count, INT64_MIN);
  r = DecodePushSessionCreateRequest(R"({"source_bundle_id":-0,"planned_row_count":-5})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->source_bundle_id, 0);
  EXPECT_EQ(r->planned_row_count, -5);
}

TEST(PushSessionCreateRequestDecodeTest, MemberNamesAreCaseInsensitive) {
  // protocol.md §1.4: {"Source_Bundle_ID":5} works.
  auto r = DecodePushSessionCreateRequest(
      R"({"Source_Bundle_ID":5,"PLANNED_ROW_COUNT":2,"Initialization_Id":"abc"})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->source_bundle_id, 5);
  EXPECT_EQ(r->planned_row_count, 2);
  EXPECT_EQ(r->initialization_id, "abc");
}

TEST(PushSessionCreateRequestDecodeTest, UnknownMembersAreIgnored) {
  // protocol.md §3.2: unknown fields such as source_id or canonical_request_hash are ignored.
  auto r = DecodePushSessionCreateRequest(
      R"({"source_id":"dev-old","canonical_request_hash":"abc","source_bundle_id":1,"planned_row_count":1,"x":[{"y":1.5}]})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->source_bundle_id, 1);
  EXPECT_EQ(r->planned_row_count, 1);
}

TEST(PushSessionCreateRequestDecodeTest, InitializationIdIsTrimmed) {
  // protocol.md §3.2: initialization_id is trimmed; blank = absent.
  auto r = DecodePushSessionCreateRequest(
      "{\"source_bundle_id\":1,\"planned_row_count\":1,\"initialization_id\":\" \\t abc-1 "
      "\\n\\r\"}");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->initialization_id, "abc-1");
  r = DecodePushSessionCreateRequest(
      "{\"source_bundle_id\":1,\"planned_row_count\":1,\"initialization_id\":\" \\t\\n \"}");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->initialization_id, "");
}

TEST(PushSessionCreateRequestDecodeTest, LastDuplicateWins) {
  // protocol.md §1.4: duplicate keys, last one wins (case-insensitive match included).
  auto r = DecodePushSessionCreateRequest(
      R"({"source_bundle_id":1,"planned_row_count":1,"source_bundle_id":7,"SOURCE_BUNDLE_ID":9})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->source_bundle_id, 9);
  // Go: a later null is a no-op for a scalar; an earlier wrongly typed duplicate is an error.
  r = DecodePushSessionCreateRequest(
      R"({"source_bundle_id":5,"source_bundle_id":null,"initialization_id":"a","initialization_id":null})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->source_bundle_id, 5);
  EXPECT_EQ(r->initialization_id, "a");
  EXPECT_TRUE(FailsWith(
      DecodePushSessionCreateRequest(R"({"source_bundle_id":"1","source_bundle_id":1})"),
      ErrorCode::kInvalidRequest, kPushCreatePrefix, "source_bundle_id must be an integer"));
}

// ---- request decoders: push chunk (protocol.md §3.3) ------------------------------------------

const auto kDecodePushChunk = [](std::string_view body) { return DecodePushChunkRequest(body); };

std::string ChunkWithRow(const std::string& row) {
  return R"({"start_row_ordinal":0,"rows":[)" + row + "]}";
}

constexpr std::string_view kValidPushRow =
    R"({"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"INSERT","base_row_version":0,"payload":{"id":"550e8400-e29b-41d4-a716-446655440000","name":"Ada"}})";

TEST(PushChunkRequestDecodeTest, BodyErrorsAreInvalidRequest) {
  // protocol.md §3.3 step 1: body decode error -> 400 invalid_request
  // "Failed to parse push chunk request"; §1.4: empty body is an error.
  ExpectBodyErrors(kDecodePushChunk, ErrorCode::kInvalidRequest, kPushChunkPrefix);
  EXPECT_TRUE(
      FailsWith(DecodePushChunkRequest("\n"), ErrorCode::kInvalidRequest, kPushChunkPrefix));
}

TEST(PushChunkRequestDecodeTest, RootMemberTypeErrors) {
  // protocol.md §3.3 / §1.4: start_row_ordinal is an int64 literal; rows is an array.
  const std::string valid = ChunkWithRow(std::string(kValidPushRow));
  std::vector<TypeCase> cases = IntegerCases("start_row_ordinal");
  for (const char* bad : {"{}", "\"x\"", "5", "true"}) {
    cases.push_back({"rows", bad, "rows must be an array"});
  }
  ExpectMemberErrors(kDecodePushChunk, ErrorCode::kInvalidRequest, kPushChunkPrefix, valid, {},
                     cases);
}

TEST(PushChunkRequestDecodeTest, RowElementMustBeAnObject) {
  // protocol.md §3.3: rows is an array of PushRequestRow objects.
  for (const char* bad : {"5", "\"x\"", "[]", "true"}) {
    EXPECT_TRUE(FailsWith(DecodePushChunkRequest(ChunkWithRow(std::string(bad))),
                          ErrorCode::kInvalidRequest, kPushChunkPrefix,
                          "rows[0] must be an object"))
        << bad;
  }
  const std::string second_bad = R"({"rows":[)" + std::string(kValidPushRow) + ",7]}";
  EXPECT_TRUE(FailsWith(DecodePushChunkRequest(second_bad), ErrorCode::kInvalidRequest,
                        kPushChunkPrefix, "rows[1] must be an object"));
}

TEST(PushChunkRequestDecodeTest, RowMemberTypeErrors) {
  // protocol.md §3.3 PushRequestRow: schema/table/op strings, key object, base_row_version int64.
  std::vector<TypeCase> cases =
      Concat({StringCases("schema", "rows[0]."), StringCases("table", "rows[0]."),
              StringCases("op", "rows[0]."), IntegerCases("base_row_version", "rows[0].")});
  for (const char* bad : {"\"id\"", "[]", "5", "true"}) {
    cases.push_back({"key", bad, "rows[0].key must be an object"});
  }
  ExpectMemberErrors(kDecodePushChunk, ErrorCode::kInvalidRequest, kPushChunkPrefix, kValidPushRow,
                     {}, cases, ChunkWithRow);
  // The failing row is named by its index.
  const std::string body = R"({"rows":[)" + std::string(kValidPushRow) + "," +
                           Edit(kValidPushRow, "key", "\"k\"") + "]}";
  EXPECT_TRUE(FailsWith(DecodePushChunkRequest(body), ErrorCode::kInvalidRequest, kPushChunkPrefix,
                        "rows[1].key must be an object"));
}

TEST(PushChunkRequestDecodeTest, DecodesAllMembers) {
  // protocol.md §3.3 request tables.
  auto r = DecodePushChunkRequest(
      R"({"start_row_ordinal":5,"rows":[{"schema":" Business ","table":"USERS","key":{"id":"550e8400-e29b-41d4-a716-446655440000","extra":1},"op":" update ","base_row_version":12,"payload":{"name":"Ada","price":1.50,"big":9007199254740993}},{"schema":"business","table":"docs","key":{"doc_id":"d-1"},"op":"DELETE","base_row_version":3}]})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->start_row_ordinal, 5);
  ASSERT_EQ(r->rows.size(), 2U);
  const PushRequestRow& a = r->rows[0];
  // Raw values: normalization is push_validation's job.
  EXPECT_EQ(a.schema, " Business ");
  EXPECT_EQ(a.table, "USERS");
  EXPECT_EQ(ToJson(a.key), R"({"id":"550e8400-e29b-41d4-a716-446655440000","extra":1})");
  EXPECT_EQ(a.op, " update ");
  EXPECT_EQ(a.base_row_version, 12);
  EXPECT_TRUE(a.payload_present);
  // Number lexemes are kept (§2.5.3: the server must see the exact digits).
  EXPECT_EQ(ToJson(a.payload), R"({"name":"Ada","price":1.50,"big":9007199254740993})");
  const PushRequestRow& b = r->rows[1];
  EXPECT_EQ(b.table, "docs");
  EXPECT_EQ(ToJson(b.key), R"({"doc_id":"d-1"})");
  EXPECT_EQ(b.op, "DELETE");
  EXPECT_EQ(b.base_row_version, 3);
  EXPECT_FALSE(b.payload_present);
}

TEST(PushChunkRequestDecodeTest, ExplicitNullPayloadIsRecordedAsPresent) {
  // protocol.md §2.5.1/§3.3: DELETE with "payload": null must be rejected, so the decoder must
  // remember that the member existed.
  auto r = DecodePushChunkRequest(ChunkWithRow(Edit(kValidPushRow, "payload", "null")));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->rows.size(), 1U);
  EXPECT_TRUE(r->rows[0].payload_present);
  EXPECT_TRUE(r->rows[0].payload.is_null());
  r = DecodePushChunkRequest(ChunkWithRow(Edit(kValidPushRow, "payload")));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_FALSE(r->rows[0].payload_present);
}

TEST(PushChunkRequestDecodeTest, PayloadOfAnyTypeIsKeptForValidation) {
  // protocol.md §3.3 step 3: "payload not a JSON object (incl. null, array ...)" is a
  // push_chunk_invalid validation error, not a decode error.
  for (const char* payload : {"[]", "\"x\"", "5", "true", "[{\"a\":1}]"}) {
    auto r = DecodePushChunkRequest(ChunkWithRow(Edit(kValidPushRow, "payload", payload)));
    ASSERT_TRUE(r.has_value()) << payload << " -> " << r.error().ToString();
    EXPECT_TRUE(r->rows[0].payload_present);
    EXPECT_EQ(ToJson(r->rows[0].payload), payload);
  }
}

TEST(PushChunkRequestDecodeTest, NullAndAbsentLeaveZeroValues) {
  // protocol.md §1.4: null leaves zero values; absent rows -> empty (rejected later by
  // validation with "rows must not be empty").
  for (const std::string_view body : {"{}", "null", R"({"start_row_ordinal":null,"rows":null})"}) {
    auto r = DecodePushChunkRequest(body);
    ASSERT_TRUE(r.has_value()) << body << " -> " << r.error().ToString();
    EXPECT_EQ(r->start_row_ordinal, 0);
    EXPECT_TRUE(r->rows.empty());
  }
  auto r = DecodePushChunkRequest(
      R"({"rows":[{"schema":null,"table":null,"key":null,"op":null,"base_row_version":null}]})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->rows.size(), 1U);
  EXPECT_EQ(r->rows[0].schema, "");
  EXPECT_EQ(r->rows[0].table, "");
  EXPECT_TRUE(r->rows[0].key.is_object());
  EXPECT_TRUE(r->rows[0].key.as_object().empty());
  EXPECT_EQ(r->rows[0].op, "");
  EXPECT_EQ(r->rows[0].base_row_version, 0);
  EXPECT_FALSE(r->rows[0].payload_present);
}

TEST(PushChunkRequestDecodeTest, NullRowElementIsAZeroRow) {
  // Go decodes a null array element into a zero PushRequestRow (then validation rejects it).
  auto r = DecodePushChunkRequest(R"({"rows":[null]})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->rows.size(), 1U);
  EXPECT_EQ(r->rows[0].schema, "");
  EXPECT_EQ(r->rows[0].table, "");
  EXPECT_TRUE(r->rows[0].key.is_object());
  EXPECT_FALSE(r->rows[0].payload_present);
}

TEST(PushChunkRequestDecodeTest, MemberNamesAreCaseInsensitive) {
  // protocol.md §1.4: member names match case-insensitively, including inside rows; the names
  // inside key and payload are data and stay as sent.
  auto r = DecodePushChunkRequest(
      R"({"Start_Row_Ordinal":2,"ROWS":[{"Schema":"business","TABLE":"users","Key":{"ID":"k"},"OP":"insert","Base_Row_Version":3,"PAYLOAD":{"Name":"n"}}]})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->start_row_ordinal, 2);
  ASSERT_EQ(r->rows.size(), 1U);
  EXPECT_EQ(r->rows[0].schema, "business");
  EXPECT_EQ(r->rows[0].table, "users");
  EXPECT_EQ(ToJson(r->rows[0].key), R"({"ID":"k"})");
  EXPECT_EQ(r->rows[0].op, "insert");
  EXPECT_EQ(r->rows[0].base_row_version, 3);
  EXPECT_TRUE(r->rows[0].payload_present);
  EXPECT_EQ(ToJson(r->rows[0].payload), R"({"Name":"n"})");
}

TEST(PushChunkRequestDecodeTest, UnknownMembersAreIgnoredIncludingInsideRows) {
  // protocol.md §1.4: unknown fields are ignored for push chunk (including inside rows).
  auto r = DecodePushChunkRequest(
      R"({"push_id":"x","rows":[{"schema":"business","table":"users","key":{"id":"k"},"op":"DELETE","row_ordinal":4,"comment":{"a":[1]}}],"extra":true})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->rows.size(), 1U);
  EXPECT_EQ(r->rows[0].op, "DELETE");
  EXPECT_FALSE(r->rows[0].payload_present);
}

TEST(PushChunkRequestDecodeTest, LastDuplicateWins) {
  // protocol.md §1.4: duplicate keys, last one wins.
  auto r = DecodePushChunkRequest(
      R"({"start_row_ordinal":1,"rows":[{"op":"INSERT","op":"DELETE","payload":{"a":1},"payload":null}],"Start_Row_Ordinal":4})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->start_row_ordinal, 4);
  ASSERT_EQ(r->rows.size(), 1U);
  EXPECT_EQ(r->rows[0].op, "DELETE");
  EXPECT_TRUE(r->rows[0].payload_present);
  EXPECT_TRUE(r->rows[0].payload.is_null());
}

// ---- request decoders: snapshot session create (protocol.md §3.9) ----------------------------

constexpr std::string_view kReplacementBody =
    R"({"source_replacement":{"previous_source_id":"dev-old","new_source_id":"dev-new","reason":"history_pruned"}})";

TEST(SnapshotSessionCreateRequestDecodeTest, EmptyWhitespaceNullAndEmptyObjectMeanNoRequest) {
  // protocol.md §1.4/§3.9: empty body allowed (keep-source snapshot), also `null` and `{}`.
  for (const std::string_view body :
       {"", " ", "\r\n\t ", "null", " null\n", "{}", R"({"source_replacement":null})"}) {
    auto r = DecodeSnapshotSessionCreateRequest(body);
    ASSERT_TRUE(r.has_value()) << "'" << body << "' -> " << r.error().ToString();
    EXPECT_FALSE(r->source_replacement.has_value()) << body;
  }
}

TEST(SnapshotSessionCreateRequestDecodeTest, NonJsonWhitespaceIsNotAnEmptyBody) {
  // protocol.md §3.9: only an empty (JSON-whitespace) body is "no request"; Go's decoder reports
  // a syntax error for \v or \f, so they are malformed JSON -> 400.
  for (const std::string_view body : {"\v", "\f", " \v ", "\f{}"}) {
    EXPECT_TRUE(FailsWith(DecodeSnapshotSessionCreateRequest(body),
                          ErrorCode::kSnapshotSessionInvalid, kSnapshotPrefix))
        << static_cast<int>(body.front());
  }
}

TEST(SnapshotSessionCreateRequestDecodeTest, DecodesAndTrimsReplacement) {
  // protocol.md §3.9: SnapshotSourceReplacement members, all three trimmed.
  auto r = DecodeSnapshotSessionCreateRequest(kReplacementBody);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_TRUE(r->source_replacement.has_value());
  EXPECT_EQ(r->source_replacement->previous_source_id, "dev-old");
  EXPECT_EQ(r->source_replacement->new_source_id, "dev-new");
  EXPECT_EQ(r->source_replacement->reason, "history_pruned");
  r = DecodeSnapshotSessionCreateRequest(
      "{\"source_replacement\":{\"previous_source_id\":\"  dev-old "
      "\",\"new_source_id\":\"\\tdev-new\\n\","
      "\"reason\":\" source_retired\\r\\n\"}}");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_TRUE(r->source_replacement.has_value());
  EXPECT_EQ(r->source_replacement->previous_source_id, "dev-old");
  EXPECT_EQ(r->source_replacement->new_source_id, "dev-new");
  EXPECT_EQ(r->source_replacement->reason, "source_retired");
  // protocol-b.md §5.10: profile B keeps the members byte for byte (the server rejects them).
  r = DecodeSnapshotSessionCreateRequest(
      "{\"source_replacement\":{\"previous_source_id\":\" dev-old\",\"new_source_id\":\"dev-new\","
      "\"reason\":\"history_pruned \"}}",
      nullptr, WireProfileId::kJcsUniformNumericStringsV1);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_TRUE(r->source_replacement.has_value());
  EXPECT_EQ(r->source_replacement->previous_source_id, " dev-old");
  EXPECT_EQ(r->source_replacement->new_source_id, "dev-new");
  EXPECT_EQ(r->source_replacement->reason, "history_pruned ");
}

TEST(SnapshotSessionCreateRequestDecodeTest, EmptyReplacementObjectIsPresent) {
  // protocol.md §3.9: an empty replacement object is a replacement request whose validation
  // ("previous_source_id must match ...") happens later in the service.
  auto r = DecodeSnapshotSessionCreateRequest(R"({"source_replacement":{}})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_TRUE(r->source_replacement.has_value());
  EXPECT_EQ(r->source_replacement->previous_source_id, "");
  EXPECT_EQ(r->source_replacement->new_source_id, "");
  EXPECT_EQ(r->source_replacement->reason, "");
  r = DecodeSnapshotSessionCreateRequest(
      R"({"source_replacement":{"previous_source_id":null,"new_source_id":null,"reason":null}})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_TRUE(r->source_replacement.has_value());
  EXPECT_EQ(r->source_replacement->reason, "");
}

TEST(SnapshotSessionCreateRequestDecodeTest, MemberNamesAreCaseInsensitive) {
  // protocol.md §1.4: case-insensitive names (DisallowUnknownFields folds too).
  auto r = DecodeSnapshotSessionCreateRequest(
      R"({"Source_Replacement":{"Previous_Source_ID":"a","NEW_SOURCE_ID":"b","Reason":"source_sequence_changed"}})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_TRUE(r->source_replacement.has_value());
  EXPECT_EQ(r->source_replacement->previous_source_id, "a");
  EXPECT_EQ(r->source_replacement->new_source_id, "b");
  EXPECT_EQ(r->source_replacement->reason, "source_sequence_changed");
}

TEST(SnapshotSessionCreateRequestDecodeTest, UnknownMembersAreRejectedAtBothLevels) {
  // protocol.md §1.4/§3.9: snapshot create rejects unknown fields anywhere in the object with
  // 400 snapshot_session_invalid.
  const ErrorCode code = ErrorCode::kSnapshotSessionInvalid;
  EXPECT_TRUE(FailsWith(DecodeSnapshotSessionCreateRequest(R"({"extra":1})"), code, kSnapshotPrefix,
                        R"(unknown field "extra" in body)"));
  EXPECT_TRUE(FailsWith(DecodeSnapshotSessionCreateRequest(R"({"extra":null})"), code,
                        kSnapshotPrefix, R"(unknown field "extra" in body)"));
  EXPECT_TRUE(FailsWith(
      DecodeSnapshotSessionCreateRequest(
          R"({"source_replacement":{"previous_source_id":"a","new_source_id":"b","reason":"history_pruned"},"source_id":"a"})"),
      code, kSnapshotPrefix, R"(unknown field "source_id" in body)"));
  EXPECT_TRUE(FailsWith(
      DecodeSnapshotSessionCreateRequest(
          R"({"source_replacement":{"previous_source_id":"a","new_source_id":"b","reason":"history_pruned","extra":"x"}})"),
      code, kSnapshotPrefix, R"(unknown field "extra" in source_replacement)"));
  EXPECT_TRUE(FailsWith(
      DecodeSnapshotSessionCreateRequest(R"({"source_replacement":{"replaced_by":null}})"), code,
      kSnapshotPrefix, R"(unknown field "replaced_by" in source_replacement)"));
}

TEST(SnapshotSessionCreateRequestDecodeTest, BodyAndTypeErrorsAreSnapshotSessionInvalid) {
  // protocol.md §3.9 step 1: malformed JSON -> 400 snapshot_session_invalid
  // "Failed to parse snapshot session request".
  const ErrorCode code = ErrorCode::kSnapshotSessionInvalid;
  for (const std::string_view malformed :
       {"{", "{\"source_replacement\":}", "nul", "{\"a\":1,}", "{} x", "{}}", "null x"}) {
    EXPECT_TRUE(FailsWith(DecodeSnapshotSessionCreateRequest(malformed), code, kSnapshotPrefix))
        << malformed;
  }
  for (const std::string_view root : {"[]", "\"x\"", "5", "true", "false"}) {
    EXPECT_TRUE(FailsWith(DecodeSnapshotSessionCreateRequest(root), code, kSnapshotPrefix,
                          "body must be a JSON object"))
        << root;
  }
  for (const char* bad : {"5", "\"x\"", "[]", "true"}) {
    EXPECT_TRUE(FailsWith(DecodeSnapshotSessionCreateRequest(Edit("{}", "source_replacement", bad)),
                          code, kSnapshotPrefix, "source_replacement must be an object"))
        << bad;
  }
  const auto decode = [](std::string_view body) {
    return DecodeSnapshotSessionCreateRequest(body);
  };
  const auto wrap = [](const std::string& replacement) {
    return R"({"source_replacement":)" + replacement + "}";
  };
  ExpectMemberErrors(
      decode, code, kSnapshotPrefix,
      R"({"previous_source_id":"dev-old","new_source_id":"dev-new","reason":"history_pruned"})", {},
      Concat({StringCases("previous_source_id", "source_replacement."),
              StringCases("new_source_id", "source_replacement."),
              StringCases("reason", "source_replacement.")}),
      wrap);
}

// protocol.md §3.9 step 1 says Go tolerates a second well-formed JSON value after the first.
// We deliberately reject any data after the document with 400 snapshot_session_invalid
// (docs/compatibility.md item 4): a concatenated body is a client bug worth surfacing.
TEST(SnapshotSessionCreateRequestDecodeTest, SecondValueAfterTheDocumentIsRejected) {
  for (const std::string_view body :
       {"{} {}", "{}\n{\"anything\":1}", "null 5", R"({"source_replacement":null} [1,2])"}) {
    auto r = DecodeSnapshotSessionCreateRequest(body);
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(r.error().code(), ErrorCode::kSnapshotSessionInvalid);
  }
}

TEST(RequestEncodeTest, Connect) {
  // protocol.md §3.1 request: {"has_local_pending_rows": bool}.
  EXPECT_EQ(EncodeConnectRequest({}), R"({"has_local_pending_rows":false})");
  EXPECT_EQ(EncodeConnectRequest(ConnectRequest{true}), R"({"has_local_pending_rows":true})");
}

TEST(RequestEncodeTest, PushSessionCreate) {
  // protocol.md §3.2 request: initialization_id only when set (absent once initialized).
  PushSessionCreateRequest request;
  request.source_bundle_id = 4;
  request.planned_row_count = 3;
  EXPECT_EQ(EncodePushSessionCreateRequest(request),
            R"({"source_bundle_id":4,"planned_row_count":3})");
  request.initialization_id = "6df0d8dd-a84b-43b6-bbca-8de70432922a";
  EXPECT_EQ(
      EncodePushSessionCreateRequest(request),
      R"({"source_bundle_id":4,"planned_row_count":3,"initialization_id":"6df0d8dd-a84b-43b6-bbca-8de70432922a"})");
}

TEST(RequestEncodeTest, PushChunk) {
  // protocol.md §3.3 request; DELETE rows carry no payload member (§2.5.1).
  PushChunkRequest request;
  request.start_row_ordinal = 2;
  PushRequestRow insert;
  insert.schema = "business";
  insert.table = "users";
  insert.key = Json(R"({"id":"550e8400-e29b-41d4-a716-446655440000"})");
  insert.op = "INSERT";
  insert.payload_present = true;
  insert.payload = Json(R"({"id":"550e8400-e29b-41d4-a716-446655440000","score":1.50})");
  PushRequestRow del;
  del.schema = "business";
  del.table = "docs";
  del.key = Json(R"({"doc_id":"d-1"})");
  del.op = "DELETE";
  del.base_row_version = 9;
  request.rows = {insert, del};
  EXPECT_EQ(
      EncodePushChunkRequest(request),
      R"({"start_row_ordinal":2,"rows":[{"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"INSERT","base_row_version":0,"payload":{"id":"550e8400-e29b-41d4-a716-446655440000","score":1.50}},{"schema":"business","table":"docs","key":{"doc_id":"d-1"},"op":"DELETE","base_row_version":9}]})");
  EXPECT_EQ(EncodePushChunkRequest({}), R"({"start_row_ordinal":0,"rows":[]})");
}

TEST(RequestEncodeTest, SnapshotSessionCreate) {
  // protocol.md §3.9 request; codec.h: an absent replacement encodes as "{}".
  EXPECT_EQ(EncodeSnapshotSessionCreateRequest({}), "{}");
  SnapshotSessionCreateRequest request;
  request.source_replacement = SnapshotSourceReplacement{"dev-old", "dev-new", "history_pruned"};
  EXPECT_EQ(EncodeSnapshotSessionCreateRequest(request), kReplacementBody);
}

TEST(RequestRoundTripTest, EveryRequestDecodesBackToItself) {
  // Client encoders and server decoders agree (protocol.md §3.1-§3.3, §3.9).
  for (const bool pending : {false, true}) {
    auto connect = DecodeConnectRequest(EncodeConnectRequest(ConnectRequest{pending}));
    ASSERT_TRUE(connect.has_value()) << connect.error().ToString();
    EXPECT_EQ(connect->has_local_pending_rows, pending);
  }

  PushSessionCreateRequest create{12, 3000, "6df0d8dd-a84b-43b6-bbca-8de70432922a", ""};
  auto create_back = DecodePushSessionCreateRequest(EncodePushSessionCreateRequest(create));
  ASSERT_TRUE(create_back.has_value()) << create_back.error().ToString();
  EXPECT_EQ(create_back->source_bundle_id, 12);
  EXPECT_EQ(create_back->planned_row_count, 3000);
  EXPECT_EQ(create_back->initialization_id, create.initialization_id);

  PushChunkRequest chunk;
  chunk.start_row_ordinal = 1000;
  for (const char* op : {"INSERT", "UPDATE", "DELETE"}) {
    PushRequestRow row;
    row.schema = "business";
    row.table = "docs";
    row.key = JsonValue::Object();
    row.key.Add("doc_id", JsonValue::String(std::string("d-") + op));
    row.op = op;
    row.base_row_version = 7;
    if (std::string_view(op) != "DELETE") {
      row.payload_present = true;
      row.payload = Json(R"({"doc_id":"x","body":"<b>&amp;</b>","n":[1,2.5e3,null,true]})");
    }
    chunk.rows.push_back(std::move(row));
  }
  auto chunk_back = DecodePushChunkRequest(EncodePushChunkRequest(chunk));
  ASSERT_TRUE(chunk_back.has_value()) << chunk_back.error().ToString();
  EXPECT_EQ(chunk_back->start_row_ordinal, 1000);
  ASSERT_EQ(chunk_back->rows.size(), chunk.rows.size());
  for (std::size_t i = 0; i < chunk.rows.size(); ++i) {
    const PushRequestRow& want = chunk.rows[i];
    const PushRequestRow& got = chunk_back->rows[i];
    EXPECT_EQ(got.schema, want.schema);
    EXPECT_EQ(got.table, want.table);
    EXPECT_EQ(ToJson(got.key), ToJson(want.key));
    EXPECT_EQ(got.op, want.op);
    EXPECT_EQ(got.base_row_version, want.base_row_version);
    EXPECT_EQ(got.payload_present, want.payload_present);
    EXPECT_EQ(ToJson(got.payload), ToJson(want.payload));
  }

  SnapshotSessionCreateRequest snapshot;
  snapshot.source_replacement =
      SnapshotSourceReplacement{"dev-old", "dev-new", "source_sequence_out_of_order"};
  auto snapshot_back =
      DecodeSnapshotSessionCreateRequest(EncodeSnapshotSessionCreateRequest(snapshot));
  ASSERT_TRUE(snapshot_back.has_value()) << snapshot_back.error().ToString();
  ASSERT_TRUE(snapshot_back->source_replacement.has_value());
  EXPECT_EQ(snapshot_back->source_replacement->previous_source_id, "dev-old");
  EXPECT_EQ(snapshot_back->source_replacement->new_source_id, "dev-new");
  EXPECT_EQ(snapshot_back->source_replacement->reason, "source_sequence_out_of_order");
  auto empty_back = DecodeSnapshotSessionCreateRequest(EncodeSnapshotSessionCreateRequest({}));
  ASSERT_TRUE(empty_back.has_value()) << empty_back.error().ToString();
  EXPECT_FALSE(empty_back->source_replacement.has_value());
}

// ---- response encoders: exact bytes (protocol.md §3) -------------------------------------------

TEST(ResponseEncodeTest, ConnectExamples) {
  // protocol.md §3.1 examples, byte for byte.
  ConnectResponse r;
  r.resolution = ConnectResolution::kRemoteAuthoritative;
  EXPECT_EQ(EncodeConnectResponse(r), R"({"resolution":"remote_authoritative"})");
  r.resolution = ConnectResolution::kInitializeEmpty;
  EXPECT_EQ(EncodeConnectResponse(r), R"({"resolution":"initialize_empty"})");
  r = ConnectResponse{ConnectResolution::kInitializeLocal, "6df0d8dd-a84b-43b6-bbca-8de70432922a",
                      "2026-03-22T12:00:00.123456789Z", 0};
  EXPECT_EQ(
      EncodeConnectResponse(r),
      R"({"resolution":"initialize_local","initialization_id":"6df0d8dd-a84b-43b6-bbca-8de70432922a","lease_expires_at":"2026-03-22T12:00:00.123456789Z"})");
  r = ConnectResponse{ConnectResolution::kRetryLater, "", "2026-03-22T12:00:00.123456Z", 873};
  EXPECT_EQ(
      EncodeConnectResponse(r),
      R"({"resolution":"retry_later","lease_expires_at":"2026-03-22T12:00:00.123456Z","retry_after_seconds":873})");
}

TEST(ResponseEncodeTest, PushSessionCreateStagingOmitsZeroNextExpectedRowOrdinal) {
  // protocol.md §3.2: next_expected_row_ordinal omitted when 0 (omitempty).
  PushSessionCreateResponse r;
  r.status = PushSessionStatus::kStaging;
  r.push_id = std::string(kPushId);
  r.planned_row_count = 3;
  EXPECT_EQ(
      EncodePushSessionCreateResponse(r),
      R"({"push_id":")" + std::string(kPushId) + R"(","status":"staging","planned_row_count":3})");
}

TEST(ResponseEncodeTest, PushSessionCreateAlreadyCommitted) {
  // protocol.md §3.2: already_committed shape; push_id, planned_row_count and
  // next_expected_row_ordinal omitted.
  PushSessionCreateResponse r;
  r.status = PushSessionStatus::kAlreadyCommitted;
  r.bundle_seq = 12;
  r.source_id = "dev-a";
  r.source_bundle_id = 4;
  r.row_count = 3;
  r.bundle_hash = std::string(kHash);
  EXPECT_EQ(
      EncodePushSessionCreateResponse(r),
      R"({"status":"already_committed","bundle_seq":12,"source_id":"dev-a","source_bundle_id":4,"row_count":3,"bundle_hash":")" +
          std::string(kHash) + R"("})");
}

TEST(ResponseEncodeTest, PushSessionCreateFullFieldOrderAndAllOmitted) {
  // protocol.md §3.2 full field list (Go struct order); every member but status is omitempty.
  PushSessionCreateResponse r{PushSessionStatus::kStaging, "p", 1, 2, 3, "s", 4, 5, "h", ""};
  EXPECT_EQ(
      EncodePushSessionCreateResponse(r),
      R"({"push_id":"p","status":"staging","planned_row_count":1,"next_expected_row_ordinal":2,"bundle_seq":3,"source_id":"s","source_bundle_id":4,"row_count":5,"bundle_hash":"h"})");
  EXPECT_EQ(EncodePushSessionCreateResponse({}), R"({"status":"staging"})");
}

TEST(ResponseEncodeTest, PushChunkBothFieldsAlwaysPresent) {
  // protocol.md §3.3: {"push_id":"7f6c…","next_expected_row_ordinal":2}, both always present.
  EXPECT_EQ(EncodePushChunkResponse(PushChunkResponse{std::string(kPushId), 2}),
            R"({"push_id":")" + std::string(kPushId) + R"(","next_expected_row_ordinal":2})");
  EXPECT_EQ(EncodePushChunkResponse(PushChunkResponse{"p", 0}),
            R"({"push_id":"p","next_expected_row_ordinal":0})");
}

TEST(ResponseEncodeTest, PushSessionCommit) {
  // protocol.md §3.4: all fields always present.
  PushSessionCommitResponse r{143, "dev-a", 7, 1, std::string(kHash), ""};
  EXPECT_EQ(
      EncodePushSessionCommitResponse(r),
      R"({"bundle_seq":143,"source_id":"dev-a","source_bundle_id":7,"row_count":1,"bundle_hash":")" +
          std::string(kHash) + R"("})");
  EXPECT_EQ(
      EncodePushSessionCommitResponse({}),
      R"({"bundle_seq":0,"source_id":"","source_bundle_id":0,"row_count":0,"bundle_hash":""})");
}

TEST(ResponseEncodeTest, StandardError) {
  // protocol.md §1.5 shape 1: {"error":..., "message":...}, both always present.
  EXPECT_EQ(EncodeErrorResponse(ErrorResponse{"invalid_request", "Failed to parse connect request",
                                              "", "", std::nullopt, std::nullopt, std::nullopt}),
            R"({"error":"invalid_request","message":"Failed to parse connect request"})");
  EXPECT_EQ(EncodeErrorResponse({}), R"({"error":"","message":""})");
}

TEST(ResponseEncodeTest, ErrorStringsUseGoHtmlSafeEscaping) {
  // protocol.md §1.4: Go escapes <, >, & and U+2028/U+2029 (C++ MAY, our writer does).
  EXPECT_EQ(EncodeErrorResponse(ErrorResponse{"x", "a<b>&c\xE2\x80\xA8", "", "", std::nullopt, std::nullopt, std::nullopt}),
            R"({"error":"x","message":"a\u003cb\u003e\u0026c\u2028"})");
}

TEST(ResponseEncodeTest, SourceRetiredExtendedBody) {
  // protocol.md §1.5 shape 2: source_id always present, replaced_by_source_id omitted when empty.
  ErrorResponse r;
  r.error = "source_retired";
  r.message = "source dev-a for user u1 was retired and replaced by dev-b";
  r.source_id = "dev-a";
  r.replaced_by_source_id = "dev-b";
  EXPECT_EQ(
      EncodeErrorResponse(r),
      R"({"error":"source_retired","message":"source dev-a for user u1 was retired and replaced by dev-b","source_id":"dev-a","replaced_by_source_id":"dev-b"})");
  r.message = "source dev-a for user u1 was retired";
  r.replaced_by_source_id.clear();
  EXPECT_EQ(
      EncodeErrorResponse(r),
      R"({"error":"source_retired","message":"source dev-a for user u1 was retired","source_id":"dev-a"})");
  // Go's SourceRetiredResponse.source_id has no omitempty.
  r.source_id.clear();
  EXPECT_EQ(
      EncodeErrorResponse(r),
      R"({"error":"source_retired","message":"source dev-a for user u1 was retired","source_id":""})");
}

constexpr std::string_view kConflictExample =
    R"({"error":"push_conflict","message":"update conflict on business.users 550e8400-e29b-41d4-a716-446655440000: expected version 7, got 3","conflict":{"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"UPDATE","base_row_version":3,"server_row_version":7,"server_row_deleted":false,"server_row":{"id":"550e8400-e29b-41d4-a716-446655440000","name":"Jane Doe","email":"jane@example.com"}}})";

ErrorResponse ConflictExample() {
  ErrorResponse r;
  r.error = "push_conflict";
  r.message =
      "update conflict on business.users 550e8400-e29b-41d4-a716-446655440000: expected version 7, "
      "got 3";
  PushConflictDetails c;
  c.schema = "business";
  c.table = "users";
  c.key = Json(R"({"id":"550e8400-e29b-41d4-a716-446655440000"})");
  c.op = "UPDATE";
  c.base_row_version = 3;
  c.server_row_version = 7;
  c.server_row_deleted = false;
  c.server_row = Json(
      R"({"id":"550e8400-e29b-41d4-a716-446655440000","name":"Jane Doe","email":"jane@example.com"})");
  r.conflict = std::move(c);
  return r;
}

TEST(ResponseEncodeTest, PushConflictExampleExactlyAsInTheSpec) {
  // protocol.md §3.4.4 example, byte for byte.
  EXPECT_EQ(EncodeErrorResponse(ConflictExample()), kConflictExample);
}

TEST(ResponseEncodeTest, PushConflictServerRowNullWhenAbsent) {
  // protocol.md §3.4.4: server_row always present, explicit null when deleted or absent;
  // server_row_version 0 when the server has no row state.
  ErrorResponse r = ConflictExample();
  r.message = "m";
  r.conflict->server_row.reset();
  r.conflict->server_row_deleted = true;
  EXPECT_EQ(
      EncodeErrorResponse(r),
      R"({"error":"push_conflict","message":"m","conflict":{"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"UPDATE","base_row_version":3,"server_row_version":7,"server_row_deleted":true,"server_row":null}})");
  r.conflict->server_row_deleted = false;
  r.conflict->server_row_version = 0;
  r.conflict->op = "INSERT";
  r.conflict->base_row_version = 0;
  EXPECT_EQ(
      EncodeErrorResponse(r),
      R"({"error":"push_conflict","message":"m","conflict":{"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"INSERT","base_row_version":0,"server_row_version":0,"server_row_deleted":false,"server_row":null}})");
}

BundleRow UserRow(Op op, std::int64_t row_version, std::optional<std::string_view> payload) {
  BundleRow row;
  row.schema = "business";
  row.table = "users";
  row.key = Json(R"({"id":"550e8400-e29b-41d4-a716-446655440000"})");
  row.op = op;
  row.row_version = row_version;
  if (payload.has_value()) row.payload = Json(*payload);
  return row;
}

constexpr std::string_view kJohnPayload =
    R"({"id":"550e8400-e29b-41d4-a716-446655440000","name":"John Doe","email":"john@example.com"})";

TEST(ResponseEncodeTest, CommittedBundleRows) {
  // protocol.md §3.6 response example; all fields always present.
  CommittedBundleRowsResponse r;
  r.bundle_seq = 143;
  r.source_id = "dev-a";
  r.source_bundle_id = 7;
  r.row_count = 1;
  r.bundle_hash = std::string(kHash);
  r.rows = {UserRow(Op::kInsert, 143, kJohnPayload)};
  r.next_row_ordinal = 0;
  r.has_more = false;
  EXPECT_EQ(
      EncodeCommittedBundleRowsResponse(r),
      R"({"bundle_seq":143,"source_id":"dev-a","source_bundle_id":7,"row_count":1,"bundle_hash":")" +
          std::string(kHash) +
          R"(","rows":[{"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"INSERT","row_version":143,"payload":{"id":"550e8400-e29b-41d4-a716-446655440000","name":"John Doe","email":"john@example.com"}}],"next_row_ordinal":0,"has_more":false})");
}

TEST(ResponseEncodeTest, CommittedBundleRowsDeleteOmitsPayloadAndEmptyRowsAreAnArray) {
  // protocol.md §3.6: BundleRow payload omitted for DELETE; §1.4: empty arrays as [].
  CommittedBundleRowsResponse r;
  r.bundle_seq = 9;
  r.source_id = "dev-a";
  r.source_bundle_id = 2;
  r.row_count = 2;
  r.bundle_hash = "h";
  r.rows = {UserRow(Op::kDelete, 9, std::nullopt), UserRow(Op::kDelete, 9, R"({"ignored":true})")};
  r.next_row_ordinal = 1;
  r.has_more = true;
  const std::string del =
      R"({"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"DELETE","row_version":9})";
  EXPECT_EQ(
      EncodeCommittedBundleRowsResponse(r),
      R"({"bundle_seq":9,"source_id":"dev-a","source_bundle_id":2,"row_count":2,"bundle_hash":"h","rows":[)" +
          del + "," + del + R"(],"next_row_ordinal":1,"has_more":true})");
  r.rows.clear();
  EXPECT_EQ(
      EncodeCommittedBundleRowsResponse(r),
      R"({"bundle_seq":9,"source_id":"dev-a","source_bundle_id":2,"row_count":2,"bundle_hash":"h","rows":[],"next_row_ordinal":1,"has_more":true})");
}

TEST(ResponseEncodeTest, PullWithAndWithoutOptionalBundleMembers) {
  // protocol.md §3.7: Bundle row_count/bundle_hash are omitempty; bundles always an array.
  PullResponse r;
  r.stable_bundle_seq = 156;
  Bundle b;
  b.bundle_seq = 143;
  b.source_id = "dev-b";
  b.source_bundle_id = 18;
  b.row_count = 1;
  b.bundle_hash = std::string(kHash);
  b.rows = {UserRow(Op::kUpdate, 143, R"({"id":"550e8400-e29b-41d4-a716-446655440000","n":1})")};
  r.bundles.push_back(b);
  r.has_more = true;
  const std::string row =
      R"({"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"UPDATE","row_version":143,"payload":{"id":"550e8400-e29b-41d4-a716-446655440000","n":1}})";
  EXPECT_EQ(
      EncodePullResponse(r),
      R"({"stable_bundle_seq":156,"bundles":[{"bundle_seq":143,"source_id":"dev-b","source_bundle_id":18,"row_count":1,"bundle_hash":")" +
          std::string(kHash) + R"(","rows":[)" + row + R"(]}],"has_more":true})");
  r.bundles[0].row_count = 0;
  r.bundles[0].bundle_hash.clear();
  r.bundles[0].rows.clear();
  r.has_more = false;
  EXPECT_EQ(
      EncodePullResponse(r),
      R"({"stable_bundle_seq":156,"bundles":[{"bundle_seq":143,"source_id":"dev-b","source_bundle_id":18,"rows":[]}],"has_more":false})");
}

TEST(ResponseEncodeTest, PullEmptyPage) {
  // protocol.md §3.7 step 2: {"stable_bundle_seq":stable,"bundles":[],"has_more":false}.
  PullResponse r;
  r.stable_bundle_seq = 5;
  EXPECT_EQ(EncodePullResponse(r), R"({"stable_bundle_seq":5,"bundles":[],"has_more":false})");
  EXPECT_EQ(EncodePullResponse({}), R"({"stable_bundle_seq":0,"bundles":[],"has_more":false})");
}

TEST(ResponseEncodeTest, WatchEventWithAndWithoutSourceFields) {
  // protocol.md §3.8: data line payload; source fields omitted when unknown.
  EXPECT_EQ(EncodeWatchEvent(WatchEvent{124, "device-a", 7}),
            R"({"bundle_seq":124,"source_id":"device-a","source_bundle_id":7})");
  EXPECT_EQ(EncodeWatchEvent(WatchEvent{124, "", 0}), R"({"bundle_seq":124})");
  EXPECT_EQ(EncodeWatchEvent(WatchEvent{0, "", 0}), R"({"bundle_seq":0})");
}

TEST(ResponseEncodeTest, SnapshotSessionByteCountOmittedWhenZero) {
  // protocol.md §3.9 response example; byte_count omitted when 0.
  SnapshotSession s{std::string(kSnapshotId), 156, 124, 18240, "2026-03-22T12:00:00.123456789Z"};
  EXPECT_EQ(
      EncodeSnapshotSession(s),
      R"({"snapshot_id":")" + std::string(kSnapshotId) +
          R"(","snapshot_bundle_seq":156,"row_count":124,"byte_count":18240,"expires_at":"2026-03-22T12:00:00.123456789Z"})");
  s = SnapshotSession{"s", 0, 0, 0, "2026-03-22T12:00:00Z"};
  EXPECT_EQ(
      EncodeSnapshotSession(s),
      R"({"snapshot_id":"s","snapshot_bundle_seq":0,"row_count":0,"expires_at":"2026-03-22T12:00:00Z"})");
}

TEST(ResponseEncodeTest, SnapshotChunk) {
  // protocol.md §3.10 response; all fields present; payload number lexemes pass through (§1.4:
  // "1.50 stays 1.50 in a snapshot payload").
  SnapshotChunkResponse r;
  r.snapshot_id = std::string(kSnapshotId);
  r.snapshot_bundle_seq = 156;
  SnapshotRow row;
  row.schema = "business";
  row.table = "users";
  row.key = Json(R"({"id":"550e8400-e29b-41d4-a716-446655440000"})");
  row.row_version = 143;
  row.payload = Json(R"({"id":"550e8400-e29b-41d4-a716-446655440000","price":1.50})");
  r.rows = {row};
  r.next_row_ordinal = 1;
  r.has_more = true;
  EXPECT_EQ(
      EncodeSnapshotChunkResponse(r),
      R"({"snapshot_id":")" + std::string(kSnapshotId) +
          R"(","snapshot_bundle_seq":156,"rows":[{"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"row_version":143,"payload":{"id":"550e8400-e29b-41d4-a716-446655440000","price":1.50}}],"next_row_ordinal":1,"has_more":true})");
}

TEST(ResponseEncodeTest, SnapshotChunkEmpty) {
  // protocol.md §3.10: empty snapshot -> rows: [], next_row_ordinal: 0, has_more: false.
  SnapshotChunkResponse r;
  r.snapshot_id = "s";
  EXPECT_EQ(
      EncodeSnapshotChunkResponse(r),
      R"({"snapshot_id":"s","snapshot_bundle_seq":0,"rows":[],"next_row_ordinal":0,"has_more":false})");
}

std::map<std::string, bool> ReferenceFeatures() {
  // protocol.md §3.12 feature list.
  std::map<std::string, bool> f;
  for (const char* name :
       {"bundle_pull", "push_session_chunking", "committed_bundle_row_fetch", "snapshot_chunking",
        "status_endpoint", "graceful_shutdown", "capabilities_endpoint", "history_pruned_errors",
        "bundle_push", "structured_sync_keys", "registered_write_rejection_enforced",
        "accepted_push_replay_visibility", "committed_bundle_visibility",
        "retained_floor_visibility", "retained_window_visibility", "history_pruned_visibility",
        "connect_lifecycle", "scope_initialization_leases"}) {
    f[name] = true;
  }
  f["server_checkpoint_tracking"] = false;
  f["bundle_change_watch"] = false;
  return f;
}

constexpr std::string_view kReferenceFeaturesJson =
    R"({"accepted_push_replay_visibility":true,"bundle_change_watch":false,"bundle_pull":true,"bundle_push":true,"capabilities_endpoint":true,"committed_bundle_row_fetch":true,"committed_bundle_visibility":true,"connect_lifecycle":true,"graceful_shutdown":true,"history_pruned_errors":true,"history_pruned_visibility":true,"push_session_chunking":true,"registered_write_rejection_enforced":true,"retained_floor_visibility":true,"retained_window_visibility":true,"scope_initialization_leases":true,"server_checkpoint_tracking":false,"snapshot_chunking":true,"status_endpoint":true,"structured_sync_keys":true})";

BundleLimits DefaultLimits() {
  // protocol.md §3.12 / §6 defaults.
  BundleLimits l;
  l.max_bundles_per_pull = 5000;
  l.default_rows_per_push_chunk = 1000;
  l.max_rows_per_push_chunk = 5000;
  l.push_session_ttl_seconds = 900;
  l.default_rows_per_committed_bundle_chunk = 1000;
  l.max_rows_per_committed_bundle_chunk = 5000;
  l.default_rows_per_snapshot_chunk = 1000;
  l.max_rows_per_snapshot_chunk = 5000;
  l.snapshot_session_ttl_seconds = 900;
  l.initialization_lease_ttl_seconds = 900;
  return l;
}

TEST(ResponseEncodeTest, CapabilitiesReferenceDefaults) {
  // protocol.md §3.12: features sorted like Go's map encoding, zero limits omitted
  // (max_rows_per_bundle, max_bytes_per_bundle, max_*_per_snapshot_session).
  CapabilitiesResponse r;
  r.schema_version = 1;
  r.app_name = "demo";
  r.registered_tables = {"business.docs", "business.users"};
  r.registered_table_specs = {{"business", "docs", {"doc_id"}}, {"business", "users", {"id"}}};
  r.features = ReferenceFeatures();
  r.bundle_limits = DefaultLimits();
  EXPECT_EQ(
      EncodeCapabilitiesResponse(r),
      R"({"protocol_version":"v1","schema_version":1,"app_name":"demo","registered_tables":["business.docs","business.users"],"registered_table_specs":[{"schema":"business","table":"docs","sync_key_columns":["doc_id"]},{"schema":"business","table":"users","sync_key_columns":["id"]}],"features":)" +
          std::string(kReferenceFeaturesJson) +
          R"(,"bundle_limits":{"max_bundles_per_pull":5000,"default_rows_per_push_chunk":1000,"max_rows_per_push_chunk":5000,"push_session_ttl_seconds":900,"default_rows_per_committed_bundle_chunk":1000,"max_rows_per_committed_bundle_chunk":5000,"default_rows_per_snapshot_chunk":1000,"max_rows_per_snapshot_chunk":5000,"snapshot_session_ttl_seconds":900,"initialization_lease_ttl_seconds":900}})");
}

TEST(ResponseEncodeTest, CapabilitiesOmitsEmptyMembers) {
  // protocol.md §3.12: app_name, registered_tables, registered_table_specs omitted when empty;
  // sync_key_columns omitted when empty; features and bundle_limits always present.
  CapabilitiesResponse r;
  EXPECT_EQ(EncodeCapabilitiesResponse(r),
            R"({"protocol_version":"v1","schema_version":0,"features":{},"bundle_limits":{}})");
  r.registered_table_specs = {{"public", "notes", {}}};
  r.features = {{"snapshot_chunking", true}, {"bundle_change_watch", true}};
  r.bundle_limits.max_rows_per_bundle = 10;
  r.bundle_limits.max_bytes_per_bundle = 20;
  r.bundle_limits.max_rows_per_snapshot_session = 30;
  r.bundle_limits.max_bytes_per_snapshot_session = 40;
  EXPECT_EQ(
      EncodeCapabilitiesResponse(r),
      R"({"protocol_version":"v1","schema_version":0,"registered_table_specs":[{"schema":"public","table":"notes"}],"features":{"bundle_change_watch":true,"snapshot_chunking":true},"bundle_limits":{"max_rows_per_bundle":10,"max_bytes_per_bundle":20,"max_rows_per_snapshot_session":30,"max_bytes_per_snapshot_session":40}})");
}

TEST(ResponseEncodeTest, StatusWithEmptyArrays) {
  // protocol.md §3.13: all fields always present; §1.4: registered_tables [] never null.
  StatusResponse r;
  r.status = "healthy";
  r.app_name = "";
  r.lifecycle = "running";
  r.accepting_operations = true;
  EXPECT_EQ(
      EncodeStatusResponse(r),
      R"({"status":"healthy","version":"v1","app_name":"","lifecycle":"running","accepting_operations":true,"inflight_operations":0,"registered_tables":[],"features":{},"user_state_retention_floor_ahead_count":0,"latest_bundle_seq_max":0,"retained_bundle_floor_min":0,"retained_bundle_floor_max":0,"retained_bundle_window_min":0,"retained_bundle_window_max":0,"history_pruned_error_count":0,"accepted_push_replay_count":0,"rejected_registered_write_count":0,"committed_bundle_count":0,"committed_bundle_bytes":0})");
}

TEST(ResponseEncodeTest, StatusAllMembersInGoOrder) {
  // protocol.md §3.13 member list (Go StatusResponse field order).
  StatusResponse r;
  r.status = "unhealthy";
  r.app_name = "demo";
  r.lifecycle = "shutting_down";
  r.accepting_operations = false;
  r.inflight_operations = 2;
  r.registered_tables = {"business.docs", "business.users"};
  r.features = {{"bundle_pull", true}, {"bundle_change_watch", false}};
  r.user_state_retention_floor_ahead_count = 1;
  r.latest_bundle_seq_max = 2;
  r.retained_bundle_floor_min = 3;
  r.retained_bundle_floor_max = 4;
  r.retained_bundle_window_min = 5;
  r.retained_bundle_window_max = 6;
  r.history_pruned_error_count = 7;
  r.accepted_push_replay_count = 8;
  r.rejected_registered_write_count = 9;
  r.committed_bundle_count = 10;
  r.committed_bundle_bytes = 11;
  EXPECT_EQ(
      EncodeStatusResponse(r),
      R"({"status":"unhealthy","version":"v1","app_name":"demo","lifecycle":"shutting_down","accepting_operations":false,"inflight_operations":2,"registered_tables":["business.docs","business.users"],"features":{"bundle_change_watch":false,"bundle_pull":true},"user_state_retention_floor_ahead_count":1,"latest_bundle_seq_max":2,"retained_bundle_floor_min":3,"retained_bundle_floor_max":4,"retained_bundle_window_min":5,"retained_bundle_window_max":6,"history_pruned_error_count":7,"accepted_push_replay_count":8,"rejected_registered_write_count":9,"committed_bundle_count":10,"committed_bundle_bytes":11})");
}

// ---- response decoders: error paths (client side, kProtocolViolation) -------------------------

constexpr ErrorCode kPV = ErrorCode::kProtocolViolation;

TEST(ConnectResponseDecodeTest, Errors) {
  // protocol.md §3.1 ConnectResponse: resolution always present, one of four values.
  const auto decode = [](std::string_view b) { return DecodeConnectResponse(b); };
  constexpr std::string_view prefix = "invalid connect response";
  ExpectBodyErrors(decode, kPV, prefix);
  ExpectMemberErrors(
      decode, kPV, prefix,
      R"({"resolution":"retry_later","initialization_id":"i","lease_expires_at":"2026-03-22T12:00:00Z","retry_after_seconds":873})",
      {"resolution"},
      Concat({StringCases("resolution"), StringCases("initialization_id"),
              StringCases("lease_expires_at"), IntegerCases("retry_after_seconds")}));
  for (const char* bad : {"REMOTE_AUTHORITATIVE", "", "retry", "initialize"}) {
    const std::string body = Edit("{}", "resolution", "\"" + std::string(bad) + "\"");
    EXPECT_TRUE(
        FailsWith(decode(body), kPV, prefix, "unknown resolution \"" + std::string(bad) + "\""))
        << body;
  }
  // Response member names are exact (no Go case folding on the client side).
  EXPECT_TRUE(FailsWith(decode(R"({"Resolution":"initialize_empty"})"), kPV, prefix,
                        "resolution is required"));
}

TEST(PushSessionCreateResponseDecodeTest, Errors) {
  // protocol.md §3.2 PushSessionCreateResponse: status staging|already_committed.
  const auto decode = [](std::string_view b) { return DecodePushSessionCreateResponse(b); };
  constexpr std::string_view prefix = "invalid push session create response";
  ExpectBodyErrors(decode, kPV, prefix);
  ExpectMemberErrors(
      decode, kPV, prefix,
      R"({"push_id":"p","status":"staging","planned_row_count":1,"next_expected_row_ordinal":0,"bundle_seq":0,"source_id":"s","source_bundle_id":1,"row_count":1,"bundle_hash":"h"})",
      {"status"},
      Concat({StringCases("status"), StringCases("push_id"), IntegerCases("planned_row_count"),
              IntegerCases("next_expected_row_ordinal"), IntegerCases("bundle_seq"),
              StringCases("source_id"), IntegerCases("source_bundle_id"), IntegerCases("row_count"),
              StringCases("bundle_hash")}));
  for (const char* bad : {"STAGING", "committed", ""}) {
    EXPECT_TRUE(FailsWith(decode(Edit("{}", "status", "\"" + std::string(bad) + "\"")), kPV, prefix,
                          "unknown status \"" + std::string(bad) + "\""))
        << bad;
  }
}

TEST(PushSessionCreateResponseDecodeTest, AbsentNextExpectedRowOrdinalIsZero) {
  // protocol.md §3.2: clients MUST treat absence of next_expected_row_ordinal as 0.
  auto r = DecodePushSessionCreateResponse(
      R"({"push_id":"p","status":"staging","planned_row_count":3})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, PushSessionStatus::kStaging);
  EXPECT_EQ(r->push_id, "p");
  EXPECT_EQ(r->planned_row_count, 3);
  EXPECT_EQ(r->next_expected_row_ordinal, 0);
}

TEST(PushChunkResponseDecodeTest, Errors) {
  // protocol.md §3.3: both fields always present.
  const auto decode = [](std::string_view b) { return DecodePushChunkResponse(b); };
  constexpr std::string_view prefix = "invalid push chunk response";
  ExpectBodyErrors(decode, kPV, prefix);
  ExpectMemberErrors(decode, kPV, prefix, R"({"push_id":"p","next_expected_row_ordinal":2})",
                     {"push_id", "next_expected_row_ordinal"},
                     Concat({StringCases("push_id"), IntegerCases("next_expected_row_ordinal")}));
}

TEST(PushSessionCommitResponseDecodeTest, Errors) {
  // protocol.md §3.4: all fields always present.
  const auto decode = [](std::string_view b) { return DecodePushSessionCommitResponse(b); };
  constexpr std::string_view prefix = "invalid push commit response";
  ExpectBodyErrors(decode, kPV, prefix);
  ExpectMemberErrors(
      decode, kPV, prefix,
      R"({"bundle_seq":143,"source_id":"dev-a","source_bundle_id":7,"row_count":1,"bundle_hash":"h"})",
      {"bundle_seq", "source_id", "source_bundle_id", "row_count", "bundle_hash"},
      Concat({IntegerCases("bundle_seq"), StringCases("source_id"),
              IntegerCases("source_bundle_id"), IntegerCases("row_count"),
              StringCases("bundle_hash")}));
}

TEST(ErrorResponseDecodeTest, Errors) {
  // protocol.md §1.5: every error body has at least error (and message); extended shapes add
  // source_id / replaced_by_source_id or conflict.
  const auto decode = [](std::string_view b) { return DecodeErrorResponse(b); };
  constexpr std::string_view prefix = "invalid error response";
  ExpectBodyErrors(decode, kPV, prefix);
  ExpectMemberErrors(
      decode, kPV, prefix,
      R"({"error":"source_retired","message":"m","source_id":"a","replaced_by_source_id":"b"})",
      {"error"},
      Concat({StringCases("error"), StringCases("message"), StringCases("source_id"),
              StringCases("replaced_by_source_id")}));
  for (const char* bad : {"5", "\"x\"", "[]", "true"}) {
    EXPECT_TRUE(FailsWith(decode(Edit(kConflictExample, "conflict", bad)), kPV, prefix,
                          "conflict must be an object"))
        << bad;
  }
}

TEST(ErrorResponseDecodeTest, ConflictMemberErrors) {
  // protocol.md §3.4.4 PushConflictDetails member types; server_row object or null.
  const auto decode = [](std::string_view b) { return DecodeErrorResponse(b); };
  constexpr std::string_view prefix = "invalid error response";
  const auto wrap = [](const std::string& conflict) {
    return R"({"error":"push_conflict","message":"m","conflict":)" + conflict + "}";
  };
  std::vector<TypeCase> cases =
      Concat({StringCases("schema", "conflict."), StringCases("table", "conflict."),
              StringCases("op", "conflict."), IntegerCases("base_row_version", "conflict."),
              IntegerCases("server_row_version", "conflict."),
              BoolCases("server_row_deleted", "conflict.")});
  for (const char* bad : {"\"k\"", "[]", "5", "true"}) {
    cases.push_back({"key", bad, "conflict.key must be an object"});
  }
  for (const char* bad : {"\"row\"", "[]", "5", "false"}) {
    cases.push_back({"server_row", bad, "conflict.server_row must be an object or null"});
  }
  ExpectMemberErrors(
      decode, kPV, prefix,
      R"({"schema":"business","table":"users","key":{"id":"k"},"op":"UPDATE","base_row_version":3,"server_row_version":7,"server_row_deleted":false,"server_row":{"id":"k"}})",
      {}, cases, wrap);
}

TEST(ErrorResponseDecodeTest, DecodesTheSpecConflictExample) {
  // protocol.md §3.4.4 example; clients treat a conflict only when conflict is non-null.
  auto r = DecodeErrorResponse(kConflictExample);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->error, "push_conflict");
  ASSERT_TRUE(r->conflict.has_value());
  EXPECT_EQ(r->conflict->schema, "business");
  EXPECT_EQ(r->conflict->table, "users");
  EXPECT_EQ(ToJson(r->conflict->key), R"({"id":"550e8400-e29b-41d4-a716-446655440000"})");
  EXPECT_EQ(r->conflict->op, "UPDATE");
  EXPECT_EQ(r->conflict->base_row_version, 3);
  EXPECT_EQ(r->conflict->server_row_version, 7);
  EXPECT_FALSE(r->conflict->server_row_deleted);
  ASSERT_TRUE(r->conflict->server_row.has_value());
  EXPECT_EQ(
      ToJson(*r->conflict->server_row),
      R"({"id":"550e8400-e29b-41d4-a716-446655440000","name":"Jane Doe","email":"jane@example.com"})");
  // A null conflict is no conflict; a null server_row is absent.
  r = DecodeErrorResponse(R"({"error":"push_conflict","message":"m","conflict":null})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_FALSE(r->conflict.has_value());
  r = DecodeErrorResponse(Edit(kConflictExample, "conflict",
                               R"({"schema":"s","table":"t","key":{"id":"k"},"server_row":null})"));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_TRUE(r->conflict.has_value());
  EXPECT_FALSE(r->conflict->server_row.has_value());
  // The message is optional on decode (clients branch on status + error only, §1.5).
  r = DecodeErrorResponse(R"({"error":"internal"})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->message, "");
}

constexpr std::string_view kValidBundleRow =
    R"({"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"INSERT","row_version":143,"payload":{"id":"550e8400-e29b-41d4-a716-446655440000","name":"John Doe"}})";

// Wrong-type and missing-member cases of a BundleRow at `path` (e.g. "rows[0].").
std::vector<std::string> BundleRowRequired() {
  return {"schema", "table", "key", "op", "row_version"};
}
std::vector<TypeCase> BundleRowTypeCases(const std::string& path) {
  std::vector<TypeCase> cases =
      Concat({StringCases("schema", path), StringCases("table", path), StringCases("op", path),
              IntegerCases("row_version", path)});
  for (const char* bad : {"\"k\"", "[]", "5", "true"}) {
    cases.push_back({"key", bad, path + "key must be an object"});
  }
  for (const char* bad : {"\"p\"", "[]", "5", "true"}) {
    cases.push_back({"payload", bad, path + "payload must be an object"});
  }
  for (const char* bad : {"\"MERGE\"", "\"\"", "\"INSERTS\""}) {
    cases.push_back({"op", bad, path.substr(0, path.size() - 1) + " has invalid op " + bad});
  }
  // INSERT/UPDATE rows need a payload (§3.7 client validation; §3.6 payload omitted only for
  // DELETE).
  cases.push_back({"payload", "null", path + "payload is required for INSERT"});
  return cases;
}

std::string CommittedRowsWith(const std::string& rows_json) {
  return R"({"bundle_seq":143,"source_id":"dev-a","source_bundle_id":7,"row_count":1,"bundle_hash":"h","rows":)" +
         rows_json + R"(,"next_row_ordinal":0,"has_more":false})";
}

TEST(CommittedBundleRowsResponseDecodeTest, Errors) {
  // protocol.md §3.6 CommittedBundleRowsResponse: all fields always present.
  const auto decode = [](std::string_view b) { return DecodeCommittedBundleRowsResponse(b); };
  constexpr std::string_view prefix = "invalid committed bundle rows response";
  ExpectBodyErrors(decode, kPV, prefix);
  std::vector<TypeCase> cases =
      Concat({IntegerCases("bundle_seq"), StringCases("source_id"),
              IntegerCases("source_bundle_id"), IntegerCases("row_count"),
              StringCases("bundle_hash"), IntegerCases("next_row_ordinal"), BoolCases("has_more")});
  for (const char* bad : {"{}", "\"x\"", "5"})
    cases.push_back({"rows", bad, "rows must be an array"});
  for (const char* bad : {"[5]", "[\"x\"]", "[[]]", "[null]"}) {
    cases.push_back({"rows", bad, "rows[0] must be an object"});
  }
  ExpectMemberErrors(decode, kPV, prefix,
                     CommittedRowsWith("[" + std::string(kValidBundleRow) + "]"),
                     {"bundle_seq", "source_id", "source_bundle_id", "row_count", "bundle_hash",
                      "rows", "next_row_ordinal", "has_more"},
                     cases);
}

TEST(CommittedBundleRowsResponseDecodeTest, RowErrors) {
  // protocol.md §3.6 BundleRow: schema, table, key, op, row_version; payload omitted only for
  // DELETE.
  const auto decode = [](std::string_view b) { return DecodeCommittedBundleRowsResponse(b); };
  constexpr std::string_view prefix = "invalid committed bundle rows response";
  const auto wrap = [](const std::string& row) {
    return CommittedRowsWith("[" + std::string(kValidBundleRow) + "," + row + "]");
  };
  ExpectMemberErrors(decode, kPV, prefix, kValidBundleRow, BundleRowRequired(),
                     BundleRowTypeCases("rows[1]."), wrap, "rows[1].");
  EXPECT_TRUE(FailsWith(decode(wrap(Edit(kValidBundleRow, "payload"))), kPV, prefix,
                        "rows[1].payload is required for INSERT"));
  EXPECT_TRUE(FailsWith(decode(wrap(Edit(Edit(kValidBundleRow, "op", "\"UPDATE\""), "payload"))),
                        kPV, prefix, "rows[1].payload is required for UPDATE"));
  // DELETE rows need no payload.
  auto ok = decode(wrap(Edit(Edit(kValidBundleRow, "op", "\"DELETE\""), "payload")));
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  ASSERT_EQ(ok->rows.size(), 2U);
  EXPECT_EQ(ok->rows[1].op, Op::kDelete);
  EXPECT_FALSE(ok->rows[1].payload.has_value());
}

std::string PullWith(const std::string& bundles_json) {
  return R"({"stable_bundle_seq":156,"bundles":)" + bundles_json + R"(,"has_more":false})";
}

constexpr std::string_view kValidBundle =
    R"({"bundle_seq":143,"source_id":"dev-b","source_bundle_id":18,"row_count":1,"bundle_hash":"h","rows":[{"schema":"business","table":"users","key":{"id":"k"},"op":"DELETE","row_version":143}]})";

TEST(PullResponseDecodeTest, Errors) {
  // protocol.md §3.7 PullResponse: stable_bundle_seq, bundles, has_more.
  const auto decode = [](std::string_view b) { return DecodePullResponse(b); };
  constexpr std::string_view prefix = "invalid pull response";
  ExpectBodyErrors(decode, kPV, prefix);
  std::vector<TypeCase> cases = Concat({IntegerCases("stable_bundle_seq"), BoolCases("has_more")});
  for (const char* bad : {"{}", "\"x\"", "5"}) {
    cases.push_back({"bundles", bad, "bundles must be an array"});
  }
  for (const char* bad : {"[5]", "[[]]", "[null]"}) {
    cases.push_back({"bundles", bad, "bundles[0] must be an object"});
  }
  ExpectMemberErrors(decode, kPV, prefix, PullWith("[" + std::string(kValidBundle) + "]"),
                     {"stable_bundle_seq", "bundles", "has_more"}, cases);
}

TEST(PullResponseDecodeTest, BundleErrors) {
  // protocol.md §3.7 Bundle: bundle_seq, source_id, source_bundle_id, rows required;
  // row_count / bundle_hash omitempty.
  const auto decode = [](std::string_view b) { return DecodePullResponse(b); };
  constexpr std::string_view prefix = "invalid pull response";
  const auto wrap = [](const std::string& bundle) { return PullWith("[" + bundle + "]"); };
  std::vector<TypeCase> cases =
      Concat({IntegerCases("bundle_seq", "bundles[0]."), StringCases("source_id", "bundles[0]."),
              IntegerCases("source_bundle_id", "bundles[0]."),
              IntegerCases("row_count", "bundles[0]."), StringCases("bundle_hash", "bundles[0].")});
  cases.push_back({"rows", "{}", "bundles[0].rows must be an array"});
  cases.push_back({"rows", "[1]", "bundles[0].rows[0] must be an object"});
  ExpectMemberErrors(decode, kPV, prefix, kValidBundle,
                     {"bundle_seq", "source_id", "source_bundle_id", "rows"}, cases, wrap,
                     "bundles[0].");
  // Optional members really are optional.
  auto ok = decode(wrap(Edit(Edit(kValidBundle, "row_count"), "bundle_hash")));
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->bundles[0].row_count, 0);
  EXPECT_EQ(ok->bundles[0].bundle_hash, "");
}

TEST(PullResponseDecodeTest, BundleRowErrors) {
  // protocol.md §3.7 client validation of rows (valid op, payload for INSERT/UPDATE).
  const auto decode = [](std::string_view b) { return DecodePullResponse(b); };
  constexpr std::string_view prefix = "invalid pull response";
  const auto wrap = [](const std::string& row) {
    return PullWith(R"([{"bundle_seq":143,"source_id":"dev-b","source_bundle_id":18,"rows":[)" +
                    std::string(kValidBundleRow) + "]}," +
                    R"({"bundle_seq":144,"source_id":"dev-b","source_bundle_id":19,"rows":[)" +
                    row + "]}]");
  };
  ExpectMemberErrors(decode, kPV, prefix, kValidBundleRow, BundleRowRequired(),
                     BundleRowTypeCases("bundles[1].rows[0]."), wrap, "bundles[1].rows[0].");
}

TEST(WatchEventDecodeTest, Errors) {
  // protocol.md §3.8: {"bundle_seq":N[,"source_id":...,"source_bundle_id":...]}.
  const auto decode = [](std::string_view b) { return DecodeWatchEvent(b); };
  constexpr std::string_view prefix = "invalid watch event";
  ExpectBodyErrors(decode, kPV, prefix);
  ExpectMemberErrors(decode, kPV, prefix,
                     R"({"bundle_seq":124,"source_id":"device-a","source_bundle_id":7})",
                     {"bundle_seq"},
                     Concat({IntegerCases("bundle_seq"), StringCases("source_id"),
                             IntegerCases("source_bundle_id")}));
}

TEST(SnapshotSessionDecodeTest, Errors) {
  // protocol.md §3.9 SnapshotSession: byte_count omitted when 0, others always present.
  const auto decode = [](std::string_view b) { return DecodeSnapshotSession(b); };
  constexpr std::string_view prefix = "invalid snapshot session response";
  ExpectBodyErrors(decode, kPV, prefix);
  ExpectMemberErrors(
      decode, kPV, prefix,
      R"({"snapshot_id":"s","snapshot_bundle_seq":156,"row_count":124,"byte_count":18240,"expires_at":"2026-03-22T12:00:00Z"})",
      {"snapshot_id", "snapshot_bundle_seq", "row_count", "expires_at"},
      Concat({StringCases("snapshot_id"), IntegerCases("snapshot_bundle_seq"),
              IntegerCases("row_count"), IntegerCases("byte_count"), StringCases("expires_at")}));
  auto ok = decode(
      R"({"snapshot_id":"s","snapshot_bundle_seq":0,"row_count":0,"expires_at":"2026-03-22T12:00:00Z"})");
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->byte_count, 0);
}

std::string SnapshotChunkWith(const std::string& rows_json) {
  return R"({"snapshot_id":"s","snapshot_bundle_seq":156,"rows":)" + rows_json +
         R"(,"next_row_ordinal":1,"has_more":true})";
}

constexpr std::string_view kValidSnapshotRow =
    R"({"schema":"business","table":"users","key":{"id":"k"},"row_version":143,"payload":{"id":"k"}})";

TEST(SnapshotChunkResponseDecodeTest, Errors) {
  // protocol.md §3.10 SnapshotChunkResponse: all fields present.
  const auto decode = [](std::string_view b) { return DecodeSnapshotChunkResponse(b); };
  constexpr std::string_view prefix = "invalid snapshot chunk response";
  ExpectBodyErrors(decode, kPV, prefix);
  std::vector<TypeCase> cases =
      Concat({StringCases("snapshot_id"), IntegerCases("snapshot_bundle_seq"),
              IntegerCases("next_row_ordinal"), BoolCases("has_more")});
  for (const char* bad : {"{}", "\"x\"", "5"})
    cases.push_back({"rows", bad, "rows must be an array"});
  for (const char* bad : {"[5]", "[[]]", "[null]"}) {
    cases.push_back({"rows", bad, "rows[0] must be an object"});
  }
  ExpectMemberErrors(
      decode, kPV, prefix, SnapshotChunkWith("[" + std::string(kValidSnapshotRow) + "]"),
      {"snapshot_id", "snapshot_bundle_seq", "rows", "next_row_ordinal", "has_more"}, cases);
}

TEST(SnapshotChunkResponseDecodeTest, RowErrors) {
  // protocol.md §3.10 SnapshotRow: schema, table, key, row_version, payload (object, always
  // present).
  const auto decode = [](std::string_view b) { return DecodeSnapshotChunkResponse(b); };
  constexpr std::string_view prefix = "invalid snapshot chunk response";
  const auto wrap = [](const std::string& row) { return SnapshotChunkWith("[" + row + "]"); };
  std::vector<TypeCase> cases =
      Concat({StringCases("schema", "rows[0]."), StringCases("table", "rows[0]."),
              IntegerCases("row_version", "rows[0].")});
  for (const char* bad : {"\"k\"", "[]", "5"}) {
    cases.push_back({"key", bad, "rows[0].key must be an object"});
  }
  for (const char* bad : {"null", "\"p\"", "[]", "5"}) {
    cases.push_back({"payload", bad, "rows[0].payload must be an object"});
  }
  ExpectMemberErrors(decode, kPV, prefix, kValidSnapshotRow,
                     {"schema", "table", "key", "row_version"}, cases, wrap, "rows[0].");
  EXPECT_TRUE(FailsWith(decode(wrap(Edit(kValidSnapshotRow, "payload"))), kPV, prefix,
                        "rows[0].payload must be an object"));
}

TEST(CapabilitiesResponseDecodeTest, Errors) {
  // protocol.md §3.12 CapabilitiesResponse member types.
  const auto decode = [](std::string_view b) { return DecodeCapabilitiesResponse(b); };
  constexpr std::string_view prefix = "invalid capabilities response";
  ExpectBodyErrors(decode, kPV, prefix);
  std::vector<TypeCase> cases = Concat(
      {StringCases("protocol_version"), IntegerCases("schema_version"), StringCases("app_name")});
  for (const char* bad : {"{}", "\"x\"", "5"}) {
    cases.push_back({"registered_tables", bad, "registered_tables must be an array"});
    cases.push_back({"registered_table_specs", bad, "registered_table_specs must be an array"});
  }
  cases.push_back({"registered_tables", R"(["a.b",5])", "registered_tables[1] must be a string"});
  cases.push_back({"registered_tables", "[null]", "registered_tables[0] must be a string"});
  cases.push_back({"registered_table_specs", "[5]", "registered_table_specs[0] must be an object"});
  cases.push_back({"registered_table_specs", R"([{"table":"t"}])",
                   "registered_table_specs[0].schema is required"});
  cases.push_back({"registered_table_specs", R"([{"schema":"s"}])",
                   "registered_table_specs[0].table is required"});
  cases.push_back({"registered_table_specs", R"([{"schema":1,"table":"t"}])",
                   "registered_table_specs[0].schema must be a string"});
  cases.push_back({"registered_table_specs",
                   R"([{"schema":"s","table":"t","sync_key_columns":"id"}])",
                   "registered_table_specs[0].sync_key_columns must be an array"});
  cases.push_back({"registered_table_specs",
                   R"([{"schema":"s","table":"t","sync_key_columns":[1]}])",
                   "registered_table_specs[0].sync_key_columns[0] must be a string"});
  for (const char* bad : {"[]", "\"x\"", "5", "true"}) {
    cases.push_back({"features", bad, "features must be an object"});
    cases.push_back({"bundle_limits", bad, "bundle_limits must be an object"});
  }
  cases.push_back({"features", R"({"bundle_pull":true,"connect_lifecycle":1})",
                   "features.connect_lifecycle must be a boolean"});
  cases.push_back(
      {"features", R"({"bundle_pull":null})", "features.bundle_pull must be a boolean"});
  for (const char* limit :
       {"max_rows_per_bundle", "max_bytes_per_bundle", "max_bundles_per_pull",
        "default_rows_per_push_chunk", "max_rows_per_push_chunk", "push_session_ttl_seconds",
        "default_rows_per_committed_bundle_chunk", "max_rows_per_committed_bundle_chunk",
        "default_rows_per_snapshot_chunk", "max_rows_per_snapshot_chunk",
        "snapshot_session_ttl_seconds", "max_rows_per_snapshot_session",
        "max_bytes_per_snapshot_session", "initialization_lease_ttl_seconds"}) {
    for (const char* bad : {"1.5", "\"1\"", "true"}) {
      cases.push_back({"bundle_limits", "{\"" + std::string(limit) + "\":" + bad + "}",
                       "bundle_limits." + std::string(limit) + " must be an integer"});
    }
  }
  ExpectMemberErrors(
      decode, kPV, prefix,
      R"({"protocol_version":"v1","schema_version":1,"app_name":"a","registered_tables":["a.b"],"registered_table_specs":[{"schema":"a","table":"b","sync_key_columns":["id"]}],"features":{"connect_lifecycle":true},"bundle_limits":{"max_rows_per_push_chunk":5000}})",
      {"protocol_version"}, cases);
}

TEST(CapabilitiesResponseDecodeTest, OmittedMembersDecodeAsEmpty) {
  // protocol.md §3.12: omitted app_name / registered_tables / specs / zero limits.
  auto r = DecodeCapabilitiesResponse(
      R"({"protocol_version":"v1","schema_version":0,"features":{},"bundle_limits":{}})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->protocol_version, "v1");
  EXPECT_EQ(r->app_name, "");
  EXPECT_TRUE(r->registered_tables.empty());
  EXPECT_TRUE(r->registered_table_specs.empty());
  EXPECT_TRUE(r->features.empty());
  EXPECT_EQ(r->bundle_limits.max_rows_per_push_chunk, 0);
  r = DecodeCapabilitiesResponse(
      R"({"protocol_version":"v1","registered_table_specs":[{"schema":"public","table":"notes"}]})");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->registered_table_specs.size(), 1U);
  EXPECT_TRUE(r->registered_table_specs[0].sync_key_columns.empty());
}

TEST(StatusResponseDecodeTest, Errors) {
  // protocol.md §3.13 StatusResponse member types.
  const auto decode = [](std::string_view b) { return DecodeStatusResponse(b); };
  constexpr std::string_view prefix = "invalid status response";
  ExpectBodyErrors(decode, kPV, prefix);
  std::vector<TypeCase> cases =
      Concat({StringCases("status"), StringCases("version"), StringCases("app_name"),
              StringCases("lifecycle"), BoolCases("accepting_operations"),
              IntegerCases("inflight_operations")});
  cases.push_back({"registered_tables", "{}", "registered_tables must be an array"});
  cases.push_back({"registered_tables", "[1]", "registered_tables[0] must be a string"});
  cases.push_back({"features", "[]", "features must be an object"});
  cases.push_back(
      {"features", R"({"bundle_pull":"yes"})", "features.bundle_pull must be a boolean"});
  for (const char* counter :
       {"user_state_retention_floor_ahead_count", "latest_bundle_seq_max",
        "retained_bundle_floor_min", "retained_bundle_floor_max", "retained_bundle_window_min",
        "retained_bundle_window_max", "history_pruned_error_count", "accepted_push_replay_count",
        "rejected_registered_write_count", "committed_bundle_count", "committed_bundle_bytes"}) {
    for (TypeCase& c : IntegerCases(counter)) cases.push_back(std::move(c));
  }
  StatusResponse valid;
  valid.status = "healthy";
  valid.lifecycle = "running";
  ExpectMemberErrors(decode, kPV, prefix, EncodeStatusResponse(valid), {"status"}, cases);
}

// ---- round trips: encode -> decode for every response type ------------------------------------

TEST(ResponseRoundTripTest, Connect) {
  // protocol.md §3.1: all four resolutions survive encode/decode.
  const ConnectResponse cases[] = {
      {ConnectResolution::kRemoteAuthoritative, "", "", 0},
      {ConnectResolution::kInitializeEmpty, "", "", 0},
      {ConnectResolution::kInitializeLocal, "6df0d8dd-a84b-43b6-bbca-8de70432922a",
       "2026-03-22T12:00:00.123456789Z", 0},
      {ConnectResolution::kRetryLater, "", "2026-03-22T12:00:00.123456Z", 873},
  };
  for (const ConnectResponse& want : cases) {
    auto got = DecodeConnectResponse(EncodeConnectResponse(want));
    ASSERT_TRUE(got.has_value()) << got.error().ToString();
    EXPECT_EQ(got->resolution, want.resolution);
    EXPECT_EQ(got->initialization_id, want.initialization_id);
    EXPECT_EQ(got->lease_expires_at, want.lease_expires_at);
    EXPECT_EQ(got->retry_after_seconds, want.retry_after_seconds);
  }
}

TEST(ResponseRoundTripTest, PushSessionCreate) {
  // protocol.md §3.2: staging and already_committed.
  const PushSessionCreateResponse cases[] = {
      {PushSessionStatus::kStaging, std::string(kPushId), 3, 0, 0, "", 0, 0, "", ""},
      {PushSessionStatus::kAlreadyCommitted, "", 0, 0, 12, "dev-a", 4, 3, std::string(kHash), ""},
      {PushSessionStatus::kStaging, "p", 1, 2, 3, "s", 4, 5, "h", ""},
  };
  for (const PushSessionCreateResponse& want : cases) {
    auto got = DecodePushSessionCreateResponse(EncodePushSessionCreateResponse(want));
    ASSERT_TRUE(got.has_value()) << got.error().ToString();
    EXPECT_EQ(got->status, want.status);
    EXPECT_EQ(got->push_id, want.push_id);
    EXPECT_EQ(got->planned_row_count, want.planned_row_count);
    EXPECT_EQ(got->next_expected_row_ordinal, want.next_expected_row_ordinal);
    EXPECT_EQ(got->bundle_seq, want.bundle_seq);
    EXPECT_EQ(got->source_id, want.source_id);
    EXPECT_EQ(got->source_bundle_id, want.source_bundle_id);
    EXPECT_EQ(got->row_count, want.row_count);
    EXPECT_EQ(got->bundle_hash, want.bundle_hash);
  }
}

TEST(ResponseRoundTripTest, PushChunkAndCommit) {
  // protocol.md §3.3, §3.4.
  const PushChunkResponse chunk{std::string(kPushId), 2000};
  auto chunk_back = DecodePushChunkResponse(EncodePushChunkResponse(chunk));
  ASSERT_TRUE(chunk_back.has_value()) << chunk_back.error().ToString();
  EXPECT_EQ(chunk_back->push_id, chunk.push_id);
  EXPECT_EQ(chunk_back->next_expected_row_ordinal, 2000);

  const PushSessionCommitResponse commit{INT64_MAX, "dev-a", 7, 1, std::string(kHash), ""};
  auto commit_back = DecodePushSessionCommitResponse(EncodePushSessionCommitResponse(commit));
  ASSERT_TRUE(commit_back.has_value()) << commit_back.error().ToString();
  EXPECT_EQ(commit_back->bundle_seq, INT64_MAX);
  EXPECT_EQ(commit_back->source_id, "dev-a");
  EXPECT_EQ(commit_back->source_bundle_id, 7);
  EXPECT_EQ(commit_back->row_count, 1);
  EXPECT_EQ(commit_back->bundle_hash, kHash);
}

TEST(ResponseRoundTripTest, ErrorShapes) {
  // protocol.md §1.5: the three error shapes.
  ErrorResponse standard{"history_pruned",
                         "requested checkpoint 3 is older than retained history "
                         "floor 9 for user u<1>&",
                         "", "", std::nullopt, std::nullopt, std::nullopt};
  ErrorResponse retired{"source_retired", "m", "dev-a", "dev-b", std::nullopt, std::nullopt, std::nullopt};
  ErrorResponse conflict = ConflictExample();
  ErrorResponse deleted = ConflictExample();
  deleted.conflict->server_row.reset();
  deleted.conflict->server_row_deleted = true;
  for (const ErrorResponse& want : {standard, retired, conflict, deleted}) {
    auto got = DecodeErrorResponse(EncodeErrorResponse(want));
    ASSERT_TRUE(got.has_value()) << got.error().ToString();
    EXPECT_EQ(got->error, want.error);
    EXPECT_EQ(got->message, want.message);
    EXPECT_EQ(got->source_id, want.source_id);
    EXPECT_EQ(got->replaced_by_source_id, want.replaced_by_source_id);
    ASSERT_EQ(got->conflict.has_value(), want.conflict.has_value());
    if (!want.conflict) continue;
    const PushConflictDetails& g = *got->conflict;
    const PushConflictDetails& w = *want.conflict;
    EXPECT_EQ(g.schema, w.schema);
    EXPECT_EQ(g.table, w.table);
    EXPECT_EQ(ToJson(g.key), ToJson(w.key));
    EXPECT_EQ(g.op, w.op);
    EXPECT_EQ(g.base_row_version, w.base_row_version);
    EXPECT_EQ(g.server_row_version, w.server_row_version);
    EXPECT_EQ(g.server_row_deleted, w.server_row_deleted);
    EXPECT_EQ(ToJson(g.server_row), ToJson(w.server_row));
  }
}

void ExpectSameRows(const std::vector<BundleRow>& got, const std::vector<BundleRow>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].schema, want[i].schema) << i;
    EXPECT_EQ(got[i].table, want[i].table) << i;
    EXPECT_EQ(ToJson(got[i].key), ToJson(want[i].key)) << i;
    EXPECT_EQ(got[i].op, want[i].op) << i;
    EXPECT_EQ(got[i].row_version, want[i].row_version) << i;
    EXPECT_EQ(ToJson(got[i].payload), ToJson(want[i].payload)) << i;
  }
}

std::vector<BundleRow> MixedRows(std::int64_t row_version) {
  return {UserRow(Op::kInsert, row_version, kJohnPayload),
          UserRow(Op::kUpdate, row_version,
                  R"({"id":"550e8400-e29b-41d4-a716-446655440000","n":1e+21,"m":[1,{"x":null}]})"),
          UserRow(Op::kDelete, row_version, std::nullopt)};
}

TEST(ResponseRoundTripTest, CommittedBundleRows) {
  // protocol.md §3.6.
  CommittedBundleRowsResponse want;
  want.bundle_seq = 143;
  want.source_id = "dev-a";
  want.source_bundle_id = 7;
  want.row_count = 3;
  want.bundle_hash = std::string(kHash);
  want.rows = MixedRows(143);
  want.next_row_ordinal = 2;
  want.has_more = true;
  auto got = DecodeCommittedBundleRowsResponse(EncodeCommittedBundleRowsResponse(want));
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(got->bundle_seq, 143);
  EXPECT_EQ(got->source_id, "dev-a");
  EXPECT_EQ(got->source_bundle_id, 7);
  EXPECT_EQ(got->row_count, 3);
  EXPECT_EQ(got->bundle_hash, kHash);
  ExpectSameRows(got->rows, want.rows);
  EXPECT_EQ(got->next_row_ordinal, 2);
  EXPECT_TRUE(got->has_more);
}

TEST(ResponseRoundTripTest, Pull) {
  // protocol.md §3.7, including a bundle whose omitempty members are zero.
  PullResponse want;
  want.stable_bundle_seq = 156;
  want.bundles.push_back(Bundle{143, "dev-b", 18, 3, std::string(kHash), MixedRows(143), ""});
  want.bundles.push_back(Bundle{144, "dev-c", 1, 0, "", {UserRow(Op::kDelete, 144, std::nullopt)}, ""});
  want.has_more = true;
  auto got = DecodePullResponse(EncodePullResponse(want));
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(got->stable_bundle_seq, 156);
  EXPECT_TRUE(got->has_more);
  ASSERT_EQ(got->bundles.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(got->bundles[i].bundle_seq, want.bundles[i].bundle_seq);
    EXPECT_EQ(got->bundles[i].source_id, want.bundles[i].source_id);
    EXPECT_EQ(got->bundles[i].source_bundle_id, want.bundles[i].source_bundle_id);
    EXPECT_EQ(got->bundles[i].row_count, want.bundles[i].row_count);
    EXPECT_EQ(got->bundles[i].bundle_hash, want.bundles[i].bundle_hash);
    ExpectSameRows(got->bundles[i].rows, want.bundles[i].rows);
  }
  auto empty = DecodePullResponse(EncodePullResponse(PullResponse{}));
  ASSERT_TRUE(empty.has_value()) << empty.error().ToString();
  EXPECT_TRUE(empty->bundles.empty());
}

TEST(ResponseRoundTripTest, WatchEvent) {
  // protocol.md §3.8.
  for (const WatchEvent& want : {WatchEvent{124, "device-a", 7}, WatchEvent{5, "", 0}}) {
    auto got = DecodeWatchEvent(EncodeWatchEvent(want));
    ASSERT_TRUE(got.has_value()) << got.error().ToString();
    EXPECT_EQ(got->bundle_seq, want.bundle_seq);
    EXPECT_EQ(got->source_id, want.source_id);
    EXPECT_EQ(got->source_bundle_id, want.source_bundle_id);
  }
}

TEST(ResponseRoundTripTest, SnapshotSessionAndChunk) {
  // protocol.md §3.9, §3.10.
  for (const SnapshotSession& want : {SnapshotSession{std::string(kSnapshotId), 156, 124, 18240,
                                                      "2026-03-22T12:00:00.123456789Z"},
                                      SnapshotSession{"s", 0, 0, 0, "2026-03-22T12:00:00Z"}}) {
    auto got = DecodeSnapshotSession(EncodeSnapshotSession(want));
    ASSERT_TRUE(got.has_value()) << got.error().ToString();
    EXPECT_EQ(got->snapshot_id, want.snapshot_id);
    EXPECT_EQ(got->snapshot_bundle_seq, want.snapshot_bundle_seq);
    EXPECT_EQ(got->row_count, want.row_count);
    EXPECT_EQ(got->byte_count, want.byte_count);
    EXPECT_EQ(got->expires_at, want.expires_at);
  }

  SnapshotChunkResponse want;
  want.snapshot_id = std::string(kSnapshotId);
  want.snapshot_bundle_seq = 156;
  for (int i = 0; i < 3; ++i) {
    SnapshotRow row;
    row.schema = "business";
    row.table = i == 0 ? "docs" : "users";
    row.key = JsonValue::Object();
    row.key.Add(i == 0 ? "doc_id" : "id", JsonValue::String("k" + std::to_string(i)));
    row.row_version = 100 + i;
    row.payload = Json(R"({"price":1.50,"blob":"AAEC","nested":{"a":[true,null]}})");
    want.rows.push_back(std::move(row));
  }
  want.next_row_ordinal = 3;
  want.has_more = false;
  auto got = DecodeSnapshotChunkResponse(EncodeSnapshotChunkResponse(want));
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(got->snapshot_id, want.snapshot_id);
  EXPECT_EQ(got->snapshot_bundle_seq, 156);
  EXPECT_EQ(got->next_row_ordinal, 3);
  EXPECT_FALSE(got->has_more);
  ASSERT_EQ(got->rows.size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got->rows[i].schema, want.rows[i].schema);
    EXPECT_EQ(got->rows[i].table, want.rows[i].table);
    EXPECT_EQ(ToJson(got->rows[i].key), ToJson(want.rows[i].key));
    EXPECT_EQ(got->rows[i].row_version, want.rows[i].row_version);
    EXPECT_EQ(ToJson(got->rows[i].payload), ToJson(want.rows[i].payload));
  }
}

TEST(ResponseRoundTripTest, Capabilities) {
  // protocol.md §3.12.
  CapabilitiesResponse want;
  want.schema_version = 3;
  want.app_name = "demo";
  want.registered_tables = {"business.docs", "business.users"};
  want.registered_table_specs = {{"business", "docs", {"doc_id"}}, {"business", "users", {"id"}}};
  want.features = ReferenceFeatures();
  want.bundle_limits = DefaultLimits();
  want.bundle_limits.max_rows_per_bundle = 1;
  want.bundle_limits.max_bytes_per_bundle = 2;
  want.bundle_limits.max_rows_per_snapshot_session = 3;
  want.bundle_limits.max_bytes_per_snapshot_session = 4;
  auto got = DecodeCapabilitiesResponse(EncodeCapabilitiesResponse(want));
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(got->protocol_version, "v1");
  EXPECT_EQ(got->schema_version, 3);
  EXPECT_EQ(got->app_name, "demo");
  EXPECT_EQ(got->registered_tables, want.registered_tables);
  ASSERT_EQ(got->registered_table_specs.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(got->registered_table_specs[i].schema, want.registered_table_specs[i].schema);
    EXPECT_EQ(got->registered_table_specs[i].table, want.registered_table_specs[i].table);
    EXPECT_EQ(got->registered_table_specs[i].sync_key_columns,
              want.registered_table_specs[i].sync_key_columns);
  }
  EXPECT_EQ(got->features, want.features);
  const BundleLimits& g = got->bundle_limits;
  const BundleLimits& w = want.bundle_limits;
  EXPECT_EQ(g.max_rows_per_bundle, w.max_rows_per_bundle);
  EXPECT_EQ(g.max_bytes_per_bundle, w.max_bytes_per_bundle);
  EXPECT_EQ(g.max_bundles_per_pull, w.max_bundles_per_pull);
  EXPECT_EQ(g.default_rows_per_push_chunk, w.default_rows_per_push_chunk);
  EXPECT_EQ(g.max_rows_per_push_chunk, w.max_rows_per_push_chunk);
  EXPECT_EQ(g.push_session_ttl_seconds, w.push_session_ttl_seconds);
  EXPECT_EQ(g.default_rows_per_committed_bundle_chunk, w.default_rows_per_committed_bundle_chunk);
  EXPECT_EQ(g.max_rows_per_committed_bundle_chunk, w.max_rows_per_committed_bundle_chunk);
  EXPECT_EQ(g.default_rows_per_snapshot_chunk, w.default_rows_per_snapshot_chunk);
  EXPECT_EQ(g.max_rows_per_snapshot_chunk, w.max_rows_per_snapshot_chunk);
  EXPECT_EQ(g.snapshot_session_ttl_seconds, w.snapshot_session_ttl_seconds);
  EXPECT_EQ(g.max_rows_per_snapshot_session, w.max_rows_per_snapshot_session);
  EXPECT_EQ(g.max_bytes_per_snapshot_session, w.max_bytes_per_snapshot_session);
  EXPECT_EQ(g.initialization_lease_ttl_seconds, w.initialization_lease_ttl_seconds);
}

TEST(ResponseRoundTripTest, Status) {
  // protocol.md §3.13.
  StatusResponse want;
  want.status = "unhealthy";
  want.app_name = "demo";
  want.lifecycle = "closed";
  want.accepting_operations = false;
  want.inflight_operations = 4;
  want.registered_tables = {"business.users"};
  want.features = ReferenceFeatures();
  want.user_state_retention_floor_ahead_count = 1;
  want.latest_bundle_seq_max = 2;
  want.retained_bundle_floor_min = 3;
  want.retained_bundle_floor_max = 4;
  want.retained_bundle_window_min = 5;
  want.retained_bundle_window_max = 6;
  want.history_pruned_error_count = 7;
  want.accepted_push_replay_count = 0;
  want.rejected_registered_write_count = 9;
  want.committed_bundle_count = 10;
  want.committed_bundle_bytes = 11;
  auto got = DecodeStatusResponse(EncodeStatusResponse(want));
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(got->status, want.status);
  EXPECT_EQ(got->version, "v1");
  EXPECT_EQ(got->app_name, want.app_name);
  EXPECT_EQ(got->lifecycle, want.lifecycle);
  EXPECT_EQ(got->accepting_operations, want.accepting_operations);
  EXPECT_EQ(got->inflight_operations, want.inflight_operations);
  EXPECT_EQ(got->registered_tables, want.registered_tables);
  EXPECT_EQ(got->features, want.features);
  EXPECT_EQ(got->user_state_retention_floor_ahead_count, 1);
  EXPECT_EQ(got->latest_bundle_seq_max, 2);
  EXPECT_EQ(got->retained_bundle_floor_min, 3);
  EXPECT_EQ(got->retained_bundle_floor_max, 4);
  EXPECT_EQ(got->retained_bundle_window_min, 5);
  EXPECT_EQ(got->retained_bundle_window_max, 6);
  EXPECT_EQ(got->history_pruned_error_count, 7);
  EXPECT_EQ(got->accepted_push_replay_count, 0);
  EXPECT_EQ(got->rejected_registered_write_count, 9);
  EXPECT_EQ(got->committed_bundle_count, 10);
  EXPECT_EQ(got->committed_bundle_bytes, 11);
}

}  // namespace
}  // namespace oversync::protocol
