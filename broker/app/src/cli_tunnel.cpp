// `conduit tunnel`, run on a vendor's laptop: listens on a local port and carries each
// connection to it through the portal (WSS, GET /api/v1/tunnel, the vendor's API token) to an
// asset's tcp endpoint. The wire protocol and its flow control are in docs/api.md, "TCP tunnel".
//
// One thread and one io_context: every connection is a chain of asynchronous operations, so a
// slow side only ever pauses its own connection. Each direction is bounded: the portal sends at
// most its window before this side acknowledges what it wrote to the local connection, and this
// side reads the local connection only while its own window toward the portal has room.
#include "cli_tunnel.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cstdio>
#include <deque>
#include <fstream>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "conduit/core/result.hpp"
#include "conduit/portal/api.hpp"

namespace conduit::app {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using core::ErrorCode;
using core::fail;

// Connecting, TLS and the upgrade (or the token check) get this long: the portal answers in
// milliseconds; a firewall that drops packets must not leave the vendor's tool waiting forever.
constexpr auto kConnectTimeout = std::chrono::seconds(15);
// One binary message toward the portal: the portal accepts messages up to 64 KiB.
constexpr std::size_t kMaxSend = std::size_t{32} * 1024;
// The portal announces its window; a larger one than this is not believed (memory bound).
constexpr std::uint64_t kMaxWindow = std::uint64_t{64} << 20;
// Messages from the portal: its binary messages are at most 64 KiB, text ones small.
constexpr std::size_t kMaxMessage = std::size_t{1} << 20;
// On SIGINT/SIGTERM, open connections get this long to close cleanly.
constexpr auto kStopGrace = std::chrono::seconds(2);

struct PortalAddress {
  std::string host;  // without brackets
  std::string port;
  std::string hostHeader;  // host[:port] as in the URL
};

/// https://HOST[:PORT][/]; anything else (another scheme, a path, credentials) is refused.
core::Result<PortalAddress> parsePortal(const std::string& url) {
  constexpr std::string_view scheme = "https://";
  if (!url.starts_with(scheme)) {
    return fail(ErrorCode::invalid_argument, "--portal must be https://HOST[:PORT]");
  }
  std::string rest = url.substr(scheme.size());
  if (rest.ends_with("/")) rest.pop_back();
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string::npos) {
    return fail(ErrorCode::invalid_argument,
                "--portal must be https://HOST[:PORT], without a path");
  }
  PortalAddress p;
  p.hostHeader = rest;
  std::string portText;
  if (rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos)
      return fail(ErrorCode::invalid_argument, "bad IPv6 in --portal");
    p.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return fail(ErrorCode::invalid_argument, "bad --portal");
      portText = rest.substr(close + 2);
    }
  } else {
    const auto colon = rest.rfind(':');
    p.host = rest.substr(0, colon);
    if (colon != std::string::npos) portText = rest.substr(colon + 1);
  }
  if (portText.empty()) portText = "443";
  if (p.host.empty() || portText.size() > 5 ||
      portText.find_first_not_of("0123456789") != std::string::npos || std::stoul(portText) == 0 ||
      std::stoul(portText) > 65535) {
    return fail(ErrorCode::invalid_argument, "--portal must be https://HOST[:PORT]");
  }
  p.port = portText;
  return p;
}

/// "PORT", "ADDRESS:PORT" or "[IPv6]:PORT".
core::Result<tcp::endpoint> parseListen(const std::string& text) {
  std::string address = "127.0.0.1";
  std::string portText = text;
  if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    address = text.substr(0, colon);
    portText = text.substr(colon + 1);
    if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
      address = address.substr(1, address.size() - 2);
    }
  }
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address, ec);
  if (ec || portText.empty() || portText.size() > 5 ||
      portText.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(portText) > 65535) {
    return fail(ErrorCode::invalid_argument,
                "--listen must be PORT or ADDRESS:PORT (an IP address), e.g. 127.0.0.1:5020");
  }
  return tcp::endpoint(ip, static_cast<std::uint16_t>(std::stoul(portText)));
}

