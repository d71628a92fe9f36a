#include "oversync/common/clock.h"

namespace oversync {

TimePoint SystemClock::Now() const {
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
}

}  // namespace oversync
