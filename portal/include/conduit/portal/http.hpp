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
  std::string remoteAddress;                  // the TCP peer; forwarding headers are not trusted
  std::map<std::string, std::string> params;  // path parameters ("{id}" segments), set by Router

  /// The first header with this (lower-case) name, or empty.
  std::string_view header(std::string_view lowerName) const;
  /// A path parameter, or empty.
  std::string param(const std::string& name) const;
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

/// Maps method and path to a handler; unknown paths get 404, wrong methods 405, both JSON.
/// A path segment written `{name}` matches any one non-empty segment and is passed to the
/// handler in `params`; exact paths win over patterns.
class Router {
 public:
  /// Registers handler for method and path; a second registration of the same pair replaces it.
  void add(std::string method, std::string path, Handler handler);

  /// Calls the matching handler. Never throws: a handler's exception becomes a JSON 500.
  HttpResponse dispatch(HttpRequest request) const;

 private:
  using Methods = std::map<std::string, Handler>;
  HttpResponse call(const Methods& methods, const HttpRequest& request) const;

  std::map<std::string, Methods> routes_;  // exact path -> method -> handler
  std::vector<std::pair<std::vector<std::string>, Methods>> patterns_;  // segments, handlers
};

}  // namespace conduit::portal
