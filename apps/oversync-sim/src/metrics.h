// File: apps/oversync-sim/src/metrics.h
//
// What the simulator measures: latencies of client calls (timed around the SDK call by the
// simulator, so they include the client's own retries) and counters of what went over the wire.
//
// Thread-safety: LatencyRecorder and TrafficCounters are thread-safe.
#ifndef OVERSYNC_SIM_METRICS_H_
#define OVERSYNC_SIM_METRICS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace oversync::sim {

enum class Op : std::uint8_t { kPush, kPull, kSnapshot, kAttach, kCount };
std::string_view OpName(Op op) noexcept;

struct LatencySummary {
  std::size_t count = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// Nearest-rank percentiles of `samples` (any order).
LatencySummary SummarizeSamples(std::vector<double> samples);

class LatencyRecorder {
 public:
  void Record(Op op, double ms);
  LatencySummary Summarize(Op op) const;
  std::vector<double> Samples(Op op) const;

 private:
  mutable std::mutex mu_;
  std::array<std::vector<double>, static_cast<std::size_t>(Op::kCount)> samples_;  // guarded by mu_
};

// Counted by a device's transport from the answers it sees.
struct TrafficCounters {
  std::atomic<std::int64_t> requests{0};
  std::atomic<std::int64_t> http_errors{0};       // answers with status >= 400
  std::atomic<std::int64_t> transport_errors{0};  // failures before any answer (offline too)
  std::atomic<std::int64_t> rows_pushed{0};       // row_count of committed push sessions
  std::atomic<std::int64_t> bundles_pushed{0};    // committed push sessions
  std::atomic<std::int64_t> rows_pulled{0};       // rows of pulled bundles and snapshot chunks
  std::atomic<std::int64_t> bundles_pulled{0};    // bundles of GET /sync/pull answers
  std::atomic<std::int64_t> snapshot_chunks{0};   // snapshot chunk answers
  std::atomic<std::int64_t> watch_requests{0};    // GET /sync/watch
};

}  // namespace oversync::sim

#endif  // OVERSYNC_SIM_METRICS_H_
