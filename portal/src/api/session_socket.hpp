#pragma once

// A WebSocket that carries one broker session started for it (the browser terminal, the remote
// desktop). Shared by their route files: the session starts on a thread of its own (logging in
// to the target takes seconds, never on the server's threads) and ends with the socket, with
// logout and with the end of the portal session. The socket owns it until the socket is
// destroyed, so the server's shutdown waits for every session's end (and its sealed recording)
// before the broker's services go. Not a public header.

#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "api_state.hpp"

namespace conduit::portal {

/// `Session` has close(reason) and sessionId(). Subclasses start it and read the browser's
/// messages (onMessage, with mutex_ held while they use session_).
template <typename Session>
class SessionSocket : public WsHandler,
                      public std::enable_shared_from_this<SessionSocket<Session>> {
 public:
  void onOpen(std::shared_ptr<WsPeer> peer) final {
    peer_ = std::move(peer);
    watchId_ = s_.sockets.add(cookie_, [weak = this->weak_from_this()](const std::string& reason) {
      if (auto self = weak.lock()) self->shutdown(reason);
    });
    // The thread holds a reference, so it may outlive the socket; it ends with the start.
    std::thread([self = this->shared_from_this()] { self->launch(); }).detach();
  }

  void onClose() final {
    s_.sockets.remove(watchId_);
    std::lock_guard lock(mutex_);
    closed_ = true;
    if (session_) session_->close(browserClosed_);
  }

 protected:
  /// `what` names the socket in logs ("web_terminal"); `browserClosed` is the session's end
  /// reason when the browser goes away.
  SessionSocket(ApiState& s, std::string user, std::string asset, std::string cookie,
                std::string what, std::string browserClosed)
      : s_(s),
        user_(std::move(user)),
        asset_(std::move(asset)),
        cookie_(std::move(cookie)),
        what_(std::move(what)),
        browserClosed_(std::move(browserClosed)) {}

  /// Starts the session (blocking), its callbacks writing to `peer`.
  virtual core::Result<std::unique_ptr<Session>> start(const std::shared_ptr<WsPeer>& peer) = 0;
  /// The first message once it runs ({"type":"started",...}); nullopt when the session sends
  /// it itself (ahead of its first output).
  virtual std::optional<boost::json::object> startedMessage(const Session& session) = 0;

  /// Ends the session and the socket with `why`. Called with mutex_ held.
  void refuse(const std::string& why) {
    if (session_) session_->close(why);
    peer_->close(why);
  }

  ApiState& s_;
  const std::string user_, asset_;
  std::shared_ptr<WsPeer> peer_;
  std::mutex mutex_;
  std::unique_ptr<Session> session_;  // null until started

 private:
  void launch() {
    auto peer = peer_;
    auto started = start(peer);
    if (!started) {
      spdlog::info("event={}_refused user={} asset={} reason=\"{}\"", what_, user_, asset_,
                   started.error().message);
      peer->sendText(closedMessage(started.error().message));
      peer->close(started.error().message);
      return;
    }
    std::lock_guard lock(mutex_);
    session_ = std::move(*started);
    if (closed_) {
      session_->close(browserClosed_);  // the browser left while the session started
      return;
    }
    if (auto message = startedMessage(*session_)) {
      peer->sendText(boost::json::serialize(*message));
    }
  }

  /// Logout or an ended portal session: the session ends too.
  void shutdown(const std::string& reason) {
    {
      std::lock_guard lock(mutex_);
      if (session_) session_->close(reason);
    }
    if (peer_) peer_->close(reason);
  }

  const std::string cookie_, what_, browserClosed_;
  std::uint64_t watchId_ = 0;
  bool closed_ = false;
};

}  // namespace conduit::portal
