// The browser terminal: a WebSocket carrying one shell on an asset (docs/api.md "WebSockets").
#include <spdlog/spdlog.h>

#include <thread>

#include "session_socket.hpp"

namespace conduit::portal {

namespace {

class TerminalSocket final : public SessionSocket<TerminalSession> {
 public:
  TerminalSocket(ApiState& s, std::string user, std::string asset, std::string source,
                 std::string cookie, int cols, int rows)
      : SessionSocket(s, std::move(user), std::move(asset), std::move(cookie), "web_terminal",
                      "the browser closed the terminal"),
        source_(std::move(source)),
        cols_(cols),
        rows_(rows) {}

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

 private:
  core::Result<std::unique_ptr<TerminalSession>> start(
      const std::shared_ptr<WsPeer>& peer) override {
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
    return s_.terminals->start(user_, asset_, source_, cols_, rows_, std::move(io));
  }

  std::optional<boost::json::object> startedMessage(const TerminalSession& session) override {
    return boost::json::object{{"type", "started"}, {"session_id", session.sessionId()}};
  }

  std::string source_;
  int cols_, rows_;
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
