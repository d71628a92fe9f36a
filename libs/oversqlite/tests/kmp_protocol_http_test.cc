// The KMP request-shape fixture (tests/fixtures/oversqlite-contracts/protocol-http/requests.json,
// sqlitenow-kmp 26c5839; docs/kmp-fixtures.md): 11 request kinds — capabilities, connect, pull,
// push create/chunk/commit, committed rows, snapshot session and chunk, source replacement and
// watch — each with its method, its path under the configured base path (`/api/v1/`), its query
// parameters, the Oversync-Source-ID header and its body, which never repeats the source id.
//
// KMP's harness calls its remote-API class directly with the fixture's arguments; ours has no
// such layer, so the test drives real operations and checks the requests they send. The client's
// base URL is the real profile-B server behind `/api/v1/` (a recording transport strips the
// prefix before forwarding, as a reverse proxy would). One scenario produces every kind: an
// anonymous row, Attach (capabilities, connect with pending rows, a seed lease), a push of two
// rows with upload_limit and download_limit 1 (two chunks, two committed-rows pages), two
// server-originated bundles pulled one per page (the follow-up page carries target_bundle_seq),
// a keep-source Rebuild, a source-recovery Rebuild with a reserved replacement source, and
// automatic downloads opening the watch stream. For each fixture case the matching request must
// have the fixture's method and path (our ids in place of the fixture's), exactly the fixture's
// query parameter names with our values, the current source in the header (the replacement
// request carries the old one), a body of the fixture's shape (the same members and JSON types;
// connect and the first chunk equal the fixture's exactly) and no member named in its
// `bodyMustNotContain`, at any depth.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
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

constexpr std::string_view kBasePath = "/api/v1";

struct RecordedRequest {
  std::string method;
  std::string path;                          // as the client sent it, base path included
  std::map<std::string, std::string> query;  // decoded names and raw values
  std::string source_header;
  std::string body;
  bool stream = false;
};

// Records every request and forwards it to the real server without the base path.
class BasePathRecordingTransport final : public Transport {
 public:
  BasePathRecordingTransport(std::shared_ptr<Transport> inner, std::shared_ptr<EventLog> events)
      : inner_(std::move(inner)), events_(std::move(events)) {}

  Result<HttpResponse> Send(const HttpRequest& request) override {
    Result<HttpRequest> forwarded = Record(request, false);
    if (!forwarded.has_value()) return Error(forwarded.error());
    Result<HttpResponse> response = inner_->Send(*forwarded);
    events_->Notify();
    return response;
  }

  Result<int> Stream(const HttpRequest& request,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     std::string* error_body) override {
    Result<HttpRequest> forwarded = Record(request, true);
    if (!forwarded.has_value()) return Error(forwarded.error());
    events_->Notify();
    Result<int> status = inner_->Stream(*forwarded, on_data, error_body);
    events_->Notify();
    return status;
  }

  std::vector<RecordedRequest> Requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  Result<HttpRequest> Record(const HttpRequest& request, bool stream) {
    RecordedRequest recorded;
    recorded.method = request.method;
    recorded.stream = stream;
    recorded.body = request.body;
    const std::size_t scheme = request.url.find("://");
    const std::size_t path_at = request.url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    const std::string origin = request.url.substr(0, path_at);
    const std::string path_and_query = path_at == std::string::npos ? "/" : request.url.substr(path_at);
    const std::size_t query_at = path_and_query.find('?');
    recorded.path = path_and_query.substr(0, query_at);
    if (query_at != std::string::npos) {
      std::size_t at = query_at + 1;
      while (at < path_and_query.size()) {
        const std::size_t end = std::min(path_and_query.find('&', at), path_and_query.size());
        const std::string pair = path_and_query.substr(at, end - at);
        const std::size_t eq = pair.find('=');
        recorded.query[pair.substr(0, eq)] = eq == std::string::npos ? "" : pair.substr(eq + 1);
        at = end + 1;
      }
    }
    for (const auto& [name, value] : request.headers) {
      if (name == "Oversync-Source-ID") recorded.source_header = value;
    }
    {
      std::lock_guard lock(mu_);
      requests_.push_back(recorded);
    }
    if (!recorded.path.starts_with(kBasePath)) {
      return Error(ErrorCode::kInvalidArgument, "request outside the base path: " + recorded.path);
    }
    HttpRequest forwarded = request;
    forwarded.url = origin + path_and_query.substr(kBasePath.size());
    return forwarded;
  }

