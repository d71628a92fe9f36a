// The simulator's scenario sets (`all`, then `watch-all`) against the in-process reference
// server (a fresh database on OVERSYNC_TEST_DSN's PostgreSQL), two users in parallel: every
// scenario must pass. (What .ci/run runs of the simulator; the soak is scripts/soak.sh.)
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "simulator.h"

namespace oversync::sim {
namespace {

void RunSetWithTwoParallelUsers(const char* set, std::size_t expected_runs) {
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

}  // namespace
}  // namespace oversync::sim
