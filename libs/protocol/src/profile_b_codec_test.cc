// Wire profile B message shapes (protocol-b.md §5, §6): the members profile B adds or makes
// mandatory, the structured error bodies, the snapshot row size unit, and the wire examples of
// the shared client fixtures (tests/fixtures/oversqlite-contracts: push/basic-insert.json,
// pull-snapshot/basic.json, watch/basic.json) decoded with the profile-B decoders.
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "oversync/protocol/codec.h"
#include "oversync/protocol/json_writer.h"

namespace oversync::protocol {
namespace {

constexpr WireProfileId kA = WireProfileId::kGoCanonicalV1;
constexpr WireProfileId kB = WireProfileId::kJcsUniformNumericStringsV1;
const std::string kHash(64, 'a');

JsonValue LoadFixture(const std::string& relative) {
  const std::string path = std::string(OVERSYNC_CONTRACT_FIXTURES_DIR) + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream text;
  text << in.rdbuf();
  Result<JsonValue> parsed = ParseJson(text.str());
  EXPECT_TRUE(parsed.has_value()) << path;
  return parsed.value_or(JsonValue::Object());
}

// A fixture member rendered back to JSON text (member order and number lexemes preserved).
std::string Text(const JsonValue& value) {
  std::string out;
  JsonWriter w(out);
  w.Value(value);
  return out;
}

const JsonValue& At(const JsonValue& object, std::string_view name) {
  const JsonValue* v = object.Find(name);
  EXPECT_NE(v, nullptr) << name;
  static const JsonValue kNull;
  return v != nullptr ? *v : kNull;
}

// ---- encoders ------------------------------------------------------------------------------

// protocol-b.md §5.3: canonical_request_hash sits between planned_row_count and
// initialization_id in the create request, and is echoed at the end of both create answers.
TEST(ProfileBEncodeTest, PushCreateCarriesTheRequestHash) {
  PushSessionCreateRequest request;
  request.source_bundle_id = 1;
  request.planned_row_count = 1;
  request.canonical_request_hash = kHash;
  request.initialization_id = "6df0d8dd-a84b-43b6-bbca-8de70432922a";
  EXPECT_EQ(EncodePushSessionCreateRequest(request),
            R"({"source_bundle_id":1,"planned_row_count":1,"canonical_request_hash":")" + kHash +
                R"(","initialization_id":"6df0d8dd-a84b-43b6-bbca-8de70432922a"})");
  PushSessionCreateResponse staging;
  staging.push_id = "0f8b6a4e-2c1d-4e5f-9a7b-1c2d3e4f5a6b";
  staging.planned_row_count = 1;
  staging.canonical_request_hash = kHash;
  EXPECT_EQ(EncodePushSessionCreateResponse(staging),
            R"({"push_id":"0f8b6a4e-2c1d-4e5f-9a7b-1c2d3e4f5a6b","status":"staging",)"
            R"("planned_row_count":1,"canonical_request_hash":")" + kHash + R"("})");
  PushSessionCommitResponse commit{143, "source-1", 7, 1, std::string(64, 'b'), kHash};
  EXPECT_EQ(EncodePushSessionCommitResponse(commit),
            R"({"bundle_seq":143,"source_id":"source-1","source_bundle_id":7,"row_count":1,)"
            R"("bundle_hash":")" + std::string(64, 'b') + R"(","canonical_request_hash":")" +
                kHash + R"("})");
  // Profile A bodies are unchanged when the member is empty.
  commit.canonical_request_hash.clear();
  EXPECT_EQ(EncodePushSessionCommitResponse(commit).find("canonical_request_hash"),
            std::string::npos);
}

// protocol-b.md §5.7: committed rows always carry the hash in B, never in A.
TEST(ProfileBEncodeTest, CommittedRowsHashIsAlwaysPresentInB) {
  CommittedBundleRowsResponse rows;
  rows.bundle_seq = 1;
  rows.source_id = "s";
  rows.source_bundle_id = 1;
  rows.bundle_hash = kHash;
  EXPECT_NE(EncodeCommittedBundleRowsResponse(rows, kB).find(R"("canonical_request_hash":"")"),
            std::string::npos);
  EXPECT_EQ(EncodeCommittedBundleRowsResponse(rows, kA).find("canonical_request_hash"),
            std::string::npos);
}

