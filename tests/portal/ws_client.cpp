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
  // A read that outlived its read() call: it stays pending for the next one. Cancelling it
  // instead could cut a message in half (a tile arriving just then), which breaks the stream.
  bool reading = false;
  bool readDone = false;
  beast::error_code readResult;
  std::size_t readBytes = 0;
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
  tcp.socket().set_option(asio::ip::tcp::no_delay(true));  // as browsers' WebSockets do
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
  send(text, false);
}

void WsClient::sendBinary(const std::string& bytes) {
  send(bytes, true);
}

void WsClient::send(const std::string& text, bool binary) {
  s_->ws.binary(binary);
  // Asynchronous like the reads, so a read left pending by read() may finish meanwhile.
  bool written = false;
  beast::error_code result;
  s_->ws.async_write(asio::buffer(text), [&](beast::error_code ec, std::size_t) {
    written = true;
    result = ec;
  });
  s_->ioc.restart();
  // 10 s: a server that stops reading must fail the test, not hang it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!written && std::chrono::steady_clock::now() < deadline) {
    s_->ioc.run_one_until(deadline);
  }
  if (!written) {
    beast::get_lowest_layer(s_->ws).close();
    s_->ioc.restart();
    s_->ioc.run();
    throw beast::system_error(asio::error::timed_out);
  }
  if (result) throw beast::system_error(result);
}

std::optional<WsMessage> WsClient::read(std::chrono::milliseconds timeout) {
  if (!s_->reading) {
    s_->reading = true;
    s_->readDone = false;
    s_->ws.async_read(s_->buffer, [st = s_.get()](beast::error_code ec, std::size_t bytes) {
      st->readDone = true;
      st->readResult = ec;
      st->readBytes = bytes;
    });
  }
  if (!s_->readDone) {
    s_->ioc.restart();
    s_->ioc.run_for(timeout);
  }
  if (!s_->readDone) return std::nullopt;  // nothing in time; the read stays pending
  s_->reading = false;
  const std::size_t n = s_->readBytes;
  if (s_->readResult) {
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
