#include "conduit/portal/server.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "conduit/portal/metrics.hpp"
#include "tls_context.hpp"

namespace conduit::portal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using core::ErrorCode;
using core::fail;

namespace {

// Security headers on every response (issue: portal). The CSP forbids inline scripts and
// any origin but our own; framing is denied against clickjacking of approve/kill buttons.
// 'wasm-unsafe-eval' lets the replay player compile its WebAssembly terminal (it allows no
// JavaScript eval); inline styles are allowed because xterm.js inserts <style> elements, and
// all user text is rendered as text, never markup (docs/threat-model.md).
template <class Body>
void addSecurityHeaders(http::response<Body>& res) {
  res.set(http::field::strict_transport_security, "max-age=31536000; includeSubDomains");
  res.set("Content-Security-Policy",
          "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
          "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  res.set(http::field::x_frame_options, "DENY");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  // API answers, health and metrics are never cached; static files set their own policy.
  if (res.find(http::field::cache_control) == res.end()) {
    res.set(http::field::cache_control, "no-store");
  }
}

}  // namespace

class Server::Impl {
 public:
  Impl(const ServerOptions& options, Router router, HttpMetrics& metrics,
       std::shared_ptr<ssl::context> tls)
      : options_(options),
        router_(std::move(router)),
        metrics_(metrics),
        tls_(std::move(tls)),
        ioc_(static_cast<int>(options.threads == 0 ? 1 : options.threads)),
        acceptor_(asio::make_strand(ioc_)),
        deadline_(ioc_) {}

  class Session;

  core::Status listen() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options_.address, ec);
    if (ec) return fail(ErrorCode::invalid_argument, "bad listen address " + options_.address);
    const tcp::endpoint endpoint(address, options_.port);
    const std::string where = options_.address + ":" + std::to_string(options_.port);
    if (acceptor_.open(endpoint.protocol(), ec); ec) {
      return fail(ErrorCode::unavailable, "cannot open socket for " + where + ": " + ec.message());
    }
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (acceptor_.bind(endpoint, ec); ec) {
      return fail(ErrorCode::unavailable, "cannot listen on " + where + ": " + ec.message());
    }
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
      return fail(ErrorCode::unavailable, "cannot listen on " + where + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    return core::Done{};
  }

  void startAccepting() { doAccept(); }

  void doAccept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping_) return;
        spdlog::warn("event=accept_failed error=\"{}\"", ec.message());
      } else if (openSessions() >= options_.maxConnections) {
        // Over the limit: close at once rather than queue; a flood must not exhaust memory.
        metrics_.connectionRefused();
        s.close(ec);
      } else {
        // Small messages (keystrokes and their echo, frames' ends, drive answers) go at once:
        // with Nagle's algorithm one written while an earlier write is unacknowledged waits
        // for the peer's delayed ACK (the tests' WebSocket client, before it set this too, had
        // a drive request wait 30 ms that way). Browsers set it on their side.
        s.set_option(tcp::no_delay(true), ec);
        startSession(std::move(s));
      }
      if (!stopping_) doAccept();
    });
  }

  void startSession(tcp::socket socket);
  void forget(Session* session) {
    std::lock_guard lock(mutex_);
    sessions_.erase(session);
  }

  void shutdown(std::chrono::milliseconds grace) {
    asio::post(acceptor_.get_executor(), [this, grace] {
      if (stopping_.exchange(true)) return;
      spdlog::info("event=portal_shutdown grace_ms={}", grace.count());
      boost::system::error_code ec;
      acceptor_.close(ec);
      closeIdleSessions();
      deadline_.expires_after(grace);
      deadline_.async_wait([this](beast::error_code ec2) {
        if (!ec2) {
          spdlog::warn("event=portal_shutdown_deadline open_connections={}", openSessions());
          ioc_.stop();
        }
      });
      // When the last session ends the deadline timer is cancelled and run() returns.
      maybeFinished();
    });
  }

  void maybeFinished() {
    if (stopping_ && openSessions() == 0) deadline_.cancel();
  }

  std::size_t openSessions() {
    std::lock_guard lock(mutex_);
    return sessions_.size();
  }

  void closeIdleSessions();

  void run() {
    std::vector<std::thread> extra;
    for (unsigned i = 1; i < options_.threads; ++i) extra.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : extra) t.join();
  }

  ~Impl() { destroying_ = true; }

  // Declaration order matters: sessions still queued in ioc_ are destroyed with it and then
  // call forget(), so the registry (mutex_, sessions_) must outlive ioc_.
  ServerOptions options_;
  Router router_;
  HttpMetrics& metrics_;
  std::shared_ptr<ssl::context> tls_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> destroying_{false};
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  std::unordered_set<Session*> sessions_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer deadline_;
};

