#include "conduit/access/access_service.hpp"

#include "conduit/access/audit_details.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"

namespace conduit::access {

using core::ErrorCode;
using core::fail;

namespace {

std::string protocolList(const std::vector<core::Protocol>& ps) {
  std::string out;
  for (auto p : ps) out += (out.empty() ? "" : ",") + std::string(core::protocolName(p));
  return out;
}

core::AuditDraft draft(const Actor& a, std::string category, std::string type, std::string target,
                       core::AuditOutcome outcome, std::string details) {
  return core::AuditDraft{a.username,        a.source, std::move(category), std::move(type),
                          std::move(target), outcome,  std::move(details)};
}

/// Loads the vendor of a user, if it has one.
core::Result<std::optional<core::VendorOrg>> vendorOf(store::AccessRepository& repo,
                                                      const core::User& u) {
  if (!u.vendorId) return std::optional<core::VendorOrg>{};
  auto v = repo.vendor(*u.vendorId);
  if (!v) return v.error();
  return std::optional<core::VendorOrg>{std::move(*v)};
}

}  // namespace

namespace {

/// A transaction that can be rolled back early with reset().
core::Result<std::optional<store::Transaction>> beginTransaction(store::Database& db) {
  auto tx = store::Transaction::begin(db);
  if (!tx) return tx.error();
  return std::optional<store::Transaction>(std::move(*tx));
}

/// Writes a failure event in its own transaction. A refused operation changed nothing; if even
/// this event cannot be written the caller still gets the refusal, so nothing happens unlogged.
void recordFailure(store::Database& db, const core::Clock& clock, const core::AuditDraft& d) {
  auto tx = store::Transaction::begin(db);
  if (!tx) return;
  store::AuditLog log(db);
  if (log.append(d, clock.now())) (void)tx->commit();
}

}  // namespace

core::Result<core::AccessRequest> AccessService::requestAccess(const Actor& actor,
                                                               const std::string& assetName,
                                                               const core::RequestDraft& d) {
  store::AccessRepository repo(db_);
  const core::TimePoint now = clock_.now();
  auto refuse = [&](const core::Error& e) -> core::Error {
    recordFailure(
        db_, clock_,
        draft(actor, "access", "request.refused", "asset:" + assetName, core::AuditOutcome::failure,
              auditDetails({{"reason", e.message}, {"protocols", protocolList(d.protocols)}})));
    return e;
  };
  auto user = repo.userByName(actor.username);
  if (!user) return refuse(user.error());
  auto vendor = vendorOf(repo, *user);
  if (!vendor) return vendor.error();
  auto asset = repo.assetByName(assetName);
  if (!asset) return refuse(asset.error());
  if (d.protocols.empty())
    return refuse(fail(ErrorCode::invalid_argument, "name at least one protocol"));

  // Policy decides per protocol; every protocol must be allowed, and the request carries the
  // limits of the first protocol's rule (they are re-checked per protocol at connect).
  std::optional<policies::Allow> allowed;
  for (core::Protocol p : d.protocols) {
    policies::PolicyContext ctx{*user, *asset, p, d.windowStart, policies::Action::request, false};
    const policies::Decision decision = policies_.decide(ctx);
    if (const auto* deny = std::get_if<policies::Deny>(&decision)) {
      return refuse(fail(ErrorCode::permission_denied, "policy " + deny->ruleId + " denies " +
                                                           std::string(core::protocolName(p)) +
                                                           " to " + asset->name + ": " +
                                                           deny->reason));
    }
    if (const auto* more = std::get_if<policies::NeedMore>(&decision)) {
      return refuse(
          fail(ErrorCode::permission_denied, "policy " + more->ruleId + " needs " + more->what));
    }
    if (!allowed) allowed = std::get<policies::Allow>(decision);
  }

  auto opened = core::openRequest(*user, vendor->has_value() ? &**vendor : nullptr, *asset, d,
                                  allowed->limits, allowed->ruleId, now);
  if (!opened) return refuse(opened.error());

  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  auto id = repo.insertRequest(*opened);
  if (!id) return id.error();
  opened->id = *id;
  store::AuditLog log(db_);
  auto event = log.append(
      draft(actor, "access", "request.created", "request:" + std::to_string(*id),
            core::AuditOutcome::success,
            auditDetails({{"asset", asset->name},
                          {"protocols", protocolList(opened->protocols)},
                          {"window_start", core::formatTime(opened->windowStart)},
                          {"duration_s", std::int64_t{opened->duration.count()}},
                          {"reason", opened->reason},
                          {"ticket", opened->ticket},
                          {"policy_rule", opened->policyRule},
                          {"approvals_required", std::int64_t{opened->limits.approvals.total()}}})),
      now);
  if (!event) return event.error();
  if (auto st = tx->commit(); !st) return st.error();
  return std::move(*opened);
}

core::Result<core::VoteOutcome> AccessService::vote(const Actor& actor, std::int64_t requestId,
                                                    bool approve, const std::string& comment) {
  store::AccessRepository repo(db_);
  const core::TimePoint now = clock_.now();
  const std::string target = "request:" + std::to_string(requestId);
  const char* type = approve ? "request.approve" : "request.deny";
  auto refuse = [&](const core::Error& e) -> core::Error {
    recordFailure(db_, clock_,
                  draft(actor, "access", std::string(type) + ".refused", target,
                        core::AuditOutcome::failure, auditDetails({{"reason", e.message}})));
    return e;
  };
  auto approver = repo.userByName(actor.username);
  if (!approver) return refuse(approver.error());
  auto tx = beginTransaction(db_);
  if (!tx) return tx.error();
  auto request = repo.request(requestId);
  if (!request) {
    tx->reset();  // roll back before auditing the refusal in a transaction of its own
    return refuse(request.error());
  }
  auto outcome = core::castVote(*request, *approver, approve, comment, now);
  if (!outcome) {
    tx->reset();
    return refuse(outcome.error());
  }
  if (auto st = repo.updateRequest(outcome->request); !st) return st.error();
  store::AuditLog log(db_);
  auto voted = log.append(
      draft(actor, "access", approve ? "request.approved" : "request.denied", target,
            core::AuditOutcome::success,
            auditDetails({{"comment", comment},
                          {"state", std::string(core::requestStateName(outcome->request.state))}})),
      now);
  if (!voted) return voted.error();
  if (outcome->grant) {
    auto gid = repo.insertGrant(*outcome->grant);
    if (!gid) return gid.error();
    outcome->grant->id = *gid;
    auto granted =
        log.append(draft(actor, "access", "grant.created", "grant:" + std::to_string(*gid),
                         core::AuditOutcome::success,
                         auditDetails({{"request", requestId},
                                       {"user", outcome->request.requesterName},
                                       {"asset", outcome->request.assetName},
                                       {"protocols", protocolList(outcome->grant->protocols)},
                                       {"not_before", core::formatTime(outcome->grant->notBefore)},
                                       {"not_after", core::formatTime(outcome->grant->notAfter)}})),
                   now);
    if (!granted) return granted.error();
  }
  if (auto st = (*tx)->commit(); !st) return st.error();
  return std::move(*outcome);
}

core::Result<core::AccessRequest> AccessService::cancel(const Actor& actor,
                                                        std::int64_t requestId) {
  store::AccessRepository repo(db_);
  auto user = repo.userByName(actor.username);
  if (!user) return user.error();
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  auto request = repo.request(requestId);
  if (!request) return request.error();
  auto cancelled = core::cancelRequest(*request, *user, clock_.now());
  if (!cancelled) return cancelled.error();
  if (auto st = repo.updateRequest(*cancelled); !st) return st.error();
  store::AuditLog log(db_);
  if (auto e = log.append(
          draft(actor, "access", "request.cancelled", "request:" + std::to_string(requestId),
                core::AuditOutcome::success, "{}"),
          clock_.now());
      !e) {
    return e.error();
  }
  if (auto st = tx->commit(); !st) return st.error();
  return std::move(*cancelled);
}

namespace {

/// Shared body of revoke/suspend/reinstate: load, decide with `change`, store, audit.
template <typename Change>
core::Result<core::Grant> changeGrant(store::Database& db, const core::Clock& clock,
                                      const Actor& actor, std::int64_t grantId,
                                      const std::string& type, const std::string& text,
                                      Change change) {
  store::AccessRepository repo(db);
  const std::string target = "grant:" + std::to_string(grantId);
  auto refuse = [&](const core::Error& e) -> core::Error {
    recordFailure(db, clock,
                  draft(actor, "access", type + ".refused", target, core::AuditOutcome::failure,
                        auditDetails({{"reason", e.message}})));
    return e;
  };
  auto user = repo.userByName(actor.username);
  if (!user) return refuse(user.error());
  auto tx = beginTransaction(db);
  if (!tx) return tx.error();
  auto grant = repo.grant(grantId);
  if (!grant) {
    tx->reset();
    return refuse(grant.error());
  }
  auto asset = repo.asset(grant->assetId);
  if (!asset) return asset.error();
  auto changed = change(*grant, *user, asset->ownerGroup);
  if (!changed) {
    tx->reset();
    return refuse(changed.error());
  }
  if (auto st = repo.updateGrantState(*changed); !st) return st.error();
  store::AuditLog log(db);
  if (auto e = log.append(
          draft(actor, "access", type, target, core::AuditOutcome::success,
                auditDetails({{"asset", asset->name},
                              {"state", std::string(core::grantStateName(changed->state))},
                              {"reason", text}})),
          clock.now());
      !e) {
    return e.error();
  }
  if (auto st = (*tx)->commit(); !st) return st.error();
  return std::move(*changed);
}

}  // namespace

core::Result<core::Grant> AccessService::revoke(const Actor& actor, std::int64_t grantId,
                                                const std::string& reason) {
  return changeGrant(db_, clock_, actor, grantId, "grant.revoked", reason,
                     [&](const core::Grant& g, const core::User& u, const std::string& owner) {
                       return core::revokeGrant(g, u, owner, reason);
                     });
}

core::Result<core::Grant> AccessService::suspend(const Actor& actor, std::int64_t grantId,
                                                 const std::string& reason) {
  return changeGrant(db_, clock_, actor, grantId, "grant.suspended", reason,
                     [&](const core::Grant& g, const core::User& u,
                         const std::string& owner) -> core::Result<core::Grant> {
                       if (!u.hasRole(core::Role::admin) &&
                           !(u.hasRole(core::Role::engineer) && u.inGroup(owner))) {
                         return fail(ErrorCode::permission_denied,
                                     u.username + " may not suspend grants on " + g.assetName);
                       }
                       return core::suspendGrant(g, reason);
                     });
}

core::Result<core::Grant> AccessService::reinstate(const Actor& actor, std::int64_t grantId,
                                                   const std::string& comment) {
  return changeGrant(db_, clock_, actor, grantId, "grant.reinstated", comment,
                     [&](const core::Grant& g, const core::User& u, const std::string& owner) {
                       return core::reinstateGrant(g, u, owner, comment);
                     });
}

core::Result<int> AccessService::expireStale() {
  store::AccessRepository repo(db_);
  const core::TimePoint now = clock_.now();
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  auto pending = repo.requests({core::RequestState::pending, {}, {}, {}});
  if (!pending) return pending.error();
  store::AuditLog log(db_);
  int n = 0;
  for (const auto& r : *pending) {
    auto expired = core::expireIfUndecided(r, now);
    if (!expired) continue;
    if (auto st = repo.updateRequest(*expired); !st) return st.error();
    if (auto e = log.append({"system", "system", "access", "request.expired",
                             "request:" + std::to_string(r.id), core::AuditOutcome::success,
                             auditDetails({{"window_end", core::formatTime(r.windowEnd())}})},
                            now);
        !e) {
      return e.error();
    }
    ++n;
  }
  if (auto st = tx->commit(); !st) return st.error();
  return n;
}

core::Result<ConnectDecision> AccessService::checkConnect(const Actor& actor,
                                                          const std::string& username,
                                                          const std::string& assetName,
                                                          core::Protocol p, bool mfaSatisfied,
                                                          bool auditRefusal) {
  store::AccessRepository repo(db_);
  const core::TimePoint now = clock_.now();
  const std::string target = "asset:" + assetName;
  auto refused = [&](const std::string& why) -> core::Result<ConnectDecision> {
    if (!auditRefusal) return ConnectDecision{core::AccessRefused{why}, std::nullopt};
    core::AuditDraft d =
        draft(actor, "access", "connect.refused", target, core::AuditOutcome::failure,
              auditDetails({{"user", username},
                            {"protocol", std::string(core::protocolName(p))},
                            {"reason", why}}));
    auto tx = store::Transaction::begin(db_);
    if (!tx) return tx.error();
    store::AuditLog log(db_);
    if (auto e = log.append(d, now); !e) return e.error();
    if (auto st = tx->commit(); !st) return st.error();
    return ConnectDecision{core::AccessRefused{why}, std::nullopt};
  };
  auto user = repo.userByName(username);
  if (!user) return refused("unknown user");
  auto vendor = vendorOf(repo, *user);
  if (!vendor) return vendor.error();
  auto asset = repo.assetByName(assetName);
  if (!asset) return refused("no such asset");
  auto grants = repo.grantsFor(user->id, asset->id);
  if (!grants) return grants.error();
  core::AccessCheck check =
      core::checkAccess(*user, vendor->has_value() ? &**vendor : nullptr, *asset, *grants, p, now);
  if (const auto* no = std::get_if<core::AccessRefused>(&check)) return refused(no->reason);
  // The grant stands; policy is asked again now (it may have changed since approval, and
  // schedules and MFA are judged at the moment of use).
  policies::PolicyContext ctx{*user, *asset, p, now, policies::Action::connect, mfaSatisfied};
  policies::Decision decision = policies_.decide(ctx);
  if (const auto* deny = std::get_if<policies::Deny>(&decision)) {
    return refused("policy " + deny->ruleId + ": " + deny->reason);
  }
  if (const auto* more = std::get_if<policies::NeedMore>(&decision)) {
    return ConnectDecision{core::AccessRefused{"policy " + more->ruleId + " needs " + more->what},
                           decision};
  }
  auto& granted = std::get<core::AccessGranted>(check);
  // The connect-time rule's limits apply, narrowed by the grant's window.
  granted.limits = std::get<policies::Allow>(decision).limits;
  return ConnectDecision{check, decision};
}

core::Result<std::vector<core::AccessRequest>> AccessService::listRequests(
    const store::RequestFilter& f) {
  store::AccessRepository repo(db_);
  return repo.requests(f);
}

core::Result<std::vector<core::Grant>> AccessService::listGrants(
    std::optional<std::int64_t> userId) {
  store::AccessRepository repo(db_);
  return repo.grants(userId);
}

}  // namespace conduit::access

namespace conduit::access {

core::Result<std::string> AccessService::explainRequest(std::int64_t requestId) {
  store::AccessRepository repo(db_);
  auto request = repo.request(requestId);
  if (!request) return request.error();
  auto user = repo.user(request->requesterId);
  if (!user) return user.error();
  auto asset = repo.asset(request->assetId);
  if (!asset) return asset.error();
  std::string text;
  for (core::Protocol p : request->protocols) {
    policies::PolicyContext ctx{*user, *asset, p, request->windowStart, policies::Action::request,
                                false};
    std::vector<policies::TraceLine> trace;
    const auto decision = policies_.explain(ctx, trace);
    text += std::string(core::protocolName(p)) + ":\n" +
            policies::formatExplanation(decision, trace) + "\n";
  }
  return text;
}

}  // namespace conduit::access
