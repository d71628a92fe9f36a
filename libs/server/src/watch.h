// Bundle-change watch internals (server.md §7.5): the process-local hub of subscribers and the
// LISTEN thread that feeds it from PostgreSQL NOTIFY.
#ifndef OVERSYNC_SERVER_SRC_WATCH_H_
#define OVERSYNC_SERVER_SRC_WATCH_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "oversync/common/logger.h"
#include "oversync/server/bundle_watch.h"

namespace oversync {

// Subscribers keyed by user_pk. Thread-safe. Publishing never blocks on a subscriber.
class WatchHub : public std::enable_shared_from_this<WatchHub> {
 public:
  struct Subscriber {
    std::int64_t user_pk = 0;
    std::mutex mu;
    std::condition_variable ready;
    std::optional<BundleChangeEvent> slot;  // guarded by mu: the one pending event
    std::int64_t last_seq = 0;              // guarded by mu: highest bundle_seq accepted
    bool closed = false;                    // guarded by mu
  };

  // Registers a subscriber whose stale threshold is `after_bundle_seq`. Errors:
  // kServiceUnavailable once the hub is closed.
  Result<std::unique_ptr<BundleChangeSubscription>> Subscribe(std::int64_t user_pk,
                                                              std::int64_t after_bundle_seq);
  // Offers `event` to every subscriber of `user_pk` (coalescing, stale events dropped).
  void Publish(std::int64_t user_pk, const BundleChangeEvent& event);
  // user_pks that have subscribers (for catch-up after the listener reconnects).
  std::vector<std::int64_t> SubscribedUsers() const;
  int SubscriberCount(std::int64_t user_pk) const;
  std::int64_t TotalSubscribers() const;
  // Closes every subscription (their Next fails with kServiceUnavailable) and refuses new ones.
  void Close();

 private:
  friend class HubSubscription;
  void Remove(const std::shared_ptr<Subscriber>& subscriber);

  mutable std::mutex mu_;
  std::map<std::int64_t, std::set<std::shared_ptr<Subscriber>>> subscribers_;  // guarded by mu_
  bool closed_ = false;                                                        // guarded by mu_
};

// One thread holding a dedicated connection with LISTEN on the channel; reconnects with backoff
// (100 ms doubling to 2 s) and, after every (re)LISTEN, publishes the current head of every
// subscribed user (catch-up for notifications missed while disconnected).
class WatchListener {
 public:
  WatchListener(std::string dsn, std::string channel, std::shared_ptr<WatchHub> hub,
                Logger* logger);
  ~WatchListener();  // stops and joins
  WatchListener(const WatchListener&) = delete;
  WatchListener& operator=(const WatchListener&) = delete;

  // Errors: kIo when the wake-up pipe cannot be created.
  Status Start();
  void Stop();
  // Becomes true once the first LISTEN is in place (tests wait for it before committing).
  bool WaitUntilListening(std::chrono::milliseconds timeout);

 private:
  void Run();
  bool WaitForWake(int timeout_ms);  // true when asked to stop

  const std::string dsn_;
  const std::string channel_;
  const std::shared_ptr<WatchHub> hub_;
  Logger* const logger_;
  std::mutex stop_mu_;  // serializes Stop (Shutdown may run on several threads)
  int wake_read_ = -1;
  int wake_write_ = -1;
  std::atomic<bool> stopping_{false};
  std::mutex listening_mu_;
  std::condition_variable listening_cv_;
  bool listening_ = false;  // guarded by listening_mu_
  std::thread thread_;
};

}  // namespace oversync

#endif  // OVERSYNC_SERVER_SRC_WATCH_H_
