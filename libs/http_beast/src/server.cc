// The only translation unit of oversync that includes Boost.Beast/Asio (cpp-stack.md §2.1).
//
// Structure: one acceptor coroutine on its own strand; one coroutine per connection on its own
// strand; handlers and stream functions on a separate boost::asio::thread_pool. Every Asio and
// Beast call uses error codes (as_tuple / error_code overloads); the remaining throwing calls
// (allocation, Beast field validation) are caught at the coroutine boundary, so no exception
// leaves this file.
#include "oversync/http_beast/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <exception>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace oversync::http_beast {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

constexpr auto kUseAwaitable = net::as_tuple(net::use_awaitable);
constexpr std::size_t kIdleReadBytes = 4096;
// After an error answer that leaves request bytes unread (413, 431, 400) the connection is
// half-closed and drained for at most this long / this many bytes, so the client sees the
// answer instead of a reset.
constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr std::size_t kLingerMaxBytes = std::size_t{8} << 20;
// Backoff after a failed accept (EMFILE and friends) so the loop does not spin.
constexpr std::chrono::milliseconds kAcceptErrorBackoff{50};

// RFC 9110 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string HttpDate() {
  static constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                            "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  if (gmtime_r(&now, &tm) == nullptr) return {};
  const auto two = [](int v) {
    return std::string{static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
  };
  std::string out;
  out.reserve(29);
  out.append(kDays.at(static_cast<std::size_t>(tm.tm_wday % 7))).append(", ");
  out.append(two(tm.tm_mday)).append(" ");
  out.append(kMonths.at(static_cast<std::size_t>(tm.tm_mon % 12))).append(" ");
  out.append(std::to_string(tm.tm_year + 1900)).append(" ");
  out.append(two(tm.tm_hour)).append(":").append(two(tm.tm_min)).append(":");
  out.append(two(tm.tm_sec)).append(" GMT");
  return out;
}

bool IsSafeFieldText(std::string_view text) noexcept {
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// Framing and connection management belong to the adapter; handler copies are dropped.
bool IsAdapterOwnedField(std::string_view name) noexcept {
  return http::EqualsIgnoreCase(name, "Content-Length") ||
         http::EqualsIgnoreCase(name, "Transfer-Encoding") ||
         http::EqualsIgnoreCase(name, "Connection") || http::EqualsIgnoreCase(name, "Date");
}

template <typename Body>
void CopyHeaders(const http::Response& response, bhttp::response<Body>* out) {
  for (const auto& [name, value] : response.headers) {
    if (name.empty() || !IsSafeFieldText(name) || !IsSafeFieldText(value) ||
        IsAdapterOwnedField(name)) {
      continue;
    }
    out->insert(name, value);
  }
  out->set(bhttp::field::date, HttpDate());
}

std::chrono::milliseconds Millis(std::int64_t ms) {
  return std::chrono::milliseconds(std::max<std::int64_t>(ms, 1));
}

}  // namespace

class BeastServer::Impl {
 public:
  Impl(const BeastServerOptions& options, http::Handler handler)
      : options_(options),
        handler_(std::move(handler)),
        io_(options.io_threads),
        work_(net::make_work_guard(io_)),
        acceptor_(net::make_strand(io_)),
        workers_(static_cast<std::size_t>(options.worker_threads)) {}

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  Impl(Impl&&) = delete;
  Impl& operator=(Impl&&) = delete;
  ~Impl() { Stop(); }

  Status Open();
  Status Launch();
  void Stop();
  std::uint16_t port() const noexcept { return port_; }

 private:
  // One accepted connection. The coroutine serving it and the stop request (CloseIfIdle) both
  // run on `stream`'s strand, which is what guards `idle`.
  struct Connection {
    explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    bool idle = false;  // waiting for the first byte of the next request
  };

  // Removes the connection from the registry when the serving coroutine ends (normally, by
  // exception, or when io_context destroys the suspended frame).
  class ConnectionGuard {
   public:
    ConnectionGuard(Impl& impl, const Connection* connection) noexcept
        : impl_(impl), connection_(connection) {}
    ConnectionGuard(const ConnectionGuard&) = delete;
    ConnectionGuard& operator=(const ConnectionGuard&) = delete;
    ConnectionGuard(ConnectionGuard&&) = delete;
    ConnectionGuard& operator=(ConnectionGuard&&) = delete;
    ~ConnectionGuard() { impl_.Unregister(connection_); }

