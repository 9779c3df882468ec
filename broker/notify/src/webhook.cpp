#include "conduit/notify/webhook.hpp"

#include <curl/curl.h>
#include <memory>

namespace conduit::notify {

using core::ErrorCode;
using core::fail;

namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};

/// One part of a parsed URL, lower-cased by curl for scheme and as written for host.
std::string urlPart(CURLU* u, CURLUPart part) {
  char* text = nullptr;
  if (curl_url_get(u, part, &text, 0) != CURLUE_OK || text == nullptr) return {};
  std::string out(text);
  curl_free(text);
  return out;
}

}  // namespace

core::Status checkWebhookUrl(std::string_view url) {
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  if (!u) return fail(ErrorCode::internal, "out of memory parsing a URL");
  const std::string text(url);
  // No scheme guessing: "example.com/hook" must not become http://example.com/hook.
  if (curl_url_set(u.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return fail(ErrorCode::invalid_argument, "'" + text + "' is not a URL");
  }
  const std::string scheme = urlPart(u.get(), CURLUPART_SCHEME);
  std::string host = urlPart(u.get(), CURLUPART_HOST);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (host.empty()) return fail(ErrorCode::invalid_argument, "'" + text + "' names no host");
  if (scheme == "https") return core::Done{};
  if (scheme == "http") {
    // Plain http only where nothing crosses a network: the signature protects integrity, not
    // the confidentiality of who asked for access to what.
    if (host == "127.0.0.1" || host == "localhost" || host == "[::1]") return core::Done{};
    return fail(ErrorCode::invalid_argument,
                "'" + text +
                    "' uses http to a remote host; use https (http is allowed only to "
                    "127.0.0.1, [::1] or localhost)");
  }
  return fail(ErrorCode::invalid_argument, "'" + text + "' has scheme '" + scheme + "'; use https");
}

core::Status checkWebhookName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.');
  }
  if (ok) return core::Done{};
  return fail(ErrorCode::invalid_argument, "webhook name '" + std::string(name) +
                                               "' must be 1-64 letters, digits, '-', '_' or '.'");
}

}  // namespace conduit::notify
