#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

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
};

class ApiState;

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

 private:
  std::unique_ptr<ApiState> state_;
};

}  // namespace conduit::portal
