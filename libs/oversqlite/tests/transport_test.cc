// The libcurl Transport and the FaultTransport decorator against the in-process reference
// server (label e2e; needs OVERSYNC_TEST_DSN). Streams use the /sync/watch SSE endpoint with a
// 50 ms heartbeat, so body bytes arrive without any bundle being committed.
#include "oversync/oversqlite/transport.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "oversync/common/status.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

constexpr std::string_view kSourceId = "7f1c2a60-2b4e-4a39-9a0e-3d5c8f6b1e42";

// Owns a socket fd (only for finding a closed port).
class ScopedFd {
 public:
  explicit ScopedFd(int fd) noexcept : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ScopedFd(ScopedFd&&) = delete;
  ScopedFd& operator=(ScopedFd&&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

// A loopback port nobody listens on: bound by us (so the kernel picked a free one), then
// closed without listen(). Returns 0 if the sockets API fails.
std::uint16_t ClosedPort() {
  const ScopedFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  if (fd.get() < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return 0;
  }
  socklen_t length = sizeof(address);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  return ntohs(address.sin_port);
}

std::string HeaderValue(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

class TransportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestServerOptions options;
    options.configure = [](ServiceConfig& config) {
      config.bundle_change_watch.heartbeat_interval = std::chrono::milliseconds(50);
    };
    auto started = TestServer::Start(std::move(options));
    if (!started) {
      suite().start_error = started.error();
      return;
    }
    suite().server = std::move(*started);
  }

  static void TearDownTestSuite() { suite().server.reset(); }

  void SetUp() override {
    if (suite().server == nullptr) {
      // Like OVERSYNC_PG_TEST_DATABASE: no PostgreSQL skips, except under CI.
      if (suite().start_error.code() == ErrorCode::kUnavailable && std::getenv("CI") == nullptr) {
        GTEST_SKIP() << suite().start_error.ToString();
      }
      FAIL() << suite().start_error.ToString();
    }
    auto transport = MakeCurlTransport();
    ASSERT_TRUE(transport.has_value()) << transport.error().ToString();
    transport_ = std::move(*transport);
  }

  static HttpRequest Request(std::string method, std::string_view path,
                             std::string_view user = "u1") {
    HttpRequest request;
    request.method = std::move(method);
    request.url = server().base_url() + std::string(path);
    if (!user.empty()) {
      auto token = server().TokenFor(user);
      EXPECT_TRUE(token.has_value());
      if (token) request.headers.emplace_back("Authorization", "Bearer " + *token);
      request.headers.emplace_back("Oversync-Source-ID", std::string(kSourceId));
    }
    return request;
  }

  // POST /sync/connect so the scope exists before a watch subscribes to it.
  void Connect(std::string_view user) {
    HttpRequest request = Request("POST", "/sync/connect", user);
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = R"({"has_local_pending_rows":false})";
    auto response = transport().Send(request);
    ASSERT_TRUE(response.has_value()) << response.error().ToString();
    ASSERT_EQ(response->status, 200) << response->body;
  }

  static TestServer& server() { return *suite().server; }
  Transport& transport() { return *transport_; }
  const std::shared_ptr<Transport>& shared_transport() const { return transport_; }

 private:
  // One server per suite: starting one costs a database and a bootstrap.
  struct Suite {
    std::unique_ptr<TestServer> server;
    Status start_error;
  };
  static Suite& suite() {
    static Suite instance;
    return instance;
  }

  std::shared_ptr<Transport> transport_;
};

TEST_F(TransportTest, GetCapabilitiesWithToken) {
  for (int round = 0; round < 3; ++round) {  // later rounds reuse the pooled handle
    auto response = transport().Send(Request("GET", "/sync/capabilities"));
    ASSERT_TRUE(response.has_value()) << response.error().ToString();
    EXPECT_EQ(response->status, 200) << response->body;
    EXPECT_NE(response->body.find("\"features\""), std::string::npos) << response->body;
    EXPECT_NE(HeaderValue(*response, "content-type").find("application/json"), std::string::npos);
    for (const auto& header : response->headers) {
      for (const char c : header.first) EXPECT_FALSE(c >= 'A' && c <= 'Z') << header.first;
    }
  }
}

TEST_F(TransportTest, MissingTokenIsAnHttpAnswerNotAnError) {
  auto response = transport().Send(Request("GET", "/sync/capabilities", ""));
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 401);
  EXPECT_EQ(response->body, "Authorization header required\n");
}

