#include "live_session.hpp"

#include <chrono>
#include <ctime>
#include <variant>

namespace conduit::ssh {

std::string makeSessionId(std::string_view prefix, std::uint64_t counter) {
  return std::string(prefix) + "-" + std::to_string(::time(nullptr)) + "-" +
         std::to_string(counter);
}

AccessRecheck::Outcome AccessRecheck::run() {
  const auto now = std::chrono::time_point_cast<core::Seconds>(std::chrono::system_clock::now());
  const GatewayDecision d = backend_.recheckAccess(login_.user, login_.asset, protocol_, source_);
  if (const auto* no = std::get_if<GatewayRefuse>(&d)) {
    return {"access ended: " + no->reason, std::nullopt};
  }
  allow_ = std::get<GatewayAllow>(d);
  if (warned_ || now < allow_.until - allow_.limits.warningPeriod) return {};
  const auto left = std::chrono::duration_cast<std::chrono::minutes>(allow_.until - now);
  return {std::nullopt, "your access window ends at " + core::formatTime(allow_.until) + " (in " +
                            std::to_string(left.count()) + " min); save your work."};
}

std::string endSession(GatewayBackend& backend, const std::string& sessionId,
                       SessionResources& resources, std::string reason, std::uint64_t bytesToTarget,
                       std::uint64_t bytesToVendor) {
  if (resources.recording) {
    if (auto st = backend.closeRecording(sessionId, *resources.recording); !st) {
      reason += "; recording: " + st.error().message;
    }
  }
  backend.sessionEnded(sessionId, reason, bytesToTarget, bytesToVendor);
  resources.target.reset();  // the target session ends before any rotation logs in again
  if (resources.afterSession) resources.afterSession();
  resources.hold.reset();
  return reason;
}

}  // namespace conduit::ssh
