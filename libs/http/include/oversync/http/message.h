// File: oversync/http/message.h
//
// Transport-neutral HTTP message types. The sync handlers speak these; an adapter (Beast in
// libs/http_beast, or an embedder's own server) converts to and from the wire. No header of this
// library includes Boost or any other transport library, so embedders never inherit our
// dependency versions (cpp-stack.md §2.1, style rule 4).
//
// Thread-safety: Request and Response are plain values (thread-compatible). ResponseStream
// implementations document their own rules (see below).
#ifndef OVERSYNC_HTTP_MESSAGE_H_
#define OVERSYNC_HTTP_MESSAGE_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/common/status.h"

namespace oversync::http {

// Header fields in arrival (or insertion) order. Names keep the spelling they were sent with;
// every lookup through FindHeader is ASCII case-insensitive (RFC 9110 §5.1). Repeated fields
// stay separate entries.
using Headers = std::vector<std::pair<std::string, std::string>>;

// ASCII case-insensitive equality, the comparison HTTP uses for field names.
bool EqualsIgnoreCase(std::string_view a, std::string_view b) noexcept;

// Value of the first field named `name` (case-insensitive), or nullopt. The view points into
// `headers` and is valid until `headers` is modified or destroyed.
std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name) noexcept;

// One HTTP request, fully buffered (body included).
struct Request {
  std::string method;     // as sent, case-sensitive ("GET"); methods are case-sensitive in HTTP
  std::string target;     // request-target as received: path plus optional "?query"
  std::string path;       // percent-decoded path, duplicate slashes collapsed ("/sync/pull")
  std::string raw_path;   // same path still percent-encoded; the Router splits this one so that
                          // an escaped "%2F" stays inside one segment (Go 1.22 ServeMux rule)
  std::string raw_query;  // text after the first '?', undecoded, without '?'; "" if none
  Headers headers;
  std::string body;

  // Builds a Request from what a transport received, deriving path/raw_path/raw_query from
  // `target`. Accepts origin-form ("/a?b"), absolute-form ("http://host/a?b", scheme and
  // authority are dropped) and asterisk-form ("*", kept as the path). An empty path becomes "/".
  // Errors: kInvalidRequest if the path holds an invalid percent escape (Go's url.Parse rejects
  // it; the adapter answers 400).
  static Result<Request> Make(std::string method, std::string target, Headers headers,
                              std::string body);

  // First header value named `name` (case-insensitive), or nullopt. The view is valid while
  // this Request is alive and its headers are not modified.
  std::optional<std::string_view> Header(std::string_view name) const noexcept {
    return FindHeader(headers, name);
  }

  // Decoded value of the first query parameter named `name` (protocol.md §1.1: only the first
  // occurrence of a repeated parameter counts), or nullopt if absent. Parameters whose escapes
  // are invalid are skipped, as Go's Request.URL.Query() does. An empty value ("?max_rows=")
  // is returned as "", which callers treat like absence (protocol.md §1.1).
  std::optional<std::string> FirstQueryValue(std::string_view name) const;
};

// Sink for a streamed response body (Server-Sent Events, protocol.md §3.8). The adapter owns
// the object; the stream function receives it by reference and must not keep it after
// returning.
//
// Thread-safety: used by one thread at a time (the worker running the stream function).
// Errors: Write and Flush return false once the peer is gone, a write timed out or the server
// is stopping; the stream function should then return promptly.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Sends `data` as (part of) the body. Blocks until the transport accepted it.
  virtual bool Write(std::string_view data) = 0;
  // Pushes buffered data to the peer. Adapters that never buffer return !IsCancelled().
  virtual bool Flush() = 0;
  // True once the client disconnected, a write failed or the server began shutting down.
  virtual bool IsCancelled() const = 0;

 protected:
  ResponseStream() = default;
  ResponseStream(const ResponseStream&) = default;
  ResponseStream& operator=(const ResponseStream&) = default;
  ResponseStream(ResponseStream&&) = default;
  ResponseStream& operator=(ResponseStream&&) = default;
};

// Produces a streamed body. Runs on a worker thread after the status line and headers went out;
// the body ends when the function returns. Must not throw (an escaping exception ends the body).
using StreamFn = std::function<void(ResponseStream&)>;

// One HTTP response. Content-Length (or chunked framing for streams), Date and Connection are
// the adapter's job; handlers set everything else.
struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // When set, `body` is ignored and the adapter streams the body produced by `stream`
  // (HTTP/1.1 chunked transfer coding).
  StreamFn stream;

  // JSON answer: `Content-Type: application/json` (no charset) and `body` followed by one "\n",
  // exactly like Go's json.NewEncoder(w).Encode (protocol.md §1.4).
  static Response Json(int status, std::string body);
  // Plain-text answer exactly like Go's http.Error: `Content-Type: text/plain; charset=utf-8`,
  // `X-Content-Type-Options: nosniff`, body = message + "\n".
  static Response Text(int status, std::string_view message);
  // 204 with no body and no Content-Type (protocol.md §1.4).
  static Response NoContent();
  // A streamed answer (e.g. `text/event-stream`); see `stream`.
  static Response Stream(int status, Headers headers, StreamFn stream);

  // First header value named `name` (case-insensitive), or nullopt; valid until headers change.
  std::optional<std::string_view> Header(std::string_view name) const noexcept {
    return FindHeader(headers, name);
  }
  // Replaces every field named `name` (case-insensitive) with one `name: value` field.
  void SetHeader(std::string name, std::string value);
};

// The one entry point a transport calls. Must be safe to call concurrently from several worker
// threads if the transport does so (BeastServer does). May block (database work): transports
// never call it on an I/O thread.
using Handler = std::function<Response(const Request&)>;

}  // namespace oversync::http

#endif  // OVERSYNC_HTTP_MESSAGE_H_
