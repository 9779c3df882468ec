#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/access_limits.hpp"
#include "conduit/core/asset.hpp"
#include "conduit/core/clock.hpp"

namespace conduit::core {

enum class RequestState { pending, approved, denied, expired, cancelled };

std::string_view requestStateName(RequestState s) noexcept;
std::optional<RequestState> parseRequestState(std::string_view name) noexcept;

/// One engineer's decision on a request.
struct Vote {
  std::int64_t approverId = 0;
  std::string approverName;
  std::set<std::string> approverGroups;  // the approver's groups when they voted
  bool approve = false;
  std::string comment;
  TimePoint at{};
};

/// A vendor's request for a time-limited window to one asset.
struct AccessRequest {
  std::int64_t id = 0;
  std::int64_t requesterId = 0;
  std::string requesterName;
  std::int64_t assetId = 0;
  std::string assetName;
  std::string ownerGroup;  // the asset's owner group when the request was made
  std::vector<Protocol> protocols;
  TimePoint windowStart{};
  Seconds duration{0};
  std::string reason;
  std::string ticket;
  RequestState state = RequestState::pending;
  TimePoint createdAt{};
  std::optional<TimePoint> decidedAt;
  std::string policyRule;  // the rule that allowed the request to be made
  AccessLimits limits;     // what that rule allows; copied into the grant
  std::vector<Vote> votes;

  TimePoint windowEnd() const { return windowStart + duration; }
};

enum class GrantState { active, suspended, revoked };

std::string_view grantStateName(GrantState s) noexcept;
std::optional<GrantState> parseGrantState(std::string_view name) noexcept;

/// The permission an approved request creates: valid from window start to window end unless
/// revoked, or suspended by a kill until re-approved (NERC CIP-005 R3.2).
struct Grant {
  std::int64_t id = 0;
  std::int64_t requestId = 0;
  std::int64_t userId = 0;
  std::int64_t assetId = 0;
  std::string assetName;
  std::vector<Protocol> protocols;
  TimePoint notBefore{};
  TimePoint notAfter{};
  GrantState state = GrantState::active;
  std::string stateReason;
  AccessLimits limits;

  bool covers(Protocol p) const;
};

}  // namespace conduit::core
