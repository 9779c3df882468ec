// The browser terminal's relay: one target session, one pty channel, one thread. The portal's
// threads hand over input, resizes and close requests under a mutex and wake the thread with
// an eventfd; after start() only the shell's thread touches libssh.
#include "conduit/ssh/web_shell.hpp"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <span>
#include <system_error>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "conduit/recorder/record.hpp"
#include "live_session.hpp"

namespace conduit::ssh {

using core::ErrorCode;
using core::fail;

namespace {

// 1 MiB each way, as in the gateway's relay: far more than anyone types or pastes while the
// target is slow to read, and a cap on what a stalled peer can make the broker buffer.
constexpr std::size_t kMaxPending = std::size_t{1024} * 1024;
// 1..1000 columns and rows: beyond any real screen; 0 or 65535 columns upset programs.
constexpr int kMaxTerminalSize = 1000;
// Input, resizes, close and target data wake the loop at once (eventfd, socket); this bounds
// only how late the once-a-second access re-check runs.
constexpr int kPollMs = 100;
// Recording channels: 1 is the shell (as the gateway's first channel); 0 carries notices.
constexpr std::uint32_t kShellChannel = 1;
constexpr std::uint32_t kNoticeChannel = 0;

bool validSize(int cols, int rows) {
  return cols >= 1 && cols <= kMaxTerminalSize && rows >= 1 && rows <= kMaxTerminalSize;
}

std::span<const unsigned char> bytesOf(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

std::string nextSessionId() {
  // Process-wide, because start() is a static factory: ids name recording files and registry
  // rows and must not repeat within one broker process.
  static std::atomic<std::uint64_t> counter{0};
  return makeSessionId("web", ++counter);
}

}  // namespace

class WebShell::Impl {
 public:
  Impl(GatewayBackend& backend, WebShellRequest request, WebShellIo io, GatewayAllow allow,
       std::string sessionId)
      : backend_(backend),
        request_(std::move(request)),
        io_(std::move(io)),
        allow_(std::move(allow)),
        sessionId_(std::move(sessionId)),
        recheck_(backend_, LoginName{request_.user, request_.asset}, request_.source, allow_) {}

  ~Impl() {
    closeChannel();  // before res_ disconnects the target session
    if (wake_ >= 0) ::close(wake_);
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  /// Everything start() does after the access check, in the gateway's order; on failure the
  /// destructor releases what was opened.
  core::Status open() {
    wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0) return fail(ErrorCode::io, "cannot create an eventfd");
    auto plan = backend_.prepareTarget(request_.user, request_.asset, sessionId_, request_.source);
    if (!plan) {
      return fail(plan.error().code,
                  "cannot reach " + request_.asset + ": " + plan.error().message);
    }
    auto connected = connectTarget(plan->endpoint, plan->credential);
    if (!connected) {
      backend_.targetFailed(request_.user, request_.asset, request_.source,
                            connected.error().message);
      return fail(connected.error().code,
                  "cannot reach " + request_.asset + ": " + connected.error().message);
    }
    res_.target.emplace(std::move(*connected));
    if (auto st = openShell(); !st) return st;
    auto recording = backend_.openRecording(sessionId_, allow_);
    if (!recording) {
      return fail(recording.error().code,
                  "session refused: recording could not start: " + recording.error().message);
    }
    res_.recording = std::move(*recording);
    res_.hold = std::move(plan->hold);
    res_.afterSession = std::move(plan->afterSession);
    return core::Done{};
  }

