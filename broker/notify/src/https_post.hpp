#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace conduit::notify {

/// One JSON POST to a webhook.
struct PostRequest {
  std::string url;                   // checked by checkWebhookUrl
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::filesystem::path caFile;  // empty: the system's CA certificates
  std::chrono::milliseconds timeout{10000};
};

/// What came back: an HTTP status, or an error that stopped the exchange.
struct PostOutcome {
  long status = 0;    // 0 when no response arrived
  std::string error;  // empty when a response arrived
  bool delivered() const { return error.empty() && status >= 200 && status < 300; }
  /// "HTTP 500" or the transport error, for logs and the failure audit.
  std::string describe() const;
};

/// Sends the request with libcurl: TLS 1.2+ with certificate and host name verification,
/// redirects not followed, no proxy for loopback URLs. Stops early once `abort` is set.
PostOutcome postJson(const PostRequest& request, const std::atomic<bool>& abort);

}  // namespace conduit::notify
