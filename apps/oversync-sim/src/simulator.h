// File: apps/oversync-sim/src/simulator.h
//
// The simulator's library entry point (the CLI in main.cc and sim_test.cc both call it): starts
// the reference server in-process unless a server URL is given, runs the selected scenarios for
// `parallel` users at once (each user its own scope and devices), verifies on the devices and in
// PostgreSQL, and returns the results with latency percentiles and traffic totals.
//
// Thread-safety: RunSimulator may be called from any thread; `progress` is called from worker
// threads, one complete line per call, serialized by the simulator.
#ifndef OVERSYNC_SIM_SIMULATOR_H_
#define OVERSYNC_SIM_SIMULATOR_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "metrics.h"
#include "oversync/common/status.h"

namespace oversync::sim {

struct SimOptions {
  // Base URL of a running server; empty = start the reference server in-process.
  std::string server_url;
  // In-process server: PostgreSQL on which a fresh database is created (empty = start a private
  // cluster in the work directory). External server: the server's database, for verification
  // (empty = verify on the devices only).
  std::string database_url;
  // HMAC secret of the bearer tokens (must match the server's JWT_SECRET).
  std::string jwt_secret;
  // The wire profile the devices speak and the in-process server serves (docs/wire-profiles.md):
  // "jcs_uniform_numeric_strings_v1" (the client's default) or "go_canonical_v1". With --server it
  // must be the profile that server serves at that URL.
  std::string wire_profile = "jcs_uniform_numeric_strings_v1";
  // A scenario name, "all" or "watch-all".
  std::string scenario = "all";
  // Users run concurrently (1..500).
  int parallel = 1;
  // The users are spread over this many simulator processes (1..64): the calling process hosts
  // the in-process server (or uses server_url), starts `executable` once per share with
  // --server, and merges their JSON reports. Each process has its own descriptor limit, which is
  // what bounds one process to a few thousand devices (watch-all at 500 users runs 4,500).
  int processes = 1;
  // The program started for each process share (default: /proc/self/exe).
  std::filesystem::path executable;
  // Set by a parent for its child processes: the index of this process's first user, the number
  // of users across all processes (the load the watch deadline is sized for; 0 = parallel), a
  // prefix for progress lines, and whether ReportJson includes the raw latency samples the
  // parent merges.
  int first_user = 0;
  int total_users = 0;
  std::string progress_prefix;
  bool latency_samples_in_json = false;
  // Remove each scenario's device files when it ends even though `workdir` was given (a parent's
  // temporary work directory).
  bool discard_device_files = false;
  // Where the SQLite files go (and the private cluster); empty = a temporary directory that is
  // removed at the end. A given directory is kept.
  std::filesystem::path workdir;
  // A prefix making this run's user ids unique on a shared server; empty = derived from the
  // time and pid.
  std::string run_id;
  // Per-step progress lines, not only one line per scenario.
  bool verbose = false;
  // Receives every output line (without trailing newline). Null = discard.
  std::function<void(std::string_view line)> progress;
};

struct ScenarioResult {
  std::string name;
  std::string user;
  bool passed = false;
  std::string reason;  // failure reason; empty when passed
  double duration_ms = 0;
  std::map<std::string, std::int64_t> counters;
};

struct SimReport {
  std::vector<ScenarioResult> results;
  int passed = 0;
  int failed = 0;
  double wall_ms = 0;
  std::string server_url;
  std::string wire_profile;
  bool verified_in_postgres = false;
  std::map<std::string, std::int64_t> totals;       // sums of the scenario counters
  std::map<std::string, LatencySummary> latencies;  // by OpName
  std::map<std::string, std::vector<double>> latency_samples_ms;  // by OpName
  bool latency_samples_in_json = false;
  // In-process server only: answers by status class.
  std::int64_t server_requests = 0;
  std::int64_t server_4xx = 0;
  std::int64_t server_5xx = 0;
  bool AllPassed() const noexcept { return failed == 0 && passed > 0; }
};

// Errors: kInvalidArgument (options: unknown scenario, parallel out of range), kUnavailable /
// kDatabase / kIo when the server or the work directory cannot be set up. Scenario failures are
// results, not errors.
Result<SimReport> RunSimulator(const SimOptions& options);

// The readable end-of-run summary (several lines).
std::string FormatSummary(const SimReport& report);
// The JSON report (per scenario: name, user, passed, reason, duration_ms, counters; plus totals
// and latencies; the raw latency samples when report.latency_samples_in_json).
std::string ReportJson(const SimReport& report);
// The inverse of ReportJson (what a parent reads from its child processes).
// Errors: kInvalidArgument for text that is not such a report.
Result<SimReport> ParseReportJson(std::string_view text);
// Folds `part` into `total`: results, counts, totals, latency samples (summaries recomputed),
// server answer counts. Wall time, server URL and profile stay `total`'s.
void MergeReport(SimReport& total, SimReport part);

}  // namespace oversync::sim

#endif  // OVERSYNC_SIM_SIMULATOR_H_
