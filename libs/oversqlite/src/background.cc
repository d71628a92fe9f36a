// File: libs/oversqlite/src/background.cc
//
// Uploader/downloader loops and the bundle-change watch client (client.md §1.7, §8).
//
// Deviations from Go, all deliberate:
//   * A paused polling downloader sleeps the current backoff instead of busy-spinning (§1.7
//     [QUIRK]).
//   * Every wait is on Impl::background_cv_, so StopBackground interrupts it at once (Go relies on
//     context cancellation and plain time.Sleep in the polling loops).
//   * A loop exits when an operation reports kClientClosed (Go keeps looping forever after
//     Close).
//   * BackoffMin <= 0 is treated as 1 s everywhere (Go does that only in the watch loop; a zero
//     backoff would busy-spin the polling loops).
//   * A wake-up (event or fallback tick) whose pull finds the operation lock held by the
//     uploader or an app call waits for it (10 ms steps, at most 2 s) instead of ending the
//     stream (docs/compatibility.md 85).
//   * Watch events that arrive while a pull runs are coalesced into one follow-up pull: they are
//     wake-up hints only, data always comes through PullToStable.
#include "background.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "client_impl.h"
#include "oversync/protocol/codec.h"

namespace oversync::oversqlite::internal {

// ---- SSE parser ----

Status SseParser::Feed(std::string_view chunk, std::vector<std::string>& bundle_data) {
  while (!chunk.empty()) {
    const std::size_t newline = chunk.find('\n');
    const std::string_view piece = chunk.substr(0, newline);
    if (pending_.size() + piece.size() > kMaxLineBytes) {
      // Go's bufio.Scanner with a 1 MiB buffer fails the same way ("token too long").
      return Status(ErrorCode::kProtocolViolation, "watch stream line exceeds 1 MiB");
    }
    if (newline == std::string_view::npos) {
      pending_.append(piece);
      break;
    }
    if (pending_.empty()) {
      ProcessLine(piece, bundle_data);
    } else {
      pending_.append(piece);
      const std::string line = std::move(pending_);
      pending_.clear();
      ProcessLine(line, bundle_data);
    }
    chunk.remove_prefix(newline + 1);
  }
  return Status::Ok();
}

void SseParser::ProcessLine(std::string_view line, std::vector<std::string>& bundle_data) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {
    if (event_name_ == "bundle") bundle_data.push_back(data_);
    event_name_.clear();
    data_.clear();
    return;
  }
  if (line.front() == ':') return;  // comment / heartbeat
  auto field_value = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (line.substr(0, prefix.size()) != prefix) return std::nullopt;
    std::string_view value = line.substr(prefix.size());
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    return value;
  };
  if (auto value = field_value("event:")) {
    event_name_ = std::string(*value);
  } else if (auto data = field_value("data:")) {
    if (!data_.empty()) data_.push_back('\n');
    data_.append(*data);
  }
}

