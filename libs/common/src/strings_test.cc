// The shared ASCII/hex helpers (used for key bytes, bytea and identifier normalization).
#include "oversync/common/strings.h"

#include <gtest/gtest.h>

namespace oversync {
namespace {

TEST(StringsTest, TrimAsciiSpace) {
  EXPECT_EQ(TrimAsciiSpace(" \t\r\n\v\fa b\f\v\n\r\t "), "a b");
  EXPECT_EQ(TrimAsciiSpace(""), "");
  EXPECT_EQ(TrimAsciiSpace("   "), "");
  EXPECT_EQ(TrimAsciiSpace("\xc2\xa0x"), "\xc2\xa0x");  // ASCII only (docs/compatibility.md 9)
}

TEST(StringsTest, ToLowerAscii) {
  EXPECT_EQ(ToLowerAscii("Business.USERS_1"), "business.users_1");
  EXPECT_EQ(ToLowerAscii("\xc3\x89"), "\xc3\x89");
}

TEST(StringsTest, HexDecode) {
  EXPECT_EQ(HexDecode("00ff10Ab").value(), std::string("\x00\xff\x10\xab", 4));
  EXPECT_EQ(HexDecode("").value(), "");
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
}

}  // namespace
}  // namespace oversync
