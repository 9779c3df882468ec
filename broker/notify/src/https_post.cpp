#include "https_post.hpp"

#include <curl/curl.h>
#include <memory>
#include <mutex>

namespace conduit::notify {

namespace {

struct EasyDeleter {
  void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

// The response body is not used; it is read and dropped so the connection completes.
std::size_t discardBody(char* /*data*/, std::size_t size, std::size_t count,
                        void* /*user*/) noexcept {
  return size * count;
}

int abortWhenAsked(void* user, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/, curl_off_t /*ultotal*/,
                   curl_off_t /*ulnow*/) noexcept {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

bool isLoopbackUrl(const std::string& url) {
  for (const char* prefix : {"http://127.0.0.1", "http://localhost", "http://[::1]",
                             "https://127.0.0.1", "https://localhost", "https://[::1]"}) {
    const std::string p(prefix);
    if (url.size() > p.size() && url.compare(0, p.size(), p) == 0 &&
        (url[p.size()] == ':' || url[p.size()] == '/')) {
      return true;
    }
    if (url == p) return true;
  }
  return false;
}

}  // namespace

std::string PostOutcome::describe() const {
  if (!error.empty()) return error;
  return "HTTP " + std::to_string(status);
}

PostOutcome postJson(const PostRequest& request, const std::atomic<bool>& abort) {
  static std::once_flag initialised;
  std::call_once(initialised, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) return {0, "cannot create a libcurl handle"};
  std::unique_ptr<curl_slist, ListDeleter> headers;
  for (const auto& h : request.headers) {
    curl_slist* grown = curl_slist_append(headers.get(), h.c_str());
    if (grown == nullptr) return {0, "out of memory building headers"};
    (void)headers.release();
    headers.reset(grown);
  }
  // An empty Expect stops curl from waiting for "100 Continue" on larger bodies.
  if (curl_slist* grown = curl_slist_append(headers.get(), "Expect:"); grown != nullptr) {
    (void)headers.release();
    headers.reset(grown);
  }

  char errorText[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  const auto timeoutMs = static_cast<long>(request.timeout.count());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errorText);
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  // checkWebhookUrl allows http only to loopback; nothing else (file:, ftp:, ...) is spoken.
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  // A redirect is a failure: following it would send the signed body somewhere unconfigured.
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "conduit-notify/1");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeoutMs);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeoutMs);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // signals are for the process's sigwait thread
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!request.caFile.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, request.caFile.c_str());
  // A proxy from the environment must not see loopback traffic (it could not reach it anyway).
  if (isLoopbackUrl(request.url)) curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &discardBody);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &abortWhenAsked);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(&abort));

  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    std::string why = errorText[0] != '\0' ? errorText : curl_easy_strerror(rc);
    return {0, why};
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return {status, {}};
}

}  // namespace conduit::notify
