// Scope (user) state: lazy creation, locking, lease expiry and the connect lifecycle
// (server.md §7.2).
#ifndef OVERSYNC_SERVER_SRC_SCOPE_H_
#define OVERSYNC_SERVER_SRC_SCOPE_H_

#include <cstdint>
#include <string>

#include "runtime_internal.h"

namespace oversync {

enum class ScopeStateCode : std::int16_t { kUninitialized = 0, kInitializing = 1, kInitialized = 2 };

struct ScopeRow {
  std::int64_t user_pk = 0;
  ScopeStateCode state = ScopeStateCode::kUninitialized;
  std::string initializer_source_id;
  std::string initialization_id;
  TimePoint lease_expires_at{};
  std::int64_t next_bundle_seq = 1;
  std::int64_t retained_bundle_floor = 0;
};

// Ensures the user_state and scope_state rows exist, locks both (FOR UPDATE) and resets an
// elapsed INITIALIZING lease to UNINITIALIZED.
Result<ScopeRow> EnsureAndLockScope(pg::PgConnection& tx, const std::string& user_id, TimePoint now);

// Locks the scope of an existing user (FOR UPDATE) and lazily expires the lease.
Result<ScopeRow> LockScopeByUserPk(pg::PgConnection& tx, std::int64_t user_pk, TimePoint now);

// requireActiveInitializationLease (server.md §7.2): the scope must be INITIALIZING with a live
// lease owned by `source_id` under `initialization_id`; the lease is refreshed to `refresh_to`.
// Errors: kInitializationStale / kInitializationExpired with Go's messages.
Status RequireActiveInitializationLease(pg::PgConnection& tx, ScopeRow& scope,
                                        const std::string& source_id,
                                        const std::string& initialization_id, TimePoint now,
                                        TimePoint refresh_to);

// The scope of a read path (pull, snapshot create, watch): never locked or mutated.
struct ReadScope {
  std::int64_t user_pk = 0;
  std::int64_t head = 0;            // last committed bundle_seq (next_bundle_seq - 1)
  std::int64_t retained_floor = 0;  // bundles at or below it are pruned
};

// Moves the scope to INITIALIZED by `source_id` (connect initialize_empty, the seed commit of an
// initialize_local, a server write or an adoption on an uninitialized scope).
Status MarkScopeInitialized(pg::PgConnection& tx, std::int64_t user_pk,
                            const std::string& source_id, TimePoint now);

// The read-path scope gate (protocol.md §3.7): kScopeInitializing "sync scope for user U is
// initializing until <RFC3339>" while a live lease exists, kScopeUninitialized otherwise unless
// the scope is INITIALIZED. An elapsed lease reads as uninitialized (nothing is written).
Result<ReadScope> LoadScopeForRead(pg::PgConnection& tx, const std::string& user_id, TimePoint now);

// One row of sync.source_state (exists = false when there is none).
struct SourceRow {
  bool exists = false;
  std::string state;
  std::int64_t max_committed = 0;
  std::string replaced_by;
};

// Reads (optionally locks) the state of `source_id` in the scope.
Result<SourceRow> LoadSource(pg::PgConnection& tx, std::int64_t user_pk,
                             const std::string& source_id, bool for_update);

// kSourceRetired with go-oversync's message and the extended body's fields.
Status RetiredError(const std::string& source_id, const std::string& user_id,
                    const std::string& replaced_by);

// The source_retired answer to a request of `actor` whose source `retired_source_id` is retired.
// Profile A: RetiredError. Profile B (protocol-b.md §6.1-§6.2): message "source is retired",
// source_id the request's own, replaced_by_source_id omitted when empty; a retirement record
// that does not fit the request (another source than the header's, or a replacement id outside
// the source-id grammar, e.g. written through a profile-A mount) is kSourceRetiredInvalid
// "Source retirement state is invalid" (500) instead of a body clients would reject.
Status RetiredErrorFor(bool profile_b, const std::string& retired_source_id, const Actor& actor,
                       const std::string& replaced_by);

}  // namespace oversync

#endif  // OVERSYNC_SERVER_SRC_SCOPE_H_