   private:
    Impl& impl_;
    const Connection* connection_;
  };

  class Stream;

  enum class ReadOutcome { kRequest, kClosed, kRejected };

  net::awaitable<void> AcceptLoop();
  net::awaitable<void> Serve(std::shared_ptr<Connection> connection);
  net::awaitable<bool> ServeOne(Connection& connection);
  net::awaitable<bool> WriteBuffered(Connection& connection, http::Response response,
                                     unsigned version, bool keep_alive, bool head) const;
  net::awaitable<bool> WriteStreamed(Connection& connection, http::Response response,
                                     unsigned version, bool keep_alive, bool head);
  net::awaitable<void> Reject(Connection& connection, int status, std::string_view text,
                              unsigned version);
  net::awaitable<http::Response> RunHandler(const http::Request& request);
  static void CloseSocket(Connection& connection);

  void Register(const std::shared_ptr<Connection>& connection);
  void Unregister(const Connection* connection);
  void AcceptLoopDone();

  const BeastServerOptions options_;
  const http::Handler handler_;
  std::atomic<bool> stopping_{false};
  std::uint16_t port_ = 0;

  // Guards the registry and the completion flags; declared before io_ so that coroutine frames
  // destroyed with io_ can still unregister.
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections_;
  bool accept_loop_running_ = false;
  bool stopped_ = false;

  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  net::thread_pool workers_;
  std::vector<std::thread> io_threads_;
};

// ResponseStream over a connection whose coroutine is suspended while the stream function runs
// on a worker thread: each Write hops to the connection's strand, starts the write there and
// blocks the worker until it completes.
class BeastServer::Impl::Stream final : public http::ResponseStream {
 public:
  Stream(Connection& connection, const std::atomic<bool>& stopping,
         const std::atomic<bool>& peer_gone, std::chrono::milliseconds write_timeout,
         bool chunked)
      : connection_(connection),
        stopping_(stopping),
        peer_gone_(peer_gone),
        write_timeout_(write_timeout),
        chunked_(chunked) {}

  bool Write(std::string_view data) override {
    if (IsCancelled()) return false;
    if (data.empty()) return true;
    try {
      std::promise<bool> done;
      std::future<bool> result = done.get_future();
      net::post(connection_.stream.get_executor(), [this, data, &done] {
        const auto on_written = [&done](const beast::error_code& ec, std::size_t) {
          done.set_value(!ec);
        };
        connection_.stream.expires_after(write_timeout_);
        const net::const_buffer bytes(data.data(), data.size());
        if (chunked_) {
          net::async_write(connection_.stream, bhttp::make_chunk(bytes), on_written);
        } else {
          net::async_write(connection_.stream, bytes, on_written);
        }
      });
      if (!result.get()) failed_.store(true);
    } catch (...) {
      failed_.store(true);
    }
    return !failed_.load();
  }

  bool Flush() override { return !IsCancelled(); }  // Write never buffers

  bool IsCancelled() const override {
    return failed_.load() || stopping_.load() || peer_gone_.load();
  }

  bool failed() const noexcept { return failed_.load(); }

 private:
  Connection& connection_;
  const std::atomic<bool>& stopping_;
  const std::atomic<bool>& peer_gone_;
  const std::chrono::milliseconds write_timeout_;
  const bool chunked_;
  std::atomic<bool> failed_{false};
};

Status BeastServer::Impl::Open() {
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(options_.bind_address, ec);
  if (ec) {
    return Status(ErrorCode::kInvalidArgument,
                  "invalid bind address \"" + options_.bind_address + "\": " + ec.message());
  }
  const tcp::endpoint endpoint(address, options_.port);
  const auto fail = [&](std::string_view what) {
    return Status(ErrorCode::kIo, std::string(what) + " " + address.to_string() + ":" +
                                      std::to_string(options_.port) + ": " + ec.message());
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("setsockopt");
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_.listen(options_.listen_backlog, ec);
  if (ec) return fail("listen");
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) return fail("getsockname");
  port_ = bound.port();
  return Status::Ok();
}

Status BeastServer::Impl::Launch() {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    accept_loop_running_ = true;
  }
  net::co_spawn(acceptor_.get_executor(), AcceptLoop(),
                [this](const std::exception_ptr&) { AcceptLoopDone(); });
  try {
    for (int i = 0; i < options_.io_threads; ++i) {
      io_threads_.emplace_back([this] {
        while (true) {
          try {
            io_.run();
            return;
          } catch (...) {
            // Nothing in this file throws through io_context::run by design; if something
            // does, keep serving the other connections.
          }
        }
      });
    }
  } catch (const std::exception& e) {
    return Status(ErrorCode::kIo, std::string("starting I/O threads: ") + e.what());
  }
  return Status::Ok();
}

