// The KMP lifecycle behaviour fixtures (tests/fixtures/oversqlite-contracts/lifecycle/behavior/
// basic.json, protocol-gates.json and source-recovery-replacement.json; sqlitenow-kmp 26c5839;
// docs/kmp-fixtures.md): 15 cases of open / attach / syncThenDetach / detach / rebuild / restart
// sequences, each step checked against a full dump of the client's _sync_* tables, the step's
// result and what the server saw.
//
// How they run (the Dart harness, lifecycle_behavior_fixture_test.dart, is the model): per case a
// real profile-B reference server with the fixture's `users` table in PostgreSQL schema "main", a
// client on a new SQLite file, and a transport in front of the server that plays only what the
// case's script describes beyond a correct server:
//   * `protocolVersions`: the protocol_version of the Nth capabilities answer (a server that
//     changed protocol between two requests);
//   * `connectResolution`: the connect answer (the scope's authority belongs to another device);
//   * `lateWritesByPull`: SQL run on the device file (another connection, like the app) when the
//     Nth pull arrives, before it is answered;
//   * `snapshots` / `snapshotSessionErrors`: the snapshot sessions, chunks (with
//     `failAfterRowOrdinal` and `rowsPerChunk`) and session errors, rendered with our profile-B
//     encoders; pulls are then answered as the Dart harness does (the last committed bundle is
//     stable, no bundles), since the scripted snapshots are not on the server.
// Everything else (capabilities, connect, push sessions, committed rows, pulls in the other
// cases) is the real server. The dump has KMP's shape (runtime_state_fixture_support.dart):
// tables in its order and row order, timestamps and hashes masked, source ids numbered by first
// appearance per dump; the three columns KMP's layout has and ours does not
// (operation_state.snapshot_byte_count / snapshot_stage_complete,
// outbox_bundle.canonical_json_contract) are not compared.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kmp_behavior_support.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/jcs.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/messages.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

using protocol::JsonValue;

// The value of query parameter `name` of `url`, or `fallback`.
std::int64_t QueryInt(const std::string& url, std::string_view name, std::int64_t fallback) {
  const std::size_t query = url.find('?');
  if (query == std::string::npos) return fallback;
  const std::string key = std::string(name) + "=";
  std::size_t at = query + 1;
  while (at < url.size()) {
    const std::size_t end = std::min(url.find('&', at), url.size());
    if (url.compare(at, key.size(), key) == 0) {
      return std::stoll(url.substr(at + key.size(), end - at - key.size()));
    }
    at = end + 1;
  }
  return fallback;
}

