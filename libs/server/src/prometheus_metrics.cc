#include "oversync/server/prometheus_metrics.h"

#include <chrono>

#include <fmt/format.h>

namespace oversync {
namespace {

// Label values are runtime-defined identifiers, but escape per the format anyway.
std::string EscapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void PrometheusStageMetrics::ObserveStage(const StageTiming& timing) noexcept {
  try {
    const double seconds = std::chrono::duration<double>(timing.duration).count();
    std::lock_guard lock(mu_);
    Series& s = series_[{std::string(timing.operation), std::string(timing.stage)}];
    std::size_t bucket = 0;
    while (bucket < kBucketsSeconds.size() && seconds > kBucketsSeconds[bucket]) ++bucket;
    if (bucket < kBucketsSeconds.size()) ++s.buckets[bucket];
    ++s.count;
    s.sum_seconds += seconds;
    if (timing.error) ++s.errors;
    if (timing.count > 0) s.items += static_cast<std::uint64_t>(timing.count);
    if (timing.attempt > 1) ++s.retries;
  } catch (...) {
    // Out of memory while adding a series: drop the observation rather than fail the request.
  }
}

void PrometheusStageMetrics::AppendText(std::string& out) const {
  std::lock_guard lock(mu_);
  out += "# HELP oversync_stage_duration_seconds Duration of sync runtime operation stages.\n";
  out += "# TYPE oversync_stage_duration_seconds histogram\n";
  for (const auto& [key, s] : series_) {
    const std::string labels = fmt::format("operation=\"{}\",stage=\"{}\"", EscapeLabel(key.first),
                                           EscapeLabel(key.second));
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < kBucketsSeconds.size(); ++b) {
      cumulative += s.buckets[b];
      out += fmt::format("oversync_stage_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
                         kBucketsSeconds[b], cumulative);
    }
    out += fmt::format("oversync_stage_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels,
                       s.count);
    out += fmt::format("oversync_stage_duration_seconds_sum{{{}}} {}\n", labels, s.sum_seconds);
    out += fmt::format("oversync_stage_duration_seconds_count{{{}}} {}\n", labels, s.count);
  }
  const auto counter = [&](std::string_view name, std::string_view help, auto field) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help, name);
    for (const auto& [key, s] : series_) {
      out += fmt::format("{}{{operation=\"{}\",stage=\"{}\"}} {}\n", name, EscapeLabel(key.first),
                         EscapeLabel(key.second), s.*field);
    }
  };
  counter("oversync_stage_errors_total", "Stage observations that ended in an error.",
          &Series::errors);
  counter("oversync_stage_items_total", "Rows or bundles handled by the stage.", &Series::items);
  counter("oversync_stage_retries_total", "Stage observations of a retried transaction attempt.",
          &Series::retries);
}

void AppendPrometheusCounter(std::string& out, std::string_view name, std::string_view help,
                             std::int64_t value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
}

void AppendPrometheusGauge(std::string& out, std::string_view name, std::string_view help,
                           std::int64_t value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
}

}  // namespace oversync
