// File: oversync/http/url.h
//
// Percent-decoding, path normalisation and query-string parsing with Go net/url semantics
// (the reference server's behaviour, protocol.md §1.1).
//
// Thread-safety: pure functions.
#ifndef OVERSYNC_HTTP_URL_H_
#define OVERSYNC_HTTP_URL_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oversync::http {

// Decoded query parameters in their original order; repeated names stay separate entries.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

enum class DecodeMode {
  kPath,   // '+' stays '+' (Go url.PathUnescape)
  kQuery,  // '+' becomes ' ' (Go url.QueryUnescape)
};

// Decodes %XX escapes (hex digits of either case). Returns nullopt if a '%' is not followed by
// two hex digits, as Go does. Decoded bytes are not validated as UTF-8.
std::optional<std::string> PercentDecode(std::string_view text, DecodeMode mode);

// Collapses runs of '/' into one ("//sync//pull" -> "/sync/pull"). protocol.md §1.1 lets a C++
// server normalise duplicate slashes instead of answering Go's 301. Dot segments are kept.
std::string CollapseSlashes(std::string_view path);

// Parses an undecoded query string ("a=1&b=x+y&a=2") like Go's url.ParseQuery as used by
// Request.URL.Query(): pairs split on '&'; empty pairs are skipped; a pair without '=' has the
// value ""; pairs containing ';' or an invalid escape are skipped (Go records an error and
// drops them); '+' decodes to a space.
QueryParams ParseQuery(std::string_view raw_query);

// Value of the first parameter named `name` (exact, case-sensitive match), or nullopt.
// The view is valid while `params` is alive and unmodified.
std::optional<std::string_view> FirstQueryValue(const QueryParams& params,
                                                std::string_view name) noexcept;

}  // namespace oversync::http

#endif  // OVERSYNC_HTTP_URL_H_
