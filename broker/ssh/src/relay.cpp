#include "relay.hpp"

#include <libssh/callbacks.h>
#include <libssh/server.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include <spdlog/spdlog.h>

#include "conduit/policies/glob.hpp"
#include "conduit/recorder/record.hpp"
#include "conduit/ssh/scp_observer.hpp"
#include "conduit/ssh/sftp_observer.hpp"
#include "conduit/ssh/shell_line_filter.hpp"
#include "forwarding.hpp"
#include "live_session.hpp"
#include "printable.hpp"
#include "session_thread.hpp"
#include "tunnel.hpp"

// Threads: the vendor's session (its channels, `ssh -L` tunnels, enforcement) runs on the
// connection's thread; the target's session runs on a SessionThread of its own, so the two
// sides' crypto and socket work run on two cores at once. They share only each Pair's queues
// and flags, under Relay::mu_, which is never held while calling libssh (a libssh call can run
// callbacks that take it). Each side takes the other's queue whole (swap) into a buffer of its
// own and writes from there; it wakes the other side through an eventfd only when a queue goes
// from empty to non-empty, when a flag changes, or when it frees room the other side waits for.

namespace conduit::ssh {

namespace {

// 1 MiB per direction: enough to keep a fast link busy while the other side's window is
// closed, small enough that a vendor who stops reading cannot make the broker buffer without
// bound (libssh stops reopening our receive window while this is full).
constexpr std::size_t kMaxPending = 1024 * 1024;
// 256 KiB: bulk data goes to the other side's thread in large pieces (one wake-up and one
// flush per 256 KiB rather than per 32 KiB packet); less than that goes when this side's
// thread runs out of work, before it waits (so a keystroke is not held back).
constexpr std::size_t kHandOver = 256 * 1024;
// A vendor may run a few channels at once (shell + sftp + exec); 1,000 would only tie up the
// target's session slots.
constexpr std::size_t kMaxChannels = 16;
// 10 s: how long a channel the vendor closed waits for the target's exit status (a command
// that closed its output first and exits a moment later). Window end, revocation and kill
// still end it at once.
constexpr auto kExitStatusWait = std::chrono::seconds(10);
// Environment variables passed to the target; anything else (LD_PRELOAD, PATH...) is dropped.
const std::set<std::string> kEnvAllowList{"LANG",        "LC_ALL", "LC_CTYPE",
                                          "LC_MESSAGES", "TZ",     "COLORTERM"};

std::span<const unsigned char> bytesOf(const std::string& q, std::size_t from) {
  return {reinterpret_cast<const unsigned char*>(q.data()) + from, q.size() - from};
}

class Relay;

/// Bytes taken whole from a shared queue, being written: what was written is skipped, not
/// erased (erasing moved the rest, up to 1 MiB, to the front after every partial write:
/// measured 2 % of the broker's CPU on a bulk download).
class Outgoing {
 public:
  bool empty() const { return bytes_.empty(); }
  std::size_t size() const { return bytes_.size() - pos_; }
  const char* data() const { return bytes_.data() + pos_; }
  /// When empty, takes q's bytes; q gets this buffer's (cleared) storage back.
  void takeFrom(std::string& q) {
    if (empty()) bytes_.swap(q);
  }
  void consume(std::size_t n) {
    pos_ += std::min(n, size());
    if (pos_ == bytes_.size()) {
      bytes_.clear();
      pos_ = 0;
    }
  }

 private:
  std::string bytes_;  // empty whenever everything was written (pos_ is then 0)
  std::size_t pos_ = 0;
};

/// One vendor channel and the target channel it is relayed to.
struct Pair {
  Relay* relay = nullptr;
  std::uint32_t id = 0;  // channel number in the recording
  bool console = false;  // tunnels-only login: no target channel, only notices
  std::atomic<bool> pty{false};

  // Vendor thread only.
  ssh_channel vendor = nullptr;
  Outgoing outVendor;  // taken from shared.toVendor, being written to the vendor
  Outgoing outVendorErr;
  bool eofSentToVendor = false;
  // When the vendor closed its side first (its close waits for the target's exit status).
  std::optional<std::chrono::steady_clock::time_point> vendorClosedAt;
  bool refused = false;     // a request was refused: the channel ends once the reason is out
  bool started = false;     // the target accepted a shell, exec or subsystem request
  bool consoleEnd = false;  // the vendor typed Ctrl-C or Ctrl-D on the console
  std::optional<ShellLineFilter> filter;  // typed-command filtering, where policy asks for it
  ssh_channel_callbacks_struct vendorCb{};

  // An sftp or scp channel's file operations, decoded from both threads' bytes. Set once,
  // before the request starts on the target, and used only under Relay::mu_ (a hostile target
  // may send bytes on a channel before any request).
  std::unique_ptr<FileObserver> files;

  // Target thread only (target is set by a task on that thread).
  ssh_channel target = nullptr;
  Outgoing outTarget;  // taken from shared.toTarget, being written to the target
  bool eofSentToTarget = false;
  ssh_channel_callbacks_struct targetCb{};

