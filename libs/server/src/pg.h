// Private libpq layer of the server runtime: RAII handles, parameterized statements, transactions
// with the Go runtime's retry rule, and a bounded connection pool.
//
// Nothing here is visible to embedders (public headers never include libpq).
#ifndef OVERSYNC_SERVER_SRC_PG_H_
#define OVERSYNC_SERVER_SRC_PG_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oversync/common/status.h"

struct pg_conn;
struct pg_result;

namespace oversync::pg {

struct ConnDeleter {
  void operator()(pg_conn* conn) const noexcept;
};
struct ResultDeleter {
  void operator()(pg_result* result) const noexcept;
};

// A statement parameter in text format; nullopt is SQL NULL.
using Param = std::optional<std::string_view>;

// SQLSTATEs the Go runtime retries: serialization_failure, deadlock_detected,
// lock_not_available (server.md §7.3). Errors carrying them get ErrorCode::kUnavailable.
bool IsRetryableSqlState(std::string_view sqlstate) noexcept;

// Attached to database errors: the SQLSTATE PostgreSQL reported (empty when none).
struct SqlStateDetail final : StatusDetail {
  std::string sqlstate;
};
// The SQLSTATE of a database error, or "" when `status` carries none.
std::string_view SqlStateOf(const Status& status) noexcept;

// A query result. Move-only. Accessors REQUIRE valid row/column indexes.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(std::unique_ptr<pg_result, ResultDeleter> result) : result_(std::move(result)) {}

  int rows() const noexcept;
  int columns() const noexcept;
  bool IsNull(int row, int column) const noexcept;
  std::string_view Text(int row, int column) const noexcept;
  // Parses an int8/int4/int2 column. nullopt when NULL or unparsable.
  std::optional<std::int64_t> Int64(int row, int column) const noexcept;
  // 't' / 'f'.
  bool Bool(int row, int column) const noexcept;
  std::string_view ColumnName(int column) const noexcept;
  // Rows affected by INSERT/UPDATE/DELETE/MERGE/COPY (0 otherwise).
  std::int64_t AffectedRows() const noexcept;

 private:
  std::unique_ptr<pg_result, ResultDeleter> result_;
};

// One connection. Thread-compatible: use from one thread at a time.
class PgConnection {
 public:
  // Connects with `dsn` (keyword/value string or postgres:// URI) and pins the session time zone
  // to UTC so timestamp text in payloads never depends on server configuration.
  // Errors: kUnavailable (cannot connect).
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& dsn);

  // One statement, text parameters ($1..$n), text results.
  // Errors: kUnavailable for the retryable SQLSTATEs or a lost connection, kDatabase otherwise;
  // the message carries the server message and SQLSTATE.
  Result<PgResult> Exec(std::string_view sql, std::initializer_list<Param> params = {});
  Result<PgResult> Exec(std::string_view sql, const std::vector<Param>& params);

  // Several statements without parameters (simple query protocol).
  Status ExecScript(std::string_view sql);

  // Streams the rows of one statement (libpq single-row mode): `on_row` sees each row as a
  // one-row PgResult, so a large result is never held in memory at once. An error from
  // `on_row` stops delivery (the remaining rows are drained and discarded) and is returned.
  Status ExecRows(std::string_view sql, const std::vector<Param>& params,
                  const std::function<Status(const PgResult& row)>& on_row);

  // `COPY ... FROM STDIN` (text format) with `data`: rows built with AppendCopyField /
  // AppendCopyNull, tab-separated, each ending in '\n'. The fastest way to insert many rows:
  // no per-row statement and no server-side JSON parsing. Errors: as Exec.
  Status CopyIn(std::string_view copy_sql, std::string_view data);

  // One statement of a pipeline. `prepared` statements are parsed and planned once per
  // connection (a named prepared statement, cached by SQL text, at most kMaxPreparedStatements
  // per connection; beyond that they run unnamed).
  struct PipelinedStatement {
    std::string_view sql;
    std::vector<Param> params;
    bool prepared = false;
  };
  static constexpr std::size_t kMaxPreparedStatements = 256;

  // Runs the statements in order in libpq pipeline mode: all of them travel in one network
  // round trip. Stops at the first failing statement and returns its error (the server skips
  // the rest). Errors: as Exec.
  Status ExecPipeline(const std::vector<PipelinedStatement>& statements);

  // LISTEN support (bundle-change watch, server.md §7.5).
  struct Notification {
    std::string channel;
    std::string payload;
  };
  // The socket to poll for readability while waiting for notifications (-1 when broken).
  int Socket() const noexcept;
  // Reads what arrived on the socket and returns the pending notifications (possibly none).
  // Errors: kUnavailable when the connection is lost.
  Result<std::vector<Notification>> ConsumeNotifications();

  // False once the connection is broken; the pool then discards it.
  bool healthy() const noexcept;

 private:
  explicit PgConnection(std::unique_ptr<pg_conn, ConnDeleter> conn) : conn_(std::move(conn)) {}
  Status ResultStatus(pg_result* result, std::string_view sql) const;

  std::unique_ptr<pg_conn, ConnDeleter> conn_;
  std::map<std::string, std::string, std::less<>> prepared_;  // SQL text -> statement name
};

