// The KMP runtime-state transition fixtures (tests/fixtures/oversqlite-contracts/runtime-state/
// transitions/basic.json, sqlitenow-kmp 26c5839; docs/kmp-fixtures.md): 8 cases — open, attach,
// an outbox frozen by a failed commit, a committed_remote outbox after a failed fetch, a clean
// push, a replay that keeps a newer local delete, a pull, and a persisted source-recovery gate
// surviving a new client — each step checked against a full dump of the client's _sync_* tables.
//
// How they run (the Dart harness, runtime_state_transition_fixture_test.dart, is the model): per
// case a real profile-B server with the fixture's `users` table in PostgreSQL schema "main" and a
// client on a new SQLite file; the push-side scripts (`precommit_retry`,
// `committed_replay_first_fetch_http_error`, `source_retired_on_push_create`) inject only their
// departure from a correct server in front of it (kmp_push_script_transport.h), and
// `pull_incremental_users` makes the response's bundles real server-originated writes (same
// source, same rows) just before the first pull, so the pull is the real server's answer. The
// dump and its comparison are the lifecycle fixtures' (kmp_behavior_support.h).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "kmp_behavior_support.h"
#include "kmp_push_script_transport.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/protocol/json_value.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

using protocol::JsonValue;

class KmpRuntimeStateBehaviorTest : public KmpBehaviorTest {
 protected:
  void RunCase(const JsonValue& fixture_case) override {
    Result<std::shared_ptr<Transport>> curl = PrepareCase(fixture_case, &script_);
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_TRUE(curl.has_value()) << curl.error().ToString();
    transport_ = std::make_shared<KmpPushScriptTransport>(*curl, script_);
    pulled_ = false;
    NewCaseClient();
    if (HasFatalFailure()) return;

    int step_number = 0;
    for (const JsonValue& step : fixture_case.Find("steps")->as_array()) {
      SCOPED_TRACE(fmt::format("step {} ({})", ++step_number, Str(step.Find("action"))));
      const Status outcome = RunStep(step);
      if (HasFatalFailure()) return;
      const std::string expected = Str(step.Find("expectedException"), "none");
      if (expected == "source_recovery_required") {
        EXPECT_EQ(ClientErrorKindOf(outcome), ClientErrorKind::kSourceRecoveryRequired)
            << outcome.ToString();
      } else {
        ExpectOutcome(expected, outcome);
      }
      ExpectRuntimeState(*step.Find("expectedState"));
    }
  }

  void NewCaseClient() {
    Result<std::unique_ptr<Client>> client = NewClient(path_, transport_);
    ASSERT_TRUE(client.has_value()) << client.error().ToString();
    device_.client = std::move(*client);
  }

  // The Dart harness's actions; `reopen` is close, a new client, open and attach.
  Status RunStep(const JsonValue& step) {
    const std::string action = Str(step.Find("action"));
    if (action == "open") return device_.client->Open();
    if (action == "attach") return ToStatus(device_.client->Attach(std::string(kKmpUser)));
    if (action == "localSql") return LocalSql(step.Find("sql"));
    if (action == "pushPending") return ToStatus(device_.client->PushPending());
    if (action == "pullToStable") {
      if (Str(script_.Find("kind")) == "pull_incremental_users" && !pulled_) {
        pulled_ = true;
        for (const JsonValue& bundle : script_.Find("response")->Find("bundles")->as_array()) {
          WriteUsersBundle(Str(bundle.Find("source_id")), bundle);
        }
      }
      return ToStatus(device_.client->PullToStable());
    }
    if (action == "reopen") {
      device_.client->Close();
      device_.client.reset();
      NewCaseClient();
      if (HasFatalFailure()) return {ErrorCode::kInternal, "client not created"};
      OVERSYNC_RETURN_IF_ERROR(device_.client->Open());
      return ToStatus(device_.client->Attach(std::string(kKmpUser)));
    }
    if (action == "sourceInfo") return ToStatus(device_.client->GetSourceInfo());
    ADD_FAILURE() << "unknown runtime-state action " << action;
    return {ErrorCode::kInternal, "unknown action"};
  }

  JsonValue script_ = JsonValue::Object();
  std::shared_ptr<KmpPushScriptTransport> transport_;
  bool pulled_ = false;
};

TEST_F(KmpRuntimeStateBehaviorTest, Transitions) {
  RunFile("runtime-state/transitions/basic.json");
}

}  // namespace
}  // namespace oversync::oversqlite::testing
