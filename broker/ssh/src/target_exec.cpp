// runCommand: one command in an exec channel of a target session, with stdin, output limits and
// a deadline.

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "conduit/ssh/target.hpp"

namespace conduit::ssh {

using core::ErrorCode;
using core::fail;

namespace {

// What libssh's channel callbacks report; written only from those callbacks.
struct ExitState {
  bool exited = false;
  int status = -1;
  std::string signal;
};

// libssh calls these from C: they must not throw.
void onExitStatus(ssh_session, ssh_channel, int status, void* userdata) noexcept {
  auto* state = static_cast<ExitState*>(userdata);
  state->status = status;
  state->exited = true;
}

void onExitSignal(ssh_session, ssh_channel, const char* signal, int, const char*, const char*,
                  void* userdata) noexcept {
  auto* state = static_cast<ExitState*>(userdata);
  try {
    state->signal = signal != nullptr ? signal : "?";
  } catch (...) {
    state->signal.clear();  // out of memory: the exit still counts, the name is lost
  }
  state->exited = true;
}

struct ChannelDeleter {
  // Sends close if the channel is still open, then frees it.
  void operator()(ssh_channel channel) const noexcept { ssh_channel_free(channel); }
};
using ChannelPtr = std::unique_ptr<std::remove_pointer_t<ssh_channel>, ChannelDeleter>;

// Unregisters the channel callbacks before the channel is freed. ssh_channel_free only marks a
// channel whose close the target has not yet confirmed; libssh keeps dispatching its packets
// (an exit-signal after our SIGTERM, say) until then, and the callbacks' userdata is on this
// call's stack.
class CallbackRegistration {
 public:
  CallbackRegistration(ssh_channel channel, ssh_channel_callbacks callbacks)
      : channel_(channel), callbacks_(callbacks) {
    ssh_set_channel_callbacks(channel_, callbacks_);
  }
  ~CallbackRegistration() { ssh_remove_channel_callbacks(channel_, callbacks_); }
  CallbackRegistration(const CallbackRegistration&) = delete;
  CallbackRegistration& operator=(const CallbackRegistration&) = delete;

 private:
  ssh_channel channel_;
  ssh_channel_callbacks callbacks_;
};

struct EventDeleter {
  void operator()(ssh_event event) const noexcept { ssh_event_free(event); }
};
using EventPtr = std::unique_ptr<std::remove_pointer_t<ssh_event>, EventDeleter>;

// Keeps the session in a private ssh_event for the duration of one command, so that waiting
// wakes on any packet (stdout, stderr, window adjust, exit status) rather than on stdout only.
class EventMembership {
 public:
  EventMembership(ssh_event event, ssh_session session) : event_(event), session_(session) {
    added_ = ssh_event_add_session(event_, session_) == SSH_OK;
  }
  ~EventMembership() {
    if (added_) ssh_event_remove_session(event_, session_);
  }
  EventMembership(const EventMembership&) = delete;
  EventMembership& operator=(const EventMembership&) = delete;
  [[nodiscard]] bool ok() const { return added_; }