enum class Isolation { kReadCommitted, kRepeatableRead, kRepeatableReadReadOnly };

// BEGIN; body(conn); COMMIT — ROLLBACK on any error from the body or the commit.
// When the connection breaks while COMMIT is in flight, PostgreSQL may or may not have committed:
// that returns kCommitOutcomeUnknown (never retried by WithRetry), not kUnavailable, so no
// caller treats a possibly committed transaction as failed and runs it again.
Status InTransaction(PgConnection& conn, Isolation isolation,
                     const std::function<Status(PgConnection&)>& body);

// Runs `attempt` up to `attempts` times while it fails with kUnavailable (the retryable
// SQLSTATEs), sleeping backoff × attempt number between tries (server.md §7.3).
Status WithRetry(int attempts, std::chrono::milliseconds backoff,
                 const std::function<Status()>& attempt);

// A bounded pool. Thread-safe. Connections are opened lazily up to max_connections and reused;
// a broken connection is dropped on return.
class PgPool {
 public:
  struct Options {
    std::string dsn;
    int max_connections = 10;
    std::chrono::milliseconds acquire_timeout{30000};
  };

  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConnection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    PgConnection& operator*() const noexcept { return *conn_; }
    PgConnection* operator->() const noexcept { return conn_.get(); }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  // Opens one connection to validate the DSN. Errors: kUnavailable, kInvalidArgument.
  static Result<std::unique_ptr<PgPool>> Create(Options options);

  // Errors: kDeadlineExceeded when no connection frees up in time, kUnavailable on connect
  // failure.
  Result<Lease> Acquire();

 private:
  explicit PgPool(Options options) : options_(std::move(options)) {}
  void Release(std::unique_ptr<PgConnection> conn);

  const Options options_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // guarded by mu_
  int open_ = 0;                                     // guarded by mu_
};

// Appends `value` as one field of a COPY text-format row (backslash, tab, newline and carriage
// return escaped), preceded by a tab unless it is the row's first field.
void AppendCopyField(std::string& row, std::string_view value, bool first = false);
// Appends a COPY text-format NULL field.
void AppendCopyNull(std::string& row, bool first = false);

// Quotes an SQL identifier like PostgreSQL's quote_ident/format('%I').
std::string QuoteIdent(std::string_view ident);
// Quotes an SQL string literal ('' doubling).
std::string QuoteLiteral(std::string_view text);
// A text[] parameter value ('{"a","b"}') with every element quoted, for `$n::text[]`.
std::string TextArray(const std::vector<std::string>& items);

}  // namespace oversync::pg

#endif  // OVERSYNC_SERVER_SRC_PG_H_
