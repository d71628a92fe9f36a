// The KMP watch behaviour fixtures (tests/fixtures/oversqlite-contracts/watch/behavior/
// automatic-downloads.json, sqlitenow-kmp 26c5839; docs/kmp-fixtures.md): 9 cases of automatic
// downloads (our StartBackground with BundleChangeWatchMode::kAuto) around the bundle-change
// watch stream: a non-OK watch answer, a malformed event, a clean end of stream, heartbeats,
// a healthy stream held open, stopping while a stream is active, the reconnect position, a
// server without the watch feature, and a server-originated write waking the client.
//
// How they run (the Dart harness, watch_behavior_fixture_test.dart, is the model): per case a
// real profile-B server with the fixture's `users` table in PostgreSQL schema "main"; the client
// opens and attaches user-1, the script's `remoteBundles` / `startBundles` become real
// server-originated writes by source `remote-source` (bundle 1, 2, ...), then automatic downloads
// start. Only the script's departures from the real server are played by the transport:
// `non_ok_watch_response` and `watch_lines` answer the first watch request (status and body, or
// the lines followed by the end of the stream); `unsupported_capability` turns the capabilities'
// `bundle_change_watch` feature off. Every later watch request is the real server's stream, held
// open with its heartbeats, and `wakeBundles` are real writes made once a watch is open. The
// client configuration is the harness's: fallback interval 10 s, reconnect backoff 10-20 ms (1 s
// in the cases that count attempts exactly). Counted like the Dart harness: pull requests, watch
// requests with their after_bundle_seq, and watch streams the client ended.
//
// Waiting is on the transport's events (EventLog), never a sleep; `observeForMillis` is a quiet
// window in which nothing may change.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kmp_behavior_support.h"
#include "oversync/oversqlite/client.h"
#include "oversync/protocol/json_value.h"
#include "test_events.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

using protocol::JsonValue;
using std::chrono::milliseconds;

// The value of query parameter `name` of `url` as an integer, or -1.
std::int64_t QueryInteger(const std::string& url, std::string_view name) {
  const std::string key = std::string(name) + "=";
  const std::size_t at = url.find(key);
  if (at == std::string::npos) return -1;
  const std::size_t end = url.find('&', at);
  return std::stoll(url.substr(at + key.size(), end == std::string::npos ? end : end - at - key.size()));
}

// The case's script in front of the real server (see the file comment).
class WatchScriptTransport final : public KmpScriptTransport {
 public:
  WatchScriptTransport(std::shared_ptr<Transport> inner, JsonValue script,
                       std::shared_ptr<EventLog> events)
      : KmpScriptTransport(std::make_shared<NotifyingTransport>(std::move(inner), events),
                           std::move(script)),
        events_(std::move(events)) {
    if (kind_ == "non_ok_watch_response" || kind_ == "watch_lines") {
      scripted_watch_.push_back(script_);
    }
  }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    const std::string path = FaultTransport::PathOf(request.url);
    if (request.method == "GET" && path == "/sync/pull") {
      std::lock_guard lock(mu_);
      ++pulls_;
    }
    Result<HttpResponse> response = inner_->Send(request);  // notifies
    if (response.has_value() && path == "/sync/capabilities" &&
        script_.Find("bundleChangeWatchSupported") != nullptr &&
        !script_.Find("bundleChangeWatchSupported")->as_bool()) {
      const std::string from = R"("bundle_change_watch":true)";
      const std::size_t at = response->body.find(from);
      EXPECT_NE(at, std::string::npos) << response->body;
      if (at != std::string::npos) {
        response->body.replace(at, from.size(), R"("bundle_change_watch":false)");
      }
    }
    return response;
  }

  Result<int> Stream(const HttpRequest& request,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     std::string* error_body) override {
    std::optional<JsonValue> scripted;
    {
      std::lock_guard lock(mu_);
      watch_after_.push_back(QueryInteger(request.url, "after_bundle_seq"));
      if (!scripted_watch_.empty()) {
        scripted = std::move(scripted_watch_.front());
        scripted_watch_.pop_front();
      }
    }
    events_->Notify();
    Result<int> status = 200;
    if (scripted.has_value() && Str(scripted->Find("kind")) == "non_ok_watch_response") {
      const JsonValue& response = *scripted->Find("response");
      if (error_body != nullptr) *error_body = Json(*response.Find("body"));
      status = static_cast<int>(Int(response.Find("status")));
    } else if (scripted.has_value()) {
      std::string body;
      for (const JsonValue& line : scripted->Find("lines")->as_array()) body += line.as_string() + "\n";
      on_data(body);
    } else {
      status = inner_->Stream(request, on_data, error_body);  // notifies every chunk
    }
    {
      std::lock_guard lock(mu_);
      ++closes_;
    }
    events_->Notify();
    return status;
  }

  int Pulls() const {
    std::lock_guard lock(mu_);
    return pulls_;
  }
  std::vector<std::int64_t> WatchAfter() const {
    std::lock_guard lock(mu_);
    return watch_after_;
  }
  int Closes() const {
    std::lock_guard lock(mu_);
    return closes_;
  }

 private:
  const std::shared_ptr<EventLog> events_;
  mutable std::mutex mu_;
  std::deque<JsonValue> scripted_watch_;    // guarded by mu_
  int pulls_ = 0;                           // guarded by mu_
  std::vector<std::int64_t> watch_after_;   // guarded by mu_
  int closes_ = 0;                          // guarded by mu_
};

