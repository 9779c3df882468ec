#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conduit/access/auth_service.hpp"
#include "conduit/access/web_sessions.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/portal/http.hpp"

namespace conduit::store {
class Database;
}
namespace conduit::policies {
class PolicySet;
}
namespace conduit::access {
class VaultService;
}
namespace conduit::session {
class LiveHub;
class HoldBoard;
}  // namespace conduit::session

namespace conduit::portal {

/// What the REST API needs to know about its surroundings. See docs/api.md.
struct ApiOptions {
  std::string loginBanner;
  std::string sshHost = "127.0.0.1";  // shown in the "connect" command
  std::uint16_t sshPort = 2222;
  access::WebSessionLimits sessionLimits;
  access::LockoutPolicy lockout;
  // 10 login attempts a minute per address: a person mistyping never meets it; a guesser meets it
  // long before the per-account lockout matters. Each attempt costs an argon2id hash (~0.1 s).
  int loginAttemptsPerMinute = 10;
  std::filesystem::path recordingsDir;
  std::filesystem::path webRoot;  // the built front end (portal/web/dist); empty: API only
  // The policy files the broker loaded at start, in order; GET /admin/policies checks them again.
  std::vector<std::filesystem::path> policyFiles;
};

class ApiState;

/// Callbacks from a browser terminal session to the portal; called on the session's thread,
/// must not block.
struct TerminalIo {
  std::function<void(std::string_view)> output;
  std::function<void(const std::string&)> notice;
  std::function<void(const std::string&)> closed;  // exactly once, with the reason
};

/// One running browser terminal session (implemented by the SSH edge; thread-safe).
class TerminalSession {
 public:
  virtual ~TerminalSession() = default;
  virtual void input(std::string_view bytes) = 0;
  virtual void resize(int cols, int rows) = 0;
  virtual void close(const std::string& reason) = 0;
  virtual std::string sessionId() const = 0;
};

/// Starts browser terminal sessions: the port through which the portal reaches the SSH edge
/// (wired in main), so the portal does not depend on it.
class TerminalLauncher {
 public:
  virtual ~TerminalLauncher() = default;
  /// Blocking (connects to the target). permission_denied with a one-line reason when the
  /// vendor has no grant; other errors with a message fit for the vendor.
  virtual core::Result<std::unique_ptr<TerminalSession>> start(const std::string& user,
                                                               const std::string& asset,
                                                               const std::string& source, int cols,
                                                               int rows, TerminalIo io) = 0;
};

/// The WebSocket tunnel's flow control (docs/api.md "TCP tunnel"): each side sends at most this
/// many bytes the other has not acknowledged yet. 1 MiB keeps a fast link busy and bounds what a
/// peer that stops reading can make the other side buffer (the portal's outbox, the client's
/// memory).
inline constexpr std::size_t kTunnelWindowBytes = std::size_t{1} << 20;
/// Each side acknowledges once this many delivered bytes are unacknowledged (a sixteenth of
/// the window: few messages, and a blocked sender always gets its acknowledgement).
inline constexpr std::size_t kTunnelAckBytes = std::size_t{64} << 10;

/// Who opens a WebSocket tunnel to which endpoint, from where (the client's address).
struct TunnelOpenRequest {
  std::string user;
  std::string asset;
  std::uint32_t port = 0;
  std::string source;
  std::uint16_t sourcePort = 0;  // the client's TCP port, for the recording's 4-tuple
};

/// Callbacks from a WebSocket tunnel to the portal; called on the tunnel's thread, never while
/// it holds a lock, and must not block (the portal queues what its WebSocket has not sent).
struct TunnelIo {
  std::function<void(const std::string&)> started;  // first, once: the session's id
  std::function<void(std::string)> data;            // bytes from the endpoint, for the client
  std::function<void(std::uint64_t)> ack;           // the client may send this many more bytes
  std::function<void()> eof;                        // the endpoint half-closed its side
  std::function<void(const std::string&)> notice;   // one line for the vendor (window end)
  std::function<void(const std::string&)> closed;   // exactly once, with the reason
};

/// One running WebSocket tunnel (implemented in the broker; thread-safe). A client that breaks
/// the flow control (sends beyond its window, acknowledges bytes never sent) ends the tunnel
/// with the reason (io.closed).
class TunnelSession {
 public:
  virtual ~TunnelSession() = default;
  /// Bytes from the vendor's client toward the endpoint.
  virtual void send(std::string_view bytes) = 0;
  /// The client delivered this many more of the endpoint's bytes to its local connection.
  virtual void acknowledge(std::uint64_t bytes) = 0;
  /// The client's local connection half-closed: the endpoint's connection does too.
  virtual void endOfStream() = 0;
  virtual void close(const std::string& reason) = 0;
  virtual std::string sessionId() const = 0;
};

/// Opens WebSocket tunnels to assets' tcp endpoints: the port through which the portal reaches
/// the broker's tunnel relay (wired in main), so the portal does not depend on it.
class TunnelLauncher {
 public:
  virtual ~TunnelLauncher() = default;
  /// Blocking (connects to the endpoint). permission_denied with a one-line reason when the
  /// vendor may not open this tunnel; other errors with a message fit for the vendor.
  virtual core::Result<std::unique_ptr<TunnelSession>> open(const TunnelOpenRequest& request,
                                                            TunnelIo io) = 0;
};

/// What a browser RDP session that started offers the page (the "started" message).
struct RemoteDesktopStarted {
  std::string sessionId;
  int width = 0;  // the desktop's actual size
  int height = 0;
  bool clipboardToTarget = false;  // which ways clipboard text may pass
  bool clipboardFromTarget = false;
  bool drive = false;    // the session has a drive
  bool audio = false;    // the target's sound comes as binary audio messages
  bool printer = false;  // what the target prints comes to the vendor
};

/// A document the target printed, ready to save (RemoteDesktop::printGet).
struct RemoteDesktopPrinted {
  std::string name;
  std::uint64_t size = 0;
  std::string sha256;
  std::string note;  // why it is PostScript or cut; empty when all went well
};

/// Callbacks from a browser RDP session to the portal; called on the session's thread, never
/// while it holds a lock, and must not block.
struct RemoteDesktopIo {
  // First, once, before any frame.
  std::function<void(const RemoteDesktopStarted&)> started;
  // Binary message: a tile or frame end (docs/api.md).
  std::function<void(std::string)> frame;
  std::function<void(const std::string&)> notice;
  std::function<void(const std::string&)> closed;     // exactly once, with the reason
  std::function<void(const std::string&)> clipboard;  // text copied on the target (UTF-8)
  // Binary message: sound (0x87, docs/api.md), to drop rather than queue behind a slow
  // browser.
  std::function<void(std::string)> audio;
  // A document the target printed is ready to save.
  std::function<void(const RemoteDesktopPrinted&)> printed;
};

/// One running browser RDP session (implemented in the broker; thread-safe). Input is
/// already validated by the portal; a session that gets more than it can take ends itself.
class RemoteDesktop {
 public:
  virtual ~RemoteDesktop() = default;
  /// scancode: RDP set 1, | 0x100 for extended keys.
  virtual void key(std::uint16_t scancode, bool down) = 0;
  /// flags: RDP pointer flags (docs/api.md "Browser RDP").
  virtual void pointer(std::uint16_t flags, std::uint16_t x, std::uint16_t y) = 0;
  virtual void ctrlAltDel() = 0;
  virtual void ack(std::uint32_t sequence) = 0;
  virtual void refresh() = 0;
  /// The vendor's clipboard text for the target. permission_denied where the policy does not
  /// allow the clipboard; invalid_argument for text the broker does not take.
  virtual core::Status clipboard(const std::string& text) = 0;
  /// The session's drive: JSON {"files":[{"name","size","modified"}]}; permission_denied
  /// where the policy allows no drive.
  virtual core::Result<std::string> driveList() = 0;
  /// Whether drivePut would take this name and size, said before the bytes arrive.
  virtual core::Status driveAccepts(const std::string& name, std::uint64_t size) = 0;
  /// A file for the drive; returns its SHA-256 (hex). Errors fit for the vendor.
  virtual core::Result<std::string> drivePut(const std::string& name,
                                             std::span<const std::uint8_t> bytes) = 0;
  /// A file from the drive: its bytes and SHA-256 (hex).
  virtual core::Result<std::pair<std::vector<std::uint8_t>, std::string>> driveGet(
      const std::string& name) = 0;
  /// A document the target printed (named by `printed`): its bytes and SHA-256 (hex).
  virtual core::Result<std::pair<std::vector<std::uint8_t>, std::string>> printGet(
      const std::string& name) = 0;
  virtual void close(const std::string& reason) = 0;
  virtual std::string sessionId() const = 0;
  virtual int width() const = 0;
  virtual int height() const = 0;
};

/// Starts browser RDP sessions: the port through which the portal reaches broker/rdp (wired in
/// main), so the portal does not depend on it.
class RemoteDesktopLauncher {
 public:
  virtual ~RemoteDesktopLauncher() = default;
  /// Blocking (the target logs the session in). permission_denied with a one-line reason when
  /// the vendor has no grant; other errors with a message fit for the vendor.
  virtual core::Result<std::unique_ptr<RemoteDesktop>> start(const std::string& user,
                                                             const std::string& asset,
                                                             const std::string& source, int width,
                                                             int height, RemoteDesktopIo io) = 0;
};

/// The portal's REST API under /api/v1 and the static front end. Owns its own database
/// connection; handlers on the server's threads take turns on it.
class PortalApi {
 public:
  PortalApi(store::Database db, const policies::PolicySet& policies, access::VaultService& vault,
            const core::Clock& clock, ApiOptions options);
  ~PortalApi();
  PortalApi(const PortalApi&) = delete;
  PortalApi& operator=(const PortalApi&) = delete;

  /// Registers every /api/v1 route and the static files on router. The routes refer to this
  /// object, which must outlive the server.
  void addRoutes(Router& router);

  /// Where browser terminals come from; without one, /api/v1/terminal answers 503.
  void setTerminalLauncher(TerminalLauncher* launcher);
  /// Where WebSocket tunnels come from; without one, /api/v1/tunnel answers 503.
  void setTunnelLauncher(TunnelLauncher* launcher);
  /// Browser RDP (GET /api/v1/rdp); without one the endpoint answers 503.
  void setRemoteDesktopLauncher(RemoteDesktopLauncher* launcher);
  /// The live sessions to watch; without one, live view answers 503.
  void setLiveHub(session::LiveHub* hub);
  /// Writes held for approval; without a board, /api/v1/holds lists none and decides none.
  void setHoldBoard(session::HoldBoard* board);

 private:
  std::unique_ptr<ApiState> state_;
};

}  // namespace conduit::portal