void BeastServer::Impl::Stop() {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  stopping_.store(true);

  if (!io_threads_.empty()) {
    // 1. Stop accepting: close the acceptor on its strand (the accept loop sees operation_aborted).
    try {
      std::promise<void> closed;
      std::future<void> closed_future = closed.get_future();
      net::post(acceptor_.get_executor(), [this, &closed] {
        beast::error_code ignored;
        acceptor_.close(ignored);
        closed.set_value();
      });
      closed_future.wait();
    } catch (...) {
      // Allocation failure while posting; the wait below still ends once connections finish.
    }

    // 2. Close idle keep-alive connections; busy ones close after their current response.
    std::vector<std::shared_ptr<Connection>> live;
    {
      const std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [key, weak] : connections_) {
        if (std::shared_ptr<Connection> connection = weak.lock()) live.push_back(connection);
      }
    }
    for (const std::shared_ptr<Connection>& connection : live) {
      try {
        net::post(connection->stream.get_executor(), [connection] {
          if (connection->idle) CloseSocket(*connection);
        });
      } catch (...) {
        // Same as above: the connection still ends at its next idle/timeout.
      }
    }

    // 3. Wait for in-flight requests and the accept loop.
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return connections_.empty() && !accept_loop_running_; });
    }
  }

  // 4. Let io_context run out of work and join everything.
  work_.reset();
  for (std::thread& thread : io_threads_) {
    if (thread.joinable()) thread.join();
  }
  io_threads_.clear();
  workers_.join();
}

void BeastServer::Impl::Register(const std::shared_ptr<Connection>& connection) {
  const std::lock_guard<std::mutex> lock(mu_);
  connections_.emplace(connection.get(), connection);
}

void BeastServer::Impl::Unregister(const Connection* connection) {
  const std::lock_guard<std::mutex> lock(mu_);
  connections_.erase(connection);
  if (connections_.empty()) cv_.notify_all();
}

void BeastServer::Impl::AcceptLoopDone() {
  const std::lock_guard<std::mutex> lock(mu_);
  accept_loop_running_ = false;
  cv_.notify_all();
}

void BeastServer::Impl::CloseSocket(Connection& connection) {
  beast::error_code ignored;
  connection.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  connection.stream.socket().close(ignored);
}

