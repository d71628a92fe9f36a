// Retention off the request path (server.md §7.1, §10.3 item 7): commits only advance the
// retained floor; this worker deletes the bundles at or below it in small batches, each in its
// own short transaction. Rows at or below the floor are outside retained history even before
// they are deleted, so the delay is invisible to clients.
#ifndef OVERSYNC_SERVER_SRC_RETENTION_H_
#define OVERSYNC_SERVER_SRC_RETENTION_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>

#include "oversync/common/logger.h"
#include "oversync/common/status.h"
#include "pg.h"

namespace oversync {

class RetentionWorker {
 public:
  // `batch_rows`: bundles deleted per transaction. `sweep_interval`: how often every scope is
  // checked (floors moved by other processes or by hand); 0 = only scopes this process marked.
  RetentionWorker(pg::PgPool* pool, Logger* logger, std::int64_t batch_rows,
                  std::chrono::milliseconds sweep_interval)
      : pool_(pool), logger_(logger), batch_rows_(batch_rows), sweep_interval_(sweep_interval) {}
  ~RetentionWorker();  // stops and joins
  RetentionWorker(const RetentionWorker&) = delete;
  RetentionWorker& operator=(const RetentionWorker&) = delete;

  void Start();
  void Stop();
  // A commit moved this scope's floor: prune it soon. Never blocks on the database.
  void MarkDirty(std::int64_t user_pk);

  // Waits until the background thread completed more than `passes` passes (a pass handles the
  // marked scopes, plus every scope when a sweep is due). Returns the number completed so far;
  // false-y (== passes) on timeout. For tests and orderly handovers.
  std::int64_t WaitForPassesAbove(std::int64_t passes, std::chrono::milliseconds timeout);

  // One synchronous pass over every scope with bundles at or below its floor (and the marked
  // ones). Returns the number of bundles deleted. Thread-safe with the background thread.
  // Errors: kDatabase/kUnavailable.
  static Result<std::int64_t> PruneAll(pg::PgPool& pool, std::int64_t batch_rows,
                                       const std::set<std::int64_t>& extra_users = {});

 private:
  void Run();

  pg::PgPool* const pool_;
  Logger* const logger_;
  const std::int64_t batch_rows_;
  const std::chrono::milliseconds sweep_interval_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::set<std::int64_t> dirty_;  // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  std::int64_t passes_ = 0;       // guarded by mu_
  std::condition_variable pass_done_;
  std::thread thread_;
};

}  // namespace oversync

#endif  // OVERSYNC_SERVER_SRC_RETENTION_H_
