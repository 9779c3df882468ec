// The browser terminal: a WebSocket carrying one shell on an asset (docs/api.md "WebSockets").
#include <spdlog/spdlog.h>

#include <thread>

#include "api_state.hpp"

namespace conduit::portal {

namespace {

class TerminalSocket final : public WsHandler, public std::enable_shared_from_this<TerminalSocket> {
 public:
  TerminalSocket(ApiState& s, std::string user, std::string asset, std::string source,
                 std::string cookie, int cols, int rows)
      : s_(s),
        user_(std::move(user)),
        asset_(std::move(asset)),
        source_(std::move(source)),
        cookie_(std::move(cookie)),
        cols_(cols),
        rows_(rows) {}

  void onOpen(std::shared_ptr<WsPeer> peer) override {
    peer_ = std::move(peer);
    watchId_ = s_.sockets.add(cookie_, [weak = weak_from_this()](const std::string& reason) {
      if (auto self = weak.lock()) self->shutdown(reason);
    });
    // Connecting to the target blocks for up to its timeout: not on the server's threads. The
    // thread holds a reference, so it may outlive the socket; it ends with the connect attempt.
    std::thread([self = shared_from_this()] { self->launch(); }).detach();
  }

  void onMessage(std::string data, bool binary) override {
    boost::system::error_code ec;
    auto msg = binary ? boost::json::value() : boost::json::parse(data, ec);
    const auto* o = msg.if_object();
    const auto* type = o ? o->if_contains("type") : nullptr;
    std::lock_guard lock(mutex_);
    if (ec || !type || !type->is_string())
      return refuse("a message the terminal does not understand");
    if (*type == "input") {
      const auto* d = o->if_contains("data");
      if (!d || !d->is_string()) return refuse("input without data");
      if (session_) session_->input(std::string_view(d->as_string()));
    } else if (*type == "resize") {
      const auto* c = o->if_contains("cols");
      const auto* r = o->if_contains("rows");
      if (!c || !r || !c->is_int64() || !r->is_int64()) return refuse("resize needs cols and rows");
      if (session_) {
        session_->resize(static_cast<int>(c->as_int64()), static_cast<int>(r->as_int64()));
      }
    } else {
      refuse("unknown message type");
    }
  }

  void onClose() override {
    s_.sockets.remove(watchId_);
    std::lock_guard lock(mutex_);
    closed_ = true;
    if (session_) session_->close("the browser closed the terminal");
  }

 private:
  void launch() {
    auto peer = peer_;
    TerminalIo io;
    io.output = [peer](std::string_view bytes) { peer->sendBinary(std::string(bytes)); };
    io.notice = [peer](const std::string& text) {
      peer->sendText(
          boost::json::serialize(boost::json::object{{"type", "notice"}, {"message", text}}));
    };
    io.closed = [peer](const std::string& reason) {
      peer->sendText(closedMessage(reason));
      peer->close(reason);
    };
    auto started = s_.terminals->start(user_, asset_, source_, cols_, rows_, std::move(io));
    if (!started) {
      spdlog::info("event=web_terminal_refused user={} asset={} reason=\"{}\"", user_, asset_,
                   started.error().message);
      peer->sendText(closedMessage(started.error().message));
      peer->close(started.error().message);
      return;
    }
    std::lock_guard lock(mutex_);
    session_ = std::move(*started);
    if (closed_) {
      session_->close("the browser closed the terminal");
      return;
    }
    peer->sendText(boost::json::serialize(
        boost::json::object{{"type", "started"}, {"session_id", session_->sessionId()}}));
  }

  /// Logout or an ended portal session: the shell ends too.
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
    peer_->close(why);
  }

  ApiState& s_;
  std::string user_, asset_, source_, cookie_;
  int cols_, rows_;
  std::shared_ptr<WsPeer> peer_;
  std::uint64_t watchId_ = 0;
  std::mutex mutex_;
  std::unique_ptr<TerminalSession> session_;
  bool closed_ = false;
};

int dimension(const HttpRequest& r, std::string_view key, int fallback) {
  const std::string v = queryParam(r, key);
  if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos) {
    return fallback;
  }
  const int n = std::stoi(v);
  return n >= 1 && n <= 1000 ? n : fallback;
}

}  // namespace

void addTerminalRoutes(Router& router, ApiState& s) {
  router.addWebSocket("/api/v1/terminal", [&s](const HttpRequest& r) -> WsAccept {
    std::lock_guard lock(s.mutex);
    auto caller = socketCaller(s, r, SocketCredentials::session, {core::Role::vendor},
                               "the browser terminal");
    if (!caller) return {errorResponse(caller.error()), nullptr};
    const std::string asset = queryParam(r, "asset");
    if (asset.empty() || asset.size() > 200) {
      return {jsonError(400, "bad_request", "name the asset: ?asset=NAME"), nullptr};
    }
    if (s.terminals == nullptr) {
      return {jsonError(503, "unavailable", "the browser terminal needs the SSH gateway"), nullptr};
    }
    return {{},
            std::make_shared<TerminalSocket>(s, caller->user.username, asset, r.remoteAddress,
                                             caller->cookieValue, dimension(r, "cols", 80),
                                             dimension(r, "rows", 24))};
  });
}

}  // namespace conduit::portal
