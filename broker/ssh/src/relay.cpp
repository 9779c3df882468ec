#include "relay.hpp"

#include <libssh/callbacks.h>
#include <libssh/server.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <list>
#include <memory>
#include <set>

#include <spdlog/spdlog.h>

#include "conduit/policies/glob.hpp"
#include "conduit/recorder/record.hpp"
#include "conduit/ssh/shell_line_filter.hpp"
#include "live_session.hpp"
#include "tunnel.hpp"

namespace conduit::ssh {

namespace {

// 1 MiB per direction: enough to keep a fast link busy while the other side's window is
// closed, small enough that a vendor who stops reading cannot make the broker buffer without
// bound (libssh stops reopening our receive window while this is full).
constexpr std::size_t kMaxPending = 1024 * 1024;
// A vendor may run a few channels at once (shell + sftp + exec); 1,000 would only tie up the
// target's session slots.
constexpr std::size_t kMaxChannels = 16;
// `ssh -L` connections open at once in one session. The asset's own limit (GatewayBackend::
// openTunnel) is usually far lower; this caps a client that opens connections in a loop.
constexpr std::size_t kMaxTunnels = 32;
// 1 s: a healthy PLC answers in milliseconds; the session's end (kill, revocation, window end)
// must still take effect within about a second.
constexpr auto kTunnelDrain = std::chrono::seconds(1);
// Reason lines and host names from the vendor are echoed to terminals and logs: no control
// characters, no quotes that would break a log field, and not too long.
std::string printable(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f || c == '"') ? '?' : c;
  }
  return out;
}
// Environment variables passed to the target; anything else (LD_PRELOAD, PATH...) is dropped.
const std::set<std::string> kEnvAllowList{"LANG",        "LC_ALL", "LC_CTYPE",
                                          "LC_MESSAGES", "TZ",     "COLORTERM"};

class Relay;

/// One vendor channel and the target channel it is relayed to.
struct Pair {
  Relay* relay = nullptr;
  ssh_channel vendor = nullptr;
  ssh_channel target = nullptr;
  std::string toTarget;
  std::string toVendor;
  std::string toVendorErr;
  bool vendorEof = false;
  bool targetEof = false;
  bool targetClosed = false;
  bool vendorClosed = false;
  bool eofSentToTarget = false;
  bool eofSentToVendor = false;
  bool done = false;
  bool pty = false;
  bool console = false;                   // tunnels-only login: no target channel, only notices
  bool consoleEnd = false;                // the vendor typed Ctrl-C or Ctrl-D on the console
  std::uint32_t id = 0;                   // channel number in the recording
  std::optional<ShellLineFilter> filter;  // typed-command filtering, where policy asks for it
  std::optional<int> exitStatus;
  std::optional<std::string> exitSignal;
  ssh_channel_callbacks_struct vendorCb{};
  ssh_channel_callbacks_struct targetCb{};
};

class Relay {
 public:
  explicit Relay(RelaySetup& s)
      : s_(s),
        recheck_(s.backend, s.login, s.source, s.allow),
        tunnelContext_{nullptr, s.backend, s.recording, s.options.tunnelIdleTimeout,
                       s.options.tunnelConnectTimeout} {}

