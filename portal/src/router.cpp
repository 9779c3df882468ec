#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "conduit/portal/http.hpp"

namespace conduit::portal {

std::string_view HttpRequest::header(std::string_view lowerName) const {
  for (const auto& [name, value] : headers) {
    if (name == lowerName) return value;
  }
  return {};
}

HttpResponse jsonError(int status, std::string_view code, std::string_view message) {
  boost::json::object body;
  body["error"] = code;
  body["message"] = message;
  return HttpResponse{status, "application/json", boost::json::serialize(body), {}};
}

void Router::add(std::string method, std::string path, Handler handler) {
  routes_[std::move(path)][std::move(method)] = std::move(handler);
}

HttpResponse Router::dispatch(const HttpRequest& request) const {
  const auto byPath = routes_.find(request.path);
  if (byPath == routes_.end()) return jsonError(404, "not_found", "no such resource");
  const auto byMethod = byPath->second.find(request.method);
  if (byMethod == byPath->second.end()) {
    std::string allowed;
    for (const auto& [method, _] : byPath->second)
      allowed += (allowed.empty() ? "" : ", ") + method;
    HttpResponse r = jsonError(405, "method_not_allowed", "allowed: " + allowed);
    r.headers.emplace_back("Allow", allowed);
    return r;
  }
  try {
    return byMethod->second(request);
  } catch (const std::exception& e) {
    // A handler bug must not take the connection (or the process) down, nor leak details.
    spdlog::error("event=handler_exception path={} what=\"{}\"", request.path, e.what());
    return jsonError(500, "internal", "internal error");
  }
}

}  // namespace conduit::portal
