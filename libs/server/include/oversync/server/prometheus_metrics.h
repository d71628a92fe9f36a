// File: oversync/server/prometheus_metrics.h
//
// A StageMetricsRecorder that aggregates stage timings into Prometheus histograms and renders
// them in the Prometheus text exposition format (version 0.0.4), for a GET /metrics endpoint.
#ifndef OVERSYNC_SERVER_PROMETHEUS_METRICS_H_
#define OVERSYNC_SERVER_PROMETHEUS_METRICS_H_

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "oversync/server/stage_metrics.h"

namespace oversync {

// Thread-safe. Memory is bounded by the number of distinct (operation, stage) pairs, which is
// fixed by the runtime (stage_metrics.h).
class PrometheusStageMetrics final : public StageMetricsRecorder {
 public:
  // Upper bounds of the duration buckets, in seconds (+Inf is implicit).
  static constexpr std::array<double, 14> kBucketsSeconds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  void ObserveStage(const StageTiming& timing) noexcept override;

  // Appends the series to `out`:
  //   oversync_stage_duration_seconds{operation,stage} (histogram),
  //   oversync_stage_errors_total{operation,stage} (counter),
  //   oversync_stage_items_total{operation,stage} (counter: rows or bundles handled),
  //   oversync_stage_retries_total{operation,stage} (counter: observations with attempt > 1).
  void AppendText(std::string& out) const;

 private:
  struct Series {
    std::array<std::uint64_t, kBucketsSeconds.size()> buckets{};  // non-cumulative
    std::uint64_t count = 0;
    double sum_seconds = 0;
    std::uint64_t errors = 0;
    std::uint64_t items = 0;
    std::uint64_t retries = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Series> series_;  // guarded by mu_
};

// Appends one counter (with # HELP/# TYPE) in the text format.
void AppendPrometheusCounter(std::string& out, std::string_view name, std::string_view help,
                             std::int64_t value);
// Appends one gauge (with # HELP/# TYPE) in the text format.
void AppendPrometheusGauge(std::string& out, std::string_view name, std::string_view help,
                           std::int64_t value);

}  // namespace oversync

#endif  // OVERSYNC_SERVER_PROMETHEUS_METRICS_H_
