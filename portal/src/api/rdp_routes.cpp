// Browser RDP: a WebSocket carrying one remote desktop (docs/api.md "Browser RDP"). The broker
// sends tiles and frame ends as binary messages; the browser sends input, acknowledgements
// and requests as JSON, checked here before anything reaches the session.
#include <spdlog/spdlog.h>

#include <thread>

#include "session_socket.hpp"

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

class RdpSocket final : public SessionSocket<RemoteDesktop> {
 public:
  RdpSocket(ApiState& s, std::string user, std::string asset, std::string source,
            std::string cookie, int width, int height)
      : SessionSocket(s, std::move(user), std::move(asset), std::move(cookie), "web_rdp",
                      "the browser closed the desktop"),
        source_(std::move(source)),
        width_(width),
        height_(height) {}

  // 512 KiB: clipboard text of up to 65,535 bytes as a JSON string, where escaping can make
  // a character up to six bytes (\u0001).
  std::size_t maxMessageBytes() const override { return 512 * 1024; }

  void onMessage(std::string data, bool binary) override {
    boost::system::error_code ec;
    auto msg = binary ? boost::json::value() : boost::json::parse(data, ec);
    const auto* o = msg.if_object();
    const auto* type = o ? o->if_contains("type") : nullptr;
    std::lock_guard lock(mutex_);
    if (ec || !type || !type->is_string()) {
      return refuse("a message the remote desktop does not understand");
    }
    if (!session_) return;  // still connecting: input before the desktop exists is dropped
    if (*type == "key") {
      const auto code = intField(*o, "code", 1, 0x1FF);
      const auto* down = o->if_contains("down");
      if (!code || !down || !down->is_bool()) return refuse("key needs code 1-511 and down");
      session_->key(static_cast<std::uint16_t>(*code), down->as_bool());
    } else if (*type == "pointer") {
      const auto x = intField(*o, "x", 0, session_->width() - 1);
      const auto y = intField(*o, "y", 0, session_->height() - 1);
      const auto flags = intField(*o, "flags", 1, 0xFFFF);
      if (!x || !y || !flags || (*flags & ~kPointerFlagsMask) != 0) {
        return refuse("pointer needs x and y on the desktop and RDP pointer flags");
      }
      session_->pointer(static_cast<std::uint16_t>(*flags), static_cast<std::uint16_t>(*x),
                        static_cast<std::uint16_t>(*y));
    } else if (*type == "ack") {
      const auto seq = intField(*o, "seq", 0, 0xFFFFFFFFll);
      if (!seq) return refuse("ack needs seq");
      session_->ack(static_cast<std::uint32_t>(*seq));
    } else if (*type == "cad") {
      session_->ctrlAltDel();
    } else if (*type == "refresh") {
      session_->refresh();
    } else if (*type == "clipboard") {
      const auto* text = o->if_contains("text");
      if (!text || !text->is_string()) return refuse("clipboard needs text");
      // Refused text (the policy, the size) is said to the vendor; the desktop goes on.
      if (auto st = session_->clipboard(std::string(text->as_string())); !st) {
        peer_->sendText(boost::json::serialize(
            boost::json::object{{"type", "clipboard_refused"}, {"message", st.error().message}}));
      }
    } else {
      refuse("unknown message type");
    }
  }

 private:
  core::Result<std::unique_ptr<RemoteDesktop>> start(const std::shared_ptr<WsPeer>& peer) override {
    RemoteDesktopIo io;
    // Sent by the session before its first frame (the page sizes its canvas from it).
    io.started = [peer](const std::string& id, int width, int height, bool toTarget,
                        bool fromTarget) {
      peer->sendText(
          boost::json::serialize(boost::json::object{{"type", "started"},
                                                     {"session_id", id},
                                                     {"width", width},
                                                     {"height", height},
                                                     {"clipboard", toTarget || fromTarget},
                                                     {"clipboard_to_target", toTarget},
                                                     {"clipboard_from_target", fromTarget}}));
    };
    io.clipboard = [peer](const std::string& text) {
      peer->sendText(
          boost::json::serialize(boost::json::object{{"type", "clipboard"}, {"text", text}}));
    };
    io.frame = [peer](std::string bytes) { peer->sendBinary(std::move(bytes)); };
    io.notice = [peer](const std::string& text) {
      peer->sendText(
          boost::json::serialize(boost::json::object{{"type", "notice"}, {"message", text}}));
    };
    io.closed = [peer](const std::string& reason) {
      peer->sendText(closedMessage(reason));
      peer->close(reason);
    };
    return s_.desktops->start(user_, asset_, source_, width_, height_, std::move(io));
  }

  std::optional<boost::json::object> startedMessage(const RemoteDesktop&) override {
    return std::nullopt;  // io.started sent it, ahead of the first frame
  }

  std::string source_;
  int width_, height_;
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
