#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conduit/access/actor.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/core/workflow.hpp"
#include "conduit/policies/decision.hpp"
#include "conduit/policies/policy_set.hpp"
#include "conduit/store/access_repository.hpp"

namespace conduit::store {
class Database;
}

namespace conduit::access {

/// The result of asking for access now: the core check plus the policy decision at connect.
struct ConnectDecision {
  core::AccessCheck check;
  std::optional<policies::Decision> policy;  // set when a grant was found
};

/// Requests, approvals, grants and the access check, each audited in the same transaction as
/// the change it records. Refused operations change nothing and are audited as failures where
/// they are security-relevant (self-approval, denied policy, refused access).
class AccessService {
 public:
  AccessService(store::Database& db, const policies::PolicySet& policies, const core::Clock& clock)
      : db_(db), policies_(policies), clock_(clock) {}

  /// A vendor asks for a window to an asset. Policy decides per protocol whether it may be
  /// asked and with which limits; then core validates.
  core::Result<core::AccessRequest> requestAccess(const Actor& actor, const std::string& assetName,
                                                  const core::RequestDraft& draft);

  /// An engineer approves or denies. Returns the request after the vote and any grant made.
  core::Result<core::VoteOutcome> vote(const Actor& actor, std::int64_t requestId, bool approve,
                                       const std::string& comment);

  core::Result<core::AccessRequest> cancel(const Actor& actor, std::int64_t requestId);

  core::Result<core::Grant> revoke(const Actor& actor, std::int64_t grantId,
                                   const std::string& reason);
  /// Called when an engineer kills a live session: the grant is suspended (CIP-005 R3.2).
  core::Result<core::Grant> suspend(const Actor& actor, std::int64_t grantId,
                                    const std::string& reason);
  core::Result<core::Grant> reinstate(const Actor& actor, std::int64_t grantId,
                                      const std::string& comment);

  /// Marks pending requests whose window has ended as expired; returns how many.
  core::Result<int> expireStale();

  /// "May this user open protocol P to asset A now, and until when?" Audits refusals of an
  /// attempt; `auditRefusal` false for the once-a-second re-check of a running session, whose
  /// end is audited as session.ended with the reason instead.
  core::Result<ConnectDecision> checkConnect(const Actor& actor, const std::string& username,
                                             const std::string& assetName, core::Protocol p,
                                             bool mfaSatisfied, bool auditRefusal = true);

  /// The policy's reasoning for a request, per protocol, as `conduit policy explain` prints it.
  core::Result<std::string> explainRequest(std::int64_t requestId);

  core::Result<std::vector<core::AccessRequest>> listRequests(const store::RequestFilter& f);
  core::Result<std::vector<core::Grant>> listGrants(std::optional<std::int64_t> userId);

 private:
  store::Database& db_;
  const policies::PolicySet& policies_;
  const core::Clock& clock_;
};

}  // namespace conduit::access
