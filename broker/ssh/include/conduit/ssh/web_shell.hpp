#pragma once

// The broker side of the portal's browser terminal: one interactive shell on an asset, with the
// vendor's side as callbacks (the portal carries them over a WebSocket to xterm.js) instead of
// an SSH channel. Everything else is what the SSH gateway does for a shell: the same access
// check, target credential, recording, live view, enforcement and audit.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "conduit/core/result.hpp"
#include "conduit/ssh/gateway_backend.hpp"

namespace conduit::ssh {

/// Who opens a shell on which asset, from where (the browser's address), and the terminal's
/// initial size.
struct WebShellRequest {
  std::string user;
  std::string asset;
  std::string source;
  int cols = 80;
  int rows = 24;
};

/// The vendor's side. All three are called on the shell's own thread, never while it holds a
/// lock, and must not block (the portal queues what its WebSocket has not sent yet).
struct WebShellIo {
  std::function<void(std::string_view)> output;    // terminal output (the pty's stdout+stderr)
  std::function<void(const std::string&)> notice;  // one line for the vendor (warning, end)
  std::function<void(const std::string&)> closed;  // exactly once, with the reason, at the end
};

/// One browser terminal session. Thread-safe; the shell runs on its own thread.
class WebShell {
 public:
  /// Checks access, logs in to the target with a credential prepared for this session, opens a
  /// pty ("xterm-256color") and a shell, opens the recording, reports the session started and
  /// starts relaying. Blocking (connecting to the target takes up to its timeout). Fails with
  /// permission_denied (no valid grant; the message says why), invalid_argument (a terminal
  /// size outside 1..1000 or a missing callback), or the error of the step that failed, its
  /// message fit to show the vendor (never a credential). On failure nothing stays open and
  /// io.closed is never called.
  static core::Result<std::unique_ptr<WebShell>> start(GatewayBackend& backend,
                                                       WebShellRequest request, WebShellIo io);

  /// Ends the session if it is still open ("web terminal closed"; io.closed runs on the
  /// shell's thread before this returns, so the caller must not hold a lock io.closed takes)
  /// and waits for its thread. May be called from io.closed; not from io.output or io.notice.
  ~WebShell();
  WebShell(const WebShell&) = delete;
  WebShell& operator=(const WebShell&) = delete;

  /// Typed keys (or pasted text) for the shell. Beyond 1 MiB not yet taken by the target the
  /// input is dropped and the vendor told so.
  void input(std::string_view bytes);
  /// The terminal's new size; ignored unless both are within 1..1000.
  void resize(int cols, int rows);
  /// Ends the session; io.closed is called with `reason` (plus a recording error, if any).
  void close(const std::string& reason);
  /// "web-<unix time>-<counter>": the id in the audit trail, the registry and the recording.
  [[nodiscard]] const std::string& sessionId() const;

  class Impl;

 private:
  explicit WebShell(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace conduit::ssh
