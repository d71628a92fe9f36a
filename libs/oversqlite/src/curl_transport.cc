// The libcurl Transport (transport.h). One easy handle per exchange, taken from a small pool so
// that consecutive requests find the previous request's keep-alive connection in the handle's
// connection cache (a fresh easy handle would open a new TCP/TLS connection every time).
//
// No exception may cross libcurl's C callbacks (style rule 8): every callback catches, records
// the failure in its Transfer and aborts the exchange, and Perform reports it as kInternal.
#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/common/status.h"
#include "oversync/oversqlite/transport.h"

namespace oversync::oversqlite {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Idle easy handles kept for reuse. More than the client's concurrent exchanges (operations
// plus the watch stream) would only hold idle sockets open.
constexpr std::size_t kMaxPooledHandles = 4;

// curl_global_init must run once before any other libcurl call and is not guaranteed
// thread-safe on every build; a function-local static gives exactly-once, thread-safe
// initialization without a mutable global. curl_global_cleanup is never called: other code in
// the process (the embedder) may use libcurl too, and process exit releases everything.
CURLcode EnsureCurlGlobalInit() {
  static const CURLcode init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
  return init_result;
}

// Per-exchange state shared with the callbacks (they receive it as their user pointer). Lives
// on Perform's caller's stack for the duration of curl_easy_perform.
struct Transfer {
  CURL* handle = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  // Send: the whole body lands here. Stream: the body of a non-200 answer (may be null).
  std::string* body = nullptr;
  std::vector<std::pair<std::string, std::string>>* headers = nullptr;
  // Stream only: receives the body of a 200 answer.
  const std::function<bool(std::string_view)>* on_data = nullptr;

  bool cancelled = false;            // the cancel flag stopped the exchange
  bool stopped_by_consumer = false;  // on_data returned false
  bool callback_failed = false;      // a callback threw (never crosses into libcurl)
  std::string callback_error;
};

bool CancelRequested(const Transfer& transfer) {
  return transfer.cancel != nullptr && transfer.cancel->load(std::memory_order_acquire);
}

std::string_view TrimAsciiSpace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return out;
}

void HandleHeaderLine(Transfer& transfer, std::string_view line) {
  if (transfer.headers == nullptr) return;
  // A status line starts every response libcurl reads, including interim 1xx ones: only the
  // final response's headers must remain.
  if (line.substr(0, 5) == "HTTP/") {
    transfer.headers->clear();
    return;
  }
  if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    // Obsolete line folding (RFC 9112 §5.2): continues the previous value.
    if (!transfer.headers->empty()) {
      transfer.headers->back().second += ' ';
      transfer.headers->back().second += TrimAsciiSpace(line);
    }
    return;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;  // the blank line ending the header block
  transfer.headers->emplace_back(LowerAscii(TrimAsciiSpace(line.substr(0, colon))),
                                 std::string(TrimAsciiSpace(line.substr(colon + 1))));
}

std::size_t HeaderCallback(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  try {
    HandleHeaderLine(transfer, std::string_view(buffer, bytes));
  } catch (const std::exception& e) {
    transfer.callback_failed = true;
    transfer.callback_error = e.what();
    return 0;  // a short count aborts the exchange
  } catch (...) {
    transfer.callback_failed = true;
    transfer.callback_error = "unknown exception in the header callback";
    return 0;
  }
  return bytes;
}

std::size_t WriteCallback(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  // Checked here as well as in the progress callback, so a consumer that raises the flag from
  // on_data stops the exchange at once instead of at the next progress tick.
  if (CancelRequested(transfer)) {
    transfer.cancelled = true;
    return 0;
  }
  try {
    const std::string_view chunk(data, bytes);
    if (transfer.on_data != nullptr) {
      long status = 0;  // NOLINT(google-runtime-int): libcurl's type
      curl_easy_getinfo(transfer.handle, CURLINFO_RESPONSE_CODE, &status);
      if (status == 200) {
        if (!(*transfer.on_data)(chunk)) {
          transfer.stopped_by_consumer = true;
          return 0;
        }
        return bytes;
      }
    }
    if (transfer.body != nullptr) transfer.body->append(chunk);
  } catch (const std::exception& e) {
    transfer.callback_failed = true;
    transfer.callback_error = e.what();
    return 0;
  } catch (...) {
    transfer.callback_failed = true;
    transfer.callback_error = "unknown exception in the body callback";
    return 0;
  }
  return bytes;
}

