#include "conduit/portal/health_routes.hpp"

#include <boost/json.hpp>

#include "conduit/portal/metrics.hpp"

namespace conduit::portal {

void addHealthRoutes(Router& router, HealthCheck check, const HttpMetrics& metrics) {
  router.add("GET", "/healthz", [check = std::move(check)](const HttpRequest&) {
    boost::json::object components;
    bool allOk = true;
    for (const ComponentHealth& c : check()) {
      components[c.name] = {{"ok", c.ok}, {"detail", c.detail}};
      allOk = allOk && c.ok;
    }
    boost::json::object body{{"status", allOk ? "ok" : "degraded"}};
    body["components"] = std::move(components);
    return HttpResponse{
        allOk ? 200 : 503, "application/json", boost::json::serialize(body), {}, {}};
  });
  router.add("GET", "/metrics", [&metrics](const HttpRequest&) {
    return HttpResponse{
        200, "text/plain; version=0.0.4; charset=utf-8", metrics.exposition(), {}, {}};
  });
}

}  // namespace conduit::portal
