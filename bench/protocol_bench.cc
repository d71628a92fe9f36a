// Protocol hot paths (issue: foundation). Numbers go to docs/benchmarks.md.
//   BM_DecodePushChunk/1000        decode a 1,000-row push chunk body (server request path)
//   BM_HashBundleFromRows/1000     canonicalize + SHA-256 a 1,000-row bundle already decoded
//                                  (client verification path)
//   BM_HashBundleFromPayloadText/1000  parse stored payload text, canonicalize, hash (server
//                                  commit path)
// Throughput counters are bytes of canonical JSON (hash benches) or request body (decode).
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "oversync/common/random.h"
#include "oversync/common/uuid.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/codec.h"

namespace {

using namespace oversync;            // NOLINT(google-build-using-namespace): benchmark file
using namespace oversync::protocol;  // NOLINT(google-build-using-namespace)

// A realistic business row: uuid key, text, numbers, boolean, timestamp, bytea, null.
std::string PayloadText(SeededRandom& random, const std::string& id, int i) {
  return fmt::format(
      R"({{"id":"{}","name":"User {} <{}@example.com>","email":"user{}@example.com","age":{},"score":{}.{},"active":{},"created_at":"2026-03-22T12:00:{:02}Z","avatar":"AAECAwQFBgcICQoLDA0ODw==","note":null}})",
      id, i, i, i, random.Next() % 90, random.Next() % 1000, random.Next() % 100,
      random.Next() % 2 == 0 ? "true" : "false", i % 60);
}

struct Fixture {
  std::string chunk_body;
  std::vector<BundleRow> rows;
  std::vector<std::string> payload_texts;
  std::int64_t canonical_bytes = 0;
};

Fixture MakeFixture(int row_count) {
  SeededRandom random(42);
  Fixture f;
  f.chunk_body = R"({"start_row_ordinal":0,"rows":[)";
  for (int i = 0; i < row_count; ++i) {
    const std::string id = Uuid::NewV4(random).ToString();
    const std::string payload = PayloadText(random, id, i);
    if (i) f.chunk_body += ',';
    f.chunk_body += fmt::format(
        R"({{"schema":"business","table":"users","key":{{"id":"{}"}},"op":"INSERT","base_row_version":0,"payload":{}}})",
        id, payload);
    BundleRow row;
    row.schema = "business";
    row.table = "users";
    row.key = JsonValue::Object();
    row.key.Add("id", JsonValue::String(id));
    row.op = Op::kInsert;
    row.row_version = 7;
    row.payload = ParseJson(payload).value();
    f.rows.push_back(std::move(row));
    f.payload_texts.push_back(payload);
  }
  f.chunk_body += "]}";
  f.canonical_bytes = ComputeBundleHash(GoCanonicalV1Profile(), 7, f.rows)->byte_count;
  return f;
}

void BM_DecodePushChunk(benchmark::State& state) {
  const Fixture f = MakeFixture(static_cast<int>(state.range(0)));
  JsonParser parser;
  for (auto _ : state) {
    auto decoded = DecodePushChunkRequest(f.chunk_body, &parser);
    if (!decoded) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(f.chunk_body.size()));
  state.counters["rows/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * state.range(0)), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodePushChunk)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_HashBundleFromRows(benchmark::State& state) {
  const Fixture f = MakeFixture(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    BundleHasher hasher(GoCanonicalV1Profile(), 7);
    for (const BundleRow& row : f.rows) {
      if (!hasher.AddRow(row).ok()) state.SkipWithError("hash failed");
    }
    benchmark::DoNotOptimize(hasher.Finish());
  }
  state.SetBytesProcessed(state.iterations() * f.canonical_bytes);
}
BENCHMARK(BM_HashBundleFromRows)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_HashBundleFromPayloadText(benchmark::State& state) {
  const Fixture f = MakeFixture(static_cast<int>(state.range(0)));
  JsonParser parser;
  for (auto _ : state) {
    BundleHasher hasher(GoCanonicalV1Profile(), 7);
    for (std::size_t i = 0; i < f.rows.size(); ++i) {
      auto payload = parser.Parse(f.payload_texts[i]);
      if (!payload) state.SkipWithError("parse failed");
      if (!hasher.AddRow("business", "users", f.rows[i].key, Op::kInsert, &*payload).ok()) {
        state.SkipWithError("hash failed");
      }
    }
    benchmark::DoNotOptimize(hasher.Finish());
  }
  state.SetBytesProcessed(state.iterations() * f.canonical_bytes);
}
BENCHMARK(BM_HashBundleFromPayloadText)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