class Server::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, tcp::socket socket)
      : server_(server), stream_(std::move(socket), *server.tls_) {
    boost::system::error_code ec;
    const auto remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) {
      remote_ = remote.address().to_string();
      remotePort_ = remote.port();
    }
  }

  ~Session() {
    if (handler_) handler_->onClose();  // the io_context went away under an open WebSocket
    server_.metrics_.connectionClosed();
    server_.forget(this);
    // Posted, not called: we may be inside the last handler of this strand.
    if (server_.destroying_) return;
    asio::post(server_.acceptor_.get_executor(), [&server = server_] { server.maybeFinished(); });
  }

  void start() {
    server_.metrics_.connectionOpened();
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      // 10 s for the TLS handshake: a slow-loris client must not hold a slot for longer.
      beast::get_lowest_layer(self->stream_).expires_after(std::chrono::seconds(10));
      self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) return;  // scanners and wrong-protocol clients: nothing to answer
        self->readRequest();
      });
    });
  }

  /// Called on the session's strand when the server shuts down.
  void closeIfIdle() {
    if (ws_) {
      wsClose("the portal is shutting down");
      return;
    }
    if (idle_) {
      boost::system::error_code ec;
      beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(stream_).cancel();
    }
  }

  auto executor() { return stream_.get_executor(); }

 private:
  void readRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options_.maxHeaderBytes));
    parser_->body_limit(server_.options_.maxBodyBytes);
    if (buffer_.size() > 0) return readHeader();  // pipelined bytes: a request is under way
    // Idle until the first byte of the next request arrives; only idle connections are
    // closed at shutdown, so a request that has started is always answered.
    idle_ = true;
    if (server_.stopping_) return close();
    beast::get_lowest_layer(stream_).expires_after(server_.options_.idleTimeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->idle_ = false;
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->readHeader();
                            });
  }

  void readHeader() {
    idle_ = false;
    beast::get_lowest_layer(stream_).expires_after(server_.options_.requestTimeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onHeader(ec); });
  }

  void onHeader(beast::error_code ec) {
    if (ec) return onReadError(ec);
    beast::get_lowest_layer(stream_).expires_after(server_.options_.requestTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec2, std::size_t) {
                       if (ec2) return self->onReadError(ec2);
                       self->handle();
                     });
  }

  void onReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return reply(jsonError(413, "payload_too_large", "request body exceeds the limit"), false);
    }
    if (ec == http::error::header_limit) {
      return reply(jsonError(431, "headers_too_large", "request headers exceed the limit"), false);
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream) {
      return reply(jsonError(400, "bad_request", "malformed HTTP request"), false);
    }
    close();
  }

  void handle() {
    const auto started = std::chrono::steady_clock::now();
    auto& req = parser_->get();
    if (websocket::is_upgrade(req)) return upgrade();
    HttpRequest request = toRequest(req);
    const bool keepAlive = req.keep_alive();
    HttpResponse response = server_.router_.dispatch(std::move(request));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    server_.metrics_.observeRequest(response.status, seconds);
    reply(std::move(response), keepAlive);
  }

  HttpRequest toRequest(http::request<http::string_body>& req) {
    HttpRequest request;
    request.method = std::string(req.method_string());
    const std::string_view target = req.target();
    const auto q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(req.body());
    request.remoteAddress = remote_;
    request.remotePort = remotePort_;
    return request;
  }

  // ---- WebSocket (after an accepted upgrade this session carries only WebSocket frames) ----

  class Peer final : public WsPeer {
   public:
    explicit Peer(std::weak_ptr<Session> s) : session_(std::move(s)) {}
    void sendText(std::string text) override { send(std::move(text), false); }
    void sendBinary(std::string bytes) override { send(std::move(bytes), true); }
    void sendBinaryIfRoom(std::string bytes, std::size_t maxQueued) override {
      send(std::move(bytes), true, maxQueued);
    }
    void close(std::string reason) override {
      if (auto s = session_.lock()) {
        asio::post(s->executor(), [s, reason = std::move(reason)] { s->wsClose(reason); });
      }
    }

   private:
    // Queued on the connection's strand; dropped there if more than maxQueued bytes wait.
    void send(std::string data, bool binary,
              std::size_t maxQueued = std::numeric_limits<std::size_t>::max()) {
      if (auto s = session_.lock()) {
        asio::post(s->executor(), [s, data = std::move(data), binary, maxQueued]() mutable {
          if (s->queuedBytes_ <= maxQueued) s->wsQueue(std::move(data), binary);
        });
      }
    }
    std::weak_ptr<Session> session_;
  };

  void upgrade() {
    auto req = std::make_shared<http::request<http::string_body>>(parser_->release());
    HttpRequest request = toRequest(*req);
    WsAccept accepted = server_.router_.upgrade(std::move(request));
    if (!accepted.handler) {
      server_.metrics_.observeRequest(accepted.refusal.status, 0);
      return reply(std::move(accepted.refusal), false);
    }
    handler_ = std::move(accepted.handler);
    ws_ = std::make_unique<websocket::stream<beast::ssl_stream<beast::tcp_stream>&>>(stream_);
    beast::get_lowest_layer(stream_).expires_never();
    // Pings when idle and a dead peer detected within the suggested timeouts; messages from the
    // browser are as small as the handler says.
    ws_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_->read_message_max(handler_->maxMessageBytes());
    ws_->async_accept(*req, [self = shared_from_this(), req](beast::error_code ec) {
      if (ec) {
        self->handler_.reset();
        return;
      }
      self->server_.metrics_.observeRequest(101, 0);
      self->handler_->onOpen(std::make_shared<Peer>(self->weak_from_this()));
      self->wsRead();
    });
  }

  void wsRead() {
    ws_->async_read(wsBuffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->wsEnded();
      std::string data = beast::buffers_to_string(self->wsBuffer_.data());
      self->wsBuffer_.consume(self->wsBuffer_.size());
      if (self->handler_) self->handler_->onMessage(std::move(data), !self->ws_->got_text());
      self->wsRead();
    });
  }

  void wsEnded() {
    wsClosed_ = true;
    if (auto h = std::move(handler_)) h->onClose();
  }

  // 8 MiB queued: a live terminal never gets near it; a browser that stopped reading does.
  static constexpr std::size_t kMaxQueuedBytes = 8 * 1024 * 1024;

  void wsQueue(std::string data, bool binary) {
    if (!ws_ || wsClosed_ || wsClosing_) return;
    queuedBytes_ += data.size();
    if (queuedBytes_ > kMaxQueuedBytes) return wsClose("the browser is not keeping up");
    outbox_.emplace_back(std::move(data), binary);
    if (!writing_) wsWrite();
  }

  void wsWrite() {
    if (outbox_.empty()) {
      writing_ = false;
      if (wsClosing_) wsSendClose();
      return;
    }
    writing_ = true;
    ws_->binary(outbox_.front().second);
    ws_->async_write(asio::buffer(outbox_.front().first),
                     [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                       self->queuedBytes_ -= std::min(self->queuedBytes_, n);
                       self->outbox_.pop_front();
                       if (ec) {
                         self->outbox_.clear();
                         self->writing_ = false;
                         return;
                       }
                       self->wsWrite();
                     });
  }

  void wsClose(const std::string& reason) {
    if (!ws_ || wsClosed_ || wsClosing_) return;
    wsClosing_ = true;
    closeReason_ = reason.substr(0, 120);  // a close frame holds at most 123 bytes of reason
    if (!writing_) wsSendClose();
  }

  void wsSendClose() {
    websocket::close_reason why(websocket::close_code::normal);
    why.reason = closeReason_;
    ws_->async_close(why, [self = shared_from_this()](beast::error_code) {
      // The read loop sees the close completing and calls the handler's onClose.
    });
  }

  template <class Body>
  void setHeaders(http::response<Body>& res, HttpResponse& response, bool keepAlive) {
    res.set(http::field::server, "conduit");
    res.set(http::field::content_type, response.contentType);
    // insert, not set: a response may carry several Set-Cookie headers.
    for (auto& [name, value] : response.headers) res.insert(name, value);
    addSecurityHeaders(res);
    res.keep_alive(keepAlive && !server_.stopping_);
  }

  void reply(HttpResponse response, bool keepAlive) {
    if (response.bodyFile) return replyWithFile(std::move(response), keepAlive);
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), 11);
    setHeaders(*res, response, keepAlive);
    res->body() = std::move(response.body);
    res->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(server_.options_.requestTimeout);
    write(std::move(res));
  }

  // The body from a file (an export spooled to disk), read and sent a piece at a time.
  void replyWithFile(HttpResponse response, bool keepAlive) {
    const int fd = response.bodyFile->release();
    beast::file file;
    file.native_handle(fd);  // owns it from here
    beast::error_code ec;
    file.seek(0, ec);
    http::file_body::value_type body;
    if (!ec) body.reset(std::move(file), ec);
    if (ec) {
      spdlog::error("event=http_body_file_failed error=\"{}\"", ec.message());
      return reply(jsonError(500, "internal", "the response could not be read back"), keepAlive);
    }
    auto res = std::make_shared<http::response<http::file_body>>(
        std::piecewise_construct, std::make_tuple(std::move(body)),
        std::make_tuple(static_cast<http::status>(response.status), 11));
    setHeaders(*res, response, keepAlive);
    res->prepare_payload();
    // A download may take longer than a request may: allow at least 64 KiB a second on top.
    const auto seconds = std::chrono::seconds(res->body().size() >> 16);
    beast::get_lowest_layer(stream_).expires_after(server_.options_.requestTimeout + seconds);
    write(std::move(res));
  }

  template <class Body>
  void write(std::shared_ptr<http::response<Body>> res) {
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (!res->keep_alive()) return self->close();
                        self->readRequest();
                      });
  }

  void close() {
    auto& socket = beast::get_lowest_layer(stream_).socket();
    if (server_.stopping_) {
      // Shutting down: the answer is written; waiting for a client's close_notify would only
      // hold the process up.
      boost::system::error_code ec;
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
      return;
    }
    // 1 s for the TLS close_notify exchange (many clients never answer), then drop the socket.
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(1));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
      boost::system::error_code ec;
      beast::get_lowest_layer(self->stream_).socket().close(ec);
    });
  }

  Impl& server_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::unique_ptr<websocket::stream<beast::ssl_stream<beast::tcp_stream>&>> ws_;
  std::shared_ptr<WsHandler> handler_;
  beast::flat_buffer wsBuffer_;
  std::deque<std::pair<std::string, bool>> outbox_;
  std::size_t queuedBytes_ = 0;
  bool writing_ = false;
  bool wsClosing_ = false;
  bool wsClosed_ = false;
  std::string closeReason_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  std::uint16_t remotePort_ = 0;
  bool idle_ = true;
};

void Server::Impl::startSession(tcp::socket socket) {
  auto session = std::make_shared<Session>(*this, std::move(socket));
  {
    std::lock_guard lock(mutex_);
    sessions_.insert(session.get());
  }
  session->start();
}

void Server::Impl::closeIdleSessions() {
  std::lock_guard lock(mutex_);
  for (Session* s : sessions_) {
    // Keep the session alive until its strand runs the check.
    asio::post(s->executor(), [weak = s->weak_from_this()] {
      if (auto self = weak.lock()) self->closeIfIdle();
    });
  }
}

core::Result<std::unique_ptr<Server>> Server::start(const ServerOptions& options, Router router,
                                                    HttpMetrics& metrics) {
  auto tls = makeServerTlsContext(options.certificateFile, options.privateKeyFile);
  if (!tls) return tls.error();
  auto impl = std::make_unique<Impl>(options, std::move(router), metrics, std::move(*tls));
  if (auto st = impl->listen(); !st) return st.error();
  impl->startAccepting();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;
std::uint16_t Server::port() const noexcept {
  return impl_->port_;
}
void Server::run() {
  impl_->run();
}
void Server::shutdown(std::chrono::milliseconds grace) {
  impl_->shutdown(grace);
}

}  // namespace conduit::portal