/// The first line of the token file. The token becomes an HTTP header: printable ASCII only.
core::Result<std::string> readToken(const std::string& file) {
  std::ifstream in(file);
  std::string token;
  if (!in || !std::getline(in, token)) {
    return fail(ErrorCode::invalid_argument, "cannot read a token from " + file);
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) {
    token.pop_back();
  }
  const bool printable =
      std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (token.empty() || !printable) {
    return fail(ErrorCode::invalid_argument,
                file + " does not hold an API token (one line, as the portal showed it)");
  }
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    std::fprintf(stderr, "conduit tunnel: warning: %s is readable by other users; chmod 600 it\n",
                 file.c_str());
  }
  return token;
}

/// Percent-encodes a query value (every byte but RFC 3986's unreserved characters).
std::string encodeQuery(const std::string& value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

/// The portal's certificate must be valid for the host named in --portal (an IP address is
/// matched against the certificate's IP addresses). Sets SNI for names.
bool expectPeer(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return false;
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0) == 1;
}

/// A failed connect or handshake, said for people (with the hint for the usual TLS trouble).
std::string describeFailure(const boost::system::error_code& ec) {
  std::string text = ec.message();
  if (ec.category() == asio::error::get_ssl_category() ||
      text.find("certificate") != std::string::npos) {
    text += " (is --ca-file the portal's certificate or its CA?)";
  }
  if (ec == beast::error::timeout) text = "no answer within 15 s";
  return text;
}

/// The "message" of a JSON error body, or the body itself (cut), for a refusal.
std::string refusalText(const std::string& body, unsigned status) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const auto* m = v.as_object().if_contains("message"); m && m->is_string()) {
      return std::string(m->as_string()) + " (HTTP " + std::to_string(status) + ")";
    }
  }
  return "HTTP " + std::to_string(status) + (body.empty() ? "" : ": " + body.substr(0, 200));
}

struct Settings {
  PortalAddress portal;
  std::string token;
  std::string asset;
  std::uint16_t port = 0;
  tcp::endpoint listen;
};

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

class Client;

/// One local connection carried over one WebSocket to the portal.
class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(Client& client, tcp::socket local);
  void start();
  /// SIGINT/SIGTERM: close the WebSocket (the broker ends the session) and the local side.
  void stop();

 private:
  void onConnected(const boost::system::error_code& ec);
  void onTls(const boost::system::error_code& ec);
  void onUpgraded(const boost::system::error_code& ec);
  void readPortal();
  void onPortalMessage(const boost::system::error_code& ec);
  void onControl(const std::string& text);
  void readLocal();
  void writeLocal();
  void sendPortal(std::string data, bool binary);
  void writePortal();
  void acknowledge();
  void closeLocal();
  void say(const std::string& line) const;

  Client& client_;
  tcp::socket local_;
  std::string from_;  // the local peer, "127.0.0.1:51234", for messages
  websocket::stream<TlsStream> ws_;
  websocket::response_type upgrade_;
  beast::flat_buffer in_;
  std::array<char, kMaxSend> localBuf_{};
  std::deque<std::pair<std::string, bool>> toPortal_;
  std::deque<std::string> toLocal_;
  bool started_ = false;
  bool portalWriting_ = false;
  bool localWriting_ = false;
  bool localReading_ = false;
  bool localEof_ = false;    // the local connection half-closed (sent on as "eof")
  bool portalEof_ = false;   // the endpoint half-closed (passed on once written)
  bool portalDone_ = false;  // the WebSocket has ended
  bool localClosed_ = false;
  bool refused_ = false;
  bool closing_ = false;
  std::string closingReason_;  // why this side closed the WebSocket
  std::string closedReason_;
  std::uint64_t window_ = 0;
  std::uint64_t sent_ = 0;          // bytes sent to the portal
  std::uint64_t acked_ = 0;         // of those, acknowledged by the portal
  std::uint64_t received_ = 0;      // bytes from the portal
  std::uint64_t delivered_ = 0;     // of those, written to the local connection
  std::uint64_t acknowledged_ = 0;  // of those, acknowledged to the portal
};

