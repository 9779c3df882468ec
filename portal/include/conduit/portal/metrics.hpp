#pragma once

#include <memory>
#include <string>

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace conduit::portal {

/// The portal's own Prometheus metrics, registered in a registry shared with other modules.
class HttpMetrics {
 public:
  explicit HttpMetrics(std::shared_ptr<prometheus::Registry> registry);

  /// Counts one answered request and its duration.
  void observeRequest(int status, double seconds);
  /// Tracks open connections and refused ones (over the connection limit).
  void connectionOpened();
  void connectionClosed();
  void connectionRefused();

  /// The whole registry in Prometheus text exposition format.
  std::string exposition() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Histogram* duration_;
  prometheus::Gauge* open_;
  prometheus::Counter* refused_;
};

}  // namespace conduit::portal
