#include "oversync/http/testing/loopback_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace oversync::http::testing {
namespace {

Status ErrnoStatus(std::string_view what) {
  const int err = errno;
  if (err == EAGAIN) {  // == EWOULDBLOCK on Linux; SO_RCVTIMEO/SO_SNDTIMEO expired
    return Status(ErrorCode::kDeadlineExceeded, std::string(what).append(": timed out"));
  }
  return Status(ErrorCode::kIo, std::string(what).append(": ").append(std::strerror(err)));
}

sockaddr_in LoopbackAddress(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = other.Release();
  }
  return *this;
}

UniqueFd::~UniqueFd() { Reset(); }

void UniqueFd::Reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string FormatRequest(std::string_view method, std::string_view target, const Headers& headers,
                          std::string_view body) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  bool has_length = false;
  for (const auto& [name, value] : headers) {
    if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding")) {
      has_length = true;
    }
    out.append(name).append(": ").append(value).append("\r\n");
  }
  const bool body_method = method == "POST" || method == "PUT" || method == "PATCH";
  if (!has_length && (!body.empty() || body_method)) {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

Result<LoopbackClient> LoopbackClient::Connect(std::uint16_t port, int timeout_ms) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error(ErrnoStatus("socket"));
  timeval timeout{};
  timeout.tv_sec = timeout_ms / 1000;
  timeout.tv_usec = static_cast<suseconds_t>((timeout_ms % 1000) * 1000);
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0 ||
      ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) != 0) {
    return Error(ErrnoStatus("setsockopt"));
  }
  const int one = 1;
  (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const sockaddr_in address = LoopbackAddress(port);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the POSIX sockaddr idiom
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return Error(ErrnoStatus("connect"));
  }
  return LoopbackClient(std::move(fd));
}

Status LoopbackClient::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("send");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

Status LoopbackClient::Fill() {
  std::array<char, 16384> chunk{};
  while (true) {
    const ssize_t n = ::recv(fd_.get(), chunk.data(), chunk.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("recv");
    }
    if (n == 0) return Status(ErrorCode::kIo, "recv: connection closed by peer");
    buffer_.append(chunk.data(), static_cast<std::size_t>(n));
    return Status::Ok();
  }
}

Result<std::string> LoopbackClient::ReadLine() {
  while (true) {
    const std::size_t end = buffer_.find("\r\n");
    if (end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      return line;
    }
    OVERSYNC_RETURN_IF_ERROR(Fill());
  }
}

Status LoopbackClient::ReadExactly(std::size_t n, std::string* out) {
  while (buffer_.size() < n) OVERSYNC_RETURN_IF_ERROR(Fill());
  out->append(buffer_, 0, n);
  buffer_.erase(0, n);
  return Status::Ok();
}

Result<ClientResponse> LoopbackClient::ReadResponse(bool head_request) {
  OVERSYNC_ASSIGN_OR_RETURN(ClientResponse response, ReadResponseHead());
  return ReadResponseBody(std::move(response), head_request);
}

Result<std::optional<std::string>> LoopbackClient::ReadChunk() {
  OVERSYNC_ASSIGN_OR_RETURN(const std::string size_line, ReadLine());
  std::size_t size = 0;
  const char* begin = size_line.data();
  const char* end = begin + size_line.size();
  const auto [size_end, size_ec] = std::from_chars(begin, end, size, 16);
  if (size_ec != std::errc() || size_end == begin) {
    return Error(ErrorCode::kProtocolViolation, "bad chunk size: " + size_line);
  }
  if (size == 0) {
    while (true) {  // trailers up to the blank line
      OVERSYNC_ASSIGN_OR_RETURN(const std::string trailer, ReadLine());
      if (trailer.empty()) break;
    }
    return std::optional<std::string>();
  }
  std::string data;
  OVERSYNC_RETURN_IF_ERROR(ReadExactly(size, &data));
  OVERSYNC_ASSIGN_OR_RETURN(const std::string chunk_end, ReadLine());
  if (!chunk_end.empty()) return Error(ErrorCode::kProtocolViolation, "bad chunk framing");
  return std::optional<std::string>(std::move(data));
}

