#include "access_views.hpp"

#include "api_state.hpp"

namespace conduit::portal {

bool maySee(const core::User& caller, const std::optional<std::int64_t>& ownerVendor,
            const std::string& ownerGroup) {
  if (caller.hasRole(core::Role::auditor) || caller.hasRole(core::Role::admin)) return true;
  if (caller.hasRole(core::Role::engineer) && caller.inGroup(ownerGroup)) return true;
  return caller.hasRole(core::Role::vendor) && caller.vendorId && ownerVendor &&
         *caller.vendorId == *ownerVendor;
}

namespace {

boost::json::array protocolsJson(const std::vector<core::Protocol>& ps) {
  boost::json::array out;
  for (auto p : ps) out.emplace_back(core::protocolName(p));
  return out;
}

}  // namespace

boost::json::value assetJson(const core::Asset& a) {
  std::vector<core::Protocol> ps;
  for (const auto& e : a.endpoints) ps.push_back(e.protocol);
  return boost::json::object{{"name", a.name},
                             {"site", a.site},
                             {"zone", a.zone},
                             {"criticality", core::criticalityName(a.criticality)},
                             {"owner_group", a.ownerGroup},
                             {"protocols", protocolsJson(ps)}};
}

boost::json::value requestJson(const core::AccessRequest& r) {
  boost::json::array votes;
  for (const auto& v : r.votes) {
    votes.push_back(boost::json::object{{"approver", v.approverName},
                                        {"approve", v.approve},
                                        {"comment", v.comment},
                                        {"at", isoTime(v.at)}});
  }
  boost::json::object o{{"id", r.id},
                        {"requester", r.requesterName},
                        {"asset", r.assetName},
                        {"owner_group", r.ownerGroup},
                        {"protocols", protocolsJson(r.protocols)},
                        {"window_start", isoTime(r.windowStart)},
                        {"window_end", isoTime(r.windowEnd())},
                        {"reason", r.reason},
                        {"ticket", r.ticket},
                        {"state", core::requestStateName(r.state)},
                        {"created_at", isoTime(r.createdAt)},
                        {"policy_rule", r.policyRule},
                        {"approvals_required", r.limits.approvals.total()},
                        {"votes", std::move(votes)}};
  if (r.decidedAt) {
    o["decided_at"] = isoTime(*r.decidedAt);
  } else {
    o["decided_at"] = nullptr;
  }
  return o;
}

boost::json::value grantJson(const core::Grant& g, const std::string& user, core::TimePoint now,
                             const std::string& sshCommand) {
  std::int64_t left = 0;
  if (g.state == core::GrantState::active && now < g.notAfter) {
    left = (g.notAfter - std::max(now, g.notBefore)).count();
    if (now < g.notBefore) left = (g.notAfter - g.notBefore).count();
  }
  boost::json::object o{{"id", g.id},
                        {"request_id", g.requestId},
                        {"user", user},
                        {"asset", g.assetName},
                        {"protocols", protocolsJson(g.protocols)},
                        {"not_before", isoTime(g.notBefore)},
                        {"not_after", isoTime(g.notAfter)},
                        {"state", core::grantStateName(g.state)},
                        {"state_reason", g.stateReason},
                        {"seconds_left", left}};
  if (g.covers(core::Protocol::ssh) && !sshCommand.empty()) {
    o["ssh_command"] = sshCommand;
  } else {
    o["ssh_command"] = nullptr;
  }
  return o;
}

}  // namespace conduit::portal
