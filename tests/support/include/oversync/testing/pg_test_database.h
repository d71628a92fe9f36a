// File: oversync/testing/pg_test_database.h
//
// A fresh PostgreSQL database per test. The admin connection string comes from the environment
// variable OVERSYNC_TEST_DSN (set by scripts/with-postgres.sh and .ci/run). Each PgTestDatabase
// creates `t_<random hex>` from template0 and drops it (WITH (FORCE)) in its destructor, so tests
// never share state and `ctest -j` is safe.
//
// Test-only code: lives under tests/, never linked into the libraries.
#ifndef OVERSYNC_TESTING_PG_TEST_DATABASE_H_
#define OVERSYNC_TESTING_PG_TEST_DATABASE_H_

#include <memory>
#include <optional>
#include <cstdlib>
#include <string>
#include <utility>

#include "oversync/common/status.h"

namespace oversync::testing {

class PgTestDatabase {
 public:
  // Errors: kUnavailable when OVERSYNC_TEST_DSN is unset, kDatabase when creation fails.
  static Result<std::unique_ptr<PgTestDatabase>> Create();
  ~PgTestDatabase();
  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;

  const std::string& name() const noexcept { return name_; }
  // libpq keyword/value connection string for this database.
  const std::string& dsn() const noexcept { return dsn_; }

  // Runs one statement; returns the first column of the first row as text (or "" for none).
  Result<std::string> QueryScalar(const std::string& sql) const;

  // Adopts an already created database; Create() is the way to get one.
  PgTestDatabase(std::string admin_dsn, std::string name, std::string dsn)
      : admin_dsn_(std::move(admin_dsn)), name_(std::move(name)), dsn_(std::move(dsn)) {}

 private:
  std::string admin_dsn_;
  std::string name_;
  std::string dsn_;
};

// Use at the top of a pg test body: skips when no PostgreSQL is configured, except under CI
// (env CI set), where a missing cluster fails the test so CI can never go green by skipping.
#define OVERSYNC_PG_TEST_DATABASE(var)                                                    \
  auto var##_result = ::oversync::testing::PgTestDatabase::Create();                     \
  if (!var##_result) {                                                                    \
    if (var##_result.error().code() == ::oversync::ErrorCode::kUnavailable &&             \
        std::getenv("CI") == nullptr) {                                                   \
      GTEST_SKIP() << var##_result.error().ToString();                                    \
    }                                                                                     \
    FAIL() << var##_result.error().ToString();                                            \
  }                                                                                       \
  std::unique_ptr<::oversync::testing::PgTestDatabase> var = std::move(*var##_result)

}  // namespace oversync::testing

#endif  // OVERSYNC_TESTING_PG_TEST_DATABASE_H_
