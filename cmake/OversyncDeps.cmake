# Every third-party dependency is found here, once. Debian 12 packages only
# (installed by scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(PostgreSQL 15 REQUIRED)          # PostgreSQL::PostgreSQL (libpq)
find_package(OpenSSL 3 REQUIRED)              # OpenSSL::Crypto (SHA-256, random)
find_package(simdjson 3 CONFIG REQUIRED)      # simdjson::simdjson
find_package(fmt 9 CONFIG REQUIRED)           # fmt::fmt
find_package(tl-expected 1 CONFIG REQUIRED)   # tl::expected
find_package(SQLite3 3.40 REQUIRED)           # SQLite::SQLite3 (client SDK)
find_package(CURL 7.88 REQUIRED)              # CURL::libcurl (client SDK transport)
if(OVERSYNC_BUILD_APPS)
  find_package(Boost 1.81 CONFIG REQUIRED)    # Boost::headers (Beast/Asio, adapter + apps only)
endif()
if(OVERSYNC_BUILD_TESTS)
  find_package(GTest 1.12 CONFIG REQUIRED)    # GTest::gtest, GTest::gmock, GTest::gtest_main
  find_package(rapidcheck CONFIG REQUIRED)    # rapidcheck, rapidcheck_gtest
  include(OversyncGo)                         # OVERSYNC_GO_EXECUTABLE: a Go >= 1.22, or empty
endif()
if(OVERSYNC_BUILD_BENCH)
  find_package(benchmark 1.7 CONFIG REQUIRED)
endif()