net::awaitable<void> BeastServer::Impl::AcceptLoop() {
  while (true) {
    auto [ec, socket] = co_await acceptor_.async_accept(net::make_strand(io_), kUseAwaitable);
    if (stopping_.load() || ec == net::error::operation_aborted || !acceptor_.is_open()) {
      beast::error_code ignored;
      socket.close(ignored);
      co_return;
    }
    if (ec) {
      net::steady_timer backoff(acceptor_.get_executor(), kAcceptErrorBackoff);
      co_await backoff.async_wait(kUseAwaitable);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    try {
      auto connection = std::make_shared<Connection>(std::move(socket));
      Register(connection);
      net::co_spawn(connection->stream.get_executor(), Serve(connection), net::detached);
    } catch (...) {
      // Out of memory: drop this connection, keep accepting.
    }
  }
}

net::awaitable<void> BeastServer::Impl::Serve(std::shared_ptr<Connection> connection) {
  const ConnectionGuard guard(*this, connection.get());
  try {
    while (co_await ServeOne(*connection)) {
    }
  } catch (...) {
    // Allocation failure or a Beast validation exception: drop the connection.
  }
  beast::error_code ignored;
  connection->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  connection->stream.socket().close(ignored);
}

// Serves one request; returns whether the connection stays open for another one.
net::awaitable<bool> BeastServer::Impl::ServeOne(Connection& connection) {
  beast::tcp_stream& stream = connection.stream;
  beast::flat_buffer& buffer = connection.buffer;
  if (stopping_.load()) co_return false;

  // Idle phase: wait for the first byte of the next request. Stop() closes idle connections.
  if (buffer.size() == 0) {
    connection.idle = true;
    stream.expires_after(Millis(options_.idle_timeout_ms));
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kIdleReadBytes), kUseAwaitable);
    connection.idle = false;
    if (ec) co_return false;  // EOF, reset, idle timeout or closed by Stop()
    buffer.commit(n);
  }

  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(options_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(static_cast<std::uint64_t>(options_.max_request_body_bytes));
  stream.expires_after(Millis(options_.read_timeout_ms));

  // Header. With Content-Length above body_limit Beast fails right here (before any body byte
  // is read) with error::body_limit.
  {
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kUseAwaitable);
    if (ec == bhttp::error::body_limit) {
      co_await Reject(connection, 413, "Request Entity Too Large", 11);
      co_return false;
    }
    if (ec == bhttp::error::header_limit) {
      co_await Reject(connection, 431, "Request Header Fields Too Large", 11);
      co_return false;
    }
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted ||
        ec == net::error::bad_descriptor) {
      co_return false;
    }
    if (ec) {
      co_await Reject(connection, 400, "400 Bad Request", 11);
      co_return false;
    }
  }
  const unsigned version = parser.get().version();

  // Body.
  if (!parser.is_done()) {
    const auto expect = parser.get()[bhttp::field::expect];
    if (version >= 11 && beast::iequals(expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      auto [ec, n] = co_await net::async_write(
          stream, net::const_buffer(kContinue.data(), kContinue.size()), kUseAwaitable);
      if (ec) co_return false;
    }
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kUseAwaitable);
    if (ec == bhttp::error::body_limit) {  // chunked body grew past the limit
      co_await Reject(connection, 413, "Request Entity Too Large", version);
      co_return false;
    }
    if (ec) co_return false;  // timeout, EOF or malformed body: nothing sensible to answer
  }

  bhttp::request<bhttp::string_body> message = parser.release();
  const bool head = message.method() == bhttp::verb::head;
  bool keep_alive = message.keep_alive();
  http::Headers headers;
  headers.reserve(static_cast<std::size_t>(std::distance(message.begin(), message.end())));
  for (const auto& field : message) {
    headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  Result<http::Request> request =
      http::Request::Make(std::string(message.method_string()), std::string(message.target()),
                          std::move(headers), std::move(message.body()));
  if (!request.has_value()) {
    co_await Reject(connection, 400, "400 Bad Request", version);
    co_return false;
  }

  http::Response response = co_await RunHandler(*request);
  if (stopping_.load()) keep_alive = false;
  bool written = false;
  if (response.stream) {
    written = co_await WriteStreamed(connection, std::move(response), version, keep_alive, head);
  } else {
    written = co_await WriteBuffered(connection, std::move(response), version, keep_alive, head);
  }
  const bool reuse = written && keep_alive && !stopping_.load();
  co_return reuse;
}

net::awaitable<http::Response> BeastServer::Impl::RunHandler(const http::Request& request) {
  http::Response response;
  // Runs on a worker thread; this coroutine resumes on the connection's strand afterwards.
  auto [error] = co_await net::co_spawn(
      workers_.get_executor(),
      [this, &request, &response]() -> net::awaitable<void> {
        try {
          response = handler_(request);
        } catch (...) {
          response = http::Response::Text(500, "Internal Server Error");
        }
        co_return;
      },
      kUseAwaitable);
  if (error) response = http::Response::Text(500, "Internal Server Error");
  if (response.status < 100 || response.status > 999) {
    response = http::Response::Text(500, "Internal Server Error");
  }
  co_return response;
}

net::awaitable<bool> BeastServer::Impl::WriteBuffered(Connection& connection,
                                                      http::Response response, unsigned version,
                                                      bool keep_alive, bool head) const {
  bhttp::response<bhttp::string_body> out;
  out.version(version);
  out.result(static_cast<unsigned>(response.status));
  CopyHeaders(response, &out);
  const bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  if (bodiless) {
    // No body and no Content-Length (RFC 9110 §8.6; Go sends none either). Not
    // prepare_payload(): Beast would add "Content-Length: 0".
  } else if (head) {
    out.content_length(response.body.size());  // what GET would have sent; no body follows
  } else {
    out.body() = std::move(response.body);
    out.prepare_payload();
  }
  out.keep_alive(keep_alive);
  connection.stream.expires_after(Millis(options_.write_timeout_ms));
  auto [ec, n] = co_await bhttp::async_write(connection.stream, out, kUseAwaitable);
  co_return !ec;
}

