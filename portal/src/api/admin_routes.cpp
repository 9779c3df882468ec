// Administration: vendors, users and engineer groups (docs/api.md "Administration"). Every change
// goes through AdminService, which audits it in the change's own transaction.
#include <spdlog/spdlog.h>

#include "admin_routes.hpp"
#include "conduit/core/password.hpp"
#include "conduit/store/access_repository.hpp"

namespace conduit::portal {

using core::ErrorCode;
using core::fail;

core::Result<Caller> requireAdmin(ApiState& s, const HttpRequest& r) {
  auto caller = authenticate(s, r);
  if (!caller) return caller.error();
  if (auto st = requireRole(*caller, {core::Role::admin}); !st) return st.error();
  return caller;
}

core::Result<std::string> nameParam(const HttpRequest& r, const std::string& what) {
  const std::string name = r.param("name");
  const bool valid =
      !name.empty() && name.size() <= 64 &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
          std::string::npos;
  if (!valid) return fail(ErrorCode::not_found, "no such " + what);
  return name;
}

core::Result<std::set<std::string>> stringSet(const boost::json::object& o, std::string_view key,
                                              std::size_t maxItems, std::size_t maxLength,
                                              bool required) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) {
    if (required) return fail(ErrorCode::invalid_argument, std::string(key) + " is required");
    return std::set<std::string>{};
  }
  const std::string bad = std::string(key) + " must be a list of at most " +
                          std::to_string(maxItems) + " names of 1 to " + std::to_string(maxLength) +
                          " characters";
  if (!v->is_array() || v->as_array().size() > maxItems) {
    return fail(ErrorCode::invalid_argument, bad);
  }
  std::set<std::string> out;
  for (const auto& item : v->as_array()) {
    if (!item.is_string() || item.as_string().empty() || item.as_string().size() > maxLength) {
      return fail(ErrorCode::invalid_argument, bad);
    }
    out.emplace(item.as_string());
  }
  return out;
}

core::Result<std::optional<core::TimePoint>> timeField(const boost::json::object& o,
                                                       std::string_view key) {
  auto text = stringField(o, key, 40, false);
  if (!text) return text.error();
  if (text->empty()) return std::optional<core::TimePoint>{};
  auto t = core::parseTime(*text);
  if (!t) {
    return fail(ErrorCode::invalid_argument,
                std::string(key) + " must be an RFC 3339 UTC time (2026-11-26T09:00:00Z) or null");
  }
  return std::optional<core::TimePoint>{*t};
}

Handler adminOnly(ApiState& s, AdminHandler f) {
  return [&s, f = std::move(f)](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = requireAdmin(s, r);
    if (!caller) return errorResponse(caller.error());
    return f(*caller, r);
  };
}

boost::json::value timeOrNull(const std::optional<core::TimePoint>& t) {
  return t ? boost::json::value(isoTime(*t)) : boost::json::value(nullptr);
}

