// File: tests/go_canonical/go_canonical_diff_test.cc
//
// Differential test: oversync::protocol::CanonicalizeGo (protocol.md §2.6, "Go canonical form")
// must be byte-identical to Go's `json.Unmarshal(doc, &v any)` + `json.Marshal(v)`.
//
// The test generates documents deterministically from a fixed, printed seed (own splitmix64, no
// project code involved), runs the Go helper built from tests/go_canonical/main.go once over all
// of them (framed stdin/stdout through temp files), and requires for every document:
//   Go ok <=> C++ ok, and identical bytes when ok.
// Error messages are not compared (only the fact of failure).
//
// Mismatches are all counted; the first 20 are reported in detail (seed, index, input, both outputs).
//
// Environment knobs (optional, for exploring): OVERSYNC_GO_CANONICAL_SEED (decimal or 0x-hex),
// OVERSYNC_GO_CANONICAL_DOCS (number of documents, default 5000),
// OVERSYNC_GO_CANONICAL_MAX_REPORTS (detailed mismatch reports, default 20).
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "oversync/testing/go_helper.h"
#include "oversync/protocol/canonical_json.h"

#ifndef OVERSYNC_GO_CANONICAL_BIN
#define OVERSYNC_GO_CANONICAL_BIN ""
#endif

extern char** environ;  // NOLINT: POSIX, for posix_spawn

namespace {

using namespace std::string_view_literals;

constexpr std::string_view kGoBin = OVERSYNC_GO_CANONICAL_BIN;
constexpr std::uint64_t kDefaultSeed = 0x6f76657273796e63ULL;  // "oversync"
constexpr std::size_t kDefaultDocs = 5000;
constexpr std::size_t kMaxReportedMismatches = 20;
constexpr int kMaxDepth = 6;

// ---------------------------------------------------------------------------------------------
// Deterministic PRNG (splitmix64).

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // In [0, n), n > 0 (modulo bias is irrelevant here).
  std::size_t Below(std::size_t n) { return static_cast<std::size_t>(Next() % n); }
  // In [lo, hi].
  int Between(int lo, int hi) {
    return lo + static_cast<int>(Below(static_cast<std::size_t>(hi - lo + 1)));
  }
  bool Percent(std::size_t p) { return Below(100) < p; }
  template <typename Container>
  const auto& Pick(const Container& items) {
    return items[Below(std::size(items))];
  }

 private:
  std::uint64_t state_;
};

// ---------------------------------------------------------------------------------------------
// Fixed material. Every entry is JSON source text (string pieces go between quotes as-is).

constexpr std::array kWhitespace = {' ', '\t', '\n', '\r'};

