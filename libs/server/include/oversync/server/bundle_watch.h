// File: oversync/server/bundle_watch.h
//
// Bundle-change watch (server.md §7.5, protocol.md §3.8): wake-up hints that a scope has new
// committed bundles. A hint only — clients fetch data with pull. Fan-out crosses server processes
// through PostgreSQL LISTEN/NOTIFY on ServiceConfig::bundle_change_watch.notify_channel, so a
// commit on any process (go-oversync's included) wakes subscribers on every process.
#ifndef OVERSYNC_SERVER_BUNDLE_WATCH_H_
#define OVERSYNC_SERVER_BUNDLE_WATCH_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "oversync/common/status.h"

namespace oversync {

// One hint. `source_id` / `source_bundle_id` are empty / 0 when unknown (the immediate event of
// a subscriber that is behind, and catch-up events after the listener reconnected).
struct BundleChangeEvent {
  std::int64_t bundle_seq = 0;
  std::string source_id;
  std::int64_t source_bundle_id = 0;
};

// One subscriber of one scope. Events are coalesced: a slow reader gets only the newest pending
// event, and never one whose bundle_seq is not above the last one handed out (or the
// subscription's after_bundle_seq). Destroying it unsubscribes.
//
// Thread-safety: Next is called from one thread at a time; the service publishes concurrently.
class BundleChangeSubscription {
 public:
  virtual ~BundleChangeSubscription() = default;
  // Waits up to `timeout` for the next event; nullopt when none arrived in time.
  // Errors: kServiceUnavailable "sync service is shutting down" once the service closes the
  // subscription (the stream should end; clients reconnect elsewhere).
  virtual Result<std::optional<BundleChangeEvent>> Next(std::chrono::milliseconds timeout) = 0;

 protected:
  BundleChangeSubscription() = default;
  BundleChangeSubscription(const BundleChangeSubscription&) = default;
  BundleChangeSubscription& operator=(const BundleChangeSubscription&) = default;
};

}  // namespace oversync

#endif  // OVERSYNC_SERVER_BUNDLE_WATCH_H_