// Runs `statements` in one transaction on a separate connection to `path` (the application
// writing while the client works).
void ExecOnOwnConnection(const std::string& path, const JsonValue& statements) {
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  sqlite3_busy_timeout(db.get(), 5000);
  std::string script = "BEGIN IMMEDIATE; PRAGMA defer_foreign_keys = ON;";
  for (const JsonValue& sql : statements.as_array()) script += sql.as_string() + ";";
  script += "COMMIT;";
  char* error = nullptr;
  const int rc = sqlite3_exec(db.get(), script.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  EXPECT_EQ(rc, SQLITE_OK) << message;
}

// The case's server script in front of the real server (see the file comment).
class LifecycleTransport final : public KmpScriptTransport {
 public:
  LifecycleTransport(std::shared_ptr<Transport> inner, JsonValue script, std::string db_path)
      : KmpScriptTransport(std::move(inner), std::move(script)), db_path_(std::move(db_path)) {
    scripted_snapshots_ =
        script_.Find("snapshots") != nullptr || script_.Find("snapshotSessionErrors") != nullptr;
  }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    const std::string path = FaultTransport::PathOf(request.url);
    if (request.method == "GET" && path == "/sync/capabilities") return Capabilities(request);
    if (request.method == "POST" && path == "/sync/connect") {
      const std::string resolution = Str(script_.Find("connectResolution"), "default");
      if (resolution != "default") {
        return Answer(200, fmt::format(R"({{"resolution":"{}"}})", resolution));
      }
      return inner_->Send(request);
    }
    if (request.method == "POST" && path == "/sync/push-sessions") {
      Result<JsonValue> body = protocol::ParseJson(request.body);
      std::lock_guard lock(mu_);
      create_source_bundle_ids_.push_back(
          body.has_value() ? Int(body->Find("source_bundle_id"), -1) : -1);
    }
    if (request.method == "POST" && path.starts_with("/sync/push-sessions/") &&
        path.ends_with("/commit")) {
      Result<HttpResponse> response = inner_->Send(request);
      if (response.has_value() && response->status == 200) {
        Result<JsonValue> body = protocol::ParseJson(response->body);
        std::lock_guard lock(mu_);
        if (body.has_value()) stable_bundle_seq_ = Int(body->Find("bundle_seq"), stable_bundle_seq_);
      }
      return response;
    }
    if (request.method == "GET" && path == "/sync/pull") return Pull(request);
    if (path == "/sync/snapshot-sessions" && request.method == "POST") return CreateSnapshot(request);
    constexpr std::string_view kSnapshotPrefix = "/sync/snapshot-sessions/";
    if (path.starts_with(kSnapshotPrefix)) {
      if (request.method == "DELETE") {
        {
          std::lock_guard lock(mu_);
          ++snapshot_retirements_;
        }
        if (scripted_snapshots_) return Answer(204, "");
        return inner_->Send(request);
      }
      if (scripted_snapshots_ && request.method == "GET") {
        return SnapshotChunk(path.substr(kSnapshotPrefix.size()), request.url);
      }
    }
    return inner_->Send(request);
  }

  std::vector<std::int64_t> CreateSourceBundleIds() const {
    std::lock_guard lock(mu_);
    return create_source_bundle_ids_;
  }
  int SnapshotSessionCreates() const {
    std::lock_guard lock(mu_);
    return snapshot_session_creates_;
  }
  int SuccessfulSnapshotSessions() const {
    std::lock_guard lock(mu_);
    return successful_snapshot_sessions_;
  }
  int SnapshotRetirements() const {
    std::lock_guard lock(mu_);
    return snapshot_retirements_;
  }
  std::vector<std::string> ReplacementRequests() const {
    std::lock_guard lock(mu_);
    return replacement_requests_;
  }

 private:
  Result<HttpResponse> Capabilities(const HttpRequest& request) {
    std::string version = "v1";
    if (const JsonValue* versions = script_.Find("protocolVersions")) {
      std::lock_guard lock(mu_);
      const auto& list = versions->as_array();
      version = list[std::min(capability_requests_, list.size() - 1)].as_string();
      ++capability_requests_;
    }
    Result<HttpResponse> response = inner_->Send(request);
    if (response.has_value() && response->status == 200 && version != "v1") {
      const std::string from = R"("protocol_version":"v1")";
      const std::size_t at = response->body.find(from);
      EXPECT_NE(at, std::string::npos) << response->body;
      if (at != std::string::npos) {
        response->body.replace(at, from.size(), fmt::format(R"("protocol_version":"{}")", version));
      }
    }
    return response;
  }

  Result<HttpResponse> Pull(const HttpRequest& request) {
    const JsonValue* late = nullptr;
    std::int64_t stable = 0;
    {
      std::lock_guard lock(mu_);
      if (const JsonValue* by_pull = script_.Find("lateWritesByPull");
          by_pull != nullptr && pulls_ < by_pull->as_array().size()) {
        late = &by_pull->as_array()[pulls_];
      }
      ++pulls_;
      stable = stable_bundle_seq_;
    }
    if (late != nullptr) ExecOnOwnConnection(db_path_, *late);
    if (!scripted_snapshots_) return inner_->Send(request);
    protocol::PullResponse pull;
    pull.stable_bundle_seq = stable;
    return Answer(200, protocol::EncodePullResponse(pull));
  }

  Result<HttpResponse> CreateSnapshot(const HttpRequest& request) {
    std::string replacement;
    if (Result<JsonValue> body = protocol::ParseJson(request.body.empty() ? std::string("{}") : request.body);
        body.has_value() && body->is_object()) {
      if (const JsonValue* r = body->Find("source_replacement"); r != nullptr && r->is_object()) {
        replacement = Canonical(*r);
      }
    }
    std::unique_lock lock(mu_);
    ++snapshot_session_creates_;
    replacement_requests_.push_back(replacement);
    if (!scripted_snapshots_) {
      lock.unlock();
      Result<HttpResponse> response = inner_->Send(request);
      if (response.has_value() && response->status == 200) {
        lock.lock();
        ++successful_snapshot_sessions_;
      }
      return response;
    }
    const JsonValue* errors = script_.Find("snapshotSessionErrors");
    if (errors != nullptr && next_snapshot_ < errors->as_array().size()) {
      const JsonValue& error = errors->as_array()[next_snapshot_++];
      JsonValue body = JsonValue::Object();
      body.Add("error", JsonValue::String(Str(error.Find("error"))));
      body.Add("message", JsonValue::String(Str(error.Find("message"))));
      body.Add("source_id", JsonValue::String(Str(error.Find("sourceId"), "current-source")));
      if (const JsonValue* replaced = error.Find("replacedBySourceId")) {
        body.Add("replaced_by_source_id", *replaced);
      }
      return Answer(static_cast<int>(Int(error.Find("status"), 409)), Json(body));
    }
    const auto& snapshots = script_.Find("snapshots")->as_array();
    const JsonValue& snapshot = snapshots[std::min(next_snapshot_, snapshots.size() - 1)];
    ++next_snapshot_;
    ++successful_snapshot_sessions_;
    protocol::SnapshotSession session;
    session.snapshot_id = Str(snapshot.Find("id"));
    session.snapshot_bundle_seq = Int(snapshot.Find("bundleSeq"));
    const std::vector<protocol::SnapshotRow> rows = WireRows(snapshot);
    session.row_count = static_cast<std::int64_t>(rows.size());
    for (const protocol::SnapshotRow& row : rows) session.byte_count += protocol::SnapshotRowWireSize(row);
    session.expires_at = "2099-01-01T00:00:00Z";
    return Answer(200, protocol::EncodeSnapshotSession(
                           session, protocol::WireProfileId::kJcsUniformNumericStringsV1));
  }

  Result<HttpResponse> SnapshotChunk(const std::string& snapshot_id, const std::string& url) {
    const JsonValue* snapshot = nullptr;
    for (const JsonValue& s : script_.Find("snapshots")->as_array()) {
      if (Str(s.Find("id")) == snapshot_id) snapshot = &s;
    }
    if (snapshot == nullptr) return Answer(404, ErrorBody("not_found", snapshot_id));
    const std::int64_t after = QueryInt(url, "after_row_ordinal", 0);
    if (const JsonValue* fail = snapshot->Find("failAfterRowOrdinal");
        fail != nullptr && Int(fail) == after) {
      return Answer(500, ErrorBody("snapshot_failed", "forced snapshot failure"));
    }
    std::int64_t limit = QueryInt(url, "max_rows", 1000);
    if (const JsonValue* per_chunk = snapshot->Find("rowsPerChunk")) {
      limit = std::min(limit, Int(per_chunk));
    }
    const std::vector<protocol::SnapshotRow> all = WireRows(*snapshot);
    protocol::SnapshotChunkResponse chunk;
    chunk.snapshot_id = snapshot_id;
    chunk.snapshot_bundle_seq = Int(snapshot->Find("bundleSeq"));
    for (std::int64_t i = after; i < static_cast<std::int64_t>(all.size()) && i < after + limit; ++i) {
      chunk.rows.push_back(all[static_cast<std::size_t>(i)]);
      chunk.byte_count += protocol::SnapshotRowWireSize(chunk.rows.back());
    }
    chunk.next_row_ordinal = after + static_cast<std::int64_t>(chunk.rows.size());
    chunk.has_more = chunk.next_row_ordinal < static_cast<std::int64_t>(all.size());
    return Answer(200, protocol::EncodeSnapshotChunkResponse(
                           chunk, protocol::WireProfileId::kJcsUniformNumericStringsV1));
  }

  static std::vector<protocol::SnapshotRow> WireRows(const JsonValue& snapshot) {
    std::vector<protocol::SnapshotRow> rows;
    for (const JsonValue& row : snapshot.Find("rows")->as_array()) {
      protocol::SnapshotRow wire;
      wire.schema = "main";
      wire.table = "users";
      wire.key = *row.Find("key");
      wire.row_version = Int(row.Find("rowVersion"));
      wire.payload = *row.Find("payload");
      rows.push_back(std::move(wire));
    }
    return rows;
  }

  const std::string db_path_;
  bool scripted_snapshots_ = false;
  mutable std::mutex mu_;
  std::size_t capability_requests_ = 0;               // guarded by mu_
  std::size_t pulls_ = 0;                             // guarded by mu_
  std::int64_t stable_bundle_seq_ = 0;                // guarded by mu_
  std::size_t next_snapshot_ = 0;                     // guarded by mu_
  std::vector<std::int64_t> create_source_bundle_ids_;  // guarded by mu_
  int snapshot_session_creates_ = 0;                  // guarded by mu_
  int successful_snapshot_sessions_ = 0;              // guarded by mu_
  int snapshot_retirements_ = 0;                      // guarded by mu_
  std::vector<std::string> replacement_requests_;     // guarded by mu_
};

