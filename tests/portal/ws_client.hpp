#pragma once

// A blocking WebSocket-over-TLS client for the portal's tests (Boost.Beast), certificate not
// verified (tests make self-signed ones).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace conduit::test {

struct WsMessage {
  std::string data;
  bool binary = false;
};

class WsClient {
 public:
  WsClient();
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  /// Upgrades GET `target` on 127.0.0.1:port with the given Cookie and Origin headers (empty:
  /// not sent). Returns the HTTP status of the handshake answer: 101 when accepted.
  int connect(std::uint16_t port, const std::string& target, const std::string& cookie,
              const std::string& origin);
  /// The body of a refused handshake.
  const std::string& refusalBody() const { return refusal_; }

  void sendText(const std::string& text);
  void sendBinary(const std::string& bytes);
  /// The next message, or nullopt if the server closed the socket (or nothing came in time).
  std::optional<WsMessage> read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// The close reason after read() returned nullopt because the server closed.
  const std::string& closeReason() const { return closeReason_; }
  /// Whether a read() found the connection closed (rather than nothing in time).
  bool closed() const { return closed_; }

 private:
  void send(const std::string& data, bool binary);
  struct State;
  std::unique_ptr<State> s_;
  std::string refusal_;
  std::string closeReason_;
  bool closed_ = false;
};

}  // namespace conduit::test
