#include "notify_options.hpp"

namespace conduit::app {

notify::NotifierOptions notifierOptions(const Config& config) {
  notify::NotifierOptions o;
  o.windowWarning = std::chrono::minutes(config.notify.windowWarningMinutes);
  o.pollInterval = std::chrono::milliseconds(config.notify.pollIntervalMs);
  for (const auto& w : config.notify.webhooks) {
    notify::WebhookOptions hook;
    hook.name = w.name;
    hook.url = w.url;
    hook.secretFile = w.secretFile;
    hook.caFile = w.caFile;
    hook.events = {w.events.begin(), w.events.end()};
    hook.maxAttempts = w.maxAttempts;
    o.webhooks.push_back(std::move(hook));
  }
  return o;
}

}  // namespace conduit::app
