// The KMP pull/snapshot behaviour fixtures (tests/fixtures/oversqlite-contracts/pull-snapshot/
// behavior/apply.json, sqlitenow-kmp 26c5839): 10 cases that drive PullToStable / Rebuild
// through scripted pull pages and snapshot sessions and compare the checkpoint, the rebuild gate,
// the snapshot stage, the source rotation and the app tables (docs/kmp-fixtures.md).
//
// The client runs against the real profile-B reference server with the fixture's tables
// (capabilities and connect are the real server's); the pull pages, snapshot sessions and chunks
// a case scripts are its fixture answers, replayed by a transport in front of the server exactly
// as KMP's harness serves them (pull_snapshot_behavior_fixture_test.dart): most of them describe
// states a correct server cannot be driven into on demand (a stable sequence that moves
// mid-pull, a chunk that disagrees with its session, a 500 in the middle of a snapshot).
// Expected values: the fixture's generic keys (expectedState, expectedErrorContains), which
// describe validating snapshot payloads at the final apply as our client does; KMP's own
// overrides (expectedKmp*) describe its staging-time validation.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kmp_behavior_support.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/protocol/json_value.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

using protocol::JsonValue;

// The scripted answers of a case in front of the real server (see the file comment).
class ScriptedSnapshotTransport final : public KmpScriptTransport {
 public:
  using KmpScriptTransport::KmpScriptTransport;

  Result<HttpResponse> Send(const HttpRequest& request) override {
    const std::string path = FaultTransport::PathOf(request.url);
    std::unique_lock lock(mu_);
    if (request.method == "GET" && path == "/sync/pull") {
      if (kind_ == "pull_incremental_bundles") {
        if (pulls_++ == 0) return Answer(200, Json(*script_.Find("response")));
        return Exhausted();
      }
      if (kind_ == "pull_sequence") {
        const auto& responses = script_.Find("responses")->as_array();
        if (pulls_ < responses.size()) return Answer(200, Json(responses[pulls_++]));
        return Exhausted();
      }
    }
    if (kind_ == "snapshot_sequence") {
      if (request.method == "POST" && path == "/sync/snapshot-sessions") {
        const auto& sessions = script_.Find("sessions")->as_array();
        if (sessions_ < sessions.size()) return Answer(200, Json(sessions[sessions_++]));
        return Exhausted();
      }
      constexpr std::string_view kPrefix = "/sync/snapshot-sessions/";
      if (path.starts_with(kPrefix)) {
        const std::string snapshot_id = path.substr(kPrefix.size());
        if (request.method == "DELETE") return Answer(204, "");
        const JsonValue* by_session = script_.Find("chunks")->Find(snapshot_id);
        const JsonValue* chunk =
            by_session != nullptr ? by_session->Find(QueryValue(request.url, "after_row_ordinal"))
                                  : nullptr;
        if (chunk == nullptr) return Exhausted();
        if (const JsonValue* status = chunk->Find("status")) {
          return Answer(static_cast<int>(Int(status)), Json(*chunk->Find("body")));
        }
        return Answer(200, Json(*chunk));
      }
      if (request.method == "POST" && path == "/sync/push-sessions") {
        return Answer(400, ErrorBody("pending_work",
                                     "fixture keeps checkpoint recovery outbox pending"));
      }
    }
    lock.unlock();
    return inner_->Send(request);
  }


 private:
  static HttpResponse Exhausted() {
    return Answer(500, ErrorBody("fixture_exhausted", "no scripted answer left"));
  }
  // The value of query parameter `name` ("" when absent).
  static std::string QueryValue(const std::string& url, std::string_view name) {
    const std::size_t query = url.find('?');
    if (query == std::string::npos) return "";
    const std::string key = std::string(name) + "=";
    std::size_t at = query + 1;
    while (at < url.size()) {
      const std::size_t end = std::min(url.find('&', at), url.size());
      if (url.compare(at, key.size(), key) == 0) return url.substr(at + key.size(), end - at - key.size());
      at = end + 1;
    }
    return "";
  }

  std::mutex mu_;
  std::size_t pulls_ = 0;     // guarded by mu_
  std::size_t sessions_ = 0;  // guarded by mu_
};

// No recorded differences: the cases hold as written (generic expectations, see above).
constexpr std::array<KnownDifference, 0> kKnownDifferences{};

class KmpPullSnapshotBehaviorTest : public KmpBehaviorTest {
 protected:
  void RunCase(const JsonValue& fixture_case) override {
    const JsonValue* script = fixture_case.Find("serverScript");
    StartCase(fixture_case, [&](std::shared_ptr<Transport> curl) -> std::shared_ptr<Transport> {
      return std::make_shared<ScriptedSnapshotTransport>(
          std::move(curl), script != nullptr ? *script : JsonValue::Object());
    });
    if (HasFatalFailure() || IsSkipped()) return;

    int step_number = 0;
    for (const JsonValue& fixture_step : fixture_case.Find("steps")->as_array()) {
      SCOPED_TRACE(fmt::format("step {} ({})", ++step_number, Str(fixture_step.Find("action"))));
      const JsonValue step =
          EffectiveStep(kKnownDifferences, fixture_case, step_number, fixture_step);
      ASSERT_TRUE(LocalSql(step.Find("setupSql")).ok());
      source_before_step_ = Text("SELECT current_source_id FROM _sync_attachment_state");
      const std::string action = Str(step.Find("action"));
      Status outcome;
      if (action == "pullToStable") {
        Result<RemoteSyncReport> pulled = device_.client->PullToStable();
        if (!pulled.has_value()) outcome = pulled.error();
      } else if (action == "rebuild") {
        Result<RemoteSyncReport> rebuilt = device_.client->Rebuild();
        if (!rebuilt.has_value()) outcome = rebuilt.error();
      } else {
        FAIL() << "unsupported action " << action;
      }
      ExpectOutcome(Str(step.Find("expectedException"), "none"), outcome);
      // The Dart harness's message precedence (the generic profile, see the file comment).
      const JsonValue* contains = step.Find("expectedDartErrorContains");
      if (contains == nullptr) contains = step.Find("expectedErrorContains");
      if (contains != nullptr) {
        EXPECT_NE(outcome.ToString().find(contains->as_string()), std::string::npos)
            << "expected \"" << contains->as_string() << "\" in: " << outcome.ToString();
      }
      if (const JsonValue* blocked = step.Find("expectedCheckpointRecoveryBlocked")) {
        const ClientErrorDetail* detail = ClientErrorOf(outcome);
        ASSERT_NE(detail, nullptr) << outcome.ToString();
        EXPECT_EQ(detail->kind, ClientErrorKind::kCheckpointRecoveryBlocked) << outcome.ToString();
        EXPECT_EQ(detail->reason, Str(blocked->Find("reason")));
        EXPECT_EQ(detail->dirty_count, Int(blocked->Find("dirtyRowCount")));
        EXPECT_EQ(detail->outbound_count, Int(blocked->Find("outboxRowCount")));
        EXPECT_EQ(detail->replay_state, Str(blocked->Find("replayState")));
      }
      if (const JsonValue* state = step.Find("expectedState")) ExpectState(*state);
      if (const JsonValue* app = step.Find("expectedAppState")) ExpectAppState(*app);
    }
  }

};

TEST_F(KmpPullSnapshotBehaviorTest, ApplyFixtures) { RunFile("pull-snapshot/behavior/apply.json"); }

}  // namespace
}  // namespace oversync::oversqlite::testing
