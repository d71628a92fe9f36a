#include "simulator.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "config.h"
#include "device.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/server/runtime_service.h"
#include "scenario.h"
#include "shards.h"
#include "sim_server.h"

namespace oversync::sim {
namespace {

constexpr int kMaxParallel = 500;
constexpr int kMaxProcesses = 64;

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// A temporary work directory removed on destruction (unless it was given by the caller).
class WorkDir {
 public:
  static Result<WorkDir> Make(const std::filesystem::path& given) {
    WorkDir dir;
    if (!given.empty()) {
      std::error_code error;
      std::filesystem::create_directories(given, error);
      if (error) {
        return Error(ErrorCode::kIo,
                     fmt::format("workdir {}: {}", given.string(), error.message()));
      }
      dir.path_ = std::filesystem::absolute(given);
      return dir;
    }
    std::string pattern = (std::filesystem::temp_directory_path() / "oversync-sim.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return Error(ErrorCode::kIo, "cannot create a temporary work directory");
    }
    // The private PostgreSQL cluster may run as the `postgres` user, which must reach its data
    // directory inside.
    ::chmod(pattern.c_str(), 0755);
    dir.path_ = pattern;
    dir.remove_ = true;
    return dir;
  }
  WorkDir() = default;
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  WorkDir(WorkDir&& other) noexcept
      : path_(std::move(other.path_)), remove_(std::exchange(other.remove_, false)) {}
  WorkDir& operator=(WorkDir&&) = delete;
  ~WorkDir() {
    if (remove_) {
      std::error_code error;
      std::filesystem::remove_all(path_, error);
    }
  }
  const std::filesystem::path& path() const noexcept { return path_; }
  bool temporary() const noexcept { return remove_; }

 private:
  std::filesystem::path path_;
  bool remove_ = false;
};

std::string DefaultRunId() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return fmt::format(
      "{:x}{:04x}",
      std::chrono::duration_cast<std::chrono::milliseconds>(now).count() % 0xffffffffLL,
      static_cast<unsigned>(::getpid()) & 0xffffU);
}

}  // namespace

