#include "relay.hpp"

#include <libssh/callbacks.h>
#include <libssh/server.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <list>
#include <set>

#include <spdlog/spdlog.h>

#include "conduit/policies/glob.hpp"
#include "conduit/recorder/record.hpp"
#include "live_session.hpp"

namespace conduit::ssh {

namespace {

// 1 MiB per direction: enough to keep a fast link busy while the other side's window is
// closed, small enough that a vendor who stops reading cannot make the broker buffer without
// bound (libssh stops reopening our receive window while this is full).
constexpr std::size_t kMaxPending = 1024 * 1024;
// A vendor may run a few channels at once (shell + sftp + exec); 1,000 would only tie up the
// target's session slots.
constexpr std::size_t kMaxChannels = 16;
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
  std::uint32_t id = 0;  // channel number in the recording
  std::optional<int> exitStatus;
  std::optional<std::string> exitSignal;
  ssh_channel_callbacks_struct vendorCb{};
  ssh_channel_callbacks_struct targetCb{};
};

class Relay {
 public:
  explicit Relay(RelaySetup& s) : s_(s), recheck_(s.backend, s.login, s.source, s.allow) {}

  RelayResult run() {
    std::memset(&serverCb_, 0, sizeof serverCb_);
    serverCb_.userdata = this;
    serverCb_.channel_open_request_session_function = &Relay::onChannelOpen;
    ssh_callbacks_init(&serverCb_);
    ssh_set_server_callbacks(s_.vendor, &serverCb_);

    event_ = ssh_event_new();
    ssh_event_add_session(event_, s_.vendor);
    ssh_event_add_session(event_, s_.target.native());
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
      if (ssh_is_connected(s_.target.native()) == 0) end("target disconnected");
      const auto now = std::chrono::steady_clock::now();
      if (now >= nextCheck) {
        enforce();
        nextCheck = now + std::chrono::seconds(1);
      }
    }
    for (auto& p : pairs_) closePair(p, true);
    ssh_event_remove_session(event_, s_.target.native());
    ssh_event_remove_session(event_, s_.vendor);
    ssh_event_free(event_);
    return RelayResult{reason_, toTarget_, toVendor_};
  }

 private:
  void end(const std::string& why) {
    if (reason_.empty()) reason_ = why;
  }

  /// Window end, revocation and kill: re-checked every second (CIP-005 R2.5, issue 5).
  void enforce() {
    const AccessRecheck::Outcome r = recheck_.run();
    if (r.ended) {
      notice("\r\nConduit: " + *r.ended + "\r\n");
      end(*r.ended);
      return;
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
        s_.backend.checkAccess(s_.login.user, s_.login.asset, core::Protocol::ssh, s_.source);
    if (std::holds_alternative<GatewayRefuse>(d)) return nullptr;
    ssh_channel target = ssh_channel_new(s_.target.native());
    if (target == nullptr) return nullptr;
    if (ssh_channel_open_session(target) != SSH_OK) {
      spdlog::warn("event=ssh_channel_open_failed user={} asset={} reason=\"{}\"", s_.login.user,
                   s_.login.asset, ssh_get_error(s_.target.native()));
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

  // Vendor -> target. Consume only what fits; libssh keeps the rest and stops reopening the
  // vendor's window, which is the backpressure.
  static int onVendorData(ssh_session, ssh_channel, void* data, uint32_t len, int,
                          void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    const std::size_t room = kMaxPending - std::min(kMaxPending, p->toTarget.size());
    const std::size_t n = std::min<std::size_t>(room, len);
    p->toTarget.append(static_cast<const char*>(data), n);
    // Typed input on a terminal is recorded only where policy allows (passwords are typed at
    // prompts); everything else a vendor sends (exec stdin, file uploads) is always recorded.
    if (n > 0 && (!p->pty || p->relay->s_.allow.limits.recordKeystrokes)) {
      p->relay->record(recorder::RecordKind::terminal_input, p->id, recorder::Direction::to_target,
                       {static_cast<const unsigned char*>(data), n});
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
      toTarget_ += drain(p.toTarget, p.target, false);
      toVendor_ += drain(p.toVendor, p.vendor, false);
      toVendor_ += drain(p.toVendorErr, p.vendor, true);
      refill(p.vendor, p.toTarget, false);
      refill(p.target, p.toVendor, false);
      refill(p.target, p.toVendorErr, true);
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

  static void refill(ssh_channel from, std::string& q, bool stderrStream) {
    if (ssh_channel_is_open(from) == 0) return;
    char buf[65536];
    while (q.size() < kMaxPending) {
      const std::size_t room = std::min(sizeof buf, kMaxPending - q.size());
      const int n = ssh_channel_read_nonblocking(from, buf, static_cast<uint32_t>(room),
                                                 stderrStream ? 1 : 0);
      if (n <= 0) return;
      q.append(buf, static_cast<std::size_t>(n));
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
    if (ssh_channel_is_open(p.target) != 0) ssh_channel_close(p.target);
    ssh_remove_channel_callbacks(p.vendor, &p.vendorCb);
    ssh_remove_channel_callbacks(p.target, &p.targetCb);
    ssh_channel_free(p.target);
    ssh_channel_free(p.vendor);
  }

  RelaySetup& s_;
  AccessRecheck recheck_;
  ssh_server_callbacks_struct serverCb_{};
  ssh_event event_ = nullptr;
  std::list<Pair> pairs_;  // stable addresses: callbacks hold pointers to pairs
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
