// File: oversync/http_beast/server.h
//
// BeastServer: an HTTP/1.1 server (Boost.Beast + Asio, C++20 coroutines) that feeds requests to
// a transport-neutral oversync::http::Handler. This is the only library that sees Boost, and only
// in its .cc file (pimpl), so including this header costs nothing (cpp-stack.md §2.1).
//
// Threading model: `io_threads` threads run the sockets; handlers never run there (they may
// block on PostgreSQL, style rule 14): each request is handed to a pool of `worker_threads`
// threads and the connection coroutine resumes when the handler returns. Streamed responses
// (Response::stream) run their stream function on a worker thread too.
//
// Wire behaviour: HTTP/1.0 and 1.1, keep-alive (1.1 default, "Connection: close" honoured),
// `Expect: 100-continue` answered, Content-Length or chunked bodies; a body above
// `max_request_body_bytes` gets `413 Request Entity Too Large` (plain text) before the body is
// read and the connection is closed; malformed requests get a plain-text 400 and close. HEAD
// responses carry the GET headers (Content-Length of the body that would have been sent) and no
// body. Responses get `Date`; everything else comes from the handler.
#ifndef OVERSYNC_HTTP_BEAST_SERVER_H_
#define OVERSYNC_HTTP_BEAST_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "oversync/common/status.h"
#include "oversync/http/message.h"

namespace oversync::http_beast {

struct BeastServerOptions {
  // IPv4 or IPv6 literal to listen on (no host names).
  std::string bind_address = "127.0.0.1";
  // 0 = let the kernel pick a free port; read it back with BeastServer::port().
  std::uint16_t port = 0;
  // Threads running the sockets (>= 1).
  int io_threads = 1;
  // Threads running handlers (>= 1). Size it to the database pool.
  int worker_threads = 4;
  // Largest accepted request body; larger ones are answered 413 without being read.
  std::size_t max_request_body_bytes = std::size_t{32} << 20;
  // Largest accepted request line + header block; larger ones are answered 431.
  std::size_t max_header_bytes = std::size_t{1} << 20;
  // Time allowed to receive one request (headers and body) once its first byte arrived.
  // The reference server uses 120 s (server.md A.1).
  std::int64_t read_timeout_ms = 120'000;
  // Time allowed for each write to the client (for streams: per chunk).
  std::int64_t write_timeout_ms = 120'000;
  // How long a keep-alive connection may sit idle between requests (Go IdleTimeout 60 s).
  std::int64_t idle_timeout_ms = 60'000;
  // listen(2) backlog.
  int listen_backlog = 512;
};

// Thread-safety: port() is thread-safe. Stop() and the destructor may be called from any thread
// except the server's own I/O and worker threads (that would deadlock), and not concurrently
// with each other.
class BeastServer {
  class Impl;
  // Passkey: only Start() can construct a BeastServer.
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Binds, listens and starts serving. `handler` must be callable concurrently from several
  // worker threads; it is destroyed after Stop() returns. A handler that throws yields a
  // plain-text 500.
  // Errors: kInvalidArgument (bad options, empty handler, bad bind address), kIo (bind/listen
  // failed, e.g. port in use).
  static Result<std::unique_ptr<BeastServer>> Start(const BeastServerOptions& options,
                                                    http::Handler handler);

  BeastServer(const BeastServer&) = delete;
  BeastServer& operator=(const BeastServer&) = delete;
  BeastServer(BeastServer&&) = delete;
  BeastServer& operator=(BeastServer&&) = delete;
  // Calls Stop().
  ~BeastServer();

  // The bound port (the kernel's choice when options.port was 0).
  std::uint16_t port() const noexcept;

  // Graceful stop: stops accepting, closes idle keep-alive connections, lets in-flight requests
  // (and streams, which see IsCancelled() == true) finish and closes their connections after the
  // response, then joins all threads. Idempotent. Blocks as long as a handler runs.
  void Stop();

  // Internal (see PrivateTag); use Start().
  BeastServer(PrivateTag /*tag*/, std::unique_ptr<Impl> impl) noexcept;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace oversync::http_beast

#endif  // OVERSYNC_HTTP_BEAST_SERVER_H_
