#include "retention.h"

#include <functional>
#include <vector>

#include <fmt/format.h>

namespace oversync {
namespace {

// Deletes this scope's pruned bundles (bundle_rows cascade) in batches until none remain.
Result<std::int64_t> PruneUser(pg::PgConnection& conn, std::int64_t user_pk,
                               std::int64_t batch_rows, const std::function<bool()>& stop) {
  std::int64_t total = 0;
  const std::string user = std::to_string(user_pk);
  const std::string batch = std::to_string(batch_rows);
  while (!stop()) {
    // Autocommit: every batch is its own short transaction (no long lock on bundle_rows).
    OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult deleted, conn.Exec(
        "WITH doomed AS (SELECT b.bundle_seq FROM sync.bundle_log b "
        "JOIN sync.user_state u ON u.user_pk = b.user_pk "
        "WHERE b.user_pk = $1 AND b.bundle_seq <= u.retained_bundle_floor "
        "ORDER BY b.bundle_seq LIMIT $2) "
        "DELETE FROM sync.bundle_log b USING doomed d "
        "WHERE b.user_pk = $1 AND b.bundle_seq = d.bundle_seq",
        {user, batch}));
    const std::int64_t n = deleted.AffectedRows();
    total += n;
    if (n < batch_rows) break;
  }
  return total;
}

Result<std::int64_t> Prune(pg::PgPool& pool, std::int64_t batch_rows,
                           const std::set<std::int64_t>& extra_users, bool sweep,
                           const std::function<bool()>& stop) {
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, pool.Acquire());
  std::set<std::int64_t> users = extra_users;
  if (sweep) {
    // Scopes whose oldest retained bundle is at or below the floor (one index probe each).
    OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult found, conn->Exec(
        "SELECT u.user_pk FROM sync.user_state u WHERE u.retained_bundle_floor > 0 AND EXISTS "
        "(SELECT 1 FROM sync.bundle_log b WHERE b.user_pk = u.user_pk AND "
        "b.bundle_seq <= u.retained_bundle_floor)"));
    for (int r = 0; r < found.rows(); ++r) users.insert(found.Int64(r, 0).value_or(0));
  }
  std::int64_t total = 0;
  for (const std::int64_t user_pk : users) {
    if (stop()) break;
    OVERSYNC_ASSIGN_OR_RETURN(std::int64_t n, PruneUser(*conn, user_pk, batch_rows, stop));
    total += n;
  }
  return total;
}

}  // namespace

Result<std::int64_t> RetentionWorker::PruneAll(pg::PgPool& pool, std::int64_t batch_rows,
                                               const std::set<std::int64_t>& extra_users) {
  return Prune(pool, batch_rows, extra_users, true, [] { return false; });
}

RetentionWorker::~RetentionWorker() { Stop(); }

void RetentionWorker::Start() { thread_ = std::thread([this] { Run(); }); }

void RetentionWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::int64_t RetentionWorker::WaitForPassesAbove(std::int64_t passes,
                                                std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  pass_done_.wait_for(lock, timeout, [&] { return passes_ > passes; });
  return passes_;
}

void RetentionWorker::MarkDirty(std::int64_t user_pk) {
  {
    std::lock_guard lock(mu_);
    dirty_.insert(user_pk);
  }
  wake_.notify_one();
}

void RetentionWorker::Run() {
  const auto stop = [this] {
    std::lock_guard lock(mu_);
    return stopping_;
  };
  // A full sweep at start (floors moved while no worker ran), then on the interval.
  auto next_sweep = std::chrono::steady_clock::now();
  while (true) {
    std::set<std::int64_t> users;
    bool sweep = false;
    {
      std::unique_lock lock(mu_);
      const auto ready = [&] {
        return stopping_ || !dirty_.empty() ||
               (sweep_interval_.count() > 0 && std::chrono::steady_clock::now() >= next_sweep);
      };
      if (sweep_interval_.count() > 0) {
        wake_.wait_until(lock, next_sweep, ready);
      } else {
        wake_.wait(lock, ready);
      }
      if (stopping_) return;
      users.swap(dirty_);
      sweep = sweep_interval_.count() > 0 && std::chrono::steady_clock::now() >= next_sweep;
    }
    if (sweep) next_sweep = std::chrono::steady_clock::now() + sweep_interval_;
    if (users.empty() && !sweep) continue;
    Result<std::int64_t> pruned = Prune(*pool_, batch_rows_, users, sweep, stop);
    {
      std::lock_guard lock(mu_);
      ++passes_;
    }
    pass_done_.notify_all();
    if (!pruned) {
      // The next sweep (or the scope's next commit) finds the same bundles again.
      logger_->Log(LogLevel::kWarn, "retention",
                   "pruning failed, retried on the next pass: " + pruned.error().ToString());
    }
  }
}

}  // namespace oversync
