// File: libs/oversqlite/tests/test_events.h
//
// Waiting for background effects without sleeps: an EventLog that transports, loggers and
// scripted servers signal, and a Transport decorator that signals every request, stream chunk
// and stream end.
//
// Thread-safety: EventLog and NotifyingTransport are thread-safe (the client's background loops
// and the test thread use them concurrently).
#ifndef OVERSYNC_OVERSQLITE_TESTS_TEST_EVENTS_H_
#define OVERSYNC_OVERSQLITE_TESTS_TEST_EVENTS_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>

#include "oversync/oversqlite/transport.h"

namespace oversync::oversqlite::testing {

class EventLog {
 public:
  void Notify() {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }
  // Waits until `done` holds or `limit` passes; re-evaluated on every event and every 20 ms for
  // effects that have no event of their own (a SQLite commit after the last request).
  bool WaitFor(const std::function<bool()>& done,
               std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::unique_lock lock(mu_);
    while (true) {
      lock.unlock();
      const bool ok = done();
      lock.lock();
      if (ok) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      cv_.wait_for(lock, std::chrono::milliseconds(20));
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

class NotifyingTransport final : public Transport {
 public:
  NotifyingTransport(std::shared_ptr<Transport> inner, std::shared_ptr<EventLog> events)
      : inner_(std::move(inner)), events_(std::move(events)) {}
  Result<HttpResponse> Send(const HttpRequest& request) override {
    Result<HttpResponse> response = inner_->Send(request);
    events_->Notify();
    return response;
  }
  Result<int> Stream(const HttpRequest& request,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     std::string* error_body) override {
    events_->Notify();
    Result<int> status = inner_->Stream(
        request,
        [&](std::string_view chunk) {
          const bool more = on_data(chunk);
          events_->Notify();
          return more;
        },
        error_body);
    events_->Notify();
    return status;
  }

 private:
  std::shared_ptr<Transport> inner_;
  std::shared_ptr<EventLog> events_;
};

}  // namespace oversync::oversqlite::testing

#endif  // OVERSYNC_OVERSQLITE_TESTS_TEST_EVENTS_H_