TEST_F(TransportTest, PostWithEmptyBodyReachesTheHandler) {
  // Content-Length: 0 is sent, so the handler parses an empty body (Go: invalid JSON).
  auto empty = transport().Send(Request("POST", "/dummy-signin", ""));
  ASSERT_TRUE(empty.has_value()) << empty.error().ToString();
  EXPECT_EQ(empty->status, 400);
  EXPECT_NE(empty->body.find("invalid JSON"), std::string::npos) << empty->body;

  HttpRequest signin = Request("POST", "/dummy-signin", "");
  signin.headers.emplace_back("Content-Type", "application/json");
  signin.body = R"({"user":"bob","password":"x"})";
  auto ok = transport().Send(signin);
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_NE(ok->body.find(R"("user":"bob")"), std::string::npos) << ok->body;
}

TEST_F(TransportTest, DeleteIsSent) {
  Connect("u1");
  auto response = transport().Send(Request("DELETE", "/sync/push-sessions/no-such-session"));
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  // Routed as DELETE (a GET would be 405): the session simply does not exist.
  EXPECT_GE(response->status, 400) << response->body;
  EXPECT_LT(response->status, 500) << response->body;
  EXPECT_NE(response->status, 405) << response->body;
}

TEST_F(TransportTest, ClosedPortIsUnavailable) {
  const std::uint16_t port = ClosedPort();
  ASSERT_NE(port, 0);
  HttpRequest request;
  request.method = "GET";
  request.url = fmt::format("http://127.0.0.1:{}/sync/capabilities", port);
  auto response = transport().Send(request);
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kUnavailable) << response.error().ToString();
}

TEST_F(TransportTest, MalformedUrlAndUnsupportedMethodAreInvalidArguments) {
  HttpRequest request;
  request.method = "GET";
  request.url = "ftp://127.0.0.1/x";
  auto ftp = transport().Send(request);
  ASSERT_FALSE(ftp.has_value());
  EXPECT_EQ(ftp.error().code(), ErrorCode::kInvalidArgument) << ftp.error().ToString();

  request.url = "http://[::1";
  auto malformed = transport().Send(request);
  ASSERT_FALSE(malformed.has_value());
  EXPECT_EQ(malformed.error().code(), ErrorCode::kInvalidArgument) << malformed.error().ToString();

  HttpRequest put = Request("PUT", "/sync/capabilities");
  auto unsupported = transport().Send(put);
  ASSERT_FALSE(unsupported.has_value());
  EXPECT_EQ(unsupported.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(TransportTest, StreamStoppedByConsumerIsOk) {
  Connect("u1");
  HttpRequest request = Request("GET", "/sync/watch?after_bundle_seq=0");
  request.timeout_ms = 0;
  std::string first;
  std::string error_body;
  auto status = transport().Stream(
      request,
      [&first](std::string_view chunk) {
        first = std::string(chunk);
        return false;
      },
      &error_body);
  ASSERT_TRUE(status.has_value()) << status.error().ToString();
  EXPECT_EQ(*status, 200) << error_body;
  EXPECT_NE(first.find("heartbeat"), std::string::npos) << first;

  // The aborted stream's handle was discarded; the transport still works.
  auto after = transport().Send(Request("GET", "/sync/capabilities"));
  ASSERT_TRUE(after.has_value()) << after.error().ToString();
  EXPECT_EQ(after->status, 200);
}

TEST_F(TransportTest, StreamTimeoutIsDeadlineExceeded) {
  Connect("u1");
  HttpRequest request = Request("GET", "/sync/watch?after_bundle_seq=0");
  request.timeout_ms = 300;
  int chunks = 0;
  const auto started = std::chrono::steady_clock::now();
  auto status = transport().Stream(
      request,
      [&chunks](std::string_view /*chunk*/) {
        ++chunks;
        return true;
      },
      nullptr);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code(), ErrorCode::kDeadlineExceeded) << status.error().ToString();
  EXPECT_GE(chunks, 1);  // heartbeats every 50 ms arrived before the deadline
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST_F(TransportTest, StreamCancelledFromAnotherThread) {
  Connect("u1");
  HttpRequest request = Request("GET", "/sync/watch?after_bundle_seq=0");
  request.timeout_ms = 0;
  std::atomic<bool> cancel{false};
  request.cancel = &cancel;
  std::atomic<bool> got_data{false};
  Result<int> status = 0;
  std::thread streamer([&] {
    status = transport().Stream(
        request,
        [&](std::string_view /*chunk*/) {
          got_data.store(true);
          // Raised by the consumer itself, the way a Close() racing the stream would.
          cancel.store(true);
          return true;
        },
        nullptr);
  });
  streamer.join();
  EXPECT_TRUE(got_data.load());
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code(), ErrorCode::kCancelled) << status.error().ToString();
}

TEST_F(TransportTest, CancelledBeforeStartNeverSends) {
  std::atomic<bool> cancel{true};
  HttpRequest request = Request("GET", "/sync/capabilities");
  request.cancel = &cancel;
  auto response = transport().Send(request);
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code(), ErrorCode::kCancelled);
}

