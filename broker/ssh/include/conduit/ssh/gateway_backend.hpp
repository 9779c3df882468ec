#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "conduit/core/access_limits.hpp"
#include "conduit/core/asset.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"
#include "conduit/recorder/writer.hpp"
#include "conduit/ssh/target.hpp"
#include "conduit/tunnel/inspector.hpp"

namespace conduit::ssh {

/// `alice+plc-17` -> {alice, plc-17}: the part after the last '+' names the asset. No '+': only
/// the user (the gateway then lists the user's granted assets).
struct LoginName {
  std::string user;
  std::string asset;
};
LoginName parseLoginName(const std::string& sshUser);

/// An asset the vendor may reach now, for the gateway's asset menu.
struct GrantedAsset {
  std::string name;
  core::TimePoint until{};  // the latest end among the vendor's grants valid now for it
};

/// May the vendor open this now, and until when, with which limits.
struct GatewayAllow {
  std::int64_t grantId = 0;
  core::TimePoint until{};
  core::AccessLimits limits;
  // The protocol this was decided for. At login: ssh for a relayed SSH session; a tunnel
  // protocol (modbus, tcp...) for a tunnels-only login to an asset without an ssh endpoint.
  core::Protocol protocol = core::Protocol::ssh;
};
struct GatewayRefuse {
  std::string reason;  // one line, fit to show the vendor
  // Only the asset's connection limit refused it, and the request said it will ask again
  // (TunnelRequest::waitForSlot): not audited.
  bool busy = false;
};
using GatewayDecision = std::variant<GatewayAllow, GatewayRefuse>;

/// How the broker reaches the target for one session.
struct TargetPlan {
  TargetEndpoint endpoint;
  TargetCredential credential;
  // Held until the session ends (e.g. the lease of an exclusive credential).
  std::shared_ptr<void> hold;
  // Run once the session has ended, before `hold` is released (e.g. password rotation).
  std::function<void()> afterSession;
};

/// A tunnel the vendor asked for: `ssh -L LOCALPORT:HOST:PORT` opens one direct-tcpip channel
/// per connection to LOCALPORT.
struct TunnelRequest {
  std::string user;
  std::string loginAsset;  // the asset named at login (alice+plc-17)
  std::string host;        // the vendor's HOST: must name an asset, never an address
  std::uint32_t port = 0;  // the vendor's PORT: must be one of that asset's tcp endpoints
  std::string originator;  // where the vendor's client connected from (their side)
  std::uint32_t originatorPort = 0;
  std::string source;  // the vendor's address as the gateway sees it
  std::string sessionId;
  // The caller asks again shortly if the asset has no free connection slot now (one of the
  // session's own connections may be ending): such a refusal is GatewayRefuse{.busy = true}.
  bool waitForSlot = false;
};

/// Where the broker connects a tunnel, and under which grant.
struct TunnelTarget {
  std::string asset;
  core::Protocol protocol = core::Protocol::tcp;
  std::string host;  // the endpoint's configured host: never a vendor-supplied address
  std::uint16_t port = 0;
  GatewayAllow allow;  // the grant and limits for the endpoint's protocol
  // One of the asset's concurrent connections: released when the tunnel ends.
  std::shared_ptr<void> slot;
  // Chosen by the endpoint's protocol; null: bytes pass unchanged (still recorded).
  std::unique_ptr<tunnel::TunnelInspector> inspector;
};
using TunnelDecision = std::variant<TunnelTarget, GatewayRefuse>;

/// What the gateway asks of the rest of the broker. Every decision is made behind this port
/// (core, policies, store, vault, audit); the gateway only translates SSH events into these
/// calls and their answers into SSH replies. Implemented in broker/app. Thread-safe.
class GatewayBackend {
 public:
  virtual ~GatewayBackend() = default;

  /// Whether `keyLine` ("ssh-ed25519 AAAA...") is registered for user. No side effects.
  virtual bool isRegisteredKey(const std::string& user, const std::string& keyLine) = 0;

  /// Second step of a login (audited): with `password` set, password + TOTP code; without,
  /// the code after a verified registered key. permission_denied with a message for the vendor.
  virtual core::Status authenticate(const std::string& user,
                                    const std::optional<std::string>& password,
                                    const std::string& code, const std::string& source) = 0;

  /// The access check every connect and channel open makes (audited when refused).
  virtual GatewayDecision checkAccess(const std::string& user, const std::string& asset,
                                      core::Protocol protocol, const std::string& source) = 0;

  /// The same check, once a second during a running session: a refusal ends the session
  /// (audited as session.ended with the reason), so it is not audited as a connect attempt.
  virtual GatewayDecision recheckAccess(const std::string& user, const std::string& asset,
                                        core::Protocol protocol, const std::string& source) {
    return checkAccess(user, asset, protocol, source);
  }