  RelayResult run() {
    std::memset(&serverCb_, 0, sizeof serverCb_);
    serverCb_.userdata = this;
    serverCb_.channel_open_request_session_function = &Relay::onChannelOpen;
    ssh_callbacks_init(&serverCb_);
    ssh_set_server_callbacks(s_.vendor, &serverCb_);
    // direct-tcpip (`ssh -L`) has no callback of its own in libssh 0.10: it arrives as a
    // message. Everything else that reaches the message callback gets libssh's refusal.
    ssh_set_message_callback(s_.vendor, &Relay::onMessage, this);

    event_ = ssh_event_new();
    tunnelContext_.event = event_;
    ssh_event_add_session(event_, s_.vendor);
    if (s_.target != nullptr) ssh_event_add_session(event_, s_.target->native());
    auto nextCheck = std::chrono::steady_clock::now();
    while (reason_.empty()) {
      // 50 ms poll when idle; data wakes it at once. Enforcement runs at least every second.
      ssh_event_dopoll(event_, 50);
      flush();
      if (s_.stopping) end("the broker is shutting down");
      if (s_.recording != nullptr && !s_.recording->status()) {
        // Fail closed: a session whose recording failed does not go on unrecorded.
        notice("\r\nConduit: the session recording failed; the session ends.\r\n");
        end("recording failed: " + s_.recording->status().error().message);
      }
      if (ssh_is_connected(s_.vendor) == 0) end("vendor disconnected");
      if (s_.target != nullptr && ssh_is_connected(s_.target->native()) == 0) {
        end("target disconnected");
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= nextCheck) {
        enforce();
        nextCheck = now + std::chrono::seconds(1);
      }
    }
    drainTunnels();
    for (auto& t : tunnels_) t->finish(reason_);
    collectTunnels();
    for (auto& p : pairs_) closePair(p, true);
    ssh_set_message_callback(s_.vendor, nullptr, nullptr);
    if (s_.target != nullptr) ssh_event_remove_session(event_, s_.target->native());
    ssh_event_remove_session(event_, s_.vendor);
    ssh_event_free(event_);
    return RelayResult{reason_, toTarget_, toVendor_};
  }

 private:
  void end(const std::string& why) {
    if (reason_.empty()) reason_ = why;
  }

  /// The session ended: tunnels refuse new writes and get up to kTunnelDrain for the
  /// requests in flight (issue 8 item 5: never cut a transfer halfway without trying to drain).
  void drainTunnels() {
    if (tunnels_.empty()) return;
    for (auto& t : tunnels_) t->endAfterDrain(reason_, kTunnelDrain);
    const auto deadline = std::chrono::steady_clock::now() + kTunnelDrain;
    while (!tunnels_.empty() && std::chrono::steady_clock::now() < deadline &&
           ssh_is_connected(s_.vendor) != 0) {
      ssh_event_dopoll(event_, 20);
      flush();
    }
  }

  /// Window end, revocation and kill: re-checked every second (CIP-005 R2.5, issue 5).
  void enforce() {
    const AccessRecheck::Outcome r = recheck_.run();
    if (r.ended) {
      notice("\r\nConduit: " + *r.ended + "\r\n");
      // Seen with `ssh -v` even where no terminal is open (`ssh -N -L`).
      ssh_send_debug(s_.vendor, ("Conduit: " + *r.ended).c_str(), 1);
      end(*r.ended);
      return;
    }
    enforceTunnels();
    // Shortly before the window closes, writes stop so that requests in flight can finish.
    if (std::chrono::system_clock::now() + kTunnelDrain * 2 >= s_.allow.until) {
      for (auto& t : tunnels_) t->beginDrain();
    }
    // Warned only once a channel has shown it: the first check can run before the vendor's
    // first channel is open.
    if (r.warning && notice("\r\nConduit: " + *r.warning + "\r\n") > 0) recheck_.warned();
  }

  /// Appends to the recording; a failure ends the session (fail closed).
  void record(recorder::RecordKind kind, std::uint32_t channel, recorder::Direction dir,
              std::span<const unsigned char> bytes) {
    if (s_.recording == nullptr) return;
    if (auto st = s_.recording->append(kind, channel, dir, bytes); !st) {
      end("recording failed: " + st.error().message);
    }
  }
  void recordText(recorder::RecordKind kind, std::uint32_t channel, const std::string& text) {
    record(kind, channel, recorder::Direction::none,
           {reinterpret_cast<const unsigned char*>(text.data()), text.size()});
  }

  /// A line on every open vendor channel's stderr, bypassing the queues; returns how many
  /// channels got it.
  int notice(const std::string& text) {
    int shown = 0;
    for (auto& p : pairs_) {
      if (!p.done && p.vendor != nullptr && ssh_channel_is_open(p.vendor) != 0) {
        ssh_channel_write_stderr(p.vendor, text.data(), static_cast<uint32_t>(text.size()));
        ++shown;
      }
    }
    recordText(recorder::RecordKind::marker, 0, text);
    return shown;
  }

