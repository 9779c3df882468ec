#pragma once

#include <functional>
#include <string>
#include <vector>

#include "conduit/portal/http.hpp"

namespace conduit::portal {

class HttpMetrics;

/// The state of one component the broker depends on.
struct ComponentHealth {
  std::string name;  // "database", "tls_certificate", ...
  bool ok = false;
  std::string detail;  // human text; never a secret
};

using HealthCheck = std::function<std::vector<ComponentHealth>()>;

/// Adds GET /healthz (200 when every component is ok, else 503; JSON body listing them) and
/// GET /metrics (Prometheus text) to router.
void addHealthRoutes(Router& router, HealthCheck check, const HttpMetrics& metrics);

}  // namespace conduit::portal