// protocol-b.md §5.8: pull bundles carry the hash only when non-empty.
TEST(ProfileBEncodeTest, PullBundleHashOnlyWhenNonEmpty) {
  PullResponse pull;
  pull.stable_bundle_seq = 2;
  Bundle first;
  first.bundle_seq = 1;
  first.source_id = "a";
  first.source_bundle_id = 1;
  first.canonical_request_hash = kHash;
  Bundle second = first;
  second.bundle_seq = 2;
  second.canonical_request_hash.clear();  // a server-originated write
  pull.bundles = {first, second};
  const std::string body = EncodePullResponse(pull);
  EXPECT_EQ(body,
            R"({"stable_bundle_seq":2,"bundles":[{"bundle_seq":1,"source_id":"a",)"
            R"("source_bundle_id":1,"canonical_request_hash":")" + kHash +
                R"(","rows":[]},{"bundle_seq":2,"source_id":"a","source_bundle_id":1,"rows":[]}],)"
                R"("has_more":false})");
  const PullResponse decoded = DecodePullResponse(body).value();
  EXPECT_EQ(decoded.bundles[0].canonical_request_hash, kHash);
  EXPECT_EQ(decoded.bundles[1].canonical_request_hash, "");
}

// protocol-b.md §5.10 / §5.11: byte_count always in B (0 included), and at the end of a chunk.
TEST(ProfileBEncodeTest, SnapshotByteCounts) {
  SnapshotSession empty{"snap", 3, 0, 0, "2099-01-01T00:00:00Z"};
  EXPECT_EQ(EncodeSnapshotSession(empty, kB),
            R"({"snapshot_id":"snap","snapshot_bundle_seq":3,"row_count":0,"byte_count":0,)"
            R"("expires_at":"2099-01-01T00:00:00Z"})");
  EXPECT_EQ(EncodeSnapshotSession(empty, kA).find("byte_count"), std::string::npos);
  SnapshotChunkResponse chunk;
  chunk.snapshot_id = "snap";
  chunk.snapshot_bundle_seq = 3;
  chunk.next_row_ordinal = 0;
  EXPECT_EQ(EncodeSnapshotChunkResponse(chunk, kB),
            R"({"snapshot_id":"snap","snapshot_bundle_seq":3,"rows":[],"next_row_ordinal":0,)"
            R"("has_more":false,"byte_count":0})");
  EXPECT_EQ(EncodeSnapshotChunkResponse(chunk, kA).find("byte_count"), std::string::npos);
}

// protocol-b.md §5.1: specs always present, the seven new limit members always present and in
// the example's order.
TEST(ProfileBEncodeTest, CapabilitiesShape) {
  CapabilitiesResponse caps;
  caps.schema_version = 1;
  caps.features = {{"connect_lifecycle", true}};
  caps.bundle_limits.max_rows_per_snapshot_session = 100000;
  caps.bundle_limits.initialization_lease_ttl_seconds = 600;
  caps.bundle_limits.default_bytes_per_snapshot_chunk = 4194304;
  caps.bundle_limits.max_bytes_per_snapshot_chunk = 16777216;
  caps.bundle_limits.max_bytes_per_snapshot_row = 4194304;
  caps.bundle_limits.snapshot_materialization_batch_rows = 512;
  caps.bundle_limits.snapshot_materialization_batch_bytes = 4194304;
  caps.bundle_limits.max_concurrent_snapshot_builds = 8;
  caps.bundle_limits.max_concurrent_snapshot_chunk_requests = 4;
  EXPECT_EQ(EncodeCapabilitiesResponse(caps, kB),
            R"({"protocol_version":"v1","schema_version":1,"registered_table_specs":[],)"
            R"("features":{"connect_lifecycle":true},"bundle_limits":{)"
            R"("max_rows_per_snapshot_session":100000,"default_bytes_per_snapshot_chunk":4194304,)"
            R"("max_bytes_per_snapshot_chunk":16777216,"max_bytes_per_snapshot_row":4194304,)"
            R"("snapshot_materialization_batch_rows":512,)"
            R"("snapshot_materialization_batch_bytes":4194304,"max_concurrent_snapshot_builds":8,)"
            R"("max_concurrent_snapshot_chunk_requests":4,"initialization_lease_ttl_seconds":600}})");
  const std::string a = EncodeCapabilitiesResponse(caps, kA);
  EXPECT_EQ(a.find("registered_table_specs"), std::string::npos);
  EXPECT_EQ(a.find("max_bytes_per_snapshot_row"), std::string::npos);
}

