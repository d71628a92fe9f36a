#include "device.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <regex>
#include <system_error>
#include <thread>
#include <utility>

#include "oversync/oversqlite/errors.h"
#include "oversync/protocol/json_value.h"

namespace oversync::sim {

std::chrono::milliseconds WatchConvergeDeadline(int parallel) {
  constexpr std::chrono::milliseconds kBase{5000};
  constexpr std::chrono::milliseconds kLoaded{600'000};
  return parallel <= 4 ? kBase : kLoaded;
}
namespace {

using oversqlite::AttachResult;
using oversqlite::AttachStatus;
using oversqlite::ClientErrorKind;
using oversqlite::HttpRequest;
using oversqlite::HttpResponse;

struct SqliteCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// The URL path without scheme, host and query.
std::string_view PathOf(std::string_view url) {
  if (const std::size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    const std::size_t start = url.find('/', scheme + 3);
    if (start == std::string_view::npos) return "/";
    url = url.substr(start);
  }
  return url.substr(0, url.find_first_of("?#"));
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::int64_t ArraySize(const protocol::JsonValue* value) {
  return value != nullptr && value->is_array() ? static_cast<std::int64_t>(value->as_array().size())
                                               : 0;
}

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

const std::string_view kDeviceSchemaDdl = R"sql(
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS posts (
  id TEXT PRIMARY KEY NOT NULL,
  title TEXT NOT NULL,
  content TEXT NOT NULL,
  author_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  FOREIGN KEY (author_id) REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS categories (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  parent_id TEXT,
  FOREIGN KEY (parent_id) REFERENCES categories(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS teams (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  captain_member_id TEXT,
  FOREIGN KEY (captain_member_id) REFERENCES team_members(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS team_members (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  team_id TEXT NOT NULL,
  FOREIGN KEY (team_id) REFERENCES teams(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS files (
  id BLOB PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS file_reviews (
  id BLOB PRIMARY KEY NOT NULL,
  review TEXT NOT NULL,
  file_id BLOB NOT NULL,
  FOREIGN KEY (file_id) REFERENCES files(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS typed_rows (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  note TEXT NULL,
  count_value INTEGER NULL,
  enabled_flag INTEGER NOT NULL,
  rating REAL NULL,
  data BLOB NULL,
  created_at TEXT NULL);
)sql";

std::vector<oversqlite::SyncTable> ManagedTables() {
  std::vector<oversqlite::SyncTable> tables;
  for (const char* name : {"users", "posts", "categories", "teams", "team_members", "files",
                           "file_reviews", "typed_rows"}) {
    tables.push_back({name, "id", {}});
  }
  return tables;
}

// ---- SimTransport ----

std::string_view SimTransport::SyncPath(const HttpRequest& request) const {
  std::string_view path = PathOf(request.url);
  if (!base_path_.empty() && StartsWith(path, base_path_)) path.remove_prefix(base_path_.size());
  return path;
}

void SimTransport::CountAnswer(const HttpRequest& request, const HttpResponse& response) {
  if (response.status >= 400) {
    counters_->http_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::string_view path = SyncPath(request);
  const bool is_commit = request.method == "POST" && StartsWith(path, "/sync/push-sessions/") &&
                         EndsWith(path, "/commit");
  const bool is_pull = request.method == "GET" && path == "/sync/pull";
  const bool is_snapshot_chunk =
      request.method == "GET" && StartsWith(path, "/sync/snapshot-sessions/");
  if (!is_commit && !is_pull && !is_snapshot_chunk) return;
  Result<protocol::JsonValue> body = protocol::ParseJson(response.body);
  if (!body.has_value() || !body->is_object()) return;
  if (is_commit) {
    counters_->bundles_pushed.fetch_add(1, std::memory_order_relaxed);
    if (const protocol::JsonValue* rows = body->Find("row_count");
        rows != nullptr && rows->is_number()) {
      counters_->rows_pushed.fetch_add(static_cast<std::int64_t>(rows->as_number().value),
                                       std::memory_order_relaxed);
    }
  } else if (is_pull) {
    const protocol::JsonValue* bundles = body->Find("bundles");
    counters_->bundles_pulled.fetch_add(ArraySize(bundles), std::memory_order_relaxed);
    if (bundles != nullptr && bundles->is_array()) {
      for (const protocol::JsonValue& bundle : bundles->as_array()) {
        counters_->rows_pulled.fetch_add(ArraySize(bundle.Find("rows")), std::memory_order_relaxed);
      }
    }
  } else {
    counters_->snapshot_chunks.fetch_add(1, std::memory_order_relaxed);
    counters_->rows_pulled.fetch_add(ArraySize(body->Find("rows")), std::memory_order_relaxed);
  }
}

Result<HttpResponse> SimTransport::Send(const HttpRequest& request) {
  counters_->requests.fetch_add(1, std::memory_order_relaxed);
  if (offline_.load()) {
    counters_->transport_errors.fetch_add(1, std::memory_order_relaxed);
    return Error(ErrorCode::kUnavailable, fmt::format("{} {}: network unreachable (device offline)",
                                                      request.method, PathOf(request.url)));
  }
  Result<HttpResponse> response = inner_->Send(request);
  if (!response.has_value()) {
    counters_->transport_errors.fetch_add(1, std::memory_order_relaxed);
    return response;
  }
  if (hide_watch_.load() && response->status == 200 && SyncPath(request) == "/sync/capabilities") {
    static const std::regex kWatchOn(R"re("bundle_change_watch"\s*:\s*true)re");
    std::string rewritten =
        std::regex_replace(response->body, kWatchOn, R"("bundle_change_watch":false)");
    if (rewritten != response->body) {
      response->body = std::move(rewritten);
      capabilities_rewritten_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  CountAnswer(request, *response);
  return response;
}

Result<int> SimTransport::Stream(const HttpRequest& request,
                                 const std::function<bool(std::string_view chunk)>& on_data,
                                 std::string* error_body) {
  counters_->requests.fetch_add(1, std::memory_order_relaxed);
  if (SyncPath(request) == "/sync/watch") {
    counters_->watch_requests.fetch_add(1, std::memory_order_relaxed);
  }
  if (offline_.load()) {
    counters_->transport_errors.fetch_add(1, std::memory_order_relaxed);
    return Error(ErrorCode::kUnavailable, "watch stream: network unreachable (device offline)");
  }
  Result<int> status = inner_->Stream(request, on_data, error_body);
  // A cancelled stream is the client stopping its watch, not a failure.
  if (!status.has_value()) {
    if (status.error().code() != ErrorCode::kCancelled) {
      counters_->transport_errors.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (*status >= 400) {
    counters_->http_errors.fetch_add(1, std::memory_order_relaxed);
  }
  return status;
}

// ---- Device ----

Device::Device(PrivateTag /*tag*/, const DeviceEnv& env, std::string name,
               std::filesystem::path path, std::shared_ptr<TrafficCounters> counters,
               ConfigTweak tweak)
    : env_(env),
      name_(std::move(name)),
      path_(std::move(path)),
      counters_(std::move(counters)),
      tweak_(std::move(tweak)) {}

Device::~Device() { Stop(); }

Result<std::unique_ptr<Device>> Device::Launch(const DeviceEnv& env, std::string name,
                                               std::filesystem::path path,
                                               std::shared_ptr<TrafficCounters> counters,
                                               ConfigTweak tweak) {
  auto device = std::make_unique<Device>(PrivateTag{}, env, std::move(name), std::move(path),
                                         std::move(counters), std::move(tweak));
  OVERSYNC_ASSIGN_OR_RETURN(std::shared_ptr<oversqlite::Transport> curl,
                            oversqlite::MakeCurlTransport());
  std::string base_path(PathOf(env.base_url));
  while (!base_path.empty() && base_path.back() == '/') base_path.pop_back();
  device->transport_ =
      std::make_shared<SimTransport>(std::move(curl), device->counters_, std::move(base_path));
  OVERSYNC_RETURN_IF_ERROR(device->StartClient());
  return device;
}

Status Device::StartClient() {
  {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open(path_.c_str(), &raw);
    std::unique_ptr<sqlite3, SqliteCloser> db(raw);
    if (rc != SQLITE_OK) {
      return Status(ErrorCode::kDatabase, fmt::format("{}: open {}: {}", name_, path_.string(),
                                                      raw != nullptr ? sqlite3_errmsg(raw) : "?"));
    }
    char* error = nullptr;
    if (sqlite3_exec(db.get(), std::string(kDeviceSchemaDdl).c_str(), nullptr, nullptr, &error) !=
        SQLITE_OK) {
      std::string message = error != nullptr ? error : "?";
      sqlite3_free(error);
      return Status(ErrorCode::kDatabase, fmt::format("{}: create tables: {}", name_, message));
    }
  }
  oversqlite::Config config = oversqlite::DefaultConfig("business", ManagedTables());
  // mobile_flow's scenario defaults (client.md §10).
  config.upload_limit = 100;
  config.download_limit = 100;
  config.wire_profile = env_.wire_profile;
  oversqlite::RetryPolicy retry;
  retry.max_attempts = 3;
  retry.initial_backoff = oversqlite::Duration(50);
  retry.max_backoff = oversqlite::Duration(500);
  config.retry_policy = retry;
  if (tweak_) tweak_(config);

  oversqlite::ClientDeps deps;
  deps.transport = transport_;
  deps.logger = env_.client_logger;
  std::shared_ptr<UserSlot> slot = user_slot_;
  auto mint = env_.mint_token;
  oversqlite::TokenProvider tokens = [slot, mint]() -> Result<std::string> {
    std::string user;
    {
      const std::lock_guard<std::mutex> lock(slot->mu);
      user = slot->user;
    }
    if (user.empty()) return Error(ErrorCode::kAuthenticationFailed, "no signed-in user");
    return mint(user);
  };
  OVERSYNC_ASSIGN_OR_RETURN(
      client_, oversqlite::Client::CreateForPath(path_.string(), env_.base_url, std::move(tokens),
                                                 config, deps));
  return client_->Open().WithContext(name_ + ": open");
}

void Device::Stop() {
  if (client_ != nullptr) {
    client_->Close();
    client_.reset();
  }
}

Status Device::Restart() {
  Stop();
  OVERSYNC_RETURN_IF_ERROR(StartClient());
  if (!user_.empty()) {
    OVERSYNC_RETURN_IF_ERROR(SignIn(user_));
  }
  return {};
}

Status Device::Uninstall() {
  Stop();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code error;
    std::filesystem::remove(path_.string() + suffix, error);
    if (error) return Status(ErrorCode::kIo, fmt::format("{}: remove: {}", name_, error.message()));
  }
  user_.clear();
  return {};
}

Result<AttachResult> Device::SignIn(std::string_view user_view) {
  // A copy: `user_view` may point into user_, which is reassigned below (Restart passes it).
  const std::string user_id(user_view);
  {
    const std::lock_guard<std::mutex> lock(user_slot_->mu);
    user_slot_->user = user_id;
  }
  user_ = user_id;
  Status last(ErrorCode::kUnavailable, "no attach attempt");
  for (int attempt = 1; attempt <= 8; ++attempt) {
    const auto start = std::chrono::steady_clock::now();
    Result<AttachResult> attached = client_->Attach(user_id);
    if (env_.latencies != nullptr) env_.latencies->Record(Op::kAttach, MillisSince(start));
    if (!attached.has_value()) {
      if (!IsTransient(attached.error())) {
        return Error(attached.error().WithContext(name_ + ": attach"));
      }
      last = attached.error();
    } else if (attached->status == AttachStatus::kConnected) {
      return attached;
    } else {
      last = Status(ErrorCode::kUnavailable, "attach: retry later");
      std::this_thread::sleep_for(
          std::clamp(attached->retry_after, oversqlite::Duration(50), oversqlite::Duration(2000)));
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100) * attempt);
  }
  return Error(last.WithContext(name_ + ": attach did not connect after 8 attempts"));
}

Result<oversqlite::DetachResult> Device::Detach() {
  Result<oversqlite::DetachResult> detached = client_->Detach();
  if (!detached.has_value()) return Error(detached.error().WithContext(name_ + ": detach"));
  if (detached->outcome == oversqlite::DetachOutcome::kDetached) {
    const std::lock_guard<std::mutex> lock(user_slot_->mu);
    user_slot_->user.clear();
    user_.clear();
  }
  return detached;
}

bool Device::IsTransient(const Status& status) const {
  if (status.code() == ErrorCode::kUnavailable || status.code() == ErrorCode::kDeadlineExceeded) {
    return true;
  }
  const ClientErrorKind kind = oversqlite::ClientErrorKindOf(status);
  return kind == ClientErrorKind::kRetryExhausted ||
         kind == ClientErrorKind::kSyncOperationInProgress;
}

Result<oversqlite::PushReport> Device::PushOnce() {
  const auto start = std::chrono::steady_clock::now();
  Result<oversqlite::PushReport> report = client_->PushPending();
  if (env_.latencies != nullptr) env_.latencies->Record(Op::kPush, MillisSince(start));
  if (!report.has_value()) return Error(report.error().WithContext(name_ + ": push"));
  return report;
}

Result<oversqlite::PushReport> Device::Push() {
  for (int attempt = 1;; ++attempt) {
    Result<oversqlite::PushReport> report = PushOnce();
    if (report.has_value() || attempt >= 5 || !IsTransient(report.error())) return report;
    std::this_thread::sleep_for(std::chrono::milliseconds(500) * attempt);
  }
}

Result<oversqlite::RemoteSyncReport> Device::PullOnce() {
  const auto start = std::chrono::steady_clock::now();
  Result<oversqlite::RemoteSyncReport> report = client_->PullToStable();
  const double ms = MillisSince(start);
  if (env_.latencies != nullptr) {
    env_.latencies->Record(
        report.has_value() && report->outcome == oversqlite::RemoteSyncOutcome::kAppliedSnapshot
            ? Op::kSnapshot
            : Op::kPull,
        ms);
  }
  if (!report.has_value()) return Error(report.error().WithContext(name_ + ": pull"));
  return report;
}

Result<oversqlite::RemoteSyncReport> Device::Pull() {
  for (int attempt = 1;; ++attempt) {
    Result<oversqlite::RemoteSyncReport> report = PullOnce();
    if (report.has_value() || attempt >= 5 || !IsTransient(report.error())) return report;
    std::this_thread::sleep_for(std::chrono::milliseconds(500) * attempt);
  }
}

Result<oversqlite::RemoteSyncReport> Device::Rebuild() {
  const auto start = std::chrono::steady_clock::now();
  Result<oversqlite::RemoteSyncReport> report = client_->Rebuild();
  if (env_.latencies != nullptr) env_.latencies->Record(Op::kSnapshot, MillisSince(start));
  if (!report.has_value()) return Error(report.error().WithContext(name_ + ": rebuild"));
  return report;
}

Status Device::SyncRound() {
  OVERSYNC_RETURN_IF_ERROR(Push());
  OVERSYNC_RETURN_IF_ERROR(Pull());
  return {};
}

Status Device::Exec(std::string_view sql) {
  char* error = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(client_->db(), text.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "?";
    sqlite3_free(error);
    // A failed multi-statement transaction must not stay open on the app's handle.
    if (sqlite3_get_autocommit(client_->db()) == 0) {
      sqlite3_exec(client_->db(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    return Status(ErrorCode::kDatabase, fmt::format("{}: {}: {}", name_, text, message));
  }
  return {};
}

Result<std::vector<std::string>> Device::Column(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(client_->db(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    return Error(ErrorCode::kDatabase,
                 fmt::format("{}: {}: {}", name_, sql, sqlite3_errmsg(client_->db())));
  }
  const StmtPtr stmt(raw);
  std::vector<std::string> out;
  for (;;) {
    const int rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      return Error(ErrorCode::kDatabase,
                   fmt::format("{}: {}: {}", name_, sql, sqlite3_errmsg(client_->db())));
    }
    const unsigned char* text = sqlite3_column_text(stmt.get(), 0);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's unsigned text
    out.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
  }
  return out;
}

Result<std::string> Device::Text(std::string_view sql) {
  OVERSYNC_ASSIGN_OR_RETURN(std::vector<std::string> rows, Column(sql));
  return rows.empty() ? std::string() : rows.front();
}

Result<std::int64_t> Device::Int(std::string_view sql) {
  OVERSYNC_ASSIGN_OR_RETURN(std::string text, Text(sql));
  if (text.empty()) return Error(ErrorCode::kDatabase, fmt::format("{}: {}: no value", name_, sql));
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return Error(ErrorCode::kDatabase, fmt::format("{}: {}: not an integer: {}", name_, sql, text));
  }
  return value;
}

Result<std::int64_t> Device::Count(std::string_view table) {
  return Int(fmt::format("SELECT count(*) FROM {}", table));
}

Result<std::int64_t> Device::DirtyRows() { return Int("SELECT count(*) FROM _sync_dirty_rows"); }

Result<std::int64_t> Device::Checkpoint() {
  return Int("SELECT last_bundle_seq_seen FROM _sync_attachment_state");
}

}  // namespace oversync::sim