// Number lexemes at the interesting boundaries (all valid JSON grammar; some overflow).
constexpr std::array kEdgeNumbers = {
    // 2^53 neighbourhood (ties-to-even above 2^53).
    "9007199254740991"sv, "9007199254740992"sv, "9007199254740993"sv, "9007199254740994"sv,
    "9007199254740995"sv, "-9007199254740991"sv, "-9007199254740992"sv, "-9007199254740993"sv,
    "-9007199254740995"sv, "9007199254740993.0000000000000000001"sv, "9007199254740992.5"sv,
    "18014398509481985"sv, "18446744073709551615"sv, "18446744073709551616"sv,
    "9223372036854775807"sv, "-9223372036854775808"sv, "9223372036854775808"sv,
    // 1e-6 / 1e-7 (plain vs exponent form).
    "0.000001"sv, "1e-6"sv, "1E-6"sv, "0.0000010"sv, "0.0000009999999999999999"sv,
    "0.00000099999999999999995"sv, "9.999999999999999e-7"sv, "9.9999999999999995e-7"sv,
    "1.0000000000000001e-6"sv, "0.0000001"sv, "1e-7"sv, "-0.000001"sv, "-0.0000001"sv,
    "0.00000123"sv, "0.000000123"sv, "2.5e-8"sv, "1e-10"sv, "1.5e-9"sv, "1e-100"sv,
    // 1e20 / 1e21 (plain vs exponent form).
    "1e20"sv, "1e21"sv, "1E21"sv, "1e+21"sv, "-1e21"sv, "100000000000000000000"sv,
    "1000000000000000000000"sv, "999999999999999999999"sv, "999999999999999868928"sv,
    "999999999999999900000"sv, "9.999999999999999e20"sv, "1.0000000000000001e21"sv,
    "123456789012345678901"sv, "12345678901234567890123"sv, "1.2345e25"sv, "1e22"sv,
    "123456789012345678901234567890"sv, "-123456789012345678901234567890"sv,
    // Zeros.
    "0"sv, "-0"sv, "0.0"sv, "-0.0"sv, "0e0"sv, "-0e5"sv, "0E+7"sv, "-0.000e-3"sv, "0.000"sv,
    // Exponent spellings.
    "1E5"sv, "1e+5"sv, "1e-5"sv, "1E+05"sv, "1e0005"sv, "1.5e300"sv, "-1.5e300"sv, "1e308"sv,
    "1e-400"sv, "-1e-400"sv, "1e-324"sv, "5e-324"sv, "4.9e-324"sv, "-5e-324"sv,
    "2.4703282292062327e-324"sv, "2.4703282292062328e-324"sv, "2.2250738585072011e-308"sv,
    "2.2250738585072014e-308"sv, "2.225073858507201e-308"sv, "1.7976931348623157e308"sv,
    "1.7976931348623158e308"sv, "-1.7976931348623157e+308"sv, "1e400"sv, "-1e400"sv,
    "1.7976931348623159e308"sv,
    // Everyday values and correct-rounding traps.
    "1"sv, "-1"sv, "1.0"sv, "1.50"sv, "0.1"sv, "0.2"sv, "0.3"sv, "0.30000000000000004"sv,
    "100"sv, "3.14159"sv, "-2.5"sv, "1234567.125"sv, "0.5"sv, "1.7976931348623157"sv,
    "0.1000000000000000055511151231257827021181583404541015625"sv,
    "1.00000000000000011102230246251565404236316680908203125"sv,
    "1.00000000000000011102230246251565404236316680908203125001"sv,
    "1.0000000000000002220446049250313080847263336181640625"sv,
    "0.000000000000000000000000000000000000000000000000000000000000000000000000000001"sv,
    "100000000000000000000000000000000000000000000000000000000000000000000000000000000"sv,
    "7.038531e-26"sv, "8.41e21"sv, "5e-7"sv, "123e-9"sv, "4.35"sv, "2.675"sv,
};

// Raw-byte and escape pieces for string contents.
constexpr std::array kStringPieces = {
    // Every short escape.
    R"(\")"sv, R"(\\)"sv, R"(\/)"sv, R"(\b)"sv, R"(\f)"sv, R"(\n)"sv, R"(\r)"sv, R"(\t)"sv,
    // HTML-sensitive characters, raw and escaped; DEL; slash.
    "<"sv, ">"sv, "&"sv, R"(\u003c)"sv, R"(\u003E)"sv, R"(\u0026)"sv, "\x7f"sv, R"(\u007f)"sv,
    "/"sv, R"(\u002f)"sv, R"(\u0022)"sv, R"(\u005C)"sv, R"(\u0041)"sv, R"(\u0020)"sv,
    // Line/paragraph separators, raw UTF-8 and escaped.
    "\xe2\x80\xa8"sv, "\xe2\x80\xa9"sv, R"(\u2028)"sv, R"(\u2029)"sv, R"(\u2027)"sv,
    "\xe2\x80\xaa"sv,
    // Emoji: raw and as surrogate-pair escapes (both cases).
    "\xf0\x9f\x98\x80"sv, R"(\ud83d\ude00)"sv, R"(\uD83D\uDE00)"sv, R"(\ud83d\uDE00)"sv,
    R"(\ud800\udc00)"sv, R"(\udbff\udfff)"sv,
    // Lone / broken surrogate escapes.
    R"(\ud800)"sv, R"(\udc00)"sv, R"(\ud800\u0041)"sv, R"(\udbff)"sv, R"(\udfff)"sv,
    R"(\ud800\ud800\udc00)"sv, R"(\udc00\ud800)"sv, R"(\ud83dx)"sv, R"(\ud800\n)"sv,
    R"(\ud800\\)"sv, R"(\ud800\ufffd)"sv, R"(\uDBFF\uE000)"sv,
    // Invalid raw UTF-8.
    "\xff"sv, "\xfe"sv, "\xc0\x80"sv, "\xc1\xbf"sv, "\xe2\x82"sv, "\xf0\x9f\x98"sv,
    "\xed\xa0\x80"sv, "\xed\xbf\xbf"sv, "\xed\xa0\xbd\xed\xb8\x80"sv, "\xf4\x90\x80\x80"sv,
    "\xf8\x88\x80\x80\x80"sv, "\x80"sv, "\xbf"sv, "\xe0\x80\xaf"sv, "\xf0\x80\x80\xaf"sv,
    "\xc3"sv, "\xe2"sv, "\xf0"sv,
    // Valid non-ASCII.
    "\xc3\xa9"sv, "\xe4\xb8\xad"sv, "\xef\xbf\xbd"sv, "\xef\xbb\xbf"sv, "\xf4\x8f\xbf\xbf"sv,
    "\xc2\x80"sv, "\xc2\xa0"sv, "\xdf\xbf"sv, "\xe0\xa0\x80"sv, "\xef\xbf\xbf"sv,
    "\xed\x9f\xbf"sv, "\xee\x80\x80"sv, "\xef\xbd\x81"sv, R"(\u00e9)"sv, R"(\uFFFD)"sv,
    R"(\ufeff)"sv, R"(\uffff)"sv, R"(\u0000)"sv, R"(\u001F)"sv,
};