namespace {

boost::json::value vendorJson(const core::VendorOrg& v) {
  return boost::json::object{{"name", v.name},
                             {"contact", v.contact},
                             {"contract_end", timeOrNull(v.contractEnd)},
                             {"disabled", v.disabled}};
}

/// A user as administrators see it: the public User plus state and TOTP enrolment.
core::Result<boost::json::value> adminUserJson(store::AccessRepository& repo, const core::User& u) {
  auto creds = repo.credentials(u.id);
  if (!creds) return creds.error();
  boost::json::object o = userJson(u).as_object();
  o["disabled"] = u.disabled;
  o["expires_at"] = timeOrNull(u.expiresAt);
  o["totp_enrolled"] = creds->totpSeedSealed || !creds->totpSeed.empty();
  return boost::json::value(std::move(o));
}

HttpResponse userResponse(ApiState& s, int status, const core::User& u) {
  store::AccessRepository repo(s.db);
  auto fresh = repo.user(u.id);  // with the vendor name and groups as stored
  if (!fresh) return errorResponse(fresh.error());
  auto json = adminUserJson(repo, *fresh);
  if (!json) return errorResponse(json.error());
  return jsonResponse(status, *json);
}

core::Result<access::NewUser> parseNewUser(const boost::json::object& body) {
  access::NewUser n;
  auto username = stringField(body, "username", 64);
  if (!username) return username.error();
  auto display = stringField(body, "display_name", 200, false);
  if (!display) return display.error();
  auto vendor = stringField(body, "vendor", 64, false);
  if (!vendor) return vendor.error();
  auto roles = stringSet(body, "roles", 4, 16, true);
  if (!roles) return roles.error();
  for (const auto& name : *roles) {
    auto role = core::parseRole(name);
    if (!role) return fail(ErrorCode::invalid_argument, "unknown role " + name);
    n.roles.insert(*role);
  }
  auto groups = stringSet(body, "groups", 32, 64);
  if (!groups) return groups.error();
  auto password = stringField(body, "password", core::kMaxPasswordLength);
  if (!password) return password.error();
  if (auto st = core::checkPasswordRules(*password); !st) return st.error();
  auto expires = timeField(body, "expires_at");
  if (!expires) return expires.error();
  if (n.roles.contains(core::Role::vendor) && vendor->empty()) {
    return fail(ErrorCode::invalid_argument, "a user with the role vendor needs a vendor");
  }
  if (!n.roles.contains(core::Role::vendor) && !vendor->empty()) {
    return fail(ErrorCode::invalid_argument, "only users with the role vendor belong to a vendor");
  }
  n.username = std::move(*username);
  n.displayName = display->empty() ? n.username : std::move(*display);
  n.vendor = std::move(*vendor);
  n.groups = std::move(*groups);
  n.password = std::move(*password);
  n.expiresAt = *expires;
  return n;
}

void addVendorRoutes(Router& router, ApiState& s) {
  router.add("GET", "/api/v1/admin/vendors", adminOnly(s, [&s](const Caller&, const HttpRequest&) {
               auto vendors = store::AccessRepository(s.db).vendors();
               if (!vendors) return errorResponse(vendors.error());
               boost::json::array out;
               for (const auto& v : *vendors) out.push_back(vendorJson(v));
               return jsonResponse(200, out);
             }));

  router.add("POST", "/api/v1/admin/vendors",
             adminOnly(s, [&s](const Caller& c, const HttpRequest& r) {
               auto body = jsonBody(r);
               if (!body) return errorResponse(body.error());
               auto name = stringField(*body, "name", 64);
               if (!name) return errorResponse(name.error());
               auto contact = stringField(*body, "contact", 200, false);
               if (!contact) return errorResponse(contact.error());
               auto end = timeField(*body, "contract_end");
               if (!end) return errorResponse(end.error());
               auto v = s.admin.addVendor(c.actor, {0, *name, *contact, *end, false});
               if (!v) return errorResponse(v.error());
               return jsonResponse(201, vendorJson(*v));
             }));

  for (const bool disable : {true, false}) {
    router.add("POST",
               std::string("/api/v1/admin/vendors/{name}/") + (disable ? "disable" : "enable"),
               adminOnly(s, [&s, disable](const Caller& c, const HttpRequest& r) {
                 auto name = nameParam(r, "vendor");
                 if (!name) return errorResponse(name.error());
                 auto v = s.admin.setVendorDisabled(c.actor, *name, disable);
                 if (!v) return errorResponse(v.error());
                 if (disable) {
                   // Their cookies would be refused at the next request anyway; end them now.
                   auto users = store::AccessRepository(s.db).usersOfVendor(v->id);
                   for (const auto& u : users ? *users : std::vector<core::User>{}) {
                     (void)s.sessions.endAllOf(u.id);
                   }
                 }
                 return jsonResponse(200, vendorJson(*v));
               }));
  }
}

void addUserRoutes(Router& router, ApiState& s) {
  router.add("GET", "/api/v1/admin/users", adminOnly(s, [&s](const Caller&, const HttpRequest&) {
               store::AccessRepository repo(s.db);
               auto users = repo.users();
               if (!users) return errorResponse(users.error());
               boost::json::array out;
               for (const auto& u : *users) {
                 auto json = adminUserJson(repo, u);
                 if (!json) return errorResponse(json.error());
                 out.push_back(std::move(*json));
               }
               return jsonResponse(200, out);
             }));

  // The password is hashed and never echoed, logged or put in the audit event.
  router.add("POST", "/api/v1/admin/users",
             adminOnly(s, [&s](const Caller& c, const HttpRequest& r) {
               auto body = jsonBody(r);
               if (!body) return errorResponse(body.error());
               auto n = parseNewUser(*body);
               if (!n) return errorResponse(n.error());
               auto u = s.admin.addUser(c.actor, *n);
               if (!u) return errorResponse(u.error());
               return userResponse(s, 201, *u);
             }));

  for (const bool disable : {true, false}) {
    router.add("POST",
               std::string("/api/v1/admin/users/{name}/") + (disable ? "disable" : "enable"),
               adminOnly(s, [&s, disable](const Caller& c, const HttpRequest& r) {
                 auto name = nameParam(r, "user");
                 if (!name) return errorResponse(name.error());
                 // An administrator locking themselves out leaves no one to undo it from the
                 // portal.
                 if (disable && *name == c.user.username) {
                   return jsonError(409, "conflict", "you cannot disable your own account");
                 }
                 auto u = s.admin.setUserDisabled(c.actor, *name, disable);  // revokes their grants
                 if (!u) return errorResponse(u.error());
                 if (disable) {
                   if (auto ended = s.sessions.endAllOf(u->id); !ended) {
                     return errorResponse(ended.error());
                   }
                 }
                 return userResponse(s, 200, *u);
               }));
  }

  router.add("POST", "/api/v1/admin/users/{name}/reset-totp",
             adminOnly(s, [&s](const Caller& c, const HttpRequest& r) {
               auto name = nameParam(r, "user");
               if (!name) return errorResponse(name.error());
               auto u = s.admin.resetTotp(c.actor, *name);
               if (!u) return errorResponse(u.error());
               // A session signed in with the old seed must not outlive it.
               if (auto ended = s.sessions.endAllOf(u->id); !ended) {
                 return errorResponse(ended.error());
               }
               spdlog::info("event=totp_reset user={} by={}", *name, c.user.username);
               return userResponse(s, 200, *u);
             }));
}

void addGroupRoutes(Router& router, ApiState& s) {
  router.add(
      "GET", "/api/v1/admin/groups", adminOnly(s, [&s](const Caller&, const HttpRequest&) {
        auto groups = store::AccessRepository(s.db).groups();
        if (!groups) return errorResponse(groups.error());
        boost::json::array out;
        for (const auto& g : *groups) {
          out.push_back(boost::json::object{{"name", g.name}, {"description", g.description}});
        }
        return jsonResponse(200, out);
      }));

  router.add("POST", "/api/v1/admin/groups",
             adminOnly(s, [&s](const Caller& c, const HttpRequest& r) {
               auto body = jsonBody(r);
               if (!body) return errorResponse(body.error());
               auto name = stringField(*body, "name", 64);
               if (!name) return errorResponse(name.error());
               auto description = stringField(*body, "description", 500, false);
               if (!description) return errorResponse(description.error());
               auto g = s.admin.addGroup(c.actor, {0, *name, *description});
               if (!g) return errorResponse(g.error());
               return jsonResponse(
                   201, boost::json::object{{"name", g->name}, {"description", g->description}});
             }));
}

}  // namespace

void addAdminRoutes(Router& router, ApiState& s) {
  addVendorRoutes(router, s);
  addUserRoutes(router, s);
  addGroupRoutes(router, s);
  addAdminInventoryRoutes(router, s);
}

}  // namespace conduit::portal
