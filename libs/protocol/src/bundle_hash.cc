#include "oversync/protocol/bundle_hash.h"

#include <algorithm>

#include "oversync/protocol/jcs.h"

namespace oversync::protocol {
namespace {
constexpr std::size_t kFlushBytes = 64 * 1024;
}  // namespace

CanonicalHashStream::CanonicalHashStream() {
  buffer_.reserve(kFlushBytes + 4096);
}

void CanonicalHashStream::MaybeFlush() {
  if (buffer_.size() < kFlushBytes) return;
  sha_.Update(buffer_);
  bytes_ += static_cast<std::int64_t>(buffer_.size());
  buffer_.clear();
}

BundleHashResult CanonicalHashStream::Finish(std::int64_t row_count) {
  sha_.Update(buffer_);
  bytes_ += static_cast<std::int64_t>(buffer_.size());
  buffer_.clear();
  BundleHashResult result;
  result.digest = sha_.Finish();
  result.hex = HexLower(result.digest);
  result.byte_count = bytes_;
  result.row_count = row_count;
  return result;
}

BundleHasher::BundleHasher(const WireProfile& profile, std::int64_t bundle_seq)
    : profile_(profile), bundle_seq_(bundle_seq) {
  stream_.buffer() += '[';
}

Status BundleHasher::AddRow(std::string_view schema, std::string_view table, const JsonValue& key,
                            Op op, const JsonValue* payload) {
  // Members in canonical (sorted) order: key, op, payload, row_ordinal, row_version, schema,
  // table — the same under byte order and UTF-16 order because all names are ASCII.
  std::string& out = stream_.buffer();
  if (rows_ > 0) out += ',';
  out += "{\"key\":";
  OVERSYNC_RETURN_IF_ERROR(profile_.AppendCanonical(key, out));
  out += ",\"op\":";
  profile_.AppendCanonicalString(OpName(op), out);
  out += ",\"payload\":";
  if (op == Op::kDelete || payload == nullptr) {
    out += "null";
  } else {
    OVERSYNC_RETURN_IF_ERROR(profile_.AppendCanonical(*payload, out));
  }
  out += ",\"row_ordinal\":";
  profile_.AppendHashInteger(rows_, out);
  out += ",\"row_version\":";
  profile_.AppendHashInteger(bundle_seq_, out);
  out += ",\"schema\":";
  profile_.AppendCanonicalString(schema, out);
  out += ",\"table\":";
  profile_.AppendCanonicalString(table, out);
  out += '}';
  ++rows_;
  stream_.MaybeFlush();
  return {};
}

BundleHashResult BundleHasher::Finish() {
  stream_.buffer() += ']';
  return stream_.Finish(rows_);
}

CanonicalRequestHasher::CanonicalRequestHasher() { stream_.buffer() += '['; }

Status CanonicalRequestHasher::AddRow(std::string_view schema, std::string_view table,
                                      const JsonValue& key, Op op, std::int64_t base_row_version,
                                      const JsonValue* payload) {
  // Members in JCS order (all names ASCII): base_row_version, key, op, payload, row_ordinal,
  // schema, table. Counters are decimal strings inside the hash model (protocol-b.md §4).
  std::string& out = stream_.buffer();
  if (rows_ > 0) out += ',';
  out += "{\"base_row_version\":\"";
  out += std::to_string(base_row_version);
  out += "\",\"key\":";
  OVERSYNC_RETURN_IF_ERROR(AppendJcs(key, out));
  out += ",\"op\":";
  AppendJcsString(OpName(op), out);
  out += ",\"payload\":";
  if (op == Op::kDelete || payload == nullptr) {
    out += "null";
  } else {
    OVERSYNC_RETURN_IF_ERROR(AppendJcs(*payload, out));
  }
  out += ",\"row_ordinal\":\"";
  out += std::to_string(rows_);
  out += "\",\"schema\":";
  AppendJcsString(schema, out);
  out += ",\"table\":";
  AppendJcsString(table, out);
  out += '}';
  ++rows_;
  stream_.MaybeFlush();
  return {};
}

BundleHashResult CanonicalRequestHasher::Finish() {
  stream_.buffer() += ']';
  return stream_.Finish(rows_);
}

bool IsCanonicalRequestHashSpelling(std::string_view hash) noexcept {
  return hash.size() == 64 && std::all_of(hash.begin(), hash.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Result<BundleHashResult> ComputeBundleHash(const WireProfile& profile, std::int64_t bundle_seq,
                                           const std::vector<BundleRow>& rows) {
  BundleHasher hasher(profile, bundle_seq);
  for (const BundleRow& row : rows) OVERSYNC_RETURN_IF_ERROR(hasher.AddRow(row));
  return hasher.Finish();
}

}  // namespace oversync::protocol
