// The shared client contract fixtures of go-oversync's current contract
// (tests/fixtures/oversqlite-contracts, copied from sqlitenow-kmp 26c5839) that describe how a
// client must treat a malformed server answer: pull-snapshot/basic.json's `pull-rejects-*` and
// `snapshot-rejects-*` cases. Each answer is injected in place of the real server's (a
// FaultTransport answer; the rest of the exchange is the real profile-B reference server), and
// the client must fail closed: the operation fails naming the problem with the fixture's
// message (the Go client's wording; expectedKmp* codes are KMP-internal and not compared) and
// nothing local changes. Schema "main" in the fixture rows is rewritten to the configured
// "business"; everything else is sent as written. (docs/wire-profiles.md lists which fixtures
// run where.)
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "client_fixture.h"
#include "kmp_behavior_support.h"
#include "oversync/oversqlite/client.h"
#include "oversync/protocol/jcs.h"
#include "oversync/protocol/json_value.h"
#include "oversync/server/config.h"

namespace oversync::oversqlite::testing {
namespace {

using protocol::JsonValue;

constexpr std::string_view kProfileB = "jcs_uniform_numeric_strings_v1";

// Rewrites every row's "schema":"main" to the configured schema, recursively.
void RewriteSchema(JsonValue& value) {
  if (value.is_array()) {
    for (JsonValue& item : value.mutable_array()) RewriteSchema(item);
  } else if (value.is_object()) {
    for (protocol::JsonMember& member : value.mutable_object()) {
      if (member.key == "schema" && member.value.is_string() && member.value.as_string() == "main") {
        member.value = JsonValue::String("business");
      } else {
        RewriteSchema(member.value);
      }
    }
  }
}

std::string Body(const JsonValue& fixture_value) {
  JsonValue copy = fixture_value;
  RewriteSchema(copy);
  std::string out;
  EXPECT_TRUE(protocol::AppendJcs(copy, out).ok());
  return out;
}

std::vector<JsonValue> CasesNamed(std::string_view prefix) {
  const JsonValue fixture = LoadFixture("pull-snapshot/basic.json");
  std::vector<JsonValue> cases;
  for (const JsonValue& item : fixture.Find("cases")->as_array()) {
    if (item.Find("name")->as_string().rfind(prefix, 0) == 0) cases.push_back(item);
  }
  return cases;
}

class KmpFixturesTest : public ClientFixture {
 protected:
  KmpFixturesTest() { file_prefix_ = "kmp_fixtures"; }

  TestServerOptions ServerOptions() override {
    TestServerOptions options;
    options.wire_profile = std::string(kProfileB);
    return options;
  }

  Device& Started() {
    Device& device = NewDevice();
    Start(device, [](Config& config) { config.wire_profile = std::string(kProfileB); });
    return device;
  }
};

TEST_F(KmpFixturesTest, MalformedPullAnswersFailClosed) {
  const std::vector<JsonValue> cases = CasesNamed("pull-rejects-");
  ASSERT_EQ(cases.size(), 4U);
  for (const JsonValue& fixture_case : cases) {
    const std::string name = fixture_case.Find("name")->as_string();
    SCOPED_TRACE(name);
    Device& device = Started();
    ASSERT_FALSE(HasFatalFailure());
    const auto after = static_cast<std::int64_t>(fixture_case.Find("afterBundleSeq")->as_number().value);
    device.Exec(fmt::format("UPDATE _sync_attachment_state SET last_bundle_seq_seen = {}", after));
    device.transport->FailNext("GET", "/sync/pull", 1, FaultKind::kHttpStatus, 200,
                               Body(*fixture_case.Find("pullResponse")));
    Result<RemoteSyncReport> pulled = device.client->PullToStable();
    ASSERT_FALSE(pulled.has_value()) << name;
    const std::string expected = fixture_case.Find("expectedPullErrorContains")->as_string();
    EXPECT_NE(pulled.error().message().find(expected), std::string::npos)
        << "expected \"" << expected << "\" in: " << pulled.error().ToString();
    EXPECT_EQ(device.Checkpoint(), after);
    EXPECT_EQ(device.Int("SELECT count(*) FROM users"), 0);
    EXPECT_EQ(device.Int("SELECT count(*) FROM _sync_row_state"), 0);
  }
}

TEST_F(KmpFixturesTest, MalformedSnapshotAnswersFailClosed) {
  const std::vector<JsonValue> cases = CasesNamed("snapshot-rejects-");
  ASSERT_EQ(cases.size(), 7U);
  for (const JsonValue& fixture_case : cases) {
    const std::string name = fixture_case.Find("name")->as_string();
    SCOPED_TRACE(name);
    Device& device = Started();
    ASSERT_FALSE(HasFatalFailure());
    device.transport->FailNext("POST", "/sync/snapshot-sessions", 1, FaultKind::kHttpStatus, 200,
                               Body(*fixture_case.Find("snapshotSession")));
    const JsonValue* chunk = fixture_case.Find("snapshotChunkResponse");
    if (chunk != nullptr) {
      device.transport->FailNext("GET", "/sync/snapshot-sessions/", 1, FaultKind::kHttpStatus, 200,
                                 Body(*chunk));
    }
    const std::int64_t checkpoint = device.Checkpoint();
    Result<RemoteSyncReport> rebuilt = device.client->Rebuild();
    ASSERT_FALSE(rebuilt.has_value()) << name;
    const JsonValue* expected_value = fixture_case.Find(chunk != nullptr
                                                            ? "expectedSnapshotChunkErrorContains"
                                                            : "expectedSnapshotSessionErrorContains");
    ASSERT_NE(expected_value, nullptr);
    const std::string expected = expected_value->as_string();
    EXPECT_NE(rebuilt.error().message().find(expected), std::string::npos)
        << "expected \"" << expected << "\" in: " << rebuilt.error().ToString();
    EXPECT_EQ(device.Checkpoint(), checkpoint);
    EXPECT_EQ(device.Int("SELECT count(*) FROM users"), 0);
    EXPECT_EQ(device.SnapshotStage(), 0);
  }
}

}  // namespace
}  // namespace oversync::oversqlite::testing
