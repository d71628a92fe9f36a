// File: libs/oversqlite/src/background.h (internal)
//
// Background sync (client.md §1.7, §8): an uploader loop, a downloader loop (polling, or driven
// by the server's bundle-change watch stream in BundleChangeWatchMode::kAuto), and the SSE parser
// of that stream.
//
// The loops call the client's PUBLIC operations through BackgroundOps, so every iteration takes
// and releases the op lock like an application call would (and fails fast with
// kSyncOperationInProgress when the app is busy). Waiting between iterations is done on
// Impl::background_cv_, so StopBackground interrupts every sleep and aborts a watch stream
// through HttpRequest::cancel.
#ifndef OVERSYNC_OVERSQLITE_SRC_BACKGROUND_H_
#define OVERSYNC_OVERSQLITE_SRC_BACKGROUND_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "oversync/common/status.h"
#include "oversync/oversqlite/client.h"
#include "oversync/protocol/messages.h"

namespace oversync::oversqlite::internal {

// The public operations the loops run. Each callable must take the client's op lock itself
// (Client::PushPending / PullToStable / LastBundleSeqSeen do).
struct BackgroundOps {
  std::function<Result<PushReport>()> push_pending;
  std::function<Result<RemoteSyncReport>()> pull_to_stable;
  std::function<Result<std::int64_t>()> last_bundle_seq_seen;
};

// Starts the uploader and downloader threads and returns immediately. A no-op (OK) while loops
// are already running. ImplT is Client::Impl: that type is private to Client, so it is deduced
// at the call site (client.cc: `internal::StartBackgroundLoops(*impl_, ops)`); the only
// instantiation lives in background.cc. Stop with Impl::StopBackground().
// Errors: kInvalidArgument when an op is missing.
template <typename ImplT>
Status StartBackgroundLoops(ImplT& impl, BackgroundOps ops);

// Incremental parser of the watch stream's Server-Sent Events (client.md §8 step 4), fed with
// arbitrary byte chunks:
//   * lines end at "\n" (a trailing "\r" is dropped); a line longer than 1 MiB is an error;
//   * a blank line dispatches the accumulated event when its name is "bundle", then resets;
//   * lines starting with ":" are comments/heartbeats;
//   * "event:" / "data:" take the rest of the line minus one optional leading space; several
//     data lines are joined with "\n"; other fields are ignored.
// Thread-compatible.
class SseParser {
 public:
  static constexpr std::size_t kMaxLineBytes = std::size_t{1} << 20;

  // Consumes `chunk` and appends the data of every dispatched `bundle` event to `bundle_data`.
  // Errors: kProtocolViolation for an over-long line (the parser is then unusable).
  Status Feed(std::string_view chunk, std::vector<std::string>& bundle_data);

 private:
  void ProcessLine(std::string_view line, std::vector<std::string>& bundle_data);

  std::string pending_;  // bytes of the current, unterminated line
  std::string event_name_;
  std::string data_;
};

// Decodes the data of a `bundle` event. Errors: kProtocolViolation "decode bundle watch event: …".
Result<protocol::WatchEvent> DecodeBundleWatchData(std::string_view data);

}  // namespace oversync::oversqlite::internal

#endif  // OVERSYNC_OVERSQLITE_SRC_BACKGROUND_H_