  // Both threads, under Relay::mu_.
  struct Shared {
    std::string toTarget;
    std::string toVendor;
    std::string toVendorErr;
    std::size_t outTargetBytes = 0;  // the sizes of the out buffers: they count against the
    std::size_t outVendorBytes = 0;  // queue limit too
    std::size_t outVendorErrBytes = 0;
    bool vendorEof = false;
    bool vendorClosed = false;
    bool targetEof = false;
    bool targetClosed = false;
    bool vendorThrottled = false;       // libssh holds vendor bytes that did not fit
    bool targetThrottled = false;       // libssh holds target bytes that did not fit
    std::uint64_t vendorThrottles = 0;  // times a callback left vendor bytes (refills compare)
    std::uint64_t targetThrottles = 0;
    bool ready = false;       // both channels exist: the target thread may pump it
    bool vendorDone = false;  // the vendor channel is closed and freed
    bool targetDone = false;  // the target channel is closed and freed (or there is none)
    std::optional<int> exitStatus;
    std::optional<std::string> exitSignal;
  } shared;
};

class Relay {
 public:
  explicit Relay(RelaySetup& s)
      : s_(s),
        recheck_(s.backend, s.login, s.source, s.allow),
        forwarding_(ForwardingSession{s.vendor, s.backend, s.login, s.source, s.sessionId, s.allow,
                                      [this] { return reason(); },
                                      [this](const std::string& text) { tell(text); },
                                      [this] { return ++channelCounter_; }},
                    TunnelContext{nullptr, s.backend, s.recording, s.options.tunnelIdleTimeout,
                                  s.options.tunnelConnectTimeout}) {}

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
    forwarding_.setEvent(event_);
    ssh_event_add_session(event_, s_.vendor);
    if (!wake_.addTo(event_)) end("internal error: cannot poll the relay's eventfd");
    if (s_.target != nullptr) {
      targetThread_.emplace(
          s_.target->native(), [this] { return pumpTarget(); },
          [this] {
            if (vendorWakeDeferred_) wake_.signal();
            vendorWakeDeferred_ = false;
          },
          [this] { return vendorWakeDeferred_; });
      if (auto st = targetThread_->start(); !st) end("internal error: " + st.error().message);
    }
    auto nextCheck = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::time_point> targetGoneAt;
    bool busy = false;
    while (reason().empty()) {
      // 50 ms poll when idle; data and the target's thread wake it at once. Enforcement runs
      // at least every second. Bytes queued for the target (no wake-up sent yet) go before
      // this thread waits, in one piece (kHandOver) when more are coming.
      pollRound(
          event_, busy, 50, [this] { return targetWakeDeferred_; },
          [this] { releaseTargetWake(); });
      // flush()'s libssh calls poll the event and may consume a wake-up from the target's thread
      // meant for this loop (bytes for a pair already flushed): then it looks again at once.
      busy = wake_.busyAfter([this] { return flush(); });
      if (s_.stopping) end("the broker is shutting down");
      if (s_.recording != nullptr && !s_.recording->status()) {
        // Fail closed: a session whose recording failed does not go on unrecorded.
        notice("\r\nConduit: the session recording failed; the session ends.\r\n");
        end("recording failed: " + s_.recording->status().error().message);
      }
      if (ssh_is_connected(s_.vendor) == 0) end("vendor disconnected");
      if (targetGone_) {
        // What the target sent before it went is delivered first (up to kTunnelDrain).
        const auto now = std::chrono::steady_clock::now();
        if (!targetGoneAt) targetGoneAt = now;
        if (nothingForVendor() || now - *targetGoneAt >= kTunnelDrain) end("target disconnected");
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= nextCheck) {
        enforce();
        nextCheck = now + std::chrono::seconds(1);
      }
    }
    forwarding_.drain([this] {
      releaseTargetWake();
      ssh_event_dopoll(event_, 20);
      flush();
    });
    forwarding_.finish();
    for (auto& p : pairs_) closeVendorSide(p, true);
    if (targetThread_) {
      // The target side's channels are closed on its own thread, which then stops.
      targetThread_->stop([this] {
        for (auto& p : pairs_) closeTargetSide(p);
      });
    }
    pairs_.clear();
    ssh_set_message_callback(s_.vendor, nullptr, nullptr);
    wake_.removeFrom(event_);
    ssh_event_remove_session(event_, s_.vendor);
    ssh_event_free(event_);
    return RelayResult{reason(), toTarget_ + forwarding_.bytesToTarget(),
                       toVendor_ + forwarding_.bytesToVendor()};
  }

 private:
  /// Why the session ends (empty while it runs); any thread.
  std::string reason() const {
    std::lock_guard lk(reasonMu_);
    return reason_;
  }
  void end(const std::string& why) {
    {
      std::lock_guard lk(reasonMu_);
      if (!reason_.empty()) return;
      reason_ = why;
    }
    wake_.signal();  // from the target's thread: the vendor's loop ends the session now
  }

  /// No bytes from the target wait for the vendor (vendor thread).
  bool nothingForVendor() {
    std::lock_guard lk(mu_);
    for (const auto& p : pairs_) {
      if (p.vendor == nullptr) continue;
      if (!p.outVendor.empty() || !p.outVendorErr.empty() || !p.shared.toVendor.empty() ||
          !p.shared.toVendorErr.empty() || p.shared.targetThrottled) {
        return false;
      }
    }
    return true;
  }

  void releaseTargetWake() {
    if (targetWakeDeferred_ && targetThread_) targetThread_->wake();
    targetWakeDeferred_ = false;
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
    forwarding_.enforce();
    // Warned only once a channel has shown it: the first check can run before the vendor's
    // first channel is open.
    if (r.warning && notice("\r\nConduit: " + *r.warning + "\r\n") > 0) recheck_.warned();
  }

  /// Appends to the recording (any thread); a failure ends the session (fail closed).
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