  const std::shared_ptr<Transport> inner_;
  const std::shared_ptr<EventLog> events_;
  mutable std::mutex mu_;
  std::vector<RecordedRequest> requests_;  // guarded by mu_
};

// Whether `actual` has `expected`'s shape: the same object members (recursively), arrays whose
// items all have the shape of the expected first item, and the same JSON type for scalars.
bool SameShape(const JsonValue& expected, const JsonValue& actual, std::string& where) {
  if (expected.is_object()) {
    if (!actual.is_object()) return false;
    std::set<std::string> want;
    std::set<std::string> got;
    for (const protocol::JsonMember& m : expected.as_object()) want.insert(m.key);
    for (const protocol::JsonMember& m : actual.as_object()) got.insert(m.key);
    if (want != got) {
      where = fmt::format("members {} vs {}", fmt::join(want, ","), fmt::join(got, ","));
      return false;
    }
    for (const protocol::JsonMember& m : expected.as_object()) {
      if (!SameShape(m.value, *actual.Find(m.key), where)) {
        where = m.key + "." + where;
        return false;
      }
    }
    return true;
  }
  if (expected.is_array()) {
    if (!actual.is_array() || actual.as_array().empty() != expected.as_array().empty()) return false;
    for (const JsonValue& item : actual.as_array()) {
      if (!SameShape(expected.as_array().front(), item, where)) return false;
    }
    return true;
  }
  return expected.is_string() == actual.is_string() && expected.is_number() == actual.is_number() &&
         expected.is_bool() == actual.is_bool() && expected.is_null() == actual.is_null();
}

bool HasMember(const JsonValue& value, const std::string& key) {
  if (value.is_object()) {
    for (const protocol::JsonMember& m : value.as_object()) {
      if (m.key == key || HasMember(m.value, key)) return true;
    }
  } else if (value.is_array()) {
    for (const JsonValue& item : value.as_array()) {
      if (HasMember(item, key)) return true;
    }
  }
  return false;
}

class KmpProtocolHttpTest : public KmpBehaviorTest {
 protected:
  void RunCase(const JsonValue& /*fixture_case*/) override {}

