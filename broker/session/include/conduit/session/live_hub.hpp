#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace conduit::session {

/// Fans out the terminal output of live sessions to engineers watching them (NERC CIP-005
/// R2.4: "determine active vendor sessions", here also what they do). Publishers are the
/// gateways' session threads; subscribers are the portal's live-view WebSockets. A late viewer
/// first gets the last `backlog` bytes, so the screen is not blank until the next output.
/// Thread-safe; sinks are called under the hub's lock (and possibly under a lock of the
/// publisher's caller, e.g. a portal socket's): they must not block or call back into the hub.
/// The portal's sinks only queue on their socket.
class LiveHub {
 public:
  struct Sink {
    std::function<void(std::string_view)> output;   // terminal bytes
    std::function<void(const std::string&)> ended;  // the session ended, with its reason
    // A text message for the viewer: a desktop session's size before any output, then e.g.
    // clipboard text as it passes (publishText); optional.
    std::function<void(const std::string&)> text;
  };

  /// Unsubscribes when destroyed.
  class Subscription {
   public:
    Subscription(LiveHub& hub, std::string sessionId, std::uint64_t id)
        : hub_(hub), sessionId_(std::move(sessionId)), id_(id) {}
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

   private:
    LiveHub& hub_;
    std::string sessionId_;
    std::uint64_t id_;
  };

  // 64 KiB: more than a full 80x24 or 200x60 screen with its escape sequences.
  explicit LiveHub(std::size_t backlog = 64 * 1024) : backlog_(backlog) {}

  /// A session started; only started sessions can be watched.
  void started(const std::string& sessionId);
  /// A started session shows a desktop (browser RDP), not a terminal: its output is whole
  /// tile and frame-end messages, kept in no backlog; a new viewer gets `header` as text, then
  /// `refresh` is called (outside the hub's lock) so the next frame is a full-screen keyframe.
  void startedDesktop(const std::string& sessionId, std::string header,
                      std::function<void()> refresh);
  void publish(const std::string& sessionId, std::string_view bytes);
  /// A text message for the current viewers (e.g. clipboard text passing in a desktop
  /// session); not kept for later ones.
  void publishText(const std::string& sessionId, const std::string& text);
  void ended(const std::string& sessionId, const std::string& reason);

  /// Subscribes to a live session; nullptr if it is not live. The backlog is delivered to
  /// sink.output before this returns.
  std::unique_ptr<Subscription> subscribe(const std::string& sessionId, Sink sink);

  bool isLive(const std::string& sessionId) const;

 private:
  struct Live {
    std::string backlog;
    std::map<std::uint64_t, Sink> sinks;
    bool desktop = false;
    std::string header;
    std::function<void()> refresh;
  };
  void unsubscribe(const std::string& sessionId, std::uint64_t id);

  std::size_t backlog_;
  mutable std::mutex mutex_;
  std::map<std::string, Live> live_;
  std::uint64_t nextId_ = 1;
};

}  // namespace conduit::session