int ProgressCallback(void* user, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/,
                     curl_off_t /*ultotal*/, curl_off_t /*ulnow*/) {
  auto& transfer = *static_cast<Transfer*>(user);
  if (CancelRequested(transfer)) {
    transfer.cancelled = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

ErrorCode CodeForCurlError(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return ErrorCode::kDeadlineExceeded;
    case CURLE_ABORTED_BY_CALLBACK:
      return ErrorCode::kCancelled;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return ErrorCode::kInvalidArgument;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      // A certificate problem is configuration, not a flaky network: never retried.
      return ErrorCode::kIo;
    default:
      // Refused, reset, resolve failures, truncated answers, TLS failures: the network is the
      // likeliest cause, and the client's retry policy decides what to do with them.
      return ErrorCode::kUnavailable;
  }
}

// Options every exchange needs. Returns the first failing setopt (a libcurl built without a
// feature we rely on), never a network error.
CURLcode Configure(CURL* handle, const CurlTransportOptions& options, const HttpRequest& request,
                   curl_slist* headers, Transfer& transfer, char* error_buffer) {
  auto set = [handle](CURLoption option, auto value) {
    return curl_easy_setopt(handle, option, value);
  };
  const std::array<CURLcode, 20> results = {
      set(CURLOPT_ERRORBUFFER, error_buffer),
      set(CURLOPT_URL, request.url.c_str()),
      // Only what the protocol uses: no file://, no redirects to other schemes.
      set(CURLOPT_PROTOCOLS_STR, "http,https"),
      // Signals are the embedder's: without this libcurl uses SIGALRM for DNS timeouts, which
      // is unsafe in a multi-threaded process.
      set(CURLOPT_NOSIGNAL, 1L),
      set(CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms > 0 ? request.timeout_ms : 0)),
      set(CURLOPT_CONNECTTIMEOUT_MS,
          static_cast<long>(options.connect_timeout_ms > 0 ? options.connect_timeout_ms : 0)),
      set(CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L),
      set(CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L),
      options.ca_file.empty() ? CURLE_OK : set(CURLOPT_CAINFO, options.ca_file.c_str()),
      set(CURLOPT_HTTPHEADER, headers),
      set(CURLOPT_HEADERFUNCTION, &HeaderCallback),
      set(CURLOPT_HEADERDATA, static_cast<void*>(&transfer)),
      set(CURLOPT_WRITEFUNCTION, &WriteCallback),
      set(CURLOPT_WRITEDATA, static_cast<void*>(&transfer)),
      set(CURLOPT_XFERINFOFUNCTION, &ProgressCallback),
      set(CURLOPT_XFERINFODATA, static_cast<void*>(&transfer)),
      set(CURLOPT_NOPROGRESS, 0L),
      set(CURLOPT_TCP_KEEPALIVE, 1L),
      set(CURLOPT_FOLLOWLOCATION, 0L),
      set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1)),
  };
  for (const CURLcode result : results) {
    if (result != CURLE_OK) return result;
  }
  if (request.method == "GET") return set(CURLOPT_HTTPGET, 1L);
  // POSTFIELDS with an explicit size: the body may contain NULs, and an empty body still sends
  // "Content-Length: 0" (servers may answer 411 otherwise).
  const CURLcode size_result =
      set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  if (size_result != CURLE_OK) return size_result;
  const CURLcode body_result = set(CURLOPT_POSTFIELDS, request.body.c_str());
  if (body_result != CURLE_OK) return body_result;
  if (request.method == "POST") return CURLE_OK;
  return set(CURLOPT_CUSTOMREQUEST, "DELETE");  // Perform admits nothing else
}

bool HasHeader(const HttpRequest& request, std::string_view lower_name) {
  return std::any_of(
      request.headers.begin(), request.headers.end(),
      [lower_name](const auto& header) { return LowerAscii(header.first) == lower_name; });
}

Result<CurlSlistPtr> BuildHeaders(const HttpRequest& request) {
  CurlSlistPtr list;
  auto append = [&list](const std::string& line) -> bool {
    curl_slist* grown = curl_slist_append(list.get(), line.c_str());
    if (grown == nullptr) return false;  // the old list is intact and still owned
    static_cast<void>(list.release());
    list.reset(grown);
    return true;
  };
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("invalid request header \"{}\"", name));
    }
    // "Name;" is libcurl's spelling of a header with an empty value ("Name:" removes it).
    if (!append(value.empty() ? fmt::format("{};", name) : fmt::format("{}: {}", name, value))) {
      return Error(ErrorCode::kInternal, "out of memory building request headers");
    }
  }
  // libcurl would add "Expect: 100-continue" to large POSTs (an extra round trip) and a form
  // Content-Type to bodies without one; the client sends exactly the headers it chose.
  bool ok = append("Expect:");
  if (request.method != "GET" && !HasHeader(request, "content-type")) {
    ok = ok && append("Content-Type:");
  }
  if (!ok) return Error(ErrorCode::kInternal, "out of memory building request headers");
  return list;
}

