// File: oversync/protocol/bundle_hash.h
//
// The bundle hash (protocol.md §2.7): SHA-256 over the canonical JSON array of the committed
// bundle's logical rows, each {key, op, payload, row_ordinal, row_version, schema, table}.
// BundleHasher streams: rows are fed one at a time (the client across fetched pages, the server
// while reading captured rows), so a bundle is never held twice in memory.
//
// Thread-compatible.
#ifndef OVERSYNC_PROTOCOL_BUNDLE_HASH_H_
#define OVERSYNC_PROTOCOL_BUNDLE_HASH_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "oversync/common/sha256.h"
#include "oversync/common/status.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/messages.h"
#include "oversync/protocol/wire_profile.h"

namespace oversync::protocol {

struct BundleHashResult {
  Sha256Digest digest{};
  std::string hex;             // 64 lowercase hex characters (the wire bundle_hash)
  std::int64_t byte_count = 0; // length of the canonical text that was hashed
  std::int64_t row_count = 0;
};

class BundleHasher {
 public:
  // `profile` must outlive the hasher. `bundle_seq` is every row's row_version.
  BundleHasher(const WireProfile& profile, std::int64_t bundle_seq);

  // Adds the next row (row_ordinal = number of rows added before). `key` is the wire key object;
  // `payload` is ignored (hashed as null) for DELETE. Errors: kInvalidArgument from the
  // profile's canonicalization.
  Status AddRow(std::string_view schema, std::string_view table, const JsonValue& key, Op op,
                const JsonValue* payload);
  Status AddRow(const BundleRow& row) {
    return AddRow(row.schema, row.table, row.key, row.op, row.payload ? &*row.payload : nullptr);
  }

  // Completes the hash. The hasher must not be used afterwards.
  BundleHashResult Finish();

 private:
  void Flush();

  const WireProfile& profile_;
  std::int64_t bundle_seq_;
  std::int64_t rows_ = 0;
  std::int64_t bytes_ = 0;
  std::string buffer_;
  Sha256 sha_;
};

// Convenience for a bundle held in memory.
Result<BundleHashResult> ComputeBundleHash(const WireProfile& profile, std::int64_t bundle_seq,
                                           const std::vector<BundleRow>& rows);

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_BUNDLE_HASH_H_
