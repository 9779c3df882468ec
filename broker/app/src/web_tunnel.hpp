#pragma once

// The portal's WebSocket tunnels (`conduit tunnel` on a vendor's laptop, for vendors without an
// SSH client): one TCP connection to an asset's tcp endpoint per WebSocket. The gateway backend
// decides it exactly as it decides an `ssh -L` connection (the asset's endpoint, the grant for
// the endpoint's protocol, the asset's connection slot, the protocol inspector, audit), and it is
// a session of its own: recorded as tunnel bytes, listed in the live registry, re-checked every
// second (window end, revocation and a kill end it), closed when idle.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "conduit/core/result.hpp"
#include "conduit/portal/api.hpp"
#include "conduit/ssh/gateway_backend.hpp"

namespace conduit::app {

struct WebTunnelOptions {
  std::chrono::seconds idleTimeout{900};  // ssh.tunnel_idle_timeout_seconds, as for `ssh -L`
  // 10 s, as for `ssh -L`: an endpoint on the plant network answers a connect in milliseconds;
  // a dead one must not hold the vendor's tool (and the asset's connection slot) for long.
  std::chrono::seconds connectTimeout{10};
};

class WebTunnelLauncher final : public portal::TunnelLauncher {
 public:
  WebTunnelLauncher(ssh::GatewayBackend& backend, WebTunnelOptions options)
      : backend_(backend), options_(options) {}

  /// Decides the tunnel (GatewayBackend::openTunnel, audited both ways), connects to the
  /// endpoint, opens the recording (fail closed), reports the session started and starts its
  /// relay thread. permission_denied with the backend's reason when refused; unavailable when
  /// the endpoint cannot be reached or the recording cannot start. On failure nothing stays
  /// open and no callback of `io` is called.
  core::Result<std::unique_ptr<portal::TunnelSession>> open(
      const portal::TunnelOpenRequest& request, portal::TunnelIo io) override;

 private:
  ssh::GatewayBackend& backend_;
  WebTunnelOptions options_;
  std::atomic<std::uint64_t> counter_{0};  // session ids must not repeat within one process
};

}  // namespace conduit::app
