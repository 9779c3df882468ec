#include <catch2/catch.hpp>

#include "conduit/portal/http.hpp"

using conduit::portal::HttpRequest;
using conduit::portal::HttpResponse;
using conduit::portal::Router;

namespace {
HttpRequest request(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}
}  // namespace

TEST_CASE("the router dispatches on method and exact path") {
  Router router;
  router.add("GET", "/a", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "A", {}, {}};
  });
  router.add("POST", "/a", [](const HttpRequest&) {
    return HttpResponse{201, "text/plain", "P", {}, {}};
  });
  CHECK(router.dispatch(request("GET", "/a")).body == "A");
  CHECK(router.dispatch(request("POST", "/a")).status == 201);
  CHECK(router.dispatch(request("GET", "/a/")).status == 404);
}

TEST_CASE("unknown paths are JSON 404, wrong methods JSON 405 with Allow") {
  Router router;
  router.add("GET", "/a", [](const HttpRequest&) { return HttpResponse{}; });
  const auto missing = router.dispatch(request("GET", "/../etc/passwd"));
  CHECK(missing.status == 404);
  CHECK(missing.body == R"({"error":"not_found","message":"no such resource"})");
  const auto wrong = router.dispatch(request("DELETE", "/a"));
  CHECK(wrong.status == 405);
  CHECK(wrong.contentType == "application/json");
  REQUIRE(wrong.headers.size() == 1);
  CHECK(wrong.headers[0] == std::pair<std::string, std::string>{"Allow", "GET"});
}

TEST_CASE("a throwing handler becomes a JSON 500 without details") {
  Router router;
  router.add("GET", "/boom",
             [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("secret detail"); });
  const auto r = router.dispatch(request("GET", "/boom"));
  CHECK(r.status == 500);
  CHECK(r.body.find("secret") == std::string::npos);
}

TEST_CASE("jsonError escapes user text") {
  const auto r = conduit::portal::jsonError(400, "bad", "a \"quoted\" <b>");
  CHECK(r.body == R"({"error":"bad","message":"a \"quoted\" <b>"})");
}