  /// Tunnels to another protocol than the login's (an HMI's ssh login with a tunnel to its
  /// Modbus endpoint) hang on that protocol's grant: it is re-checked every second too.
  void enforceTunnels() {
    std::set<core::Protocol> protocols;
    for (const auto& t : tunnels_) {
      if (!t->done() && t->protocol() != s_.allow.protocol) protocols.insert(t->protocol());
    }
    for (const core::Protocol p : protocols) {
      const GatewayDecision d =
          s_.backend.recheckAccess(s_.login.user, s_.login.asset, p, s_.source);
      const auto* no = std::get_if<GatewayRefuse>(&d);
      if (no == nullptr) continue;
      for (auto& t : tunnels_) {
        if (t->done() || t->protocol() != p) continue;
        tell("\r\nConduit: tunnel " + printable(t->describe()) +
             " closed: access ended: " + printable(no->reason) + "\r\n");
        t->endAfterDrain("access ended: " + no->reason, kTunnelDrain);
      }
    }
  }

  /// A line on every open console or session channel's stderr, queued (never a blocking
  /// write) and recorded as a marker.
  void tell(const std::string& text) {
    for (auto& p : pairs_) {
      if (!p.done && p.toVendorErr.size() < kMaxPending) p.toVendorErr += text;
    }
    recordText(recorder::RecordKind::marker, 0, text);
  }

  static int onMessage(ssh_session, ssh_message msg, void* self) noexcept {
    try {
      return static_cast<Relay*>(self)->message(msg);
    } catch (...) {
      return 1;  // libssh refuses it
    }
  }

  /// `ssh -L LOCALPORT:HOST:PORT`: one direct-tcpip channel per connection to LOCALPORT. The
  /// backend decides; the broker connects to the endpoint's configured address, never to
  /// HOST itself.
  int message(ssh_message msg) {
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
    if (!reason_.empty()) return refuseTunnel(msg, r, "the session is ending");
    std::size_t live = 0;
    for (const auto& t : tunnels_) live += t->done() ? 0U : 1U;
    if (live >= kMaxTunnels) {
      return refuseTunnel(msg, r,
                          "at most " + std::to_string(kMaxTunnels) + " tunnel connections at once");
    }
    TunnelDecision decision = s_.backend.openTunnel(r);
    if (const auto* no = std::get_if<GatewayRefuse>(&decision)) {
      return refuseTunnel(msg, r, no->reason);
    }
    auto tunnel = Tunnel::connect(tunnelContext_, r, std::move(std::get<TunnelTarget>(decision)),
                                  ++channelCounter_);
    if (!tunnel) return refuseTunnel(msg, r, tunnel.error().message);
    ssh_channel channel = ssh_message_channel_request_open_reply_accept(msg);
    if (channel == nullptr) {
      (*tunnel)->finish("the vendor's channel could not be opened");
      return 0;
    }
    (*tunnel)->attach(channel);
    spdlog::info("event=ssh_tunnel_opened session={} user={} tunnel=\"{}\"", s_.sessionId,
                 s_.login.user, printable((*tunnel)->describe()));
    tunnels_.push_back(std::move(*tunnel));
    return 0;
  }

  /// Refuses a direct-tcpip channel. libssh 0.10 can only send an empty reason with
  /// SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, so the reason also goes where the vendor can see
  /// it: any open terminal of the session, and a debug message (`ssh -v`).
  int refuseTunnel(ssh_message msg, const TunnelRequest& r, const std::string& reason) {
    const std::string line = "Conduit: tunnel to " + printable(r.host) + ":" +
                             std::to_string(r.port) + " refused: " + printable(reason);
    spdlog::info("event=ssh_tunnel_refused session={} user={} reason=\"{}\"", s_.sessionId,
                 s_.login.user, line);
    ssh_message_reply_default(msg);
    ssh_send_debug(s_.vendor, line.c_str(), 1);
    tell("\r\n" + line + "\r\n");
    return 0;
  }