  /// Where the session is recorded, decodes the channel's file operations (vendor thread,
  /// before the request starts on the target).
  void watchFiles(Pair& p, std::unique_ptr<FileObserver> observer) {
    if (s_.recording == nullptr || !observer || p.started) return;
    std::lock_guard lk(mu_);
    if (!p.files) p.files = std::move(observer);
  }
  /// startOnTarget for a request whose bytes may be watched: a refused request leaves no
  /// observer behind (a second request would be decoded as the first).
  template <class Request>
  int startWatched(Pair& p, Request request) {
    if (startOnTarget(p, std::move(request)) == 0) return 0;
    std::lock_guard lk(mu_);
    p.files.reset();
    return -1;
  }
  /// Feeds an sftp or scp channel's bytes to its observer (either thread, with mu_ held, before
  /// the bytes are handed on: an answer is always observed after its request).
  static void observeFiles(Pair& p, bool fromVendor, std::span<const unsigned char> bytes,
                           FileEvents& out) {
    if (!p.files || bytes.empty()) return;
    if (fromVendor) {
      p.files->fromVendor(bytes, out);
    } else {
      p.files->fromTarget(bytes, out);
    }
  }
  void finishFiles(Pair& p) {
    FileEvents out;
    {
      std::lock_guard lk(mu_);
      if (!p.files) return;
      p.files->finish(out);
    }
    recordFiles(p, out);
  }
  void recordFiles(const Pair& p, const FileEvents& out) {
    for (const auto& e : out.events) {
      const bool download = e.operation == recorder::FileOperation::download;
      record(recorder::RecordKind::file_transfer, p.id,
             download ? recorder::Direction::to_client : recorder::Direction::to_target,
             recorder::encodeFileTransfer(e));
      try {
        s_.backend.fileEvent(s_.sessionId, recorder::liveFileJson(e));
      } catch (...) {  // the live view is best effort; the recording has the event
      }
      spdlog::info(
          "event=file_transfer session={} user={} channel={} operation={} path=\"{}\" size={} "
          "sha256={} detail=\"{}\"",
          s_.sessionId, s_.login.user, p.id, recorder::fileOperationName(e.operation),
          printable(e.path), e.size, e.sha256.empty() ? "-" : e.sha256, printable(e.detail));
    }
    if (out.stopped) {
      recordText(recorder::RecordKind::marker, p.id, *out.stopped);
      spdlog::warn("event=file_decoding_stopped session={} channel={} reason=\"{}\"", s_.sessionId,
                   p.id, printable(*out.stopped));
    }
  }

  /// A line on every open vendor channel's stderr, ahead of the queues; returns how many
  /// channels got it. Vendor thread. Only where the window takes it whole: a blocking write
  /// into a closed window would hold up the kill or revocation that follows.
  int notice(const std::string& text) {
    int shown = 0;
    for (auto& p : pairs_) {
      if (p.vendor != nullptr && ssh_channel_is_open(p.vendor) != 0 &&
          ssh_channel_window_size(p.vendor) >= text.size()) {
        ssh_channel_write_stderr(p.vendor, text.data(), static_cast<uint32_t>(text.size()));
        ++shown;
      }
    }
    recordText(recorder::RecordKind::marker, 0, text);
    return shown;
  }

  /// A line on every open console or session channel's stderr, queued (never a blocking
  /// write) and recorded as a marker. Vendor thread.
  void tell(const std::string& text) {
    {
      std::lock_guard lk(mu_);
      for (auto& p : pairs_) {
        if (!p.shared.vendorDone && p.shared.toVendorErr.size() < kMaxPending) {
          p.shared.toVendorErr += text;
        }
      }
    }
    recordText(recorder::RecordKind::marker, 0, text);
  }

  static int onMessage(ssh_session, ssh_message msg, void* self) noexcept {
    try {
      return static_cast<Relay*>(self)->forwarding_.open(msg);
    } catch (...) {
      return 1;  // libssh refuses it
    }
  }

  static ssh_channel onChannelOpen(ssh_session, void* self) noexcept {
    try {
      return static_cast<Relay*>(self)->openPair();
    } catch (...) {
      return nullptr;
    }
  }

  /// A new pair, not yet visible to the target's thread (shared.ready is false). Only the
  /// vendor thread adds or removes pairs, under mu_; the target thread reads the list under it.
  std::list<Pair>::iterator addPair(bool console) {
    std::lock_guard lk(mu_);
    pairs_.emplace_back();
    auto it = std::prev(pairs_.end());
    it->relay = this;
    it->id = ++channelCounter_;
    it->console = console;
    it->shared.targetDone = console;
    return it;
  }
  void dropPair(std::list<Pair>::iterator it) {
    std::lock_guard lk(mu_);
    pairs_.erase(it);
  }

  ssh_channel openPair() {
    std::size_t live = 0;
    for (const auto& p : pairs_) live += p.vendor != nullptr ? 1 : 0;
    if (live >= kMaxChannels || !reason().empty()) return nullptr;
    // Every channel open re-checks the grant (non-negotiable 5).
    const GatewayDecision d =
        s_.backend.checkAccess(s_.login.user, s_.login.asset, s_.allow.protocol, s_.source);
    if (std::holds_alternative<GatewayRefuse>(d)) return nullptr;
    if (s_.target == nullptr) return openConsole();
    auto it = addPair(false);
    Pair& p = *it;
    const bool opened = targetThread_->call([this, &p] { return openTargetChannel(p); });
    if (!opened) {
      dropPair(it);
      return nullptr;
    }
    ssh_channel vendor = ssh_channel_new(s_.vendor);
    if (vendor == nullptr) {
      targetThread_->call([this, &p] { closeTargetSide(p); });
      dropPair(it);
      return nullptr;
    }
    p.vendor = vendor;
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
    {
      std::lock_guard lk(mu_);
      p.shared.ready = true;
    }
    return vendor;
  }

  /// Target thread: opens the session channel on the target and installs its callbacks.
  bool openTargetChannel(Pair& p) {
    ssh_channel target = ssh_channel_new(s_.target->native());
    if (target == nullptr) return false;
    if (ssh_channel_open_session(target) != SSH_OK) {
      spdlog::warn("event=ssh_channel_open_failed user={} asset={} reason=\"{}\"", s_.login.user,
                   s_.login.asset, ssh_get_error(s_.target->native()));
      ssh_channel_free(target);
      return false;
    }
    p.target = target;
    auto& t = p.targetCb;
    t.userdata = &p;
    t.channel_data_function = &Relay::onTargetData;
    t.channel_eof_function = &Relay::onTargetEof;
    t.channel_close_function = &Relay::onTargetClose;
    t.channel_exit_status_function = &Relay::onExitStatus;
    t.channel_exit_signal_function = &Relay::onExitSignal;
    ssh_callbacks_init(&t);
    ssh_set_channel_callbacks(target, &t);
    return true;
  }

