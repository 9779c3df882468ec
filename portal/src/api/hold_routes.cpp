// Writes held for an engineer's approval (issue 8 item 4, IEC 62443 SR 2.1 RE4; docs/api.md
// "Held writes"). The board lives in the broker; these routes show it and carry decisions.
#include <boost/json.hpp>

#include "api_state.hpp"
#include "conduit/session/hold_board.hpp"
#include "conduit/store/access_repository.hpp"

namespace conduit::portal {

namespace {

boost::json::value holdJson(const session::HeldWrite& w) {
  boost::json::object o{
      {"id", w.id},
      {"session", w.context.sessionId},
      {"user", w.context.user},
      {"asset", w.context.asset},
      {"protocol", w.context.protocol},
      {"held_at", isoTime(std::chrono::time_point_cast<core::Seconds>(w.postedAt))}};
  // The inspector's own JSON (function, address, values, deadline); kept as an object.
  boost::system::error_code ec;
  auto details = boost::json::parse(w.details, ec);
  o["request"] = ec ? boost::json::value(w.details) : std::move(details);
  return o;
}

/// Who may see a hold: staff who oversee the asset (its owner group's engineers, admins and
/// auditors) and the vendor user whose tool sent the write.
bool maySeeHold(const Caller& c, const session::HeldWrite& w, const std::string& ownerGroup) {
  if (c.user.hasRole(core::Role::admin) || c.user.hasRole(core::Role::auditor)) return true;
  if (c.user.hasRole(core::Role::engineer) && c.user.inGroup(ownerGroup)) return true;
  return c.user.username == w.context.user;
}

HttpResponse decide(ApiState& s, const HttpRequest& r, bool approved) {
  std::lock_guard lock(s.mutex);
  auto caller = authenticate(s, r);
  if (!caller) return errorResponse(caller.error());
  // Engineers only, not admins: a write to a PLC is an operational decision, made by the
  // people responsible for the process (separation of duties).
  if (auto st = requireRole(*caller, {core::Role::engineer}); !st) return errorResponse(st.error());
  auto id = idParam(r);
  if (!id) return errorResponse(id.error());
  if (s.holds == nullptr) return jsonError(404, "not_found", "no such held write");
  const auto held = s.holds->find(static_cast<std::uint64_t>(*id));
  std::string ownerGroup;
  if (held) {
    auto a = store::AccessRepository(s.db).assetByName(held->context.asset);
    if (a) ownerGroup = a->ownerGroup;
  }
  if (!held || !maySeeHold(*caller, *held, ownerGroup)) {
    return jsonError(404, "not_found", "held write " + std::to_string(*id) + " not found");
  }
  if (!caller->user.inGroup(ownerGroup)) {
    return jsonError(403, "forbidden",
                     "only engineers of " + held->context.asset + "'s group may decide its writes");
  }
  // The vendor's own account can never approve its write, whatever roles it holds.
  if (caller->user.username == held->context.user) {
    return jsonError(403, "forbidden", "a write cannot be approved by the user who sent it");
  }
  // Audited inside decide() before the decision takes effect.
  if (auto st = s.holds->decide(held->id, approved, caller->user.username); !st) {
    return errorResponse(st.error());
  }
  auto now = s.holds->find(held->id);
  return jsonResponse(200, holdJson(now ? *now : *held));
}

}  // namespace

void addHoldRoutes(Router& router, ApiState& s) {
  router.add("GET", "/api/v1/holds", [&s](const HttpRequest& r) {
    std::lock_guard lock(s.mutex);
    auto caller = authenticate(s, r);
    if (!caller) return errorResponse(caller.error());
    boost::json::array out;
    if (s.holds == nullptr) return jsonResponse(200, out);
    store::AccessRepository repo(s.db);
    std::map<std::string, std::string> owners;
    for (const auto& w : s.holds->pending()) {
      if (!owners.contains(w.context.asset)) {
        auto a = repo.assetByName(w.context.asset);
        owners[w.context.asset] = a ? a->ownerGroup : std::string();
      }
      if (maySeeHold(*caller, w, owners[w.context.asset])) out.push_back(holdJson(w));
    }
    return jsonResponse(200, out);
  });
  router.add("POST", "/api/v1/holds/{id}/approve",
             [&s](const HttpRequest& r) { return decide(s, r, true); });
  router.add("POST", "/api/v1/holds/{id}/deny",
             [&s](const HttpRequest& r) { return decide(s, r, false); });
}

}  // namespace conduit::portal
