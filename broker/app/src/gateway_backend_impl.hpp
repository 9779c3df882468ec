#pragma once

// The SSH gateway's port implemented with the broker's services (composition root only).

#include <array>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include "conduit/access/access_service.hpp"
#include "conduit/access/auth_service.hpp"
#include "conduit/access/recording_keys.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/app/memory_return.hpp"
#include "conduit/core/audit.hpp"
#include "conduit/rdp/rdp_backend.hpp"
#include "conduit/session/hold_board.hpp"
#include "conduit/session/live_hub.hpp"
#include "conduit/ssh/gateway_backend.hpp"
#include "conduit/store/database.hpp"
#include "conduit/tunnel/hold_desk.hpp"
#include "conduit/tunnel/request_budget.hpp"

namespace conduit::app {

struct CertificatePolicy {
  // 5 minutes: long enough to connect, short enough that a leaked certificate is useless soon.
  core::Seconds validity{300};
  std::string sourceAddress;  // the broker's address toward targets; empty: no restriction
};

class GatewayBackendImpl final : public ssh::GatewayBackend {
 public:
  /// `db` is this backend's own connection; calls are serialised on it.
  GatewayBackendImpl(store::Database db, const policies::PolicySet& policies,
                     access::VaultService& vault, const core::Clock& clock,
                     access::LockoutPolicy lockout, CertificatePolicy certificates,
                     std::filesystem::path recordingsDir,
                     std::optional<access::RecordingKeys> recordingKeys,
                     std::optional<std::array<unsigned char, 32>> auditorKey = std::nullopt);

  bool isRegisteredKey(const std::string& user, const std::string& keyLine) override;
  core::Status authenticate(const std::string& user, const std::optional<std::string>& password,
                            const std::string& code, const std::string& source) override;
  ssh::GatewayDecision checkAccess(const std::string& user, const std::string& asset,
                                   core::Protocol protocol, const std::string& source) override;
  ssh::GatewayDecision checkLogin(const std::string& user, const std::string& asset,
                                  const std::string& source) override;
  ssh::TunnelDecision openTunnel(const ssh::TunnelRequest& request) override;
  void tunnelAbandoned(const ssh::TunnelRequest& request, const std::string& reason) override;
  std::uint64_t slotsFreed() override;
  void awaitFreedSlot(std::uint64_t seen, std::chrono::steady_clock::time_point until) override;
  void tunnelClosed(const ssh::TunnelRequest& request, const ssh::TunnelTarget& target,
                    const std::string& reason, std::uint64_t bytesToTarget,
                    std::uint64_t bytesToVendor) override;
  std::vector<ssh::GrantedAsset> grantedAssets(const std::string& user) override;
  core::Result<ssh::TargetPlan> prepareTarget(const std::string& user, const std::string& asset,
                                              const std::string& sessionId,
                                              const std::string& source) override;
  core::Result<std::unique_ptr<recorder::RecordingWriter>> openRecording(
      const std::string& sessionId, const ssh::GatewayAllow& allow) override;
  core::Status closeRecording(const std::string& sessionId,
                              recorder::RecordingWriter& recording) override;
  void targetFailed(const std::string& user, const std::string& asset, const std::string& source,
                    const std::string& reason) override;
  void sessionStarted(const std::string& sessionId, const std::string& user,
                      const std::string& asset, const std::string& source,
                      const ssh::GatewayAllow& allow) override;
  void sessionEnded(const std::string& sessionId, const std::string& reason,
                    std::uint64_t bytesToTarget, std::uint64_t bytesToVendor) override;

  ssh::GatewayDecision recheckAccess(const std::string& user, const std::string& asset,
                                     core::Protocol protocol, const std::string& source) override;
  void terminalOutput(const std::string& sessionId, std::string_view bytes) override;
  void fileEvent(const std::string& sessionId, const std::string& json) override;

  /// Browser RDP: the asset's rdp endpoint and its password checked out of the vault
  /// (audited). The endpoint's account may be DOMAIN\\user.
  core::Result<rdp::RdpTargetPlan> prepareRdpTarget(const std::string& user,
                                                    const std::string& asset,
                                                    const std::string& sessionId,
                                                    const std::string& source);

  /// The last credential rotation failure, until a rotation succeeds (for /healthz).
  std::optional<std::string> rotationProblem() const;

  /// Live sessions' output goes here for engineers' live view (set before the gateway starts).
  void setLiveHub(session::LiveHub* hub) { liveHub_ = hub; }
  /// Where Modbus writes held for approval wait (set before the gateway starts); without one,
  /// such writes are refused.
  void setHoldDesk(tunnel::HoldDesk* desk) { holdDesk_ = desk; }
  /// Told of every session's end, so the broker gives freed memory back (set before the
  /// gateway starts; optional).
  void setMemoryReturn(MemoryReturn* memoryReturn) { memoryReturn_ = memoryReturn; }
  /// Audits a step of a held write (session::HoldBoard's auditor): tunnel.write_held, _approved,
  /// _rejected, _expired or _cancelled. An error when the event could not be written.
  core::Status auditHold(const session::HeldWrite& write, std::string_view what,
                         const std::string& by);

 private:
  // The sealed recording's text into the full-text index, a transaction per chunk of lines.
  core::Status indexText(const std::string& sessionId,
                         const std::vector<std::pair<std::uint64_t, std::string>>& lines,
                         std::int64_t generation);
  ssh::GatewayDecision decide(const std::string& user, const std::string& asset,
                              core::Protocol protocol, const std::string& source,
                              bool auditRefusal);
  void rotateStoredPassword(const ssh::TargetEndpoint& endpoint, const std::string& name,
                            const std::string& command, const access::CredentialLease& current,
                            const std::string& sessionId);
  void auditRotation(const std::string& type, core::AuditOutcome outcome, const std::string& name,
                     const std::string& sessionId, const std::string& detail);
  void auditSession(const core::AuditDraft& draft);
  void auditTunnelRefused(const ssh::TunnelRequest& r, const std::string& why,
                          const std::string& protocol);

  /// The inspector for a tunnel to `endpoint` under `allow`; null for generic tcp.
  std::unique_ptr<tunnel::TunnelInspector> inspectorFor(const ssh::TunnelRequest& request,
                                                        const core::Endpoint& endpoint,
                                                        const ssh::GatewayAllow& allow);

  session::LiveHub* liveHub_ = nullptr;
  tunnel::HoldDesk* holdDesk_ = nullptr;
  MemoryReturn* memoryReturn_ = nullptr;
  mutable std::mutex healthMutex_;
  std::string rotationFailure_;
  std::mutex mutex_;
  std::map<std::string, std::pair<std::string, std::string>> sessions_;  // id -> user, asset
  std::map<std::string, int> tunnelsPerAsset_;  // open tunnel connections, guarded by mutex_
  std::uint64_t slotsFreed_ = 0;                // guarded by mutex_
  std::condition_variable slotFreed_;
  // Each asset's Modbus requests per second, shared by its connections; guarded by mutex_.
  std::map<std::string, std::shared_ptr<tunnel::RequestBudget>> budgets_;
  store::Database db_;
  const policies::PolicySet& policies_;
  access::VaultService& vault_;
  const core::Clock& clock_;
  access::AccessService access_;
  access::AuthService auth_;
  CertificatePolicy certificates_;
  std::filesystem::path recordingsDir_;
  std::optional<access::RecordingKeys> recordingKeys_;
  std::optional<std::array<unsigned char, 32>> auditorKey_;
};

}  // namespace conduit::app
