// File: libs/oversqlite/tests/test_server.h
//
// Fixtures for the client's end-to-end tests (test-only, never linked into the library):
//   * TestServer runs the reference server in-process, wired exactly like apps/oversyncd's
//     main.cc (business schema, the eight registered tables, bundle-change watch on, the App
//     behind a BeastServer), on a fresh PostgreSQL database of its own (OVERSYNC_TEST_DSN) and a
//     kernel-chosen loopback port, so tests never share state and `ctest -j` is safe.
//   * FaultTransport wraps a real Transport to count and record requests and to inject
//     failures (an HTTP error answer, a connection failure before the request, a response lost
//     after the server applied the request) or rewrite answers.
#ifndef OVERSYNC_OVERSQLITE_TESTS_TEST_SERVER_H_
#define OVERSYNC_OVERSQLITE_TESTS_TEST_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/common/clock.h"
#include "oversync/common/logger.h"
#include "oversync/common/status.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/transport.h"
#include "oversync/server/config.h"
#include "oversync/server/runtime_service.h"

namespace oversync::oversyncd {
class App;
class DbProbe;
}  // namespace oversync::oversyncd
namespace oversync::http_beast {
class BeastServer;
}  // namespace oversync::http_beast
namespace oversync::testing {
class PgTestDatabase;
}  // namespace oversync::testing

namespace oversync::oversqlite::testing {

// The wire profile the client tests run under: OVERSQLITE_TEST_WIRE_PROFILE when set (CTest
// runs every client test binary once per profile), else jcs_uniform_numeric_strings_v1 (the
// client's default for new databases).
std::string TestWireProfile();
// Whether TestWireProfile() is jcs_uniform_numeric_strings_v1 (profile-B message texts).
bool TestSpeaksProfileB();

// Every business table the reference server registers, locally (CREATE TABLE IF NOT EXISTS,
// so a test's own variant of a table, created first, wins).
extern const std::string_view kServerTablesDdl;

// A profile-B client must sync exactly the server's table set (kmp-client.md §3.2). Under
// profile B these complete a test's configuration and database with the server tables the test
// does not use (they stay empty); under profile A they change nothing.
void CompleteServerTableSet(Config& config);
Status CreateServerTables(const std::string& path);

// Client::CreateForPath / Client::Create after CompleteServerTableSet + CreateServerTables.
Result<std::unique_ptr<Client>> CreateTestClientForPath(const std::string& path, std::string base_url,
                                                        TokenProvider token_provider, Config config,
                                                        ClientDeps deps = {});
Result<std::unique_ptr<Client>> CreateTestClient(sqlite3* db, std::string base_url,
                                                 TokenProvider token_provider, Config config,
                                                 ClientDeps deps = {});

struct TestServerOptions {
  // The ServiceConfig::wire_profile of the server (applied before `configure`).
  std::string wire_profile = TestWireProfile();
  // HMAC secret the App verifies bearer tokens with (TokenFor signs with it).
  std::string jwt_secret = "test-secret";
  // RuntimeService pool size.
  int max_connections = 8;
  // BeastServer handler threads; a watch stream occupies one for its whole life.
  int worker_threads = 8;
  // Lifetime of the tokens TokenFor mints.
  std::chrono::seconds token_lifetime{3600};
  // Runtime log lines at or above this level go to stderr (the App logs every request there
  // regardless, like oversyncd).
  LogLevel runtime_log_level = LogLevel::kWarn;
  // SQL run on the database after the example business schema and before the runtime
  // bootstraps (e.g. the tables of another schema that `configure` registers). May be empty.
  std::string extra_business_ddl;
  // Runs on the ServiceConfig after the oversyncd defaults are applied and before
  // RuntimeService::Create (e.g. a short watch heartbeat, small chunk limits). May be empty.
  std::function<void(ServiceConfig&)> configure;
};

// The reference server, in-process. Startup mirrors oversyncd's main.cc; differences:
// background_retention is off (tests call service().RunRetentionPass() when they want pruning)
// and the database is a fresh PgTestDatabase dropped by the destructor.
//
// Thread-safety: base_url(), dsn(), TokenFor, QueryScalar, Exec and service() are thread-safe.
// Stop() and the destructor must not run concurrently with each other or from a server thread.
class TestServer {
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Creates the database, the business schema (schema "business"), the runtime (bootstrapped)
  // and the HTTP server on 127.0.0.1:<free port>.
  // Errors: kUnavailable when OVERSYNC_TEST_DSN is unset or PostgreSQL is unreachable (callers
  // GTEST_SKIP on it outside CI, like OVERSYNC_PG_TEST_DATABASE), otherwise whatever the failing
  // startup step returned.
  static Result<std::unique_ptr<TestServer>> Start(TestServerOptions opts = {});

  explicit TestServer(PrivateTag /*tag*/, TestServerOptions opts);
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  TestServer(TestServer&&) = delete;
  TestServer& operator=(TestServer&&) = delete;
  // Stop(), then drops the database.
  ~TestServer();

  // "http://127.0.0.1:PORT" (no trailing slash).
  std::string base_url() const;

  // An HS256 bearer token for `user_id` the App accepts (jwt::ExampleClaims, signed with
  // options.jwt_secret, valid for options.token_lifetime from now).
  // Errors: kInvalidArgument for a blank user id (the App would refuse it).
  Result<std::string> TokenFor(std::string_view user_id) const;