Result<SimReport> RunSimulator(const SimOptions& options) {
  if (options.parallel < 1 || options.parallel > kMaxParallel) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("--parallel must be 1..{} (got {})", kMaxParallel, options.parallel));
  }
  if (options.wire_profile != "jcs_uniform_numeric_strings_v1" &&
      options.wire_profile != "go_canonical_v1") {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("--wire-profile must be jcs_uniform_numeric_strings_v1 or "
                             "go_canonical_v1 (got {:?})",
                             options.wire_profile));
  }
  if (options.processes < 1 || options.processes > kMaxProcesses ||
      options.processes > options.parallel) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("--processes must be 1..{} and at most --parallel (got {})",
                             kMaxProcesses, options.processes));
  }
  OVERSYNC_ASSIGN_OR_RETURN(std::vector<const ScenarioDef*> selected,
                            SelectScenarios(options.scenario));
  std::mutex out_mu;
  const auto emit = [&options, &out_mu](std::string_view line) {
    if (!options.progress) return;
    const std::lock_guard<std::mutex> lock(out_mu);
    if (options.progress_prefix.empty()) {
      options.progress(line);
    } else {
      options.progress(options.progress_prefix + std::string(line));
    }
  };
  OVERSYNC_ASSIGN_OR_RETURN(WorkDir workdir, WorkDir::Make(options.workdir));
  const std::string run_id = options.run_id.empty() ? DefaultRunId() : options.run_id;
  const std::string secret =
      options.jwt_secret.empty() ? std::string(oversyncd::kDefaultJwtSecret) : options.jwt_secret;

  SimReport report;
  std::unique_ptr<SimServer> server;
  std::string verify_dsn;
  if (options.server_url.empty()) {
    SimServerOptions server_options;
    server_options.admin_dsn = options.database_url;
    server_options.local_pg_dir = workdir.path() / "pg";
    server_options.jwt_secret = secret;
    server_options.wire_profile = options.wire_profile;
    server_options.max_connections = std::clamp(options.parallel * 2, 16, 64);
    // Every open watch stream holds a handler thread: watch-many-clients-converge keeps 8 per
    // user open at once.
    const bool watching = std::any_of(selected.begin(), selected.end(),
                                      [](const ScenarioDef* def) { return def->watch; });
    server_options.worker_threads = watching ? std::min(options.parallel * 10 + 16, 4096)
                                             : std::clamp(options.parallel * 2, 8, 64);
    emit(options.database_url.empty()
             ? "starting the reference server on a private PostgreSQL cluster..."
             : "starting the reference server on a fresh database...");
    OVERSYNC_ASSIGN_OR_RETURN(server, SimServer::Start(std::move(server_options)));
    report.server_url = server->base_url();
    verify_dsn = server->dsn();
  } else {
    report.server_url = options.server_url;
    while (!report.server_url.empty() && report.server_url.back() == '/') {
      report.server_url.pop_back();
    }
    verify_dsn = options.database_url;
  }
  report.verified_in_postgres = !verify_dsn.empty();
  // Against an external server with its database: a runtime of our own over that database
  // performs the server-originated writes and retention passes the scenarios need (like a second
  // server process sharing the database); without it those steps are skipped.
  std::unique_ptr<RuntimeService> side_runtime;
  if (server == nullptr && !verify_dsn.empty() && options.processes == 1) {
    Result<std::unique_ptr<RuntimeService>> started = StartSideRuntime(verify_dsn, options.wire_profile);
    if (started.has_value()) {
      side_runtime = std::move(*started);
    } else {
      emit(fmt::format("note: no local runtime on the server's database ({}); server-originated "
                       "writes and forced retention passes are skipped",
                       started.error().message()));
    }
  }
  // One bounded pool for every worker: 500 users must not open 500 verification connections.
  std::shared_ptr<PgPool> verify_pool =
      verify_dsn.empty() ? nullptr : std::make_shared<PgPool>(verify_dsn, 16);

  const TokenMinter minter(secret);
  LatencyRecorder latencies;
  DeviceEnv env;
  env.base_url = report.server_url;
  env.wire_profile = options.wire_profile;
  report.wire_profile = options.wire_profile;
  env.mint_token = [&minter](std::string_view user) { return minter.TokenFor(user); };
  env.latencies = &latencies;
  env.watch_converge_within =
      WatchConvergeDeadline(options.total_users > 0 ? options.total_users : options.parallel);
  if (options.verbose) env.client_logger = std::make_shared<StderrLogger>(LogLevel::kInfo);

  const std::size_t total = selected.size() * static_cast<std::size_t>(options.parallel);
  emit(fmt::format("server {} ({}) | {} scenario(s) x {} user(s) = {} runs | verification: {}",
                   report.server_url, options.wire_profile, selected.size(), options.parallel, total,
                   report.verified_in_postgres ? "devices + PostgreSQL" : "devices only"));

  std::mutex results_mu;
  std::vector<ScenarioResult> results;
  std::atomic<std::size_t> done{0};
  RuntimeService* service = server != nullptr ? &server->service() : side_runtime.get();
  const auto started = std::chrono::steady_clock::now();

  const auto worker = [&](int index) {
    for (const ScenarioDef* def : selected) {
      ScenarioResult result;
      result.name = std::string(def->name);
      const int user_index = options.first_user + index;
      result.user = fmt::format("sim-{}-u{}-{}", run_id, user_index, def->name);
      const std::filesystem::path dir =
          workdir.path() / "devices" / fmt::format("u{}", user_index) / std::string(def->name);
      const auto scenario_start = std::chrono::steady_clock::now();
      Status status;
      {
        std::function<void(std::string_view)> log;
        if (options.verbose) log = emit;
        ScenarioContext ctx(env, result.user, dir, verify_pool, service, log);
        try {
          status = def->run(ctx);
        } catch (const std::exception& e) {
          status = Status(ErrorCode::kInternal, fmt::format("exception: {}", e.what()));
        } catch (...) {
          status = Status(ErrorCode::kInternal, "unknown exception");
        }
        result.counters = ctx.Finish();
      }
      result.duration_ms = MillisSince(scenario_start);
      result.passed = status.ok();
      if (!status.ok()) result.reason = status.message();
      if (workdir.temporary() || options.discard_device_files) {
        std::error_code error;
        std::filesystem::remove_all(dir, error);
      }
      const std::size_t n = done.fetch_add(1) + 1;
      emit(fmt::format("[{:>{}}/{}] {} {:<33} {:<40} {:8.1f} ms{}{}", n,
                       fmt::formatted_size("{}", total), total, result.passed ? "PASS" : "FAIL",
                       result.name, result.user, result.duration_ms, result.passed ? "" : " — ",
                       result.reason));
      const std::lock_guard<std::mutex> lock(results_mu);
      results.push_back(std::move(result));
    }
  };
  if (options.processes > 1) {
    ShardPlan plan;
    plan.executable = options.executable.empty() ? std::filesystem::path("/proc/self/exe")
                                                 : options.executable;
    plan.server_url = report.server_url;
    plan.database_url = verify_dsn;
    plan.jwt_secret = secret;
    plan.wire_profile = options.wire_profile;
    plan.scenario = options.scenario;
    plan.run_id = run_id;
    plan.users = options.parallel;
    plan.processes = options.processes;
    plan.workdir = workdir.path() / "processes";
    plan.discard_device_files = workdir.temporary() || options.discard_device_files;
    plan.verbose = options.verbose;
    emit(fmt::format("spreading {} users over {} simulator processes", options.parallel,
                     options.processes));
    std::vector<SimReport> parts = RunShards(plan, emit);
    report.wall_ms = MillisSince(started);
    SimReport merged;
    for (SimReport& part : parts) MergeReport(merged, std::move(part));
    results = std::move(merged.results);  // counted below like this process's own results
    report.latency_samples_ms = std::move(merged.latency_samples_ms);
  } else {
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(options.parallel));
    for (int i = 0; i < options.parallel; ++i) threads.emplace_back(worker, i);
    for (std::thread& thread : threads) thread.join();
  }
  if (report.wall_ms == 0) report.wall_ms = MillisSince(started);

  std::sort(results.begin(), results.end(), [](const ScenarioResult& a, const ScenarioResult& b) {
    return std::tie(a.name, a.user) < std::tie(b.name, b.user);
  });
  for (const ScenarioResult& result : results) {
    (result.passed ? report.passed : report.failed) += 1;
    for (const auto& [name, value] : result.counters) report.totals[name] += value;
  }
  report.results = std::move(results);
  for (Op op : {Op::kPush, Op::kPull, Op::kSnapshot, Op::kAttach}) {
    std::vector<double>& samples = report.latency_samples_ms[std::string(OpName(op))];
    const std::vector<double> mine = latencies.Samples(op);
    samples.insert(samples.end(), mine.begin(), mine.end());
    report.latencies[std::string(OpName(op))] = SummarizeSamples(samples);
  }
  report.latency_samples_in_json = options.latency_samples_in_json;
  if (side_runtime != nullptr) side_runtime->Shutdown();
  if (server != nullptr) {
    report.server_requests = server->counters().requests.load();
    report.server_4xx = server->counters().client_errors.load();
    report.server_5xx = server->counters().server_errors.load();
    if (Status stopped = server->Stop(); !stopped.ok()) {
      emit(fmt::format("warning: server cleanup: {}", stopped.ToString()));
    }
  }
  return report;
}

