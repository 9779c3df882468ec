// Administration: assets and endpoints, credentials (write-only) and the policy files
// (docs/api.md "Administration").
#include <sodium.h>

#include <map>
#include <span>

#include "admin_routes.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/policies/policy_set.hpp"
#include "conduit/store/access_repository.hpp"

namespace conduit::portal {

using core::ErrorCode;
using core::fail;

namespace {

// Credential kinds as the API names them, and the vault kinds they are stored as. Other vault
// kinds (TOTP seeds, recording keys, API tokens) are the broker's own and not shown or written
// here.
const std::map<std::string, std::string, std::less<>> kCredentialKinds{
    {"password", "password"}, {"private_key", "ssh_private_key"}};

std::string apiKind(const std::string& vaultKind) {
  for (const auto& [api, stored] : kCredentialKinds) {
    if (stored == vaultKind) return api;
  }
  return {};
}

bool publicKeyLine(const std::string& line) {
  static const std::set<std::string> kTypes{"ssh-ed25519", "ecdsa-sha2-nistp256",
                                            "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                                            "ssh-rsa"};
  const auto space = line.find(' ');
  if (space == std::string::npos) return false;
  const std::string blob = line.substr(space + 1, line.find(' ', space + 1) - space - 1);
  return kTypes.contains(line.substr(0, space)) && !blob.empty() &&
         blob.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
             std::string::npos;
}

bool printable(const std::string& s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

core::Result<core::Endpoint> parseEndpoint(const boost::json::value& v) {
  if (!v.is_object()) return fail(ErrorCode::invalid_argument, "each endpoint must be an object");
  const auto& o = v.as_object();
  core::Endpoint e;
  auto protocol = stringField(o, "protocol", 16);
  if (!protocol) return protocol.error();
  auto p = core::parseProtocol(*protocol);
  if (!p) {
    return fail(ErrorCode::invalid_argument,
                "unknown protocol '" + *protocol + "' (ssh, rdp, modbus, s7, dnp3, opcua, tcp)");
  }
  e.protocol = *p;
  auto host = stringField(o, "host", 253);
  if (!host) return host.error();
  if (host->empty() || host->find(' ') != std::string::npos || !printable(*host)) {
    return fail(ErrorCode::invalid_argument, "endpoint host must be a host name or address");
  }
  e.host = std::move(*host);
  const auto* port = o.if_contains("port");
  if (!port || !port->is_int64() || port->as_int64() < 1 || port->as_int64() > 65535) {
    return fail(ErrorCode::invalid_argument, "endpoint port must be a whole number 1-65535");
  }
  e.port = static_cast<std::uint16_t>(port->as_int64());
  auto account = stringField(o, "account", 128, false);
  if (!account) return account.error();
  if (!printable(*account)) {
    return fail(ErrorCode::invalid_argument, "endpoint account has control characters");
  }
  e.account = std::move(*account);
  auto pinned = stringField(o, "pinned_key", 16 * 1024, false);
  if (!pinned) return pinned.error();
  if (!pinned->empty()) {
    // A wrong pin would only show at the first connection; say so now.
    if (e.protocol == core::Protocol::ssh && !publicKeyLine(*pinned)) {
      return fail(ErrorCode::invalid_argument,
                  "pinned_key of an ssh endpoint must be the host's public key line "
                  "(ssh-ed25519 AAAA...)");
    }
    if (e.protocol != core::Protocol::ssh && e.protocol != core::Protocol::rdp) {
      return fail(ErrorCode::invalid_argument, "pinned_key applies to ssh and rdp endpoints only");
    }
    if (!printable(*pinned)) {
      return fail(ErrorCode::invalid_argument, "pinned_key has control characters");
    }
    if (e.protocol == core::Protocol::rdp) {
      auto fp = core::normalizeSha256Fingerprint(*pinned);
      if (!fp) {
        return fail(ErrorCode::invalid_argument,
                    "pinned_key of an rdp endpoint must be the certificate's SHA-256 "
                    "fingerprint (64 hex digits)");
      }
      *pinned = *fp;
    }
  }
  e.pinnedKey = std::move(*pinned);
  return e;
}

core::Result<core::Asset> parseAsset(const boost::json::object& body) {
  core::Asset a;
  auto name = stringField(body, "name", 64);
  if (!name) return name.error();
  auto site = stringField(body, "site", 200, false);
  if (!site) return site.error();
  auto zone = stringField(body, "zone", 200, false);
  if (!zone) return zone.error();
  auto owner = stringField(body, "owner_group", 64);
  if (!owner) return owner.error();
  auto criticality = stringField(body, "criticality", 16, false);
  if (!criticality) return criticality.error();
  if (!criticality->empty()) {
    auto c = core::parseCriticality(*criticality);
    if (!c) {
      return fail(ErrorCode::invalid_argument, "criticality must be low, medium, high or critical");
    }
    a.criticality = *c;
  }
  auto tags = stringSet(body, "tags", 32, 64);
  if (!tags) return tags.error();
  if (const auto* max = body.if_contains("max_sessions"); max && !max->is_null()) {
    if (!max->is_int64() || max->as_int64() < 1 || max->as_int64() > 1000) {
      return fail(ErrorCode::invalid_argument, "max_sessions must be a whole number 1-1000");
    }
    a.maxSessions = static_cast<int>(max->as_int64());
  }
  if (const auto* eps = body.if_contains("endpoints"); eps && !eps->is_null()) {
    if (!eps->is_array() || eps->as_array().size() > 8) {
      return fail(ErrorCode::invalid_argument, "endpoints must be a list of at most 8 endpoints");
    }
    for (const auto& v : eps->as_array()) {
      auto e = parseEndpoint(v);
      if (!e) return e.error();
      if (a.endpointFor(e->protocol) != nullptr) {
        return fail(ErrorCode::invalid_argument,
                    "one endpoint per protocol: " + std::string(core::protocolName(e->protocol)) +
                        " is given twice");
      }
      a.endpoints.push_back(std::move(*e));
    }
  }
  a.name = std::move(*name);
  a.site = std::move(*site);
  a.zone = std::move(*zone);
  a.ownerGroup = std::move(*owner);
  a.tags = std::move(*tags);
  return a;
}

core::Result<boost::json::value> adminAssetJson(store::AccessRepository& repo,
                                                const core::Asset& a) {
  boost::json::array tags, endpoints;
  for (const auto& t : a.tags) tags.emplace_back(t);
  for (const auto& e : a.endpoints) {
    auto credential = repo.endpointCredential(e.id);
    if (!credential) return credential.error();
    boost::json::object o{{"protocol", core::protocolName(e.protocol)},
                          {"host", e.host},
                          {"port", e.port},
                          {"account", e.account},
                          {"pinned_key", e.pinnedKey}};
    // The vault secret's name the broker logs in with, or null for per-session certificates.
    o["credential"] =
        credential->empty() ? boost::json::value(nullptr) : boost::json::value(*credential);
    endpoints.push_back(std::move(o));
  }
  return boost::json::value(
      boost::json::object{{"name", a.name},
                          {"site", a.site},
                          {"zone", a.zone},
                          {"criticality", core::criticalityName(a.criticality)},
                          {"owner_group", a.ownerGroup},
                          {"tags", std::move(tags)},
                          {"max_sessions", a.maxSessions},
                          {"disabled", a.disabled},
                          {"endpoints", std::move(endpoints)}});
}

HttpResponse assetResponse(ApiState& s, int status, const std::string& name) {
  store::AccessRepository repo(s.db);
  auto a = repo.assetByName(name);
  if (!a) return errorResponse(a.error());
  auto json = adminAssetJson(repo, *a);
  if (!json) return errorResponse(json.error());
  return jsonResponse(status, *json);
}

void addAssetRoutes(Router& router, ApiState& s) {
  router.add("GET", "/api/v1/admin/assets", adminOnly(s, [&s](const Caller&, const HttpRequest&) {
               store::AccessRepository repo(s.db);
               auto assets = repo.assets();
               if (!assets) return errorResponse(assets.error());
               boost::json::array out;
               for (const auto& a : *assets) {
                 auto json = adminAssetJson(repo, a);
                 if (!json) return errorResponse(json.error());
                 out.push_back(std::move(*json));
               }
               return jsonResponse(200, out);
             }));

  router.add("POST", "/api/v1/admin/assets",
             adminOnly(s, [&s](const Caller& c, const HttpRequest& r) {
               auto body = jsonBody(r);
               if (!body) return errorResponse(body.error());
               auto asset = parseAsset(*body);
               if (!asset) return errorResponse(asset.error());
               auto added = s.admin.addAsset(c.actor, std::move(*asset));
               if (!added) return errorResponse(added.error());
               return assetResponse(s, 201, added->name);
             }));

  for (const bool disable : {true, false}) {
    router.add("POST",
               std::string("/api/v1/admin/assets/{name}/") + (disable ? "disable" : "enable"),
               adminOnly(s, [&s, disable](const Caller& c, const HttpRequest& r) {
                 auto name = nameParam(r, "asset");
                 if (!name) return errorResponse(name.error());
                 auto a = s.admin.setAssetDisabled(c.actor, *name, disable);
                 if (!a) return errorResponse(a.error());
                 return assetResponse(s, 200, a->name);
               }));
  }
}

core::Result<std::string> credentialName(const boost::json::object& body) {
  auto name = stringField(body, "name", 128);
  if (!name) return name.error();
  const bool valid =
      !name->empty() && name->find_first_not_of(
                            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") ==
                            std::string::npos;
  if (!valid) {
    return fail(ErrorCode::invalid_argument,
                "a credential name has 1-128 letters, digits, '-', '_', '.' or '/'");
  }
  // user/NAME/totp holds a user's TOTP seed: a credential there would become a login factor.
  if (name->starts_with("user/")) {
    return fail(ErrorCode::invalid_argument, "names under user/ are reserved for login factors");
  }
  return name;
}

void addCredentialRoutes(Router& router, ApiState& s) {
  router.add("GET", "/api/v1/admin/credentials",
             adminOnly(s, [&s](const Caller&, const HttpRequest&) {
               auto secrets = s.vault.list();  // metadata only; values are never read here
               if (!secrets) return errorResponse(secrets.error());
               boost::json::array out;
               for (const auto& rec : *secrets) {
                 const std::string kind = apiKind(rec.kind);
                 if (kind.empty()) continue;
                 out.push_back(boost::json::object{{"name", rec.name},
                                                   {"kind", kind},
                                                   {"version", rec.version},
                                                   {"created_at", isoTime(rec.createdAt)},
                                                   {"updated_at", isoTime(rec.updatedAt)}});
               }
               return jsonResponse(200, out);
             }));

  // Write-only: the value goes into the vault and appears in no answer, log or audit event.
  router.add(
      "POST", "/api/v1/admin/credentials",
      adminOnly(s, [&s](const Caller& c, const HttpRequest& r) {
        auto body = jsonBody(r);
        if (!body) return errorResponse(body.error());
        auto name = credentialName(*body);
        if (!name) return errorResponse(name.error());
        auto kindText = stringField(*body, "kind", 16);
        if (!kindText) return errorResponse(kindText.error());
        const auto kind = kCredentialKinds.find(*kindText);
        if (kind == kCredentialKinds.end()) {
          return jsonError(400, "bad_request", "kind must be \"password\" or \"private_key\"");
        }
        auto description = stringField(*body, "description", 500, false);
        if (!description) return errorResponse(description.error());
        const auto* exclusiveField = body->if_contains("exclusive");
        if (exclusiveField && !exclusiveField->is_null() && !exclusiveField->is_bool()) {
          return jsonError(400, "bad_request", "exclusive must be true or false");
        }
        // 64 KiB: room for an RSA-16384 private key; nothing legitimate is larger.
        auto value = stringField(*body, "value", 64 * 1024);
        if (!value) return errorResponse(value.error());
        // Best effort: the copies this handler made do not outlive it (the request body is the
        // server's and is freed with the request).
        const auto wipe = [&value, &body] {
          sodium_memzero(value->data(), value->size());
          auto& held = body->at("value").as_string();
          sodium_memzero(held.data(), held.size());
        };
        if (value->empty()) {
          return jsonError(400, "bad_request", "value is empty");
        }
        if (kind->first == "private_key" && !value->starts_with("-----BEGIN ")) {
          wipe();
          return jsonError(400, "bad_request",
                           "a private key must be in PEM or OpenSSH form (-----BEGIN ...)");
        }
        // A new version of an existing secret keeps its kind (and, unless given, exclusivity);
        // the broker's own secrets cannot be overwritten from here.
        bool exclusive = exclusiveField && exclusiveField->is_bool() && exclusiveField->as_bool();
        auto existing = s.vault.list();
        if (!existing) {
          wipe();
          return errorResponse(existing.error());
        }
        for (const auto& rec : *existing) {
          if (rec.name != *name) continue;
          if (rec.kind != kind->second) {
            wipe();
            return jsonError(409, "conflict",
                             "a secret named " + *name + " exists with another kind");
          }
          if (!exclusiveField || exclusiveField->is_null()) exclusive = rec.exclusive;
        }
        const auto bytes =
            std::span(reinterpret_cast<const unsigned char*>(value->data()), value->size());
        auto stored = s.vault.put(c.actor, *name, kind->second, bytes, exclusive, *description);
        wipe();
        if (!stored) return errorResponse(stored.error());
        return jsonResponse(
            201, boost::json::object{
                     {"name", stored->name}, {"kind", kind->first}, {"version", stored->version}});
      }));
}

/// The policy files as loaded at start and as they are on disk now, so that an admin sees a
/// broken edit before a restart loads it.
HttpResponse policiesResponse(const ApiState& s) {
  boost::json::array files;
  for (const auto& path : s.options.policyFiles) {
    const std::string name = path.string();
    std::int64_t loaded = 0;
    for (const auto& rule : s.policySet.rules()) {
      loaded += rule.source.starts_with(name + ":") ? 1 : 0;
    }
    auto now = policies::PolicySet::load({path});
    boost::json::object o{{"path", name}, {"loaded_rules", loaded}, {"ok", now.ok()}};
    o["rules"] = now ? boost::json::value(static_cast<std::int64_t>(now->size())) : nullptr;
    o["error"] = now ? boost::json::value(nullptr) : boost::json::value(now.error().message);
    files.push_back(std::move(o));
  }
  // All files together, as a restart would load them (rule ids must be unique across files).
  auto all = policies::PolicySet::load(s.options.policyFiles);
  boost::json::object out{{"loaded_rules", static_cast<std::int64_t>(s.policySet.size())},
                          {"files", std::move(files)},
                          {"ok", all.ok()}};
  out["error"] = all ? boost::json::value(nullptr) : boost::json::value(all.error().message);
  return jsonResponse(200, out);
}

}  // namespace

void addAdminInventoryRoutes(Router& router, ApiState& s) {
  addAssetRoutes(router, s);
  addCredentialRoutes(router, s);
  router.add("GET", "/api/v1/admin/policies", [&s](const HttpRequest& r) {
    {
      std::lock_guard lock(s.mutex);
      auto caller = requireAdmin(s, r);
      if (!caller) return errorResponse(caller.error());
    }
    // Outside the lock: reading files must not hold up the other handlers. The file list and
    // the loaded set never change after start.
    return policiesResponse(s);
  });
}

}  // namespace conduit::portal