Result<protocol::WatchEvent> DecodeBundleWatchData(std::string_view data) {
  Result<protocol::WatchEvent> event = protocol::DecodeWatchEvent(data);
  if (!event) {
    return Error(ErrorCode::kProtocolViolation,
                 "decode bundle watch event: " + event.error().message());
  }
  return event;
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr Duration kDefaultBackoff{1000};
constexpr Duration kDefaultWatchFallback{60'000};
constexpr Duration kWatchSetupPoll{10};

struct LoopBackoff {
  Duration min;
  Duration max;
};

LoopBackoff NormalizedBackoff(const Config& config) {
  LoopBackoff backoff{config.backoff_min, config.backoff_max};
  if (backoff.min <= Duration::zero()) backoff.min = kDefaultBackoff;
  if (backoff.max < backoff.min) backoff.max = backoff.min;
  return backoff;
}

// client.md §1.7: lifecycle preconditions reset to the minimum (the app will attach soon);
// anything else doubles up to the maximum.
Duration NextBackoff(const Status& error, Duration current, const LoopBackoff& limits) {
  if (IsLifecyclePreconditionError(error)) return limits.min;
  return std::clamp(current * 2, limits.min, limits.max);
}

bool IsClosed(const Status& status) {
  return ClientErrorKindOf(status) == ClientErrorKind::kClientClosed;
}

// How one watch stream ended (client.md §8 steps 5-6).
struct StreamEnd {
  Status status;
  bool pull_error = false;  // an event/fallback pull failed: no catch-up pull
  bool forbidden = false;   // 403 bundle_change_watch_forbidden: poll from now on
  bool stopped = false;     // StopBackground
};

// State shared between the watch loop and the thread reading one stream. Guarded by
// Impl::background_mutex_ (so the loop can wait for events, stream end and stop on one cv).
struct StreamShared {
  std::deque<std::int64_t> events;  // bundle_seq of each received event
  bool done = false;
  StreamEnd end;
  std::atomic<bool> cancel{false};
};

template <typename ImplT>
class BackgroundRunner {
 public:
  BackgroundRunner(ImplT& impl, BackgroundOps ops)
      : impl_(impl), ops_(std::move(ops)), limits_(NormalizedBackoff(impl.config_)) {}

  void RunUploader() {
    Duration backoff = limits_.min;
    while (!Stopping()) {
      if (impl_.uploads_paused_.load()) {
        if (!Sleep(backoff)) return;
        continue;
      }
      Result<PushReport> pushed = ops_.push_pending();
      if (!pushed) {
        const Status& error = pushed.error();
        if (IsClosed(error)) return;
        if (IsLifecyclePreconditionError(error)) {
          impl_.Log(LogLevel::kWarn, "upload loop blocked by lifecycle state: " + error.ToString());
          backoff = NextBackoff(error, backoff, limits_);
          if (!Sleep(backoff)) return;
          continue;
        }
        LogLoopError("upload loop", error);
        if (!Sleep(backoff)) return;
        backoff = NextBackoff(error, backoff, limits_);
        continue;
      }
      backoff = limits_.min;
      if (!Sleep(backoff)) return;
    }
  }

  void RunDownloader() {
    if (ShouldUseWatch()) {
      RunWatchDownloader();
    } else {
      RunPollingDownloader();
    }
  }

 private:
  bool Stopping() const { return impl_.background_stop_.load(); }

  // Production waiting (not test synchronisation): returns false when StopBackground asked the
  // loops to end.
  bool Sleep(Duration duration) {
    std::unique_lock lock(impl_.background_mutex_);
    return !impl_.background_cv_.wait_for(lock, duration, [this] { return Stopping(); });
  }

  void LogLoopError(std::string_view loop, const Status& error) {
    // Contention with the app's own operation is expected and not worth a warning.
    const LogLevel level = IsExpectedSyncContention(error) ? LogLevel::kDebug : LogLevel::kWarn;
    impl_.Log(level, fmt::format("{} failed: {}", loop, error.ToString()));
  }

  // Shared error handling of the downloader loops; returns false when the loop must end.
  bool HandleDownloadError(const Status& error, Duration& backoff) {
    if (IsClosed(error)) return false;
    if (IsLifecyclePreconditionError(error)) {
      impl_.Log(LogLevel::kWarn, "download loop blocked by lifecycle state: " + error.ToString());
      backoff = NextBackoff(error, backoff, limits_);
      return Sleep(backoff);
    }
    LogLoopError("download loop", error);
    if (!Sleep(backoff)) return false;
    backoff = NextBackoff(error, backoff, limits_);
    return true;
  }

  void RunPollingDownloader() {
    Duration backoff = limits_.min;
    while (!Stopping()) {
      if (impl_.downloads_paused_.load()) {
        // Go `continue`s here without sleeping (a busy spin); a paused loop has nothing to do
        // until resumed, so it waits like the uploader does.
        if (!Sleep(backoff)) return;
        continue;
      }
      Result<std::int64_t> before = ops_.last_bundle_seq_seen();
      if (!before) {
        if (!HandleDownloadError(before.error(), backoff)) return;
        continue;
      }
      Result<RemoteSyncReport> pulled = ops_.pull_to_stable();
      if (!pulled) {
        if (!HandleDownloadError(pulled.error(), backoff)) return;
        continue;
      }
      backoff = limits_.min;
      // While the checkpoint moves there may be more to fetch: loop at once.
      Result<std::int64_t> after = ops_.last_bundle_seq_seen();
      if (!after || *after == *before) {
        if (!Sleep(backoff)) return;
      }
    }
  }

  // client.md §8 "At Start": decided once per StartBackground.
  bool ShouldUseWatch() {
    if (impl_.config_.bundle_change_watch_mode != BundleChangeWatchMode::kAuto) return false;
    // Wait out a concurrent operation (e.g. the uploader's first push) instead of silently
    // falling back to polling just because the lock was busy at this instant.
    while (true) {
      if (Stopping()) return false;
      Result<std::unique_lock<std::mutex>> lock = impl_.AcquireOp();
      if (lock) {
        const bool connected = impl_.RequireConnected("Start() bundle change watch").ok();
        lock->unlock();
        if (!connected) return false;
        break;
      }
      if (!IsExpectedSyncContention(lock.error())) return false;
      if (!Sleep(kWatchSetupPoll)) return false;
    }
    Result<protocol::CapabilitiesResponse> capabilities =
        impl_.FetchCapabilities("watch_capabilities");
    if (!capabilities) {
      impl_.Log(LogLevel::kInfo, "bundle change watch unavailable, polling: " +
                                     capabilities.error().ToString());
      return false;
    }
    auto it = capabilities->features.find("bundle_change_watch");
    return it != capabilities->features.end() && it->second;
  }

  Duration FallbackInterval() const {
    const Config& config = impl_.config_;
    if (config.watch_fallback_interval > Duration::zero()) return config.watch_fallback_interval;
    if (config.backoff_max > Duration::zero()) return config.backoff_max;
    return kDefaultWatchFallback;
  }

  void RunWatchDownloader() {
    Duration backoff = limits_.min;
    const Duration fallback = FallbackInterval();
    while (!Stopping()) {
      if (impl_.downloads_paused_.load()) {
        // Paused: no stream and no pull (client.md §9 item 115).
        if (!Sleep(backoff)) return;
        continue;
      }
      Result<std::int64_t> after = ops_.last_bundle_seq_seen();
      if (!after) {
        if (!HandleDownloadError(after.error(), backoff)) return;
        continue;
      }
      StreamEnd end = WatchOnce(*after, fallback);
      if (end.stopped || Stopping()) return;
      if (IsClosed(end.status)) return;
      if (end.forbidden) {
        impl_.Log(LogLevel::kWarn,
                  "bundle change watch disabled for client: " + end.status.ToString());
        RunPollingDownloader();
        return;
      }
      impl_.Log(LogLevel::kWarn, "bundle change watch stream stopped: " + end.status.ToString());
      Status backoff_error = end.status;
      if (!end.pull_error) {
        // The stream may have missed bundles while it was down: one catch-up pull.
        Result<RemoteSyncReport> pulled = ops_.pull_to_stable();
        if (!pulled) {
          if (IsClosed(pulled.error())) return;
          backoff_error = pulled.error();
          if (IsLifecyclePreconditionError(backoff_error)) {
            impl_.Log(LogLevel::kWarn,
                      "download loop blocked by lifecycle state: " + backoff_error.ToString());
          } else {
            LogLoopError("bundle change watch fallback pull", backoff_error);
          }
        }
      }
      if (!Sleep(backoff)) return;
      backoff = NextBackoff(backoff_error, backoff, limits_);
    }
  }

  // client.md §8 step 3 / Go refreshCurrentSourceIDForWatch: pick up a rotated source id from
  // the database when no operation runs; when one does, the in-memory id is current enough (the
  // operation itself keeps it up to date).
  std::string RefreshSourceIdForWatch() {
    std::unique_lock lock(impl_.op_mutex_, std::try_to_lock);
    if (lock.owns_lock() && !impl_.closed_.load()) {
      if (Result<AttachmentState> attachment = impl_.LoadAttachment();
          attachment && !attachment->current_source_id.empty()) {
        impl_.SetSourceId(attachment->current_source_id);
      }
    }
    return impl_.SourceId();
  }

  Result<HttpRequest> BuildWatchRequest(std::int64_t after) {
    if (after < 0) return Error(ErrorCode::kInvalidArgument, "after_bundle_seq must be >= 0");
    const std::string source_id = RefreshSourceIdForWatch();
    std::string_view base = impl_.base_url_;
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    HttpRequest request;
    request.method = "GET";
    request.url = fmt::format("{}/sync/watch?after_bundle_seq={}", base, after);
    // Go's 120 s client timeout also bounds the stream, recycling it (reconnect + catch-up pull)
    // every couple of minutes (§8 [QUIRK]). Kept: it is the only guard against a silently dead
    // connection, since the transport has no idle timeout.
    request.timeout_ms = impl_.config_.http_timeout.count();
    if (!impl_.token_provider_) return Error(ErrorCode::kInvalidArgument, "no token provider configured");
    Result<std::string> token = impl_.token_provider_();
    if (!token) return Error(token.error().WithContext("token provider"));
    request.headers.emplace_back("Authorization", "Bearer " + *token);
    if (!source_id.empty()) request.headers.emplace_back("Oversync-Source-ID", source_id);
    return request;
  }

  // Reads one stream on its own thread while this thread runs the pulls its events (and the
  // fallback ticker) trigger. Always ends with an error-ish StreamEnd, like Go's
  // watchRemoteChanges; the reader thread is joined before returning.
  StreamEnd WatchOnce(std::int64_t after, Duration fallback) {
    Result<HttpRequest> built = BuildWatchRequest(after);
    if (!built) return StreamEnd{built.error()};
    auto shared = std::make_shared<StreamShared>();
    HttpRequest request = std::move(*built);
    request.cancel = &shared->cancel;

    std::thread reader([this, shared, request = std::move(request)]() mutable {
      StreamEnd end = ReadStream(request, *shared);
      std::lock_guard lock(impl_.background_mutex_);
      shared->done = true;
      shared->end = std::move(end);
      impl_.background_cv_.notify_all();
    });
    auto finish = [&](StreamEnd end) {
      shared->cancel.store(true);
      reader.join();
      return end;
    };

    auto next_fallback = Clock::now() + fallback;
    while (true) {
      std::unique_lock lock(impl_.background_mutex_);
      const bool woke = impl_.background_cv_.wait_until(lock, next_fallback, [&] {
        return Stopping() || !shared->events.empty() || shared->done;
      });
      if (Stopping()) {
        lock.unlock();
        StreamEnd stopped{Status(ErrorCode::kCancelled, "background loops stopped")};
        stopped.stopped = true;
        return finish(std::move(stopped));
      }
      if (!shared->events.empty()) {
        std::deque<std::int64_t> events = std::move(shared->events);
        shared->events.clear();
        lock.unlock();
        for (std::int64_t seq : events) {
          if (seq <= 0) {
            return finish(StreamEnd{
                Status(ErrorCode::kProtocolViolation, "bundle watch event missing bundle_seq")});
          }
        }
      } else if (shared->done) {
        StreamEnd end = std::move(shared->end);
        lock.unlock();
        return finish(std::move(end));
      } else if (woke) {
        continue;
      } else {
        lock.unlock();
        next_fallback = Clock::now() + fallback;
      }
      // An event or the fallback tick: a normal pull with all of its gates. Any failure ends the
      // stream (client.md §8 step 5) — except contention. Deviation from Go
      // (docs/compatibility.md 85): Go also ends a healthy stream when the uploader or an app call
      // holds the operation lock at that instant, then reconnects after a backoff and often
      // watches from the old checkpoint; the pull waits for the lock instead (10 ms steps, at most
      // 2 s), so a wake-up is not lost to a no-op push.
      Result<RemoteSyncReport> pulled = ops_.pull_to_stable();
      for (int waited = 0; !pulled && IsExpectedSyncContention(pulled.error()) && waited < 200;
           ++waited) {
        if (!Sleep(Duration(10))) {
          StreamEnd stopped{Status(ErrorCode::kCancelled, "background loops stopped")};
          stopped.stopped = true;
          return finish(std::move(stopped));
        }
        pulled = ops_.pull_to_stable();
      }
      if (!pulled) {
        StreamEnd end{pulled.error()};
        end.pull_error = true;
        return finish(std::move(end));
      }
    }
  }

  // Runs on the reader thread.
  StreamEnd ReadStream(const HttpRequest& request, StreamShared& shared) {
    SseParser parser;
    Status parse_error;
    std::vector<std::string> bundle_data;
    auto on_data = [&](std::string_view chunk) -> bool {
      if (shared.cancel.load()) return false;
      bundle_data.clear();
      if (Status fed = parser.Feed(chunk, bundle_data); !fed.ok()) {
        parse_error = std::move(fed);
        return false;
      }
      std::vector<std::int64_t> seqs;
      for (const std::string& data : bundle_data) {
        Result<protocol::WatchEvent> event = DecodeBundleWatchData(data);
        if (!event) {
          parse_error = event.error();
          return false;
        }
        seqs.push_back(event->bundle_seq);
      }
      if (!seqs.empty()) {
        std::lock_guard lock(impl_.background_mutex_);
        shared.events.insert(shared.events.end(), seqs.begin(), seqs.end());
        impl_.background_cv_.notify_all();
      }
      return !shared.cancel.load();
    };
    std::string error_body;
    Result<int> status = impl_.transport_->Stream(request, on_data, &error_body);
    if (!parse_error.ok()) return StreamEnd{std::move(parse_error)};
    if (!status) return StreamEnd{status.error()};
    if (*status != 200) {
      HttpResponse response;
      response.status = *status;
      response.body = std::move(error_body);
      StreamEnd end{impl_.ErrorFromResponse(response)};
      const ClientErrorDetail* detail = ClientErrorOf(end.status);
      end.forbidden = *status == 403 && detail != nullptr &&
                      detail->error_code == "bundle_change_watch_forbidden";
      return end;
    }
    return StreamEnd{Status(ErrorCode::kUnavailable, "bundle change watch stream ended: EOF")};
  }

  ImplT& impl_;
  const BackgroundOps ops_;
  const LoopBackoff limits_;
};

}  // namespace

template <typename ImplT>
Status StartBackgroundLoops(ImplT& impl, BackgroundOps ops) {
  if (!ops.push_pending || !ops.pull_to_stable || !ops.last_bundle_seq_seen) {
    return Status(ErrorCode::kInvalidArgument, "background loops need push, pull and checkpoint ops");
  }
  std::lock_guard lock(impl.background_mutex_);
  if (!impl.background_threads_.empty()) return Status::Ok();  // already running
  impl.background_stop_.store(false);
  auto runner = std::make_shared<BackgroundRunner<ImplT>>(impl, std::move(ops));
  impl.background_threads_.emplace_back([runner] { runner->RunUploader(); });
  impl.background_threads_.emplace_back([runner] { runner->RunDownloader(); });
  return Status::Ok();
}

// The one instantiation. Explicit instantiations may name the private Client::Impl
// ([temp.spec.general]/6: access checking does not apply to them).
template Status StartBackgroundLoops<Client::Impl>(Client::Impl& impl, BackgroundOps ops);

}  // namespace oversync::oversqlite::internal