  /// Adds finished tunnels' bytes to the session's totals and drops them.
  void collectTunnels() {
    for (const auto& t : tunnels_) {
      if (!t->done()) continue;
      toTarget_ += t->bytesToTarget();
      toVendor_ += t->bytesToVendor();
      // The vendor's client only sees its connection close: say why where it can be seen.
      if (t->failure() && reason_.empty()) {
        tell("\r\nConduit: tunnel " + printable(t->describe()) +
             " closed: " + printable(*t->failure()) + "\r\n");
      }
    }
    tunnels_.remove_if([](const std::unique_ptr<Tunnel>& t) { return t->done(); });
  }

  static ssh_channel onChannelOpen(ssh_session, void* self) noexcept {
    try {
      return static_cast<Relay*>(self)->openPair();
    } catch (...) {
      return nullptr;
    }
  }

  ssh_channel openPair() {
    std::size_t live = 0;
    for (const auto& p : pairs_) live += p.done ? 0 : 1;
    if (live >= kMaxChannels || !reason_.empty()) return nullptr;
    // Every channel open re-checks the grant (non-negotiable 5).
    const GatewayDecision d =
        s_.backend.checkAccess(s_.login.user, s_.login.asset, s_.allow.protocol, s_.source);
    if (std::holds_alternative<GatewayRefuse>(d)) return nullptr;
    if (s_.target == nullptr) return openConsole();
    ssh_channel target = ssh_channel_new(s_.target->native());
    if (target == nullptr) return nullptr;
    if (ssh_channel_open_session(target) != SSH_OK) {
      spdlog::warn("event=ssh_channel_open_failed user={} asset={} reason=\"{}\"", s_.login.user,
                   s_.login.asset, ssh_get_error(s_.target->native()));
      ssh_channel_free(target);
      return nullptr;
    }
    ssh_channel vendor = ssh_channel_new(s_.vendor);
    if (vendor == nullptr) {
      ssh_channel_close(target);
      ssh_channel_free(target);
      return nullptr;
    }
    Pair& p = pairs_.emplace_back();
    p.relay = this;
    p.id = ++channelCounter_;
    p.vendor = vendor;
    p.target = target;
    auto& v = p.vendorCb;
    v.userdata = &p;
    v.channel_data_function = &Relay::onVendorData;
    v.channel_eof_function = &Relay::onVendorEof;
    v.channel_close_function = &Relay::onVendorClose;
    v.channel_pty_request_function = &Relay::onPty;
    v.channel_shell_request_function = &Relay::onShell;
    v.channel_exec_request_function = &Relay::onExec;
    v.channel_subsystem_request_function = &Relay::onSubsystem;
    v.channel_env_request_function = &Relay::onEnv;
    v.channel_pty_window_change_function = &Relay::onWindowChange;
    v.channel_signal_function = &Relay::onSignal;
    ssh_callbacks_init(&v);
    ssh_set_channel_callbacks(vendor, &v);
    auto& t = p.targetCb;
    t.userdata = &p;
    t.channel_data_function = &Relay::onTargetData;
    t.channel_eof_function = &Relay::onTargetEof;
    t.channel_close_function = &Relay::onTargetClose;
    t.channel_exit_status_function = &Relay::onExitStatus;
    t.channel_exit_signal_function = &Relay::onExitSignal;
    ssh_callbacks_init(&t);
    ssh_set_channel_callbacks(target, &t);
    return vendor;
  }

