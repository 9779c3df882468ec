#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace conduit::portal {

/// A parsed HTTP request as handlers see it: no Beast types, so handlers stay testable.
struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string path;                                          // target without the query string
  std::string query;                                         // text after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remoteAddress;                  // the TCP peer; forwarding headers are not trusted
  std::uint16_t remotePort = 0;               // its port
  std::map<std::string, std::string> params;  // path parameters ("{id}" segments), set by Router

  /// The first header with this (lower-case) name, or empty.
  std::string_view header(std::string_view lowerName) const;
  /// A path parameter, or empty.
  std::string param(const std::string& name) const;
};

/// A file the server sends as a response's body and then closes: an export spooled to an
/// unlinked temporary file, so a large download does not sit in memory.
class BodyFile {
 public:
  explicit BodyFile(int fd) noexcept : fd_(fd) {}
  ~BodyFile();  // closes the descriptor unless released
  BodyFile(const BodyFile&) = delete;
  BodyFile& operator=(const BodyFile&) = delete;
  /// The descriptor, now the caller's to close.
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

/// What a handler answers. The server adds security headers to every response.
struct HttpResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<BodyFile> bodyFile;  // when set, the body instead of `body` (from its start)
};

/// A JSON error response: {"error": code, "message": text}.
HttpResponse jsonError(int status, std::string_view code, std::string_view message);

using Handler = std::function<HttpResponse(const HttpRequest&)>;

/// The server's side of an open WebSocket, handed to the application. Thread-safe: messages
/// are queued on the connection's strand. A peer that falls too far behind is disconnected.
class WsPeer {
 public:
  virtual ~WsPeer() = default;
  virtual void sendText(std::string text) = 0;
  virtual void sendBinary(std::string bytes) = 0;
  /// A binary message that may be dropped (live sound): sent only if at most `maxQueued`
  /// bytes wait to go to the browser when its turn comes, so it never makes a slow browser's
  /// queue grow.
  virtual void sendBinaryIfRoom(std::string bytes, std::size_t maxQueued) = 0;
  /// Sends what is queued, then a close frame with `reason` (at most 120 bytes are sent).
  virtual void close(std::string reason) = 0;
};

/// The application's side of a WebSocket. Called on the connection's strand, one at a time;
/// onClose exactly once (after onOpen), whoever closed.
class WsHandler {
 public:
  virtual ~WsHandler() = default;
  virtual void onOpen(std::shared_ptr<WsPeer> peer) = 0;
  virtual void onMessage(std::string data, bool binary) = 0;
  virtual void onClose() = 0;
  /// The largest message the browser may send; a bigger one closes the socket. 64 KiB: keys,
  /// acknowledgements and tunnel data are small.
  virtual std::size_t maxMessageBytes() const { return 64 * 1024; }
};

/// An upgrade request is refused with an ordinary HTTP answer, or accepted with a handler.
struct WsAccept {
  HttpResponse refusal;
  std::shared_ptr<WsHandler> handler;  // null: refused
};
using WsRoute = std::function<WsAccept(const HttpRequest&)>;

/// Maps method and path to a handler; unknown paths get 404, wrong methods 405, both JSON.
/// A path segment written `{name}` matches any one non-empty segment and is passed to the
/// handler in `params`; exact paths win over patterns.
class Router {
 public:
  /// Registers handler for method and path; a second registration of the same pair replaces it.
  void add(std::string method, std::string path, Handler handler);

  /// Calls the matching handler. Never throws: a handler's exception becomes a JSON 500.
  HttpResponse dispatch(HttpRequest request) const;

  /// Registers a WebSocket endpoint (matched like add(): exact or with "{name}" segments).
  void addWebSocket(std::string path, WsRoute route);
  /// The answer to an upgrade request: the route's, or a JSON 404 if there is none.
  WsAccept upgrade(HttpRequest request) const;

 private:
  using Methods = std::map<std::string, Handler>;
  HttpResponse call(const Methods& methods, const HttpRequest& request) const;

  std::map<std::string, Methods> routes_;  // exact path -> method -> handler
  std::vector<std::pair<std::vector<std::string>, Methods>> patterns_;  // segments, handlers
  std::vector<std::pair<std::vector<std::string>, WsRoute>> wsRoutes_;
};

}  // namespace conduit::portal