// Recorded differences: none (every case holds as written).
constexpr std::array<KnownDifference, 0> kKnownDifferences{};

class KmpLifecycleBehaviorTest : public KmpBehaviorTest {
 protected:
  void RunCase(const JsonValue& fixture_case) override {
    JsonValue script = JsonValue::Object();
    Result<std::shared_ptr<Transport>> curl = PrepareCase(fixture_case, &script);
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_TRUE(curl.has_value()) << curl.error().ToString();
    transport_ = std::make_shared<LifecycleTransport>(*curl, script, path_);
    NewCaseClient();
    if (HasFatalFailure()) return;

    const std::string name = Str(fixture_case.Find("name"));
    int step_number = 0;
    for (const JsonValue& fixture_step : fixture_case.Find("steps")->as_array()) {
      SCOPED_TRACE(fmt::format("step {} ({})", ++step_number, Str(fixture_step.Find("action"))));
      const JsonValue step = EffectiveStep(kKnownDifferences, fixture_case, step_number, fixture_step);
      JsonValue result = JsonValue::Null();
      const Status outcome = RunStep(step, result);
      if (HasFatalFailure()) return;
      ExpectLifecycleOutcome(Str(step.Find("expectedException"), "none"), outcome);
      if (const JsonValue* expected = step.Find("expectedResult")) {
        EXPECT_EQ(Canonical(result), Canonical(*expected)) << "result";
      }
      if (const JsonValue* expected = step.Find("expectedServerState")) {
        ExpectServerState(*expected);
      }
      ExpectRuntimeState(*step.Find("expectedState"));
      // Every snapshot session that was opened is retired (Dart's harness checks this too).
      EXPECT_EQ(transport_->SnapshotRetirements(), transport_->SuccessfulSnapshotSessions())
          << "snapshot retirement";
    }
  }

