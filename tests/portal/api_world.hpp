#pragma once

// A broker with a few users in two vendors and two engineer groups, and the portal API on a
// FixedClock, driven through the router exactly as the HTTPS server drives it.

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>

#include "conduit/access/admin_service.hpp"
#include "conduit/access/auth_service.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/core/totp.hpp"
#include "conduit/policies/policy_set.hpp"
#include "conduit/portal/api.hpp"
#include "conduit/portal/http.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "support/temp_dir.hpp"

namespace conduit::test {

inline constexpr const char* kApiPolicy = R"(
[[rule]]
id = "vendor-ssh"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["ssh"]
[rule.limits]
max_duration = "4h"
approvals = 1
mfa = "optional"
)";

/// One signed-in (or signing-in) browser: its cookie and CSRF token.
struct Browser {
  std::string cookie;
  std::string csrf;
};

struct Response {
  int status = 0;
  boost::json::value body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string raw;
  std::string header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return {};
  }
  std::string error() const {
    return body.is_object() && body.as_object().contains("error")
               ? std::string(body.at("error").as_string())
               : std::string();
  }
};

class ApiWorld {
 public:
  ApiWorld();

  /// Sends one request; `browser` supplies the cookie and (for writes) the CSRF token, and
  /// takes any new cookie the answer sets.
  Response call(const std::string& method, const std::string& target, Browser* browser = nullptr,
                const std::string& body = "", bool withCsrf = true,
                const std::string& source = "10.0.0.5");

  /// Password + TOTP through the API; REQUIREs success.
  Browser signIn(const std::string& user);
  /// A TOTP code for a user now.
  std::string code(const std::string& user);

  std::string lastEventType();
  std::int64_t countEvents(const std::string& type);

  TempDir dir;
  core::FixedClock clock{*core::parseTime("2026-11-26T08:00:00Z")};
  store::Database db;
  std::unique_ptr<access::VaultService> vault;
  policies::PolicySet policy = policies::PolicySet::parse(kApiPolicy, "test.toml").value();
  std::unique_ptr<portal::PortalApi> api;
  portal::Router router;
  std::map<std::string, std::vector<unsigned char>> seeds;
  std::map<std::string, std::string> passwords;
  access::Actor root{"admin-cli", "cli"};
  std::int64_t aliceRequest = 0;  // a pending request of alice's to hmi-3
};

}  // namespace conduit::test