  /// A tunnels-only login's session channel (`ssh -L ... alice+plc-17@gateway` without -N):
  /// nothing behind it; it says so, then shows tunnel refusals and notices.
  ssh_channel openConsole() {
    ssh_channel vendor = ssh_channel_new(s_.vendor);
    if (vendor == nullptr) return nullptr;
    Pair& p = pairs_.emplace_back();
    p.relay = this;
    p.id = ++channelCounter_;
    p.vendor = vendor;
    p.console = true;
    auto& v = p.vendorCb;
    v.userdata = &p;
    v.channel_data_function = &Relay::onConsoleData;
    v.channel_eof_function = &Relay::onVendorEof;
    v.channel_close_function = &Relay::onVendorClose;
    v.channel_pty_request_function = &Relay::onConsolePty;
    v.channel_pty_window_change_function = &Relay::onConsoleWindowChange;
    v.channel_shell_request_function = &Relay::onConsoleShell;
    v.channel_exec_request_function = &Relay::onConsoleExec;
    ssh_callbacks_init(&v);
    ssh_set_channel_callbacks(vendor, &v);
    return vendor;
  }

  std::string consoleText() const {
    return "Conduit: " + s_.login.asset +
           " has no ssh endpoint; this login carries ssh -L tunnels only, e.g.\r\n  ssh -N -L "
           "LOCALPORT:" +
           s_.login.asset + ":PORT " + s_.login.user + "+" + s_.login.asset + "@GATEWAY\r\n";
  }

