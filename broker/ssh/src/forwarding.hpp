#pragma once

// Port forwarding (`ssh -L`: direct-tcpip channels) of one vendor session at the gateway: the
// backend decides each connection and the broker connects to the endpoint's configured
// address, never to the host the client named; connections that find the asset full wait for
// one of the session's own tunnels to end; tunnels to another protocol than the login's hang on
// that protocol's grant; at the session's end they drain first (issue 8 item 5). The relay owns
// it and drives it from the vendor session's thread; each connection is a Tunnel.

#include <libssh/libssh.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "conduit/ssh/gateway.hpp"
#include "conduit/ssh/gateway_backend.hpp"
#include "tunnel.hpp"

namespace conduit::ssh {

// 1 s: a healthy PLC answers in milliseconds; the session's end (kill, revocation, window end)
// must still take effect within about a second.
inline constexpr auto kTunnelDrain = std::chrono::seconds(1);

/// What port forwarding needs from its session (all of it outlives the Forwarding).
struct ForwardingSession {
  ssh_session vendor;
  GatewayBackend& backend;
  const LoginName& login;
  const std::string& source;
  const std::string& sessionId;
  const GatewayAllow& allow;            // kept current by the session's access re-check
  std::function<std::string()> reason;  // why the session ends; empty while it runs
  /// A line on every open terminal of the session (queued, never a blocking write), recorded.
  std::function<void(const std::string&)> tell;
  std::function<std::uint32_t()> nextChannel;  // the session's next recording channel number
};

class Forwarding {
 public:
  /// `context.event` is set with setEvent() once the session's event exists.
  Forwarding(ForwardingSession session, TunnelContext context);
  Forwarding(const Forwarding&) = delete;  // tunnels hold a reference to the context
  Forwarding& operator=(const Forwarding&) = delete;

  void setEvent(ssh_event event) noexcept { context_.event = event; }

  /// The vendor session's message callback: a direct-tcpip open is decided (0); anything else
  /// gets libssh's refusal (1).
  int open(ssh_message msg);

  /// After every poll of the session's event (never from a libssh callback): moves the
  /// tunnels' bytes, drops the ended ones and decides the waiting ones again.
  void pump();

  /// Once a second: other protocols' grants re-checked; shortly before the window ends, writes
  /// stop so that requests in flight can finish.
  void enforce();

  /// The session ended: tunnels refuse new writes and get up to kTunnelDrain for the requests
  /// in flight, while `pollOnce` runs the session's loop (which calls pump()).
  void drain(const std::function<void()>& pollOnce);

  /// Ends every tunnel and waiting connection with the session's reason.
  void finish();

  /// Bytes of the tunnels ended so far.
  std::uint64_t bytesToTarget() const noexcept { return toTarget_; }
  std::uint64_t bytesToVendor() const noexcept { return toVendor_; }

 private:
  struct PendingOpen {
    TunnelRequest request;
    ssh_channel channel = nullptr;  // accepted, no callbacks yet
    std::chrono::steady_clock::time_point deadline;
    std::uint64_t seenEnded = 0;  // tunnelsEnded_ when last decided
  };

  void start(std::unique_ptr<Tunnel> tunnel, ssh_channel channel);
  void openPending();
  void abandon(const TunnelRequest& request, ssh_channel channel, const std::string& why);
  int refuse(ssh_message msg, const TunnelRequest& r, const std::string& why);
  void tellRefused(const TunnelRequest& r, const std::string& why);
  void collect();
  void enforceGrants();

  ForwardingSession s_;
  TunnelContext context_;  // before tunnels_: they refer to it
  std::list<std::unique_ptr<Tunnel>> tunnels_;
  std::vector<PendingOpen> pendingOpens_;
  std::uint64_t tunnelsEnded_ = 0;  // tunnels collected so far: a slot may have come free
  std::uint64_t toTarget_ = 0;
  std::uint64_t toVendor_ = 0;
};

}  // namespace conduit::ssh
