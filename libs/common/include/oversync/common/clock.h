// File: oversync/common/clock.h
//
// Injected time. Libraries never read the system clock directly: they take a Clock&.
#ifndef OVERSYNC_COMMON_CLOCK_H_
#define OVERSYNC_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace oversync {

using TimePoint = std::chrono::sys_time<std::chrono::nanoseconds>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// std::chrono::system_clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) noexcept : now_ns_(start.time_since_epoch().count()) {}
  TimePoint Now() const override {
    return TimePoint(std::chrono::nanoseconds(now_ns_.load(std::memory_order_acquire)));
  }
  void Set(TimePoint t) noexcept {
    now_ns_.store(t.time_since_epoch().count(), std::memory_order_release);
  }
  void Advance(std::chrono::nanoseconds d) noexcept {
    now_ns_.fetch_add(d.count(), std::memory_order_acq_rel);
  }

 private:
  std::atomic<std::int64_t> now_ns_;
};

}  // namespace oversync

#endif  // OVERSYNC_COMMON_CLOCK_H_