  void NewCaseClient() {
    Result<std::unique_ptr<Client>> client = NewClient(path_, transport_);
    ASSERT_TRUE(client.has_value()) << client.error().ToString();
    device_.client = std::move(*client);
  }

  // The step's action (the Dart harness's _runStep); `result` gets its result object.
  Status RunStep(const JsonValue& step, JsonValue& result) {
    const std::string action = Str(step.Find("action"));
    Client& client = *device_.client;
    if (action == "open") return client.Open();
    if (action == "reopenOpen") {
      device_.client->Close();
      device_.client.reset();
      NewCaseClient();
      if (HasFatalFailure()) return {ErrorCode::kInternal, "client not created"};
      return device_.client->Open();
    }
    if (action == "localSql") return LocalSql(step.Find("sql"));
    if (action == "applyModeSql") return LocalSql(step.Find("sql"), true);
    if (action == "attach") {
      Result<AttachResult> attached = client.Attach(std::string(kKmpUser));
      if (!attached) return attached.error();
      result = JsonValue::Object();
      if (attached->status == AttachStatus::kRetryLater) {
        result.Add("kind", JsonValue::String("attach_retry_later"));
        result.Add("retryAfterSeconds", JsonValue::Integer(attached->retry_after.count() / 1000));
      } else {
        result.Add("kind", JsonValue::String("attach"));
        result.Add("outcome", JsonValue::String(std::string(AttachOutcomeName(attached->outcome))));
      }
      return {};
    }
    if (action == "sync") {
      Result<SyncReport> synced = client.Sync();
      if (!synced) return synced.error();
      result = JsonValue::Object();
      result.Add("kind", JsonValue::String("sync"));
      result.Add("pushOutcome", JsonValue::String(std::string(PushOutcomeName(synced->push_outcome))));
      result.Add("remoteOutcome",
                 JsonValue::String(std::string(RemoteSyncOutcomeName(synced->remote_outcome))));
      return {};
    }
    if (action == "syncThenDetach") {
      Result<SyncThenDetachResult> done = client.SyncThenDetach();
      if (!done) return done.error();
      result = JsonValue::Object();
      result.Add("kind", JsonValue::String("sync_then_detach"));
      result.Add("isSuccess", JsonValue::Bool(done->IsSuccess()));
      result.Add("detach", JsonValue::String(DetachName(done->detach.outcome)));
      result.Add("syncRounds", JsonValue::Integer(done->sync_rounds));
      result.Add("remainingPendingRowCount", JsonValue::Integer(done->remaining_pending_row_count));
      result.Add("pushOutcome",
                 JsonValue::String(std::string(PushOutcomeName(done->last_sync.push_outcome))));
      result.Add("remoteOutcome", JsonValue::String(std::string(
                                      RemoteSyncOutcomeName(done->last_sync.remote_outcome))));
      return {};
    }
    if (action == "rebuild") {
      Result<RemoteSyncReport> rebuilt = client.Rebuild();
      if (!rebuilt) return rebuilt.error();
      result = JsonValue::Object();
      result.Add("kind", JsonValue::String("remote_sync"));
      result.Add("outcome", JsonValue::String(std::string(RemoteSyncOutcomeName(rebuilt->outcome))));
      return {};
    }
    if (action == "detach") {
      Result<DetachResult> detached = client.Detach();
      if (!detached) return detached.error();
      result = JsonValue::Object();
      result.Add("kind", JsonValue::String("detach"));
      result.Add("outcome", JsonValue::String(DetachName(detached->outcome)));
      return {};
    }
    if (action == "sourceInfo") {
      Result<SourceInfo> info = client.GetSourceInfo();
      if (!info) return info.error();
      result = JsonValue::Object();
      result.Add("kind", JsonValue::String("source_info"));
      result.Add("currentSourceIdPresent", JsonValue::Bool(!info->current_source_id.empty()));
      result.Add("rebuildRequired", JsonValue::Bool(info->rebuild_required));
      result.Add("sourceRecoveryRequired", JsonValue::Bool(info->source_recovery_required));
      if (info->source_recovery_reason.has_value()) {
        result.Add("sourceRecoveryReason", JsonValue::String(std::string(
                                               SourceRecoveryCodeName(*info->source_recovery_reason))));
      }
      return {};
    }
    ADD_FAILURE() << "unknown lifecycle action " << action;
    return {ErrorCode::kInternal, "unknown action"};
  }