  /// Reports the session started and hands it to its thread.
  core::Status begin() {
    backend_.sessionStarted(sessionId_, request_.user, request_.asset, request_.source, allow_);
    spdlog::info("event=web_shell_started session={} user={} asset={} source={}", sessionId_,
                 request_.user, request_.asset, request_.source);
    try {
      thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "web-shell");  // for top -H, perf and gdb
        run();
      });
    } catch (const std::system_error& e) {
      closeChannel();
      endSession(backend_, sessionId_, res_, std::string("cannot start a thread: ") + e.what(), 0,
                 0);
      return fail(ErrorCode::unavailable, "the broker cannot start another session now");
    }
    return core::Done{};
  }

  void input(std::string_view bytes) {
    if (bytes.empty()) return;
    {
      std::lock_guard lock(mutex_);
      // All or nothing: half a key's escape sequence would reach the shell as other keys.
      if (input_.size() + bytes.size() > kMaxPending) {
        inputDropped_ = true;
      } else {
        input_.append(bytes);
      }
    }
    wake();
  }

  void resize(int cols, int rows) {
    if (!validSize(cols, rows)) return;
    {
      std::lock_guard lock(mutex_);
      size_ = recorder::TerminalSize{static_cast<std::uint32_t>(cols),
                                     static_cast<std::uint32_t>(rows)};
    }
    wake();
  }

  void close(const std::string& reason) {
    {
      std::lock_guard lock(mutex_);
      if (closeReason_.empty()) closeReason_ = reason.empty() ? "web terminal closed" : reason;
    }
    wake();
  }

  /// From ~WebShell: ends the session and waits for the thread.
  void shutdown() {
    stopping_ = true;
    wake();
    if (!thread_.joinable()) return;
    if (thread_.get_id() != std::this_thread::get_id()) {
      thread_.join();
      return;
    }
    // Destroyed from one of its own callbacks. From io.closed that is fine: the thread touches
    // nothing of this object after it. From io.output or io.notice it would use freed memory.
    if (!inClosed_) {
      spdlog::critical(
          "event=web_shell_misuse session={} reason=\"destroyed from io.output or "
          "io.notice\"",
          sessionId_);
      std::abort();
    }
    thread_.detach();
  }

  [[nodiscard]] const std::string& sessionId() const { return sessionId_; }

 private:
  core::Status openShell() {
    ssh_session s = res_.target->native();
    channel_ = ssh_channel_new(s);
    if (channel_ == nullptr) {
      return fail(ErrorCode::unavailable,
                  "cannot open a shell on " + request_.asset + ": " + ssh_get_error(s));
    }
    // Output arriving before the thread runs (the prompt) waits in output_ for it.
    callbacks_.userdata = this;
    callbacks_.channel_data_function = &Impl::onData;
    callbacks_.channel_close_function = &Impl::onClose;
    callbacks_.channel_exit_status_function = &Impl::onExitStatus;
    callbacks_.channel_exit_signal_function = &Impl::onExitSignal;
    ssh_callbacks_init(&callbacks_);
    ssh_set_channel_callbacks(channel_, &callbacks_);
    if (ssh_channel_open_session(channel_) != SSH_OK ||
        ssh_channel_request_pty_size(channel_, "xterm-256color", request_.cols, request_.rows) !=
            SSH_OK ||
        ssh_channel_request_shell(channel_) != SSH_OK) {
      return fail(ErrorCode::unavailable,
                  "cannot open a shell on " + request_.asset + ": " + ssh_get_error(s));
    }
    return core::Done{};
  }

  void run() noexcept {
    const std::string reason = relay();
    closeChannel();
    std::string final = reason;
    try {
      final = endSession(backend_, sessionId_, res_, reason, bytesToTarget_, bytesToVendor_);
      spdlog::info("event=web_shell_ended session={} reason=\"{}\"", sessionId_, final);
    } catch (const std::exception& e) {
      spdlog::error("event=web_shell_end_failed session={} error=\"{}\"", sessionId_, e.what());
    }
    // Last: io.closed may destroy this object (see shutdown()).
    auto closed = std::move(io_.closed);
    inClosed_ = true;
    try {
      closed(final);
    } catch (...) {
      spdlog::error("event=web_shell_callback_failed session={} callback=closed", sessionId_);
    }
  }

  /// The loop, with the event set up and torn down around it; returns why the session ended.
  std::string relay() noexcept {
    ssh_session target = res_.target->native();
    ssh_event event = ssh_event_new();
    if (event == nullptr) return "internal error: libssh could not allocate an event";
    try {
      if (ssh_event_add_session(event, target) == SSH_OK &&
          ssh_event_add_fd(event, wake_, POLLIN, &Impl::onWake, nullptr) == SSH_OK) {
        loop(event, target);
      } else {
        end("internal error: libssh could not poll the session");
      }
    } catch (const std::exception& e) {
      end(std::string("internal error: ") + e.what());
    } catch (...) {
      end("internal error");
    }
    ssh_event_remove_fd(event, wake_);
    ssh_event_remove_session(event, target);
    ssh_event_free(event);
    return reason_;
  }

  void loop(ssh_event event, ssh_session target) {
    recordResize(
        {static_cast<std::uint32_t>(request_.cols), static_cast<std::uint32_t>(request_.rows)});
    auto nextCheck = std::chrono::steady_clock::now();
    while (reason_.empty()) {
      ssh_event_dopoll(event, kPollMs);
      takeRequests();
      sendInput();
      refill();
      deliverOutput();
      if (stopping_) end("web terminal closed");
      if (res_.recording && !res_.recording->status()) {
        // Fail closed: a session whose recording failed does not go on unrecorded.
        notice("the session recording failed; the session ends.");
        end("recording failed: " + res_.recording->status().error().message);
      }
      if (targetClosed_) end(exitReason());
      if (ssh_is_connected(target) == 0) end("target disconnected");
      const auto now = std::chrono::steady_clock::now();
      if (now >= nextCheck) {
        enforce();
        nextCheck = now + std::chrono::seconds(1);
      }
    }
  }

  void end(const std::string& why) {
    if (reason_.empty()) reason_ = why;
  }

  /// Window end, revocation and kill: re-checked every second, as in the gateway's relay.
  void enforce() {
    const AccessRecheck::Outcome r = recheck_.run();
    if (r.ended) {
      notice(*r.ended);
      end(*r.ended);
      return;
    }
    if (r.warning) {
      notice(*r.warning);
      recheck_.warned();
    }
  }

  /// Takes what the portal's threads handed over: input (as far as there is room), the
  /// latest size, a close request.
  void takeRequests() {
    std::optional<recorder::TerminalSize> size;
    std::string closeReason;
    bool dropped = false;
    bool inputEmpty = false;
    {
      std::lock_guard lock(mutex_);
      size = std::exchange(size_, std::nullopt);
      closeReason = closeReason_;
      dropped = std::exchange(inputDropped_, false);
      const std::size_t n = std::min(input_.size(), kMaxPending - toTarget_.size());
      toTarget_.append(input_, 0, n);
      input_.erase(0, n);
      inputEmpty = input_.empty() && toTarget_.empty();
    }
    if (size) {
      recordResize(*size);
      ssh_channel_change_pty_size(channel_, static_cast<int>(size->columns),
                                  static_cast<int>(size->rows));
    }
    // One notice per backlog: once the target has taken everything, a new drop is news again.
    if (dropped && !dropNoticed_) {
      notice("typed input dropped: the target is not reading it (more than 1 MiB waiting)");
      dropNoticed_ = true;
    }
    if (inputEmpty) dropNoticed_ = false;
    if (!closeReason.empty()) end(closeReason);
  }

  /// Writes pending input as far as the target's window allows; a window adjust wakes the
  /// loop for the rest.
  void sendInput() {
    if (toTarget_.empty() || ssh_channel_is_open(channel_) == 0) return;
    const std::size_t n =
        std::min<std::size_t>(toTarget_.size(), ssh_channel_window_size(channel_));
    if (n == 0) return;
    const int written = ssh_channel_write(channel_, toTarget_.data(), static_cast<uint32_t>(n));
    if (written <= 0) return;  // e.g. during a key re-exchange: retried on the next round
    const auto sent = static_cast<std::size_t>(written);
    // Typed input is recorded only where policy allows (passwords are typed at prompts).
    if (allow_.limits.recordKeystrokes) {
      record(recorder::RecordKind::terminal_input, kShellChannel, recorder::Direction::to_target,
             bytesOf(std::string_view(toTarget_).substr(0, sent)));
    }
    toTarget_.erase(0, sent);
    bytesToTarget_ += sent;
  }

  /// Pulls output libssh kept for us when output_ was full (the data callback takes only what
  /// fits; the rest is offered again only with the next packet).
  void refill() {
    if (ssh_channel_is_open(channel_) == 0) return;
    std::array<char, 65536> buf{};
    for (const int stream : {0, 1}) {
      while (output_.size() < kMaxPending) {
        const std::size_t room = std::min(buf.size(), kMaxPending - output_.size());
        const int n =
            ssh_channel_read_nonblocking(channel_, buf.data(), static_cast<uint32_t>(room), stream);
        if (n <= 0) break;
        output_.append(buf.data(), static_cast<std::size_t>(n));
      }
    }
  }

  /// Records the output, shows it in the live view and passes it to the vendor.
  void deliverOutput() {
    if (output_.empty()) return;
    std::string chunk;
    chunk.swap(output_);
    record(recorder::RecordKind::terminal_output, kShellChannel, recorder::Direction::to_client,
           bytesOf(chunk));
    backend_.terminalOutput(sessionId_, chunk);
    io_.output(chunk);
    bytesToVendor_ += chunk.size();
  }

  void notice(const std::string& text) {
    record(recorder::RecordKind::marker, kNoticeChannel, recorder::Direction::none, bytesOf(text));
    io_.notice(text);
  }

  void recordResize(recorder::TerminalSize size) {
    record(recorder::RecordKind::resize, kShellChannel, recorder::Direction::none,
           recorder::encodeResize(size));
  }

  /// Appends to the recording; a failure ends the session (fail closed).
  void record(recorder::RecordKind kind, std::uint32_t channel, recorder::Direction dir,
              std::span<const unsigned char> bytes) {
    if (!res_.recording) return;
    if (auto st = res_.recording->append(kind, channel, dir, bytes); !st) {
      end("recording failed: " + st.error().message);
    }
  }

  [[nodiscard]] std::string exitReason() const {
    if (exitStatus_) return "shell exited (status " + std::to_string(*exitStatus_) + ")";
    if (exitSignal_) return "shell exited (signal " + *exitSignal_ + ")";
    return "shell exited";
  }

  void closeChannel() noexcept {
    if (channel_ == nullptr) return;
    if (ssh_channel_is_open(channel_) != 0) ssh_channel_close(channel_);
    ssh_remove_channel_callbacks(channel_, &callbacks_);
    ssh_channel_free(channel_);
    channel_ = nullptr;
  }

  void wake() noexcept {
    const std::uint64_t one = 1;
    // Non-blocking: a full counter already means "wake up".
    [[maybe_unused]] const auto n = ::write(wake_, &one, sizeof one);
  }

  // libssh calls these from C: they must not throw. Output is taken only as far as it fits;
  // libssh keeps the rest and stops reopening the target's window (backpressure).
  static int onData(ssh_session, ssh_channel, void* data, uint32_t len, int, void* self) noexcept {
    auto* s = static_cast<Impl*>(self);
    const std::size_t room = kMaxPending - std::min(kMaxPending, s->output_.size());
    const std::size_t n = std::min<std::size_t>(room, len);
    s->output_.append(static_cast<const char*>(data), n);
    return static_cast<int>(n);
  }
  static void onClose(ssh_session, ssh_channel, void* self) noexcept {
    static_cast<Impl*>(self)->targetClosed_ = true;
  }
  static void onExitStatus(ssh_session, ssh_channel, int status, void* self) noexcept {
    static_cast<Impl*>(self)->exitStatus_ = status;
  }
  static void onExitSignal(ssh_session, ssh_channel, const char* signal, int, const char*,
                           const char*, void* self) noexcept {
    static_cast<Impl*>(self)->exitSignal_ = signal != nullptr ? signal : "unknown";
  }
  static int onWake(socket_t fd, int, void*) noexcept {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = ::read(fd, &count, sizeof count);
    return 0;
  }

  GatewayBackend& backend_;
  WebShellRequest request_;
  WebShellIo io_;
  GatewayAllow allow_;  // refreshed by every re-check
  std::string sessionId_;
  AccessRecheck recheck_;
  SessionResources res_;
  ssh_channel channel_ = nullptr;
  ssh_channel_callbacks_struct callbacks_{};
  int wake_ = -1;  // eventfd: the portal's threads wake the loop through it
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  // Handed over by the portal's threads, guarded by mutex_.
  std::mutex mutex_;
  std::string input_;
  bool inputDropped_ = false;
  std::optional<recorder::TerminalSize> size_;
  std::string closeReason_;

  // The shell's thread only (start()'s thread before it runs).
  std::string output_;    // from the target, not yet delivered
  std::string toTarget_;  // input taken over, not yet written to the channel
  std::string reason_;
  bool dropNoticed_ = false;
  bool targetClosed_ = false;
  bool inClosed_ = false;
  std::optional<int> exitStatus_;
  std::optional<std::string> exitSignal_;
  std::uint64_t bytesToTarget_ = 0;
  std::uint64_t bytesToVendor_ = 0;
};

