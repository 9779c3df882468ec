#pragma once

// Shared by the administration route files (docs/api.md "Administration"). Not a public header.

#include <functional>
#include <optional>
#include <set>
#include <string>

#include "api_state.hpp"

namespace conduit::portal {

/// The caller if signed in with the admin role (a token needs admin in its scope);
/// unauthenticated or permission_denied otherwise.
core::Result<Caller> requireAdmin(ApiState& s, const HttpRequest& r);

/// The "{name}" path parameter of a vendor, user, group or asset. Names are 1-64 letters,
/// digits, '-', '_' or '.' (AdminService's rule), so anything else is an unknown name: not_found.
core::Result<std::string> nameParam(const HttpRequest& r, const std::string& what);

/// A list of distinct strings (each 1..maxLength characters, at most maxItems of them);
/// invalid_argument for anything else. Missing or null is an empty list unless required.
core::Result<std::set<std::string>> stringSet(const boost::json::object& o, std::string_view key,
                                              std::size_t maxItems, std::size_t maxLength,
                                              bool required = false);

/// An optional RFC 3339 UTC time field: missing or null is nullopt.
core::Result<std::optional<core::TimePoint>> timeField(const boost::json::object& o,
                                                       std::string_view key);

using AdminHandler = std::function<HttpResponse(const Caller&, const HttpRequest&)>;

/// One admin route: the API's lock, then requireAdmin, then `f` with the caller.
Handler adminOnly(ApiState& s, AdminHandler f);

/// An RFC 3339 time, or JSON null.
boost::json::value timeOrNull(const std::optional<core::TimePoint>& t);

/// Vendors, users and groups (admin_routes.cpp); assets, credentials and policies
/// (admin_inventory_routes.cpp).
void addAdminInventoryRoutes(Router& router, ApiState& s);

}  // namespace conduit::portal