  /// The access check at login. An asset with an ssh endpoint needs an ssh grant (the session
  /// is relayed to it); an asset without one needs a grant for one of its tcp endpoints'
  /// protocols that allows tunnels, and the login then carries `ssh -L` tunnels only.
  /// `protocol` of the answer says which. Audited when refused.
  virtual GatewayDecision checkLogin(const std::string& user, const std::string& asset,
                                     const std::string& source) {
    return checkAccess(user, asset, core::Protocol::ssh, source);
  }

  /// Decides a tunnel: HOST must be the login's asset, PORT one of its tcp endpoints (modbus,
  /// s7, dnp3, opcua, tcp), the grant for that endpoint's protocol valid and its policy must
  /// allow ssh port forwarding, and the asset must have a free connection slot. Audited both
  /// ways (tunnel.opened, or tunnel.refused with the reason).
  virtual TunnelDecision openTunnel(const TunnelRequest& request) {
    (void)request;
    return GatewayRefuse{"tunnels are not available"};
  }
  /// How many tunnel connection slots (of any asset) have been given back so far: read before
  /// openTunnel(), then awaitFreedSlot() returns as soon as one was given back since.
  virtual std::uint64_t slotsFreed() { return 0; }
  /// Waits until a slot has been given back after `seen` (a slotsFreed() value) or `until`.
  virtual void awaitFreedSlot(std::uint64_t seen, std::chrono::steady_clock::time_point until) {
    (void)seen;
    std::this_thread::sleep_until(
        std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(20)));
  }
  /// A tunnel connection that waited for the asset's slot (TunnelRequest::waitForSlot) ended
  /// before it was decided (the vendor's client gave up, or the session ended): audited as
  /// tunnel.refused with `reason`.
  virtual void tunnelAbandoned(const TunnelRequest& request, const std::string& reason) {
    (void)request;
    (void)reason;
  }
  /// A tunnel connection ended (audited as tunnel.closed with the reason and byte counts).
  virtual void tunnelClosed(const TunnelRequest& request, const TunnelTarget& target,
                            const std::string& reason, std::uint64_t bytesToTarget,
                            std::uint64_t bytesToVendor) {
    (void)request;
    (void)target;
    (void)reason;
    (void)bytesToTarget;
    (void)bytesToVendor;
  }

  /// Assets the user holds a grant for that is valid now, each once (for the menu when no
  /// asset is named). Empty when there is none or the user is unknown.
  virtual std::vector<GrantedAsset> grantedAssets(const std::string& user) = 0;

  /// The asset's ssh endpoint and a credential for one connection attempt: a certificate
  /// minted for this session, or a stored password/key checked out of the vault (audited).
  virtual core::Result<TargetPlan> prepareTarget(const std::string& user, const std::string& asset,
                                                 const std::string& sessionId,
                                                 const std::string& source) = 0;

  /// Opens the session's recording; nullptr when policy does not require recording. A failure
  /// refuses the session (fail closed).
  virtual core::Result<std::unique_ptr<recorder::RecordingWriter>> openRecording(
      const std::string& sessionId, const GatewayAllow& allow) = 0;
  /// Seals the recording: final tag, signed manifest, manifest digest anchored in the audit
  /// chain.
  virtual core::Status closeRecording(const std::string& sessionId,
                                      recorder::RecordingWriter& recording) = 0;

  /// The broker could not log in to the target (host key mismatch, refused credential, host
  /// down): audited, since a changed host key may mean an attack on the plant network.
  virtual void targetFailed(const std::string& user, const std::string& asset,
                            const std::string& source, const std::string& reason) = 0;

  /// Session lifecycle for the audit trail and the live registry.
  virtual void sessionStarted(const std::string& sessionId, const std::string& user,
                              const std::string& asset, const std::string& source,
                              const GatewayAllow& allow) = 0;
  /// Terminal output of a live session as it happens, for engineers' live view (CIP-005
  /// R2.4). Called on the session's thread; must not block.
  virtual void terminalOutput(const std::string& sessionId, std::string_view bytes) {
    (void)sessionId;
    (void)bytes;
  }
  /// A file operation of the session as the gateway recorded it (docs/api.md, live view: a
  /// {"type":"file",...} message), for engineers watching. Must not block.
  virtual void fileEvent(const std::string& sessionId, const std::string& json) {
    (void)sessionId;
    (void)json;
  }
  virtual void sessionEnded(const std::string& sessionId, const std::string& reason,
                            std::uint64_t bytesToTarget, std::uint64_t bytesToVendor) = 0;
};

}  // namespace conduit::ssh
