// End-to-end tests of BeastServer over real loopback TCP with a blocking POSIX-socket client.
#include "oversync/http_beast/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "oversync/http/router.h"
#include "oversync/http/testing/loopback_client.h"

namespace oversync::http_beast {
namespace {

using http::PathParams;
using http::Request;
using http::Response;
using http::testing::ClientResponse;
using http::testing::LoopbackClient;

// Upper bound for waits on events that must happen; a timeout is a failure, never a schedule.
constexpr auto kEventTimeout = std::chrono::seconds(10);

class BeastServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(router_
                    .Add("GET", "/hello",
                         [this](const Request& request, const PathParams&) {
                           ++calls_;
                           const std::string name = request.FirstQueryValue("name").value_or("");
                           return Response::Json(200, R"({"hello":")" + name + R"("})");
                         })
                    .ok());
    ASSERT_TRUE(router_
                    .Add("POST", "/echo/{id}",
                         [this](const Request& request, const PathParams& params) {
                           ++calls_;
                           Response response = Response::Text(
                               200, std::string(params.Get("id")) + ":" + request.body + ":" +
                                        std::string(request.Header("x-test").value_or("-")));
                           return response;
                         })
                    .ok());
    ASSERT_TRUE(router_
                    .Add("GET", "/boom",
                         [](const Request&, const PathParams&) -> Response {
                           throw std::runtime_error("boom");
                         })
                    .ok());
    ASSERT_TRUE(router_
                    .Add("GET", "/stream",
                         [](const Request&, const PathParams&) {
                           return Response::Stream(
                               200, {{"Content-Type", "text/event-stream"}},
                               [](http::ResponseStream& stream) {
                                 for (int i = 0; i < 3; ++i) {
                                   if (!stream.Write("data: " + std::to_string(i) + "\n\n")) return;
                                   if (!stream.Flush()) return;
                                 }
                               });
                         })
                    .ok());
  }

  void StartServer(const BeastServerOptions& options = {}) {
    Result<std::unique_ptr<BeastServer>> server = BeastServer::Start(
        options, [this](const Request& request) { return router_.Handle(request); });
    ASSERT_TRUE(server.has_value()) << server.error().ToString();
    server_ = std::move(*server);
    ASSERT_NE(server_->port(), 0);
  }

  LoopbackClient Connect() {
    Result<LoopbackClient> client = LoopbackClient::Connect(server_->port());
    EXPECT_TRUE(client.has_value()) << client.error().ToString();
    return std::move(client).value();
  }

  http::Router router_;
  std::atomic<int> calls_{0};
  std::unique_ptr<BeastServer> server_;
};

TEST_F(BeastServerTest, Get) {
  StartServer();
  LoopbackClient client = Connect();
  Result<ClientResponse> response = client.RoundTrip("GET", "/hello?name=a+b&name=c");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "{\"hello\":\"a b\"}\n");
  EXPECT_EQ(response->Header("Content-Type"), "application/json");
  EXPECT_EQ(response->Header("Content-Length"), std::to_string(response->body.size()));
  EXPECT_TRUE(response->Header("Date").has_value());
  EXPECT_FALSE(response->chunked);
}

TEST_F(BeastServerTest, PostWithBody) {
  StartServer();
  LoopbackClient client = Connect();
  Result<ClientResponse> response =
      client.RoundTrip("POST", "/echo/p%201", {{"X-Test", "yes"}}, R"({"rows":[1,2,3]})");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "p 1:{\"rows\":[1,2,3]}:yes\n");
  EXPECT_EQ(response->Header("Content-Type"), "text/plain; charset=utf-8");
}

TEST_F(BeastServerTest, ChunkedRequestBody) {
  StartServer();
  LoopbackClient client = Connect();
  ASSERT_TRUE(client
                  .Send("POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
                  .ok());
  Result<ClientResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "c:abcde:-\n");
}

TEST_F(BeastServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  StartServer();
  LoopbackClient client = Connect();
  Result<ClientResponse> first = client.RoundTrip("GET", "/hello?name=1");
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(first->status, 200);
  EXPECT_NE(first->Header("Connection"), "close");
  Result<ClientResponse> second = client.RoundTrip("POST", "/echo/2", {}, "x");
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, "2:x:-\n");
  EXPECT_EQ(calls_.load(), 2);
}

