#include "ws_client.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace conduit::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

struct WsClient::State {
  asio::io_context ioc;
  asio::ssl::context tls{asio::ssl::context::tls_client};
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws{ioc, tls};
  beast::flat_buffer buffer;
};

WsClient::WsClient() : s_(std::make_unique<State>()) {
  s_->tls.set_verify_mode(asio::ssl::verify_none);
}

WsClient::~WsClient() = default;

int WsClient::connect(std::uint16_t port, const std::string& target, const std::string& cookie,
                      const std::string& origin) {
  auto& tcp = beast::get_lowest_layer(s_->ws);
  tcp.expires_after(std::chrono::seconds(5));
  tcp.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  s_->ws.next_layer().handshake(asio::ssl::stream_base::client);
  tcp.expires_never();
  s_->ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
    if (!cookie.empty()) req.set(beast::http::field::cookie, cookie);
    if (!origin.empty()) req.set(beast::http::field::origin, origin);
  }));
  websocket::response_type res;
  beast::error_code ec;
  s_->ws.handshake(res, "127.0.0.1:" + std::to_string(port), target, ec);
  if (ec) refusal_ = res.body();
  return static_cast<int>(res.result_int());
}

void WsClient::sendText(const std::string& text) {
  s_->ws.text(true);
  s_->ws.write(asio::buffer(text));
}

std::optional<WsMessage> WsClient::read(std::chrono::milliseconds timeout) {
  beast::error_code result = asio::error::would_block;
  std::size_t n = 0;
  s_->ws.async_read(s_->buffer, [&](beast::error_code ec, std::size_t bytes) {
    result = ec;
    n = bytes;
  });
  s_->ioc.restart();
  s_->ioc.run_for(timeout);
  if (result == asio::error::would_block) {
    // Timed out: cancel the read and let it finish.
    beast::get_lowest_layer(s_->ws).cancel();
    s_->ioc.restart();
    s_->ioc.run();
    return std::nullopt;
  }
  if (result) {
    closed_ = true;
    const auto& why = s_->ws.reason().reason;
    closeReason_.assign(why.data(), why.size());
    return std::nullopt;
  }
  WsMessage m{beast::buffers_to_string(s_->buffer.data()), s_->ws.got_binary()};
  s_->buffer.consume(n);
  return m;
}

}  // namespace conduit::test
