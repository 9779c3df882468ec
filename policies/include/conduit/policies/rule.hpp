#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "conduit/core/access_limits.hpp"
#include "conduit/core/asset.hpp"
#include "conduit/core/identity.hpp"
#include "conduit/policies/decision.hpp"

namespace conduit::policies {

enum class Effect { allow, deny };

/// The conditions of a rule. Every non-empty set must be met; an empty set matches anything.
struct RuleMatch {
  std::set<core::Role> roles;       // the user holds any of them
  std::set<std::string> vendors;    // the user's vendor organisation name
  std::set<std::string> users;      // usernames
  std::vector<std::string> assets;  // glob patterns on the asset name
  std::set<std::string> sites;
  std::set<std::string> zones;
  std::set<core::Criticality> criticality;
  std::set<std::string> tags;  // the asset has any of them
  std::set<core::Protocol> protocols;
  std::set<Action> actions;
};

/// One `[[rule]]` of a policy file, validated.
struct Rule {
  std::string id;
  std::string description;
  Effect effect = Effect::deny;
  std::string reason;  // deny rules: what the user is told
  RuleMatch match;
  std::optional<core::Schedule> schedule;  // outside it the rule does not match
  core::AccessLimits limits;               // allow rules; limits.schedule == schedule
  std::string source;                      // "file:line" of the rule's [[rule]] header
};

}  // namespace conduit::policies
