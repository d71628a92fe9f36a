#include "oversync/http/router.h"

#include <algorithm>
#include <cstddef>
#include <exception>
#include <optional>

#include "oversync/http/url.h"

namespace oversync::http {
namespace {

bool IsMethodToken(std::string_view method) noexcept {
  return std::all_of(method.begin(), method.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '_';
  });
}

bool IsIdentifier(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::vector<std::string_view> SplitSegments(std::string_view path_without_leading_slash) {
  std::vector<std::string_view> segments;
  while (true) {
    const std::size_t slash = path_without_leading_slash.find('/');
    segments.push_back(path_without_leading_slash.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path_without_leading_slash.remove_prefix(slash + 1);
  }
  return segments;
}

// Splits a request's raw (escaped) path into decoded segments; nullopt if it does not start
// with '/' or a segment has an invalid escape (such a path matches no route).
std::optional<std::vector<std::string>> DecodedSegments(std::string_view raw_path) {
  if (raw_path.empty() || raw_path.front() != '/') return std::nullopt;
  std::vector<std::string> decoded;
  for (const std::string_view segment : SplitSegments(raw_path.substr(1))) {
    std::optional<std::string> value = PercentDecode(segment, DecodeMode::kPath);
    if (!value) return std::nullopt;
    decoded.push_back(std::move(*value));
  }
  return decoded;
}

}  // namespace

std::string_view PathParams::Get(std::string_view name) const noexcept {
  for (const auto& [key, value] : values_) {
    if (key == name) return value;
  }
  return {};
}

Status Router::Add(std::string_view method, std::string_view pattern, RouteHandler handler) {
  const auto invalid = [&](std::string_view why) {
    return Status(ErrorCode::kInvalidArgument,
                  std::string("router pattern \"").append(pattern).append("\": ").append(why));
  };
  if (!handler) return invalid("empty handler");
  if (!IsMethodToken(method)) return invalid("invalid method");
  if (pattern.empty() || pattern.front() != '/') {
    return invalid("must start with '/' (host patterns are not supported)");
  }

  Route route;
  route.method = std::string(method);
  route.handler = std::move(handler);
  const std::vector<std::string_view> raw_segments = SplitSegments(pattern.substr(1));
  for (std::size_t i = 0; i < raw_segments.size(); ++i) {
    const std::string_view segment = raw_segments[i];
    const bool last = i + 1 == raw_segments.size();
    if (segment.empty()) {
      return invalid(last ? "trailing-slash subtree patterns are not supported (use {$})"
                          : "empty segment");
    }
    if (segment.front() == '{') {
      if (segment.back() != '}') return invalid("a wildcard must be a whole segment");
      std::string_view name = segment.substr(1, segment.size() - 2);
      if (name == "$") {
        if (!last) return invalid("{$} must be the last segment");
        route.segments.push_back({SegmentKind::kLiteral, ""});
        continue;
      }
      SegmentKind kind = SegmentKind::kWildcard;
      if (name.size() > 3 && name.substr(name.size() - 3) == "...") {
        if (!last) return invalid("{name...} must be the last segment");
        name.remove_suffix(3);
        kind = SegmentKind::kRest;
      }
      if (!IsIdentifier(name)) return invalid("bad wildcard name");
      for (const Segment& existing : route.segments) {
        if (existing.kind != SegmentKind::kLiteral && existing.text == name) {
          return invalid("duplicate wildcard name");
        }
      }
      route.segments.push_back({kind, std::string(name)});
      continue;
    }
    if (segment.find_first_of("{}") != std::string_view::npos) {
      return invalid("a wildcard must be a whole segment");
    }
    std::optional<std::string> literal = PercentDecode(segment, DecodeMode::kPath);
    if (!literal) return invalid("invalid escape");
    route.segments.push_back({SegmentKind::kLiteral, std::move(*literal)});
  }

  for (const Route& existing : routes_) {
    if (existing.method != route.method || existing.segments.size() != route.segments.size()) {
      continue;
    }
    bool same_shape = true;
    for (std::size_t i = 0; i < route.segments.size() && same_shape; ++i) {
      const Segment& a = existing.segments[i];
      const Segment& b = route.segments[i];
      same_shape = a.kind == b.kind && (a.kind != SegmentKind::kLiteral || a.text == b.text);
    }
    if (same_shape) return invalid("conflicts with an existing registration");
  }
  routes_.push_back(std::move(route));
  return Status::Ok();
}

bool Router::Match(const Route& route, const std::vector<std::string>& path_segments,
                   PathParams* params) {
  std::size_t i = 0;
  for (const Segment& segment : route.segments) {
    if (segment.kind == SegmentKind::kRest) {
      std::string rest;
      for (std::size_t j = i; j < path_segments.size(); ++j) {
        if (j > i) rest.push_back('/');
        rest.append(path_segments[j]);
      }
      if (i >= path_segments.size()) return false;  // "/files" does not match "/files/{r...}"
      if (params != nullptr) params->Set(segment.text, std::move(rest));
      return true;
    }
    if (i >= path_segments.size()) return false;
    const std::string& value = path_segments[i];
    if (segment.kind == SegmentKind::kLiteral) {
      if (value != segment.text) return false;
    } else {
      if (value.empty()) return false;  // a {name} never matches the trailing empty segment
      if (params != nullptr) params->Set(segment.text, value);
    }
    ++i;
  }
  return i == path_segments.size();
}

bool Router::MoreSpecific(const Route& a, const Route& b) noexcept {
  const std::size_t n = std::min(a.segments.size(), b.segments.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto rank_a = static_cast<int>(a.segments[i].kind);
    const auto rank_b = static_cast<int>(b.segments[i].kind);
    if (rank_a != rank_b) return rank_a < rank_b;
  }
  return false;
}

Response Router::Handle(const Request& request) const {
  std::optional<std::vector<std::string>> segments = DecodedSegments(request.raw_path);
  if (!segments) return Response::Text(404, "404 page not found");

  std::vector<std::string_view> tiers = {request.method};
  if (request.method == "HEAD") tiers.emplace_back("GET");
  tiers.emplace_back("");
  for (const std::string_view tier : tiers) {
    const Route* best = nullptr;
    for (const Route& route : routes_) {
      if (route.method != tier || !Match(route, *segments, nullptr)) continue;
      if (best == nullptr || MoreSpecific(route, *best)) best = &route;
    }
    if (best == nullptr) continue;
    PathParams params;
    Match(*best, *segments, &params);
    try {
      return best->handler(request, params);
    } catch (const std::exception&) {
      return Response::Text(500, "Internal Server Error");
    } catch (...) {
      return Response::Text(500, "Internal Server Error");
    }
  }

  std::vector<std::string> allowed;
  for (const Route& route : routes_) {
    if (!route.method.empty() && Match(route, *segments, nullptr)) allowed.push_back(route.method);
  }
  if (allowed.empty()) return Response::Text(404, "404 page not found");
  if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end()) {
    allowed.emplace_back("HEAD");
  }
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  std::string allow;
  for (const std::string& method : allowed) {
    if (!allow.empty()) allow.append(", ");
    allow.append(method);
  }
  Response response = Response::Text(405, "Method Not Allowed");
  response.headers.emplace_back("Allow", std::move(allow));
  return response;
}

Handler Router::AsHandler() const {
  return [this](const Request& request) { return Handle(request); };
}

}  // namespace oversync::http
