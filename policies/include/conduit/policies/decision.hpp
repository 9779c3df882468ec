#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "conduit/core/access_limits.hpp"
#include "conduit/core/asset.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/identity.hpp"

namespace conduit::policies {

/// Whether access is being asked for (a request for a window) or used (a session or channel
/// is being opened).
enum class Action { request, connect };

/// "request" or "connect".
std::string_view actionName(Action a) noexcept;
/// The action with that name, or nullopt.
std::optional<Action> parseAction(std::string_view name) noexcept;

/// Everything a policy decision looks at. Holds references: keep user and asset alive.
struct PolicyContext {
  const core::User& user;    // username, vendorName, roles, groups
  const core::Asset& asset;  // name, site, zone, criticality, tags
  core::Protocol protocol;
  core::TimePoint at;  // when access would be used (request: window start; connect: now)
  Action action = Action::request;
  bool mfaSatisfied = false;  // whether the user authenticated with a second factor
};

/// Access may go ahead within `limits`.
struct Allow {
  std::string ruleId;
  std::string explanation;
  core::AccessLimits limits;
};

/// Access is refused. ruleId is "default-deny" when no rule matched.
struct Deny {
  std::string ruleId;
  std::string reason;
};

/// The matching rule would allow access once the user supplies `what` (e.g. "mfa").
struct NeedMore {
  std::string ruleId;
  std::string what;
};

using Decision = std::variant<Allow, Deny, NeedMore>;

/// The rule id that answers when no rule matched.
inline constexpr std::string_view kDefaultDenyId = "default-deny";

/// One rule the engine considered, whether it matched and why.
struct TraceLine {
  std::string ruleId;
  bool matched = false;
  std::string why;
};

/// Human text for a decision and its trace, as `conduit policy explain` prints it.
std::string formatExplanation(const Decision& d, const std::vector<TraceLine>& trace);

/// The id of the rule that made the decision.
const std::string& decidingRule(const Decision& d) noexcept;

}  // namespace conduit::policies
