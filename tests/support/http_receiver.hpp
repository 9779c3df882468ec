#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace conduit::test {

/// A minimal HTTP/1.1 server on 127.0.0.1 (a free port) in its own thread, to receive webhook
/// POSTs in tests: one request per connection, answered with the status the responder picks
/// and `Connection: close`.
class HttpReceiver {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;

    /// A header's value, empty if absent (name in lower case).
    std::string header(const std::string& name) const;
  };
  /// Picks the status for the index-th request (0-based, counting every request received).
  using Responder = std::function<int(const Request&, std::size_t index)>;

  /// Starts listening; the default responder answers 200.
  explicit HttpReceiver(Responder responder = {});
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  /// "http://127.0.0.1:<port><path>".
  std::string url(const std::string& path = "/hook") const;

  /// Every request received so far, in arrival order.
  std::vector<Request> requests() const;
  /// Waits until at least n requests have arrived; false on timeout.
  bool waitFor(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  void serve();
  void handle(int fd);

  Responder responder_;
  int listenFd_ = -1;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  mutable std::condition_variable arrived_;
  std::vector<Request> requests_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace conduit::test
