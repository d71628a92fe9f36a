#include "test_server.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include "app.h"
#include "business_schema.h"
#include "config.h"
#include "oversync/http/message.h"
#include "oversync/http_beast/server.h"
#include "oversync/jwt/jwt.h"
#include "oversync/server/prometheus_metrics.h"
#include "oversync/testing/pg_test_database.h"
#include "pg.h"

namespace oversync::oversqlite::testing {

TestServer::TestServer(PrivateTag /*tag*/, TestServerOptions opts)
    : options_(std::move(opts)), runtime_logger_(options_.runtime_log_level) {}

TestServer::~TestServer() { Stop(); }

std::string TestWireProfile() {
  // Tests may read the environment (only libraries may not); CTest sets this per registration.
  const char* raw = std::getenv("OVERSQLITE_TEST_WIRE_PROFILE");
  if (raw != nullptr && *raw != '\0') return raw;
  return "jcs_uniform_numeric_strings_v1";
}

bool TestSpeaksProfileB() { return TestWireProfile() == "jcs_uniform_numeric_strings_v1"; }

const std::string_view kServerTablesDdl = R"sql(
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS posts (
  id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, content TEXT NOT NULL,
  author_id TEXT REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED, created_at TEXT,
  updated_at TEXT);
CREATE TABLE IF NOT EXISTS categories (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
  parent_id TEXT REFERENCES categories(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS files (id BLOB PRIMARY KEY NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS file_reviews (
  id BLOB PRIMARY KEY NOT NULL, review TEXT NOT NULL,
  file_id BLOB NOT NULL REFERENCES files(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS teams (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
  captain_member_id TEXT REFERENCES team_members(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS team_members (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
  team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS typed_rows (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, note TEXT, count_value INTEGER,
  enabled_flag INTEGER NOT NULL, rating REAL, data BLOB, created_at TIMESTAMP);
)sql";

namespace {

bool TestingProfileB(const Config& config) {
  return config.wire_profile.empty() ? TestWireProfile() == "jcs_uniform_numeric_strings_v1"
                                     : config.wire_profile == "jcs_uniform_numeric_strings_v1";
}

// A profile-A run pins the client's profile (the empty default would give new databases B).
void PinTestWireProfile(Config& config) {
  if (config.wire_profile.empty() && TestWireProfile() != "jcs_uniform_numeric_strings_v1") {
    config.wire_profile = TestWireProfile();
  }
}

// Pins a profile-A run and, under profile B, completes the table set; true when the device then
// needs the server tables created.
bool PrepareTestConfig(Config& config) {
  PinTestWireProfile(config);
  if (!TestingProfileB(config)) return false;
  CompleteServerTableSet(config);
  return true;
}

Status CreateServerTablesOn(sqlite3* db) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, std::string(kServerTablesDdl).c_str(), nullptr, nullptr, &message);
  const std::string text = message != nullptr ? message : "";
  sqlite3_free(message);
  if (rc != SQLITE_OK) return Status(ErrorCode::kInternal, "server tables DDL: " + text);
  return Status::Ok();
}

}  // namespace

void CompleteServerTableSet(Config& config) {
  if (!TestingProfileB(config)) return;
  for (const char* table : {"users", "posts", "categories", "files", "file_reviews", "teams",
                            "team_members", "typed_rows"}) {
    const bool present = std::any_of(config.tables.begin(), config.tables.end(),
                                     [&](const SyncTable& t) { return t.table_name == table; });
    if (!present) config.tables.push_back({table, "id", {}});
  }
}

Status CreateServerTables(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> db(raw, &sqlite3_close_v2);
  if (rc != SQLITE_OK) return Status(ErrorCode::kInternal, "open " + path);
  return CreateServerTablesOn(db.get());
}

Result<std::unique_ptr<Client>> CreateTestClientForPath(const std::string& path, std::string base_url,
                                                        TokenProvider token_provider, Config config,
                                                        ClientDeps deps) {
  if (PrepareTestConfig(config)) OVERSYNC_RETURN_IF_ERROR(CreateServerTables(path));
  return Client::CreateForPath(path, std::move(base_url), std::move(token_provider), std::move(config),
                               std::move(deps));
}

Result<std::unique_ptr<Client>> CreateTestClient(sqlite3* db, std::string base_url,
                                                 TokenProvider token_provider, Config config,
                                                 ClientDeps deps) {
  if (PrepareTestConfig(config)) OVERSYNC_RETURN_IF_ERROR(CreateServerTablesOn(db));
  return Client::Create(db, std::move(base_url), std::move(token_provider), std::move(config),
                        std::move(deps));
}

Result<std::unique_ptr<TestServer>> TestServer::Start(TestServerOptions opts) {
  auto server = std::make_unique<TestServer>(PrivateTag{}, std::move(opts));
  OVERSYNC_ASSIGN_OR_RETURN(server->database_, oversync::testing::PgTestDatabase::Create());
  const std::string& dsn = server->database_->dsn();

  // oversyncd's startup order (server.md A.1): database check, business schema, runtime.
  server->probe_ = std::make_unique<oversyncd::DbProbe>(dsn);
  OVERSYNC_RETURN_IF_ERROR(server->probe_->Ping());
  {
    OVERSYNC_ASSIGN_OR_RETURN(oversyncd::PgConnPtr conn, oversyncd::PgConnect(dsn));
    OVERSYNC_RETURN_IF_ERROR(
        oversyncd::InitializeBusinessSchema(conn.get(), oversyncd::kDefaultBusinessSchema));
  }
  if (!server->options_.extra_business_ddl.empty()) {
    OVERSYNC_RETURN_IF_ERROR(server->database_->QueryScalar(server->options_.extra_business_ddl));
  }

  auto metrics = std::make_shared<PrometheusStageMetrics>();
  ServiceConfig config = oversyncd::ReferenceServiceConfig(metrics);
  // A worker deleting bundles on its own schedule would make retention tests racy.
  config.background_retention = false;
  config.wire_profile = server->options_.wire_profile;
  if (server->options_.configure) server->options_.configure(config);

  RuntimeOptions runtime_options;
  runtime_options.database_url = dsn;
  runtime_options.max_connections = server->options_.max_connections;
  runtime_options.clock = &server->clock_;
  runtime_options.logger = &server->runtime_logger_;
  OVERSYNC_ASSIGN_OR_RETURN(server->service_,
                            RuntimeService::Create(std::move(config), std::move(runtime_options)));
  OVERSYNC_RETURN_IF_ERROR(server->service_->Bootstrap());

  oversyncd::AppOptions app_options;
  app_options.jwt_secret = server->options_.jwt_secret;
  app_options.clock = &server->clock_;
  app_options.service = server->service_.get();
  app_options.dsn = dsn;
  app_options.business_schema = std::string(oversyncd::kDefaultBusinessSchema);
  app_options.metrics = metrics;
  OVERSYNC_ASSIGN_OR_RETURN(server->app_,
                            oversyncd::App::Create(*server->probe_, std::move(app_options)));

  http_beast::BeastServerOptions server_options;
  server_options.bind_address = "127.0.0.1";
  server_options.port = 0;
  server_options.worker_threads = server->options_.worker_threads;
  oversyncd::App* app = server->app_.get();
  OVERSYNC_ASSIGN_OR_RETURN(
      server->server_,
      http_beast::BeastServer::Start(
          server_options, [app](const http::Request& request) { return app->Handle(request); }));
  server->base_url_ = fmt::format("http://127.0.0.1:{}", server->server_->port());
  return server;
}

std::string TestServer::base_url() const { return base_url_; }

Result<std::string> TestServer::TokenFor(std::string_view user_id) const {
  if (jwt::TrimSpace(user_id).empty()) {
    return Error(ErrorCode::kInvalidArgument, "TokenFor: blank user id");
  }
  return jwt::SignHs256(jwt::ExampleClaims(user_id, clock_.Now(), options_.token_lifetime),
                        options_.jwt_secret);
}

std::function<Result<std::string>()> TestServer::TokenProviderFor(std::string user_id) const {
  return [this, user = std::move(user_id)]() { return TokenFor(user); };
}

const std::string& TestServer::dsn() const { return database_->dsn(); }

Result<std::string> TestServer::QueryScalar(const std::string& sql) const {
  return database_->QueryScalar(sql);
}

Status TestServer::Exec(const std::string& sql) const { return ToStatus(QueryScalar(sql)); }

RuntimeService& TestServer::service() { return *service_; }

void TestServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // oversyncd's shutdown order: in-flight requests finish against a live runtime first.
  if (server_ != nullptr) {
    server_->Stop();
    server_.reset();
  }
  if (service_ != nullptr) service_->Shutdown();
}

// ---------------------------------------------------------------------------------------------

FaultTransport::FaultTransport(std::shared_ptr<Transport> inner, std::size_t max_recorded)
    : inner_(std::move(inner)), max_recorded_(max_recorded) {}

std::string FaultTransport::PathOf(std::string_view url) {
  std::size_t start = 0;
  if (const std::size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    start = url.find('/', scheme + 3);
    if (start == std::string_view::npos) return "/";
  }
  std::string_view path = url.substr(start);
  path = path.substr(0, path.find_first_of("?#"));
  return path.empty() ? std::string("/") : std::string(path);
}

std::optional<FaultTransport::Fault> FaultTransport::Admit(const HttpRequest& request) {
  const std::string path = PathOf(request.url);
  const std::lock_guard<std::mutex> lock(mu_);
  ++counts_[{request.method, path}];
  HttpRequest copy = request;
  copy.cancel = nullptr;  // the flag belongs to the caller and may be gone later
  recorded_.push_back(std::move(copy));
  if (recorded_.size() > max_recorded_) {
    recorded_.erase(recorded_.begin(), recorded_.begin() + static_cast<std::ptrdiff_t>(
                                                               recorded_.size() - max_recorded_));
  }
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if ((!it->method.empty() && it->method != request.method) ||
        path.compare(0, it->path_prefix.size(), it->path_prefix) != 0) {
      continue;
    }
    Fault fault = *it;
    if (--it->remaining <= 0) faults_.erase(it);
    return fault;
  }
  return std::nullopt;
}

namespace {

std::string InjectedBody(const std::string& body) {
  return body.empty() ? std::string(R"({"error":"service_unavailable","message":"injected"})")
                      : body;
}

Status InjectedReset(const HttpRequest& request, bool after_forwarding) {
  return Status(ErrorCode::kUnavailable,
                fmt::format("{} {}: connection reset by peer (injected{})", request.method,
                            request.url, after_forwarding ? ", response lost" : ""));
}

}  // namespace

Result<HttpResponse> FaultTransport::Send(const HttpRequest& request) {
  const std::optional<Fault> fault = Admit(request);
  if (fault && fault->kind == FaultKind::kHttpStatus) {
    HttpResponse response;
    response.status = fault->http_status;
    response.headers = {{"content-type", "application/json"}};
    for (const auto& header : fault->headers) response.headers.push_back(header);
    response.body = InjectedBody(fault->body);
    return response;
  }
  if (fault && fault->kind == FaultKind::kTransportErrorBefore) {
    return Error(InjectedReset(request, false));
  }
  Result<HttpResponse> response = inner_->Send(request);
  if (fault && fault->kind == FaultKind::kTransportErrorAfter) {
    return Error(InjectedReset(request, true));
  }
  if (response.has_value()) {
    std::function<void(const HttpRequest&, HttpResponse&)> rewriter;
    {
      const std::lock_guard<std::mutex> lock(mu_);
      rewriter = rewriter_;
    }
    if (rewriter) rewriter(request, *response);
  }
  return response;
}

Result<int> FaultTransport::Stream(const HttpRequest& request,
                                   const std::function<bool(std::string_view chunk)>& on_data,
                                   std::string* error_body) {
  const std::optional<Fault> fault = Admit(request);
  if (fault && fault->kind == FaultKind::kHttpStatus) {
    const std::string body = InjectedBody(fault->body);
    if (fault->http_status == 200) {
      if (on_data) on_data(body);
    } else if (error_body != nullptr) {
      *error_body = body;
    }
    return fault->http_status;
  }
  if (fault && fault->kind == FaultKind::kTransportErrorBefore) {
    return Error(InjectedReset(request, false));
  }
  Result<int> status = inner_->Stream(request, on_data, error_body);
  if (fault && fault->kind == FaultKind::kTransportErrorAfter) {
    return Error(InjectedReset(request, true));
  }
  return status;
}

int FaultTransport::Count(std::string_view method, std::string_view path_prefix) const {
  const std::lock_guard<std::mutex> lock(mu_);
  int total = 0;
  for (const auto& [key, count] : counts_) {
    if ((method.empty() || key.first == method) &&
        std::string_view(key.second).substr(0, path_prefix.size()) == path_prefix) {
      total += count;
    }
  }
  return total;
}

std::vector<HttpRequest> FaultTransport::Requests() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return recorded_;
}

void FaultTransport::ResetCounts() {
  const std::lock_guard<std::mutex> lock(mu_);
  counts_.clear();
  recorded_.clear();
}

void FaultTransport::FailNext(std::string method, std::string path_prefix, int times,
                              FaultKind kind, int http_status, std::string body,
                              std::vector<std::pair<std::string, std::string>> headers) {
  if (times <= 0) return;
  const std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back({std::move(method), std::move(path_prefix), times, kind, http_status,
                     std::move(body), std::move(headers)});
}

void FaultTransport::ClearFaults() {
  const std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
}

void FaultTransport::SetResponseRewriter(
    std::function<void(const HttpRequest&, HttpResponse&)> rewriter) {
  const std::lock_guard<std::mutex> lock(mu_);
  rewriter_ = std::move(rewriter);
}

}  // namespace oversync::oversqlite::testing