class KmpWatchBehaviorTest : public KmpBehaviorTest {
 protected:
  void RunCase(const JsonValue& fixture_case) override {
    const JsonValue& expected = *fixture_case.Find("expectedState");
    JsonValue script = JsonValue::Object();
    Result<std::shared_ptr<Transport>> curl = PrepareCase(fixture_case, &script);
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_TRUE(curl.has_value()) << curl.error().ToString();
    auto transport = std::make_shared<WatchScriptTransport>(*curl, script, events_);
    // Dart's usersConfig / heartbeatWatchConfig.
    const bool exact_attempts = expected.Find("watchAttemptsExactly") != nullptr;
    Result<std::unique_ptr<Client>> client = NewClient(path_, transport, [&](Config& config) {
      config.bundle_change_watch_mode = BundleChangeWatchMode::kAuto;
      config.watch_fallback_interval = Duration(10'000);
      config.backoff_min = Duration(exact_attempts ? 1000 : 10);
      config.backoff_max = Duration(exact_attempts ? 1000 : 20);
    });
    ASSERT_TRUE(client.has_value()) << client.error().ToString();
    device_.client = std::move(*client);
    ASSERT_TRUE(device_.client->Open().ok());
    ASSERT_TRUE(device_.client->Attach(std::string(kKmpUser)).has_value());

    for (const char* member : {"remoteBundles", "startBundles"}) {
      if (const JsonValue* bundles = script.Find(member)) {
        for (const JsonValue& bundle : bundles->as_array()) WriteUsersBundle("remote-source", bundle);
      }
    }
    ASSERT_FALSE(HasFatalFailure());

    const int pulls_before = transport->Pulls();
    const auto pulls = [&] { return transport->Pulls() - pulls_before; };
    const auto attempts = [&] { return static_cast<int>(transport->WatchAfter().size()); };
    ASSERT_TRUE(device_.client->StartBackground().ok());
    if (const JsonValue* wake = script.Find("wakeBundles")) {
      ASSERT_TRUE(events_->WaitFor([&] { return attempts() > 0; })) << "no watch request";
      for (const JsonValue& bundle : wake->as_array()) WriteUsersBundle("remote-source", bundle);
    }

    const auto reached = [&] {
      if (const JsonValue* users = expected.Find("users")) {
        for (const JsonValue& user : users->as_array()) {
          if (Number(fmt::format("SELECT count(*) FROM users WHERE id = '{}' AND name = '{}'",
                                 Str(user.Find("id")), Str(user.Find("name")))) != 1) {
            return false;
          }
        }
      }
      if (const JsonValue* v = expected.Find("watchAttemptsAtLeast"); v && attempts() < Int(v)) return false;
      if (const JsonValue* v = expected.Find("watchAttemptsExactly"); v && attempts() != Int(v)) return false;
      if (const JsonValue* v = expected.Find("watchAfterBundleSeqsContains")) {
        const std::vector<std::int64_t> after = transport->WatchAfter();
        for (const JsonValue& seq : v->as_array()) {
          if (std::find(after.begin(), after.end(), Int(&seq)) == after.end()) return false;
        }
      }
      if (const JsonValue* v = expected.Find("fallbackPullsAtLeast"); v && pulls() < Int(v)) return false;
      if (const JsonValue* v = expected.Find("fallbackPullsExactly"); v && pulls() != Int(v)) return false;
      return true;
    };
    EXPECT_TRUE(events_->WaitFor(reached)) << "expected state never reached: pulls " << pulls()
                                           << ", watch attempts " << attempts();
    if (const JsonValue* window = expected.Find("observeForMillis")) {
      const int pulls_then = pulls();
      const int attempts_then = attempts();
      EXPECT_FALSE(events_->WaitFor(
          [&] { return pulls() != pulls_then || attempts() != attempts_then; },
          milliseconds(Int(window))))
          << "the held-open stream let a pull or a reconnect through";
    }
    if (const JsonValue* stop = expected.Find("stopActiveWatchBeforeAssert"); stop && stop->as_bool()) {
      const int closes_then = transport->Closes();
      device_.client->StopBackground();
      // Stopping returns only once the active stream has been cancelled.
      EXPECT_EQ(transport->Closes(), closes_then + 1) << "the active watch stream was not closed";
    }
    const int final_pulls = pulls();
    const int final_attempts = attempts();
    if (const JsonValue* v = expected.Find("watchCloseCount")) {
      EXPECT_EQ(transport->Closes(), Int(v)) << "watchCloseCount";
    }
    if (const JsonValue* v = expected.Find("fallbackPullsAtLeast")) {
      EXPECT_GE(final_pulls, Int(v)) << "fallbackPullsAtLeast";
    }
    if (const JsonValue* v = expected.Find("fallbackPullsExactly")) {
      EXPECT_EQ(final_pulls, Int(v)) << "fallbackPullsExactly";
    }
    if (const JsonValue* v = expected.Find("watchAttemptsAtLeast")) {
      EXPECT_GE(final_attempts, Int(v)) << "watchAttemptsAtLeast";
    }
    if (const JsonValue* v = expected.Find("watchAttemptsExactly")) {
      EXPECT_EQ(final_attempts, Int(v)) << "watchAttemptsExactly";
    }
    device_.client->StopBackground();
  }


  std::shared_ptr<EventLog> events_ = std::make_shared<EventLog>();
};

TEST_F(KmpWatchBehaviorTest, AutomaticDownloads) {
  RunFile("watch/behavior/automatic-downloads.json");
}

}  // namespace
}  // namespace oversync::oversqlite::testing
