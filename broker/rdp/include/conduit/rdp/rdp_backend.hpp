#pragma once

// What a browser RDP session asks of the rest of the broker (implemented in broker/app, over
// the same services the SSH gateway uses): the access check, the target and its credential,
// the recording, the session registry and the audit trail. Thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "conduit/core/access_limits.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"
#include "conduit/recorder/writer.hpp"
#include "conduit/vault/secret.hpp"

namespace conduit::rdp {

/// The vendor may use RDP to the asset now, until `until`, with these limits.
struct RdpAllow {
  std::int64_t grantId = 0;
  core::TimePoint until{};
  core::AccessLimits limits;
};
struct RdpRefuse {
  std::string reason;  // one line, fit to show the vendor
};
using RdpDecision = std::variant<RdpAllow, RdpRefuse>;

/// Where the worker connects and as whom. The vendor never sees any of it but the asset name.
struct RdpTargetPlan {
  std::string host;
  std::uint16_t port = 3389;
  std::string username;
  std::string domain;
  std::string certificateSha256;  // pinned on the endpoint; empty: not pinned (refused)
  vault::Password password;
  // Held until the session ends (e.g. the lease of an exclusive credential).
  std::shared_ptr<void> hold;
};

class RdpBackend {
 public:
  virtual ~RdpBackend() = default;
  /// The access check at connect (audited when refused).
  virtual RdpDecision checkAccess(const std::string& user, const std::string& asset,
                                  const std::string& source) = 0;
  /// The same, once a second while the session runs (a refusal ends it; not audited as a
  /// connect attempt).
  virtual RdpDecision recheckAccess(const std::string& user, const std::string& asset,
                                    const std::string& source) = 0;
  /// The asset's rdp endpoint and its credential checked out of the vault (audited).
  virtual core::Result<RdpTargetPlan> prepareTarget(const std::string& user,
                                                    const std::string& asset,
                                                    const std::string& sessionId,
                                                    const std::string& source) = 0;
  /// The worker could not connect (wrong credential, certificate mismatch, host down): audited.
  virtual void targetFailed(const std::string& user, const std::string& asset,
                            const std::string& source, const std::string& reason) = 0;
  /// nullptr when policy does not require recording; a failure refuses the session.
  virtual core::Result<std::unique_ptr<recorder::RecordingWriter>> openRecording(
      const std::string& sessionId, const RdpAllow& allow) = 0;
  virtual core::Status closeRecording(const std::string& sessionId,
                                      recorder::RecordingWriter& recording) = 0;
  virtual void sessionStarted(const std::string& sessionId, const std::string& user,
                              const std::string& asset, const std::string& source,
                              const RdpAllow& allow) = 0;
  virtual void sessionEnded(const std::string& sessionId, const std::string& reason,
                            std::uint64_t bytesToTarget, std::uint64_t bytesToVendor) = 0;
  /// Engineers' live view (CIP-005 R2.4): the session's desktop can be watched from now on;
  /// `refresh` asks for a keyframe when a viewer joins (thread-safe, may block briefly).
  virtual void liveDesktop(const std::string& sessionId, int width, int height,
                           std::function<void()> refresh) {
    (void)sessionId;
    (void)width;
    (void)height;
    (void)refresh;
  }
  /// Each tile and frame end as sent to the vendor's browser, for the viewers. Must not block.
  virtual void liveFrame(const std::string& sessionId, std::string_view message) {
    (void)sessionId;
    (void)message;
  }
  /// A text message for the viewers (JSON: clipboard text passing, docs/api.md). Must not
  /// block.
  virtual void liveText(const std::string& sessionId, const std::string& json) {
    (void)sessionId;
    (void)json;
  }
};

}  // namespace conduit::rdp
