// The simulator's scenario sets (`all`, then `watch-all`) against the in-process reference
// server (a fresh database on OVERSYNC_TEST_DSN's PostgreSQL), two users in parallel: every
// scenario must pass. (What .ci/run runs of the simulator; the soak is scripts/soak.sh.)
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "shards.h"
#include "simulator.h"

namespace oversync::sim {
namespace {

void RunSetWithTwoParallelUsers(const char* set, std::size_t expected_runs, int processes = 1,
                                const char* wire_profile = "jcs_uniform_numeric_strings_v1") {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts
  const char* dsn = std::getenv("OVERSYNC_TEST_DSN");
  if (dsn == nullptr || *dsn == '\0') {
    // NOLINTNEXTLINE(concurrency-mt-unsafe)
    if (std::getenv("CI") != nullptr) FAIL() << "OVERSYNC_TEST_DSN is not set";
    GTEST_SKIP() << "OVERSYNC_TEST_DSN is not set";
  }
  SimOptions options;
  options.database_url = dsn;
  options.scenario = set;
  options.parallel = 2;
  options.processes = processes;
  options.wire_profile = wire_profile;
  options.executable = OVERSYNC_SIM_PATH;
  options.progress = [](std::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  };
  Result<SimReport> report = RunSimulator(options);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  for (const ScenarioResult& result : report->results) {
    EXPECT_TRUE(result.passed) << result.name << " (" << result.user << "): " << result.reason;
  }
  EXPECT_EQ(report->results.size(), expected_runs);
  EXPECT_EQ(report->failed, 0);
  EXPECT_EQ(report->passed, static_cast<int>(report->results.size()));
  EXPECT_GT(report->passed, 0);
  EXPECT_TRUE(report->verified_in_postgres);
  EXPECT_EQ(report->server_5xx, 0);
  EXPECT_GT(report->totals["rows_pushed"], 0);
  EXPECT_GT(report->latencies["push"].count, 0U);
  // In-process server: nothing is skipped.
  EXPECT_EQ(report->totals["skipped"], 0);
  EXPECT_EQ(report->totals["prune_skipped"], 0);
  EXPECT_EQ(report->totals["subscriber_checks_skipped"], 0);
  // The summary and the JSON report render.
  EXPECT_NE(FormatSummary(*report).find("ALL PASSED"), std::string::npos);
  EXPECT_NE(ReportJson(*report).find("\"scenarios\":["), std::string::npos);
}

TEST(SimulatorTest, AllScenariosPassWithTwoParallelUsers) {
  RunSetWithTwoParallelUsers("all", 13 * 2);
}

TEST(SimulatorTest, WatchScenariosPassWithTwoParallelUsers) {
  RunSetWithTwoParallelUsers("watch-all", 7 * 2);
}

// --processes: the users run in child processes (oversync-sim with --server against this
// process's server); their reports are merged, and the server-originated write of
// watch-server-originated runs through a child's own runtime on the shared database.
TEST(SimulatorTest, ScenarioSetsPassSpreadOverTwoProcesses) {
  RunSetWithTwoParallelUsers("watch-all", 7 * 2, 2);
}

// The same set with go-oversync 1f1118f's contract on both sides (oversync-sim --wire-profile
// go_canonical_v1; the demo runs it against oversyncd's /go_canonical_v1 mount).
TEST(SimulatorTest, AllScenariosPassWithGoCanonicalV1Devices) {
  RunSetWithTwoParallelUsers("all", 13 * 2, 1, "go_canonical_v1");
}

// A child that cannot be started, or that ends without a report, is a failed "process" result
// for its share (the run fails visibly instead of losing users).
TEST(SimulatorShardsTest, AChildWithoutAReportIsAFailedResult) {
  const std::filesystem::path workdir =
      std::filesystem::temp_directory_path() / fmt::format("sim-shards-{}", ::getpid());
  for (const char* executable : {"/bin/false", "/nonexistent/oversync-sim"}) {
    ShardPlan plan;
    plan.executable = executable;
    plan.server_url = "http://127.0.0.1:1";
    plan.jwt_secret = "s";
    plan.wire_profile = "jcs_uniform_numeric_strings_v1";
    plan.scenario = "all";
    plan.run_id = "r";
    plan.users = 3;
    plan.processes = 2;
    plan.workdir = workdir;
    std::vector<SimReport> parts = RunShards(plan, [](std::string_view) {});
    ASSERT_EQ(parts.size(), 2U) << executable;
    SimReport total;
    for (SimReport& part : parts) MergeReport(total, std::move(part));
    EXPECT_EQ(total.failed, 2) << executable;
    EXPECT_EQ(total.passed, 0) << executable;
    ASSERT_EQ(total.results.size(), 2U);
    EXPECT_EQ(total.results[0].name, "process");
    EXPECT_FALSE(total.results[0].reason.empty());
  }
  std::filesystem::remove_all(workdir);
}

TEST(SimulatorShardsTest, SharesAreContiguousAndCoverEveryUser) {
  int next = 0;
  for (int child = 0; child < 3; ++child) {
    const ShardShare share = ShareOf(500, 3, child);
    EXPECT_EQ(share.first_user, next);
    EXPECT_TRUE(share.users == 166 || share.users == 167);
    next += share.users;
  }
  EXPECT_EQ(next, 500);
  EXPECT_EQ(ShareOf(2, 2, 1).first_user, 1);
  EXPECT_EQ(ShareOf(2, 2, 1).users, 1);
}

// What a parent reads back is what the child wrote: results, totals, raw latency samples.
TEST(SimulatorShardsTest, ReportJsonRoundTripsAndMerges) {
  SimReport child;
  child.server_url = "http://127.0.0.1:1";
  child.wire_profile = "jcs_uniform_numeric_strings_v1";
  child.verified_in_postgres = true;
  child.wall_ms = 12.5;
  ScenarioResult ok{"fresh-install", "u0", true, "", 3.25, {{"rows_pushed", 7}}};
  ScenarioResult bad{"conflicts", "u1", false, "server: \"x\" differs", 1.0, {{"rows_pushed", 2}}};
  child.results = {ok, bad};
  child.passed = 1;
  child.failed = 1;
  child.totals = {{"rows_pushed", 9}};
  child.latency_samples_ms["push"] = {1.5, 0.1, 30.25};
  child.latencies["push"] = SummarizeSamples(child.latency_samples_ms["push"]);
  child.latency_samples_in_json = true;
  Result<SimReport> parsed = ParseReportJson(ReportJson(child));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(parsed->wire_profile, child.wire_profile);
  ASSERT_EQ(parsed->results.size(), 2U);
  EXPECT_EQ(parsed->results[1].reason, bad.reason);
  EXPECT_EQ(parsed->results[0].counters.at("rows_pushed"), 7);
  EXPECT_EQ(parsed->passed, 1);
  EXPECT_EQ(parsed->failed, 1);
  EXPECT_EQ(parsed->totals.at("rows_pushed"), 9);
  EXPECT_EQ(parsed->latency_samples_ms.at("push"), child.latency_samples_ms.at("push"));

  SimReport total;
  MergeReport(total, *parsed);
  MergeReport(total, *parsed);
  EXPECT_EQ(total.passed, 2);
  EXPECT_EQ(total.failed, 2);
  EXPECT_EQ(total.totals.at("rows_pushed"), 18);
  EXPECT_EQ(total.latencies.at("push").count, 6U);
  EXPECT_EQ(total.latencies.at("push").max_ms, 30.25);
  EXPECT_FALSE(ParseReportJson("{}").has_value());
  EXPECT_FALSE(ParseReportJson("[1]").has_value());
}

}  // namespace
}  // namespace oversync::sim
