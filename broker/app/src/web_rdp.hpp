#pragma once

// The portal's browser RDP, served by broker/rdp over the gateway backend's services (the same
// access check, vault, recording, registry and audit as SSH sessions).

#include "conduit/portal/api.hpp"
#include "conduit/rdp/rdp_backend.hpp"
#include "conduit/rdp/rdp_session.hpp"
#include "gateway_backend_impl.hpp"

namespace conduit::app {

/// rdp::RdpBackend over GatewayBackendImpl: decisions for the rdp protocol, the rest shared.
class RdpBackendImpl final : public rdp::RdpBackend {
 public:
  explicit RdpBackendImpl(GatewayBackendImpl& gateway) : gateway_(gateway) {}

  rdp::RdpDecision checkAccess(const std::string& user, const std::string& asset,
                               const std::string& source) override;
  rdp::RdpDecision recheckAccess(const std::string& user, const std::string& asset,
                                 const std::string& source) override;
  core::Result<rdp::RdpTargetPlan> prepareTarget(const std::string& user, const std::string& asset,
                                                 const std::string& sessionId,
                                                 const std::string& source) override;
  void targetFailed(const std::string& user, const std::string& asset, const std::string& source,
                    const std::string& reason) override;
  core::Result<std::unique_ptr<recorder::RecordingWriter>> openRecording(
      const std::string& sessionId, const rdp::RdpAllow& allow) override;
  core::Status closeRecording(const std::string& sessionId,
                              recorder::RecordingWriter& recording) override;
  void sessionStarted(const std::string& sessionId, const std::string& user,
                      const std::string& asset, const std::string& source,
                      const rdp::RdpAllow& allow) override;
  void sessionEnded(const std::string& sessionId, const std::string& reason,
                    std::uint64_t bytesToTarget, std::uint64_t bytesToVendor) override;
  void liveDesktop(const std::string& sessionId, int width, int height,
                   std::function<void()> refresh) override;
  void liveFrame(const std::string& sessionId, std::string_view message) override;
  void liveText(const std::string& sessionId, const std::string& json) override;

  /// Where engineers watch sessions (set before the first session starts).
  void setLiveHub(session::LiveHub* hub) { liveHub_ = hub; }

 private:
  GatewayBackendImpl& gateway_;
  session::LiveHub* liveHub_ = nullptr;
};

class WebRdpLauncher final : public portal::RemoteDesktopLauncher {
 public:
  WebRdpLauncher(rdp::RdpBackend& backend, rdp::RdpSessionOptions options)
      : backend_(backend), options_(std::move(options)) {}

  core::Result<std::unique_ptr<portal::RemoteDesktop>> start(const std::string& user,
                                                             const std::string& asset,
                                                             const std::string& source, int width,
                                                             int height,
                                                             portal::RemoteDesktopIo io) override;

 private:
  rdp::RdpBackend& backend_;
  rdp::RdpSessionOptions options_;
};

}  // namespace conduit::app
