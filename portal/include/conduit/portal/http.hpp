#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace conduit::portal {

/// A parsed HTTP request as handlers see it: no Beast types, so handlers stay testable.
struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string path;                                          // target without the query string
  std::string query;                                         // text after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remoteAddress;  // the TCP peer; forwarding headers are not trusted

  /// The first header with this (lower-case) name, or empty.
  std::string_view header(std::string_view lowerName) const;
};

/// What a handler answers. The server adds security headers to every response.
struct HttpResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// A JSON error response: {"error": code, "message": text}.
HttpResponse jsonError(int status, std::string_view code, std::string_view message);

using Handler = std::function<HttpResponse(const HttpRequest&)>;

/// Maps method and exact path to a handler; unknown paths get 404, wrong methods 405, both JSON.
class Router {
 public:
  /// Registers handler for method and path; a second registration of the same pair replaces it.
  void add(std::string method, std::string path, Handler handler);

  /// Calls the matching handler. Never throws: a handler's exception becomes a JSON 500.
  HttpResponse dispatch(const HttpRequest& request) const;

 private:
  std::map<std::string, std::map<std::string, Handler>> routes_;  // path -> method -> handler
};

}  // namespace conduit::portal
