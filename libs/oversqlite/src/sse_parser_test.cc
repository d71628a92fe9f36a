// Unit tests of the watch stream's SSE parser (client.md §8 step 4, §9 item 111).
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "background.h"

namespace oversync::oversqlite::internal {
namespace {

std::vector<std::string> FeedAll(SseParser& parser, std::string_view text) {
  std::vector<std::string> out;
  EXPECT_TRUE(parser.Feed(text, out).ok());
  return out;
}

// §9 item 111 — watch_test.go: TestWatchRemoteChanges_ParsesBundleEvent.
TEST(SseParserTest, ParsesBundleEvent) {
  SseParser parser;
  auto data = FeedAll(parser, "event: bundle\ndata: {\"bundle_seq\":7,\"source_id\":\"s\"}\n\n");
  ASSERT_EQ(data.size(), 1u);
  auto event = DecodeBundleWatchData(data[0]);
  ASSERT_TRUE(event.has_value()) << event.error().ToString();
  EXPECT_EQ(event->bundle_seq, 7);
  EXPECT_EQ(event->source_id, "s");
}

// §9 item 111 — watch_test.go: TestWatchRemoteChanges_IgnoresHeartbeatComments.
TEST(SseParserTest, IgnoresHeartbeatComments) {
  SseParser parser;
  auto data = FeedAll(parser, ": heartbeat\n\n: heartbeat\n\nevent: bundle\ndata: {\"bundle_seq\":3}\n\n");
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0], "{\"bundle_seq\":3}");
}

// §9 item 111 — watch_test.go: TestWatchRemoteChanges_RejectsMalformedBundleData.
TEST(SseParserTest, MalformedBundleDataFailsToDecode) {
  SseParser parser;
  auto data = FeedAll(parser, "event: bundle\ndata: {not json\n\n");
  ASSERT_EQ(data.size(), 1u);
  auto event = DecodeBundleWatchData(data[0]);
  ASSERT_FALSE(event.has_value());
  EXPECT_EQ(event.error().message().rfind("decode bundle watch event", 0), 0u)
      << event.error().message();
}

TEST(SseParserTest, HandlesArbitraryChunkBoundaries) {
  const std::string stream =
      "event: bundle\r\ndata: {\"bundle_seq\":1}\r\n\r\n: hb\n\nevent:bundle\ndata:{\"bundle_seq\":2}\n\n";
  SseParser parser;
  std::vector<std::string> out;
  for (char c : stream) ASSERT_TRUE(parser.Feed(std::string_view(&c, 1), out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], "{\"bundle_seq\":1}");
  EXPECT_EQ(out[1], "{\"bundle_seq\":2}");
}

TEST(SseParserTest, JoinsMultipleDataLinesAndIgnoresOtherEvents) {
  SseParser parser;
  auto data = FeedAll(parser,
                      "event: other\ndata: x\n\n"
                      "id: 9\nevent: bundle\ndata: {\"bundle_seq\":\ndata: 4}\n\n"
                      "data: {\"bundle_seq\":5}\n\n");  // no event name: not a bundle event
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0], "{\"bundle_seq\":\n4}");
  auto event = DecodeBundleWatchData(data[0]);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->bundle_seq, 4);
}

TEST(SseParserTest, EventWithoutBlankLineIsNotDispatched) {
  SseParser parser;
  auto data = FeedAll(parser, "event: bundle\ndata: {\"bundle_seq\":1}\n");
  EXPECT_TRUE(data.empty());
  data = FeedAll(parser, "\n");
  EXPECT_EQ(data.size(), 1u);
}

TEST(SseParserTest, RejectsLinesLongerThanOneMiB) {
  SseParser parser;
  std::vector<std::string> out;
  const std::string big(SseParser::kMaxLineBytes, 'a');
  EXPECT_TRUE(parser.Feed("data: ", out).ok());
  EXPECT_FALSE(parser.Feed(big, out).ok());
}

TEST(SseParserTest, AcceptsLineOfExactlyOneMiB) {
  SseParser parser;
  std::vector<std::string> out;
  const std::string line = ": " + std::string(SseParser::kMaxLineBytes - 2, 'a');
  EXPECT_TRUE(parser.Feed(line, out).ok());
  EXPECT_TRUE(parser.Feed("\n", out).ok());
}

}  // namespace
}  // namespace oversync::oversqlite::internal