 private:
  ssh_event event_;
  ssh_session session_;
  bool added_ = false;
};

// One write is at most this much: large enough to fill a packet several times over, small
// enough that a slow target's window is honoured in steps.
constexpr std::size_t kWriteChunk = std::size_t{32} * 1024;

}  // namespace

core::Result<ExecResult> runCommand(TargetSession& s, const std::string& command,
                                    std::string_view stdinData, std::chrono::seconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  ssh_session session = s.native();
  if (session == nullptr) return fail(ErrorCode::internal, "runCommand on a moved-from session");
  const std::string& where = s.target();

  // Declared before the channel; the registration below, declared after it, unhooks them from
  // the channel before the channel is freed.
  ExitState exitState;
  ssh_channel_callbacks_struct callbacks{};
  callbacks.userdata = &exitState;
  callbacks.channel_exit_status_function = onExitStatus;
  callbacks.channel_exit_signal_function = onExitSignal;
  ssh_callbacks_init(&callbacks);

  ChannelPtr channel(ssh_channel_new(session));
  if (!channel) {
    return fail(ErrorCode::unavailable,
                "cannot create a channel on target " + where + ": " + ssh_get_error(session));
  }
  if (ssh_channel_open_session(channel.get()) != SSH_OK) {
    return fail(ErrorCode::unavailable,
                "cannot open a channel on target " + where + ": " + ssh_get_error(session));
  }
  const CallbackRegistration registration(channel.get(), &callbacks);
  if (ssh_channel_request_exec(channel.get(), command.c_str()) != SSH_OK) {
    return fail(ErrorCode::unavailable,
                "target " + where + " refused to run the command: " + ssh_get_error(session));
  }

  EventPtr event(ssh_event_new());
  if (!event) return fail(ErrorCode::internal, "libssh could not create an event");
  // Destroyed before the channel: the session leaves the event first.
  EventMembership membership(event.get(), session);
  if (!membership.ok()) return fail(ErrorCode::internal, "libssh could not poll the session");

  ExecResult result;
  std::size_t written = 0;
  bool eofSent = false;
  bool stdoutDone = false;
  bool stderrDone = false;
  std::array<char, std::size_t{16} * 1024> buffer{};

  while (true) {
    bool progress = false;

    if (!eofSent) {
      if (exitState.exited || ssh_channel_is_closed(channel.get()) != 0) {
        // The command ended without reading everything: the rest of stdin has nowhere to go.
        eofSent = true;
      } else if (written < stdinData.size()) {
        // Never more than the target's window: a blocking write beyond it would stall here
        // while the command waits for us to read its output.
        const std::size_t window = ssh_channel_window_size(channel.get());
        const std::size_t n = std::min({window, stdinData.size() - written, kWriteChunk});
        if (n > 0) {
          const int rc = ssh_channel_write(channel.get(), stdinData.data() + written,
                                           static_cast<uint32_t>(n));
          if (rc == SSH_ERROR) {
            return fail(ErrorCode::unavailable, "writing to the command on target " + where +
                                                    " failed: " + ssh_get_error(session));
          }
          written += static_cast<std::size_t>(rc);
          progress = progress || rc > 0;
        }
      }
      if (!eofSent && written == stdinData.size()) {
        if (ssh_channel_send_eof(channel.get()) == SSH_ERROR) {
          return fail(ErrorCode::unavailable, "closing the command's input on target " + where +
                                                  " failed: " + ssh_get_error(session));
        }
        eofSent = true;
      }
    }

    for (int stream = 0; stream < 2; ++stream) {
      bool& done = stream == 0 ? stdoutDone : stderrDone;
      std::string& text = stream == 0 ? result.stdoutText : result.stderrText;
      if (done) continue;
      const int n = ssh_channel_read_nonblocking(channel.get(), buffer.data(),
                                                 static_cast<uint32_t>(buffer.size()), stream);
      if (n == SSH_EOF) {
        done = true;
      } else if (n < 0) {
        if (ssh_channel_is_closed(channel.get()) != 0 && ssh_is_connected(session) != 0) {
          done = true;  // closed without EOF: nothing more will come
        } else {
          return fail(ErrorCode::unavailable, "reading the command's output on target " + where +
                                                  " failed: " + ssh_get_error(session));
        }
      } else if (n > 0) {
        if (text.size() + static_cast<std::size_t>(n) > kMaxExecOutputBytes) {
          return fail(ErrorCode::io, std::string("the command on target ") + where +
                                         " wrote more than " + std::to_string(kMaxExecOutputBytes) +
                                         " bytes to " + (stream == 0 ? "stdout" : "stderr"));
        }
        text.append(buffer.data(), static_cast<std::size_t>(n));
        progress = true;
      }
    }

    const bool closed = ssh_channel_is_closed(channel.get()) != 0;
    if (stdoutDone && stderrDone && (exitState.exited || closed)) break;
    if (closed && ssh_is_connected(session) == 0) {
      return fail(ErrorCode::unavailable,
                  "the connection to target " + where + " was lost while the command ran");
    }

    const auto now = Clock::now();
    if (now >= deadline) {
      // Best effort: ask the target to end the command (OpenSSH 7.9+ honours this); closing the
      // channel alone leaves a command that ignores its closed pipes running.
      (void)ssh_channel_request_send_signal(channel.get(), "TERM");
      return fail(ErrorCode::unavailable, "the command on target " + where +
                                              " did not finish within " +
                                              std::to_string(timeout.count()) + " s");
    }
    if (progress) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const int waitMs = static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1000));
    if (ssh_event_dopoll(event.get(), waitMs) == SSH_ERROR && ssh_is_connected(session) == 0) {
      return fail(ErrorCode::unavailable,
                  "the connection to target " + where + " was lost while the command ran");
    }
  }

  result.exitStatus = exitState.status;
  result.exitSignal = exitState.signal;
  return result;
}

}  // namespace conduit::ssh
