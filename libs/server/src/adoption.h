// Adoption of populated registered tables when bootstrap creates the `sync` layout
// (protocol-b.md §8.2; docs/compatibility.md 79): every scope that already has business rows
// gets one committed baseline bundle, so devices can hydrate the data that existed before sync.
#ifndef OVERSYNC_SERVER_SRC_ADOPTION_H_
#define OVERSYNC_SERVER_SRC_ADOPTION_H_

#include <cstdint>

#include "runtime_internal.h"

namespace oversync {

struct AdoptionSummary {
  std::int64_t scopes = 0;  // scopes that got a baseline bundle
  std::int64_t rows = 0;    // business rows adopted
};

// Runs in the transaction that creates the layout, after the capture triggers are installed,
// and needs `impl.registered` / `impl.lookup`. Locks every registered table (and its partitions)
// in SHARE ROW EXCLUSIVE mode, then, per scope with business rows: bundle_seq 1 from source
// "oversync-adoption:<fresh uuid>" (source_bundle_id 1, active), every row an INSERT at
// row_version 1 ordered by table_id then key bytes, the scope INITIALIZED by that source and a
// bundle-change NOTIFY when watch is on. The persisted state is re-counted before returning.
// Errors: kFailedPrecondition "populated-table adoption <reason> ..." with go-oversync's reasons
// (identity_unrepresentable for a NULL or empty `_sync_scope_id`, partial_sync_state when the
// re-count disagrees); kInternal when a row has no wire form; kDatabase/kUnavailable.
Result<AdoptionSummary> AdoptPopulatedTables(internal::RuntimeState& impl, pg::PgConnection& tx);

}  // namespace oversync

#endif  // OVERSYNC_SERVER_SRC_ADOPTION_H_
