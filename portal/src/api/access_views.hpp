#pragma once

// Who may see which workflow object, and their JSON shapes (docs/api.md). Pure functions of
// data, so the authorisation rules are tested without HTTP.

#include <boost/json.hpp>
#include <optional>

#include "conduit/core/access_request.hpp"
#include "conduit/core/asset.hpp"
#include "conduit/core/identity.hpp"

namespace conduit::portal {

/// A vendor sees their own organisation's objects; an engineer those of assets their groups
/// own; auditors and admins see everything. `ownerVendor` is the vendor of the object's user
/// (nullopt for staff), `ownerGroup` the asset's owner group.
bool maySee(const core::User& caller, const std::optional<std::int64_t>& ownerVendor,
            const std::string& ownerGroup);

boost::json::value assetJson(const core::Asset& a);
boost::json::value requestJson(const core::AccessRequest& r);
/// `sshCommand` is filled in for grants covering ssh.
boost::json::value grantJson(const core::Grant& g, const std::string& user, core::TimePoint now,
                             const std::string& sshCommand);

}  // namespace conduit::portal
