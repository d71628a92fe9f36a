// File: oversync/http/testing/loopback_client.h
//
// Test-only: a tiny blocking HTTP/1.1 client over plain POSIX sockets for loopback end-to-end
// tests (BeastServer, oversyncd). It writes exactly the bytes it is given, so tests can send
// malformed or partial requests, and it parses responses framed by Content-Length, chunked
// transfer coding or connection close. Not for production use.
//
// Thread-safety: thread-compatible (one object per thread).
#ifndef OVERSYNC_HTTP_TESTING_LOOPBACK_CLIENT_H_
#define OVERSYNC_HTTP_TESTING_LOOPBACK_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "oversync/common/status.h"
#include "oversync/http/message.h"

namespace oversync::http::testing {

// Owns a file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  ~UniqueFd();

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int Release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset() noexcept;

 private:
  int fd_ = -1;
};

struct ClientResponse {
  int status = 0;
  std::string reason;
  Headers headers;
  std::string body;      // de-chunked
  bool chunked = false;  // the body arrived with Transfer-Encoding: chunked

  std::optional<std::string_view> Header(std::string_view name) const noexcept {
    return FindHeader(headers, name);
  }
};

// Formats a request: request line, `Host: 127.0.0.1`, the given headers, `Content-Length` when
// `body` is non-empty or the method is POST/PUT/PATCH, a blank line and the body.
std::string FormatRequest(std::string_view method, std::string_view target,
                          const Headers& headers = {}, std::string_view body = {});

class LoopbackClient {
 public:
  // Connects to 127.0.0.1:port. Every later read or write fails with kDeadlineExceeded after
  // `timeout_ms` without progress (socket timeouts; nothing sleeps).
  // Errors: kIo if the connection fails.
  static Result<LoopbackClient> Connect(std::uint16_t port, int timeout_ms = 10000);

  // Writes all of `bytes`. Errors: kIo, kDeadlineExceeded.
  Status Send(std::string_view bytes);

  // Reads one response. `head_request` = the request was HEAD (no body follows).
  // A 1xx interim response is returned as is; call again for the final one.
  // Errors: kIo (including the peer closing before a complete response), kDeadlineExceeded,
  // kProtocolViolation for unparsable responses.
  Result<ClientResponse> ReadResponse(bool head_request = false);

  // Reads only the status line and headers (for streamed bodies such as Server-Sent Events);
  // continue with ReadChunk. Errors: as ReadResponse.
  Result<ClientResponse> ReadResponseHead();
  // Reads one chunk of a chunked body: its data, or nullopt for the terminating chunk.
  // Errors: as ReadResponse (kDeadlineExceeded when nothing arrives within the timeout).
  Result<std::optional<std::string>> ReadChunk();

  // FormatRequest + Send + ReadResponse.
  Result<ClientResponse> RoundTrip(std::string_view method, std::string_view target,
                                   const Headers& headers = {}, std::string_view body = {});

  // True if the peer closed the connection (orderly EOF or reset) and no unread byte is
  // pending; waits up to the timeout for that to happen. Errors: kDeadlineExceeded if the
  // connection is still open, kProtocolViolation if unexpected bytes arrive.
  Status WaitForClose();

 private:
  explicit LoopbackClient(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  // Appends at least one byte to buffer_; kIo on EOF.
  Status Fill();
  Result<ClientResponse> ReadResponseBody(ClientResponse response, bool head_request);
  Result<std::string> ReadLine();
  Status ReadExactly(std::size_t n, std::string* out);

  UniqueFd fd_;
  std::string buffer_;  // received, not yet consumed
};

// A loopback TCP port that was free a moment ago (bound to port 0, then released). Another
// process may grab it before the caller binds it; callers that can should bind port 0
// themselves. Errors: kIo.
Result<std::uint16_t> PickFreeLoopbackPort();

}  // namespace oversync::http::testing

#endif  // OVERSYNC_HTTP_TESTING_LOOPBACK_CLIENT_H_
