#include "web_rdp.hpp"

#include <boost/json.hpp>

#include <variant>

namespace conduit::app {

namespace {

rdp::RdpDecision fromGateway(const ssh::GatewayDecision& d) {
  if (const auto* no = std::get_if<ssh::GatewayRefuse>(&d)) return rdp::RdpRefuse{no->reason};
  const auto& ok = std::get<ssh::GatewayAllow>(d);
  return rdp::RdpAllow{ok.grantId, ok.until, ok.limits};
}

ssh::GatewayAllow toGateway(const rdp::RdpAllow& a) {
  return ssh::GatewayAllow{a.grantId, a.until, a.limits, core::Protocol::rdp};
}

class WebRdpSession final : public portal::RemoteDesktop {
 public:
  explicit WebRdpSession(std::unique_ptr<rdp::RdpSession> s) : s_(std::move(s)) {}
  void key(std::uint16_t scancode, bool down) override { s_->key({down, scancode}); }
  void pointer(std::uint16_t flags, std::uint16_t x, std::uint16_t y) override {
    s_->pointer({flags, x, y});
  }
  void ctrlAltDel() override { s_->ctrlAltDel(); }
  void ack(std::uint32_t sequence) override { s_->ack(sequence); }
  void refresh() override { s_->refresh(); }
  core::Status clipboard(const std::string& text) override { return s_->clipboard(text); }
  core::Result<std::string> driveList() override {
    auto files = s_->driveList();
    if (!files) return files.error();
    boost::json::array list;
    for (const auto& f : *files) {
      list.push_back(
          boost::json::object{{"name", f.name}, {"size", f.size}, {"modified", f.modified}});
    }
    return boost::json::serialize(boost::json::object{{"files", std::move(list)},
                                                      {"max_file_bytes", rdp::kMaxDriveFileBytes},
                                                      {"max_bytes", rdp::kMaxDriveBytes}});
  }
  core::Status driveAccepts(const std::string& name, std::uint64_t size) override {
    return s_->driveAccepts(name, size);
  }
  core::Result<std::string> drivePut(const std::string& name,
                                     std::span<const std::uint8_t> bytes) override {
    return s_->drivePut(name, bytes);
  }
  core::Result<std::pair<std::vector<std::uint8_t>, std::string>> driveGet(
      const std::string& name) override {
    auto content = s_->driveGet(name);
    if (!content) return content.error();
    return std::make_pair(std::move(content->bytes), std::move(content->sha256));
  }
  core::Result<std::pair<std::vector<std::uint8_t>, std::string>> printGet(
      const std::string& name) override {
    auto content = s_->printGet(name);
    if (!content) return content.error();
    return std::make_pair(std::move(content->bytes), std::move(content->sha256));
  }
  void close(const std::string& reason) override { s_->close(reason); }
  std::string sessionId() const override { return s_->sessionId(); }
  int width() const override { return s_->width(); }
  int height() const override { return s_->height(); }

 private:
  std::unique_ptr<rdp::RdpSession> s_;
};

}  // namespace

rdp::RdpDecision RdpBackendImpl::checkAccess(const std::string& user, const std::string& asset,
                                             const std::string& source) {
  return fromGateway(gateway_.checkAccess(user, asset, core::Protocol::rdp, source));
}

rdp::RdpDecision RdpBackendImpl::recheckAccess(const std::string& user, const std::string& asset,
                                               const std::string& source) {
  return fromGateway(gateway_.recheckAccess(user, asset, core::Protocol::rdp, source));
}

core::Result<rdp::RdpTargetPlan> RdpBackendImpl::prepareTarget(const std::string& user,
                                                               const std::string& asset,
                                                               const std::string& sessionId,
                                                               const std::string& source) {
  return gateway_.prepareRdpTarget(user, asset, sessionId, source);
}

void RdpBackendImpl::targetFailed(const std::string& user, const std::string& asset,
                                  const std::string& source, const std::string& reason) {
  gateway_.targetFailed(user, asset, source, reason);
}

core::Result<std::unique_ptr<recorder::RecordingWriter>> RdpBackendImpl::openRecording(
    const std::string& sessionId, const rdp::RdpAllow& allow) {
  return gateway_.openRecording(sessionId, toGateway(allow));
}

core::Status RdpBackendImpl::closeRecording(const std::string& sessionId,
                                            recorder::RecordingWriter& recording) {
  return gateway_.closeRecording(sessionId, recording);
}

void RdpBackendImpl::sessionStarted(const std::string& sessionId, const std::string& user,
                                    const std::string& asset, const std::string& source,
                                    const rdp::RdpAllow& allow) {
  gateway_.sessionStarted(sessionId, user, asset, source, toGateway(allow));
}

void RdpBackendImpl::sessionEnded(const std::string& sessionId, const std::string& reason,
                                  std::uint64_t bytesToTarget, std::uint64_t bytesToVendor) {
  gateway_.sessionEnded(sessionId, reason, bytesToTarget, bytesToVendor);
}

void RdpBackendImpl::liveDesktop(const std::string& sessionId, int width, int height,
                                 std::function<void()> refresh) {
  if (liveHub_ == nullptr) return;
  liveHub_->startedDesktop(sessionId,
                           boost::json::serialize(boost::json::object{
                               {"type", "desktop"}, {"width", width}, {"height", height}}),
                           std::move(refresh));
}

void RdpBackendImpl::liveFrame(const std::string& sessionId, std::string_view message) {
  if (liveHub_ != nullptr) liveHub_->publish(sessionId, message);
}

void RdpBackendImpl::liveText(const std::string& sessionId, const std::string& json) {
  if (liveHub_ != nullptr) liveHub_->publishText(sessionId, json);
}

core::Result<std::unique_ptr<portal::RemoteDesktop>> WebRdpLauncher::start(
    const std::string& user, const std::string& asset, const std::string& source, int width,
    int height, portal::RemoteDesktopIo io) {
  std::function<void(const rdp::RdpStarted&)> started;
  if (io.started) {
    started = [to = std::move(io.started)](const rdp::RdpStarted& s) {
      to(portal::RemoteDesktopStarted{s.sessionId, s.width, s.height, s.clipboardToTarget,
                                      s.clipboardFromTarget, s.drive, s.audio, s.printer});
    };
  }
  std::function<void(const rdp::RdpPrinted&)> printed;
  if (io.printed) {
    printed = [to = std::move(io.printed)](const rdp::RdpPrinted& p) {
      to(portal::RemoteDesktopPrinted{p.name, p.size, p.sha256, p.note});
    };
  }
  auto s = rdp::RdpSession::start(
      backend_, options_, {user, asset, source, width, height},
      {std::move(started), std::move(io.frame), std::move(io.notice), std::move(io.closed),
       std::move(io.clipboard), std::move(io.audio), std::move(printed)});
  if (!s) return s.error();
  return std::unique_ptr<portal::RemoteDesktop>(std::make_unique<WebRdpSession>(std::move(*s)));
}

}  // namespace conduit::app
