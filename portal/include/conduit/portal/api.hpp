#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
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
}

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
  /// The live sessions to watch; without one, live view answers 503.
  void setLiveHub(session::LiveHub* hub);

 private:
  std::unique_ptr<ApiState> state_;
};

}  // namespace conduit::portal
