#include "metrics.h"

#include <algorithm>
#include <cmath>

namespace oversync::sim {

std::string_view OpName(Op op) noexcept {
  switch (op) {
    case Op::kPush:
      return "push";
    case Op::kPull:
      return "pull";
    case Op::kSnapshot:
      return "snapshot";
    case Op::kAttach:
      return "attach";
    case Op::kCount:
      break;
  }
  return "?";
}

void LatencyRecorder::Record(Op op, double ms) {
  const std::lock_guard<std::mutex> lock(mu_);
  samples_.at(static_cast<std::size_t>(op)).push_back(ms);
}

std::vector<double> LatencyRecorder::Samples(Op op) const {
  const std::lock_guard<std::mutex> lock(mu_);
  return samples_.at(static_cast<std::size_t>(op));
}

LatencySummary LatencyRecorder::Summarize(Op op) const { return SummarizeSamples(Samples(op)); }

LatencySummary SummarizeSamples(std::vector<double> samples) {
  LatencySummary out;
  out.count = samples.size();
  if (samples.empty()) return out;
  std::sort(samples.begin(), samples.end());
  // Nearest-rank percentiles.
  const auto rank = [&samples](double p) {
    const auto n = static_cast<double>(samples.size());
    const auto index = static_cast<std::size_t>(std::max(1.0, std::ceil(p * n))) - 1;
    return samples[std::min(index, samples.size() - 1)];
  };
  out.p50_ms = rank(0.50);
  out.p95_ms = rank(0.95);
  out.p99_ms = rank(0.99);
  out.max_ms = samples.back();
  return out;
}

}  // namespace oversync::sim
