#include "status_body.h"

#include <gtest/gtest.h>

#include <simdjson.h>

#include <array>
#include <string>
#include <string_view>

namespace oversync::oversyncd {
namespace {

// Every int64 aggregate of StatusResponse (protocol.md §3.13), in Go's field order.
constexpr std::array<std::string_view, 11> kCounters = {"user_state_retention_floor_ahead_count",
                                                        "latest_bundle_seq_max",
                                                        "retained_bundle_floor_min",
                                                        "retained_bundle_floor_max",
                                                        "retained_bundle_window_min",
                                                        "retained_bundle_window_max",
                                                        "history_pruned_error_count",
                                                        "accepted_push_replay_count",
                                                        "rejected_registered_write_count",
                                                        "committed_bundle_count",
                                                        "committed_bundle_bytes"};

TEST(BuildStatusBodyTest, HealthyHasEveryStatusResponseField) {
  const std::string body = BuildStatusBody(true, 3);
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  ASSERT_EQ(parser.parse(body).get(object), simdjson::SUCCESS) << body;

  std::string_view text;
  ASSERT_EQ(object["status"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "healthy");
  ASSERT_EQ(object["version"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "v1");
  ASSERT_EQ(object["app_name"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "nethttp-server-example");
  ASSERT_EQ(object["lifecycle"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "running");
  bool accepting = false;
  ASSERT_EQ(object["accepting_operations"].get(accepting), simdjson::SUCCESS);
  EXPECT_TRUE(accepting);
  int64_t inflight = -1;
  ASSERT_EQ(object["inflight_operations"].get(inflight), simdjson::SUCCESS);
  EXPECT_EQ(inflight, 3);
  simdjson::dom::array tables;
  ASSERT_EQ(object["registered_tables"].get(tables), simdjson::SUCCESS);
  EXPECT_EQ(tables.size(), 0U);  // [] (never null, protocol.md §1.4)
  simdjson::dom::object features;
  ASSERT_EQ(object["features"].get(features), simdjson::SUCCESS);
  EXPECT_EQ(features.size(), 0U);
  for (const std::string_view name : kCounters) {
    int64_t value = -1;
    ASSERT_EQ(object[name].get(value), simdjson::SUCCESS) << name;
    EXPECT_EQ(value, 0) << name;
  }
  EXPECT_EQ(object.size(), 8U + kCounters.size());  // nothing else
}

TEST(BuildStatusBodyTest, FieldOrderFollowsGo) {
  const std::string body = BuildStatusBody(true);
  EXPECT_EQ(body.rfind(R"({"status":"healthy","version":"v1","app_name":"nethttp-server-example",)"
                       R"("lifecycle":"running","accepting_operations":true,)"
                       R"("inflight_operations":0,"registered_tables":[],"features":{},)",
                       0),
            0U)
      << body;
  EXPECT_NE(body.back(), '\n');  // Response::Json adds the newline
}

TEST(BuildStatusBodyTest, Unhealthy) {
  const std::string body = BuildStatusBody(false);
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  ASSERT_EQ(parser.parse(body).get(object), simdjson::SUCCESS) << body;
  std::string_view text;
  ASSERT_EQ(object["status"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "unhealthy");
  ASSERT_EQ(object["lifecycle"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "shutting_down");
  bool accepting = true;
  ASSERT_EQ(object["accepting_operations"].get(accepting), simdjson::SUCCESS);
  EXPECT_FALSE(accepting);
}

}  // namespace
}  // namespace oversync::oversyncd