  // Input on the console is discarded; Ctrl-C or Ctrl-D (with a pty) ends the session.
  static int onConsoleData(ssh_session, ssh_channel, void* data, uint32_t len, int,
                           void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    const auto* b = static_cast<const char*>(data);
    if (std::memchr(b, 0x03, len) != nullptr || std::memchr(b, 0x04, len) != nullptr) {
      p->consoleEnd = true;
    }
    return static_cast<int>(len);
  }
  static int onConsolePty(ssh_session, ssh_channel, const char*, int, int, int, int,
                          void* pair) noexcept {
    static_cast<Pair*>(pair)->pty = true;
    return 0;
  }
  static int onConsoleWindowChange(ssh_session, ssh_channel, int, int, int, int, void*) noexcept {
    return 0;
  }
  static int onConsoleShell(ssh_session, ssh_channel, void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      p->toVendorErr += p->relay->consoleText() +
                        "Tunnel refusals and notices appear here. Ctrl-C or Ctrl-D ends the "
                        "session.\r\n";
      return 0;
    } catch (...) {
      return -1;
    }
  }
  static int onConsoleExec(ssh_session, ssh_channel, const char*, void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      const std::string text = p->relay->consoleText();
      ssh_channel_write_stderr(p->vendor, text.data(), static_cast<uint32_t>(text.size()));
      return -1;
    } catch (...) {
      return -1;
    }
  }

  // Vendor -> target. Consume only what fits; libssh keeps the rest and stops reopening the
  // vendor's window, which is the backpressure.
  static int onVendorData(ssh_session, ssh_channel, void* data, uint32_t len, int,
                          void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    const std::size_t room = kMaxPending - std::min(kMaxPending, p->toTarget.size());
    const std::size_t n = std::min<std::size_t>(room, len);
    const std::size_t at = p->toTarget.size();
    p->toTarget.append(static_cast<const char*>(data), n);
    try {
      p->relay->filterTyped(*p, at);
    } catch (...) {
      p->relay->end("internal error while filtering typed commands");
    }
    // Typed input on a terminal is recorded only where policy allows (passwords are typed at
    // prompts); everything else a vendor sends (exec stdin, file uploads) is always recorded.
    if (n > 0 && (!p->pty || p->relay->s_.allow.limits.recordKeystrokes)) {
      p->relay->record(recorder::RecordKind::terminal_input, p->id, recorder::Direction::to_target,
                       {reinterpret_cast<const unsigned char*>(p->toTarget.data()) + at, n});
    }
    return static_cast<int>(n);
  }

  static int onTargetData(ssh_session, ssh_channel, void* data, uint32_t len, int isStderr,
                          void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    std::string& q = isStderr != 0 ? p->toVendorErr : p->toVendor;
    const std::size_t room = kMaxPending - std::min(kMaxPending, q.size());
    const std::size_t n = std::min<std::size_t>(room, len);
    q.append(static_cast<const char*>(data), n);
    if (n > 0) {
      p->relay->record(recorder::RecordKind::terminal_output, p->id, recorder::Direction::to_client,
                       {static_cast<const unsigned char*>(data), n});
      if (p->pty) {
        p->relay->s_.backend.terminalOutput(p->relay->s_.sessionId,
                                            {static_cast<const char*>(data), n});
      }
    }
    return static_cast<int>(n);
  }

  static void onVendorEof(ssh_session, ssh_channel, void* pair) noexcept {
    static_cast<Pair*>(pair)->vendorEof = true;
  }
  static void onVendorClose(ssh_session, ssh_channel, void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    p->vendorClosed = true;
    p->vendorEof = true;
  }
  static void onTargetEof(ssh_session, ssh_channel, void* pair) noexcept {
    static_cast<Pair*>(pair)->targetEof = true;
  }
  static void onTargetClose(ssh_session, ssh_channel, void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    p->targetClosed = true;
    p->targetEof = true;
  }
  static void onExitStatus(ssh_session, ssh_channel, int status, void* pair) noexcept {
    static_cast<Pair*>(pair)->exitStatus = status;
  }
  static void onExitSignal(ssh_session, ssh_channel, const char* signal, int, const char*,
                           const char*, void* pair) noexcept {
    static_cast<Pair*>(pair)->exitSignal = signal != nullptr ? signal : "KILL";
  }

  static int onPty(ssh_session, ssh_channel, const char* term, int cols, int rows, int, int,
                   void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    p->pty = true;
    const auto& ssh = p->relay->s_.allow.limits.ssh;
    if (ssh.filterShellCommands && !ssh.commandDeny.empty()) {
      try {
        p->filter.emplace(ssh.commandDeny);
      } catch (...) {
        return -1;  // refused: no shell without the filter the policy asks for
      }
    }
    p->relay->recordResize(*p, cols, rows);
    return ssh_channel_request_pty_size(p->target, term, cols, rows) == SSH_OK ? 0 : -1;
  }
  static int onWindowChange(ssh_session, ssh_channel, int cols, int rows, int, int,
                            void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    p->relay->recordResize(*p, cols, rows);
    return ssh_channel_change_pty_size(p->target, cols, rows) == SSH_OK ? 0 : -1;
  }
  static int onShell(ssh_session, ssh_channel, void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    return ssh_channel_request_shell(p->target) == SSH_OK ? 0 : -1;
  }
  static int onExec(ssh_session, ssh_channel, const char* command, void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      return p->relay->exec(*p, command) ? 0 : -1;
    } catch (...) {
      return -1;
    }
  }
  static int onSubsystem(ssh_session, ssh_channel, const char* name, void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    if (std::strcmp(name, "sftp") != 0 || !p->relay->s_.allow.limits.ssh.sftp) return -1;
    p->relay->recordText(recorder::RecordKind::marker, p->id, "subsystem sftp");
    return ssh_channel_request_subsystem(p->target, "sftp") == SSH_OK ? 0 : -1;
  }
  static int onEnv(ssh_session, ssh_channel, const char* name, const char* value,
                   void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      const std::string n = name;
      if (!kEnvAllowList.contains(n) && n.rfind("LC_", 0) != 0) return -1;
      return ssh_channel_request_env(p->target, name, value) == SSH_OK ? 0 : -1;
    } catch (...) {
      return -1;
    }
  }
  static void onSignal(ssh_session, ssh_channel, const char* signal, void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    ssh_channel_request_send_signal(p->target, signal);
  }

  bool exec(Pair& p, const std::string& command) {
    const auto& limits = s_.allow.limits.ssh;
    // scp is file transfer: allowed only where sftp is.
    if (!limits.sftp && (command.rfind("scp ", 0) == 0 || command == "scp")) {
      std::string msg = "Conduit: file transfer is not allowed by policy\r\n";
      ssh_channel_write_stderr(p.vendor, msg.data(), static_cast<uint32_t>(msg.size()));
      return false;
    }
    for (const auto& pattern : limits.commandDeny) {
      if (policies::globMatch(pattern, command)) {
        std::string msg = "Conduit: command refused by policy (" + pattern + ")\r\n";
        ssh_channel_write_stderr(p.vendor, msg.data(), static_cast<uint32_t>(msg.size()));
        return false;
      }
    }
    recordText(recorder::RecordKind::exec_command, p.id, command);
    return ssh_channel_request_exec(p.target, command.c_str()) == SSH_OK;
  }

  /// Typed-command filtering (best effort, see ShellLineFilter): the bytes from `from` on in
  /// p.toTarget are what the vendor typed; a refused line's Enter becomes Ctrl-U (same length)
  /// and the vendor is told why.
  void filterTyped(Pair& p, std::size_t from) {
    if (!p.filter || from >= p.toTarget.size()) return;
    auto out = p.filter->feed(std::string_view(p.toTarget).substr(from));
    p.toTarget.replace(from, std::string::npos, out.forward);
    for (const auto& pattern : out.refusals) {
      const std::string text = "\r\nConduit: command refused by policy (" + pattern + ")\r\n";
      if (p.toVendorErr.size() < kMaxPending) p.toVendorErr += text;
      recordText(recorder::RecordKind::marker, p.id,
                 "typed command refused by policy (" + pattern + ")");
      spdlog::info("event=ssh_typed_command_refused session={} user={} pattern=\"{}\"",
                   s_.sessionId, s_.login.user, printable(pattern));
    }
  }

  void recordResize(Pair& p, int cols, int rows) {
    const auto payload =
        recorder::encodeResize({static_cast<std::uint32_t>(std::clamp(cols, 0, 65535)),
                                static_cast<std::uint32_t>(std::clamp(rows, 0, 65535))});
    record(recorder::RecordKind::resize, p.id, recorder::Direction::none, payload);
  }

  /// Moves queued bytes as far as the receiving windows allow, pulls leftovers libssh holds
  /// for us once there is room again, and forwards EOF/close only after draining.
  void flush() {
    for (auto& p : pairs_) {
      if (p.done) continue;
      if (p.console) {
        toVendor_ += drain(p.toVendorErr, p.vendor, true);
        if (p.consoleEnd) p.exitStatus = 0;
        // Not on EOF: `ssh -T ... </dev/null` sends it at once and still wants its tunnels.
        if (p.vendorClosed || p.consoleEnd) closePair(p, false);
        continue;
      }
      toTarget_ += drain(p.toTarget, p.target, false);
      toVendor_ += drain(p.toVendor, p.vendor, false);
      toVendor_ += drain(p.toVendorErr, p.vendor, true);
      refillPair(p);
      if (p.vendorEof && p.toTarget.empty() && !p.eofSentToTarget) {
        ssh_channel_send_eof(p.target);
        p.eofSentToTarget = true;
      }
      if (p.vendorClosed) {
        closePair(p, false);
        continue;
      }
      if (p.targetEof && p.toVendor.empty() && p.toVendorErr.empty()) {
        if (!p.eofSentToVendor) {
          ssh_channel_send_eof(p.vendor);
          p.eofSentToVendor = true;
        }
        // Close only when the target closes: exit-status usually follows its EOF.
        if (p.targetClosed) closePair(p, false);
      }
    }
    pairs_.remove_if([](const Pair& p) { return p.done; });
    const auto now = std::chrono::steady_clock::now();
    // A pump may poll libssh and so open a new tunnel: std::list keeps this loop valid.
    for (auto& t : tunnels_) {
      try {
        t->pump(now);
      } catch (...) {  // an inspector's exception (e.g. bad_alloc) ends its connection only
        t->finish("internal error while relaying");
      }
    }
    collectTunnels();
  }

  static std::uint64_t drain(std::string& q, ssh_channel to, bool stderrStream) {
    if (q.empty() || ssh_channel_is_open(to) == 0) return 0;
    const std::size_t window = ssh_channel_window_size(to);
    const std::size_t n = std::min(q.size(), window);
    if (n == 0) return 0;
    const int written = stderrStream
                            ? ssh_channel_write_stderr(to, q.data(), static_cast<uint32_t>(n))
                            : ssh_channel_write(to, q.data(), static_cast<uint32_t>(n));
    if (written <= 0) return 0;  // e.g. during a key re-exchange: retry on the next round
    q.erase(0, static_cast<std::size_t>(written));
    return static_cast<std::uint64_t>(written);
  }

  /// Pulls what libssh kept for us into q, calling onChunk(at) for each chunk it read (the chunk
  /// is q[at..]). A read may run the channel's data callbacks, which append (and record) bytes
  /// of their own first: only the chunks read here are handed to onChunk, so nothing is
  /// recorded or filtered twice.
  template <class OnChunk>
  static void refill(ssh_channel from, std::string& q, bool stderrStream, OnChunk onChunk) {
    if (ssh_channel_is_open(from) == 0) return;
    char buf[65536];
    while (q.size() < kMaxPending) {
      const std::size_t room = std::min(sizeof buf, kMaxPending - q.size());
      const int n = ssh_channel_read_nonblocking(from, buf, static_cast<uint32_t>(room),
                                                 stderrStream ? 1 : 0);
      if (n <= 0) break;
      const std::size_t at = q.size();
      q.append(buf, static_cast<std::size_t>(n));
      onChunk(at);
    }
  }

  /// Leftovers pulled after a throttled side had room again are recorded and shown live exactly
  /// like bytes that came through the data callbacks (nothing relayed goes unrecorded).
  void refillPair(Pair& p) {
    auto bytes = [](const std::string& q, std::size_t from) {
      return std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(q.data()) + from,
                                            q.size() - from);
    };
    refill(p.vendor, p.toTarget, false, [&](std::size_t at) {
      filterTyped(p, at);
      if (!p.pty || s_.allow.limits.recordKeystrokes) {
        record(recorder::RecordKind::terminal_input, p.id, recorder::Direction::to_target,
               bytes(p.toTarget, at));
      }
    });
    for (std::string* q : {&p.toVendor, &p.toVendorErr}) {
      refill(p.target, *q, q == &p.toVendorErr, [&](std::size_t at) {
        record(recorder::RecordKind::terminal_output, p.id, recorder::Direction::to_client,
               bytes(*q, at));
        if (p.pty) {
          s_.backend.terminalOutput(s_.sessionId, std::string_view(q->data() + at, q->size() - at));
        }
      });
    }
  }

  void closePair(Pair& p, bool forced) {
    if (p.done) return;
    p.done = true;
    if (ssh_channel_is_open(p.vendor) != 0) {
      if (p.exitStatus) ssh_channel_request_send_exit_status(p.vendor, *p.exitStatus);
      if (p.exitSignal) {
        ssh_channel_request_send_exit_signal(p.vendor, p.exitSignal->c_str(), 0, "", "");
      }
      if (forced && !p.exitStatus) ssh_channel_request_send_exit_status(p.vendor, 255);
      if (!p.eofSentToVendor) ssh_channel_send_eof(p.vendor);
      ssh_channel_close(p.vendor);
    }
    ssh_remove_channel_callbacks(p.vendor, &p.vendorCb);
    if (p.target != nullptr) {
      if (ssh_channel_is_open(p.target) != 0) ssh_channel_close(p.target);
      ssh_remove_channel_callbacks(p.target, &p.targetCb);
      ssh_channel_free(p.target);
    }
    ssh_channel_free(p.vendor);
  }

  RelaySetup& s_;
  AccessRecheck recheck_;
  ssh_server_callbacks_struct serverCb_{};
  ssh_event event_ = nullptr;
  std::list<Pair> pairs_;  // stable addresses: callbacks hold pointers to pairs
  TunnelContext tunnelContext_;
  std::list<std::unique_ptr<Tunnel>> tunnels_;
  std::string reason_;
  std::uint32_t channelCounter_ = 0;
  std::uint64_t toTarget_ = 0;
  std::uint64_t toVendor_ = 0;
};

}  // namespace

RelayResult runRelay(RelaySetup setup) {
  Relay relay(setup);
  return relay.run();
}

}  // namespace conduit::ssh