// protocol-b.md §6.1: the two structured error bodies round-trip.
TEST(ProfileBEncodeTest, StructuredErrorBodies) {
  ErrorResponse too_small;
  too_small.error = "snapshot_chunk_too_small";
  too_small.message = "max_bytes is too small for the next snapshot row; required_byte_count=4096";
  too_small.required_byte_count = 4096;
  const std::string a = EncodeErrorResponse(too_small);
  EXPECT_EQ(a, R"({"error":"snapshot_chunk_too_small","message":"max_bytes is too small for the )"
               R"(next snapshot row; required_byte_count=4096","required_byte_count":4096})");
  EXPECT_EQ(DecodeErrorResponse(a).value().required_byte_count, 4096);

  ErrorResponse limit;
  limit.error = "snapshot_session_limit_exceeded";
  limit.message = "snapshot session row_byte_count 5000 exceeds limit 128";
  limit.limit_exceeded = ErrorResponse::LimitExceeded{"row_byte_count", 5000, 128};
  const std::string b = EncodeErrorResponse(limit);
  EXPECT_EQ(b, R"({"error":"snapshot_session_limit_exceeded","message":"snapshot session )"
               R"(row_byte_count 5000 exceeds limit 128","dimension":"row_byte_count",)"
               R"("actual":5000,"limit":128})");
  const ErrorResponse back = DecodeErrorResponse(b).value();
  ASSERT_TRUE(back.limit_exceeded.has_value());
  EXPECT_EQ(back.limit_exceeded->dimension, "row_byte_count");
  EXPECT_EQ(back.limit_exceeded->actual, 5000);
  EXPECT_EQ(back.limit_exceeded->limit, 128);
  // KMP B's checks: actual > limit > 0, a known dimension, required_byte_count > 0.
  EXPECT_FALSE(DecodeErrorResponse(R"({"error":"snapshot_session_limit_exceeded","message":"m",)"
                                   R"("dimension":"row_count","actual":5,"limit":5})")
                   .has_value());
  EXPECT_FALSE(DecodeErrorResponse(R"({"error":"snapshot_session_limit_exceeded","message":"m",)"
                                   R"("dimension":"rows","actual":6,"limit":5})")
                   .has_value());
  EXPECT_FALSE(DecodeErrorResponse(R"({"error":"snapshot_chunk_too_small","message":"m"})")
                   .has_value());
}

// ---- identifiers --------------------------------------------------------------------------

// protocol-b.md §1.1 and §1.3.
TEST(ProfileBIdentifierTest, SourceIdAndUuidGrammars) {
  EXPECT_TRUE(IsValidSourceIdProfileB("device-a"));
  EXPECT_TRUE(IsValidSourceIdProfileB("oversync-adoption:00000000-0000-4000-8000-000000000001"));
  EXPECT_TRUE(IsValidSourceIdProfileB(std::string(256, '~')));
  EXPECT_FALSE(IsValidSourceIdProfileB(std::string(257, 'a')));
  EXPECT_FALSE(IsValidSourceIdProfileB(""));
  EXPECT_FALSE(IsValidSourceIdProfileB("a b"));
  EXPECT_FALSE(IsValidSourceIdProfileB(" a"));
  EXPECT_FALSE(IsValidSourceIdProfileB("caf\xC3\xA9"));
  EXPECT_FALSE(IsValidSourceIdProfileB("a\x7F"));
  EXPECT_TRUE(IsCanonicalUuid("6df0d8dd-a84b-43b6-bbca-8de70432922a"));
  EXPECT_FALSE(IsCanonicalUuid("6DF0D8DD-A84B-43B6-BBCA-8DE70432922A"));
  EXPECT_FALSE(IsCanonicalUuid("6df0d8dda84b43b6bbca8de70432922a"));
  EXPECT_FALSE(IsCanonicalUuid(" 6df0d8dd-a84b-43b6-bbca-8de70432922a"));
  EXPECT_FALSE(IsCanonicalUuid("6df0d8dd-a84b-43b6-bbca-8de70432922g"));
}