// Object keys (JSON source text without quotes). Several pairs decode to the same key.
constexpr std::array kKeys = {
    "a"sv, "b"sv, "c"sv, "A"sv, "B"sv, "Z"sv, "aa"sv, "ab"sv, "a b"sv, ""sv, "_"sv, "key"sv,
    "Key"sv, "KEY"sv, "id"sv, "1"sv, "10"sv, "2"sv, "z"sv, "\xc3\xa9"sv, R"(\u00e9)"sv,
    "e\xcc\x81"sv, "\xc3\xbc"sv, "\xe6\x97\xa5\xe6\x9c\xac"sv, "\xf0\x9f\x98\x80"sv,
    R"(\ud83d\ude00)"sv, "\xef\xbd\x81"sv, "\xee\x80\x80"sv, "\xef\xbf\xbd"sv, R"(\ufffd)"sv,
    "\xff"sv, "\xfe"sv, R"(\ud800)"sv, "<"sv, "&"sv, R"(\u003c)"sv, R"(\u2028)"sv,
    R"(a\u0000b)"sv, R"(\n)"sv, R"(\")"sv, R"(\\)"sv, "\x7f"sv, R"(\u007F)"sv, "a/b"sv,
    R"(a\/b)"sv, "~"sv,
};

// Malformed values (embedded into an otherwise valid document).
constexpr std::array kBadValues = {
    "01"sv, "-"sv, "-01"sv, "00"sv, "1."sv, ".5"sv, "+1"sv, "1e"sv, "1e+"sv, "1E-"sv, "0x10"sv,
    "1e400"sv, "-1e400"sv, "1.7976931348623159e308"sv, "123e99999"sv, "NaN"sv, "Infinity"sv,
    "-Infinity"sv, "tru"sv, "nul"sv, "True"sv, "undefined"sv, "'x'"sv, "\"\x01\""sv,
    "\"a\x1f\""sv, "\"tab\there\""sv, "\"nl\nhere\""sv, "\"nul\0here\""sv, R"("\u12")"sv,
    R"("\uZZZZ")"sv, R"("\x41")"sv, R"("\'")"sv, R"("\U0041")"sv, R"("unterminated)"sv,
    "[1,]"sv, "[,1]"sv, "[1 2]"sv, "{\"a\":1,}"sv, "{\"a\" 1}"sv, "{a:1}"sv, "{\"a\":}"sv,
    "{,}"sv, "[1}"sv, "{\"a\":1]"sv, "{1:2}"sv,
};

// Malformed whole documents.
constexpr std::array kBadDocs = {
    ""sv, " "sv, "\t\n\r "sv, "\xef\xbb\xbf{}"sv, "{} x"sv, "{}x"sv, "{} {}"sv, "[] ]"sv,
    "{}\0"sv, "1 2"sv, "\"a\" \"b\""sv, "nulll"sv, "{"sv, "["sv, "]"sv, "}"sv, ","sv, ":"sv,
    "\"\\ud800"sv, "\f{}"sv, "\v{}"sv, "{}\xc2\xa0"sv, "/* c */ {}"sv, "{} // c"sv,
};