Result<ClientResponse> LoopbackClient::ReadResponseHead() {
  ClientResponse response;
  OVERSYNC_ASSIGN_OR_RETURN(const std::string status_line, ReadLine());
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) {
    return Error(ErrorCode::kProtocolViolation, "bad status line: " + status_line);
  }
  const std::size_t space = status_line.find(' ');
  const char* first = status_line.data() + space + 1;
  const auto [ptr, ec] = std::from_chars(first, first + 3, response.status);
  if (ec != std::errc() || ptr != first + 3) {
    return Error(ErrorCode::kProtocolViolation, "bad status code: " + status_line);
  }
  if (status_line.size() > space + 5) response.reason = status_line.substr(space + 5);

  while (true) {
    OVERSYNC_ASSIGN_OR_RETURN(const std::string line, ReadLine());
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) {
      return Error(ErrorCode::kProtocolViolation, "bad header line: " + line);
    }
    response.headers.emplace_back(line.substr(0, colon),
                                  std::string(Trim(std::string_view(line).substr(colon + 1))));
  }
  return response;
}

Result<ClientResponse> LoopbackClient::ReadResponseBody(ClientResponse response,
                                                        bool head_request) {
  if (head_request || response.status < 200 || response.status == 204 || response.status == 304) {
    return response;
  }
  const std::optional<std::string_view> transfer_encoding = response.Header("Transfer-Encoding");
  if (transfer_encoding && EqualsIgnoreCase(*transfer_encoding, "chunked")) {
    response.chunked = true;
    while (true) {
      OVERSYNC_ASSIGN_OR_RETURN(std::optional<std::string> chunk, ReadChunk());
      if (!chunk) return response;
      response.body += *chunk;
    }
  }
  if (const std::optional<std::string_view> length = response.Header("Content-Length")) {
    std::size_t n = 0;
    const auto [length_end, length_ec] =
        std::from_chars(length->data(), length->data() + length->size(), n);
    if (length_ec != std::errc() || length_end != length->data() + length->size()) {
      return Error(ErrorCode::kProtocolViolation, "bad Content-Length");
    }
    OVERSYNC_RETURN_IF_ERROR(ReadExactly(n, &response.body));
    return response;
  }
  // Body delimited by connection close.
  while (true) {
    Status status = Fill();
    if (!status.ok()) {
      if (status.code() == ErrorCode::kIo) break;
      return Error(std::move(status));
    }
  }
  response.body = std::move(buffer_);
  buffer_.clear();
  return response;
}

Result<ClientResponse> LoopbackClient::RoundTrip(std::string_view method, std::string_view target,
                                                 const Headers& headers, std::string_view body) {
  OVERSYNC_RETURN_IF_ERROR(Send(FormatRequest(method, target, headers, body)));
  return ReadResponse(method == "HEAD");
}

Status LoopbackClient::WaitForClose() {
  if (!buffer_.empty()) return Status(ErrorCode::kProtocolViolation, "unread bytes pending");
  char byte = 0;
  while (true) {
    const ssize_t n = ::recv(fd_.get(), &byte, 1, 0);
    if (n == 0) return Status::Ok();
    if (n > 0) return Status(ErrorCode::kProtocolViolation, "unexpected bytes before close");
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return Status::Ok();
    return ErrnoStatus("recv");
  }
}

Result<std::uint16_t> PickFreeLoopbackPort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error(ErrnoStatus("socket"));
  const sockaddr_in address = LoopbackAddress(0);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the POSIX sockaddr idiom
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return Error(ErrnoStatus("bind"));
  }
  sockaddr_in bound{};
  socklen_t length = sizeof(bound);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the POSIX sockaddr idiom
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    return Error(ErrnoStatus("getsockname"));
  }
  return ntohs(bound.sin_port);
}

}  // namespace oversync::http::testing
