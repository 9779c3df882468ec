#pragma once

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/result.hpp"
#include "conduit/notify/retry_schedule.hpp"

namespace conduit::notify {

/// One receiver of notifications ([[notify.webhook]] in conduit.toml).
struct WebhookOptions {
  std::string name;                  // shown in logs and in notify.failed; part of delivery ids
  std::string url;                   // https://..., or http:// to a loopback address
  std::filesystem::path secretFile;  // HMAC key; mode 0600
  std::filesystem::path caFile;      // empty: the system's CA certificates
  std::set<std::string> events;      // empty: every notification event
  int maxAttempts = 6;               // then the delivery is given up and audited

  bool wants(std::string_view event) const {
    return events.empty() || events.contains(std::string(event));
  }
};

/// Everything the Notifier needs besides the database and the clock.
struct NotifierOptions {
  std::vector<WebhookOptions> webhooks;
  // 10 min: enough for a vendor to save work and for the owner group to extend the window.
  std::chrono::minutes windowWarning{10};
  // 500 ms: new audit events reach the receivers within about a second; one indexed query per
  // poll is negligible.
  std::chrono::milliseconds pollInterval{500};
  RetrySchedule retry;
  // 10 s: a chat or ticketing API answers in well under a second; longer holds up the other
  // webhooks, which share one worker thread.
  std::chrono::milliseconds requestTimeout{10000};
};

/// Checks a webhook URL: https to any host, or plain http only to 127.0.0.1, [::1] or
/// localhost (a local receiver or relay; nothing leaves the host unencrypted).
/// Fails with `invalid_argument` saying why.
core::Status checkWebhookUrl(std::string_view url);

/// Checks a webhook name: 1-64 letters, digits, '-', '_' or '.'. Fails with `invalid_argument`.
core::Status checkWebhookName(std::string_view name);

}  // namespace conduit::notify
