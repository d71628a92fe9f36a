#include "config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace oversync::oversyncd {
namespace {

Result<Config> FromMap(const std::map<std::string, std::string, std::less<>>& env) {
  return ConfigFromEnv([&env](std::string_view name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

TEST(ConfigFromEnvTest, Defaults) {
  Result<Config> config = FromMap({});
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->database_url, "");
  EXPECT_EQ(config->port, 8080);  // server.md A.1
  EXPECT_EQ(config->listen_address, "127.0.0.1");
  EXPECT_EQ(config->jwt_secret, kDefaultJwtSecret);
  EXPECT_TRUE(config->jwt_secret_defaulted);
  EXPECT_EQ(config->pool_max_conns, 50);
  EXPECT_EQ(config->pool_min_conns, 5);
  EXPECT_FALSE(config->log_stage_timings);
  EXPECT_EQ(config->data_dir, ".oversyncd/pg");
  EXPECT_EQ(config->worker_threads, 256);
}

TEST(ConfigFromEnvTest, ReadsEverything) {
  Result<Config> config = FromMap({{"DATABASE_URL", "postgres://u@h/db"},
                                   {"PORT", "9090"},
                                   {"OVERSYNCD_LISTEN_ADDR", "0.0.0.0"},
                                   {"JWT_SECRET", "s3cret"},
                                   {"OVERSYNC_DB_POOL_MAX_CONNS", " 10 "},
                                   {"OVERSYNC_DB_POOL_MIN_CONNS", "0"},
                                   {"OVERSYNC_LOG_STAGE_TIMINGS", " YES "},
                                   {"OVERSYNCD_DATA_DIR", "/var/lib/oversyncd"},
                                   {"OVERSYNCD_WORKER_THREADS", " 32 "}});
  ASSERT_TRUE(config.has_value()) << config.error().ToString();
  EXPECT_EQ(config->database_url, "postgres://u@h/db");
  EXPECT_EQ(config->port, 9090);
  EXPECT_EQ(config->listen_address, "0.0.0.0");
  EXPECT_EQ(config->jwt_secret, "s3cret");
  EXPECT_FALSE(config->jwt_secret_defaulted);
  EXPECT_EQ(config->pool_max_conns, 10);
  EXPECT_EQ(config->pool_min_conns, 0);
  EXPECT_TRUE(config->log_stage_timings);
  EXPECT_EQ(config->data_dir, "/var/lib/oversyncd");
  EXPECT_EQ(config->worker_threads, 32);
}

TEST(ConfigFromEnvTest, RejectsBadWorkerThreads) {
  for (const char* bad : {"0", "-1", "4097", "many"}) {
    Result<Config> config = FromMap({{"OVERSYNCD_WORKER_THREADS", bad}});
    ASSERT_FALSE(config.has_value()) << bad;
    EXPECT_EQ(config.error().message(),
              "OVERSYNCD_WORKER_THREADS must be an integer between 1 and 4096");
  }
}

// docs/wire-profiles.md: the root profile and the base path of the other one.
TEST(ConfigFromEnvTest, WireProfiles) {
  Result<Config> defaults = FromMap({});
  ASSERT_TRUE(defaults.has_value());
  EXPECT_EQ(defaults->wire_profile, "jcs_uniform_numeric_strings_v1");
  EXPECT_EQ(defaults->second_profile_path, "/go_canonical_v1");
  Result<Config> root_a = FromMap({{"OVERSYNCD_WIRE_PROFILE", "go_canonical_v1"}});
  ASSERT_TRUE(root_a.has_value());
  EXPECT_EQ(root_a->second_profile_path, "/jcs_uniform_numeric_strings_v1");
  EXPECT_EQ(SecondMountPoolSize(*defaults), 10);  // 50 + 10 within PostgreSQL's 100
  Result<Config> small_pool =
      FromMap({{"OVERSYNC_DB_POOL_MAX_CONNS", "8"}, {"OVERSYNC_DB_POOL_MIN_CONNS", "1"}});
  ASSERT_TRUE(small_pool.has_value()) << small_pool.error().ToString();
  EXPECT_EQ(SecondMountPoolSize(*small_pool), 2);  // 8 / 5 = 1, but at least 2
  Result<Config> only_root = FromMap({{"OVERSYNCD_SECOND_PROFILE_PATH", " off "}});
  ASSERT_TRUE(only_root.has_value());
  EXPECT_EQ(only_root->second_profile_path, "");
  Result<Config> both = FromMap({{"OVERSYNCD_WIRE_PROFILE", " jcs_uniform_numeric_strings_v1 "},
                                 {"OVERSYNCD_SECOND_PROFILE_PATH", "/legacy-v1"}});
  ASSERT_TRUE(both.has_value()) << both.error().ToString();
  EXPECT_EQ(both->wire_profile, "jcs_uniform_numeric_strings_v1");
  EXPECT_EQ(both->second_profile_path, "/legacy-v1");
  EXPECT_FALSE(FromMap({{"OVERSYNCD_WIRE_PROFILE", "v2"}}).has_value());
  for (const char* bad : {"legacy", "/", "/a/", "//a", "/sync", "/test", "/a b", "/a?b"}) {
    EXPECT_FALSE(FromMap({{"OVERSYNCD_SECOND_PROFILE_PATH", bad}}).has_value()) << bad;
  }
}

TEST(ConfigFromEnvTest, EmptyValuesMeanDefault) {
  Result<Config> config = FromMap({{"DATABASE_URL", ""},
                                   {"PORT", ""},
                                   {"JWT_SECRET", ""},
                                   {"OVERSYNC_DB_POOL_MAX_CONNS", "  "}});
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->port, 8080);
  EXPECT_TRUE(config->jwt_secret_defaulted);
  EXPECT_EQ(config->pool_max_conns, 50);
}

TEST(ConfigFromEnvTest, StageTimingsFlag) {
  for (const char* on : {"1", "true", "TRUE", "yes", " Yes "}) {
    EXPECT_TRUE(FromMap({{"OVERSYNC_LOG_STAGE_TIMINGS", on}})->log_stage_timings) << on;
  }
  for (const char* off : {"0", "false", "on", "y", ""}) {
    EXPECT_FALSE(FromMap({{"OVERSYNC_LOG_STAGE_TIMINGS", off}})->log_stage_timings) << off;
  }
}

TEST(ConfigFromEnvTest, PortZeroPicksAFreePort) {
  Result<Config> config = FromMap({{"PORT", "0"}});
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->port, 0);
}

TEST(ConfigFromEnvTest, RejectsBadValuesWithGoMessages) {
  const auto message = [](const std::map<std::string, std::string, std::less<>>& env) {
    Result<Config> config = FromMap(env);
    EXPECT_FALSE(config.has_value());
    return config.has_value() ? std::string() : config.error().message();
  };
  EXPECT_EQ(message({{"OVERSYNC_DB_POOL_MAX_CONNS", "0"}}),
            "OVERSYNC_DB_POOL_MAX_CONNS must be a positive integer");
  EXPECT_EQ(message({{"OVERSYNC_DB_POOL_MAX_CONNS", "ten"}}),
            "OVERSYNC_DB_POOL_MAX_CONNS must be a positive integer");
  EXPECT_EQ(message({{"OVERSYNC_DB_POOL_MIN_CONNS", "-1"}}),
            "OVERSYNC_DB_POOL_MIN_CONNS must be a non-negative integer");
  EXPECT_EQ(message({{"OVERSYNC_DB_POOL_MAX_CONNS", "3"}, {"OVERSYNC_DB_POOL_MIN_CONNS", "4"}}),
            "OVERSYNC_DB_POOL_MIN_CONNS cannot exceed OVERSYNC_DB_POOL_MAX_CONNS");
  EXPECT_EQ(message({{"PORT", "65536"}}), "PORT must be an integer between 0 and 65535");
  EXPECT_EQ(message({{"PORT", "80a"}}), "PORT must be an integer between 0 and 65535");
}

}  // namespace
}  // namespace oversync::oversyncd