/// The listener, the portal's address and TLS settings, and the open links.
class Client {
 public:
  Client(Settings settings, ssl::context& tls)
      : settings_(std::move(settings)), tls_(tls), acceptor_(ioc_), signals_(ioc_) {}

  asio::io_context& ioc() { return ioc_; }
  ssl::context& tls() { return tls_; }
  const Settings& settings() const { return settings_; }
  const tcp::resolver::results_type& endpoints() const { return endpoints_; }

  /// Resolves the portal, checks the token (GET /api/v1/me), listens, and runs until a signal.
  int run() {
    boost::system::error_code ec;
    tcp::resolver resolver(ioc_);
    endpoints_ = resolver.resolve(settings_.portal.host, settings_.portal.port, ec);
    if (ec) {
      std::fprintf(stderr, "conduit tunnel: cannot resolve %s: %s\n", settings_.portal.host.c_str(),
                   ec.message().c_str());
      return 1;
    }
    checkToken();
    ioc_.run();
    return exitCode_;
  }

  void forget(const Link* link) {
    links_.remove_if([link](const std::weak_ptr<Link>& w) {
      auto l = w.lock();
      return !l || l.get() == link;
    });
  }

 private:
  /// One HTTPS request before listening: the portal is reachable, its certificate valid, the
  /// token accepted, and its roles include vendor. Any failure ends the command.
  void checkToken() {
    auto check = std::make_shared<TokenCheck>(ioc_, tls_);
    check->req.set(http::field::host, settings_.portal.hostHeader);
    check->req.set(http::field::authorization, "Bearer " + settings_.token);
    check->req.set(http::field::user_agent, "conduit-tunnel");
    if (!expectPeer(check->stream.native_handle(), settings_.portal.host)) {
      return unreachable("cannot set up certificate checks for " + settings_.portal.host);
    }
    auto& tcpStream = beast::get_lowest_layer(check->stream);
    tcpStream.expires_after(kConnectTimeout);
    tcpStream.async_connect(
        endpoints_, [this, check](const boost::system::error_code& ec, const tcp::endpoint&) {
          if (ec) return unreachable(describeFailure(ec));
          check->stream.async_handshake(
              ssl::stream_base::client, [this, check](const boost::system::error_code& hs) {
                if (hs) return unreachable(describeFailure(hs));
                http::async_write(check->stream, check->req,
                                  [this, check](const boost::system::error_code& wr, std::size_t) {
                                    if (wr) return unreachable(describeFailure(wr));
                                    readTokenAnswer(check);
                                  });
              });
        });
  }

  /// The state of checkToken's request, kept alive by its completion handlers.
  struct TokenCheck {
    TokenCheck(asio::io_context& ioc, ssl::context& tls) : stream(ioc, tls) {}
    TlsStream stream;
    http::request<http::empty_body> req{http::verb::get, "/api/v1/me", 11};
    http::response<http::string_body> res;
    beast::flat_buffer buffer;
  };

  void readTokenAnswer(const std::shared_ptr<TokenCheck>& check) {
    http::async_read(check->stream, check->buffer, check->res,
                     [this, check](const boost::system::error_code& ec, std::size_t) {
                       if (ec) return unreachable(describeFailure(ec));
                       beast::get_lowest_layer(check->stream).close();
                       onTokenChecked(check->res);
                     });
  }

  void unreachable(const std::string& why) {
    std::fprintf(stderr, "conduit tunnel: cannot reach the portal at https://%s: %s\n",
                 settings_.portal.hostHeader.c_str(), why.c_str());
    exitCode_ = 1;
  }

