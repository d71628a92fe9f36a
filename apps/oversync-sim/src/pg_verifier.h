// File: apps/oversync-sim/src/pg_verifier.h
//
// Reads the server's PostgreSQL to verify what the devices claim: business.<table> rows of a
// scope (`_sync_scope_id` = the user id) and the sync metadata (sync.row_state, sync.bundle_log,
// sync.user_state). Connections come from a PgPool shared by every scenario thread: with 500
// parallel users a connection per scenario would exceed the server's max_connections.
//
// Thread-safety: PgPool is thread-safe; a PgVerifier is thread-compatible (one per scenario).
#ifndef OVERSYNC_SIM_PG_VERIFIER_H_
#define OVERSYNC_SIM_PG_VERIFIER_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "oversync/common/status.h"
#include "pg.h"

namespace oversync::sim {

// At most `max_connections` libpq connections to `dsn`, created lazily and reused; Acquire
// waits while all are lent out.
class PgPool {
 public:
  PgPool(std::string dsn, std::size_t max_connections)
      : dsn_(std::move(dsn)), max_connections_(max_connections) {}

  // A connection lent to the caller until the Lease is destroyed.
  class Lease {
   public:
    Lease(PgPool* pool, oversyncd::PgConnPtr conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (pool_ != nullptr && conn_ != nullptr) pool_->Release(std::move(conn_));
    }
    PGconn* get() const noexcept { return conn_.get(); }
    // Drops a broken connection instead of returning it to the pool.
    void Discard() noexcept;

   private:
    PgPool* pool_;
    oversyncd::PgConnPtr conn_;
  };

  // Errors: kUnavailable when a new connection cannot be opened.
  Result<Lease> Acquire();

 private:
  void Release(oversyncd::PgConnPtr conn);
  void Forget();

  const std::string dsn_;
  const std::size_t max_connections_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<oversyncd::PgConnPtr> idle_;  // guarded by mutex_
  std::size_t open_ = 0;                    // guarded by mutex_
};

class PgVerifier {
 public:
  explicit PgVerifier(std::shared_ptr<PgPool> pool) : pool_(std::move(pool)) {}

  // Runs `sql` with text parameters $1..$n; every row's first column ("" for NULL).
  // Errors: kUnavailable (connect), kDatabase (query).
  Result<std::vector<std::string>> Column(std::string_view sql,
                                          const std::vector<std::string>& params = {});
  // First column of the first row ("" when there is none).
  Result<std::string> Scalar(std::string_view sql, const std::vector<std::string>& params = {});
  Result<std::int64_t> Int(std::string_view sql, const std::vector<std::string>& params = {});

  // Rows of business.<table> in `scope`.
  Result<std::int64_t> ScopeCount(std::string_view table, std::string_view scope);
  // Live (not deleted) sync.row_state rows of `scope`.
  Result<std::int64_t> LiveRowStates(std::string_view scope);
  Result<std::int64_t> RowStates(std::string_view scope);
  // sync.bundle_log rows of `scope`, and the highest bundle_seq (0 when none).
  Result<std::int64_t> Bundles(std::string_view scope);
  Result<std::int64_t> MaxBundleSeq(std::string_view scope);

 private:
  std::shared_ptr<PgPool> pool_;
};

}  // namespace oversync::sim

#endif  // OVERSYNC_SIM_PG_VERIFIER_H_
