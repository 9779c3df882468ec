#include "rate_limiter.hpp"

namespace conduit::portal {

bool RateLimiter::allow(const std::string& key, int& retryAfter) {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  // Forget old windows now and then so that a scan from many addresses cannot grow the map
  // without bound.
  if (windows_.size() > 10000) {
    std::erase_if(windows_,
                  [&](const auto& kv) { return now - kv.second.start >= core::Seconds{60}; });
  }
  auto& w = windows_[key];
  if (now - w.start >= core::Seconds{60} || now < w.start) w = Window{now, 0};
  if (w.count >= perMinute_) {
    retryAfter = static_cast<int>((w.start + core::Seconds{60} - now).count());
    if (retryAfter < 1) retryAfter = 1;
    return false;
  }
  ++w.count;
  return true;
}

}  // namespace conduit::portal
