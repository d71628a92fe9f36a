#include "pg_verifier.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <charconv>
#include <system_error>

namespace oversync::sim {

Result<PgPool::Lease> PgPool::Acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [this] { return !idle_.empty() || open_ < max_connections_; });
  if (!idle_.empty()) {
    oversyncd::PgConnPtr conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(conn));
  }
  ++open_;
  lock.unlock();
  Result<oversyncd::PgConnPtr> conn = oversyncd::PgConnect(dsn_);
  if (!conn) {
    Forget();
    return Error(conn.error());
  }
  return Lease(this, std::move(*conn));
}

void PgPool::Release(oversyncd::PgConnPtr conn) {
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    conn.reset();
    Forget();
    return;
  }
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(conn));
  }
  available_.notify_one();
}

void PgPool::Forget() {
  {
    std::lock_guard lock(mutex_);
    --open_;
  }
  available_.notify_one();
}

void PgPool::Lease::Discard() noexcept {
  if (pool_ != nullptr && conn_ != nullptr) {
    conn_.reset();
    pool_->Forget();
  }
  pool_ = nullptr;
}

Result<std::vector<std::string>> PgVerifier::Column(std::string_view sql,
                                                    const std::vector<std::string>& params) {
  OVERSYNC_ASSIGN_OR_RETURN(PgPool::Lease conn, pool_->Acquire());
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& param : params) values.push_back(param.c_str());
  const std::string text(sql);
  const oversyncd::PgResultPtr result(PQexecParams(conn.get(), text.c_str(),
                                                   static_cast<int>(values.size()), nullptr,
                                                   values.data(), nullptr, nullptr, 0));
  if (result == nullptr || PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return Error(ErrorCode::kDatabase,
                 fmt::format("verify query failed: {}: {}", text,
                             result != nullptr ? PQresultErrorMessage(result.get())
                                               : PQerrorMessage(conn.get())));
  }
  std::vector<std::string> out;
  const int rows = PQntuples(result.get());
  out.reserve(static_cast<std::size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    out.emplace_back(PQgetisnull(result.get(), row, 0) != 0 ? ""
                                                            : PQgetvalue(result.get(), row, 0));
  }
  return out;
}

Result<std::string> PgVerifier::Scalar(std::string_view sql,
                                       const std::vector<std::string>& params) {
  OVERSYNC_ASSIGN_OR_RETURN(std::vector<std::string> rows, Column(sql, params));
  return rows.empty() ? std::string() : rows.front();
}

Result<std::int64_t> PgVerifier::Int(std::string_view sql, const std::vector<std::string>& params) {
  OVERSYNC_ASSIGN_OR_RETURN(std::string text, Scalar(sql, params));
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return Error(ErrorCode::kDatabase,
                 fmt::format("verify query {}: not an integer: '{}'", sql, text));
  }
  return value;
}

Result<std::int64_t> PgVerifier::ScopeCount(std::string_view table, std::string_view scope) {
  return Int(fmt::format("SELECT count(*) FROM business.{} WHERE _sync_scope_id = $1", table),
             {std::string(scope)});
}

Result<std::int64_t> PgVerifier::LiveRowStates(std::string_view scope) {
  return Int(
      "SELECT count(*) FROM sync.row_state r JOIN sync.user_state u ON u.user_pk = r.user_pk "
      "WHERE u.user_id = $1 AND NOT r.deleted",
      {std::string(scope)});
}

Result<std::int64_t> PgVerifier::RowStates(std::string_view scope) {
  return Int(
      "SELECT count(*) FROM sync.row_state r JOIN sync.user_state u ON u.user_pk = r.user_pk "
      "WHERE u.user_id = $1",
      {std::string(scope)});
}

Result<std::int64_t> PgVerifier::Bundles(std::string_view scope) {
  return Int(
      "SELECT count(*) FROM sync.bundle_log b JOIN sync.user_state u ON u.user_pk = b.user_pk "
      "WHERE u.user_id = $1",
      {std::string(scope)});
}

Result<std::int64_t> PgVerifier::MaxBundleSeq(std::string_view scope) {
  return Int(
      "SELECT coalesce(max(b.bundle_seq), 0) FROM sync.bundle_log b JOIN sync.user_state u "
      "ON u.user_pk = b.user_pk WHERE u.user_id = $1",
      {std::string(scope)});
}

}  // namespace oversync::sim