core::Result<std::unique_ptr<WebShell>> WebShell::start(GatewayBackend& backend,
                                                        WebShellRequest request, WebShellIo io) {
  if (!validSize(request.cols, request.rows)) {
    return fail(ErrorCode::invalid_argument,
                "the terminal size must be 1 to 1000 columns and rows");
  }
  if (!io.output || !io.notice || !io.closed) {
    return fail(ErrorCode::invalid_argument,
                "a web shell needs output, notice and closed callbacks");
  }
  // The same check the gateway makes before any channel opens (audited when refused).
  const GatewayDecision decision =
      backend.checkAccess(request.user, request.asset, core::Protocol::ssh, request.source);
  if (const auto* no = std::get_if<GatewayRefuse>(&decision)) {
    spdlog::info("event=web_shell_refused user={} asset={} source={} reason=\"{}\"", request.user,
                 request.asset, request.source, no->reason);
    return fail(ErrorCode::permission_denied,
                "access to " + request.asset + " refused: " + no->reason);
  }
  auto impl = std::make_unique<Impl>(backend, std::move(request), std::move(io),
                                     std::get<GatewayAllow>(decision), nextSessionId());
  if (auto st = impl->open(); !st) {
    spdlog::info("event=web_shell_failed session={} reason=\"{}\"", impl->sessionId(),
                 st.error().message);
    return st.error();
  }
  if (auto st = impl->begin(); !st) return st.error();
  return std::unique_ptr<WebShell>(new WebShell(std::move(impl)));
}

WebShell::WebShell(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebShell::~WebShell() {
  if (impl_) impl_->shutdown();
}

void WebShell::input(std::string_view bytes) {
  impl_->input(bytes);
}
void WebShell::resize(int cols, int rows) {
  impl_->resize(cols, rows);
}
void WebShell::close(const std::string& reason) {
  impl_->close(reason);
}
const std::string& WebShell::sessionId() const {
  return impl_->sessionId();
}

}  // namespace conduit::ssh
