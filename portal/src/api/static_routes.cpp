// The built front end (portal/web/dist): index.html and the hashed files vite writes to assets/.
#include <fstream>
#include <sstream>

#include "api_state.hpp"

namespace conduit::portal {

namespace {

std::string contentTypeFor(const std::string& name) {
  const auto dot = name.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "woff2") return "font/woff2";
  if (ext == "json") return "application/json";
  return "application/octet-stream";
}

HttpResponse serveFile(const std::filesystem::path& file, bool immutable) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return jsonError(404, "not_found", "no such resource");
  std::ostringstream body;
  body << in.rdbuf();
  HttpResponse r{200, contentTypeFor(file.filename().string()), body.str(), {}, {}};
  // vite names assets by content hash, so they never change; index.html must always be fresh.
  r.headers.emplace_back("Cache-Control",
                         immutable ? "public, max-age=31536000, immutable" : "no-cache");
  return r;
}

}  // namespace

void addStaticRoutes(Router& router, const std::filesystem::path& webRoot) {
  auto index = [webRoot](const HttpRequest&) { return serveFile(webRoot / "index.html", false); };
  router.add("GET", "/", index);
  router.add("GET", "/index.html", index);
  router.add("GET", "/assets/{file}", [webRoot](const HttpRequest& r) {
    const std::string name = r.param("file");
    // One plain file name: no separators, no "..", nothing hidden.
    if (name.empty() || name.size() > 200 || name.front() == '.' ||
        name.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            std::string::npos) {
      return jsonError(404, "not_found", "no such resource");
    }
    return serveFile(webRoot / "assets" / name, true);
  });
}

}  // namespace conduit::portal
