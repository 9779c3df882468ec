#pragma once

// The channel relay between an authenticated vendor session and its target session.

#include <libssh/libssh.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "conduit/recorder/writer.hpp"
#include "conduit/ssh/gateway.hpp"
#include "conduit/ssh/gateway_backend.hpp"
#include "conduit/ssh/target.hpp"

namespace conduit::ssh {

struct RelaySetup {
  ssh_session vendor;
  TargetSession* target;  // null: a tunnels-only login (the asset has no ssh endpoint)
  GatewayBackend& backend;
  LoginName login;
  std::string source;
  GatewayAllow allow;
  std::atomic<bool>& stopping;
  recorder::RecordingWriter* recording = nullptr;  // null: policy does not require recording
  std::string sessionId;                           // for the live view (backend.terminalOutput)
  const GatewayOptions& options;                   // tunnel timeouts
};

struct RelayResult {
  std::string reason;  // why the session ended
  std::uint64_t bytesToTarget = 0;
  std::uint64_t bytesToVendor = 0;
};

/// Relays channels until the vendor disconnects, the window ends, access is revoked or the
/// broker stops: session channels to the target, and `ssh -L` (direct-tcpip) channels to the
/// asset's tcp endpoints as GatewayBackend::openTunnel decides. Installs the vendor session's
/// channel-open and message callbacks itself.
RelayResult runRelay(RelaySetup setup);

}  // namespace conduit::ssh
