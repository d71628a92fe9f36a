// File: oversync/protocol/bundle_hash.h
//
// The bundle hash (protocol.md §2.7, protocol-b.md §4.1): SHA-256 over the canonical JSON array
// of the committed bundle's logical rows, each {key, op, payload, row_ordinal, row_version,
// schema, table}; and profile B's canonical_request_hash (protocol-b.md §4.2) over the uploaded
// rows, each {base_row_version, key, op, payload, row_ordinal, schema, table}.
// The hashers stream: rows are fed one at a time (the client across fetched pages, the server
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

// The SHA-256 of a canonical text built piecewise: callers append to buffer() and call
// MaybeFlush() after each row; Finish() closes nothing itself (callers append the final ']').
class CanonicalHashStream {
 public:
  CanonicalHashStream();
  std::string& buffer() noexcept { return buffer_; }
  void MaybeFlush();
  // Hashes what is left. `row_count` is copied into the result.
  BundleHashResult Finish(std::int64_t row_count);

 private:
  std::string buffer_;
  std::int64_t bytes_ = 0;
  Sha256 sha_;
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
  const WireProfile& profile_;
  std::int64_t bundle_seq_;
  std::int64_t rows_ = 0;
  CanonicalHashStream stream_;
};

// canonical_request_hash of wire profile B: binds a source tuple to the exact upload. Rows are
// added in upload order (row_ordinal = rows added before). `schema`/`table`/`op` must be the
// normalized values the server uses (lowercase names, empty schema -> "public"); `key` holds
// only the registered key column; `payload` is the uploaded value exactly as sent (before the
// "0"/"1" boolean bridge or any server-side rewrite), ignored (hashed as null) for DELETE.
// Thread-compatible.
class CanonicalRequestHasher {
 public:
  CanonicalRequestHasher();

  // Errors: kInvalidArgument when `key` or `payload` cannot be JCS-canonicalized (duplicate
  // member names, non-finite numbers, malformed UTF-8).
  Status AddRow(std::string_view schema, std::string_view table, const JsonValue& key, Op op,
                std::int64_t base_row_version, const JsonValue* payload);

  // Completes the hash. The hasher must not be used afterwards.
  BundleHashResult Finish();

 private:
  std::int64_t rows_ = 0;
  CanonicalHashStream stream_;
};

// True when `hash` is 64 lowercase hexadecimal characters (the only accepted spelling of a
// canonical_request_hash, protocol-b.md §4.2).
bool IsCanonicalRequestHashSpelling(std::string_view hash) noexcept;

// Convenience for a bundle held in memory.
Result<BundleHashResult> ComputeBundleHash(const WireProfile& profile, std::int64_t bundle_seq,
                                           const std::vector<BundleRow>& rows);

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_BUNDLE_HASH_H_
