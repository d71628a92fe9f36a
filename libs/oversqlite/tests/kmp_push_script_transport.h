// File: libs/oversqlite/tests/kmp_push_script_transport.h
//
// The push-side server scripts of the KMP behaviour fixtures (push/behavior, runtime-state/
// transitions) as a transport in front of the real profile-B server (docs/kmp-fixtures.md).
#ifndef OVERSYNC_OVERSQLITE_TESTS_KMP_PUSH_SCRIPT_TRANSPORT_H_
#define OVERSYNC_OVERSQLITE_TESTS_KMP_PUSH_SCRIPT_TRANSPORT_H_

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kmp_behavior_support.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/messages.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {

// The KMP push-script kinds (push_behavior_fixture_test.dart / runtime_state_transition_fixture_
// test.dart PushFixtureServer) played in front of the real server: only what a script needs and a
// correct server would not do on its own is injected (a 500, a 404 committed_bundle_not_found, a
// 409 history_pruned / push_conflict / source_retired, a wrong hash, an already_committed answer
// for rows the client never uploaded); everything else is the real exchange.
// Thread-safe (the client may call it from its operation thread only, but the lock is cheap).
class KmpPushScriptTransport final : public KmpScriptTransport {
 public:
  using JsonValue = protocol::JsonValue;
  using KmpScriptTransport::KmpScriptTransport;

  Result<HttpResponse> Send(const HttpRequest& request) override {
    const std::string path = FaultTransport::PathOf(request.url);
    const bool create = request.method == "POST" && path == "/sync/push-sessions";
    const bool chunk = request.method == "POST" && path.ends_with("/chunks");
    const bool commit = request.method == "POST" && path.ends_with("/commit");
    const bool fetch = request.method == "GET" && path.starts_with("/sync/committed-bundles/");
    std::unique_lock lock(mu_);
    if (create) {
      ++creates_;
      uploaded_.clear();
      const JsonValue body = protocol::ParseJson(request.body).value_or(JsonValue::Object());
      request_hash_ = Str(body.Find("canonical_request_hash"));
      source_bundle_id_ = Int(body.Find("source_bundle_id"), 1);
      if (kind_ == "already_committed_rows" || kind_ == "already_committed_request_hash_mismatch") {
        return Answer(200, AlreadyCommittedCreate(request));
      }
      if (kind_ == "source_retired_on_push_create") {
        return Answer(409, fmt::format(
                               R"({{"error":"source_retired","message":"source is retired",)"
                               R"("source_id":"{}","replaced_by_source_id":"{}"}})",
                               SourceHeader(request), Str(script_.Find("replacementSourceId"))));
      }
    }
    if (chunk) {
      const JsonValue body = protocol::ParseJson(request.body).value_or(JsonValue::Object());
      if (const JsonValue* rows = body.Find("rows"); rows != nullptr && rows->is_array()) {
        for (const JsonValue& row : rows->as_array()) {
          const JsonValue* key = row.Find("key");
          std::string key_text;
          if (key != nullptr && key->is_object() && !key->as_object().empty()) {
            key_text = Str(&key->as_object().front().value);
          }
          uploaded_.push_back(fmt::format("{}:{}:{}", Str(row.Find("table")), Str(row.Find("op")),
                                          key_text));
        }
      }
    }
    if (commit) {
      ++commits_;
      const bool conflict_now =
          !conflict_delivered_ &&
          (kind_ == "conflict_once" ||
           (kind_ == "conflict_once_on_row_count" &&
            static_cast<std::int64_t>(uploaded_.size()) == Int(script_.Find("rowCount"))));
      if (conflict_now) {
        conflict_delivered_ = true;
        return Answer(409, fmt::format(R"({{"error":"push_conflict","message":"fixture conflict","conflict":{}}})",
                                       Json(*script_.Find("conflict"))));
      }
      if (kind_ == "precommit_retry" && commits_ == 1) {
        return Answer(500, ErrorBody("temporary", "retry"));
      }
    }
    if (fetch) {
      ++fetches_;
      if (kind_ == "committed_replay_first_fetch_http_error" && fetches_ == 1) {
        return Answer(500, ErrorBody("temporary", "retry"));
      }
      if (kind_ == "committed_bundle_not_found_then_success" &&
          fetches_ <= Int(script_.Find("notFoundCount"), 1)) {
        return Answer(404, ErrorBody("committed_bundle_not_found", "committed bundle not visible yet"));
      }
      if (kind_ == "committed_replay_pruned" && fetches_ == 1) {
        return Answer(409, ErrorBody("history_pruned", "committed bundle replay pruned"));
      }
      if (kind_ == "already_committed_rows") return Answer(200, AlreadyCommittedRows(request));
    }
    lock.unlock();
    Result<HttpResponse> response = inner_->Send(request);
    if (!response.has_value() || response->status != 200) return response;
    // Rewrites of real answers.
    if (kind_ == "committed_replay_bad_bundle_hash" && (commit || fetch)) {
      Rewrite(*response, "bundle_hash", "bad-hash");
    }
    if (kind_ == "committed_remote_request_hash_mismatch" && fetch) {
      Rewrite(*response, "canonical_request_hash", std::string(64, 'b'));
    }
    return response;
  }


  int creates() const {
    std::lock_guard lock(mu_);
    return creates_;
  }
  std::vector<std::string> uploaded() const {
    std::lock_guard lock(mu_);
    return uploaded_;
  }

 private:

  static void Rewrite(HttpResponse& response, std::string_view member, const std::string& value) {
    Result<JsonValue> body = protocol::ParseJson(response.body);
    if (!body.has_value() || !body->is_object()) return;
    for (protocol::JsonMember& m : body->mutable_object()) {
      if (m.key == member) m.value = JsonValue::String(value);
    }
    response.body = Json(*body);
  }

  static std::string SourceHeader(const HttpRequest& request) {
    for (const auto& [name, value] : request.headers) {
      if (name == "Oversync-Source-ID") return value;
    }
    return "";
  }

  // The committed rows of an already_committed script (its `committedRows`, or the single row
  // with `committedPayload`).
  JsonValue CommittedRows() const {
    if (const JsonValue* rows = script_.Find("committedRows"); rows != nullptr) return *rows;
    JsonValue row = JsonValue::Object();
    row.Add("schema", JsonValue::String("main"));
    row.Add("table", JsonValue::String("users"));
    JsonValue key = JsonValue::Object();
    key.Add("id", JsonValue::String("user-1"));
    row.Add("key", std::move(key));
    row.Add("op", JsonValue::String("INSERT"));
    row.Add("row_version", JsonValue::Number(1));
    row.Add("payload", *script_.Find("committedPayload"));
    JsonValue rows = JsonValue::Array();
    rows.mutable_array().push_back(std::move(row));
    return rows;
  }

  // The profile-B bundle hash of CommittedRows() at bundle_seq 1.
  std::string CommittedHash() const {
    std::vector<protocol::BundleRow> rows;
    const JsonValue committed = CommittedRows();
    for (const JsonValue& item : committed.as_array()) {
      protocol::BundleRow row;
      row.schema = Str(item.Find("schema"));
      row.table = Str(item.Find("table"));
      row.key = *item.Find("key");
      EXPECT_TRUE(protocol::ParseOp(Str(item.Find("op")), row.op));
      row.row_version = Int(item.Find("row_version"));
      if (const JsonValue* payload = item.Find("payload"); payload != nullptr && !payload->is_null()) {
        row.payload = *payload;
      }
      rows.push_back(std::move(row));
    }
    auto hash = protocol::ComputeBundleHash(protocol::JcsUniformNumericStringsV1Profile(), 1, rows);
    EXPECT_TRUE(hash.has_value());
    return hash.has_value() ? hash->hex : "";
  }

  std::string EchoedRequestHash() const {
    return kind_ == "already_committed_request_hash_mismatch" ? std::string(64, 'b') : request_hash_;
  }

  std::string AlreadyCommittedCreate(const HttpRequest& request) const {
    return fmt::format(
        R"({{"status":"already_committed","bundle_seq":1,"source_id":"{}","source_bundle_id":{},)"
        R"("row_count":{},"bundle_hash":"{}","canonical_request_hash":"{}"}})",
        SourceHeader(request), source_bundle_id_, CommittedRows().as_array().size(),
        CommittedHash(), EchoedRequestHash());
  }

  std::string AlreadyCommittedRows(const HttpRequest& request) const {
    const JsonValue rows = CommittedRows();
    return fmt::format(
        R"({{"bundle_seq":1,"source_id":"{}","source_bundle_id":1,"row_count":{},"bundle_hash":"{}",)"
        R"("canonical_request_hash":"{}","rows":{},"next_row_ordinal":{},"has_more":false}})",
        SourceHeader(request), rows.as_array().size(), CommittedHash(), EchoedRequestHash(),
        Json(rows), static_cast<std::int64_t>(rows.as_array().size()) - 1);
  }

  mutable std::mutex mu_;
  int creates_ = 0;                     // guarded by mu_
  int commits_ = 0;                     // guarded by mu_
  std::int64_t fetches_ = 0;            // guarded by mu_
  bool conflict_delivered_ = false;     // guarded by mu_
  std::vector<std::string> uploaded_;   // guarded by mu_: since the last create
  std::string request_hash_;            // guarded by mu_
  std::int64_t source_bundle_id_ = 1;   // guarded by mu_
};

}  // namespace oversync::oversqlite::testing

#endif  // OVERSYNC_OVERSQLITE_TESTS_KMP_PUSH_SCRIPT_TRANSPORT_H_