  // The scenario of the file comment; every request it sends is recorded.
  void RunScenario() {
    JsonValue no_script = JsonValue::Object();
    Result<std::shared_ptr<Transport>> curl = PrepareCase(JsonValue::Object(), &no_script);
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_TRUE(curl.has_value()) << curl.error().ToString();
    transport_ = std::make_shared<BasePathRecordingTransport>(*curl, events_);
    client_base_path_ = std::string(kBasePath) + "/";
    Result<std::unique_ptr<Client>> client = NewClient(path_, transport_, [](Config& config) {
      config.upload_limit = 1;
      config.download_limit = 1;
      config.bundle_change_watch_mode = BundleChangeWatchMode::kAuto;
      config.watch_fallback_interval = Duration(60'000);
    });
    ASSERT_TRUE(client.has_value()) << client.error().ToString();
    device_.client = std::move(*client);
    Client& c = *device_.client;
    ASSERT_TRUE(c.Open().ok());
    ASSERT_TRUE(Sql({"INSERT INTO users(id, name) VALUES('user-1', 'Ada')"}).ok());
    Result<AttachResult> attached = c.Attach(std::string(kKmpUser));
    ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
    ASSERT_EQ(attached->outcome, AttachOutcome::kSeededFromLocal);
    first_source_ = c.source_id();
    ASSERT_TRUE(Sql({"INSERT INTO users(id, name) VALUES('user-2', 'Grace')"}).ok());
    Result<PushReport> pushed = c.PushPending();
    ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
    ASSERT_EQ(pushed->outcome, PushOutcome::kCommitted);

    for (int n = 3; n <= 4; ++n) {
      JsonValue bundle = protocol::ParseJson(fmt::format(
          R"({{"rows":[{{"op":"INSERT","payload":{{"id":"user-{}","name":"Remote {}"}}}}]}})", n, n))
                             .value();
      WriteUsersBundle("remote-source", bundle);
    }
    Result<RemoteSyncReport> pulled = c.PullToStable();
    ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();

    Result<RemoteSyncReport> rebuilt = c.Rebuild();
    ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();

    replacement_source_ = "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b";
    ASSERT_TRUE(Sql({fmt::format("INSERT INTO _sync_source_state(source_id, next_source_bundle_id, "
                                 "replaced_by_source_id) VALUES('{}', 1, '')",
                                 replacement_source_),
                     "UPDATE _sync_attachment_state SET rebuild_required = 1",
                     fmt::format("UPDATE _sync_operation_state SET kind = 'source_recovery', "
                                 "reason = 'source_retired', replacement_source_id = '{}'",
                                 replacement_source_)})
                    .ok());
    Result<RemoteSyncReport> rotated = c.Rebuild();
    ASSERT_TRUE(rotated.has_value()) << rotated.error().ToString();
    ASSERT_EQ(c.source_id(), replacement_source_);

    ASSERT_TRUE(c.StartBackground().ok());
    const bool watched = events_->WaitFor([&] {
      for (const RecordedRequest& r : transport_->Requests()) {
        if (r.stream) return true;
      }
      return false;
    });
    c.StopBackground();
    ASSERT_TRUE(watched) << "no watch request";
  }

  // LocalSql of the statements (one transaction).
  Status Sql(std::initializer_list<std::string> sql) {
    JsonValue list = JsonValue::Array();
    for (const std::string& s : sql) list.mutable_array().push_back(JsonValue::String(s));
    return LocalSql(&list);
  }

  // The recorded request a fixture operation corresponds to.
  const RecordedRequest* Find(const std::vector<RecordedRequest>& requests,
                              const std::string& operation) const {
    const std::string sync = std::string(kBasePath) + "/sync/";
    for (const RecordedRequest& r : requests) {
      const bool post = r.method == "POST";
      const bool get = r.method == "GET";
      if ((operation == "capabilities" && get && r.path == sync + "capabilities") ||
          (operation == "connect" && post && r.path == sync + "connect") ||
          (operation == "pull" && get && r.path == sync + "pull" &&
           r.query.count("target_bundle_seq") > 0) ||
          (operation == "pushSessionCreate" && post && r.path == sync + "push-sessions") ||
          (operation == "pushSessionChunk" && post && r.path.ends_with("/chunks") &&
           r.body.find(R"("start_row_ordinal":0)") != std::string::npos) ||
          (operation == "pushSessionCommit" && post && r.path.ends_with("/commit")) ||
          (operation == "committedRows" && get && r.path.starts_with(sync + "committed-bundles/") &&
           r.query.count("after_row_ordinal") > 0) ||
          (operation == "snapshotSession" && post && r.path == sync + "snapshot-sessions" &&
           r.body.empty()) ||
          (operation == "snapshotChunk" && get && r.path.starts_with(sync + "snapshot-sessions/")) ||
          (operation == "sourceReplacement" && post && r.path == sync + "snapshot-sessions" &&
           !r.body.empty()) ||
          (operation == "watch" && r.stream && r.path == sync + "watch")) {
        return &r;
      }
    }
    return nullptr;
  }

  void CheckCase(const JsonValue& fixture_case, const std::vector<RecordedRequest>& requests) {
    const std::string operation = Str(fixture_case.Find("operation"));
    const JsonValue& expected = *fixture_case.Find("expected");
    const RecordedRequest* r = Find(requests, operation);
    ASSERT_NE(r, nullptr) << "no request for " << operation;
    EXPECT_EQ(r->method, Str(expected.Find("method")));

    // The fixture's path with its ids (from the case's arguments) as placeholders.
    std::string pattern = Str(expected.Find("path"));
    if (const JsonValue* args = fixture_case.Find("args")) {
      for (const char* id : {"pushId", "snapshotId", "bundleSeq"}) {
        if (const JsonValue* v = args->Find(id)) {
          const std::string text = v->is_string() ? v->as_string() : fmt::format("{}", Int(v));
          pattern.replace(pattern.find(text), text.size(), "[^/]+");
        }
      }
    }
    EXPECT_TRUE(std::regex_match(r->path, std::regex(pattern))) << r->path << " !~ " << pattern;

    std::set<std::string> want_query;
    for (const protocol::JsonMember& m : expected.Find("query")->as_object()) want_query.insert(m.key);
    std::set<std::string> got_query;
    for (const auto& [name, value] : r->query) {
      got_query.insert(name);
      EXPECT_TRUE(!value.empty() && std::all_of(value.begin(), value.end(), [](char ch) {
        return ch >= '0' && ch <= '9';
      }))
          << name << "=" << value;
    }
    EXPECT_EQ(got_query, want_query) << "query parameters";

    // The old source on the replacement request (kmp-client.md §2.2 row 9), else the current one.
    const bool after_rotation = operation == "watch";
    EXPECT_EQ(r->source_header, after_rotation ? replacement_source_ : first_source_);

    const JsonValue* body = expected.Find("body");
    if (body == nullptr || body->is_null()) {
      EXPECT_TRUE(r->body.empty()) << r->body;
    } else {
      Result<JsonValue> actual = protocol::ParseJson(r->body);
      ASSERT_TRUE(actual.has_value()) << r->body;
      std::string where;
      EXPECT_TRUE(SameShape(*body, *actual, where)) << where << "\n" << r->body;
      if (operation == "connect" || operation == "pushSessionChunk") {
        EXPECT_EQ(Canonical(*actual), Canonical(*body));
      }
      if (operation == "sourceReplacement") {
        const JsonValue* replacement = actual->Find("source_replacement");
        ASSERT_NE(replacement, nullptr);
        EXPECT_EQ(Str(replacement->Find("previous_source_id")), first_source_);
        EXPECT_EQ(Str(replacement->Find("new_source_id")), replacement_source_);
        EXPECT_EQ(Str(replacement->Find("reason")), "source_retired");
      }
    }
    // No member of that name at any depth (the Dart harness's _containsKeyRecursive).
    if (const JsonValue* forbidden = expected.Find("bodyMustNotContain"); forbidden && !r->body.empty()) {
      const JsonValue actual = protocol::ParseJson(r->body).value_or(JsonValue::Null());
      for (const JsonValue& key : forbidden->as_array()) {
        EXPECT_FALSE(HasMember(actual, key.as_string())) << key.as_string() << " in " << r->body;
      }
    }
  }

  std::shared_ptr<EventLog> events_ = std::make_shared<EventLog>();
  std::shared_ptr<BasePathRecordingTransport> transport_;
  std::string first_source_;
  std::string replacement_source_;
};

TEST_F(KmpProtocolHttpTest, RequestShapesUnderABasePath) {
  const JsonValue fixture = LoadFixture("protocol-http/requests.json");
  ASSERT_EQ(Str(fixture.Find("baseUri")), "https://sync.test/api/v1/");
  RunScenario();
  if (HasFatalFailure() || IsSkipped()) return;
  const std::vector<RecordedRequest> requests = transport_->Requests();
  for (const RecordedRequest& r : requests) {
    EXPECT_TRUE(r.path.starts_with(std::string(kBasePath) + "/sync/")) << r.path;
    EXPECT_FALSE(r.source_header.empty()) << r.method << " " << r.path;
  }
  int cases = 0;
  for (const JsonValue& fixture_case : fixture.Find("cases")->as_array()) {
    SCOPED_TRACE(Str(fixture_case.Find("name")));
    CheckCase(fixture_case, requests);
    ++cases;
  }
  EXPECT_EQ(cases, 11);
}

}  // namespace
}  // namespace oversync::oversqlite::testing