namespace oversync::oversqlite {

// Fallback for callers that only have the Impl: the same loops over the Impl's own locked
// operations. Client::StartBackground should prefer internal::StartBackgroundLoops with the
// public operations (see background.h) so the loops behave exactly like app calls.
Status Client::Impl::StartBackground() {
  internal::BackgroundOps ops;
  ops.push_pending = [this]() -> Result<PushReport> {
    OVERSYNC_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, AcquireOp());
    return PushPendingLocked(0);
  };
  ops.pull_to_stable = [this]() -> Result<RemoteSyncReport> {
    OVERSYNC_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, AcquireOp());
    return PullToStableLocked();
  };
  ops.last_bundle_seq_seen = [this]() -> Result<std::int64_t> {
    OVERSYNC_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, AcquireOp());
    OVERSYNC_RETURN_IF_ERROR(RequireConnected("LastBundleSeqSeen()"));
    OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
    return attachment.last_bundle_seq_seen;
  };
  return internal::StartBackgroundLoops(*this, std::move(ops));
}

void Client::Impl::StopBackground() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(background_mutex_);
    background_stop_.store(true);
    threads.swap(background_threads_);
  }
  background_cv_.notify_all();
  // Joined outside the mutex: the loops take it to sleep. A loop inside an operation finishes
  // that operation first (a watch stream is aborted through its cancel flag).
  for (std::thread& thread : threads) {
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
    if (thread.joinable()) thread.detach();
  }
}

}  // namespace oversync::oversqlite