TEST_F(BeastServerTest, PipelinedRequestsAnsweredInOrder) {
  StartServer();
  LoopbackClient client = Connect();
  ASSERT_TRUE(client
                  .Send(http::testing::FormatRequest("GET", "/hello?name=one") +
                        http::testing::FormatRequest("GET", "/hello?name=two"))
                  .ok());
  Result<ClientResponse> first = client.ReadResponse();
  Result<ClientResponse> second = client.ReadResponse();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->body, "{\"hello\":\"one\"}\n");
  EXPECT_EQ(second->body, "{\"hello\":\"two\"}\n");
}

TEST_F(BeastServerTest, ConnectionCloseIsHonoured) {
  StartServer();
  LoopbackClient client = Connect();
  Result<ClientResponse> response = client.RoundTrip("GET", "/hello", {{"Connection", "close"}});
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->Header("Connection"), "close");
  EXPECT_TRUE(client.WaitForClose().ok());
}

TEST_F(BeastServerTest, OversizedBodyIs413BeforeTheBodyIsRead) {
  BeastServerOptions options;
  options.max_request_body_bytes = 1024;
  StartServer(options);
  LoopbackClient client = Connect();
  // Only the header is sent: the answer must not wait for the 4096 announced bytes.
  ASSERT_TRUE(
      client.Send("POST /echo/big HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n").ok());
  Result<ClientResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->body, "Request Entity Too Large\n");
  EXPECT_EQ(response->Header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(response->Header("Connection"), "close");
  EXPECT_TRUE(client.WaitForClose().ok());
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(BeastServerTest, OversizedBodyWithExpectContinueGets413Not100) {
  BeastServerOptions options;
  options.max_request_body_bytes = 1024;
  StartServer(options);
  LoopbackClient client = Connect();
  ASSERT_TRUE(client
                  .Send("POST /echo/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n"
                        "Expect: 100-continue\r\n\r\n")
                  .ok());
  Result<ClientResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 413);
}

TEST_F(BeastServerTest, ExpectContinueWithinLimitGets100ThenAnswer) {
  StartServer();
  LoopbackClient client = Connect();
  ASSERT_TRUE(client
                  .Send("POST /echo/e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                        "Expect: 100-continue\r\n\r\n")
                  .ok());
  Result<ClientResponse> interim = client.ReadResponse();
  ASSERT_TRUE(interim.has_value()) << interim.error().ToString();
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.Send("ok").ok());
  Result<ClientResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "e:ok:-\n");
}

TEST_F(BeastServerTest, OversizedChunkedBodyIs413) {
  BeastServerOptions options;
  options.max_request_body_bytes = 4;
  StartServer(options);
  LoopbackClient client = Connect();
  ASSERT_TRUE(client
                  .Send("POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")
                  .ok());
  Result<ClientResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(BeastServerTest, BodyAtTheLimitIsAccepted) {
  BeastServerOptions options;
  options.max_request_body_bytes = 5;
  StartServer(options);
  LoopbackClient client = Connect();
  Result<ClientResponse> response = client.RoundTrip("POST", "/echo/l", {}, "12345");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
}

TEST_F(BeastServerTest, UnknownPathIs404AndWrongMethodIs405) {
  StartServer();
  LoopbackClient client = Connect();
  Result<ClientResponse> not_found = client.RoundTrip("GET", "/nope");
  ASSERT_TRUE(not_found.has_value()) << not_found.error().ToString();
  EXPECT_EQ(not_found->status, 404);
  EXPECT_EQ(not_found->body, "404 page not found\n");
  EXPECT_EQ(not_found->Header("Content-Type"), "text/plain; charset=utf-8");

  Result<ClientResponse> not_allowed = client.RoundTrip("DELETE", "/hello");
  ASSERT_TRUE(not_allowed.has_value()) << not_allowed.error().ToString();
  EXPECT_EQ(not_allowed->status, 405);
  EXPECT_EQ(not_allowed->body, "Method Not Allowed\n");
  EXPECT_EQ(not_allowed->Header("Allow"), "GET, HEAD");
}

TEST_F(BeastServerTest, HeadGetsHeadersWithoutBody) {
  StartServer();
  LoopbackClient client = Connect();
  Result<ClientResponse> head = client.RoundTrip("HEAD", "/hello?name=x");
  ASSERT_TRUE(head.has_value()) << head.error().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("Content-Length"), "14");  // {"hello":"x"}\n
  EXPECT_TRUE(head->body.empty());
  // No stray body bytes: the next response on the connection parses cleanly.
  Result<ClientResponse> get = client.RoundTrip("GET", "/hello?name=x");
  ASSERT_TRUE(get.has_value()) << get.error().ToString();
  EXPECT_EQ(get->body.size(), 14U);
}