net::awaitable<bool> BeastServer::Impl::WriteStreamed(Connection& connection,
                                                      http::Response response, unsigned version,
                                                      bool keep_alive, bool head) {
  // HTTP/1.0 has no chunked coding: the body is delimited by closing the connection.
  const bool chunked = version >= 11;
  bhttp::response<bhttp::empty_body> out;
  out.version(version);
  out.result(static_cast<unsigned>(response.status));
  CopyHeaders(response, &out);
  if (chunked) out.chunked(true);
  out.keep_alive(chunked && keep_alive);
  bhttp::response_serializer<bhttp::empty_body> serializer(out);
  connection.stream.expires_after(Millis(options_.write_timeout_ms));
  {
    auto [ec, n] = co_await bhttp::async_write_header(connection.stream, serializer, kUseAwaitable);
    if (ec) co_return false;
  }
  if (head) co_return chunked;

  // While the body streams, a read on the socket notices the client going away (EOF or reset)
  // even when nothing is being written, so a long-lived stream (a watch) ends promptly. Any
  // completion counts: a client must not send more while it waits for a streamed body. The
  // state is shared because the read may complete after this frame is gone.
  struct PeerWatch {
    std::atomic<bool> gone{false};
    std::array<char, 256> buffer{};
  };
  auto peer = std::make_shared<PeerWatch>();
  connection.stream.socket().async_read_some(
      net::buffer(peer->buffer),
      [peer](const beast::error_code&, std::size_t) { peer->gone.store(true); });
  Stream sink(connection, stopping_, peer->gone, Millis(options_.write_timeout_ms), chunked);
  auto [error] = co_await net::co_spawn(
      workers_.get_executor(),
      [&response, &sink]() -> net::awaitable<void> {
        try {
          response.stream(sink);
        } catch (...) {
          // The stream function broke its contract; end the body where it stopped.
        }
        co_return;
      },
      kUseAwaitable);
  {
    beast::error_code ignored;
    connection.stream.socket().cancel(ignored);  // ends the peer read (its bytes are dropped)
  }
  if (error || sink.failed() || !chunked || peer->gone.load()) co_return false;
  connection.stream.expires_after(Millis(options_.write_timeout_ms));
  auto [ec, n] =
      co_await net::async_write(connection.stream, bhttp::make_chunk_last(), kUseAwaitable);
  // The peer read may have consumed the start of a pipelined request: never reuse the
  // connection after a streamed body.
  (void)ec;
  co_return false;
}

net::awaitable<void> BeastServer::Impl::Reject(Connection& connection, int status,
                                               std::string_view text, unsigned version) {
  http::Response response = http::Response::Text(status, text);
  const bool written =
      co_await WriteBuffered(connection, std::move(response), version, false, false);
  if (!written) co_return;
  // Lingering close: stop sending, then drain what the client is still sending for a while so
  // that closing does not reset the connection before the client read the answer.
  beast::error_code ignored;
  connection.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  connection.stream.expires_after(kLingerTime);
  std::size_t drained = 0;
  std::array<char, 16384> sink{};
  while (drained < kLingerMaxBytes) {
    auto [ec, n] = co_await connection.stream.async_read_some(net::buffer(sink), kUseAwaitable);
    if (ec) break;
    drained += n;
  }
}

BeastServer::BeastServer(PrivateTag /*tag*/, std::unique_ptr<Impl> impl) noexcept
    : impl_(std::move(impl)) {}

BeastServer::~BeastServer() { Stop(); }

std::uint16_t BeastServer::port() const noexcept { return impl_->port(); }

void BeastServer::Stop() { impl_->Stop(); }

Result<std::unique_ptr<BeastServer>> BeastServer::Start(const BeastServerOptions& options,
                                                        http::Handler handler) {
  if (!handler) return Error(ErrorCode::kInvalidArgument, "BeastServer: empty handler");
  if (options.io_threads < 1 || options.worker_threads < 1) {
    return Error(ErrorCode::kInvalidArgument, "BeastServer: io_threads and worker_threads >= 1");
  }
  if (options.listen_backlog < 1) {
    return Error(ErrorCode::kInvalidArgument, "BeastServer: listen_backlog >= 1");
  }
  try {
    auto impl = std::make_unique<Impl>(options, std::move(handler));
    OVERSYNC_RETURN_IF_ERROR(impl->Open());
    OVERSYNC_RETURN_IF_ERROR(impl->Launch());
    return std::make_unique<BeastServer>(PrivateTag{}, std::move(impl));
  } catch (const std::exception& e) {
    return Error(ErrorCode::kIo, std::string("BeastServer: ") + e.what());
  }
}

}  // namespace oversync::http_beast