  void onTokenChecked(const http::response<http::string_body>& res) {
    if (res.result_int() != 200) {
      std::fprintf(stderr, "conduit tunnel: the portal refused the token: %s\n",
                   refusalText(res.body(), res.result_int()).c_str());
      exitCode_ = 1;
      return;
    }
    bool vendor = false;
    boost::system::error_code ec;
    const auto v = boost::json::parse(res.body(), ec);
    if (!ec && v.is_object()) {
      if (const auto* user = v.as_object().if_contains("user"); user && user->is_object()) {
        if (const auto* roles = user->as_object().if_contains("roles");
            roles && roles->is_array()) {
          for (const auto& r : roles->as_array())
            vendor = vendor || (r.is_string() && r == "vendor");
        }
      }
    }
    if (!vendor) {
      std::fprintf(stderr,
                   "conduit tunnel: the token does not carry the vendor role; tunnels are for "
                   "vendors (create a token with the role vendor in the portal)\n");
      exitCode_ = 1;
      return;
    }
    listen();
  }

  void listen() {
    boost::system::error_code ec;
    acceptor_.open(settings_.listen.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(settings_.listen, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      std::fprintf(stderr, "conduit tunnel: cannot listen on %s: %s\n",
                   endpointText(settings_.listen).c_str(), ec.message().c_str());
      exitCode_ = 1;
      return;
    }
    const auto bound = acceptor_.local_endpoint(ec);
    if (!settings_.listen.address().is_loopback()) {
      std::fprintf(stderr,
                   "conduit tunnel: warning: listening on %s, not loopback: anyone who reaches "
                   "it uses your access to %s\n",
                   endpointText(bound).c_str(), settings_.asset.c_str());
    }
    std::printf("listening on %s -> %s:%u\n", endpointText(bound).c_str(), settings_.asset.c_str(),
                static_cast<unsigned>(settings_.port));
    std::fflush(stdout);
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](const boost::system::error_code& sigEc, int) {
      if (!sigEc) stop();
    });
    accept();
  }

  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        auto link = std::make_shared<Link>(*this, std::move(socket));
        links_.push_back(link);
        link->start();
      }
      accept();
    });
  }

  void stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    auto open = links_;  // stop() makes links forget themselves
    for (auto& w : open) {
      if (auto l = w.lock()) l->stop();
    }
    auto timer = std::make_shared<asio::steady_timer>(ioc_, kStopGrace);
    timer->async_wait([this, timer](const boost::system::error_code&) { ioc_.stop(); });
  }

 public:
  static std::string endpointText(const tcp::endpoint& e) {
    const auto a = e.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(e.port());
  }

 private:
  Settings settings_;
  ssl::context& tls_;
  asio::io_context ioc_{1};
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  tcp::resolver::results_type endpoints_;
  std::list<std::weak_ptr<Link>> links_;
  int exitCode_ = 0;
};

Link::Link(Client& client, tcp::socket local)
    : client_(client), local_(std::move(local)), ws_(client.ioc(), client.tls()) {
  boost::system::error_code ec;
  const auto peer = local_.remote_endpoint(ec);
  from_ = ec ? std::string("local connection") : Client::endpointText(peer);
  local_.set_option(tcp::no_delay(true), ec);  // Modbus and friends: small request/response
}

void Link::say(const std::string& line) const {
  std::fprintf(stderr, "conduit tunnel: %s: %s\n", from_.c_str(), line.c_str());
}

void Link::start() {
  if (!expectPeer(ws_.next_layer().native_handle(), client_.settings().portal.host)) {
    say("cannot set up certificate checks");
    return closeLocal();
  }
  beast::get_lowest_layer(ws_).expires_after(kConnectTimeout);
  beast::get_lowest_layer(ws_).async_connect(
      client_.endpoints(),
      [self = shared_from_this()](const boost::system::error_code& ec, const tcp::endpoint&) {
        self->onConnected(ec);
      });
}

void Link::onConnected(const boost::system::error_code& ec) {
  if (ec) {
    say("cannot reach the portal: " + describeFailure(ec));
    return closeLocal();
  }
  ws_.next_layer().async_handshake(
      ssl::stream_base::client,
      [self = shared_from_this()](const boost::system::error_code& hs) { self->onTls(hs); });
}

