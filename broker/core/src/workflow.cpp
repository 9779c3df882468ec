#include "conduit/core/workflow.hpp"

#include <algorithm>
#include <functional>

namespace conduit::core {

namespace {

std::string describe(const AccessRequest& r) {
  return "request " + std::to_string(r.id);
}

bool hasControlChars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 && c != '\t'; });
}

/// Groups whose members may vote on a request: the owner group and any named in the rules.
std::set<std::string> votingGroups(const AccessRequest& r) {
  std::set<std::string> groups{r.ownerGroup};
  for (const auto& rule : r.limits.approvals.rules) {
    if (!rule.group.empty()) groups.insert(rule.group);
  }
  return groups;
}

}  // namespace

std::string_view requestStateName(RequestState s) noexcept {
  switch (s) {
    case RequestState::pending:
      return "pending";
    case RequestState::approved:
      return "approved";
    case RequestState::denied:
      return "denied";
    case RequestState::expired:
      return "expired";
    case RequestState::cancelled:
      return "cancelled";
  }
  return "pending";
}

std::optional<RequestState> parseRequestState(std::string_view name) noexcept {
  for (auto s : {RequestState::pending, RequestState::approved, RequestState::denied,
                 RequestState::expired, RequestState::cancelled}) {
    if (requestStateName(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view grantStateName(GrantState s) noexcept {
  switch (s) {
    case GrantState::active:
      return "active";
    case GrantState::suspended:
      return "suspended";
    case GrantState::revoked:
      return "revoked";
  }
  return "revoked";
}

std::optional<GrantState> parseGrantState(std::string_view name) noexcept {
  for (auto s : {GrantState::active, GrantState::suspended, GrantState::revoked}) {
    if (grantStateName(s) == name) return s;
  }
  return std::nullopt;
}

bool Grant::covers(Protocol p) const {
  return std::find(protocols.begin(), protocols.end(), p) != protocols.end();
}

Result<AccessRequest> openRequest(const User& requester, const VendorOrg* vendor,
                                  const Asset& asset, const RequestDraft& draft,
                                  const AccessLimits& limits, const std::string& ruleId,
                                  TimePoint now) {
  if (auto why = userInactiveReason(requester, vendor, now)) {
    return fail(ErrorCode::permission_denied, *why);
  }
  if (asset.disabled) {
    return fail(ErrorCode::permission_denied, "asset " + asset.name + " is disabled");
  }
  if (draft.protocols.empty()) {
    return fail(ErrorCode::invalid_argument, "name at least one protocol");
  }
  std::set<Protocol> seen;
  for (Protocol p : draft.protocols) {
    if (!seen.insert(p).second) {
      return fail(ErrorCode::invalid_argument,
                  "protocol " + std::string(protocolName(p)) + " is named twice");
    }
    if (asset.endpointFor(p) == nullptr) {
      return fail(ErrorCode::invalid_argument,
                  "asset " + asset.name + " has no " + std::string(protocolName(p)) + " endpoint");
    }
  }
  if (draft.windowStart + kWindowStartTolerance < now) {
    return fail(ErrorCode::invalid_argument,
                "the window starts in the past (" + formatTime(draft.windowStart) + ")");
  }
  if (draft.windowStart > now + kMaxLeadTime) {
    return fail(ErrorCode::invalid_argument,
                "the window starts more than " + formatDuration(kMaxLeadTime) + " ahead");
  }
  if (draft.duration <= Seconds{0}) {
    return fail(ErrorCode::invalid_argument, "the duration must be positive");
  }
  if (draft.duration > limits.maxDuration) {
    return fail(ErrorCode::invalid_argument,
                "the duration " + formatDuration(draft.duration) + " exceeds the " +
                    formatDuration(limits.maxDuration) + " that policy " + ruleId + " allows");
  }
  if (draft.reason.empty()) return fail(ErrorCode::invalid_argument, "give a reason");
  if (draft.reason.size() > kMaxReasonLength || hasControlChars(draft.reason)) {
    return fail(ErrorCode::invalid_argument, "the reason is too long or has control characters");
  }
  if (draft.ticket.size() > kMaxTicketLength || hasControlChars(draft.ticket)) {
    return fail(ErrorCode::invalid_argument, "the ticket is too long or has control characters");
  }
  if (asset.ownerGroup.empty()) {
    return fail(ErrorCode::conflict, "asset " + asset.name + " has no owner group to approve");
  }
  AccessRequest r;
  r.requesterId = requester.id;
  r.requesterName = requester.username;
  r.assetId = asset.id;
  r.assetName = asset.name;
  r.ownerGroup = asset.ownerGroup;
  r.protocols = draft.protocols;
  r.windowStart = std::max(draft.windowStart, now);
  r.duration = draft.duration - (r.windowStart - draft.windowStart);
  r.reason = draft.reason;
  r.ticket = draft.ticket;
  r.state = RequestState::pending;
  r.createdAt = now;
  r.policyRule = ruleId;
  r.limits = limits;
  return r;
}

bool approvalsSatisfied(const ApprovalRequirement& requirement, const std::string& ownerGroup,
                        const std::vector<Vote>& votes) {
  // Slots: one per required approval, labelled with the group it must come from. Approvers are
  // matched to slots so that each approver fills at most one (distinct approvers, N-of-M).
  std::vector<std::string> slots;
  for (const auto& rule : requirement.rules) {
    for (int i = 0; i < rule.count; ++i)
      slots.push_back(rule.group.empty() ? ownerGroup : rule.group);
  }
  std::vector<const Vote*> approvals;
  for (const auto& v : votes) {
    if (v.approve) approvals.push_back(&v);
  }
  if (approvals.size() < slots.size()) return false;
  // Bipartite matching by augmenting paths; sizes are tiny (a handful of approvers).
  std::vector<int> slotOwner(slots.size(), -1);
  std::function<bool(std::size_t, std::vector<bool>&)> assign = [&](std::size_t a,
                                                                    std::vector<bool>& seen) {
    for (std::size_t s = 0; s < slots.size(); ++s) {
      if (seen[s] || !approvals[a]->approverGroups.contains(slots[s])) continue;
      seen[s] = true;
      if (slotOwner[s] < 0 || assign(static_cast<std::size_t>(slotOwner[s]), seen)) {
        slotOwner[s] = static_cast<int>(a);
        return true;
      }
    }
    return false;
  };
  for (std::size_t a = 0; a < approvals.size(); ++a) {
    std::vector<bool> seen(slots.size(), false);
    assign(a, seen);
  }
  return std::all_of(slotOwner.begin(), slotOwner.end(), [](int o) { return o >= 0; });
}

Result<VoteOutcome> castVote(const AccessRequest& request, const User& approver, bool approve,
                             const std::string& comment, TimePoint now) {
  if (request.state != RequestState::pending) {
    return fail(ErrorCode::conflict, describe(request) + " is " +
                                         std::string(requestStateName(request.state)) +
                                         ", not pending");
  }
  if (now >= request.windowEnd()) {
    return fail(ErrorCode::conflict, describe(request) + " has expired: its window ended at " +
                                         formatTime(request.windowEnd()));
  }
  if (approver.id == request.requesterId) {
    return fail(ErrorCode::permission_denied, "no one may approve or deny their own request");
  }
  if (auto why = userInactiveReason(approver, nullptr, now)) {
    return fail(ErrorCode::permission_denied, *why);
  }
  if (!approver.hasRole(Role::engineer)) {
    return fail(ErrorCode::permission_denied, approver.username + " is not an engineer");
  }
  const auto groups = votingGroups(request);
  const bool related = std::any_of(groups.begin(), groups.end(),
                                   [&](const std::string& g) { return approver.inGroup(g); });
  if (!related) {
    std::string names;
    for (const auto& g : groups) names += (names.empty() ? "" : ", ") + g;
    return fail(ErrorCode::permission_denied, approver.username +
                                                  " is not in a group that approves " +
                                                  describe(request) + " (" + names + ")");
  }
  for (const auto& v : request.votes) {
    if (v.approverId == approver.id) {
      return fail(ErrorCode::conflict,
                  approver.username + " has already decided on " + describe(request));
    }
  }
  if (!approve && comment.empty()) {
    return fail(ErrorCode::invalid_argument, "a denial needs a comment for the vendor");
  }
  if (comment.size() > kMaxReasonLength || hasControlChars(comment)) {
    return fail(ErrorCode::invalid_argument, "the comment is too long or has control characters");
  }

  VoteOutcome out{request, std::nullopt};
  out.request.votes.push_back(
      Vote{approver.id, approver.username, approver.groups, approve, comment, now});
  if (!approve) {
    out.request.state = RequestState::denied;  // the first deny ends it
    out.request.decidedAt = now;
    return out;
  }
  if (approvalsSatisfied(request.limits.approvals, request.ownerGroup, out.request.votes)) {
    out.request.state = RequestState::approved;
    out.request.decidedAt = now;
    Grant g;
    g.requestId = request.id;
    g.userId = request.requesterId;
    g.assetId = request.assetId;
    g.assetName = request.assetName;
    g.protocols = request.protocols;
    g.notBefore = request.windowStart;
    g.notAfter = request.windowEnd();
    g.state = GrantState::active;
    g.limits = request.limits;
    out.grant = std::move(g);
  }
  return out;
}

Result<AccessRequest> cancelRequest(const AccessRequest& request, const User& actor,
                                    TimePoint now) {
  if (actor.id != request.requesterId && !actor.hasRole(Role::admin)) {
    return fail(ErrorCode::permission_denied, "only the requester or an admin may cancel");
  }
  if (request.state != RequestState::pending) {
    return fail(ErrorCode::conflict, describe(request) + " is " +
                                         std::string(requestStateName(request.state)) +
                                         ", not pending");
  }
  AccessRequest r = request;
  r.state = RequestState::cancelled;
  r.decidedAt = now;
  return r;
}

std::optional<AccessRequest> expireIfUndecided(const AccessRequest& request, TimePoint now) {
  if (request.state != RequestState::pending || now < request.windowEnd()) return std::nullopt;
  AccessRequest r = request;
  r.state = RequestState::expired;
  r.decidedAt = now;
  return r;
}

namespace {
bool mayManageGrant(const User& actor, const std::string& ownerGroup) {
  return actor.hasRole(Role::admin) || (actor.hasRole(Role::engineer) && actor.inGroup(ownerGroup));
}
}  // namespace

Result<Grant> revokeGrant(const Grant& grant, const User& actor, const std::string& ownerGroup,
                          const std::string& reason) {
  if (!mayManageGrant(actor, ownerGroup)) {
    return fail(ErrorCode::permission_denied,
                actor.username + " may not revoke grants on " + grant.assetName);
  }
  if (reason.empty()) return fail(ErrorCode::invalid_argument, "a revocation needs a reason");
  if (grant.state == GrantState::revoked) {
    return fail(ErrorCode::conflict, "grant " + std::to_string(grant.id) + " is already revoked");
  }
  Grant g = grant;
  g.state = GrantState::revoked;
  g.stateReason = reason;
  return g;
}

Result<Grant> suspendGrant(const Grant& grant, const std::string& reason) {
  if (grant.state != GrantState::active) {
    return fail(ErrorCode::conflict, "grant " + std::to_string(grant.id) + " is " +
                                         std::string(grantStateName(grant.state)));
  }
  Grant g = grant;
  g.state = GrantState::suspended;
  g.stateReason = reason;
  return g;
}

Result<Grant> reinstateGrant(const Grant& grant, const User& actor, const std::string& ownerGroup,
                             const std::string& comment) {
  if (!actor.hasRole(Role::engineer) || !actor.inGroup(ownerGroup)) {
    return fail(ErrorCode::permission_denied,
                actor.username + " is not an engineer of " + ownerGroup);
  }
  if (actor.id == grant.userId) {
    return fail(ErrorCode::permission_denied, "no one may reinstate their own grant");
  }
  if (grant.state != GrantState::suspended) {
    return fail(ErrorCode::conflict, "grant " + std::to_string(grant.id) + " is " +
                                         std::string(grantStateName(grant.state)) +
                                         ", not suspended");
  }
  Grant g = grant;
  g.state = GrantState::active;
  g.stateReason = comment;
  return g;
}

AccessCheck checkAccess(const User& user, const VendorOrg* vendor, const Asset& asset,
                        const std::vector<Grant>& grants, Protocol p, TimePoint now) {
  if (auto why = userInactiveReason(user, vendor, now)) return AccessRefused{*why};
  if (asset.disabled) return AccessRefused{"asset " + asset.name + " is disabled"};
  const AccessGranted* best = nullptr;
  std::string refusal = "no grant for " + std::string(protocolName(p)) + " to " + asset.name;
  int refusalRank = 0;  // keep the most specific reason
  auto refuse = [&](int rank, std::string why) {
    if (rank > refusalRank) {
      refusalRank = rank;
      refusal = std::move(why);
    }
  };
  std::vector<AccessGranted> usable;
  for (const Grant& g : grants) {
    if (g.userId != user.id || g.assetId != asset.id) continue;
    if (!g.covers(p)) {
      refuse(1,
             "the grant for " + asset.name + " does not include " + std::string(protocolName(p)));
      continue;
    }
    if (g.state == GrantState::revoked) {
      refuse(2, "the grant for " + asset.name + " was revoked: " + g.stateReason);
      continue;
    }
    if (g.state == GrantState::suspended) {
      refuse(3, "the grant for " + asset.name + " is suspended until an engineer re-approves it");
      continue;
    }
    if (now < g.notBefore) {
      refuse(4, "the window for " + asset.name + " opens at " + formatTime(g.notBefore));
      continue;
    }
    if (now >= g.notAfter) {
      refuse(2, "the window for " + asset.name + " ended at " + formatTime(g.notAfter));
      continue;
    }
    usable.push_back(AccessGranted{g.id, g.notAfter, g.limits});
  }
  for (const auto& u : usable) {
    if (best == nullptr || u.until > best->until) best = &u;
  }
  if (best != nullptr) return *best;
  return AccessRefused{refusal};
}

}  // namespace conduit::core