TEST_F(BeastServerTest, StreamedResponseIsChunked) {
  StartServer();
  LoopbackClient client = Connect();
  Result<ClientResponse> response = client.RoundTrip("GET", "/stream");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(response->chunked);
  EXPECT_EQ(response->Header("Content-Type"), "text/event-stream");
  EXPECT_EQ(response->body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  // A streamed body watches the socket for the peer going away, so the connection is not
  // reused afterwards (a read may have consumed the start of a pipelined request).
  EXPECT_TRUE(client.WaitForClose().ok());
}

// A long-lived stream (the SSE watch) notices a client that went away while nothing was being
// written: IsCancelled() turns true without a failed write.
TEST_F(BeastServerTest, StreamNoticesClientDisconnectWithoutWriting) {
  auto cancelled = std::make_shared<std::promise<void>>();
  std::future<void> observed = cancelled->get_future();
  ASSERT_TRUE(router_
                  .Add("GET", "/idle-stream",
                       [cancelled](const Request&, const PathParams&) {
                         return Response::Stream(
                             200, {{"Content-Type", "text/event-stream"}},
                             [cancelled](http::ResponseStream& stream) {
                               if (!stream.Write(": open\n\n")) return;
                               // The handler polls, as the watch stream does between events;
                               // bounded so a broken server cannot hang the test binary.
                               for (int i = 0; i < 2000 && !stream.IsCancelled(); ++i) {
                                 std::this_thread::sleep_for(std::chrono::milliseconds(5));
                               }
                               if (stream.IsCancelled()) cancelled->set_value();
                             });
                       })
                  .ok());
  StartServer();
  {
    LoopbackClient client = Connect();
    ASSERT_TRUE(client.Send(http::testing::FormatRequest("GET", "/idle-stream")).ok());
    Result<ClientResponse> head = client.ReadResponseHead();
    ASSERT_TRUE(head.has_value()) << head.error().ToString();
    Result<std::optional<std::string>> first = client.ReadChunk();
    ASSERT_TRUE(first.has_value() && first->has_value());
    EXPECT_EQ(**first, ": open\n\n");
  }  // the client closes its socket here
  EXPECT_EQ(observed.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

TEST_F(BeastServerTest, HandlerExceptionIs500) {
  StartServer();
  LoopbackClient client = Connect();
  Result<ClientResponse> response = client.RoundTrip("GET", "/boom");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body, "Internal Server Error\n");
}

TEST_F(BeastServerTest, MalformedRequestIs400AndClosed) {
  StartServer();
  LoopbackClient client = Connect();
  ASSERT_TRUE(client.Send("THIS IS NOT HTTP\r\n\r\n").ok());
  Result<ClientResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 400);
  EXPECT_TRUE(client.WaitForClose().ok());
}

TEST_F(BeastServerTest, BadPathEscapeIs400) {
  StartServer();
  LoopbackClient client = Connect();
  Result<ClientResponse> response = client.RoundTrip("GET", "/hello%zz");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 400);
}

TEST_F(BeastServerTest, StopWhileIdleClosesKeepAliveConnections) {
  StartServer();
  const std::uint16_t port = server_->port();
  LoopbackClient client = Connect();
  Result<ClientResponse> response = client.RoundTrip("GET", "/hello");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);

  server_->Stop();  // returns although the keep-alive connection is open
  EXPECT_TRUE(client.WaitForClose().ok());
  EXPECT_FALSE(LoopbackClient::Connect(port).has_value());  // no longer listening
  // Idempotent.
  server_->Stop();
}

TEST_F(BeastServerTest, StopWithoutAnyConnection) {
  StartServer();
  server_->Stop();
  server_.reset();  // destructor after Stop is fine
}