  // A client TokenProvider minting TokenFor(user_id) on every call. The TestServer must
  // outlive the returned function.
  std::function<Result<std::string>()> TokenProviderFor(std::string user_id) const;

  // libpq connection string of the test database.
  const std::string& dsn() const;

  // Runs one statement on a new connection; the first column of the first row as text ("" when
  // there is none). Errors: kDatabase.
  Result<std::string> QueryScalar(const std::string& sql) const;

  // Runs SQL (may be several statements) on a new connection. Errors: kDatabase.
  Status Exec(const std::string& sql) const;

  // The runtime behind the server; valid until the TestServer is destroyed (also after Stop).
  RuntimeService& service();

  // Stops the HTTP server (in-flight requests and streams finish first), then shuts the runtime
  // down. Idempotent.
  void Stop();

 private:
  // Declaration order is destruction order reversed: the server goes first, the database last.
  const TestServerOptions options_;
  const SystemClock clock_{};
  StderrLogger runtime_logger_;
  std::unique_ptr<oversync::testing::PgTestDatabase> database_;
  std::unique_ptr<oversyncd::DbProbe> probe_;
  std::unique_ptr<RuntimeService> service_;
  std::unique_ptr<oversyncd::App> app_;
  std::unique_ptr<http_beast::BeastServer> server_;
  std::string base_url_;
  bool stopped_ = false;
};

enum class FaultKind : std::uint8_t {
  // Answer `http_status` with the given body without forwarding (the server never sees the
  // request). Empty body: {"error":"service_unavailable","message":"injected"}.
  kHttpStatus,
  // Fail with kUnavailable "connection reset by peer" without forwarding.
  kTransportErrorBefore,
  // Forward the request (the server applies it), then drop the answer and fail with
  // kUnavailable: a response lost on the way back.
  kTransportErrorAfter,
};

// A Transport decorator for fault injection and request assertions.
//
// Matching: a request matches a queued fault when its method equals the fault's method (an
// empty fault method matches any) and its URL path (without query) starts with the fault's
// path prefix. The oldest matching fault with times left applies and uses up one time.
//
// Thread-safety: thread-safe (the client's operations and its watch stream call it
// concurrently); the wrapped transport must be thread-safe too.
class FaultTransport final : public Transport {
 public:
  // `inner` performs the forwarded requests (shared with the test, which may keep using it).
  // The last `max_recorded` requests are kept for Requests().
  explicit FaultTransport(std::shared_ptr<Transport> inner, std::size_t max_recorded = 256);
  FaultTransport(const FaultTransport&) = delete;
  FaultTransport& operator=(const FaultTransport&) = delete;
  FaultTransport(FaultTransport&&) = delete;
  FaultTransport& operator=(FaultTransport&&) = delete;
  ~FaultTransport() override = default;

  // Counts and records the request, applies a matching fault or forwards, then runs the
  // response rewriter on forwarded answers.
  Result<HttpResponse> Send(const HttpRequest& request) override;

  // Counts and records the request. kHttpStatus answers the status with the body (passed to
  // on_data when the status is 200, else to *error_body); kTransportErrorBefore fails without
  // forwarding; kTransportErrorAfter forwards the whole stream, then reports kUnavailable.
  // The rewriter does not apply to streams.
  Result<int> Stream(const HttpRequest& request,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     std::string* error_body) override;

  // Requests seen (faulted ones included) whose method equals `method` (empty = any) and whose
  // path starts with `path_prefix`.
  int Count(std::string_view method, std::string_view path_prefix) const;

  // Copies of the last max_recorded requests, oldest first (cancel pointers cleared).
  std::vector<HttpRequest> Requests() const;

  // Forgets counts and recorded requests (queued faults stay).
  void ResetCounts();

  // Queues a fault for the next `times` matching requests (see the class comment).
  // `headers` (lower-case names) are added to kHttpStatus answers, e.g. {"retry-after", "1"}.
  void FailNext(std::string method, std::string path_prefix, int times, FaultKind kind,
                int http_status = 503, std::string body = "",
                std::vector<std::pair<std::string, std::string>> headers = {});

  // Drops every queued fault.
  void ClearFaults();

  // Runs on every forwarded Send answer before the client sees it (not on injected answers);
  // empty removes it. Called without the internal lock, possibly concurrently.
  void SetResponseRewriter(std::function<void(const HttpRequest&, HttpResponse&)> rewriter);

  // The path of an absolute URL without query or fragment ("/sync/pull"); "/" when it has none.
  static std::string PathOf(std::string_view url);

 private:
  struct Fault {
    std::string method;
    std::string path_prefix;
    int remaining = 0;
    FaultKind kind = FaultKind::kHttpStatus;
    int http_status = 503;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  // Counts and records `request`, and takes one use of the first matching fault, if any.
  std::optional<Fault> Admit(const HttpRequest& request);

  const std::shared_ptr<Transport> inner_;
  const std::size_t max_recorded_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, int> counts_;        // guarded by mu_
  std::vector<HttpRequest> recorded_;                                // guarded by mu_
  std::vector<Fault> faults_;                                        // guarded by mu_
  std::function<void(const HttpRequest&, HttpResponse&)> rewriter_;  // guarded by mu_
};

}  // namespace oversync::oversqlite::testing

#endif  // OVERSYNC_OVERSQLITE_TESTS_TEST_SERVER_H_