void Link::onTls(const boost::system::error_code& ec) {
  if (ec) {
    say("cannot reach the portal: " + describeFailure(ec));
    return closeLocal();
  }
  beast::get_lowest_layer(ws_).expires_never();
  auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
  timeouts.handshake_timeout = kConnectTimeout;
  ws_.set_option(timeouts);
  ws_.read_message_max(kMaxMessage);
  // The token goes in a header only: never in the URL (logged by proxies and servers).
  ws_.set_option(websocket::stream_base::decorator(
      [token = client_.settings().token](websocket::request_type& req) {
        req.set(http::field::authorization, "Bearer " + token);
        req.set(http::field::user_agent, "conduit-tunnel");
      }));
  const auto& s = client_.settings();
  const std::string target =
      "/api/v1/tunnel?asset=" + encodeQuery(s.asset) + "&port=" + std::to_string(s.port);
  ws_.async_handshake(
      upgrade_, s.portal.hostHeader, target,
      [self = shared_from_this()](const boost::system::error_code& up) { self->onUpgraded(up); });
}

void Link::onUpgraded(const boost::system::error_code& ec) {
  if (ec) {
    const unsigned status = upgrade_.result_int();
    if (status != 0 && status != 101) {
      say("refused: " + refusalText(upgrade_.body(), status));
    } else {
      say("cannot open the tunnel: " + describeFailure(ec));
    }
    return closeLocal();
  }
  readPortal();
}

void Link::readPortal() {
  ws_.async_read(in_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                  std::size_t) { self->onPortalMessage(ec); });
}

void Link::onPortalMessage(const boost::system::error_code& ec) {
  if (ec) {
    portalDone_ = true;
    if (closedReason_.empty() && closing_) {
      // This side ended it (the local connection failed or closed, a broken portal): said
      // too, so every connection that said "session" also says how it ended.
      say(std::string(started_ ? "closed: " : "refused: ") + closingReason_);
    } else if (closedReason_.empty()) {
      const auto why = ws_.reason().reason;
      say(std::string(started_ ? "closed: " : "refused: ") +
          (why.empty() ? describeFailure(ec) : std::string(why.data(), why.size())));
    }
    // What the endpoint sent before the end still reaches the local connection.
    if (toLocal_.empty()) closeLocal();
    return;
  }
  std::string data = beast::buffers_to_string(in_.data());
  in_.consume(in_.size());
  if (ws_.got_binary()) {
    received_ += data.size();
    // The portal keeps to the window it announced; a portal that does not is not followed.
    if (!started_ || received_ - acknowledged_ > window_) {
      say("the portal broke the tunnel's flow control; closing");
      closing_ = true;
      closingReason_ = "the portal broke the tunnel's flow control";
      ws_.async_close(websocket::close_code::protocol_error,
                      [self = shared_from_this()](const boost::system::error_code&) {});
      return closeLocal();
    }
    toLocal_.push_back(std::move(data));
    writeLocal();
  } else {
    onControl(data);
  }
  readPortal();
}

void Link::onControl(const std::string& text) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return;
  const auto& o = v.as_object();
  const auto* type = o.if_contains("type");
  if (type == nullptr || !type->is_string()) return;
  auto number = [&o](const char* key) -> std::uint64_t {
    const auto* n = o.if_contains(key);
    if (n == nullptr) return 0;
    if (n->is_uint64()) return n->as_uint64();
    if (n->is_int64() && n->as_int64() > 0) return static_cast<std::uint64_t>(n->as_int64());
    return 0;
  };
  auto textOf = [&o](const char* key) -> std::string {
    const auto* t = o.if_contains(key);
    return t != nullptr && t->is_string() ? std::string(t->as_string()) : std::string();
  };
  if (*type == "started") {
    started_ = true;
    window_ = std::min(number("window"), kMaxWindow);
    say("session " + textOf("session_id") + " to " + client_.settings().asset + ":" +
        std::to_string(client_.settings().port));
    readLocal();
  } else if (*type == "ack") {
    acked_ = std::min(acked_ + number("bytes"), sent_);
    readLocal();
  } else if (*type == "eof") {
    portalEof_ = true;
    if (toLocal_.empty() && !localWriting_) {
      boost::system::error_code ignored;
      local_.shutdown(tcp::socket::shutdown_send, ignored);
    }
  } else if (*type == "notice") {
    say("notice: " + textOf("message"));
  } else if (*type == "closed") {
    closedReason_ = textOf("reason");
    refused_ = !started_;
    say((refused_ ? "refused: " : "closed: ") + closedReason_);
  }
}

