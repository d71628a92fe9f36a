// Retry-After parsing of the snapshot capacity retry (KMP's snapshot-capacity-retry-v1:
// tests/fixtures/oversqlite-contracts/snapshot-capacity/retry.json, retry_after_cases).
#include <gtest/gtest.h>

#include "client_impl.h"

namespace oversync::oversqlite {
namespace {

TEST(RetryAfterTest, OnlyPositiveDeltaSecondsCount) {
  EXPECT_EQ(internal::ParseRetryAfterMillis("1"), 1000);
  EXPECT_EQ(internal::ParseRetryAfterMillis("30"), 30000);
  for (const char* ignored : {"", "0", "-1", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT", " 1"}) {
    EXPECT_FALSE(internal::ParseRetryAfterMillis(ignored).has_value()) << ignored;
  }
  EXPECT_EQ(internal::ParseRetryAfterMillis("999999"), 3'600'000);  // capped at an hour
}

}  // namespace
}  // namespace oversync::oversqlite
