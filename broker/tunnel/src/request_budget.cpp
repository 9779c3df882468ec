#include "conduit/tunnel/request_budget.hpp"

#include <algorithm>

namespace conduit::tunnel {

bool RequestBudget::take(Instant now) {
  std::lock_guard lock(mutex_);
  if (last_ != Instant{} && now > last_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(rate_, tokens_ + elapsed * rate_);
  }
  if (now > last_) last_ = now;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

void RequestBudget::setRate(double rate) {
  std::lock_guard lock(mutex_);
  rate_ = rate;
  tokens_ = std::min(tokens_, rate_);
}

double RequestBudget::rate() const {
  std::lock_guard lock(mutex_);
  return rate_;
}

}  // namespace conduit::tunnel