std::string FormatSummary(const SimReport& report) {
  const auto total = [&report](const char* name) -> std::int64_t {
    const auto it = report.totals.find(name);
    return it == report.totals.end() ? 0 : it->second;
  };
  const double seconds = std::max(report.wall_ms / 1000.0, 1e-9);
  std::string out;
  out += "\n==================== oversync-sim summary ====================\n";
  out += fmt::format("server       {} (wire profile {})\n", report.server_url, report.wire_profile);
  out +=
      fmt::format("verified     on the devices{}\n",
                  report.verified_in_postgres ? " and in PostgreSQL" : " only (no database url)");
  out += fmt::format("scenarios    {} run: {} passed, {} failed in {:.1f} s\n",
                     report.passed + report.failed, report.passed, report.failed, seconds);
  out += fmt::format(
      "synced       {} rows pushed in {} bundles; {} rows pulled ({} bundles, {} "
      "snapshot chunks)\n",
      total("rows_pushed"), total("bundles_pushed"), total("rows_pulled"), total("bundles_pulled"),
      total("snapshot_chunks"));
  out += fmt::format(
      "throughput   {:.1f} rows/s pushed, {:.1f} rows/s pulled, {:.1f} requests/s, "
      "{:.2f} scenarios/s\n",
      static_cast<double>(total("rows_pushed")) / seconds,
      static_cast<double>(total("rows_pulled")) / seconds,
      static_cast<double>(total("requests")) / seconds, (report.passed + report.failed) / seconds);
  out += fmt::format("latency (ms) {:<9} {:>7} {:>9} {:>9} {:>9} {:>9}\n", "", "count", "p50",
                     "p95", "p99", "max");
  for (const char* op : {"push", "pull", "snapshot", "attach"}) {
    const auto it = report.latencies.find(op);
    if (it == report.latencies.end()) continue;
    const LatencySummary& s = it->second;
    out += fmt::format("             {:<9} {:>7} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f}\n", op,
                       s.count, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms);
  }
  out += fmt::format(
      "errors       clients saw {} HTTP error answers and {} transport failures "
      "(offline periods included)\n",
      total("http_errors"), total("transport_errors"));
  if (report.server_requests > 0) {
    out += fmt::format(
        "             server answered {} requests: {} 4xx (conflicts, expected "
        "rejections), {} 5xx\n",
        report.server_requests, report.server_4xx, report.server_5xx);
  }
  {
    // Steps an external server cannot support pass with a note (--verbose shows it).
    std::map<std::string, int> skipped;
    for (const ScenarioResult& result : report.results) {
      for (const char* counter : {"skipped", "prune_skipped", "subscriber_checks_skipped"}) {
        const auto it = result.counters.find(counter);
        if (it != result.counters.end() && it->second > 0) {
          skipped[result.name + (std::string_view(counter) == "skipped" ? " (whole scenario)"
                                 : std::string_view(counter) == "prune_skipped"
                                     ? " (forced prune step)"
                                     : " (subscriber counts)")] += 1;
        }
      }
    }
    for (const auto& [what, runs] : skipped) {
      out += fmt::format("skipped      {} in {} run(s): not possible against this server "
                         "(needs the in-process server or its test endpoints)\n",
                         what, runs);
    }
  }
  for (const ScenarioResult& result : report.results) {
    if (!result.passed) {
      out += fmt::format("FAILED       {} ({}): {}\n", result.name, result.user, result.reason);
    }
  }
  out += fmt::format("result       {}\n", report.AllPassed() ? "ALL PASSED" : "FAILED");
  return out;
}