// protocol-b.md §1.3: profile B keeps initialization_id exactly as sent; A trims it.
TEST(ProfileBDecodeTest, PushCreateRequestTrimsOnlyInProfileA) {
  const std::string body =
      R"({"source_bundle_id":1,"planned_row_count":1,"canonical_request_hash":")" + kHash +
      R"(","initialization_id":" 6df0d8dd-a84b-43b6-bbca-8de70432922a "})";
  const PushSessionCreateRequest b = DecodePushSessionCreateRequest(body, nullptr, kB).value();
  EXPECT_EQ(b.initialization_id, " 6df0d8dd-a84b-43b6-bbca-8de70432922a ");
  EXPECT_EQ(b.canonical_request_hash, kHash);
  const PushSessionCreateRequest a = DecodePushSessionCreateRequest(body, nullptr, kA).value();
  EXPECT_EQ(a.initialization_id, "6df0d8dd-a84b-43b6-bbca-8de70432922a");
}

// ---- decoders against the shared fixtures ---------------------------------------------------

// push/basic-insert.json: every wire body of the happy path decodes with profile B and the
// echoed hashes arrive.
TEST(ProfileBFixtureDecodeTest, PushBasicInsert) {
  const JsonValue fixture = LoadFixture("push/basic-insert.json");
  int cases = 0;
  for (const JsonValue& c : At(fixture, "cases").as_array()) {
    SCOPED_TRACE(At(c, "name").as_string());
    if (const JsonValue* v = c.Find("pushSessionCreateRequest")) {
      const auto request = DecodePushSessionCreateRequest(Text(*v), nullptr, kB);
      ASSERT_TRUE(request.has_value()) << request.error().ToString();
      EXPECT_EQ(request->canonical_request_hash, At(*v, "canonical_request_hash").as_string());
    }
    if (const JsonValue* v = c.Find("pushSessionCreateResponse")) {
      const auto response = DecodePushSessionCreateResponse(Text(*v), nullptr, kB);
      ASSERT_TRUE(response.has_value()) << response.error().ToString();
      EXPECT_FALSE(response->canonical_request_hash.empty());
    }
    if (const JsonValue* v = c.Find("pushChunkRequest")) {
      ASSERT_TRUE(DecodePushChunkRequest(Text(*v)).has_value());
    }
    if (const JsonValue* v = c.Find("pushChunkResponse")) {
      ASSERT_TRUE(DecodePushChunkResponse(Text(*v)).has_value());
    }
    if (const JsonValue* v = c.Find("pushCommitResponse")) {
      const auto commit = DecodePushSessionCommitResponse(Text(*v), nullptr, kB);
      ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
      EXPECT_EQ(commit->canonical_request_hash, At(*v, "canonical_request_hash").as_string());
    }
    if (const JsonValue* v = c.Find("committedBundleRowsResponse")) {
      const auto rows = DecodeCommittedBundleRowsResponse(Text(*v), nullptr, kB);
      ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
      EXPECT_EQ(rows->canonical_request_hash, At(*v, "canonical_request_hash").as_string());
    }
    if (const JsonValue* v = c.Find("pushConflictResponse")) {
      const auto conflict = DecodeErrorResponse(Text(*v));
      ASSERT_TRUE(conflict.has_value());
      EXPECT_TRUE(conflict->conflict.has_value());
    }
    ++cases;
  }
  EXPECT_EQ(cases, 4);
}