void Link::readLocal() {
  if (!started_ || localReading_ || localEof_ || localClosed_ || portalDone_ || closing_ ||
      sent_ - acked_ >= window_) {
    return;
  }
  const auto room = static_cast<std::size_t>(
      std::min<std::uint64_t>(localBuf_.size(), window_ - (sent_ - acked_)));
  localReading_ = true;
  local_.async_read_some(
      asio::buffer(localBuf_.data(), room),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        self->localReading_ = false;
        if (ec == asio::error::eof) {
          self->localEof_ = true;
          self->sendPortal(R"({"type":"eof"})", false);
          return;
        }
        if (ec) {
          if (ec != asio::error::operation_aborted && !self->closing_) {
            self->closing_ = true;
            self->closingReason_ = "the local connection failed: " + ec.message();
            self->ws_.async_close(websocket::close_reason(websocket::close_code::normal,
                                                          "the local connection failed"),
                                  [self](const boost::system::error_code&) {});
          }
          return;
        }
        self->sent_ += n;
        self->sendPortal(std::string(self->localBuf_.data(), n), true);
        self->readLocal();
      });
}

void Link::writeLocal() {
  if (localWriting_ || localClosed_) return;
  if (toLocal_.empty()) {
    if (portalEof_) {
      boost::system::error_code ignored;
      local_.shutdown(tcp::socket::shutdown_send, ignored);
    }
    if (portalDone_) closeLocal();
    return;
  }
  localWriting_ = true;
  asio::async_write(
      local_, asio::buffer(toLocal_.front()),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        self->localWriting_ = false;
        self->toLocal_.pop_front();
        if (ec) {
          self->toLocal_.clear();
          if (!self->closing_ && !self->portalDone_) {
            self->closing_ = true;
            self->closingReason_ = "the local connection closed";
            self->ws_.async_close(websocket::close_reason(websocket::close_code::normal,
                                                          "the local connection closed"),
                                  [self](const boost::system::error_code&) {});
          }
          return self->closeLocal();
        }
        self->delivered_ += n;
        self->acknowledge();
        self->writeLocal();
      });
}

/// Tells the portal what reached the local connection, once enough has (kTunnelAckBytes).
void Link::acknowledge() {
  if (portalDone_ || closing_ || delivered_ - acknowledged_ < portal::kTunnelAckBytes) return;
  const std::uint64_t n = delivered_ - acknowledged_;
  acknowledged_ = delivered_;
  sendPortal(boost::json::serialize(boost::json::object{{"type", "ack"}, {"bytes", n}}), false);
}

void Link::sendPortal(std::string data, bool binary) {
  if (portalDone_ || closing_) return;
  toPortal_.emplace_back(std::move(data), binary);
  writePortal();
}

void Link::writePortal() {
  if (portalWriting_ || toPortal_.empty() || portalDone_ || closing_) return;
  portalWriting_ = true;
  ws_.binary(toPortal_.front().second);
  ws_.async_write(asio::buffer(toPortal_.front().first),
                  [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                    self->portalWriting_ = false;
                    self->toPortal_.pop_front();
                    if (ec) {
                      self->toPortal_.clear();
                      return;  // the read side sees the end and reports it
                    }
                    self->writePortal();
                  });
}