// Thread-safe: the pool is guarded by mu_; every exchange uses its own easy handle.
class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(CurlTransportOptions options) : options_(std::move(options)) {}
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;
  CurlTransport(CurlTransport&&) = delete;
  CurlTransport& operator=(CurlTransport&&) = delete;
  ~CurlTransport() override = default;

  Result<HttpResponse> Send(const HttpRequest& request) override {
    HttpResponse response;
    Transfer transfer;
    transfer.cancel = request.cancel;
    transfer.body = &response.body;
    transfer.headers = &response.headers;
    OVERSYNC_ASSIGN_OR_RETURN(response.status, Perform(request, transfer));
    return response;
  }

  Result<int> Stream(const HttpRequest& request,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     std::string* error_body) override {
    if (!on_data) return Error(ErrorCode::kInvalidArgument, "Stream needs an on_data function");
    if (error_body != nullptr) error_body->clear();
    std::vector<std::pair<std::string, std::string>> headers;
    Transfer transfer;
    transfer.cancel = request.cancel;
    transfer.body = error_body;
    transfer.headers = &headers;
    transfer.on_data = &on_data;
    return Perform(request, transfer);
  }

 private:
  // An idle handle (reset, connection cache intact) or a new one; null if libcurl cannot
  // allocate one.
  CurlEasyPtr Acquire() {
    {
      const std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        CurlEasyPtr handle = std::move(idle_.back());
        idle_.pop_back();
        return handle;
      }
    }
    return CurlEasyPtr(curl_easy_init());
  }

  // Resets the handle (drops every option, which point into the finished exchange's buffers,
  // but keeps its live connections) and parks it for the next exchange.
  void Release(CurlEasyPtr handle) {
    curl_easy_reset(handle.get());
    const std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxPooledHandles) idle_.push_back(std::move(handle));
  }

  // Runs one exchange; returns the final HTTP status.
  Result<int> Perform(const HttpRequest& request, Transfer& transfer) {
    if (request.method != "GET" && request.method != "POST" && request.method != "DELETE") {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("unsupported HTTP method \"{}\"", request.method));
    }
    if (CancelRequested(transfer)) {
      return Error(ErrorCode::kCancelled,
                   fmt::format("{} {}: cancelled", request.method, request.url));
    }
    OVERSYNC_ASSIGN_OR_RETURN(CurlSlistPtr headers, BuildHeaders(request));
    CurlEasyPtr handle = Acquire();
    if (handle == nullptr) return Error(ErrorCode::kInternal, "curl_easy_init failed");
    transfer.handle = handle.get();

    std::array<char, CURL_ERROR_SIZE> error_buffer{};
    const CURLcode configured =
        Configure(handle.get(), options_, request, headers.get(), transfer, error_buffer.data());
    if (configured != CURLE_OK) {
      return Error(ErrorCode::kInternal,
                   fmt::format("configuring libcurl: {}", curl_easy_strerror(configured)));
    }
    const CURLcode code = curl_easy_perform(handle.get());
    long status = 0;  // NOLINT(google-runtime-int): libcurl's type
    curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &status);

    // A transfer abandoned mid-body (cancelled, stopped by the consumer, a stream cut by its
    // deadline or the network) leaves its connection in an unknown state; libcurl closes it,
    // and the handle is not worth keeping either.
    const bool aborted = transfer.cancelled || transfer.stopped_by_consumer ||
                         transfer.callback_failed ||
                         (transfer.on_data != nullptr && code != CURLE_OK);
    if (aborted) {
      handle.reset();
    } else {
      Release(std::move(handle));
    }

    if (transfer.callback_failed) {
      return Error(ErrorCode::kInternal, fmt::format("{} {}: callback failed: {}", request.method,
                                                     request.url, transfer.callback_error));
    }
    if (transfer.cancelled) {
      return Error(ErrorCode::kCancelled,
                   fmt::format("{} {}: cancelled", request.method, request.url));
    }
    // on_data asked to stop: libcurl reports that as a write error, the caller as success.
    if (transfer.stopped_by_consumer) return static_cast<int>(status);
    if (code != CURLE_OK) {
      const std::string_view detail(error_buffer.data());
      return Error(CodeForCurlError(code),
                   fmt::format("{} {}: {}{}{}", request.method, request.url,
                               curl_easy_strerror(code), detail.empty() ? "" : ": ", detail));
    }
    return static_cast<int>(status);
  }

  const CurlTransportOptions options_;
  std::mutex mu_;
  std::vector<CurlEasyPtr> idle_;  // guarded by mu_
};

}  // namespace

Result<std::shared_ptr<Transport>> MakeCurlTransport(CurlTransportOptions options) {
  if (const CURLcode init = EnsureCurlGlobalInit(); init != CURLE_OK) {
    return Error(ErrorCode::kInternal,
                 fmt::format("curl_global_init failed: {}", curl_easy_strerror(init)));
  }
  return std::shared_ptr<Transport>(std::make_shared<CurlTransport>(std::move(options)));
}

}  // namespace oversync::oversqlite
