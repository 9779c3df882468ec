#pragma once

// What every live session does, whatever the vendor's side (an SSH client at the gateway or a
// browser terminal): its id, the once-a-second access re-check, and the order of its end.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "conduit/recorder/writer.hpp"
#include "conduit/ssh/gateway_backend.hpp"
#include "conduit/ssh/target.hpp"

namespace conduit::ssh {

/// "<prefix>-<unix time>-<counter>" (the recording's file name and the registry's key).
std::string makeSessionId(std::string_view prefix, std::uint64_t counter);

/// The re-check of a live session's access (CIP-005 R2.5): a revoked or suspended grant, or
/// the end of the window, ends the session; one warning comes before the window ends. Updates
/// `allow` with every positive answer (limits may change while the session runs).
class AccessRecheck {
 public:
  /// Re-checks the protocol `allow` was decided for (ssh, or a tunnels-only login's protocol).
  AccessRecheck(GatewayBackend& backend, LoginName login, std::string source, GatewayAllow& allow)
      : backend_(backend),
        login_(std::move(login)),
        source_(std::move(source)),
        allow_(allow),
        protocol_(allow.protocol) {}

  struct Outcome {
    std::optional<std::string> ended;    // "access ended: <reason>": end the session with it
    std::optional<std::string> warning;  // one line for the vendor; call warned() once shown
  };
  /// Asks the backend again (audited there when refused).
  Outcome run();
  /// The warning reached the vendor: it is not offered again.
  void warned() { warned_ = true; }

 private:
  GatewayBackend& backend_;
  LoginName login_;
  std::string source_;
  GatewayAllow& allow_;
  core::Protocol protocol_;
  bool warned_ = false;
};

/// What a session holds besides its channels, from login until it has ended.
struct SessionResources {
  std::optional<TargetSession> target;
  std::unique_ptr<recorder::RecordingWriter> recording;  // null: policy does not require it
  std::shared_ptr<void> hold;                            // TargetPlan::hold
  std::function<void()> afterSession;                    // TargetPlan::afterSession
};

/// Ends a session in the order every gateway uses: seals the recording (a failure is appended
/// to `reason`), reports the end, disconnects the target, runs afterSession, releases the
/// hold. Returns the final reason. The target session must no longer be in an ssh_event.
std::string endSession(GatewayBackend& backend, const std::string& sessionId,
                       SessionResources& resources, std::string reason, std::uint64_t bytesToTarget,
                       std::uint64_t bytesToVendor);

}  // namespace conduit::ssh
