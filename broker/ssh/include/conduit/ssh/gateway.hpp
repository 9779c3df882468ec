#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "conduit/core/result.hpp"
#include "conduit/ssh/gateway_backend.hpp"

namespace conduit::ssh {

/// Listener settings and limits (docs/configuration.md, [ssh]).
struct GatewayOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 2222;  // 0 picks a free port; Gateway::port() tells which
  std::filesystem::path hostKeyFile;
  std::string loginBanner;  // IEC 62443 SR 1.12, shown before authentication
  // 30 s to authenticate: enough to type a password and a code, short enough that idle
  // unauthenticated connections do not pile up.
  std::chrono::seconds authTimeout{30};
  int maxAuthAttempts = 3;
  // Unauthenticated connections per source address; more are closed at accept.
  int maxUnauthenticatedPerSource = 10;
  int maxConnections = 1000;
  // `ssh -L` tunnel connections (docs/ssh.md): one without a byte either way for this long is
  // closed. 15 min: engineering tools poll far more often; an idle connection still holds one
  // of the few connections a PLC accepts.
  std::chrono::seconds tunnelIdleTimeout{900};
  // 10 s to connect to the endpoint: a PLC on the plant network answers in milliseconds; this
  // covers ARP and a slow router, and a down PLC does not hold the vendor's channel long.
  std::chrono::seconds tunnelConnectTimeout{10};
};

/// The vendor-facing SSH server: modern algorithms only, no system config, no `none` auth,
/// public keys only with a valid signature, login banner, grant checked before any channel.
class Gateway {
 public:
  /// Loads the host key, binds and listens. `unavailable` if the port is taken,
  /// `invalid_argument` for a bad host key.
  static core::Result<std::unique_ptr<Gateway>> start(const GatewayOptions& options,
                                                      GatewayBackend& backend);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  std::uint16_t port() const noexcept;
  /// Stops accepting and ends every connection; returns when all connection threads are done.
  void stop();

  class Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace conduit::ssh
