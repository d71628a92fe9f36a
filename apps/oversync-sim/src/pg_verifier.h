// File: apps/oversync-sim/src/pg_verifier.h
//
// Reads the server's PostgreSQL to verify what the devices claim: business.<table> rows of a
// scope (`_sync_scope_id` = the user id) and the sync metadata (sync.row_state, sync.bundle_log,
// sync.user_state). One libpq connection, opened lazily.
//
// Thread-safety: thread-compatible (one per scenario thread; libpq's rule).
#ifndef OVERSYNC_SIM_PG_VERIFIER_H_
#define OVERSYNC_SIM_PG_VERIFIER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "oversync/common/status.h"
#include "pg.h"

namespace oversync::sim {

class PgVerifier {
 public:
  explicit PgVerifier(std::string dsn) : dsn_(std::move(dsn)) {}

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
  Status EnsureConnected();

  const std::string dsn_;
  oversyncd::PgConnPtr conn_;
};

}  // namespace oversync::sim

#endif  // OVERSYNC_SIM_PG_VERIFIER_H_
