#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "conduit/portal/http.hpp"

namespace conduit::portal {

namespace {

std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto end = path.find('/', start);
    out.emplace_back(path.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

bool isParameter(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

/// Whether path segments `parts` match `pattern`; fills params for "{name}" segments.
bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& parts,
             std::map<std::string, std::string>& params) {
  if (pattern.size() != parts.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (isParameter(pattern[i])) {
      if (parts[i].empty()) return false;
      params[pattern[i].substr(1, pattern[i].size() - 2)] = parts[i];
    } else if (pattern[i] != parts[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view lowerName) const {
  for (const auto& [name, value] : headers) {
    if (name == lowerName) return value;
  }
  return {};
}

std::string HttpRequest::param(const std::string& name) const {
  const auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

BodyFile::~BodyFile() {
  if (fd_ >= 0) ::close(fd_);
}

HttpResponse jsonError(int status, std::string_view code, std::string_view message) {
  boost::json::object body;
  body["error"] = code;
  body["message"] = message;
  return HttpResponse{status, "application/json", boost::json::serialize(body), {}, {}};
}

void Router::add(std::string method, std::string path, Handler handler) {
  if (path.find('{') == std::string::npos) {
    routes_[std::move(path)][std::move(method)] = std::move(handler);
    return;
  }
  auto parts = segments(path);
  for (auto& [pattern, methods] : patterns_) {
    if (pattern == parts) {
      methods[std::move(method)] = std::move(handler);
      return;
    }
  }
  patterns_.emplace_back(std::move(parts), Methods{{std::move(method), std::move(handler)}});
}

HttpResponse Router::dispatch(HttpRequest request) const {
  if (const auto exact = routes_.find(request.path); exact != routes_.end()) {
    return call(exact->second, request);
  }
  const auto parts = segments(request.path);
  for (const auto& [pattern, methods] : patterns_) {
    std::map<std::string, std::string> params;
    if (!matches(pattern, parts, params)) continue;
    request.params = std::move(params);
    return call(methods, request);
  }
  return jsonError(404, "not_found", "no such resource");
}

void Router::addWebSocket(std::string path, WsRoute route) {
  wsRoutes_.emplace_back(segments(path), std::move(route));
}

WsAccept Router::upgrade(HttpRequest request) const {
  const auto parts = segments(request.path);
  for (const auto& [pattern, route] : wsRoutes_) {
    std::map<std::string, std::string> params;
    if (!matches(pattern, parts, params)) continue;
    request.params = std::move(params);
    try {
      return route(request);
    } catch (const std::exception& e) {
      spdlog::error("event=handler_exception path={} what=\"{}\"", request.path, e.what());
      return {jsonError(500, "internal", "internal error"), nullptr};
    }
  }
  return {jsonError(404, "not_found", "no such resource"), nullptr};
}

HttpResponse Router::call(const Methods& methods, const HttpRequest& request) const {
  const auto byMethod = methods.find(request.method);
  if (byMethod == methods.end()) {
    std::string allowed;
    for (const auto& [method, _] : methods) allowed += (allowed.empty() ? "" : ", ") + method;
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
