// The TCP tunnel: a WebSocket carrying one TCP connection to an asset's tcp endpoint, for
// `conduit tunnel` on a vendor's laptop (docs/api.md "TCP tunnel"). Translates WebSocket
// messages into TunnelSession calls and TunnelIo callbacks into messages; the broker decides.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "api_state.hpp"

namespace conduit::portal {

namespace {

class TunnelSocket final : public WsHandler, public std::enable_shared_from_this<TunnelSocket> {
 public:
  TunnelSocket(ApiState& s, TunnelOpenRequest request, std::string watchKey)
      : s_(s), request_(std::move(request)), watchKey_(std::move(watchKey)) {}

  void onOpen(std::shared_ptr<WsPeer> peer) override {
    peer_ = std::move(peer);
    // Logging out, a timed-out portal session or a revoked API token ends the tunnel.
    watchId_ = s_.sockets.add(watchKey_, [weak = weak_from_this()](const std::string& reason) {
      if (auto self = weak.lock()) self->shutdown(reason);
    });
    // Opening connects to the endpoint (up to its timeout): not on the server's threads.
    std::thread([self = shared_from_this()] { self->launch(); }).detach();
  }

  void onMessage(std::string data, bool binary) override {
    std::lock_guard lock(mutex_);
    if (binary) {
      if (session_) {
        session_->send(data);
        return;
      }
      // Bytes sent before "started" wait here, bounded by the window like any others.
      early_ += data;
      if (early_.size() > kTunnelWindowBytes) {
        refuse("the client sent more than its flow-control window allows");
      }
      return;
    }
    boost::system::error_code ec;
    auto msg = boost::json::parse(data, ec);
    const auto* o = msg.if_object();
    const auto* type = o ? o->if_contains("type") : nullptr;
    if (ec || !type || !type->is_string())
      return refuse("a message the tunnel does not understand");
    if (*type == "ack") {
      const auto* n = o->if_contains("bytes");
      if (!n || !n->is_int64() || n->as_int64() < 0) return refuse("ack needs bytes");
      const auto bytes = static_cast<std::uint64_t>(n->as_int64());
      // Data can reach the client before launch() has the session in hand.
      if (session_) {
        session_->acknowledge(bytes);
      } else {
        earlyAck_ = std::min<std::uint64_t>(earlyAck_ + bytes, std::uint64_t{1} << 62);
      }
    } else if (*type == "eof") {
      if (session_) {
        session_->endOfStream();
      } else {
        earlyEof_ = true;
      }
    } else {
      refuse("unknown message type");
    }
  }

  void onClose() override {
    if (watchId_ != 0) s_.sockets.remove(watchId_);
    std::lock_guard lock(mutex_);
    closed_ = true;
    if (session_) session_->close("the client closed the tunnel");
  }

 private:
  void launch() {
    auto peer = peer_;
    TunnelIo io;
    io.started = [peer, asset = request_.asset, port = request_.port](const std::string& id) {
      peer->sendText(boost::json::serialize(
          boost::json::object{{"type", "started"},
                              {"session_id", id},
                              {"asset", asset},
                              {"port", port},
                              {"window", static_cast<std::uint64_t>(kTunnelWindowBytes)}}));
    };
    io.data = [peer](std::string bytes) { peer->sendBinary(std::move(bytes)); };
    io.ack = [peer](std::uint64_t n) {
      peer->sendText(boost::json::serialize(boost::json::object{{"type", "ack"}, {"bytes", n}}));
    };
    io.eof = [peer] { peer->sendText(R"({"type":"eof"})"); };
    io.notice = [peer](const std::string& text) {
      peer->sendText(
          boost::json::serialize(boost::json::object{{"type", "notice"}, {"message", text}}));
    };
    io.closed = [peer](const std::string& reason) {
      peer->sendText(closedMessage(reason));
      peer->close(reason);
    };
    auto opened = s_.tunnels->open(request_, std::move(io));
    if (!opened) {
      spdlog::info("event=web_tunnel_refused user={} asset={} port={} reason=\"{}\"", request_.user,
                   request_.asset, request_.port, opened.error().message);
      peer->sendText(closedMessage(opened.error().message));
      peer->close(opened.error().message);
      return;
    }
    std::lock_guard lock(mutex_);
    session_ = std::move(*opened);
    if (closed_) {
      session_->close("the client closed the tunnel");
      return;
    }
    if (earlyAck_ > 0) session_->acknowledge(earlyAck_);
    if (!early_.empty()) session_->send(std::exchange(early_, {}));
    if (earlyEof_) session_->endOfStream();
  }

  /// Logout or an ended portal session: the tunnel ends too.
  void shutdown(const std::string& reason) {
    {
      std::lock_guard lock(mutex_);
      if (session_) session_->close(reason);
    }
    if (peer_) peer_->close(reason);
  }

  // Called with mutex_ held.
  void refuse(const std::string& why) {
    if (session_) session_->close(why);
    peer_->sendText(closedMessage(why));
    peer_->close(why);
  }

  ApiState& s_;
  TunnelOpenRequest request_;
  std::string watchKey_;  // SocketWatch key: the session cookie or the API token
  std::shared_ptr<WsPeer> peer_;
  std::uint64_t watchId_ = 0;
  std::mutex mutex_;
  std::unique_ptr<TunnelSession> session_;
  std::string early_;  // bytes that came before the session started
  std::uint64_t earlyAck_ = 0;
  bool earlyEof_ = false;
  bool closed_ = false;
};

/// The port as a number 1..65535; 0 for anything else.
std::uint32_t portParam(const HttpRequest& r) {
  const std::string v = queryParam(r, "port");
  if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos) {
    return 0;
  }
  const auto n = static_cast<std::uint32_t>(std::stoul(v));
  return n <= 65535 ? n : 0;
}

}  // namespace

void addTunnelRoutes(Router& router, ApiState& s) {
  router.addWebSocket("/api/v1/tunnel", [&s](const HttpRequest& r) -> WsAccept {
    std::lock_guard lock(s.mutex);
    // `conduit tunnel` on a vendor's laptop signs in with an API token.
    auto caller = socketCaller(s, r, SocketCredentials::session_or_token, {core::Role::vendor});
    if (!caller) return {errorResponse(caller.error()), nullptr};
    const std::string asset = queryParam(r, "asset");
    if (asset.empty() || asset.size() > 200) {
      return {jsonError(400, "bad_request", "name the asset: ?asset=NAME&port=PORT"), nullptr};
    }
    const std::uint32_t port = portParam(r);
    if (port == 0) {
      return {jsonError(400, "bad_request", "name the endpoint's port (1-65535): &port=PORT"),
              nullptr};
    }
    if (s.tunnels == nullptr) {
      return {jsonError(503, "unavailable", "tunnels need the broker's gateway backend"), nullptr};
    }
    return {
        {},
        std::make_shared<TunnelSocket>(
            s, TunnelOpenRequest{caller->user.username, asset, port, r.remoteAddress, r.remotePort},
            caller->watchKey)};
  });
}

void PortalApi::setTunnelLauncher(TunnelLauncher* launcher) {
  state_->tunnels = launcher;
}

}  // namespace conduit::portal