  /// Runs `request` against the pair's target channel on the target's thread; 0 if it
  /// succeeded, -1 if not (the reply libssh sends the vendor).
  template <class Request>
  int onTarget(Pair& p, Request request) {
    if (p.refused) return -1;  // the channel is ending; nothing more of it reaches the target
    return targetThread_->call(
        [&p, &request] { return p.target != nullptr && request(p.target) == SSH_OK ? 0 : -1; });
  }
  /// onTarget() for shell, exec and subsystem: once the target runs something, a close from
  /// the vendor waits for its exit status (flushPair).
  template <class Request>
  int startOnTarget(Pair& p, Request request) {
    // One shell, exec or subsystem per channel (RFC 4254 section 6.5): a second is refused
    // here, so that what the channel runs (and how its bytes are decoded) never changes.
    if (p.started) return -1;
    const int rc = onTarget(p, std::move(request));
    if (rc == 0) p.started = true;
    return rc;
  }

  /// A tunnels-only login's session channel (`ssh -L ... alice+plc-17@gateway` without -N):
  /// nothing behind it; it says so, then shows tunnel refusals and notices.
  ssh_channel openConsole() {
    ssh_channel vendor = ssh_channel_new(s_.vendor);
    if (vendor == nullptr) return nullptr;
    Pair& p = *addPair(true);
    p.vendor = vendor;
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
    {
      std::lock_guard lk(mu_);
      p.shared.ready = true;
    }
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
      const std::string text = p->relay->consoleText() +
                               "Tunnel refusals and notices appear here. Ctrl-C or Ctrl-D ends "
                               "the session.\r\n";
      std::lock_guard lk(p->relay->mu_);
      p->shared.toVendorErr += text;
      return 0;
    } catch (...) {
      return -1;
    }
  }
  static int onConsoleExec(ssh_session, ssh_channel, const char*, void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      const std::string text = p->relay->consoleText();
      // Accepted, then answered with the text and exit status 1: refusing the request after
      // writing the text lost the text now and then (OpenSSH's client exits on the refusal
      // before it prints what arrived with it).
      std::lock_guard lk(p->relay->mu_);
      p->shared.toVendorErr += text;
      p->shared.exitStatus = 1;
      p->consoleEnd = true;
      return 0;
    } catch (...) {
      return -1;
    }
  }

  // ---- vendor -> target ----

  /// Takes what fits of the vendor's bytes into the pair's queue (vendor thread): typed-command
  /// filtering, recording, and a wake-up for the target's thread. What does not fit stays in
  /// libssh's buffer, which stops reopening the vendor's window: that is the backpressure.
  /// `all`: take every byte even beyond the limit (a read that already left libssh's buffer;
  /// the overshoot is at most one read).
  std::size_t takeFromVendor(Pair& p, const char* data, std::size_t len, bool all = false) {
    auto& sh = p.shared;
    bool wake = false;
    std::size_t n = 0;
    FileEvents files;
    if (p.refused) {
      // Its request never reached the target, and neither does what follows it (e.g. an sftp
      // client's first packet): recorded, as everything the vendor sends, then dropped.
      if (!p.pty || s_.allow.limits.recordKeystrokes) {
        record(recorder::RecordKind::terminal_input, p.id, recorder::Direction::to_target,
               {reinterpret_cast<const unsigned char*>(data), len});
      }
      return len;
    }
    {
      std::lock_guard lk(mu_);
      const std::size_t used = sh.toTarget.size() + sh.outTargetBytes;
      n = all ? len : std::min(kMaxPending - std::min(kMaxPending, used), len);
      if (n < len) {
        sh.vendorThrottled = true;
        ++sh.vendorThrottles;
      }
      if (n == 0) return 0;
      const std::size_t at = sh.toTarget.size();
      wake = at < kHandOver && at + n >= kHandOver;
      sh.toTarget.append(data, n);
      try {
        filterTyped(p, at);
      } catch (...) {
        end("internal error while filtering typed commands");
      }
      // Typed input on a terminal is recorded only where policy allows (passwords are typed at
      // prompts); everything else a vendor sends (exec stdin, file uploads) is always recorded.
      if (!p.pty || s_.allow.limits.recordKeystrokes) {
        record(recorder::RecordKind::terminal_input, p.id, recorder::Direction::to_target,
               bytesOf(sh.toTarget, at));
      }
      observeFiles(p, true, {reinterpret_cast<const unsigned char*>(data), n}, files);
    }
    recordFiles(p, files);
    if (wake) {
      targetThread_->wake();
      targetWakeDeferred_ = false;
    } else {
      targetWakeDeferred_ = true;
    }
    return n;
  }

  static int onVendorData(ssh_session, ssh_channel, void* data, uint32_t len, int,
                          void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    return static_cast<int>(p->relay->takeFromVendor(*p, static_cast<const char*>(data), len));
  }

  /// Typed-command filtering (best effort, see ShellLineFilter), with mu_ held: the bytes from
  /// `from` on in the queue are what the vendor typed; a refused line's Enter becomes Ctrl-U
  /// (same length) and the vendor is told why.
  void filterTyped(Pair& p, std::size_t from) {
    auto& q = p.shared.toTarget;
    if (!p.filter || from >= q.size()) return;
    auto out = p.filter->feed(std::string_view(q).substr(from));
    q.replace(from, std::string::npos, out.forward);
    for (const auto& pattern : out.refusals) {
      const std::string text = "\r\nConduit: command refused by policy (" + pattern + ")\r\n";
      if (p.shared.toVendorErr.size() < kMaxPending) p.shared.toVendorErr += text;
      recordText(recorder::RecordKind::marker, p.id,
                 "typed command refused by policy (" + pattern + ")");
      spdlog::info("event=ssh_typed_command_refused session={} user={} pattern=\"{}\"",
                   s_.sessionId, s_.login.user, printable(pattern));
    }
  }

  // ---- target -> vendor ----

  /// Takes what fits of the target's bytes into the pair's queue (target thread), records them
  /// and shows a terminal's output live.
  std::size_t takeFromTarget(Pair& p, const char* data, std::size_t len, bool isStderr,
                             bool all = false) {
    auto& sh = p.shared;
    bool wake = false;
    std::size_t n = 0;
    FileEvents files;
    {
      std::lock_guard lk(mu_);
      std::string& q = isStderr ? sh.toVendorErr : sh.toVendor;
      const std::size_t used = q.size() + (isStderr ? sh.outVendorErrBytes : sh.outVendorBytes);
      n = all ? len : std::min(kMaxPending - std::min(kMaxPending, used), len);
      if (n < len) {
        sh.targetThrottled = true;
        ++sh.targetThrottles;
      }
      if (n == 0) return 0;
      wake = q.size() < kHandOver && q.size() + n >= kHandOver;
      q.append(data, n);
      if (!isStderr) {
        observeFiles(p, false, {reinterpret_cast<const unsigned char*>(data), n}, files);
      }
    }
    record(recorder::RecordKind::terminal_output, p.id, recorder::Direction::to_client,
           {reinterpret_cast<const unsigned char*>(data), n});
    recordFiles(p, files);
    if (p.pty) {
      try {
        s_.backend.terminalOutput(s_.sessionId, {data, n});
      } catch (...) {  // the live view is best effort; the recording has the bytes
      }
    }
    if (wake) {
      wake_.signal();
      vendorWakeDeferred_ = false;
    } else {
      vendorWakeDeferred_ = true;
    }
    return n;
  }

  static int onTargetData(ssh_session, ssh_channel, void* data, uint32_t len, int isStderr,
                          void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    return static_cast<int>(
        p->relay->takeFromTarget(*p, static_cast<const char*>(data), len, isStderr != 0));
  }

  // ---- channel state ----

  template <class Change>
  void change(Pair& p, Change c, bool wakeTarget, bool wakeVendor) {
    {
      std::lock_guard lk(mu_);
      c(p.shared);
    }
    if (wakeTarget && targetThread_) targetThread_->wake();
    if (wakeVendor) wake_.signal();
  }
  static void onVendorEof(ssh_session, ssh_channel, void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    p->relay->change(
        *p, [](Pair::Shared& s) { s.vendorEof = true; }, true, false);
  }
  static void onVendorClose(ssh_session, ssh_channel, void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    p->relay->change(
        *p,
        [](Pair::Shared& s) {
          s.vendorClosed = true;
          s.vendorEof = true;
        },
        true, true);
  }
  static void onTargetEof(ssh_session, ssh_channel, void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    p->relay->change(
        *p, [](Pair::Shared& s) { s.targetEof = true; }, false, true);
  }
  static void onTargetClose(ssh_session, ssh_channel, void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    p->relay->change(
        *p,
        [](Pair::Shared& s) {
          s.targetClosed = true;
          s.targetEof = true;
        },
        false, true);
  }
  static void onExitStatus(ssh_session, ssh_channel, int status, void* pair) noexcept {
    auto* p = static_cast<Pair*>(pair);
    p->relay->change(
        *p, [status](Pair::Shared& s) { s.exitStatus = status; }, false, true);
  }
  static void onExitSignal(ssh_session, ssh_channel, const char* signal, int, const char*,
                           const char*, void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      std::string name = signal != nullptr ? signal : "KILL";
      p->relay->change(
          *p, [&name](Pair::Shared& s) { s.exitSignal = std::move(name); }, false, true);
    } catch (...) {
    }
  }

  // ---- requests on a session channel, passed to the target's thread ----

  static int onPty(ssh_session, ssh_channel, const char* term, int cols, int rows, int, int,
                   void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      p->pty = true;
      const auto& ssh = p->relay->s_.allow.limits.ssh;
      if (ssh.filterShellCommands && !ssh.commandDeny.empty()) {
        p->filter.emplace(ssh.commandDeny);  // throws: no shell without the filter asked for
      }
      p->relay->recordResize(*p, cols, rows);
      return p->relay->onTarget(
          *p, [&](ssh_channel t) { return ssh_channel_request_pty_size(t, term, cols, rows); });
    } catch (...) {
      return -1;
    }
  }
  static int onWindowChange(ssh_session, ssh_channel, int cols, int rows, int, int,
                            void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      p->relay->recordResize(*p, cols, rows);
      return p->relay->onTarget(
          *p, [&](ssh_channel t) { return ssh_channel_change_pty_size(t, cols, rows); });
    } catch (...) {
      return -1;
    }
  }
  static int onShell(ssh_session, ssh_channel, void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      return p->relay->startOnTarget(*p,
                                     [](ssh_channel t) { return ssh_channel_request_shell(t); });
    } catch (...) {
      return -1;
    }
  }
  static int onExec(ssh_session, ssh_channel, const char* command, void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      return p->relay->exec(*p, command);
    } catch (...) {
      return -1;
    }
  }
  static int onSubsystem(ssh_session, ssh_channel, const char* name, void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      if (p->refused || p->started) return -1;
      if (std::strcmp(name, "sftp") != 0) {
        return p->relay->refuse(*p, "subsystem " + printable(name) + " is not available");
      }
      if (!p->relay->s_.allow.limits.ssh.sftp) {
        return p->relay->refuse(*p, "file transfer (sftp) is not allowed by policy");
      }
      p->relay->recordText(recorder::RecordKind::marker, p->id, "subsystem sftp");
      p->relay->watchFiles(*p, std::make_unique<SftpObserver>());
      return p->relay->startWatched(
          *p, [](ssh_channel t) { return ssh_channel_request_subsystem(t, "sftp"); });
    } catch (...) {
      return -1;
    }
  }
  static int onEnv(ssh_session, ssh_channel, const char* name, const char* value,
                   void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      const std::string n = name;
      if (!kEnvAllowList.contains(n) && n.rfind("LC_", 0) != 0) return -1;
      return p->relay->onTarget(
          *p, [&](ssh_channel t) { return ssh_channel_request_env(t, name, value); });
    } catch (...) {
      return -1;
    }
  }
  static void onSignal(ssh_session, ssh_channel, const char* signal, void* pair) noexcept {
    try {
      auto* p = static_cast<Pair*>(pair);
      p->relay->onTarget(*p,
                         [&](ssh_channel t) { return ssh_channel_request_send_signal(t, signal); });
    } catch (...) {
    }
  }

  /// Refuses a channel request (vendor thread, inside its callback) so that the vendor's
  /// client shows why: the request is accepted, the reason goes to the channel's stderr, and
  /// the channel ends with exit status 1 (flushPair). A failure reply instead made OpenSSH's
  /// client drop what came with it: it printed only "subsystem request failed", sftp
  /// "Connection closed". The request never reaches the target. Returns the reply (0).
  int refuse(Pair& p, const std::string& why) {
    {
      std::lock_guard lk(mu_);
      if (p.shared.toVendorErr.size() < kMaxPending)
        p.shared.toVendorErr += "Conduit: " + why + "\r\n";
      if (!p.shared.exitStatus) p.shared.exitStatus = 1;
    }
    p.refused = true;
    recordText(recorder::RecordKind::marker, p.id, "request refused: " + why);
    spdlog::info("event=ssh_request_refused session={} user={} reason=\"{}\"", s_.sessionId,
                 s_.login.user, why);
    return 0;
  }

  /// The exec request's reply: 0 success, -1 failure.
  int exec(Pair& p, const std::string& command) {
    if (p.refused || p.started) return -1;  // a client may try another request on the channel
    const auto& limits = s_.allow.limits.ssh;
    // scp is file transfer: allowed only where sftp is.
    if (!limits.sftp && (command.rfind("scp ", 0) == 0 || command == "scp")) {
      return refuse(p, "file transfer (scp) is not allowed by policy");
    }
    for (const auto& pattern : limits.commandDeny) {
      if (policies::globMatch(pattern, command)) {
        return refuse(p, "command refused by policy (" + pattern + ")");
      }
    }
    recordText(recorder::RecordKind::exec_command, p.id, command);
    if (limits.sftp) watchFiles(p, ScpObserver::forCommand(command));
    return startWatched(
        p, [&command](ssh_channel t) { return ssh_channel_request_exec(t, command.c_str()); });
  }

  void recordResize(Pair& p, int cols, int rows) {
    const auto payload =
        recorder::encodeResize({static_cast<std::uint32_t>(std::clamp(cols, 0, 65535)),
                                static_cast<std::uint32_t>(std::clamp(rows, 0, 65535))});
    record(recorder::RecordKind::resize, p.id, recorder::Direction::none, payload);
  }

  // ---- the vendor's thread ----

  /// Moves queued bytes to the vendor as far as its windows allow, pulls the vendor's bytes
  /// libssh kept for us once there is room, forwards EOF/close only after draining, and pumps
  /// the tunnels. Returns true when there is more it can do at once.
  bool flush() {
    bool busy = false;
    for (auto& p : pairs_) {
      if (p.vendor == nullptr) continue;  // being opened, or closed on this side
      busy = (p.console ? flushConsole(p) : flushPair(p)) || busy;
    }
    {
      std::lock_guard lk(mu_);
      pairs_.remove_if([](const Pair& p) { return p.shared.vendorDone && p.shared.targetDone; });
    }
    forwarding_.pump();
    return busy;
  }

  bool flushConsole(Pair& p) {
    bool closed = false;
    {
      std::lock_guard lk(mu_);
      p.outVendorErr.takeFrom(p.shared.toVendorErr);
      if (p.consoleEnd && !p.shared.exitStatus) p.shared.exitStatus = 0;
      closed = p.shared.vendorClosed;
    }
    toVendor_ += drain(p.outVendorErr, p.vendor, true);
    // Not on EOF: `ssh -T ... </dev/null` sends it at once and still wants its tunnels.
    if (closed || p.consoleEnd) closeVendorSide(p, false);
    return false;
  }

  bool flushPair(Pair& p) {
    auto& sh = p.shared;
    {
      std::lock_guard lk(mu_);
      p.outVendor.takeFrom(sh.toVendor);
      p.outVendorErr.takeFrom(sh.toVendorErr);
      sh.outVendorBytes = p.outVendor.size();
      sh.outVendorErrBytes = p.outVendorErr.size();
    }
    const std::uint64_t out =
        drain(p.outVendor, p.vendor, false) + drain(p.outVendorErr, p.vendor, true);
    toVendor_ += out;
    bool wakeTarget = false;
    bool queued = false;
    bool targetEof = false;
    bool targetClosed = false;
    bool vendorClosed = false;
    bool vendorThrottled = false;
    bool exitKnown = false;
    {
      std::lock_guard lk(mu_);
      sh.outVendorBytes = p.outVendor.size();
      sh.outVendorErrBytes = p.outVendorErr.size();
      wakeTarget = out > 0 && sh.targetThrottled;  // it waits for this room
      // Bytes libssh still holds for the target's thread count as queued.
      queued = !sh.toVendor.empty() || !sh.toVendorErr.empty() || sh.targetThrottled;
      targetEof = sh.targetEof;
      targetClosed = sh.targetClosed;
      vendorClosed = sh.vendorClosed;
      vendorThrottled = sh.vendorThrottled;
      exitKnown = sh.exitStatus || sh.exitSignal;
    }
    if (wakeTarget) targetThread_->wake();
    if (p.refused) {
      // The reason is out (or the vendor is gone): end the channel with its status.
      if (vendorClosed || (p.outVendorErr.empty() && !queued)) closeVendorSide(p, false);
      return false;
    }
    bool busy = out > 0 && (queued || !p.outVendor.empty() || !p.outVendorErr.empty());
    if (vendorThrottled) busy = refillFromVendor(p) || busy;
    if (vendorClosed) {
      // What the vendor sent before closing still goes to the target (the target's thread
      // drains it and sends EOF).
      refillFromVendor(p, true);
      // OpenSSH's client closes a channel once both directions have ended, which can be
      // before the target's exit status arrives (sshd may send EOF first). Closing here at
      // once left the vendor without it: ssh exited 255 and scp/sftp failed with nothing but
      // "Connection closed". So, as sshd does with a running command, the vendor's close is
      // answered once the target has given its status or closed (or after kExitStatusWait).
      // A terminal closed while the target's output still runs was closed by the vendor (a
      // killed client, a closed window): the target's command is hung up at once, as sshd
      // does, rather than left running for kExitStatusWait. Once the target's terminal output
      // has ended (EOF) its status is on the way: sshd sees the pty's end before it reaps the
      // command, so the EOF can come first, and the vendor's client, its stdin at EOF too,
      // closes on it (an OpenSSH mux client then exited 255 without the status). A target
      // that ends its output but never sends a status or closes costs the vendor's close
      // kExitStatusWait.
      if (p.started && (!p.pty || targetEof) && !exitKnown && !targetClosed && !targetGone_) {
        const auto now = std::chrono::steady_clock::now();
        if (!p.vendorClosedAt) p.vendorClosedAt = now;
        if (now - *p.vendorClosedAt < kExitStatusWait) return false;
      }
      closeVendorSide(p, false);
      return false;
    }
    if (targetEof && !queued && p.outVendor.empty() && p.outVendorErr.empty()) {
      if (!p.eofSentToVendor) {
        ssh_channel_send_eof(p.vendor);
        p.eofSentToVendor = true;
      }
      // Close only when the target closes: exit-status usually follows its EOF.
      if (targetClosed) closeVendorSide(p, false);
    }
    return busy;
  }

  /// Pulls the vendor's bytes libssh kept for us (a data callback that found the queue full)
  /// now that there is room. A read may run the data callbacks, which take bytes themselves.
  /// `all`: pull everything libssh holds, beyond the queue limit (the vendor closed its
  /// channel: what it sent before must still reach the target).
  bool refillFromVendor(Pair& p, bool all = false) {
    // The flag stays set until the bytes are in the queue: the target's thread forwards the
    // vendor's EOF only once nothing is left behind. A read can run the data callback, which
    // may leave bytes again (counted in vendorThrottles): then the flag stays set.
    std::uint64_t throttles = 0;
    {
      std::lock_guard lk(mu_);
      throttles = p.shared.vendorThrottles;
    }
    bool got = false;
    bool left = false;
    char buf[65536];
    for (const int stream : {0, 1}) {  // extended data (stream 1) goes to the target's stdin too
      while (p.vendor != nullptr && ssh_channel_is_open(p.vendor) != 0) {
        const std::size_t room = all ? sizeof buf : roomToTarget(p);
        if (room == 0) {
          left = true;
          break;
        }
        const int n = ssh_channel_read_nonblocking(
            p.vendor, buf, static_cast<uint32_t>(std::min(room, sizeof buf)), stream);
        if (n <= 0) break;  // 0: nothing left in libssh's buffer
        // All of it: the read may have run a data callback that took some of the room first.
        takeFromVendor(p, buf, static_cast<std::size_t>(n), true);
        got = true;
      }
    }
    {
      std::lock_guard lk(mu_);
      p.shared.vendorThrottled = left || p.shared.vendorThrottles != throttles;
    }
    return got;
  }

  std::size_t roomToTarget(Pair& p) {
    std::lock_guard lk(mu_);
    const std::size_t used = p.shared.toTarget.size() + p.shared.outTargetBytes;
    return kMaxPending - std::min(kMaxPending, used);
  }

  /// Vendor thread: ends the vendor's channel with the target's exit status (255 when the
  /// session ends it), then lets the target's thread close its side.
  void closeVendorSide(Pair& p, bool forced) {
    if (p.vendor == nullptr) return;
    finishFiles(p);
    std::optional<int> status;
    std::optional<std::string> signal;
    {
      std::lock_guard lk(mu_);
      status = p.shared.exitStatus;
      signal = p.shared.exitSignal;
    }
    // Also when the vendor has closed its side already (the channel no longer counts as open):
    // the status still goes before our close, which the vendor waits for.
    if (ssh_is_connected(s_.vendor) != 0) {
      if (status) ssh_channel_request_send_exit_status(p.vendor, *status);
      if (signal) ssh_channel_request_send_exit_signal(p.vendor, signal->c_str(), 0, "", "");
      if (forced && !status) ssh_channel_request_send_exit_status(p.vendor, 255);
      if (!p.eofSentToVendor) ssh_channel_send_eof(p.vendor);
      ssh_channel_close(p.vendor);
    }
    ssh_remove_channel_callbacks(p.vendor, &p.vendorCb);
    ssh_channel_free(p.vendor);
    p.vendor = nullptr;
    change(
        p, [](Pair::Shared& s) { s.vendorDone = true; }, true, false);
  }

  // ---- the target's thread ----

  bool pumpTarget() noexcept {
    try {
      if (!targetGone_ && ssh_is_connected(s_.target->native()) == 0) {
        targetGone_ = true;
        wake_.signal();
      }
      live_.clear();  // a member: no allocation per poll
      {
        std::lock_guard lk(mu_);
        for (auto& p : pairs_) {
          if (p.shared.ready && !p.shared.targetDone) live_.push_back(&p);
        }
      }
      bool busy = false;
      for (Pair* p : live_) busy = pumpTargetPair(*p) || busy;
      return busy;
    } catch (...) {
      end("internal error while relaying to the target");
      return false;
    }
  }

  bool pumpTargetPair(Pair& p) {
    auto& sh = p.shared;
    bool vendorDone = false;
    {
      std::lock_guard lk(mu_);
      p.outTarget.takeFrom(sh.toTarget);
      sh.outTargetBytes = p.outTarget.size();
      vendorDone = sh.vendorDone;
    }
    if (vendorDone && (p.outTarget.empty() || ssh_channel_is_open(p.target) == 0)) {
      // The vendor's channel is gone: deliver what it sent, then EOF, then close.
      if (!p.eofSentToTarget && ssh_channel_is_open(p.target) != 0) {
        ssh_channel_send_eof(p.target);
      }
      closeTargetSide(p);
      return false;
    }
    const std::uint64_t in = drain(p.outTarget, p.target, false);
    toTarget_ += in;
    bool wakeVendor = false;
    bool vendorEof = false;
    bool drained = false;
    bool targetThrottled = false;
    {
      std::lock_guard lk(mu_);
      sh.outTargetBytes = p.outTarget.size();
      wakeVendor = in > 0 && sh.vendorThrottled;  // it waits for this room
      vendorEof = sh.vendorEof;
      drained = p.outTarget.empty() && sh.toTarget.empty() && !sh.vendorThrottled;
      targetThrottled = sh.targetThrottled;
    }
    if (wakeVendor) wake_.signal();
    if (vendorEof && drained && !p.eofSentToTarget && ssh_channel_is_open(p.target) != 0) {
      ssh_channel_send_eof(p.target);
      p.eofSentToTarget = true;
    }
    bool busy = in > 0 && !drained;
    if (targetThrottled) busy = refillFromTarget(p) || busy;
    return busy;
  }

  /// Pulls the target's bytes libssh kept for us (stdout, then stderr) now that there is room.
  bool refillFromTarget(Pair& p) {
    // The flag stays set until the bytes are in the queues: the vendor's thread ends the
    // stream (EOF, close) only once nothing is left behind. A target that closed its channel
    // with bytes still buffered here stays readable (libssh delays the close until they are
    // read).
    std::uint64_t throttles = 0;
    {
      std::lock_guard lk(mu_);
      throttles = p.shared.targetThrottles;
    }
    bool got = false;
    bool left = false;
    char buf[65536];
    for (const bool isStderr : {false, true}) {
      while (ssh_channel_is_open(p.target) != 0) {
        const std::size_t room = roomToVendor(p, isStderr);
        if (room == 0) {
          left = true;
          break;
        }
        const int n = ssh_channel_read_nonblocking(
            p.target, buf, static_cast<uint32_t>(std::min(room, sizeof buf)), isStderr ? 1 : 0);
        if (n <= 0) break;  // 0: nothing left in libssh's buffer
        // All of it: the read may have run a data callback that took some of the room first.
        takeFromTarget(p, buf, static_cast<std::size_t>(n), isStderr, true);
        got = true;
      }
    }
    {
      std::lock_guard lk(mu_);
      // A read that ran the data callback may have left bytes again (stdout while reading
      // stderr, say): the count says so, and the flag stays set.
      p.shared.targetThrottled = left || p.shared.targetThrottles != throttles;
    }
    return got;
  }

  std::size_t roomToVendor(Pair& p, bool isStderr) {
    std::lock_guard lk(mu_);
    const auto& sh = p.shared;
    const std::size_t used = isStderr ? sh.toVendorErr.size() + sh.outVendorErrBytes
                                      : sh.toVendor.size() + sh.outVendorBytes;
    return kMaxPending - std::min(kMaxPending, used);
  }

  /// Target thread: closes and frees the target channel; the vendor's thread then drops the
  /// pair.
  void closeTargetSide(Pair& p) {
    if (p.target != nullptr) {
      if (ssh_channel_is_open(p.target) != 0) ssh_channel_close(p.target);
      ssh_remove_channel_callbacks(p.target, &p.targetCb);
      ssh_channel_free(p.target);
      p.target = nullptr;
    }
    change(
        p, [](Pair::Shared& s) { s.targetDone = true; }, false, true);
  }

  /// Writes as much of q as the receiving window allows (each side on its own thread).
  static std::uint64_t drain(Outgoing& q, ssh_channel to, bool stderrStream) {
    if (q.empty() || to == nullptr || ssh_channel_is_open(to) == 0) return 0;
    const std::size_t window = ssh_channel_window_size(to);
    const std::size_t n = std::min(q.size(), window);
    if (n == 0) return 0;
    const int written = stderrStream
                            ? ssh_channel_write_stderr(to, q.data(), static_cast<uint32_t>(n))
                            : ssh_channel_write(to, q.data(), static_cast<uint32_t>(n));
    if (written <= 0) return 0;  // e.g. during a key re-exchange: retry on the next round
    q.consume(static_cast<std::size_t>(written));
    return static_cast<std::uint64_t>(written);
  }

  RelaySetup& s_;
  AccessRecheck recheck_;
  ssh_server_callbacks_struct serverCb_{};
  ssh_event event_ = nullptr;
  WakeFd wake_;              // wakes the vendor's loop (from the target's thread)
  std::mutex mu_;            // Pair::shared of every pair, and pairs_'s structure
  std::list<Pair> pairs_;    // stable addresses: callbacks hold pointers to pairs
  std::vector<Pair*> live_;  // the target thread's pairs in one pump
  Forwarding forwarding_;    // `ssh -L` connections (vendor thread)
  mutable std::mutex reasonMu_;
  std::string reason_;
  std::atomic<bool> targetGone_{false};
  bool targetWakeDeferred_ = false;  // vendor thread: bytes queued for the target, no wake yet
  bool vendorWakeDeferred_ = false;  // target thread: bytes queued for the vendor, no wake yet
  std::uint32_t channelCounter_ = 0;
  std::atomic<std::uint64_t> toTarget_{0};
  std::atomic<std::uint64_t> toVendor_{0};
  // Last: destroyed (its thread stopped) first, before anything its thread uses, should run()
  // be left by an exception.
  std::optional<SessionThread> targetThread_;
};

}  // namespace

RelayResult runRelay(RelaySetup setup) {
  Relay relay(setup);
  return relay.run();
}

}  // namespace conduit::ssh
