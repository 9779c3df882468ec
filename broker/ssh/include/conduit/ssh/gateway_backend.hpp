#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "conduit/core/access_limits.hpp"
#include "conduit/core/asset.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"
#include "conduit/recorder/writer.hpp"
#include "conduit/ssh/target.hpp"

namespace conduit::ssh {

/// `alice+plc-17` -> {alice, plc-17}: the part after the last '+' names the asset. No '+': only
/// the user (the gateway then lists the user's granted assets).
struct LoginName {
  std::string user;
  std::string asset;
};
LoginName parseLoginName(const std::string& sshUser);

/// May the vendor open this now, and until when, with which limits.
struct GatewayAllow {
  std::int64_t grantId = 0;
  core::TimePoint until{};
  core::AccessLimits limits;
};
struct GatewayRefuse {
  std::string reason;  // one line, fit to show the vendor
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

  /// Assets the user may reach now (for the menu when no asset is named).
  virtual std::vector<std::string> grantedAssets(const std::string& user) = 0;

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
  virtual void sessionEnded(const std::string& sessionId, const std::string& reason,
                            std::uint64_t bytesToTarget, std::uint64_t bytesToVendor) = 0;
};

}  // namespace conduit::ssh
