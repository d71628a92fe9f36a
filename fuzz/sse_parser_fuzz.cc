// libFuzzer target: the client's SSE parser (client.md §8 step 4) on arbitrary stream bytes.
// Differential invariant: feeding the stream in one piece and in fuzzer-chosen chunks yields the
// same bundle events (chunk boundaries fall anywhere on a network), and every event's data
// either decodes or is rejected with a Status — never a crash or an over-long buffer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "background.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // First byte picks the chunk size; the rest is the stream.
  const std::size_t chunk = static_cast<std::size_t>(data[0] % 17) + 1;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  oversync::oversqlite::internal::SseParser whole;
  std::vector<std::string> whole_events;
  const bool whole_ok = whole.Feed(stream, whole_events).ok();

  oversync::oversqlite::internal::SseParser split;
  std::vector<std::string> split_events;
  bool split_ok = true;
  for (std::size_t at = 0; at < stream.size() && split_ok; at += chunk) {
    split_ok = split.Feed(stream.substr(at, chunk), split_events).ok();
  }
  if (whole_ok != split_ok) std::abort();
  if (whole_ok && whole_events != split_events) std::abort();
  for (const std::string& event : whole_events) {
    (void)oversync::oversqlite::internal::DecodeBundleWatchData(event);
  }
  return 0;
}