// pull-snapshot/basic.json: pulls, sessions and chunks decode with profile B; every chunk's
// byte_count is the Go size of its rows (130, 115, 116, 110, 136 bytes); the decoder-level
// rejections (negative row_count, has_more without rows) fail.
TEST(ProfileBFixtureDecodeTest, PullSnapshotBasic) {
  const JsonValue fixture = LoadFixture("pull-snapshot/basic.json");
  int chunks_with_rows = 0;
  for (const JsonValue& c : At(fixture, "cases").as_array()) {
    const std::string& name = At(c, "name").as_string();
    SCOPED_TRACE(name);
    if (name == "snapshot-rejects-negative-row-count") {
      EXPECT_FALSE(DecodeSnapshotSession(Text(At(c, "snapshotSession")), nullptr, kB).has_value());
      continue;
    }
    if (name == "snapshot-rejects-has-more-with-empty-rows") {
      EXPECT_FALSE(DecodeSnapshotChunkResponse(Text(At(c, "snapshotChunkResponse")), nullptr, kB)
                       .has_value());
      continue;
    }
    if (const JsonValue* v = c.Find("pullResponse")) {
      ASSERT_TRUE(DecodePullResponse(Text(*v)).has_value());
    }
    for (const char* error_member :
         {"historyPrunedResponse", "checkpointAheadResponse", "sourceReplacementInvalidResponse"}) {
      if (const JsonValue* v = c.Find(error_member)) {
        const auto error = DecodeErrorResponse(Text(At(*v, "body")));
        ASSERT_TRUE(error.has_value());
        EXPECT_EQ(ErrorInfoFor(ErrorCodeFromWireName(error->error)).http_status,
                  At(*v, "status").as_number().value);
      }
    }
    if (const JsonValue* v = c.Find("snapshotSession");
        v != nullptr && name.rfind("snapshot-rejects-", 0) != 0) {
      const auto session = DecodeSnapshotSession(Text(*v), nullptr, kB);
      ASSERT_TRUE(session.has_value()) << session.error().ToString();
    }
    if (const JsonValue* v = c.Find("snapshotChunkResponse")) {
      const auto chunk = DecodeSnapshotChunkResponse(Text(*v), nullptr, kB);
      ASSERT_TRUE(chunk.has_value()) << chunk.error().ToString();
      std::int64_t sum = 0;
      for (const SnapshotRow& row : chunk->rows) sum += SnapshotRowWireSize(row);
      EXPECT_EQ(sum, chunk->byte_count);
      if (!chunk->rows.empty()) ++chunks_with_rows;
    }
  }
  EXPECT_EQ(chunks_with_rows, 6);
}

// watch/basic.json: the profile-B capabilities bodies decode; the watch feature is read.
TEST(ProfileBFixtureDecodeTest, WatchCapabilities) {
  const JsonValue fixture = LoadFixture("watch/basic.json");
  for (const JsonValue& c : At(fixture, "capabilitiesCases").as_array()) {
    SCOPED_TRACE(At(c, "name").as_string());
    const auto caps =
        DecodeCapabilitiesResponse(Text(At(At(c, "response"), "body")), nullptr, kB);
    ASSERT_TRUE(caps.has_value()) << caps.error().ToString();
    const auto it = caps->features.find("bundle_change_watch");
    EXPECT_EQ(it != caps->features.end() && it->second,
              At(c, "expectedBundleChangeWatchSupported").as_bool());
    EXPECT_EQ(caps->bundle_limits.max_concurrent_snapshot_builds, 2);
  }
}

