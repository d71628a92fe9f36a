#include "pg.h"

#include <charconv>
#include <thread>

#include <fmt/format.h>
#include <libpq-fe.h>

namespace oversync::pg {

void ConnDeleter::operator()(pg_conn* conn) const noexcept { PQfinish(conn); }
void ResultDeleter::operator()(pg_result* result) const noexcept { PQclear(result); }

bool IsRetryableSqlState(std::string_view sqlstate) noexcept {
  return sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03";
}

// ---- PgResult ----

int PgResult::rows() const noexcept { return result_ ? PQntuples(result_.get()) : 0; }
int PgResult::columns() const noexcept { return result_ ? PQnfields(result_.get()) : 0; }

bool PgResult::IsNull(int row, int column) const noexcept {
  return PQgetisnull(result_.get(), row, column) != 0;
}

std::string_view PgResult::Text(int row, int column) const noexcept {
  return {PQgetvalue(result_.get(), row, column),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::optional<std::int64_t> PgResult::Int64(int row, int column) const noexcept {
  if (IsNull(row, column)) return std::nullopt;
  const std::string_view text = Text(row, column);
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

bool PgResult::Bool(int row, int column) const noexcept {
  const std::string_view text = Text(row, column);
  return !text.empty() && text.front() == 't';
}

std::string_view PgResult::ColumnName(int column) const noexcept {
  const char* name = PQfname(result_.get(), column);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

std::int64_t PgResult::AffectedRows() const noexcept {
  // PQcmdTuples also counts the rows of SELECT (and FETCH/MOVE): only data changes count here.
  const char* command = result_ ? PQcmdStatus(result_.get()) : nullptr;
  if (command == nullptr) return 0;
  const std::string_view tag(command);
  if (!tag.starts_with("INSERT") && !tag.starts_with("UPDATE") && !tag.starts_with("DELETE") &&
      !tag.starts_with("MERGE") && !tag.starts_with("COPY")) {
    return 0;
  }
  const char* text = PQcmdTuples(result_.get());
  std::int64_t value = 0;
  if (text == nullptr || *text == '\0') return 0;
  const std::string_view view(text);
  std::from_chars(view.data(), view.data() + view.size(), value);
  return value;
}

// ---- PgConnection ----

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& dsn) {
  std::unique_ptr<pg_conn, ConnDeleter> conn(PQconnectdb(dsn.c_str()));
  if (!conn) return Error(ErrorCode::kUnavailable, "PostgreSQL connection: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn.get());
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return Error(ErrorCode::kUnavailable, fmt::format("cannot connect to PostgreSQL: {}", message));
  }
  // Server NOTICEs (e.g. "trigger ... does not exist, skipping") are not errors; libpq's
  // default processor would print them to stderr.
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  std::unique_ptr<PgConnection> out(new PgConnection(std::move(conn)));  // NOLINT: private ctor
  OVERSYNC_RETURN_IF_ERROR(out->ExecScript("SET TimeZone = 'UTC'"));
  return out;
}

bool PgConnection::healthy() const noexcept { return PQstatus(conn_.get()) == CONNECTION_OK; }

Status PgConnection::ResultStatus(pg_result* result, std::string_view sql) const {
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return {};
  const char* sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = primary != nullptr ? primary : PQerrorMessage(conn_.get());
  while (!message.empty() && message.back() == '\n') message.pop_back();
  const std::string_view state = sqlstate != nullptr ? sqlstate : "";
  const bool retryable = IsRetryableSqlState(state) || !healthy();
  std::string_view statement = sql.substr(0, 80);
  auto detail = std::make_shared<SqlStateDetail>();
  detail->sqlstate = std::string(state);
  return Status(retryable ? ErrorCode::kUnavailable : ErrorCode::kDatabase,
                fmt::format("{} (SQLSTATE {}) in: {}", message, state.empty() ? "none" : state,
                            statement))
      .WithDetail(std::move(detail));
}

std::string_view SqlStateOf(const Status& status) noexcept {
  const auto* detail = status.detail<SqlStateDetail>();
  return detail != nullptr ? std::string_view(detail->sqlstate) : std::string_view();
}

Result<PgResult> PgConnection::Exec(std::string_view sql, std::initializer_list<Param> params) {
  return Exec(sql, std::vector<Param>(params));
}

namespace {

// Text-format statement parameters as libpq wants them: NUL-terminated copies that stay alive
// for the call, and the array of pointers to them (nullptr = SQL NULL).
class TextParams {
 public:
  explicit TextParams(const std::vector<Param>& params) {
    storage_.reserve(params.size());
    values_.reserve(params.size());
    for (const Param& p : params) {
      if (p) {
        storage_.emplace_back(*p);
        values_.push_back(storage_.back().c_str());
      } else {
        values_.push_back(nullptr);
      }
    }
  }
  int count() const noexcept { return static_cast<int>(values_.size()); }
  const char* const* values() const noexcept { return values_.data(); }

 private:
  std::vector<std::string> storage_;  // reserved up front: c_str() pointers stay valid
  std::vector<const char*> values_;
};

}  // namespace

Result<PgResult> PgConnection::Exec(std::string_view sql, const std::vector<Param>& params) {
  const std::string statement(sql);
  const TextParams text(params);
  std::unique_ptr<pg_result, ResultDeleter> result(
      PQexecParams(conn_.get(), statement.c_str(), text.count(), nullptr, text.values(), nullptr,
                   nullptr, 0));
  OVERSYNC_RETURN_IF_ERROR(ResultStatus(result.get(), sql));
  return PgResult(std::move(result));
}

Status PgConnection::ExecScript(std::string_view sql) {
  const std::string script(sql);
  std::unique_ptr<pg_result, ResultDeleter> result(PQexec(conn_.get(), script.c_str()));
  // PQexec returns only the last result; an earlier failure aborts the rest and is reported.
  return ResultStatus(result.get(), sql);
}

Status PgConnection::ExecRows(std::string_view sql, const std::vector<Param>& params,
                              const std::function<Status(const PgResult& row)>& on_row) {
  const std::string statement(sql);
  const TextParams text(params);
  if (PQsendQueryParams(conn_.get(), statement.c_str(), text.count(), nullptr, text.values(),
                        nullptr, nullptr, 0) != 1) {
    return {ErrorCode::kUnavailable, fmt::format("cannot send query: {}", PQerrorMessage(conn_.get()))};
  }
  PQsetSingleRowMode(conn_.get());
  Status status;
  // Every result must be consumed before the connection can be used again.
  while (true) {
    std::unique_ptr<pg_result, ResultDeleter> result(PQgetResult(conn_.get()));
    if (!result) break;
    const ExecStatusType st = PQresultStatus(result.get());
    if (st == PGRES_SINGLE_TUPLE) {
      if (status.ok()) {
        PgResult row(std::move(result));
        status = on_row(row);
      }
      continue;
    }
    if (st != PGRES_TUPLES_OK && status.ok()) status = ResultStatus(result.get(), sql);
  }
  return status;
}

int PgConnection::Socket() const noexcept { return PQsocket(conn_.get()); }

Result<std::vector<PgConnection::Notification>> PgConnection::ConsumeNotifications() {
  if (PQconsumeInput(conn_.get()) != 1) {
    return Error(ErrorCode::kUnavailable,
                 fmt::format("PostgreSQL connection lost: {}", PQerrorMessage(conn_.get())));
  }
  std::vector<Notification> out;
  while (true) {
    std::unique_ptr<PGnotify, decltype(&PQfreemem)> notify(PQnotifies(conn_.get()), &PQfreemem);
    if (!notify) break;
    out.push_back({notify->relname != nullptr ? notify->relname : "",
                   notify->extra != nullptr ? notify->extra : ""});
  }
  return out;
}

Status PgConnection::CopyIn(std::string_view copy_sql, std::string_view data) {
  const std::string statement(copy_sql);
  std::unique_ptr<pg_result, ResultDeleter> start(PQexec(conn_.get(), statement.c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) {
    return ResultStatus(start.get(), copy_sql);
  }
  // Blocking connection: PQputCopyData queues and flushes; send in bounded pieces so libpq's
  // output buffer never holds a second copy of a large payload.
  constexpr std::size_t kPiece = 256 * 1024;
  bool sent = true;
  for (std::size_t offset = 0; offset < data.size() && sent; offset += kPiece) {
    const std::string_view piece = data.substr(offset, kPiece);
    sent = PQputCopyData(conn_.get(), piece.data(), static_cast<int>(piece.size())) == 1;
  }
  const bool ended = PQputCopyEnd(conn_.get(), sent ? nullptr : "client send failed") == 1;
  Status status;
  while (true) {
    std::unique_ptr<pg_result, ResultDeleter> result(PQgetResult(conn_.get()));
    if (!result) break;
    if (status.ok()) status = ResultStatus(result.get(), copy_sql);
  }
  if (status.ok() && (!sent || !ended)) {
    return {ErrorCode::kUnavailable,
            fmt::format("COPY data could not be sent: {}", PQerrorMessage(conn_.get()))};
  }
  return status;
}

Status PgConnection::ExecPipeline(const std::vector<PipelinedStatement>& statements) {
  if (statements.empty()) return {};
  if (PQenterPipelineMode(conn_.get()) != 1) {
    return {ErrorCode::kUnavailable,
            fmt::format("cannot enter pipeline mode: {}", PQerrorMessage(conn_.get()))};
  }
  // What each queued command is, to read its results in order.
  struct Queued {
    std::string_view sql;
    std::string prepare_name;  // non-empty for a PQsendPrepare
  };
  std::vector<Queued> queued;
  queued.reserve(statements.size() + 8);
  std::map<std::string_view, std::string> preparing;  // prepared in this pipeline
  Status status;
  for (const PipelinedStatement& st : statements) {
    const TextParams text(st.params);
    const std::string sql(st.sql);
    const std::string* name = nullptr;
    if (st.prepared) {
      if (auto it = prepared_.find(st.sql); it != prepared_.end()) {
        name = &it->second;
      } else if (auto p = preparing.find(st.sql); p != preparing.end()) {
        name = &p->second;
      } else if (prepared_.size() + preparing.size() < kMaxPreparedStatements) {
        std::string fresh = fmt::format("oversync_{}", prepared_.size() + preparing.size() + 1);
        if (PQsendPrepare(conn_.get(), fresh.c_str(), sql.c_str(), text.count(), nullptr) != 1) {
          status = {ErrorCode::kUnavailable,
                    fmt::format("cannot queue statement: {}", PQerrorMessage(conn_.get()))};
          break;
        }
        queued.push_back({st.sql, fresh});
        name = &preparing.emplace(st.sql, std::move(fresh)).first->second;
      }
    }
    const int sent =
        name != nullptr
            ? PQsendQueryPrepared(conn_.get(), name->c_str(), text.count(), text.values(), nullptr,
                                  nullptr, 0)
            : PQsendQueryParams(conn_.get(), sql.c_str(), text.count(), nullptr, text.values(),
                                nullptr, nullptr, 0);
    if (sent != 1) {
      status = {ErrorCode::kUnavailable,
                fmt::format("cannot queue statement: {}", PQerrorMessage(conn_.get()))};
      break;
    }
    queued.push_back({st.sql, {}});
  }
  const bool synced = PQpipelineSync(conn_.get()) == 1;
  // Each queued command yields its result(s) then NULL; after an error the server skips the
  // rest (PGRES_PIPELINE_ABORTED); the sync point ends the pipeline.
  for (std::size_t i = 0; synced && i < queued.size(); ++i) {
    while (true) {
      std::unique_ptr<pg_result, ResultDeleter> result(PQgetResult(conn_.get()));
      if (!result) break;
      const ExecStatusType st = PQresultStatus(result.get());
      if (st == PGRES_PIPELINE_ABORTED) continue;
      if (st == PGRES_COMMAND_OK && !queued[i].prepare_name.empty()) {
        prepared_.emplace(std::string(queued[i].sql), queued[i].prepare_name);
        continue;
      }
      if (status.ok()) status = ResultStatus(result.get(), queued[i].sql);
    }
    if (PQstatus(conn_.get()) != CONNECTION_OK) break;
  }
  if (synced && PQstatus(conn_.get()) == CONNECTION_OK) {
    std::unique_ptr<pg_result, ResultDeleter> sync_result(PQgetResult(conn_.get()));
    if (!sync_result || PQresultStatus(sync_result.get()) != PGRES_PIPELINE_SYNC) {
      if (status.ok()) status = {ErrorCode::kUnavailable, "pipeline did not end at its sync point"};
    }
  }
  if (PQexitPipelineMode(conn_.get()) != 1 && status.ok()) {
    status = {ErrorCode::kUnavailable,
              fmt::format("cannot leave pipeline mode: {}", PQerrorMessage(conn_.get()))};
  }
  if (status.ok() && !synced) {
    status = {ErrorCode::kUnavailable,
              fmt::format("pipeline was not sent: {}", PQerrorMessage(conn_.get()))};
  }
  return status;
}

// ---- transactions ----

Status InTransaction(PgConnection& conn, Isolation isolation,
                     const std::function<Status(PgConnection&)>& body) {
  std::string_view begin = "BEGIN ISOLATION LEVEL READ COMMITTED";
  if (isolation == Isolation::kRepeatableRead) begin = "BEGIN ISOLATION LEVEL REPEATABLE READ";
  if (isolation == Isolation::kRepeatableReadReadOnly) {
    begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  }
  OVERSYNC_RETURN_IF_ERROR(conn.ExecScript(begin));
  Status status = body(conn);
  if (status.ok()) {
    status = conn.ExecScript("COMMIT");
    if (!status.ok() && !conn.healthy()) {
      return Status(ErrorCode::kCommitOutcomeUnknown,
                    "transaction commit outcome is unknown: the database connection failed during "
                    "COMMIT");
    }
  }
  if (!status.ok()) {
    // Best effort: on a broken connection there is nothing to roll back.
    (void)conn.ExecScript("ROLLBACK");
  }
  return status;
}

Status WithRetry(int attempts, std::chrono::milliseconds backoff,
                 const std::function<Status()>& attempt) {
  Status status;
  for (int i = 1; i <= attempts; ++i) {
    status = attempt();
    if (status.ok() || status.code() != ErrorCode::kUnavailable || i == attempts) return status;
    std::this_thread::sleep_for(backoff * i);  // linear backoff between attempts, not sync
  }
  return status;
}

// ---- pool ----

Result<std::unique_ptr<PgPool>> PgPool::Create(Options options) {
  if (options.max_connections <= 0) {
    return Error(ErrorCode::kInvalidArgument, "max_connections must be > 0");
  }
  std::unique_ptr<PgPool> pool(new PgPool(std::move(options)));  // NOLINT: private ctor
  OVERSYNC_ASSIGN_OR_RETURN(auto first, PgConnection::Connect(pool->options_.dsn));
  pool->open_ = 1;
  pool->idle_.push_back(std::move(first));
  return pool;
}

Result<PgPool::Lease> PgPool::Acquire() {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  while (idle_.empty() && open_ >= options_.max_connections) {
    if (available_.wait_until(lock, deadline) == std::cv_status::timeout &&
        idle_.empty() && open_ >= options_.max_connections) {
      return Error(ErrorCode::kDeadlineExceeded,
                   fmt::format("no PostgreSQL connection available within {} ms",
                               options_.acquire_timeout.count()));
    }
  }
  if (!idle_.empty()) {
    std::unique_ptr<PgConnection> conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(conn));
  }
  ++open_;
  lock.unlock();
  auto conn = PgConnection::Connect(options_.dsn);
  if (!conn) {
    std::lock_guard relock(mu_);
    --open_;
    available_.notify_one();
    return Error(std::move(conn).error());
  }
  return Lease(this, std::move(*conn));
}

void PgPool::Release(std::unique_ptr<PgConnection> conn) {
  std::lock_guard lock(mu_);
  if (conn && conn->healthy()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  available_.notify_one();
}

PgPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_) pool_->Release(std::move(conn_));
}

void AppendCopyField(std::string& row, std::string_view value, bool first) {
  if (!first) row += '\t';
  for (const char c : value) {
    switch (c) {
      case '\\': row += "\\\\"; break;
      case '\t': row += "\\t"; break;
      case '\n': row += "\\n"; break;
      case '\r': row += "\\r"; break;
      default: row += c;
    }
  }
}

void AppendCopyNull(std::string& row, bool first) {
  if (!first) row += '\t';
  row += "\\N";
}

std::string QuoteIdent(std::string_view ident) {
  std::string out = "\"";
  for (const char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string QuoteLiteral(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (const char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace oversync::pg
