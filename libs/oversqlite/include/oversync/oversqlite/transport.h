// File: oversync/oversqlite/transport.h
//
// The HTTP seam of the oversqlite client. The client builds requests (method, absolute URL,
// headers, body) and hands them to a Transport; embedders on mobile platforms may supply their
// own (the platform HTTP stack), tests may wrap one to inject faults. MakeCurlTransport returns
// the libcurl implementation (keep-alive connection reuse, timeouts, TLS for https URLs).
//
// Errors returned by a Transport describe the transport, never an HTTP status (a 4xx/5xx answer
// is a successful HttpResponse): kUnavailable for connection failures (refused, reset, broken
// pipe, unexpected EOF: retryable), kDeadlineExceeded for timeouts (retryable), kCancelled when
// the cancel flag was raised, kInvalidArgument for a malformed URL.
//
// Thread-safety: a Transport must be callable concurrently from several threads (the client's
// operations and its watch stream run on different threads).
#ifndef OVERSYNC_OVERSQLITE_TRANSPORT_H_
#define OVERSYNC_OVERSQLITE_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/common/status.h"

namespace oversync::oversqlite {

struct HttpRequest {
  std::string method;  // "GET", "POST", "DELETE"
  std::string url;     // absolute
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Whole-exchange limit; 0 = none (used by the watch stream).
  std::int64_t timeout_ms = 120'000;
  // Raised by another thread to abort the exchange (kCancelled). May be null.
  const std::atomic<bool>* cancel = nullptr;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Performs one request and returns the whole answer.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;

  // Performs one request whose answer is consumed incrementally (the SSE watch stream).
  // A 200 answer's body is passed to `on_data` as it arrives; any other status's body is
  // collected into `error_body` (may be null) instead. `on_data` returns false to stop reading
  // (then the result is OK). Returns the HTTP status.
  virtual Result<int> Stream(const HttpRequest& request,
                             const std::function<bool(std::string_view chunk)>& on_data,
                             std::string* error_body) = 0;
};

struct CurlTransportOptions {
  std::int64_t connect_timeout_ms = 10'000;
  // Verify TLS peers (https URLs). Only tests against self-signed servers turn this off.
  bool verify_tls = true;
  // Extra CA bundle file for https (empty = the system store).
  std::string ca_file;
};

// The libcurl transport. Keeps a small pool of easy handles so consecutive requests reuse
// their connection. Errors: kInternal if libcurl cannot be initialized.
Result<std::shared_ptr<Transport>> MakeCurlTransport(CurlTransportOptions options = {});

}  // namespace oversync::oversqlite

#endif  // OVERSYNC_OVERSQLITE_TRANSPORT_H_