// protocol-b.md §10 step 7 (206 bytes) and the V2-B row of §4.3 (301 bytes, Go escaping of <, >,
// & and U+2028 inside the payload).
TEST(ProfileBSnapshotRowSizeTest, SpecVectors) {
  SnapshotRow row;
  row.schema = "business";
  row.table = "users";
  row.key = ParseJson(R"({"id":"550e8400-e29b-41d4-a716-446655440000"})").value();
  row.row_version = 1;
  row.payload = ParseJson(R"({"id":"550e8400-e29b-41d4-a716-446655440000","name":"John Doe",)"
                          R"("email":"john@example.com"})")
                    .value();
  EXPECT_EQ(SnapshotRowWireSize(row), 206);
  row.row_version = 7;
  row.payload = ParseJson(
                    R"({"amount":"12.3000","big":"9007199254740993","data":"AAEC",)"
                    R"("id":"550e8400-e29b-41d4-a716-446655440000","name":"Tom & Jerry <3>\u2028",)"
                    R"("note":null,"ok":true,"score":"1.5"})")
                    .value();
  EXPECT_EQ(SnapshotRowWireSize(row), 301);
}

// ---- profile-B decoder strictness -----------------------------------------------------------

std::string CapsWith(std::string_view specs, std::string_view limits) {
  return std::string(R"({"protocol_version":"v1","schema_version":1,)") + std::string(specs) +
         R"("features":{},"bundle_limits":)" + std::string(limits) + "}";
}

constexpr std::string_view kGoodLimits =
    R"({"default_rows_per_snapshot_chunk":1000,"max_rows_per_snapshot_chunk":4000,)"
    R"("default_bytes_per_snapshot_chunk":4194304,"max_bytes_per_snapshot_chunk":16777216,)"
    R"("max_bytes_per_snapshot_row":4194304,"max_concurrent_snapshot_builds":2,)"
    R"("max_concurrent_snapshot_chunk_requests":8})";
constexpr std::string_view kGoodSpecs =
    R"("registered_table_specs":[{"schema":"main","table":"users","sync_key_columns":["id"]}],)";

// protocol-b.md §5.1: what profile-B clients refuse in capabilities.
TEST(ProfileBDecodeTest, CapabilitiesRequirements) {
  EXPECT_TRUE(DecodeCapabilitiesResponse(CapsWith(kGoodSpecs, kGoodLimits), nullptr, kB));
  EXPECT_TRUE(DecodeCapabilitiesResponse(CapsWith(R"("registered_table_specs":[],)", kGoodLimits),
                                         nullptr, kB));
  const std::string bad[] = {
      CapsWith("", kGoodLimits),                                   // specs missing
      CapsWith(R"("registered_table_specs":null,)", kGoodLimits),  // specs null
      CapsWith(R"("registered_table_specs":[{"schema":"main","table":"users","sync_key_columns":[]}],)",
               kGoodLimits),
      CapsWith(R"("registered_table_specs":[{"schema":"main","table":"users","sync_key_columns":["a","b"]}],)",
               kGoodLimits),
      CapsWith(R"("registered_table_specs":[{"schema":" ","table":"users","sync_key_columns":["id"]}],)",
               kGoodLimits),
      CapsWith(R"("registered_table_specs":[{"schema":"main","table":"users","sync_key_columns":["id"]},)"
               R"({"schema":"main","table":"users","sync_key_columns":["id"]}],)",
               kGoodLimits),
      CapsWith(kGoodSpecs, "null"),
      CapsWith(kGoodSpecs, R"({"default_rows_per_snapshot_chunk":1000})"),
      CapsWith(kGoodSpecs, R"({"default_rows_per_snapshot_chunk":1000,"max_rows_per_snapshot_chunk":4000,)"
                           R"("default_bytes_per_snapshot_chunk":4194304,"max_bytes_per_snapshot_chunk":16777216,)"
                           R"("max_bytes_per_snapshot_row":4194304,"max_concurrent_snapshot_builds":0,)"
                           R"("max_concurrent_snapshot_chunk_requests":8})"),
      CapsWith(kGoodSpecs, R"({"default_rows_per_snapshot_chunk":5000,"max_rows_per_snapshot_chunk":4000,)"
                           R"("default_bytes_per_snapshot_chunk":4194304,"max_bytes_per_snapshot_chunk":16777216,)"
                           R"("max_bytes_per_snapshot_row":4194304,"max_concurrent_snapshot_builds":2,)"
                           R"("max_concurrent_snapshot_chunk_requests":8})"),
      CapsWith(kGoodSpecs, R"({"default_rows_per_snapshot_chunk":1000,"max_rows_per_snapshot_chunk":4000,)"
                           R"("default_bytes_per_snapshot_chunk":4194304,"max_bytes_per_snapshot_chunk":16777216,)"
                           R"("max_bytes_per_snapshot_row":4194304,"max_concurrent_snapshot_builds":2,)"
                           R"("max_concurrent_snapshot_chunk_requests":8,"snapshot_materialization_batch_rows":null})"),
  };
  for (const std::string& body : bad) {
    EXPECT_FALSE(DecodeCapabilitiesResponse(body, nullptr, kB).has_value()) << body;
  }
  // Profile A stays lenient: no specs and no limits are fine.
  EXPECT_TRUE(DecodeCapabilitiesResponse(CapsWith("", "{}"), nullptr, kA).has_value());
}