TEST_F(TransportTest, StreamNon200CollectsErrorBody) {
  HttpRequest request = Request("GET", "/sync/watch", "");
  request.timeout_ms = 5000;
  std::string error_body;
  bool called = false;
  auto status = transport().Stream(
      request,
      [&called](std::string_view /*chunk*/) {
        called = true;
        return true;
      },
      &error_body);
  ASSERT_TRUE(status.has_value()) << status.error().ToString();
  EXPECT_EQ(*status, 401);
  EXPECT_FALSE(called);
  EXPECT_EQ(error_body, "Authorization header required\n");
}

TEST_F(TransportTest, ConcurrentSendsShareTheTransport) {
  constexpr int kThreads = 4;
  constexpr int kRequestsPerThread = 10;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  const HttpRequest request = Request("GET", "/sync/capabilities");
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRequestsPerThread; ++i) {
        auto response = transport().Send(request);
        if (response.has_value() && response->status == 200) ok.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kRequestsPerThread);
}

TEST_F(TransportTest, FaultTransportInjectsAndCounts) {
  FaultTransport faults(shared_transport());
  faults.FailNext("GET", "/sync/capabilities", 1, FaultKind::kHttpStatus);
  faults.FailNext("GET", "/sync/capabilities", 1, FaultKind::kTransportErrorBefore);

  auto injected = faults.Send(Request("GET", "/sync/capabilities?x=1"));
  ASSERT_TRUE(injected.has_value());
  EXPECT_EQ(injected->status, 503);
  EXPECT_EQ(injected->body, R"({"error":"service_unavailable","message":"injected"})");

  auto reset = faults.Send(Request("GET", "/sync/capabilities"));
  ASSERT_FALSE(reset.has_value());
  EXPECT_EQ(reset.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(reset.error().message().find("connection reset by peer"), std::string::npos);

  auto real = faults.Send(Request("GET", "/sync/capabilities"));
  ASSERT_TRUE(real.has_value()) << real.error().ToString();
  EXPECT_EQ(real->status, 200);
  EXPECT_EQ(faults.Count("GET", "/sync/capabilities"), 3);
  EXPECT_EQ(faults.Count("GET", "/sync/"), 3);
  EXPECT_EQ(faults.Count("POST", "/sync/capabilities"), 0);

  // Lost response: the server applied the connect, the client saw a transport error.
  faults.FailNext("POST", "/sync/connect", 1, FaultKind::kTransportErrorAfter);
  HttpRequest connect = Request("POST", "/sync/connect", "u2");
  connect.headers.emplace_back("Content-Type", "application/json");
  connect.body = R"({"has_local_pending_rows":false})";
  auto lost = faults.Send(connect);
  ASSERT_FALSE(lost.has_value());
  EXPECT_EQ(lost.error().code(), ErrorCode::kUnavailable);
  auto users = server().QueryScalar("SELECT count(*) FROM sync.user_state WHERE user_id = 'u2'");
  ASSERT_TRUE(users.has_value()) << users.error().ToString();
  EXPECT_EQ(*users, "1");

  faults.SetResponseRewriter(
      [](const HttpRequest& /*request*/, HttpResponse& response) { response.body = "rewritten"; });
  auto rewritten = faults.Send(Request("GET", "/sync/capabilities"));
  ASSERT_TRUE(rewritten.has_value());
  EXPECT_EQ(rewritten->body, "rewritten");
  faults.SetResponseRewriter(nullptr);

  const std::vector<HttpRequest> requests = faults.Requests();
  ASSERT_EQ(requests.size(), 5U);
  EXPECT_EQ(requests.front().url, server().base_url() + "/sync/capabilities?x=1");
  EXPECT_EQ(requests[3].method, "POST");
  EXPECT_EQ(requests[3].body, R"({"has_local_pending_rows":false})");
  bool has_auth = false;
  for (const auto& [name, value] : requests.front().headers) {
    has_auth = has_auth || (name == "Authorization" && value.rfind("Bearer ", 0) == 0);
  }
  EXPECT_TRUE(has_auth);
  EXPECT_EQ(FaultTransport::PathOf("http://h:1/a/b?c=d#e"), "/a/b");
  EXPECT_EQ(FaultTransport::PathOf("http://h:1"), "/");

  // Streams are counted and can be faulted too.
  faults.FailNext("GET", "/sync/watch", 1, FaultKind::kHttpStatus, 500, "boom");
  std::string error_body;
  auto stream = faults.Stream(
      Request("GET", "/sync/watch"), [](std::string_view /*chunk*/) { return false; }, &error_body);
  ASSERT_TRUE(stream.has_value());
  EXPECT_EQ(*stream, 500);
  EXPECT_EQ(error_body, "boom");
  EXPECT_EQ(faults.Count("GET", "/sync/watch"), 1);
}

}  // namespace
}  // namespace oversync::oversqlite::testing