TEST_F(BeastServerTest, StopLetsInFlightRequestFinish) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  ASSERT_TRUE(router_
                  .Add("GET", "/slow",
                       [&](const Request&, const PathParams&) {
                         entered.set_value();
                         released.wait_for(kEventTimeout);
                         return Response::Json(200, "{}");
                       })
                  .ok());
  StartServer();
  LoopbackClient client = Connect();
  ASSERT_TRUE(client.Send(http::testing::FormatRequest("GET", "/slow")).ok());
  ASSERT_EQ(entered.get_future().wait_for(kEventTimeout), std::future_status::ready);

  std::promise<void> stop_returned;
  std::future<void> stop_done = stop_returned.get_future();
  std::thread stopper([&] {
    server_->Stop();
    stop_returned.set_value();
  });
  release.set_value();
  Result<ClientResponse> response = client.ReadResponse();
  stopper.join();
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "{}\n");
  EXPECT_EQ(stop_done.wait_for(std::chrono::seconds(0)), std::future_status::ready);
}

TEST_F(BeastServerTest, HandlersRunConcurrentlyOffTheIoThread) {
  // Two handlers that each wait for the other: this only completes if they run on two
  // different worker threads while the single I/O thread keeps serving.
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  ASSERT_TRUE(router_
                  .Add("GET", "/rendezvous",
                       [&](const Request&, const PathParams&) {
                         std::unique_lock<std::mutex> lock(mu);
                         ++inside;
                         cv.notify_all();
                         const bool met =
                             cv.wait_for(lock, kEventTimeout, [&] { return inside >= 2; });
                         return Response::Json(met ? 200 : 504, "{}");
                       })
                  .ok());
  BeastServerOptions options;
  options.io_threads = 1;
  options.worker_threads = 2;
  StartServer(options);
  LoopbackClient a = Connect();
  LoopbackClient b = Connect();
  ASSERT_TRUE(a.Send(http::testing::FormatRequest("GET", "/rendezvous")).ok());
  ASSERT_TRUE(b.Send(http::testing::FormatRequest("GET", "/rendezvous")).ok());
  Result<ClientResponse> ra = a.ReadResponse();
  Result<ClientResponse> rb = b.ReadResponse();
  ASSERT_TRUE(ra.has_value() && rb.has_value());
  EXPECT_EQ(ra->status, 200);
  EXPECT_EQ(rb->status, 200);
}

TEST(BeastServerStartTest, PortInUseIsAnIoError) {
  Result<std::unique_ptr<BeastServer>> first =
      BeastServer::Start({}, [](const Request&) { return Response::NoContent(); });
  ASSERT_TRUE(first.has_value());
  BeastServerOptions options;
  options.port = (*first)->port();
  Result<std::unique_ptr<BeastServer>> second =
      BeastServer::Start(options, [](const Request&) { return Response::NoContent(); });
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kIo);
}

TEST(BeastServerStartTest, RejectsBadOptions) {
  const auto noop = [](const Request&) { return Response::NoContent(); };
  BeastServerOptions options;
  options.bind_address = "not-an-address";
  EXPECT_EQ(BeastServer::Start(options, noop).error().code(), ErrorCode::kInvalidArgument);
  options = {};
  options.worker_threads = 0;
  EXPECT_EQ(BeastServer::Start(options, noop).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(BeastServer::Start({}, nullptr).error().code(), ErrorCode::kInvalidArgument);
}

TEST(BeastServerStartTest, NoContentHasNoBodyOverTheWire) {
  Result<std::unique_ptr<BeastServer>> server =
      BeastServer::Start({}, [](const Request&) { return Response::NoContent(); });
  ASSERT_TRUE(server.has_value());
  Result<LoopbackClient> client = LoopbackClient::Connect((*server)->port());
  ASSERT_TRUE(client.has_value());
  Result<ClientResponse> response = client->RoundTrip("DELETE", "/x");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 204);
  EXPECT_FALSE(response->Header("Content-Type").has_value());
  EXPECT_FALSE(response->Header("Content-Length").has_value());
  // The connection is still in sync.
  Result<ClientResponse> again = client->RoundTrip("DELETE", "/y");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 204);
}

}  // namespace
}  // namespace oversync::http_beast
