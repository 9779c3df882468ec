#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace conduit::portal {

/// Open WebSockets and the portal sessions (or API tokens) they belong to. Logout closes a
/// session's sockets at once; a watchdog re-checks every socket's key every period, so a
/// timed-out session, a revoked token or a user disabled from another process (the CLI) loses
/// its sockets within that period.
class SocketWatch {
 public:
  using Closer = std::function<void(const std::string& reason)>;
  /// Why the sockets of `key` must close now (a session cookie that signed out, a revoked API
  /// token), or nothing while it is still good.
  using Validator = std::function<std::optional<std::string>(const std::string& key)>;

  ~SocketWatch() { stop(); }

  std::uint64_t add(std::string cookie, Closer closer);
  void remove(std::uint64_t id);
  /// Closes every socket of that session (logout).
  void closeForCookie(const std::string& cookie, const std::string& reason);

  void start(Validator valid, std::chrono::milliseconds period);
  void stop();

 private:
  void run(std::chrono::milliseconds period);

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::uint64_t, std::pair<std::string, Closer>> sockets_;
  std::uint64_t nextId_ = 1;
  Validator valid_;
  std::thread thread_;
};

}  // namespace conduit::portal