// Whole documents that always run first (spec vectors, explicit cases from the task).
constexpr std::array kPreludeDocs = {
    // protocol.md §2.7 V1..V3 (input order scrambled).
    R"([{"schema":"public","table":"users","key":{"id":"row-1"},"op":"INSERT","row_version":3,"row_ordinal":0,"payload":{"name":"Alice","email":"alice@example.com"}}])"sv,
    R"([{"row_ordinal":0,"schema":"business","table":"users","key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"UPDATE","row_version":7,"payload":{"id":"550e8400-e29b-41d4-a716-446655440000","name":"Tom & Jerry <3>","score":1.50,"big":9007199254740993,"tiny":0.0000001,"huge":1e21,"data":"AAEC","note":null,"ok":true}},{"row_ordinal":1,"schema":"business","table":"posts","key":{"id":"650e8400-e29b-41d4-a716-446655440001"},"op":"DELETE","row_version":7,"payload":null}])"sv,
    R"([{"schema":"business","table":"docs","key":{"doc_id":"doc-42"},"op":"INSERT","row_version":1,"row_ordinal":0,"payload":{"doc_id":"doc-42","body":"Hello text key"}}])"sv,
    // Scalars at top level, whitespace everywhere.
    "null"sv, "true"sv, "false"sv, "\"\""sv, "[]"sv, "{}"sv, " \t\n\r[ \t\n\r] \t\n\r"sv,
    " { \"b\" : [ 1 , { } , [ ] ] ,\r\n\t\"a\" : null } "sv,
    // Duplicates (last wins, including different spellings of the same key).
    R"({"b":1,"a":2,"b":3})"sv, R"({"a":{"x":1},"a":[2]})"sv,
    "{\"\xc3\xa9\":1,\"\\u00e9\":2}"sv, "{\"\xff\":1,\"\xfe\":2,\"\\ufffd\":3}"sv,
    // Key order is by UTF-8 bytes (U+E000 < U+FF41 < U+1F600), not UTF-16 (U+1F600 first).
    "{\"\xf0\x9f\x98\x80\":1,\"\xef\xbd\x81\":2,\"\xee\x80\x80\":3,\"z\":4,\"\":5,\"Z\":6}"sv,
    // Every escape in one string.
    R"(["\"\\\/\b\f\n\r\t\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000a\u000b\u000c\u000d\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"])"sv,
    "[\"\\u2028\\u2029\xe2\x80\xa8\xe2\x80\xa9<>&\x7f\xf0\x9f\x98\x80\\ud83d\\ude00\"]"sv,
    R"(["\ud800","\udc00","\ud800\u0041","\ud800\ud800\udc00"])"sv,
    "[\"\xff\",\"\xc0\x80\",\"\xe2\x82\",\"\xed\xa0\x80\",\"\xe2\x82\xe2\x80\xa8\"]"sv,
};

// ---------------------------------------------------------------------------------------------
// Document generator.

class DocGenerator {
 public:
  explicit DocGenerator(std::uint64_t seed) : rng_(seed) {}

  std::string Next() {
    std::string out;
    if (rng_.Percent(3)) {
      Malformed(out);
      return out;
    }
    Ws(out);
    const std::size_t r = rng_.Below(100);
    if (r < 60) {
      Object(out, 0);
    } else if (r < 75) {
      Array(out, 0);
    } else {
      Value(out, kMaxDepth);  // a scalar at top level
    }
    Ws(out);
    return out;
  }

 private:
  void Ws(std::string& out) {
    if (rng_.Percent(75)) return;
    const int n = rng_.Between(1, 3);
    for (int i = 0; i < n; ++i) out += rng_.Pick(kWhitespace);
  }

