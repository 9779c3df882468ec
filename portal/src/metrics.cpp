#include "conduit/portal/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace conduit::portal {

namespace {
std::string statusClass(int status) {
  return std::to_string(status / 100) + "xx";
}
}  // namespace

HttpMetrics::HttpMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)) {
  requests_ = &prometheus::BuildCounter()
                   .Name("conduit_http_requests_total")
                   .Help("HTTP requests answered by the portal, by status class")
                   .Register(*registry_);
  duration_ = &prometheus::BuildHistogram()
                   .Name("conduit_http_request_duration_seconds")
                   .Help("Time from a complete request to its response being handed to TLS")
                   .Register(*registry_)
                   .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.005, 0.01,
                                                                    0.05, 0.1, 0.5, 1, 5});
  open_ = &prometheus::BuildGauge()
               .Name("conduit_http_connections_open")
               .Help("Open portal connections")
               .Register(*registry_)
               .Add({});
  refused_ = &prometheus::BuildCounter()
                  .Name("conduit_http_connections_refused_total")
                  .Help("Connections closed at accept because the connection limit was reached")
                  .Register(*registry_)
                  .Add({});
}

void HttpMetrics::observeRequest(int status, double seconds) {
  requests_->Add({{"code", statusClass(status)}}).Increment();
  duration_->Observe(seconds);
}

void HttpMetrics::connectionOpened() {
  open_->Increment();
}
void HttpMetrics::connectionClosed() {
  open_->Decrement();
}
void HttpMetrics::connectionRefused() {
  refused_->Increment();
}

std::string HttpMetrics::exposition() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace conduit::portal
