// The caller's own SSH keys and API tokens (docs/api.md).
#include "api_state.hpp"
#include "conduit/store/access_repository.hpp"

namespace conduit::portal {

void addAccountRoutes(Router& router, ApiState& s) {
  router.add("GET", "/api/v1/me/ssh-keys", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    auto keys = store::AccessRepository(s.db).sshKeys(caller->user.id);
    if (!keys) return errorResponse(keys.error());
    boost::json::array out;
    for (const auto& k : *keys) out.push_back(boost::json::object{{"key", k}});
    return jsonResponse(200, out);
  });

  router.add("POST", "/api/v1/me/ssh-keys", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    auto body = jsonBody(r);
    if (!body) return errorResponse(body.error());
    auto key = stringField(*body, "key", 16 * 1024);
    if (!key) return errorResponse(key.error());
    if (auto st = s.admin.addSshKey(caller->actor, caller->user.username, *key); !st) {
      return errorResponse(st.error());
    }
    return jsonResponse(201, boost::json::object{{"key", *key}});
  });

  router.add("GET", "/api/v1/tokens", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    auto tokens = s.tokens.list(caller->user.id);
    if (!tokens) return errorResponse(tokens.error());
    boost::json::array out;
    for (const auto& t : *tokens) {
      boost::json::array roles;
      for (auto role : t.roles) roles.emplace_back(core::roleName(role));
      boost::json::object o{{"id", t.id},
                            {"name", t.name},
                            {"roles", std::move(roles)},
                            {"created_at", isoTime(t.createdAt)}};
      o["last_used_at"] =
          t.lastUsedAt ? boost::json::value(isoTime(*t.lastUsedAt)) : boost::json::value(nullptr);
      out.push_back(std::move(o));
    }
    return jsonResponse(200, out);
  });

  router.add("POST", "/api/v1/tokens", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    // A token cannot mint tokens: a leaked token must not be able to outlive its revocation.
    if (caller->viaToken)
      return jsonError(403, "forbidden", "create tokens from a signed-in session");
    auto body = jsonBody(r);
    if (!body) return errorResponse(body.error());
    auto name = stringField(*body, "name", 100);
    if (!name) return errorResponse(name.error());
    std::set<core::Role> roles;
    const auto* list = body->if_contains("roles");
    if (!list || !list->is_array()) return jsonError(400, "bad_request", "roles must be a list");
    for (const auto& v : list->as_array()) {
      auto role = v.is_string() ? core::parseRole(std::string(v.as_string())) : std::nullopt;
      if (!role) return jsonError(400, "bad_request", "roles must be role names");
      roles.insert(*role);
    }
    auto made = s.tokens.create(caller->actor, caller->user, *name, roles);
    if (!made) return errorResponse(made.error());
    return jsonResponse(201, boost::json::object{{"id", made->first}, {"token", made->second}});
  });

  router.add("DELETE", "/api/v1/tokens/{id}", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    auto id = idParam(r);
    if (!id) return errorResponse(id.error());
    if (auto st = s.tokens.revoke(caller->actor, caller->user, *id); !st) {
      return errorResponse(st.error());
    }
    return HttpResponse{204, "application/json", "", {}, {}};
  });
}

}  // namespace conduit::portal