  void Value(std::string& out, int depth) {
    const std::size_t container_pct =
        depth >= kMaxDepth ? 0 : static_cast<std::size_t>(40 - 6 * depth);
    const std::size_t r = rng_.Below(100);
    if (r < container_pct / 2) {
      Object(out, depth);
    } else if (r < container_pct) {
      Array(out, depth);
    } else {
      const std::size_t s = rng_.Below(100);
      if (s < 45) {
        Number(out);
      } else if (s < 85) {
        String(out);
      } else if (s < 90) {
        out += "null";
      } else if (s < 95) {
        out += "true";
      } else {
        out += "false";
      }
    }
  }

  void Object(std::string& out, int depth) {
    out += '{';
    const int n = rng_.Between(0, 6);
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      Ws(out);
      std::string key;
      const std::size_t r = rng_.Below(100);
      if (r < 10 && !keys.empty()) {
        key = keys[rng_.Below(keys.size())];  // duplicate key
      } else if (r < 80) {
        key = "\"" + std::string(rng_.Pick(kKeys)) + "\"";
      } else {
        String(key);
      }
      keys.push_back(key);
      out += key;
      Ws(out);
      out += ':';
      Ws(out);
      Value(out, depth + 1);
      Ws(out);
    }
    if (n == 0) Ws(out);
    out += '}';
  }

  void Array(std::string& out, int depth) {
    out += '[';
    const int n = rng_.Between(0, 6);
    for (int i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      Ws(out);
      Value(out, depth + 1);
      Ws(out);
    }
    if (n == 0) Ws(out);
    out += ']';
  }

  void AppendHexDigit(std::string& out, unsigned v) {
    const bool upper = rng_.Percent(30);
    out += (upper ? "0123456789ABCDEF" : "0123456789abcdef")[v & 0xfu];
  }

  void String(std::string& out) {
    out += '"';
    const int n = rng_.Between(0, 10);
    for (int i = 0; i < n; ++i) {
      const std::size_t r = rng_.Below(100);
      if (r < 35) {  // printable ASCII run
        const int len = rng_.Between(1, 6);
        for (int j = 0; j < len; ++j) {
          const char c = static_cast<char>(rng_.Between(0x20, 0x7e));
          if (c == '"' || c == '\\') out += '\\';
          out += c;
        }
      } else if (r < 75) {
        out += rng_.Pick(kStringPieces);
      } else if (r < 85) {  // \u00XX control escape
        out += "\\u00";
        const unsigned v = static_cast<unsigned>(rng_.Below(0x20));
        AppendHexDigit(out, v >> 4);
        AppendHexDigit(out, v);
      } else {  // random \uXXXX (any code unit, surrogates included)
        out += "\\u";
        const unsigned v = static_cast<unsigned>(rng_.Below(0x10000));
        for (int shift = 12; shift >= 0; shift -= 4) AppendHexDigit(out, v >> shift);
      }
    }
    out += '"';
  }

  void Number(std::string& out) {
    const std::size_t r = rng_.Below(100);
    if (r < 25) {
      out += rng_.Pick(kEdgeNumbers);
    } else if (r < 45) {
      AppendDouble(out, RandomFiniteDouble(), 17);
    } else if (r < 55) {
      AppendDouble(out, RandomFiniteDouble(), rng_.Between(1, 17));
    } else if (r < 70) {
      RandomLexeme(out);
    } else if (r < 85) {
      RandomInteger(out);
    } else {
      BoundaryNeighbour(out);
    }
  }

  double RandomFiniteDouble() {
    for (;;) {
      const std::uint64_t bits = rng_.Next();
      double d;
      static_assert(sizeof d == sizeof bits);
      std::memcpy(&d, &bits, sizeof d);
      if (std::isfinite(d)) return d;
    }
  }

  static void AppendDouble(std::string& out, double d, int precision) {
    std::array<char, 64> buf{};
    const int n = std::snprintf(buf.data(), buf.size(), "%.*g", precision, d);
    out.append(buf.data(), static_cast<std::size_t>(n));
  }

  void Digits(std::string& out, int count, bool leading_nonzero) {
    for (int i = 0; i < count; ++i) {
      const int lo = (i == 0 && leading_nonzero) ? 1 : 0;
      out += static_cast<char>('0' + rng_.Between(lo, 9));
    }
  }

  void RandomInteger(std::string& out) {
    if (rng_.Percent(30)) out += '-';
    const int len = rng_.Between(1, 30);
    if (len == 1) {
      Digits(out, 1, false);
    } else {
      Digits(out, len, true);
    }
  }

  // Grammar-based random number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  void RandomLexeme(std::string& out) {
    if (rng_.Percent(30)) out += '-';
    if (rng_.Percent(25)) {
      out += '0';
    } else {
      Digits(out, rng_.Between(1, 22), true);
    }
    if (rng_.Percent(50)) {
      out += '.';
      Digits(out, rng_.Between(1, 20), false);
    }
    if (rng_.Percent(50)) {
      out += rng_.Percent(50) ? 'e' : 'E';
      const std::size_t s = rng_.Below(3);
      if (s == 1) out += '+';
      if (s == 2) out += '-';
      const int zeros = rng_.Percent(20) ? rng_.Between(1, 2) : 0;
      for (int i = 0; i < zeros; ++i) out += '0';
      const int exp = rng_.Percent(90) ? rng_.Between(0, 30) : rng_.Between(280, 340);
      out += std::to_string(exp);
    }
  }

  // A few ULPs around the formatting/precision boundaries, printed in several precisions.
  void BoundaryNeighbour(std::string& out) {
    static constexpr std::array kBoundaries = {
        1e-6, 1e-7, 1e21, 1e20, 9007199254740992.0, 5e-324, DBL_MAX, DBL_MIN, 1.0, 0.1, 1e-5,
        1e22, 1e23, 0.5, 100.0,
    };
    double d = rng_.Pick(kBoundaries);
    const int steps = rng_.Between(-3, 3);
    const double toward = steps < 0 ? 0.0 : INFINITY;
    for (int i = 0; i < std::abs(steps); ++i) d = std::nextafter(d, toward);
    if (!std::isfinite(d)) d = DBL_MAX;
    if (rng_.Percent(30)) d = -d;
    static constexpr std::array kPrecisions = {17, 17, 16, 15, 21, 25};
    AppendDouble(out, d, rng_.Pick(kPrecisions));
  }

  void Malformed(std::string& out) {
    const std::size_t r = rng_.Below(3);
    if (r == 0) {
      out += rng_.Pick(kBadDocs);
      return;
    }
    const std::string_view bad = rng_.Pick(kBadValues);
    if (r == 1) {
      out += "{\"ok\":";
      Value(out, kMaxDepth - 1);
      out += ",\"k\":";
      Ws(out);
      out += bad;
      out += '}';
    } else {
      out += '[';
      Value(out, kMaxDepth - 1);
      out += ',';
      out += bad;
      out += ']';
    }
  }

  SplitMix64 rng_;
};

