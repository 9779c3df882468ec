// Browser RDP: a WebSocket carrying one remote desktop (docs/api.md "Browser RDP"). The broker
// sends tiles and frame ends as binary messages; the browser sends input, acknowledgements
// and requests as JSON, checked here before anything reaches the session.
#include <spdlog/spdlog.h>

#include <thread>

#include "api_state.hpp"

namespace conduit::portal {

namespace {

// RDP pointer flags a browser may send (MS-RDPBCGR 2.2.8.1.1.3.1.1.3).
constexpr std::int64_t kPointerFlagsMask = 0xF800 | 0x0200 | 0x0100 | 0x01FF;

std::optional<std::int64_t> intField(const boost::json::object& o, std::string_view key,
                                     std::int64_t lo, std::int64_t hi) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64()) return std::nullopt;
  const std::int64_t n = v->as_int64();
  if (n < lo || n > hi) return std::nullopt;
  return n;
}

class RdpSocket final : public WsHandler, public std::enable_shared_from_this<RdpSocket> {
 public:
  RdpSocket(ApiState& s, std::string user, std::string asset, std::string source,
            std::string cookie, int width, int height)
      : s_(s),
        user_(std::move(user)),
        asset_(std::move(asset)),
        source_(std::move(source)),
        cookie_(std::move(cookie)),
        width_(width),
        height_(height) {}

  void onOpen(std::shared_ptr<WsPeer> peer) override {
    peer_ = std::move(peer);
    watchId_ = s_.sockets.add(cookie_, [weak = weak_from_this()](const std::string& reason) {
      if (auto self = weak.lock()) self->shutdown(reason);
    });
    // Logging in to the target takes seconds: not on the server's threads.
    std::thread([self = shared_from_this()] { self->launch(); }).detach();
  }

  void onMessage(std::string data, bool binary) override {
    boost::system::error_code ec;
    auto msg = binary ? boost::json::value() : boost::json::parse(data, ec);
    const auto* o = msg.if_object();
    const auto* type = o ? o->if_contains("type") : nullptr;
    std::lock_guard lock(mutex_);
    if (ec || !type || !type->is_string()) {
      return refuse("a message the remote desktop does not understand");
    }
    if (!desktop_) return;  // still connecting: input before the desktop exists is dropped
    if (*type == "key") {
      const auto code = intField(*o, "code", 1, 0x1FF);
      const auto* down = o->if_contains("down");
      if (!code || !down || !down->is_bool()) return refuse("key needs code 1-511 and down");
      desktop_->key(static_cast<std::uint16_t>(*code), down->as_bool());
    } else if (*type == "pointer") {
      const auto x = intField(*o, "x", 0, desktop_->width() - 1);
      const auto y = intField(*o, "y", 0, desktop_->height() - 1);
      const auto flags = intField(*o, "flags", 1, 0xFFFF);
      if (!x || !y || !flags || (*flags & ~kPointerFlagsMask) != 0) {
        return refuse("pointer needs x and y on the desktop and RDP pointer flags");
      }
      desktop_->pointer(static_cast<std::uint16_t>(*flags), static_cast<std::uint16_t>(*x),
                        static_cast<std::uint16_t>(*y));
    } else if (*type == "ack") {
      const auto seq = intField(*o, "seq", 0, 0xFFFFFFFFll);
      if (!seq) return refuse("ack needs seq");
      desktop_->ack(static_cast<std::uint32_t>(*seq));
    } else if (*type == "cad") {
      desktop_->ctrlAltDel();
    } else if (*type == "refresh") {
      desktop_->refresh();
    } else {
      refuse("unknown message type");
    }
  }

  void onClose() override {
    s_.sockets.remove(watchId_);
    std::unique_ptr<RemoteDesktop> desktop;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      desktop = std::move(desktop_);
    }
    if (!desktop) return;
    desktop->close("the browser closed the desktop");
    // Destroying it waits for the session's thread to stop its worker and seal the recording
    // (up to seconds): not on the server's threads.
    std::thread([d = std::move(desktop)]() mutable { d.reset(); }).detach();
  }

 private:
  void launch() {
    auto peer = peer_;
    RemoteDesktopIo io;
    io.frame = [peer](std::string bytes) { peer->sendBinary(std::move(bytes)); };
    io.notice = [peer](const std::string& text) {
      peer->sendText(
          boost::json::serialize(boost::json::object{{"type", "notice"}, {"message", text}}));
    };
    io.closed = [peer](const std::string& reason) {
      peer->sendText(closedMessage(reason));
      peer->close(reason);
    };
    auto started = s_.desktops->start(user_, asset_, source_, width_, height_, std::move(io));
    if (!started) {
      spdlog::info("event=web_rdp_refused user={} asset={} reason=\"{}\"", user_, asset_,
                   started.error().message);
      peer->sendText(closedMessage(started.error().message));
      peer->close(started.error().message);
      return;
    }
    std::unique_ptr<RemoteDesktop> late;
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
        late = std::move(*started);
      } else {
        desktop_ = std::move(*started);
        peer->sendText(
            boost::json::serialize(boost::json::object{{"type", "started"},
                                                       {"session_id", desktop_->sessionId()},
                                                       {"width", desktop_->width()},
                                                       {"height", desktop_->height()}}));
      }
    }
    if (late) late->close("the browser closed the desktop");
  }

  /// Logout or an ended portal session: the desktop ends too.
  void shutdown(const std::string& reason) {
    {
      std::lock_guard lock(mutex_);
      if (desktop_) desktop_->close(reason);
    }
    if (peer_) peer_->close(reason);
  }

  // Called with mutex_ held.
  void refuse(const std::string& why) {
    if (desktop_) desktop_->close(why);
    peer_->close(why);
  }

  ApiState& s_;
  std::string user_, asset_, source_, cookie_;
  int width_, height_;
  std::shared_ptr<WsPeer> peer_;
  std::uint64_t watchId_ = 0;
  std::mutex mutex_;
  std::unique_ptr<RemoteDesktop> desktop_;
  bool closed_ = false;
};

/// ?width=/?height= within the desktop limits, or the fallback.
int dimension(const HttpRequest& r, std::string_view key, int lo, int hi, int fallback) {
  const std::string v = queryParam(r, key);
  if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos) {
    return fallback;
  }
  return std::clamp(std::stoi(v), lo, hi);
}

}  // namespace

void addRdpRoutes(Router& router, ApiState& s) {
  router.addWebSocket("/api/v1/rdp", [&s](const HttpRequest& r) -> WsAccept {
    std::lock_guard lock(s.mutex);
    auto caller =
        socketCaller(s, r, SocketCredentials::session, {core::Role::vendor}, "the remote desktop");
    if (!caller) return {errorResponse(caller.error()), nullptr};
    const std::string asset = queryParam(r, "asset");
    if (asset.empty() || asset.size() > 200) {
      return {jsonError(400, "bad_request", "name the asset: ?asset=NAME"), nullptr};
    }
    if (s.desktops == nullptr) {
      return {jsonError(503, "unavailable", "browser RDP is not available on this broker"),
              nullptr};
    }
    // 200x200 to 4096x2160 (broker/rdp's limits); the browser asks for its window's size.
    return {{},
            std::make_shared<RdpSocket>(s, caller->user.username, asset, r.remoteAddress,
                                        caller->cookieValue, dimension(r, "width", 200, 4096, 1024),
                                        dimension(r, "height", 200, 2160, 768))};
  });
}

}  // namespace conduit::portal
