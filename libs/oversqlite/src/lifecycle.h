// File: libs/oversqlite/src/lifecycle.h (internal)
//
// Lifecycle helpers that compose public operations (client.md §1.5). They live outside
// Client::Impl because each round must take and release the client's op lock separately:
// client.cc passes the public Sync/Detach/GetPendingSyncStatus methods in as callables.
//
// Thread-safety: stateless; the callables decide.
#ifndef OVERSYNC_OVERSQLITE_SRC_LIFECYCLE_H_
#define OVERSYNC_OVERSQLITE_SRC_LIFECYCLE_H_

#include <functional>

#include "oversync/oversqlite/client.h"

namespace oversync::oversqlite::internal {

// SyncThenDetach (client.md §1.5): up to 3 rounds of `sync` + `detach`. Returns on the first
// detach whose outcome is kDetached; stops early (blocked result, no error) when `pending`
// reports a pending count that did not decrease versus the previous round. Any error of the
// three callables is returned unchanged.
Result<SyncThenDetachResult> RunSyncThenDetach(
    const std::function<Result<SyncReport>()>& sync,
    const std::function<Result<DetachResult>()>& detach,
    const std::function<Result<PendingSyncStatus>()>& pending);

}  // namespace oversync::oversqlite::internal

#endif  // OVERSYNC_OVERSQLITE_SRC_LIFECYCLE_H_