// ---------------------------------------------------------------------------------------------
// Helpers.

// C-string-literal style rendering: printable ASCII as is, `\` and `"` escaped, other bytes \xHH.
std::string Printable(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\' || c == '"') {
      out += '\\';
      out += ch;
    } else if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      std::array<char, 8> buf{};
      std::snprintf(buf.data(), buf.size(), "\\x%02x", static_cast<unsigned>(c));
      out += buf.data();
    }
  }
  out += '"';
  return out;
}

void AppendU32(std::string& out, std::uint32_t v) {
  out += static_cast<char>((v >> 24) & 0xffu);
  out += static_cast<char>((v >> 16) & 0xffu);
  out += static_cast<char>((v >> 8) & 0xffu);
  out += static_cast<char>(v & 0xffu);
}

std::uint32_t ReadU32(std::string_view s, std::size_t pos) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  }
  return v;
}

struct GoResult {
  bool ok = false;
  std::string body;  // canonical text or Go error message
};

// A private temp directory, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "go_canonical_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs the Go helper once over all documents. On failure returns nullopt and sets *error.
std::optional<std::vector<GoResult>> RunGo(const std::vector<std::string>& docs,
                                           std::string* error) {
  TempDir dir;
  if (dir.path().empty()) {
    *error = std::string("mkdtemp failed: ") + std::strerror(errno);
    return std::nullopt;
  }
  const std::string in_path = (dir.path() / "in.bin").string();
  const std::string out_path = (dir.path() / "out.bin").string();
  {
    std::string frames;
    for (const std::string& d : docs) {
      AppendU32(frames, static_cast<std::uint32_t>(d.size()));
      frames += d;
    }
    std::ofstream f(in_path, std::ios::binary);
    f.write(frames.data(), static_cast<std::streamsize>(frames.size()));
    if (!f) {
      *error = "cannot write " + in_path;
      return std::nullopt;
    }
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const std::string bin(kGoBin);
  std::array<char*, 2> argv = {const_cast<char*>(bin.c_str()), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    *error = "posix_spawn(" + bin + ") failed: " + std::strerror(rc);
    return std::nullopt;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      *error = std::string("waitpid failed: ") + std::strerror(errno);
      return std::nullopt;
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error = bin + " did not exit cleanly (wait status " + std::to_string(status) + ")";
    return std::nullopt;
  }

  std::ifstream f(out_path, std::ios::binary);
  const std::string out((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<GoResult> results;
  results.reserve(docs.size());
  std::size_t pos = 0;
  while (pos < out.size()) {
    if (out.size() - pos < 5) {
      *error = "truncated frame header in Go output";
      return std::nullopt;
    }
    const char st = out[pos];
    const std::uint32_t len = ReadU32(out, pos + 1);
    pos += 5;
    if ((st != 'O' && st != 'E') || out.size() - pos < len) {
      *error = "bad frame in Go output at result " + std::to_string(results.size());
      return std::nullopt;
    }
    results.push_back(GoResult{st == 'O', out.substr(pos, len)});
    pos += len;
  }
  if (results.size() != docs.size()) {
    *error = "Go returned " + std::to_string(results.size()) + " results for " +
             std::to_string(docs.size()) + " documents";
    return std::nullopt;
  }
  return results;
}

std::uint64_t SeedFromEnv() {
  const char* s = std::getenv("OVERSYNC_GO_CANONICAL_SEED");
  if (s == nullptr || *s == '\0') return kDefaultSeed;
  return std::strtoull(s, nullptr, 0);
}

std::size_t DocCountFromEnv() {
  const char* s = std::getenv("OVERSYNC_GO_CANONICAL_DOCS");
  if (s == nullptr || *s == '\0') return kDefaultDocs;
  return static_cast<std::size_t>(std::strtoull(s, nullptr, 0));
}

std::size_t MaxReportsFromEnv() {
  const char* s = std::getenv("OVERSYNC_GO_CANONICAL_MAX_REPORTS");
  if (s == nullptr || *s == '\0') return kMaxReportedMismatches;
  return static_cast<std::size_t>(std::strtoull(s, nullptr, 0));
}


// ---------------------------------------------------------------------------------------------
// Tests.

// The Go helper itself reproduces the spec's canonical texts (protocol.md §2.7), and so does C++.
TEST(GoCanonicalDiff, SpecVectors) {
  OVERSYNC_REQUIRE_GO_HELPER(kGoBin, "the Go differential canonical-JSON test");
  const std::vector<std::string> docs(kPreludeDocs.begin(), kPreludeDocs.begin() + 3);
  const std::array<std::string_view, 3> expected = {
      R"([{"key":{"id":"row-1"},"op":"INSERT","payload":{"email":"alice@example.com","name":"Alice"},"row_ordinal":0,"row_version":3,"schema":"public","table":"users"}])"sv,
      R"([{"key":{"id":"550e8400-e29b-41d4-a716-446655440000"},"op":"UPDATE","payload":{"big":9007199254740992,"data":"AAEC","huge":1e+21,"id":"550e8400-e29b-41d4-a716-446655440000","name":"Tom \u0026 Jerry \u003c3\u003e","note":null,"ok":true,"score":1.5,"tiny":1e-7},"row_ordinal":0,"row_version":7,"schema":"business","table":"users"},{"key":{"id":"650e8400-e29b-41d4-a716-446655440001"},"op":"DELETE","payload":null,"row_ordinal":1,"row_version":7,"schema":"business","table":"posts"}])"sv,
      R"([{"key":{"doc_id":"doc-42"},"op":"INSERT","payload":{"body":"Hello text key","doc_id":"doc-42"},"row_ordinal":0,"row_version":1,"schema":"business","table":"docs"}])"sv,
  };
  std::string error;
  const auto go = RunGo(docs, &error);
  ASSERT_TRUE(go.has_value()) << error;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    SCOPED_TRACE("V" + std::to_string(i + 1));
    ASSERT_TRUE((*go)[i].ok) << (*go)[i].body;
    EXPECT_EQ((*go)[i].body, expected[i]);
    const auto cpp = oversync::protocol::CanonicalizeGo(docs[i]);
    ASSERT_TRUE(cpp.has_value()) << cpp.error().ToString();
    EXPECT_EQ(*cpp, expected[i]);
  }
}

TEST(GoCanonicalDiff, GeneratedDocumentsMatchGoByteForByte) {
  OVERSYNC_REQUIRE_GO_HELPER(kGoBin, "the Go differential canonical-JSON test");
  const std::uint64_t seed = SeedFromEnv();
  const std::size_t count = DocCountFromEnv();
  std::array<char, 32> seed_text{};
  std::snprintf(seed_text.data(), seed_text.size(), "0x%016llx",
                static_cast<unsigned long long>(seed));
  std::printf("[ go_canonical ] seed=%s documents=%zu (override: OVERSYNC_GO_CANONICAL_SEED, "
              "OVERSYNC_GO_CANONICAL_DOCS)\n",
              seed_text.data(), count);
  std::fflush(stdout);

  std::vector<std::string> docs;
  docs.reserve(count);
  for (std::size_t i = 0; i < kPreludeDocs.size() && docs.size() < count; ++i) {
    docs.emplace_back(kPreludeDocs[i]);
  }
  for (std::size_t i = 0; i < kEdgeNumbers.size() && docs.size() < count; ++i) {
    docs.emplace_back(kEdgeNumbers[i]);  // each edge number as a top-level document
  }
  for (std::size_t i = 0; i < kBadDocs.size() && docs.size() < count; ++i) {
    docs.emplace_back(kBadDocs[i]);
  }
  for (std::size_t i = 0; i < kBadValues.size() && docs.size() < count; ++i) {
    docs.push_back("[" + std::string(kBadValues[i]) + "]");
  }
  DocGenerator gen(seed);
  while (docs.size() < count) docs.push_back(gen.Next());

  std::string error;
  const auto go = RunGo(docs, &error);
  ASSERT_TRUE(go.has_value()) << error;

  const std::size_t max_reports = MaxReportsFromEnv();
  std::size_t go_ok = 0;
  std::size_t mismatches = 0;
  std::size_t go_ok_cpp_error = 0;   // C++ rejects what Go accepts
  std::size_t go_error_cpp_ok = 0;   // C++ accepts what Go rejects
  std::size_t bytes_differ = 0;      // both accept, different canonical bytes
  std::size_t input_bytes = 0;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    const GoResult& g = (*go)[i];
    input_bytes += docs[i].size();
    if (g.ok) ++go_ok;
    const auto cpp = oversync::protocol::CanonicalizeGo(docs[i]);
    const bool same = cpp.has_value() == g.ok && (!g.ok || *cpp == g.body);
    if (same) continue;
    ++mismatches;
    if (g.ok && !cpp) {
      ++go_ok_cpp_error;
    } else if (!g.ok) {
      ++go_error_cpp_ok;
    } else {
      ++bytes_differ;
    }
    if (mismatches <= max_reports) {
      ADD_FAILURE() << "mismatch #" << mismatches << " seed=" << seed_text.data()
                    << " index=" << i << "\n  input (" << docs[i].size()
                    << " bytes): " << Printable(docs[i]) << "\n  Go  " << (g.ok ? "ok   " : "error")
                    << ": " << Printable(g.body) << "\n  C++ " << (cpp ? "ok   " : "error")
                    << ": " << (cpp ? Printable(*cpp) : Printable(cpp.error().ToString()));
    }
  }
  std::printf("[ go_canonical ] %zu documents (%zu bytes): Go ok %zu, Go error %zu; "
              "mismatches %zu (Go ok/C++ error %zu, Go error/C++ ok %zu, bytes differ %zu)%s\n",
              docs.size(), input_bytes, go_ok, docs.size() - go_ok, mismatches, go_ok_cpp_error,
              go_error_cpp_ok, bytes_differ,
              mismatches > max_reports ? "; only the first ones are reported in detail" : "");
  EXPECT_EQ(mismatches, 0u) << "seed=" << seed_text.data();
}

}  // namespace
