#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "conduit/core/result.hpp"
#include "conduit/portal/http.hpp"

namespace conduit::portal {

class HttpMetrics;

/// Listener settings and limits. Every limit is explicit; see docs/configuration.md.
struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8443;  // 0 picks a free port; Server::port() tells which
  std::filesystem::path certificateFile;
  std::filesystem::path privateKeyFile;
  std::size_t maxHeaderBytes = 8 * 1024;
  std::size_t maxBodyBytes = 1024 * 1024;
  std::chrono::seconds requestTimeout{30};
  std::chrono::seconds idleTimeout{60};
  std::size_t maxConnections = 1024;
  unsigned threads = 2;
};

/// The HTTPS server: TLS 1.2+ only, HTTP/1.1 keep-alive, security headers on every response.
class Server {
 public:
  /// Loads the certificate, binds and listens. Fails with `unavailable` if the address is in
  /// use or cannot be bound, `invalid_argument` if the certificate or key cannot be loaded.
  static core::Result<std::unique_ptr<Server>> start(const ServerOptions& options, Router router,
                                                     HttpMetrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The bound port (useful with port 0).
  std::uint16_t port() const noexcept;

  /// Serves on options.threads threads (this one included) until shutdown completes.
  void run();

  /// Thread-safe and signal-context-free: stops accepting, closes idle keep-alive connections,
  /// lets in-flight requests finish, and ends run() at the latest after `grace`.
  void shutdown(std::chrono::milliseconds grace);

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace conduit::portal
