// The KMP push behaviour fixtures (tests/fixtures/oversqlite-contracts/push/behavior/apply.json
// and recovery.json, from sqlitenow-kmp 26c5839): 19 cases that drive a client through
// pushPending / local SQL steps against a scripted server and compare the client's durable
// state (outbox, dirty rows, source sequence, checkpoint, rebuild gate), its app tables and what
// the server received.
//
// How they run here (docs/kmp-fixtures.md): the server is the real profile-B reference server
// with the fixture's tables registered in a PostgreSQL schema "main" (the fixtures' schema
// name), and the client is ours on a SQLite file with the fixture's DDL. KMP's fake server is
// replaced by a KmpPushScriptTransport in front of the real one that only injects what a script
// kind needs and the real server would not do on its own (a 500, a 404 committed_bundle_not_found,
// a 409 history_pruned or push_conflict, a wrong hash; an already_committed answer for rows the
// client never uploaded); everything else is the real exchange. KMP's script semantics are those
// of its Dart harness (test/support/behavior_fixture_support.dart, push_behavior_fixture_test.dart).
// The committed_bundle_seq_gap script is a real server-side write in the scope before the push,
// so the client's bundle really is 2.
//
// Expected states map one to one onto our Go-compatible metadata (the KMP harness reads the same
// tables: _sync_outbox_bundle.state, _sync_outbox_rows, _sync_dirty_rows, _sync_source_state,
// _sync_attachment_state, _sync_apply_state). Exceptions map onto our error kinds (ExpectOutcome).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/protocol/messages.h"
#include "oversync/server/config.h"
#include "oversync/server/sync_transaction.h"
#include "kmp_behavior_support.h"
#include "kmp_push_script_transport.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

using protocol::JsonValue;


// committed-replay-pruned-requires-rebuild: KMP stops with the rebuild gate set and the committed
// outbox kept until the app calls rebuild; our client (like go-oversync 1f1118f's, client.md §4.7,
// Go TestPushPending_CommittedRemoteReplayPrunedFallsBackToKeepSourceRebuild) runs that
// keep-source rebuild inside PushPending, ending where KMP ends after the app's rebuild.
constexpr KnownDifference kKnownDifferences[] = {
    {"committed-replay-pruned-requires-rebuild", 1, "none",
     R"({"rebuildRequired":false,"outboxState":"none","outboxRowCount":0,"dirtyRowCount":0,)"
     R"("nextSourceBundleId":2,"lastBundleSeqSeen":1})",
     R"({"users":[{"id":"user-1","name":"Ada"}]})"},
};

class KmpPushBehaviorTest : public KmpBehaviorTest {
 protected:
  void RunCase(const JsonValue& fixture_case) override {
    const JsonValue* script = fixture_case.Find("serverScript");
    StartCase(fixture_case, [&](std::shared_ptr<Transport> curl) {
      transport_ = std::make_shared<KmpPushScriptTransport>(
          std::move(curl), script != nullptr ? *script : JsonValue::Object());
      return transport_;
    });
    if (HasFatalFailure() || IsSkipped()) return;
    device_.client->SetResolver(ResolverNamed(Str(fixture_case.Find("resolver"), "server_wins")));
    ASSERT_TRUE(LocalSql(fixture_case.Find("localSetupSql")).ok());

    if (Str(script != nullptr ? script->Find("kind") : nullptr) == "committed_bundle_seq_gap") {
      // Another writer commits first, so the client's bundle gets the next sequence.
      const std::int64_t gap = Int(script->Find("bundleSeq"), 2);
      for (std::int64_t i = 1; i < gap; ++i) {
        Result<ScopeWriteResult> written = server_->service().ExecWrite(
            kKmpUser, "fixture-writer", [&](SyncTransaction& tx) -> Status {
              Result<SqlRows> rows = tx.Exec(fmt::format(
                  "INSERT INTO main.users (_sync_scope_id, id, name) VALUES ('{}', 'server-{}', 'S')",
                  kKmpUser, i));
              return rows.has_value() ? Status() : rows.error();
            });
        ASSERT_TRUE(written.has_value()) << written.error().ToString();
      }
    }

    int step_number = 0;
    for (const JsonValue& fixture_step : fixture_case.Find("steps")->as_array()) {
      SCOPED_TRACE(fmt::format("step {} ({})", ++step_number, Str(fixture_step.Find("action"))));
      const JsonValue step =
          EffectiveStep(kKnownDifferences, fixture_case, step_number, fixture_step);
      const std::string action = Str(step.Find("action"));
      Status outcome;
      if (action == "pushPending") {
        Result<PushReport> pushed = device_.client->PushPending();
        if (!pushed.has_value()) outcome = pushed.error();
      } else if (action == "localSql") {
        outcome = LocalSql(step.Find("sql"));
      } else {
        FAIL() << "unsupported action " << action;
      }
      ExpectOutcome(Str(step.Find("expectedException"), "none"), outcome);
      if (const JsonValue* state = step.Find("expectedState")) ExpectState(*state);
      if (const JsonValue* app = step.Find("expectedAppState")) ExpectAppState(*app);
      if (const JsonValue* server_state = step.Find("expectedServerState")) {
        if (const JsonValue* rows = server_state->Find("uploadedRows")) {
          std::vector<std::string> expected;
          for (const JsonValue& row : rows->as_array()) expected.push_back(row.as_string());
          EXPECT_EQ(transport_->uploaded(), expected) << "uploadedRows";
        }
        if (const JsonValue* count = server_state->Find("createRequestCount")) {
          EXPECT_EQ(transport_->creates(), Int(count)) << "createRequestCount";
        }
      }
    }
  }


  std::shared_ptr<KmpPushScriptTransport> transport_;
};

TEST_F(KmpPushBehaviorTest, ApplyFixtures) { RunFile("push/behavior/apply.json"); }

TEST_F(KmpPushBehaviorTest, RecoveryFixtures) { RunFile("push/behavior/recovery.json"); }

}  // namespace
}  // namespace oversync::oversqlite::testing
