// Shared helpers of the server benchmarks (bench/*_bench.cc): building push rows and pushing a
// bundle through the full RuntimeService path.
#ifndef OVERSYNC_BENCH_BENCH_SUPPORT_H_
#define OVERSYNC_BENCH_BENCH_SUPPORT_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/json_value.h"
#include "oversync/server/runtime_service.h"
#include "oversync/testing/pg_test_database.h"

namespace oversync::bench {

// A fresh database with `business_ddl` applied and a bootstrapped service over it.
struct Env {
  std::unique_ptr<testing::PgTestDatabase> db;
  std::unique_ptr<RuntimeService> service;
};

inline Result<Env> MakeEnv(const std::string& business_ddl, ServiceConfig config,
                           int max_connections) {
  Env env;
  OVERSYNC_ASSIGN_OR_RETURN(env.db, testing::PgTestDatabase::Create());
  OVERSYNC_RETURN_IF_ERROR(env.db->QueryScalar(business_ddl));
  RuntimeOptions options;
  options.database_url = env.db->dsn();
  options.max_connections = max_connections;
  OVERSYNC_ASSIGN_OR_RETURN(env.service, RuntimeService::Create(std::move(config), options));
  OVERSYNC_RETURN_IF_ERROR(env.service->Bootstrap());
  return env;
}

// rows/s over the timed loop and, when the commit calls were timed, commit_rows/s.
inline void ReportRowRates(benchmark::State& state, std::int64_t rows_per_iteration,
                           double commit_seconds) {
  const auto rows = static_cast<double>(state.iterations() * rows_per_iteration);
  state.counters["rows/s"] = benchmark::Counter(rows, benchmark::Counter::kIsRate);
  if (commit_seconds > 0) state.counters["commit_rows/s"] = rows / commit_seconds;
}

// An INSERT of business.<table> keyed by `id` (uuid key column "id") with `payload_json`.
inline protocol::PushRequestRow InsertRow(const std::string& table, const std::string& id,
                                          const std::string& payload_json) {
  protocol::PushRequestRow row;
  row.schema = "business";
  row.table = table;
  row.key = protocol::JsonValue::Object();
  row.key.Add("id", protocol::JsonValue::String(id));
  row.op = "INSERT";
  row.payload_present = true;
  row.payload = protocol::ParseJson(payload_json).value();
  return row;
}

// create -> chunks -> commit; adds the commit call's wall time to `*commit_seconds` when given,
// stores the bundle_seq in `*bundle_seq` when given.
inline Status PushRows(RuntimeService& service, const Actor& actor, std::int64_t sbid,
                std::vector<protocol::PushRequestRow> rows, std::size_t chunk_rows,
                double* commit_seconds = nullptr, std::int64_t* bundle_seq = nullptr) {
  protocol::PushSessionCreateRequest create;
  create.source_bundle_id = sbid;
  create.planned_row_count = static_cast<std::int64_t>(rows.size());
  if (service.wire_profile() == protocol::WireProfileId::kJcsUniformNumericStringsV1) {
    // protocol-b.md §4.2: the request hash is part of the timed upload, as for a real client.
    protocol::CanonicalRequestHasher hasher;
    for (const protocol::PushRequestRow& row : rows) {
      protocol::Op op{};
      if (!protocol::ParseOp(row.op, op)) return Status(ErrorCode::kInvalidArgument, "bad op");
      OVERSYNC_RETURN_IF_ERROR(hasher.AddRow(row.schema, row.table, row.key, op,
                                             row.base_row_version,
                                             row.payload_present ? &row.payload : nullptr));
    }
    create.canonical_request_hash = hasher.Finish().hex;
  }
  OVERSYNC_ASSIGN_OR_RETURN(auto session, service.CreatePushSession(actor, create));
  for (std::size_t start = 0; start < rows.size(); start += chunk_rows) {
    protocol::PushChunkRequest chunk;
    chunk.start_row_ordinal = static_cast<std::int64_t>(start);
    const std::size_t end = std::min(rows.size(), start + chunk_rows);
    chunk.rows.assign(std::make_move_iterator(rows.begin() + static_cast<std::ptrdiff_t>(start)),
                      std::make_move_iterator(rows.begin() + static_cast<std::ptrdiff_t>(end)));
    OVERSYNC_RETURN_IF_ERROR(service.UploadPushChunk(actor, session.push_id, std::move(chunk)));
  }
  const auto commit_start = std::chrono::steady_clock::now();
  OVERSYNC_ASSIGN_OR_RETURN(auto committed, service.CommitPushSession(actor, session.push_id));
  if (bundle_seq != nullptr) *bundle_seq = committed.bundle_seq;
  if (commit_seconds != nullptr) {
    *commit_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_start).count();
  }
  return {};
}

}  // namespace oversync::bench

#endif  // OVERSYNC_BENCH_BENCH_SUPPORT_H_
