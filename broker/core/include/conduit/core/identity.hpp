#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/clock.hpp"

namespace conduit::core {

/// What a person may do in Conduit. A user may hold several roles.
enum class Role { vendor, engineer, auditor, admin };

std::string_view roleName(Role role) noexcept;
std::optional<Role> parseRole(std::string_view name) noexcept;

/// A contractor company. After contractEnd, all its users are treated as disabled.
struct VendorOrg {
  std::int64_t id = 0;
  std::string name;
  std::string contact;
  std::optional<TimePoint> contractEnd;
  bool disabled = false;
};

/// An engineer group that owns assets and approves access to them (e.g. "line-3-controls").
struct EngineerGroup {
  std::int64_t id = 0;
  std::string name;
  std::string description;
};

/// A person with a login.
struct User {
  std::int64_t id = 0;
  std::string username;
  std::string displayName;
  std::optional<std::int64_t> vendorId;  // set for vendor users
  std::string vendorName;                // denormalised for policy matching and display
  std::set<Role> roles;
  std::set<std::string> groups;  // engineer group names
  bool disabled = false;
  std::optional<TimePoint> expiresAt;

  bool hasRole(Role r) const { return roles.contains(r); }
  bool inGroup(std::string_view g) const { return groups.contains(std::string(g)); }
};

/// Why a user may not act now, or nullopt if they may: disabled, expired account, or their
/// vendor's contract has ended or the vendor is disabled.
std::optional<std::string> userInactiveReason(const User& user, const VendorOrg* vendor,
                                              TimePoint now);

}  // namespace conduit::core