TEST(ProfileBDecodeTest, PushAnswersRequireTheEchoedHash) {
  const std::string commit_without =
      R"({"bundle_seq":1,"source_id":"s","source_bundle_id":1,"row_count":1,"bundle_hash":"h"})";
  EXPECT_TRUE(DecodePushSessionCommitResponse(commit_without, nullptr, kA).has_value());
  EXPECT_FALSE(DecodePushSessionCommitResponse(commit_without, nullptr, kB).has_value());
  EXPECT_FALSE(DecodePushSessionCommitResponse(
                   R"({"bundle_seq":1,"source_id":"s","source_bundle_id":1,"row_count":1,)"
                   R"("bundle_hash":"h","canonical_request_hash":"ABC"})",
                   nullptr, kB)
                   .has_value());
  EXPECT_FALSE(
      DecodePushSessionCreateResponse(R"({"status":"staging","push_id":"p","planned_row_count":1})",
                                      nullptr, kB)
          .has_value());
  EXPECT_FALSE(DecodeCommittedBundleRowsResponse(
                   R"({"bundle_seq":1,"source_id":"s","source_bundle_id":1,"row_count":0,)"
                   R"("bundle_hash":"h","rows":[],"next_row_ordinal":0,"has_more":false})",
                   nullptr, kB)
                   .has_value());
}

TEST(ProfileBDecodeTest, SnapshotChunkIsStrict) {
  const std::string good =
      R"({"snapshot_id":"s","snapshot_bundle_seq":1,"rows":[{"schema":"main","table":"users",)"
      R"("key":{"id":"u"},"row_version":1,"payload":{"id":"u"}}],"next_row_ordinal":1,)"
      R"("has_more":false,"byte_count":85})";
  ASSERT_TRUE(DecodeSnapshotChunkResponse(good, nullptr, kB).has_value());
  const std::string bad[] = {
      // unknown chunk member
      R"({"snapshot_id":"s","snapshot_bundle_seq":1,"rows":[],"next_row_ordinal":0,)"
      R"("has_more":false,"byte_count":0,"extra":1})",
      // duplicate member
      R"({"snapshot_id":"s","snapshot_id":"s","snapshot_bundle_seq":1,"rows":[],)"
      R"("next_row_ordinal":0,"has_more":false,"byte_count":0})",
      // unknown row member
      R"({"snapshot_id":"s","snapshot_bundle_seq":1,"rows":[{"schema":"main","table":"users",)"
      R"("key":{"id":"u"},"row_version":1,"payload":{"id":"u"},"op":"INSERT"}],)"
      R"("next_row_ordinal":1,"has_more":false,"byte_count":85})",
      // byte_count missing, or non-zero without rows
      R"({"snapshot_id":"s","snapshot_bundle_seq":1,"rows":[],"next_row_ordinal":0,"has_more":false})",
      R"({"snapshot_id":"s","snapshot_bundle_seq":1,"rows":[],"next_row_ordinal":0,)"
      R"("has_more":false,"byte_count":5})",
  };
  for (const std::string& body : bad) {
    EXPECT_FALSE(DecodeSnapshotChunkResponse(body, nullptr, kB).has_value()) << body;
    // Profile A tolerates unknown members and the absent byte_count.
  }
  EXPECT_TRUE(DecodeSnapshotChunkResponse(bad[0], nullptr, kA).has_value());
  EXPECT_TRUE(DecodeSnapshotChunkResponse(bad[3], nullptr, kA).has_value());
}