  static std::string DetachName(DetachOutcome outcome) {
    return outcome == DetachOutcome::kDetached ? "detached" : "blocked_unsynced_data";
  }

  // The lifecycle harness's exception classes beyond the shared ones.
  static void ExpectLifecycleOutcome(const std::string& expected, const Status& status) {
    const ClientErrorKind kind = ClientErrorKindOf(status);
    const ClientErrorDetail* detail = ClientErrorOf(status);
    if (expected == "source_recovery_required") {
      EXPECT_EQ(kind, ClientErrorKind::kSourceRecoveryRequired) << status.ToString();
    } else if (expected == "source_replacement_diverged") {
      EXPECT_EQ(kind, ClientErrorKind::kSourceReplacementDiverged) << status.ToString();
    } else if (expected == "source_replacement_invalid") {
      EXPECT_TRUE(detail != nullptr && detail->error_code == "source_replacement_invalid")
          << status.ToString();
    } else if (expected == "protocol_version_mismatch") {
      EXPECT_EQ(kind, ClientErrorKind::kProtocolVersionMismatch) << status.ToString();
    } else if (expected == "invalid_source_recovery_reason") {
      EXPECT_EQ(kind, ClientErrorKind::kInvalidSourceRecoveryReason) << status.ToString();
    } else {
      ExpectOutcome(expected, status);
    }
  }

  void ExpectServerState(const JsonValue& expected) {
    if (const JsonValue* v = expected.Find("createRequestCount")) {
      EXPECT_EQ(static_cast<std::int64_t>(transport_->CreateSourceBundleIds().size()), Int(v))
          << "createRequestCount";
    }
    if (const JsonValue* v = expected.Find("createSourceBundleIds")) {
      std::vector<std::int64_t> want;
      for (const JsonValue& id : v->as_array()) want.push_back(Int(&id));
      EXPECT_EQ(transport_->CreateSourceBundleIds(), want) << "createSourceBundleIds";
    }
    if (const JsonValue* v = expected.Find("snapshotSessionCreateCount")) {
      EXPECT_EQ(transport_->SnapshotSessionCreates(), Int(v)) << "snapshotSessionCreateCount";
    }
    if (const JsonValue* v = expected.Find("snapshotSourceReplacementRequests")) {
      std::vector<std::string> want;
      for (const JsonValue& request : v->as_array()) want.push_back(request.as_string());
      EXPECT_EQ(transport_->ReplacementRequests(), want) << "snapshotSourceReplacementRequests";
    }
  }

  std::shared_ptr<LifecycleTransport> transport_;
};

TEST_F(KmpLifecycleBehaviorTest, Basic) { RunFile("lifecycle/behavior/basic.json"); }

TEST_F(KmpLifecycleBehaviorTest, ProtocolGates) { RunFile("lifecycle/behavior/protocol-gates.json"); }

TEST_F(KmpLifecycleBehaviorTest, SourceRecoveryReplacement) {
  RunFile("lifecycle/behavior/source-recovery-replacement.json");
}

}  // namespace
}  // namespace oversync::oversqlite::testing
