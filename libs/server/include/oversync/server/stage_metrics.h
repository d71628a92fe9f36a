// File: oversync/server/stage_metrics.h
//
// Per-stage timings of runtime operations (server.md §8.2): the embedding application plugs a
// StageMetricsRecorder into ServiceConfig::stage_metrics and forwards the timings to its metrics
// system (Prometheus histograms, OpenTelemetry, logs).
#ifndef OVERSYNC_SERVER_STAGE_METRICS_H_
#define OVERSYNC_SERVER_STAGE_METRICS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>

namespace oversync {

// One observed stage. The string views are valid only during the ObserveStage call.
//
// Operations and their stages (stable names):
//   "pull":            total, transaction, retained_floor_check, load_bundles
//   "connect":         total, lock_wait, advisory_lock, transaction
//   "push_create":     total, lock_wait, advisory_lock, transaction
//   "push_chunk":      total, validate, lock_wait, advisory_lock, transaction
//   "push_commit":     total, lock_wait, advisory_lock, transaction, load_staged, apply, finalize
//   "server_write":    total, lock_wait, advisory_lock, transaction
//   "snapshot_create": total, transaction, materialize
//   "snapshot_chunk":  total
// lock_wait is the wait for this process's other operations of the same user and for a pooled
// connection; advisory_lock the wait for other processes on the user's advisory lock.
// go-oversync instruments only pull, with the same stage names plus resolve_stable_bundle_seq
// and list_bundle_seqs; here the floor, head and scope come from one statement (reported as
// retained_floor_check) and the page is listed and loaded by one streaming statement (reported
// as load_bundles), so those two stages do not exist.
// `count` is the number of rows or bundles the stage handled (0 when not meaningful), `attempt`
// the 1-based transaction attempt (retries of serialization failures), `error` whether the stage
// failed (a refusal because the service is shutting down is not counted as an error).
struct StageTiming {
  std::string_view operation;
  std::string_view stage;
  std::chrono::nanoseconds duration{0};
  std::int64_t count = 0;
  int attempt = 1;
  bool error = false;
};

// Receives stage timings synchronously on the thread running the operation, so it must be
// thread-safe and fast (no blocking I/O). Must not throw.
class StageMetricsRecorder {
 public:
  virtual ~StageMetricsRecorder() = default;
  virtual void ObserveStage(const StageTiming& timing) noexcept = 0;
};

// Adapts a callable to StageMetricsRecorder. The callable must be thread-safe and not throw.
class StageMetricsRecorderFunc final : public StageMetricsRecorder {
 public:
  explicit StageMetricsRecorderFunc(std::function<void(const StageTiming&)> fn)
      : fn_(std::move(fn)) {}
  void ObserveStage(const StageTiming& timing) noexcept override { fn_(timing); }

 private:
  std::function<void(const StageTiming&)> fn_;
};

}  // namespace oversync

#endif  // OVERSYNC_SERVER_STAGE_METRICS_H_