// protocol-handshake/connect.json contractCases: the advertised table set must equal the
// client's (match / server-only / client-only / key mismatch / schema mismatch), and missing,
// null or duplicated metadata is an invalid capabilities answer.
TEST(ProfileBFixtureDecodeTest, HandshakeTableContract) {
  const JsonValue fixture = LoadFixture("protocol-handshake/connect.json");
  const auto specs_of = [](const JsonValue& array) {
    std::vector<RegisteredTableSpec> specs;
    for (const JsonValue& item : array.as_array()) {
      RegisteredTableSpec spec{At(item, "schema").as_string(), At(item, "table").as_string(), {}};
      for (const JsonValue& column : At(item, "sync_key_columns").as_array()) {
        spec.sync_key_columns.push_back(column.as_string());
      }
      specs.push_back(std::move(spec));
    }
    return specs;
  };
  const auto strings_of = [](const JsonValue& array) {
    std::vector<std::string> out;
    for (const JsonValue& item : array.as_array()) out.push_back(item.as_string());
    return out;
  };
  int cases = 0;
  for (const JsonValue& c : At(fixture, "contractCases").as_array()) {
    SCOPED_TRACE(At(c, "name").as_string());
    const std::string& kind = At(At(c, "expected"), "kind").as_string();
    const JsonValue* advertised = c.Find("advertised");
    // The capabilities body the server would send with this metadata.
    std::string body = R"({"protocol_version":"v1","schema_version":1,)";
    if (advertised != nullptr) body += R"("registered_table_specs":)" + Text(*advertised) + ",";
    body += R"("features":{"connect_lifecycle":true},"bundle_limits":)"
            R"({"default_rows_per_snapshot_chunk":1000,"max_rows_per_snapshot_chunk":4000,)"
            R"("default_bytes_per_snapshot_chunk":4194304,"max_bytes_per_snapshot_chunk":16777216,)"
            R"("max_bytes_per_snapshot_row":4194304,"max_concurrent_snapshot_builds":2,)"
            R"("max_concurrent_snapshot_chunk_requests":8}})";
    const auto caps = DecodeCapabilitiesResponse(body, nullptr, kB);
    ++cases;
    if (kind == "invalid") {
      EXPECT_FALSE(caps.has_value()) << body;
      continue;
    }
    ASSERT_TRUE(caps.has_value()) << caps.error().ToString();
    const TableSpecComparison compared =
        CompareTableSpecs(specs_of(At(c, "localSpecs")), caps->registered_table_specs);
    EXPECT_EQ(compared.match(), kind == "match");
    if (kind != "mismatch") continue;
    const JsonValue& expected = At(c, "expected");
    EXPECT_EQ(compared.server_only_tables, strings_of(At(expected, "serverOnlyTables")));
    EXPECT_EQ(compared.client_only_tables, strings_of(At(expected, "clientOnlyTables")));
    const JsonArray& mismatches = At(expected, "syncKeyMismatches").as_array();
    ASSERT_EQ(compared.sync_key_mismatches.size(), mismatches.size());
    for (std::size_t i = 0; i < mismatches.size(); ++i) {
      EXPECT_EQ(compared.sync_key_mismatches[i].qualified_table,
                At(mismatches[i], "qualifiedTable").as_string());
      EXPECT_EQ(compared.sync_key_mismatches[i].client_sync_key_columns,
                strings_of(At(mismatches[i], "clientSyncKeyColumns")));
      EXPECT_EQ(compared.sync_key_mismatches[i].server_sync_key_columns,
                strings_of(At(mismatches[i], "serverSyncKeyColumns")));
    }
  }
  EXPECT_EQ(cases, 9);
}

}  // namespace
}  // namespace oversync::protocol
