#include "forwarding.hpp"

#include <libssh/server.h>

#include <algorithm>
#include <exception>
#include <set>
#include <variant>

#include <spdlog/spdlog.h>

#include "printable.hpp"

namespace conduit::ssh {

namespace {

// `ssh -L` connections open at once in one session. The asset's own limit (GatewayBackend::
// openTunnel) is usually far lower; this caps a client that opens connections in a loop.
constexpr std::size_t kMaxTunnels = 32;
// 1 s: how long a tunnel connection that finds the asset full waits while the session's own
// tunnels may give a slot back (an ending one takes a round trip to the endpoint: milliseconds).
constexpr auto kReconnectWait = std::chrono::seconds(1);

void closeAccepted(ssh_channel channel) {
  if (ssh_channel_is_open(channel) != 0) ssh_channel_close(channel);
  ssh_channel_free(channel);
}

}  // namespace

Forwarding::Forwarding(ForwardingSession session, TunnelContext context)
    : s_(std::move(session)), context_(context) {}

void Forwarding::pump() {
  const auto now = std::chrono::steady_clock::now();
  // A pump may poll libssh and so open a new tunnel: std::list keeps this loop valid.
  for (auto& t : tunnels_) {
    try {
      t->pump(now);
    } catch (...) {  // an inspector's exception (e.g. bad_alloc) ends its connection only
      t->finish("internal error while relaying");
    }
  }
  collect();
  openPending();
}

void Forwarding::enforce() {
  enforceGrants();
  // Shortly before the window closes, writes stop so that requests in flight can finish.
  if (std::chrono::system_clock::now() + kTunnelDrain * 2 >= s_.allow.until) {
    for (auto& t : tunnels_) t->beginDrain();
  }
}

void Forwarding::drain(const std::function<void()>& pollOnce) {
  if (tunnels_.empty()) return;
  const std::string why = s_.reason();
  for (auto& t : tunnels_) t->endAfterDrain(why, kTunnelDrain);
  const auto deadline = std::chrono::steady_clock::now() + kTunnelDrain;
  while (!tunnels_.empty() && std::chrono::steady_clock::now() < deadline &&
         ssh_is_connected(s_.vendor) != 0) {
    pollOnce();
  }
}

void Forwarding::finish() {
  for (auto& t : tunnels_) t->finish(s_.reason());
  collect();
  for (auto& open : pendingOpens_) {
    abandon(open.request, open.channel, "the session ended (" + s_.reason() + ")");
  }
  pendingOpens_.clear();
}

/// Tunnels to another protocol than the login's (an HMI's ssh login with a tunnel to its
/// Modbus endpoint) hang on that protocol's grant: it is re-checked every second too.
void Forwarding::enforceGrants() {
  std::set<core::Protocol> protocols;
  for (const auto& t : tunnels_) {
    if (!t->done() && t->protocol() != s_.allow.protocol) protocols.insert(t->protocol());
  }
  for (const core::Protocol p : protocols) {
    const GatewayDecision d = s_.backend.recheckAccess(s_.login.user, s_.login.asset, p, s_.source);
    const auto* no = std::get_if<GatewayRefuse>(&d);
    if (no == nullptr) continue;
    for (auto& t : tunnels_) {
      if (t->done() || t->protocol() != p) continue;
      s_.tell("\r\nConduit: tunnel " + printable(t->describe()) +
              " closed: access ended: " + printable(no->reason) + "\r\n");
      t->endAfterDrain("access ended: " + no->reason, kTunnelDrain);
    }
  }
}

/// `ssh -L LOCALPORT:HOST:PORT`: one direct-tcpip channel per connection to LOCALPORT. The
/// backend decides; the broker connects to the endpoint's configured address, never to
/// HOST itself.
int Forwarding::open(ssh_message msg) {
  if (ssh_message_type(msg) != SSH_REQUEST_CHANNEL_OPEN ||
      ssh_message_subtype(msg) != SSH_CHANNEL_DIRECT_TCPIP) {
    return 1;
  }
  TunnelRequest r;
  r.user = s_.login.user;
  r.loginAsset = s_.login.asset;
  const char* host = ssh_message_channel_request_open_destination(msg);
  r.host = host != nullptr ? host : "";
  r.port = static_cast<std::uint32_t>(ssh_message_channel_request_open_destination_port(msg));
  const char* originator = ssh_message_channel_request_open_originator(msg);
  // Only shown and parsed as an address: made printable (the client may send anything).
  r.originator = printable(originator != nullptr ? originator : "");
  r.originatorPort =
      static_cast<std::uint32_t>(ssh_message_channel_request_open_originator_port(msg));
  r.source = s_.source;
  r.sessionId = s_.sessionId;
  if (!s_.reason().empty()) return refuse(msg, r, "the session is ending");
  std::size_t live = pendingOpens_.size();
  for (const auto& t : tunnels_) live += t->done() ? 0U : 1U;
  if (live >= kMaxTunnels) {
    return refuse(msg, r, "at most " + std::to_string(kMaxTunnels) + " tunnel connections at once");
  }
  // A tool that reconnects at once (mbpoll opens a connection per poll and closes it without
  // a half-close) can send this open before, or right behind, the end of its last
  // connection, whose tunnel keeps the asset's connection slot until the endpoint has closed
  // too. Decided now, it would be refused by an asset that allows one connection: while this
  // session has tunnels open, a full asset makes the channel wait (accepted, decided again
  // as tunnels end, for at most kReconnectWait) in openPending().
  r.waitForSlot = std::any_of(tunnels_.begin(), tunnels_.end(),
                              [](const std::unique_ptr<Tunnel>& t) { return !t->done(); });
  TunnelDecision decision = s_.backend.openTunnel(r);
  if (const auto* no = std::get_if<GatewayRefuse>(&decision)) {
    if (!no->busy) return refuse(msg, r, no->reason);
    ssh_channel channel = ssh_message_channel_request_open_reply_accept(msg);
    if (channel != nullptr) {
      pendingOpens_.push_back({std::move(r), channel,
                               std::chrono::steady_clock::now() + kReconnectWait, tunnelsEnded_});
    }
    return 0;
  }
  auto tunnel =
      Tunnel::connect(context_, r, std::move(std::get<TunnelTarget>(decision)), s_.nextChannel());
  if (!tunnel) return refuse(msg, r, tunnel.error().message);
  ssh_channel channel = ssh_message_channel_request_open_reply_accept(msg);
  if (channel == nullptr) {
    (*tunnel)->finish("the vendor's channel could not be opened");
    return 0;
  }
  start(std::move(*tunnel), channel);
  return 0;
}

void Forwarding::start(std::unique_ptr<Tunnel> tunnel, ssh_channel channel) {
  // In the list first: once attached the tunnel owns (and frees) the channel, whatever
  // throws after.
  Tunnel& t = *tunnels_.emplace_back(std::move(tunnel));
  t.attach(channel);
  spdlog::info("event=ssh_tunnel_opened session={} user={} tunnel=\"{}\"", s_.sessionId,
               s_.login.user, printable(t.describe()));
}

/// Decides again the tunnel connections that found the asset full (see open()) when one
/// of the session's tunnels has ended, and for the last time (audited) after
/// kReconnectWait. Vendor thread, after the tunnels' pumps.
void Forwarding::openPending() {
  if (pendingOpens_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  std::vector<PendingOpen> due;
  for (auto it = pendingOpens_.begin(); it != pendingOpens_.end();) {
    if (it->seenEnded == tunnelsEnded_ && now < it->deadline && s_.reason().empty() &&
        ssh_channel_is_open(it->channel) != 0) {
      ++it;
      continue;
    }
    due.push_back(std::move(*it));
    it = pendingOpens_.erase(it);
  }
  // libssh calls below may run open() again, which appends to pendingOpens_: not iterated.
  for (auto& open : due) {
    if (!s_.reason().empty()) {
      abandon(open.request, open.channel, "the session ended (" + s_.reason() + ")");
      continue;
    }
    if (ssh_channel_is_open(open.channel) == 0) {
      abandon(open.request, open.channel,
              "closed by the vendor while " + open.request.host + " had no free connection slot");
      continue;
    }
    open.request.waitForSlot = now < open.deadline;
    std::string why;
    std::unique_ptr<Tunnel> connected;
    try {
      TunnelDecision decision = s_.backend.openTunnel(open.request);
      if (const auto* no = std::get_if<GatewayRefuse>(&decision)) {
        if (no->busy) {  // still full: wait for the next tunnel to end
          open.seenEnded = tunnelsEnded_;
          pendingOpens_.push_back(std::move(open));
          continue;
        }
        why = no->reason;
      } else {
        auto tunnel = Tunnel::connect(
            context_, open.request, std::move(std::get<TunnelTarget>(decision)), s_.nextChannel());
        if (tunnel) {
          connected = std::move(*tunnel);
        } else {
          why = tunnel.error().message;
        }
      }
    } catch (const std::exception&) {  // e.g. the audit trail cannot be written: no tunnel
      why = "internal error while deciding the tunnel";
    }
    if (connected) {  // outside the try: from here on the tunnel owns (and frees) the channel
      start(std::move(connected), open.channel);
      continue;
    }
    // Accepted already: the refusal closes the channel; the reason goes where it is seen.
    tellRefused(open.request, why);
    closeAccepted(open.channel);
  }
}

/// A waiting tunnel connection that ends undecided: closed, and audited as refused (its open
/// was not, the asset being full only for the moment).
void Forwarding::abandon(const TunnelRequest& request, ssh_channel channel,
                         const std::string& why) {
  spdlog::info("event=ssh_tunnel_refused session={} user={} reason=\"{}\"", s_.sessionId,
               s_.login.user, printable(why));
  try {
    s_.backend.tunnelAbandoned(request, why);
  } catch (const std::exception& e) {
    spdlog::error("event=audit_failed session={} what=\"tunnel.refused\" reason=\"{}\"",
                  s_.sessionId, e.what());
  }
  closeAccepted(channel);
}

/// Refuses a direct-tcpip channel. libssh 0.10 can only send an empty reason with
/// SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, so the reason also goes where the vendor can see
/// it: any open terminal of the session, and a debug message (`ssh -v`).
int Forwarding::refuse(ssh_message msg, const TunnelRequest& r, const std::string& why) {
  ssh_message_reply_default(msg);
  tellRefused(r, why);
  return 0;
}
void Forwarding::tellRefused(const TunnelRequest& r, const std::string& why) {
  const std::string line = "Conduit: tunnel to " + printable(r.host) + ":" +
                           std::to_string(r.port) + " refused: " + printable(why);
  spdlog::info("event=ssh_tunnel_refused session={} user={} reason=\"{}\"", s_.sessionId,
               s_.login.user, line);
  ssh_send_debug(s_.vendor, line.c_str(), 1);
  s_.tell("\r\n" + line + "\r\n");
}

/// Adds finished tunnels' bytes to the session's totals and drops them.
void Forwarding::collect() {
  for (const auto& t : tunnels_) {
    if (!t->done()) continue;
    toTarget_ += t->bytesToTarget();
    toVendor_ += t->bytesToVendor();
    // The vendor's client only sees its connection close: say why where it can be seen.
    if (t->failure() && s_.reason().empty()) {
      s_.tell("\r\nConduit: tunnel " + printable(t->describe()) +
              " closed: " + printable(*t->failure()) + "\r\n");
    }
  }
  tunnelsEnded_ += static_cast<std::uint64_t>(
      std::count_if(tunnels_.begin(), tunnels_.end(),
                    [](const std::unique_ptr<Tunnel>& t) { return t->done(); }));
  tunnels_.remove_if([](const std::unique_ptr<Tunnel>& t) { return t->done(); });
}

}  // namespace conduit::ssh
