#include "conduit/session/live_hub.hpp"

#include <functional>
#include <vector>

namespace conduit::session {

LiveHub::Subscription::~Subscription() {
  hub_.unsubscribe(sessionId_, id_);
}

void LiveHub::started(const std::string& sessionId) {
  std::lock_guard lock(mutex_);
  live_.try_emplace(sessionId);
}

void LiveHub::startedDesktop(const std::string& sessionId, std::string header,
                             std::function<void()> refresh) {
  std::lock_guard lock(mutex_);
  auto& live = live_[sessionId];
  live.desktop = true;
  live.header = std::move(header);
  live.refresh = std::move(refresh);
}

void LiveHub::publish(const std::string& sessionId, std::string_view bytes) {
  std::lock_guard lock(mutex_);
  auto it = live_.find(sessionId);
  if (it == live_.end()) return;
  if (it->second.desktop && it->second.sinks.empty()) return;
  if (!it->second.desktop) {
    auto& b = it->second.backlog;
    b.append(bytes);
    if (b.size() > backlog_) b.erase(0, b.size() - backlog_);
  }
  // Under the lock, so a sink never sees output out of order or after it unsubscribed; sinks
  // only enqueue.
  for (auto& [id, sink] : it->second.sinks) sink.output(bytes);
}

void LiveHub::publishText(const std::string& sessionId, const std::string& text) {
  std::lock_guard lock(mutex_);
  auto it = live_.find(sessionId);
  if (it == live_.end()) return;
  for (auto& [id, sink] : it->second.sinks) {
    if (sink.text) sink.text(text);
  }
}

void LiveHub::ended(const std::string& sessionId, const std::string& reason) {
  std::map<std::uint64_t, Sink> sinks;
  {
    std::lock_guard lock(mutex_);
    auto it = live_.find(sessionId);
    if (it == live_.end()) return;
    sinks = std::move(it->second.sinks);
    live_.erase(it);
  }
  for (auto& [id, sink] : sinks) sink.ended(reason);
}

std::unique_ptr<LiveHub::Subscription> LiveHub::subscribe(const std::string& sessionId, Sink sink) {
  std::function<void()> refresh;
  std::unique_ptr<Subscription> subscription;
  {
    std::lock_guard lock(mutex_);
    auto it = live_.find(sessionId);
    if (it == live_.end()) return nullptr;
    if (it->second.desktop) {
      if (sink.text) sink.text(it->second.header);
      refresh = it->second.refresh;
    } else if (!it->second.backlog.empty()) {
      sink.output(it->second.backlog);
    }
    const std::uint64_t id = nextId_++;
    it->second.sinks.emplace(id, std::move(sink));
    subscription = std::make_unique<Subscription>(*this, sessionId, id);
  }
  // Outside the lock: it asks the session's RDP worker for a keyframe (a socket write).
  if (refresh) refresh();
  return subscription;
}

bool LiveHub::isLive(const std::string& sessionId) const {
  std::lock_guard lock(mutex_);
  return live_.contains(sessionId);
}

void LiveHub::unsubscribe(const std::string& sessionId, std::uint64_t id) {
  std::lock_guard lock(mutex_);
  if (auto it = live_.find(sessionId); it != live_.end()) it->second.sinks.erase(id);
}

}  // namespace conduit::session
