#include "oversync/protocol/bundle_hash.h"

namespace oversync::protocol {
namespace {
constexpr std::size_t kFlushBytes = 64 * 1024;
}  // namespace

BundleHasher::BundleHasher(const WireProfile& profile, std::int64_t bundle_seq)
    : profile_(profile), bundle_seq_(bundle_seq) {
  buffer_.reserve(kFlushBytes + 4096);
  buffer_ += '[';
}

Status BundleHasher::AddRow(std::string_view schema, std::string_view table, const JsonValue& key,
                            Op op, const JsonValue* payload) {
  // Members in canonical (sorted) order: key, op, payload, row_ordinal, row_version, schema,
  // table — the same under byte order and UTF-16 order because all names are ASCII.
  if (rows_ > 0) buffer_ += ',';
  buffer_ += "{\"key\":";
  OVERSYNC_RETURN_IF_ERROR(profile_.AppendCanonical(key, buffer_));
  buffer_ += ",\"op\":";
  profile_.AppendCanonicalString(OpName(op), buffer_);
  buffer_ += ",\"payload\":";
  if (op == Op::kDelete || payload == nullptr) {
    buffer_ += "null";
  } else {
    OVERSYNC_RETURN_IF_ERROR(profile_.AppendCanonical(*payload, buffer_));
  }
  buffer_ += ",\"row_ordinal\":";
  profile_.AppendHashInteger(rows_, buffer_);
  buffer_ += ",\"row_version\":";
  profile_.AppendHashInteger(bundle_seq_, buffer_);
  buffer_ += ",\"schema\":";
  profile_.AppendCanonicalString(schema, buffer_);
  buffer_ += ",\"table\":";
  profile_.AppendCanonicalString(table, buffer_);
  buffer_ += '}';
  ++rows_;
  if (buffer_.size() >= kFlushBytes) Flush();
  return {};
}

void BundleHasher::Flush() {
  sha_.Update(buffer_);
  bytes_ += static_cast<std::int64_t>(buffer_.size());
  buffer_.clear();
}

BundleHashResult BundleHasher::Finish() {
  buffer_ += ']';
  Flush();
  BundleHashResult result;
  result.digest = sha_.Finish();
  result.hex = HexLower(result.digest);
  result.byte_count = bytes_;
  result.row_count = rows_;
  return result;
}

Result<BundleHashResult> ComputeBundleHash(const WireProfile& profile, std::int64_t bundle_seq,
                                           const std::vector<BundleRow>& rows) {
  BundleHasher hasher(profile, bundle_seq);
  for (const BundleRow& row : rows) OVERSYNC_RETURN_IF_ERROR(hasher.AddRow(row));
  return hasher.Finish();
}

}  // namespace oversync::protocol
