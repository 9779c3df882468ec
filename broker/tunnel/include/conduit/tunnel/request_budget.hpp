#pragma once

// A per-asset budget of requests per second, shared by every tunnel connection to the asset
// (issue 8: fragile PLCs serve few requests; a vendor tool polling in a tight loop, or several
// tools at once, must not overload one). A token bucket: `rate` tokens a second, bursts up to
// one second's worth. Time comes from the caller, like everything in this module.

#include <chrono>
#include <mutex>

namespace conduit::tunnel {

class RequestBudget {
 public:
  using Instant = std::chrono::sys_time<std::chrono::microseconds>;

  /// rate: requests per second (> 0).
  explicit RequestBudget(double rate) : rate_(rate), tokens_(rate) {}

  /// Takes one request's token at `now`; false when the asset's budget is spent.
  bool take(Instant now);
  /// A new grant may carry another rate; the tokens left stay (capped at the new burst).
  void setRate(double rate);
  double rate() const;

 private:
  mutable std::mutex mutex_;
  double rate_;
  double tokens_;
  Instant last_{};
};

}  // namespace conduit::tunnel
