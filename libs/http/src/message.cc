#include "oversync/http/message.h"

#include <cstddef>

#include "oversync/http/url.h"

namespace oversync::http {
namespace {

constexpr char ToLowerAscii(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() && EqualsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ToLowerAscii(a[i]) != ToLowerAscii(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name) noexcept {
  for (const auto& [field, value] : headers) {
    if (EqualsIgnoreCase(field, name)) return std::string_view(value);
  }
  return std::nullopt;
}

Result<Request> Request::Make(std::string method, std::string target, Headers headers,
                              std::string body) {
  std::string_view rest = target;
  std::string_view raw_path;
  std::string_view raw_query;
  if (rest == "*") {
    raw_path = rest;
  } else {
    if (StartsWithIgnoreCase(rest, "http://") || StartsWithIgnoreCase(rest, "https://")) {
      rest.remove_prefix(rest.find("://") + 3);
      const std::size_t authority_end = rest.find_first_of("/?");
      rest.remove_prefix(authority_end == std::string_view::npos ? rest.size() : authority_end);
    }
    const std::size_t question = rest.find('?');
    raw_path = rest.substr(0, question);
    if (question != std::string_view::npos) raw_query = rest.substr(question + 1);
  }

  Request request;
  request.raw_path = raw_path == "*" ? std::string(raw_path) : CollapseSlashes(raw_path);
  // push_back, not = "/": assigning a literal here trips a GCC 12 -Wrestrict false positive.
  if (request.raw_path.empty()) request.raw_path.push_back('/');
  std::optional<std::string> decoded = PercentDecode(request.raw_path, DecodeMode::kPath);
  if (!decoded) {
    return Error(ErrorCode::kInvalidRequest, "invalid URL escape in request path");
  }
  request.path = std::move(*decoded);
  request.raw_query = std::string(raw_query);
  request.method = std::move(method);
  request.target = std::move(target);
  request.headers = std::move(headers);
  request.body = std::move(body);
  return request;
}

std::optional<std::string> Request::FirstQueryValue(std::string_view name) const {
  const QueryParams params = ParseQuery(raw_query);
  std::optional<std::string_view> value = http::FirstQueryValue(params, name);
  if (!value) return std::nullopt;
  return std::string(*value);
}

Response Response::Json(int status, std::string body) {
  Response response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = std::move(body);
  response.body.push_back('\n');
  return response;
}

Response Response::Text(int status, std::string_view message) {
  Response response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.body.reserve(message.size() + 1);
  response.body.append(message);
  response.body.push_back('\n');
  return response;
}

Response Response::NoContent() {
  Response response;
  response.status = 204;
  return response;
}

Response Response::Stream(int status, Headers headers, StreamFn stream) {
  Response response;
  response.status = status;
  response.headers = std::move(headers);
  response.stream = std::move(stream);
  return response;
}

void Response::SetHeader(std::string name, std::string value) {
  std::erase_if(headers,
                [&name](const auto& field) { return EqualsIgnoreCase(field.first, name); });
  headers.emplace_back(std::move(name), std::move(value));
}

}  // namespace oversync::http
