#include "conduit/notify/retry_schedule.hpp"

#include <algorithm>

namespace conduit::notify {

std::chrono::milliseconds RetrySchedule::delayAfter(int attempt) const {
  std::chrono::milliseconds delay = first;
  for (int i = 1; i < attempt && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

}  // namespace conduit::notify