void Link::closeLocal() {
  if (localClosed_) return;
  localClosed_ = true;
  boost::system::error_code ignored;
  local_.shutdown(tcp::socket::shutdown_both, ignored);
  local_.close(ignored);
  client_.forget(this);
}

void Link::stop() {
  if (!portalDone_ && !closing_ && ws_.is_open()) {
    closing_ = true;
    closingReason_ = "conduit tunnel stopped";
    ws_.async_close(websocket::close_reason(websocket::close_code::going_away,
                                            "the vendor stopped conduit tunnel"),
                    [self = shared_from_this()](const boost::system::error_code&) {});
  }
  closeLocal();
}

/// Everything `conduit tunnel` does; returns the exit code.
int runTunnel(const std::string& portalUrl, const std::string& tokenFile, const std::string& asset,
              std::uint32_t port, const std::string& listenText, const std::string& caFile) {
  auto portal = parsePortal(portalUrl);
  if (!portal) {
    std::fprintf(stderr, "conduit tunnel: %s\n", portal.error().message.c_str());
    return 2;
  }
  if (asset.empty() || asset.size() > 200) {
    std::fprintf(stderr, "conduit tunnel: --asset must name an asset\n");
    return 2;
  }
  if (port == 0 || port > 65535) {
    std::fprintf(stderr, "conduit tunnel: --port must be 1-65535\n");
    return 2;
  }
  auto listen = parseListen(listenText);
  if (!listen) {
    std::fprintf(stderr, "conduit tunnel: %s\n", listen.error().message.c_str());
    return 2;
  }
  auto token = readToken(tokenFile);
  if (!token) {
    std::fprintf(stderr, "conduit tunnel: %s\n", token.error().message.c_str());
    return 2;
  }
  ssl::context tls(ssl::context::tls_client);
  // TLS 1.2 and newer only; the portal itself offers nothing older.
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  tls.set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (caFile.empty()) {
    tls.set_default_verify_paths(ec);
  } else {
    tls.load_verify_file(caFile, ec);
    // The file is the operator's explicit trust: the portal's own (self-signed) certificate
    // or any CA certificate in its chain is enough.
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(tls.native_handle()), X509_V_FLAG_PARTIAL_CHAIN);
  }
  if (ec) {
    std::fprintf(stderr, "conduit tunnel: cannot load %s: %s\n",
                 caFile.empty() ? "the system's CA certificates" : caFile.c_str(),
                 ec.message().c_str());
    return 2;
  }
  // main() blocks these in every thread (for `serve`); this command takes them itself.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  Client client(
      Settings{*portal, std::move(*token), asset, static_cast<std::uint16_t>(port), *listen}, tls);
  return client.run();
}

}  // namespace

void addTunnelCommand(CLI::App& app, int& exitCode) {
  struct Values {
    std::string portal, tokenFile, asset, listen = "127.0.0.1:0", caFile;
    std::uint32_t port = 0;
  };
  auto values = std::make_shared<Values>();
  auto* cmd = app.add_subcommand(
      "tunnel",
      "Carry local TCP connections to an asset's endpoint through the portal (for vendors "
      "without SSH)");
  cmd->add_option("--portal", values->portal, "The portal, https://HOST[:PORT]")->required();
  cmd->add_option("--token-file", values->tokenFile,
                  "File holding an API token with the vendor role (created in the portal)")
      ->required();
  cmd->add_option("--asset", values->asset, "The asset, by name")->required();
  cmd->add_option("--port", values->port, "The endpoint's port on the asset (e.g. 502)")
      ->required();
  cmd->add_option("--listen", values->listen,
                  "Local address to listen on: PORT or ADDRESS:PORT (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--ca-file", values->caFile,
                  "Trust this certificate (PEM) for the portal instead of the system's CAs");
  cmd->callback([values, &exitCode] {
    exitCode = runTunnel(values->portal, values->tokenFile, values->asset, values->port,
                         values->listen, values->caFile);
  });
}

}  // namespace conduit::app
