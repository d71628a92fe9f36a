// File: oversync/protocol/push_validation.h
//
// Stateless push-chunk validation (protocol.md §3.3 step 3): everything that can be checked
// without the database, in the Go server's order, with its messages. The server runs it before
// looking the session up, so a bad chunk for an unknown push_id is a 400, not a 404.
//
// Beyond Go: numbers in payloads are checked through the wire profile, so an integer the
// double-based canonical form would corrupt is refused here (400) instead of silently rounded.
#ifndef OVERSYNC_PROTOCOL_PUSH_VALIDATION_H_
#define OVERSYNC_PROTOCOL_PUSH_VALIDATION_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "oversync/common/status.h"
#include "oversync/protocol/messages.h"
#include "oversync/protocol/wire_profile.h"

namespace oversync::protocol {

enum class SyncKeyKind : std::uint8_t { kUuid = 1, kText = 2 };  // storage codes, §2.9

// What validation needs to know about one registered table.
struct TableShape {
  std::string schema;      // normalized (lowercase)
  std::string table;       // normalized (lowercase)
  std::string key_column;  // the single sync key column
  SyncKeyKind key_kind = SyncKeyKind::kUuid;
  std::vector<std::string> bytea_columns;  // lowercase names of bytea columns

  bool IsBytea(std::string_view column) const noexcept;
};

// Looks registered tables up by normalized name. Implementations must be thread-safe if shared.
class TableLookup {
 public:
  virtual ~TableLookup() = default;
  // nullptr when schema.table is not registered.
  virtual const TableShape* Find(std::string_view schema, std::string_view table) const = 0;
};

// One row after validation and normalization.
struct ValidatedPushRow {
  const TableShape* table = nullptr;  // points into the TableLookup's storage
  Op op = Op::kInsert;
  std::string key_value;              // the sync key text (canonical UUID text for uuid keys)
  std::int64_t base_row_version = 0;
  JsonValue payload;                  // object for INSERT/UPDATE, null for DELETE
};

// Validates a decoded chunk. Errors: kPushChunkInvalid with the Go message of the first failing
// rule. On success returns the rows normalized, in request order.
Result<std::vector<ValidatedPushRow>> ValidatePushChunk(PushChunkRequest request,
                                                        const TableLookup& tables,
                                                        const WireProfile& profile,
                                                        std::int64_t max_rows_per_chunk);

// Trims and lowercases an identifier; empty schema becomes "public". Returns false when the
// result does not match ^[a-z0-9_]+$.
bool NormalizeIdentifier(std::string_view input, bool is_schema, std::string& out);

// The server's hidden scope column: never part of a payload in either direction.
inline constexpr std::string_view kHiddenScopeColumn = "_sync_scope_id";
// True when `payload` is an object with a member spelled kHiddenScopeColumn in any case
// (uploads are rejected with it; a client rejects downloaded rows carrying it).
bool PayloadHasHiddenScopeColumn(const JsonValue& payload) noexcept;

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_PUSH_VALIDATION_H_
