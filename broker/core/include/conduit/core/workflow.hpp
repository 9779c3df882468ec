#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "conduit/core/access_request.hpp"
#include "conduit/core/identity.hpp"
#include "conduit/core/result.hpp"

namespace conduit::core {

// The access workflow as pure functions of data: each takes the current state and returns the
// next one or an Error saying why not. Storage and audit are the caller's job.

/// What a vendor asks for.
struct RequestDraft {
  std::vector<Protocol> protocols;
  TimePoint windowStart{};
  Seconds duration{0};
  std::string reason;
  std::string ticket;
};

// 60 s: clocks of a vendor's laptop and the broker differ; a window "starting now" must not be
// refused for being a few seconds in the past.
inline constexpr Seconds kWindowStartTolerance{60};
// 90 days: requests are for planned maintenance, not standing access.
inline constexpr Seconds kMaxLeadTime{90 * 24 * 3600};
inline constexpr std::size_t kMaxReasonLength = 2000;
inline constexpr std::size_t kMaxTicketLength = 200;

/// Validates and builds a pending request. `limits` and `ruleId` come from the policy decision
/// that allowed it. Fails with invalid_argument (bad window, protocols, text) or
/// permission_denied (inactive user, disabled asset).
Result<AccessRequest> openRequest(const User& requester, const VendorOrg* vendor,
                                  const Asset& asset, const RequestDraft& draft,
                                  const AccessLimits& limits, const std::string& ruleId,
                                  TimePoint now);

/// The result of a vote: the updated request and, when it completed the approvals, the grant.
struct VoteOutcome {
  AccessRequest request;
  std::optional<Grant> grant;
};

/// Records an engineer's approve or deny. The first deny ends the request; approvals complete it
/// when every rule of the requirement is met by distinct approvers. Refuses self-approval,
/// voting twice, non-engineers, engineers of unrelated groups, and requests that are no longer
/// pending or whose window has ended.
Result<VoteOutcome> castVote(const AccessRequest& request, const User& approver, bool approve,
                             const std::string& comment, TimePoint now);

/// Whether the approvals in `votes` satisfy `requirement` (owner group fills empty group names).
bool approvalsSatisfied(const ApprovalRequirement& requirement, const std::string& ownerGroup,
                        const std::vector<Vote>& votes);

/// Withdraws a pending request; only its requester or an admin may.
Result<AccessRequest> cancelRequest(const AccessRequest& request, const User& actor, TimePoint now);

/// A pending request whose window has ended without a decision becomes expired.
std::optional<AccessRequest> expireIfUndecided(const AccessRequest& request, TimePoint now);

/// Ends a grant for good. Engineers of the asset's owner group and admins may; a reason is
/// required.
Result<Grant> revokeGrant(const Grant& grant, const User& actor, const std::string& ownerGroup,
                          const std::string& reason);

/// Suspends an active grant after its live session was killed; it stays unusable until an
/// engineer reinstates it (CIP-005 R3.2: control the ability to reconnect).
Result<Grant> suspendGrant(const Grant& grant, const std::string& reason);

/// Re-approves a suspended grant (engineer of the owner group, not the grant's own user).
Result<Grant> reinstateGrant(const Grant& grant, const User& actor, const std::string& ownerGroup,
                             const std::string& comment);

/// Access is allowed now under grant `grantId` until `until`.
struct AccessGranted {
  std::int64_t grantId = 0;
  TimePoint until{};
  AccessLimits limits;
};
/// Access is refused, with a reason fit to show the vendor.
struct AccessRefused {
  std::string reason;
};
using AccessCheck = std::variant<AccessGranted, AccessRefused>;

/// "May this user open protocol p to this asset now, and until when?" Called by every gateway
/// at connect and at every channel open. Picks the grant that lasts longest among the usable
/// ones; otherwise explains the most relevant refusal.
AccessCheck checkAccess(const User& user, const VendorOrg* vendor, const Asset& asset,
                        const std::vector<Grant>& grants, Protocol p, TimePoint now);

}  // namespace conduit::core