std::string ReportJson(const SimReport& report) {
  std::string out;
  protocol::JsonWriter w(out);
  w.BeginObject();
  w.Member("server_url", std::string_view(report.server_url));
  w.Member("wire_profile", std::string_view(report.wire_profile));
  w.Member("verified_in_postgres", report.verified_in_postgres);
  w.Member("passed", std::int64_t{report.passed});
  w.Member("failed", std::int64_t{report.failed});
  w.Key("wall_ms");
  w.Double(report.wall_ms);
  w.Key("scenarios");
  w.BeginArray();
  for (const ScenarioResult& result : report.results) {
    w.BeginObject();
    w.Member("name", std::string_view(result.name));
    w.Member("user", std::string_view(result.user));
    w.Member("passed", result.passed);
    w.Member("reason", std::string_view(result.reason));
    w.Key("duration_ms");
    w.Double(result.duration_ms);
    w.Key("counters");
    w.BeginObject();
    for (const auto& [name, value] : result.counters) w.Member(name, value);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.Key("totals");
  w.BeginObject();
  for (const auto& [name, value] : report.totals) w.Member(name, value);
  w.EndObject();
  w.Key("latency_ms");
  w.BeginObject();
  for (const auto& [op, s] : report.latencies) {
    w.Key(op);
    w.BeginObject();
    w.Member("count", static_cast<std::int64_t>(s.count));
    w.Key("p50");
    w.Double(s.p50_ms);
    w.Key("p95");
    w.Double(s.p95_ms);
    w.Key("p99");
    w.Double(s.p99_ms);
    w.Key("max");
    w.Double(s.max_ms);
    w.EndObject();
  }
  w.EndObject();
  w.Key("server");
  w.BeginObject();
  w.Member("requests", report.server_requests);
  w.Member("answers_4xx", report.server_4xx);
  w.Member("answers_5xx", report.server_5xx);
  w.EndObject();
  if (report.latency_samples_in_json) {
    w.Key("latency_samples_ms");
    w.BeginObject();
    for (const auto& [op, samples] : report.latency_samples_ms) {
      w.Key(op);
      w.BeginArray();
      for (const double sample : samples) w.Double(sample);
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndObject();
  out.push_back('\n');
  return out;
}

namespace {

Status NotAReport(std::string_view what) {
  return Status(ErrorCode::kInvalidArgument, fmt::format("not a simulator report: {}", what));
}

Result<const protocol::JsonValue*> Member(const protocol::JsonValue& object, std::string_view key,
                                          protocol::JsonValue::Kind kind) {
  const protocol::JsonValue* value = object.Find(key);
  if (value == nullptr || value->kind() != kind) {
    return Error(NotAReport(fmt::format("member {:?} is missing or has the wrong type", key)));
  }
  return value;
}

Result<std::int64_t> IntegerOf(const protocol::JsonValue& value, std::string_view what) {
  if (!value.is_number() || !value.as_number().IsIntegerLexeme()) {
    return Error(NotAReport(fmt::format("{} is not an integer", what)));
  }
  return static_cast<std::int64_t>(value.as_number().value);
}

}  // namespace

Result<SimReport> ParseReportJson(std::string_view text) {
  using Kind = protocol::JsonValue::Kind;
  OVERSYNC_ASSIGN_OR_RETURN(protocol::JsonValue root, protocol::ParseJson(text));
  if (!root.is_object()) return Error(NotAReport("not an object"));
  SimReport report;
  OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* url, Member(root, "server_url", Kind::kString));
  report.server_url = url->as_string();
  if (const protocol::JsonValue* profile = root.Find("wire_profile"); profile != nullptr && profile->is_string()) {
    report.wire_profile = profile->as_string();
  }
  OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* verified,
                            Member(root, "verified_in_postgres", Kind::kBool));
  report.verified_in_postgres = verified->as_bool();
  OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* wall, Member(root, "wall_ms", Kind::kNumber));
  report.wall_ms = wall->as_number().value;
  OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* scenarios, Member(root, "scenarios", Kind::kArray));
  for (const protocol::JsonValue& item : scenarios->as_array()) {
    if (!item.is_object()) return Error(NotAReport("a scenario is not an object"));
    ScenarioResult result;
    OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* name, Member(item, "name", Kind::kString));
    OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* user, Member(item, "user", Kind::kString));
    OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* passed, Member(item, "passed", Kind::kBool));
    OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* reason, Member(item, "reason", Kind::kString));
    OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* duration,
                              Member(item, "duration_ms", Kind::kNumber));
    OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* counters,
                              Member(item, "counters", Kind::kObject));
    result.name = name->as_string();
    result.user = user->as_string();
    result.passed = passed->as_bool();
    result.reason = reason->as_string();
    result.duration_ms = duration->as_number().value;
    for (const protocol::JsonMember& counter : counters->as_object()) {
      OVERSYNC_ASSIGN_OR_RETURN(result.counters[counter.key], IntegerOf(counter.value, counter.key));
    }
    (result.passed ? report.passed : report.failed) += 1;
    for (const auto& [counter, value] : result.counters) report.totals[counter] += value;
    report.results.push_back(std::move(result));
  }
  OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* server, Member(root, "server", Kind::kObject));
  OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* requests, Member(*server, "requests", Kind::kNumber));
  OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* a4xx, Member(*server, "answers_4xx", Kind::kNumber));
  OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* a5xx, Member(*server, "answers_5xx", Kind::kNumber));
  OVERSYNC_ASSIGN_OR_RETURN(report.server_requests, IntegerOf(*requests, "server.requests"));
  OVERSYNC_ASSIGN_OR_RETURN(report.server_4xx, IntegerOf(*a4xx, "server.answers_4xx"));
  OVERSYNC_ASSIGN_OR_RETURN(report.server_5xx, IntegerOf(*a5xx, "server.answers_5xx"));
  if (const protocol::JsonValue* samples = root.Find("latency_samples_ms"); samples != nullptr) {
    if (!samples->is_object()) return Error(NotAReport("latency_samples_ms is not an object"));
    report.latency_samples_in_json = true;
    for (const protocol::JsonMember& op : samples->as_object()) {
      if (!op.value.is_array()) return Error(NotAReport("latency samples are not an array"));
      std::vector<double>& out = report.latency_samples_ms[op.key];
      for (const protocol::JsonValue& sample : op.value.as_array()) {
        if (!sample.is_number()) return Error(NotAReport("a latency sample is not a number"));
        out.push_back(sample.as_number().value);
      }
      report.latencies[op.key] = SummarizeSamples(out);
    }
  } else {
    OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* latencies,
                              Member(root, "latency_ms", Kind::kObject));
    for (const protocol::JsonMember& op : latencies->as_object()) {
      if (!op.value.is_object()) return Error(NotAReport("a latency summary is not an object"));
      LatencySummary summary;
      OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* count, Member(op.value, "count", Kind::kNumber));
      OVERSYNC_ASSIGN_OR_RETURN(std::int64_t n, IntegerOf(*count, "latency count"));
      summary.count = static_cast<std::size_t>(n);
      for (const auto& [key, field] : {std::pair{"p50", &LatencySummary::p50_ms},
                                       std::pair{"p95", &LatencySummary::p95_ms},
                                       std::pair{"p99", &LatencySummary::p99_ms},
                                       std::pair{"max", &LatencySummary::max_ms}}) {
        OVERSYNC_ASSIGN_OR_RETURN(const protocol::JsonValue* v, Member(op.value, key, Kind::kNumber));
        summary.*field = v->as_number().value;
      }
      report.latencies[op.key] = summary;
    }
  }
  return report;
}

void MergeReport(SimReport& total, SimReport part) {
  total.passed += part.passed;
  total.failed += part.failed;
  for (const auto& [name, value] : part.totals) total.totals[name] += value;
  for (ScenarioResult& result : part.results) total.results.push_back(std::move(result));
  for (auto& [op, samples] : part.latency_samples_ms) {
    std::vector<double>& merged = total.latency_samples_ms[op];
    merged.insert(merged.end(), samples.begin(), samples.end());
    total.latencies[op] = SummarizeSamples(merged);
  }
  total.server_requests += part.server_requests;
  total.server_4xx += part.server_4xx;
  total.server_5xx += part.server_5xx;
  total.verified_in_postgres = total.verified_in_postgres || part.verified_in_postgres;
}

}  // namespace oversync::sim
