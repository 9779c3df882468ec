// `conduit admin ...`: vendors, groups, users, assets and the request workflow from the shell.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli_context.hpp"
#include "conduit/access/access_service.hpp"
#include "conduit/access/admin_service.hpp"
#include "conduit/access/auth_service.hpp"
#include "conduit/rdp/certificate_probe.hpp"

namespace conduit::app {

namespace {

using core::ErrorCode;

core::Result<std::string> readPassword(const std::string& file) {
  if (file.empty()) {
    return core::fail(ErrorCode::invalid_argument,
                      "give the password with --password-file FILE (use - for standard input)");
  }
  std::string password;
  if (file == "-") {
    std::getline(std::cin, password);
  } else {
    std::ifstream in(file);
    if (!in) return core::fail(ErrorCode::unavailable, "cannot read password file " + file);
    std::getline(in, password);
  }
  return password;
}

core::Result<std::optional<core::TimePoint>> parseOptionalTime(const std::string& text) {
  if (text.empty() || text == "none") return std::optional<core::TimePoint>{};
  auto t = core::parseTime(text);
  if (!t) {
    return core::fail(ErrorCode::invalid_argument,
                      "cannot read time '" + text + "' (use 2026-12-31 or 2026-12-31T18:00:00Z)");
  }
  return std::optional<core::TimePoint>{*t};
}

/// HOST:PORT[:ACCOUNT]; the host may itself contain colons (IPv6), so split from the right.
core::Result<core::Endpoint> parseEndpoint(core::Protocol p, const std::string& spec,
                                           bool withAccount) {
  std::string rest = spec;
  core::Endpoint e;
  e.protocol = p;
  if (withAccount) {
    const auto c = rest.rfind(':');
    if (c == std::string::npos) {
      return core::fail(ErrorCode::invalid_argument,
                        "endpoint '" + spec + "' must be HOST:PORT:ACCOUNT");
    }
    e.account = rest.substr(c + 1);
    rest = rest.substr(0, c);
  }
  const auto c = rest.rfind(':');
  if (c == std::string::npos || c == 0) {
    return core::fail(ErrorCode::invalid_argument, "endpoint '" + spec + "' has no HOST:PORT");
  }
  e.host = rest.substr(0, c);
  try {
    const int port = std::stoi(rest.substr(c + 1));
    if (port < 1 || port > 65535) throw std::out_of_range("port");
    e.port = static_cast<std::uint16_t>(port);
  } catch (const std::exception&) {
    return core::fail(ErrorCode::invalid_argument, "endpoint '" + spec + "' has a bad port");
  }
  return e;
}

std::string joinRoles(const std::set<core::Role>& roles) {
  std::string out;
  for (auto r : roles) out += (out.empty() ? "" : ",") + std::string(core::roleName(r));
  return out;
}

std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

std::string protocols(const std::vector<core::Protocol>& ps) {
  std::string out;
  for (auto p : ps) out += (out.empty() ? "" : ",") + std::string(core::protocolName(p));
  return out;
}

void printRequest(const core::AccessRequest& r) {
  std::printf("request %lld  %-9s  %s -> %s (%s)  %s + %s  rule %s  approvals %zu/%d\n",
              static_cast<long long>(r.id), std::string(core::requestStateName(r.state)).c_str(),
              r.requesterName.c_str(), r.assetName.c_str(), protocols(r.protocols).c_str(),
              core::formatTime(r.windowStart).c_str(), core::formatDuration(r.duration).c_str(),
              r.policyRule.c_str(),
              static_cast<std::size_t>(std::count_if(r.votes.begin(), r.votes.end(),
                                                     [](const auto& v) { return v.approve; })),
              r.limits.approvals.total());
}

void printGrant(const core::Grant& g, const std::string& user) {
  std::printf("grant %lld  %-9s  %s -> %s (%s)  %s .. %s%s%s\n", static_cast<long long>(g.id),
              std::string(core::grantStateName(g.state)).c_str(), user.c_str(), g.assetName.c_str(),
              protocols(g.protocols).c_str(), core::formatTime(g.notBefore).c_str(),
              core::formatTime(g.notAfter).c_str(),
              g.stateReason.empty() ? "" : "  reason: ", g.stateReason.c_str());
}

/// Wraps a handler so that errors become "conduit: ..." and exit code 1.
template <typename F>
std::function<void()> run(int& exitCode, F f) {
  return [&exitCode, f] {
    core::Status st = f();
    exitCode = st ? 0 : fail(st.error());
  };
}

}  // namespace

namespace {

/// conduit-rdp-worker: rdp.worker from the configuration, else beside this executable.
std::filesystem::path rdpWorker(CliContext& ctx) {
  if (auto c = ctx.config(); c && !c->rdp.worker.empty()) return c->rdp.worker;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path("conduit-rdp-worker")
            : self.parent_path() / "conduit-rdp-worker";
}

/// One login to the asset's rdp endpoint with its stored credential (checked out of the vault
/// and audited), accepting any certificate; its SHA-256.
core::Result<std::string> probeRdpCertificate(CliContext& ctx, store::Database& db,
                                              const std::string& name) {
  auto asset = store::AccessRepository(db).assetByName(name);
  if (!asset) return asset.error();
  const core::Endpoint* ep = asset->endpointFor(core::Protocol::rdp);
  if (ep == nullptr) return core::fail(ErrorCode::not_found, name + " has no rdp endpoint");
  auto secret = store::AccessRepository(db).endpointCredential(ep->id);
  if (!secret) return secret.error();
  if (secret->empty()) {
    return core::fail(ErrorCode::conflict,
                      "store the endpoint's password first (asset set-credential --protocol rdp)");
  }
  auto vault = ctx.vault();
  if (!vault) return vault.error();
  auto lease = (*vault)->checkout(ctx.actor(), *secret, "probe the rdp certificate of " + name);
  if (!lease) return lease.error();
  rdp::ConnectRequest r;
  r.host = ep->host;
  r.port = ep->port;
  if (const auto slash = ep->account.find('\\'); slash != std::string::npos) {
    r.domain = ep->account.substr(0, slash);
    r.username = ep->account.substr(slash + 1);
  } else {
    r.username = ep->account;
  }
  return rdp::probeCertificate(rdpWorker(ctx), r, {lease->value().data(), lease->value().size()});
}

}  // namespace

void addAdminCommands(CLI::App& app, CliContext& ctx, int& exitCode) {
  auto* admin = app.add_subcommand("admin", "Manage vendors, users, groups, assets and access");
  admin->require_subcommand(1);
  ctx.addLocationOptions(*admin);
  admin->add_option("--as", ctx.as, "Act as this Conduit user (approvals, requests, revocations)");
  admin->add_option("--vault-passphrase-file", ctx.vaultPassphraseFile,
                    "Passphrase of a passphrase-protected vault (for enrol-totp)");

  // Holders for option values; CLI11 writes into them before the callbacks run.
  struct Values {
    std::string name, contact, contractEnd, description, vendor, displayName, expires, passwordFile,
        ownerGroup, site, zone, criticality = "medium", ssh, rdp, hostKey, fingerprint, asset,
                                start = "now", duration, reason, ticket, comment, state, user,
                                action = "connect", rotateWith;
    std::vector<std::string> roles, groups, tags, tcp, protocols;
    int maxSessions = 1;
    std::int64_t id = 0;
    bool probe = false;
  };
  auto values = std::make_shared<Values>();
  ctx.keepAlive(values);
  Values& v = *values;
  auto db = [&ctx]() { return ctx.database(); };
  auto admins = [&ctx](store::Database& d) { return access::AdminService(d, ctx.clock()); };

  // vendor
  auto* vendor = admin->add_subcommand("vendor", "Vendor organisations")->require_subcommand(1);
  auto* vendorAdd = vendor->add_subcommand("add", "Add a vendor organisation");
  vendorAdd->add_option("name", v.name)->required();
  vendorAdd->add_option("--contact", v.contact, "Contact (e-mail or phone)");
  vendorAdd->add_option("--contract-end", v.contractEnd, "Date after which its users are disabled");
  vendorAdd->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    auto end = parseOptionalTime(v.contractEnd);
    if (!end) return end.error();
    auto r = admins(**d).addVendor(ctx.actor(), {0, v.name, v.contact, *end, false});
    if (!r) return r.error();
    std::printf("vendor %s added (id %lld)\n", r->name.c_str(), static_cast<long long>(r->id));
    return core::Done{};
  }));
  vendor->add_subcommand("list", "List vendors")
      ->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
        auto d = db();
        if (!d) return d.error();
        auto list = store::AccessRepository(**d).vendors();
        if (!list) return list.error();
        for (const auto& x : *list) {
          std::printf("%-20s %-9s contract end %-20s %s\n", x.name.c_str(),
                      x.disabled ? "disabled" : "active",
                      x.contractEnd ? core::formatTime(*x.contractEnd).c_str() : "none",
                      x.contact.c_str());
        }
        return core::Done{};
      }));
  for (bool disable : {true, false}) {
    auto* c = vendor->add_subcommand(
        disable ? "disable" : "enable",
        disable ? "Disable a vendor (revokes its users' grants)" : "Enable a vendor");
    c->add_option("name", v.name)->required();
    c->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
      auto d = db();
      if (!d) return d.error();
      auto r = admins(**d).setVendorDisabled(ctx.actor(), v.name, disable);
      if (!r) return r.error();
      std::printf("vendor %s %s\n", v.name.c_str(), disable ? "disabled" : "enabled");
      return core::Done{};
    }));
  }
  auto* vendorEnd =
      vendor->add_subcommand("set-contract-end", "Set or clear (none) the contract end");
  vendorEnd->add_option("name", v.name)->required();
  vendorEnd->add_option("date", v.contractEnd)->required();
  vendorEnd->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    auto end = parseOptionalTime(v.contractEnd);
    if (!end) return end.error();
    auto r = admins(**d).setVendorContractEnd(ctx.actor(), v.name, *end);
    if (!r) return r.error();
    std::printf("vendor %s contract end %s\n", v.name.c_str(),
                *end ? core::formatTime(**end).c_str() : "none");
    return core::Done{};
  }));
  auto* vendorRm = vendor->add_subcommand("remove", "Remove a vendor without history");
  vendorRm->add_option("name", v.name)->required();
  vendorRm->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    if (auto st = admins(**d).removeVendor(ctx.actor(), v.name); !st) return st;
    std::printf("vendor %s removed\n", v.name.c_str());
    return core::Done{};
  }));

  // group
  auto* group = admin->add_subcommand("group", "Engineer groups")->require_subcommand(1);
  auto* groupAdd = group->add_subcommand("add", "Add an engineer group");
  groupAdd->add_option("name", v.name)->required();
  groupAdd->add_option("--description", v.description);
  groupAdd->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    auto r = admins(**d).addGroup(ctx.actor(), {0, v.name, v.description});
    if (!r) return r.error();
    std::printf("group %s added\n", r->name.c_str());
    return core::Done{};
  }));
  group->add_subcommand("list", "List groups")
      ->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
        auto d = db();
        if (!d) return d.error();
        auto list = store::AccessRepository(**d).groups();
        if (!list) return list.error();
        for (const auto& g : *list)
          std::printf("%-24s %s\n", g.name.c_str(), g.description.c_str());
        return core::Done{};
      }));
  auto* groupRm = group->add_subcommand("remove", "Remove a group that owns no assets");
  groupRm->add_option("name", v.name)->required();
  groupRm->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    if (auto st = admins(**d).removeGroup(ctx.actor(), v.name); !st) return st;
    std::printf("group %s removed\n", v.name.c_str());
    return core::Done{};
  }));

  // user
  auto* user = admin->add_subcommand("user", "Users")->require_subcommand(1);
  auto* userAdd = user->add_subcommand("add", "Add a user");
  userAdd->add_option("name", v.name)->required();
  userAdd->add_option("--role", v.roles, "vendor, engineer, auditor or admin (repeatable)")
      ->required();
  userAdd->add_option("--vendor", v.vendor, "Vendor organisation (for vendor users)");
  userAdd->add_option("--group", v.groups, "Engineer group (repeatable)");
  userAdd->add_option("--display-name", v.displayName);
  userAdd->add_option("--expires", v.expires, "Account expiry date");
  userAdd->add_option("--password-file", v.passwordFile, "File holding the password, - for stdin");
  userAdd->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    access::NewUser n;
    n.username = v.name;
    n.displayName = v.displayName;
    n.vendor = v.vendor;
    n.groups = {v.groups.begin(), v.groups.end()};
    for (const auto& r : v.roles) {
      auto role = core::parseRole(r);
      if (!role) return core::fail(ErrorCode::invalid_argument, "unknown role '" + r + "'");
      n.roles.insert(*role);
    }
    auto exp = parseOptionalTime(v.expires);
    if (!exp) return exp.error();
    n.expiresAt = *exp;
    auto pw = readPassword(v.passwordFile);
    if (!pw) return pw.error();
    n.password = *pw;
    auto r = admins(**d).addUser(ctx.actor(), n);
    if (!r) return r.error();
    std::printf("user %s added (%s)\n", r->username.c_str(), joinRoles(r->roles).c_str());
    return core::Done{};
  }));
  user->add_subcommand("list", "List users")
      ->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
        auto d = db();
        if (!d) return d.error();
        auto list = store::AccessRepository(**d).users();
        if (!list) return list.error();
        for (const auto& u : *list) {
          std::printf("%-16s %-9s roles %-18s vendor %-12s groups %s\n", u.username.c_str(),
                      u.disabled ? "disabled" : "active", joinRoles(u.roles).c_str(),
                      u.vendorName.empty() ? "-" : u.vendorName.c_str(), join(u.groups).c_str());
        }
        return core::Done{};
      }));
  for (bool disable : {true, false}) {
    auto* c =
        user->add_subcommand(disable ? "disable" : "enable",
                             disable ? "Disable a user (revokes their grants)" : "Enable a user");
    c->add_option("name", v.name)->required();
    c->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
      auto d = db();
      if (!d) return d.error();
      auto r = admins(**d).setUserDisabled(ctx.actor(), v.name, disable);
      if (!r) return r.error();
      std::printf("user %s %s\n", v.name.c_str(), disable ? "disabled" : "enabled");
      return core::Done{};
    }));
  }
  auto* userRm = user->add_subcommand("remove", "Remove a user without history");
  userRm->add_option("name", v.name)->required();
  userRm->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    if (auto st = admins(**d).removeUser(ctx.actor(), v.name); !st) return st;
    std::printf("user %s removed\n", v.name.c_str());
    return core::Done{};
  }));
  auto* userPw = user->add_subcommand("set-password", "Set a user's password");
  userPw->add_option("name", v.name)->required();
  userPw->add_option("--password-file", v.passwordFile, "File holding the password, - for stdin");
  userPw->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    auto pw = readPassword(v.passwordFile);
    if (!pw) return pw.error();
    if (auto st = admins(**d).setPassword(ctx.actor(), v.name, *pw); !st) return st;
    std::printf("password of %s set\n", v.name.c_str());
    return core::Done{};
  }));
  auto* userTotp =
      user->add_subcommand("enrol-totp", "Make a new TOTP seed; prints its otpauth URI");
  userTotp->add_option("name", v.name)->required();
  userTotp->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    auto vault = ctx.vault();
    if (!vault) return vault.error();
    access::AuthService auth(**d, **vault, ctx.clock());
    auto uri = auth.enrolTotp(ctx.actor().username, v.name, "cli");
    if (!uri) return uri.error();
    std::printf("%s\n", uri->c_str());
    return core::Done{};
  }));

  auto* userKey = user->add_subcommand("add-key", "Register an SSH public key for the gateway");
  userKey->add_option("name", v.name)->required();
  userKey->add_option("--key-file", v.passwordFile, "OpenSSH public key file (id_ed25519.pub)")
      ->required();
  userKey->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    std::ifstream in(v.passwordFile);
    std::string line;
    if (!std::getline(in, line)) {
      return core::fail(ErrorCode::unavailable, "cannot read " + v.passwordFile);
    }
    if (auto st = admins(**d).addSshKey(ctx.actor(), v.name, line); !st) return st;
    std::printf("key added for %s\n", v.name.c_str());
    return core::Done{};
  }));

  // asset
  auto* asset = admin->add_subcommand("asset", "Assets and their endpoints")->require_subcommand(1);
  auto* assetAdd = asset->add_subcommand("add", "Add an asset");
  assetAdd->add_option("name", v.name)->required();
  assetAdd->add_option("--owner-group", v.ownerGroup, "Engineer group that approves access")
      ->required();
  assetAdd->add_option("--site", v.site);
  assetAdd->add_option("--zone", v.zone, "IEC 62443 zone");
  assetAdd->add_option("--criticality", v.criticality, "low, medium, high or critical")
      ->capture_default_str();
  assetAdd->add_option("--tag", v.tags, "Tag (repeatable)");
  assetAdd->add_option("--max-sessions", v.maxSessions, "Concurrent sessions the asset accepts")
      ->capture_default_str();
  assetAdd->add_option("--ssh", v.ssh, "SSH endpoint HOST:PORT:ACCOUNT");
  assetAdd->add_option("--ssh-host-key", v.hostKey, "Pinned SSH host key line");
  assetAdd->add_option("--rdp", v.rdp, "RDP endpoint HOST:PORT:ACCOUNT");
  assetAdd->add_option("--rdp-fingerprint", v.fingerprint, "Pinned RDP certificate SHA-256");
  assetAdd->add_option("--tcp", v.tcp, "PROTOCOL:HOST:PORT, protocol modbus/s7/dnp3/opcua/tcp");
  assetAdd->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    core::Asset a;
    a.name = v.name;
    a.ownerGroup = v.ownerGroup;
    a.site = v.site;
    a.zone = v.zone;
    a.tags = {v.tags.begin(), v.tags.end()};
    a.maxSessions = v.maxSessions;
    auto crit = core::parseCriticality(v.criticality);
    if (!crit)
      return core::fail(ErrorCode::invalid_argument, "unknown criticality '" + v.criticality + "'");
    a.criticality = *crit;
    if (!v.ssh.empty()) {
      auto e = parseEndpoint(core::Protocol::ssh, v.ssh, true);
      if (!e) return e.error();
      e->pinnedKey = v.hostKey;
      a.endpoints.push_back(*e);
    }
    if (!v.rdp.empty()) {
      auto e = parseEndpoint(core::Protocol::rdp, v.rdp, true);
      if (!e) return e.error();
      if (!v.fingerprint.empty()) {
        auto fp = core::normalizeSha256Fingerprint(v.fingerprint);
        if (!fp) {
          return core::fail(ErrorCode::invalid_argument,
                            "--rdp-fingerprint must be the certificate's SHA-256 (64 hex digits)");
        }
        e->pinnedKey = *fp;
      }
      a.endpoints.push_back(*e);
    }
    for (const auto& spec : v.tcp) {
      const auto c = spec.find(':');
      auto p = core::parseProtocol(spec.substr(0, c));
      if (c == std::string::npos || !p || *p == core::Protocol::ssh || *p == core::Protocol::rdp) {
        return core::fail(ErrorCode::invalid_argument,
                          "--tcp '" + spec + "' must be PROTOCOL:HOST:PORT");
      }
      auto e = parseEndpoint(*p, spec.substr(c + 1), false);
      if (!e) return e.error();
      a.endpoints.push_back(*e);
    }
    auto r = admins(**d).addAsset(ctx.actor(), a);
    if (!r) return r.error();
    std::printf("asset %s added (%zu endpoints)\n", r->name.c_str(), r->endpoints.size());
    return core::Done{};
  }));
  asset->add_subcommand("list", "List assets")
      ->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
        auto d = db();
        if (!d) return d.error();
        auto list = store::AccessRepository(**d).assets();
        if (!list) return list.error();
        for (const auto& a : *list) {
          std::string eps;
          for (const auto& e : a.endpoints) {
            eps += (eps.empty() ? "" : " ") + std::string(core::protocolName(e.protocol)) + "://" +
                   e.host + ":" + std::to_string(e.port);
          }
          std::printf("%-16s %-9s %-8s zone %-10s owner %-18s %s\n", a.name.c_str(),
                      a.disabled ? "disabled" : "active",
                      std::string(core::criticalityName(a.criticality)).c_str(), a.zone.c_str(),
                      a.ownerGroup.c_str(), eps.c_str());
        }
        return core::Done{};
      }));
  for (bool disable : {true, false}) {
    auto* c = asset->add_subcommand(disable ? "disable" : "enable",
                                    disable ? "Disable an asset" : "Enable an asset");
    c->add_option("name", v.name)->required();
    c->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
      auto d = db();
      if (!d) return d.error();
      auto r = admins(**d).setAssetDisabled(ctx.actor(), v.name, disable);
      if (!r) return r.error();
      std::printf("asset %s %s\n", v.name.c_str(), disable ? "disabled" : "enabled");
      return core::Done{};
    }));
  }
  auto* assetCred = asset->add_subcommand(
      "set-credential", "Log in to an endpoint with a vault secret (none: SSH certificates)");
  assetCred->add_option("name", v.name)->required();
  assetCred->add_option("--protocol", v.state, "ssh or rdp")->required();
  assetCred->add_option("--secret", v.description, "Vault secret name, or none")->required();
  assetCred->add_option("--rotate-with", v.rotateWith,
                        "Rotate the password after each exclusive session with this command run "
                        "on the target (e.g. 'sudo -n chpasswd')");
  assetCred->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    auto p = core::parseProtocol(v.state);
    if (!p) return core::fail(ErrorCode::invalid_argument, "unknown protocol '" + v.state + "'");
    const std::string secret = v.description == "none" ? "" : v.description;
    if (auto st = admins(**d).setEndpointCredential(ctx.actor(), v.name, *p, secret, v.rotateWith);
        !st) {
      return st;
    }
    std::printf("%s %s logs in with %s\n", v.name.c_str(), v.state.c_str(),
                secret.empty() ? "per-session certificates" : secret.c_str());
    return core::Done{};
  }));
  auto* pin = asset->add_subcommand(
      "pin-rdp", "Pin the certificate an RDP endpoint must present (given, or probed once)");
  pin->add_option("name", v.name)->required();
  auto* pinGiven =
      pin->add_option("--fingerprint", v.fingerprint, "The certificate's SHA-256 (64 hex digits)");
  auto* pinProbe = pin->add_flag(
      "--probe", v.probe,
      "Connect once with the stored credential and pin whatever certificate the target shows "
      "(trust on first use: compare it with the target's own before relying on it)");
  pinGiven->excludes(pinProbe);
  pin->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    if (v.fingerprint.empty() && !v.probe) {
      return core::fail(ErrorCode::invalid_argument, "give --fingerprint FP or --probe");
    }
    auto d = db();
    if (!d) return d.error();
    std::string fingerprint = v.fingerprint;
    if (v.probe) {
      auto probed = probeRdpCertificate(ctx, **d, v.name);
      if (!probed) return probed.error();
      fingerprint = *probed;
    }
    if (auto st = admins(**d).pinRdpCertificate(ctx.actor(), v.name, fingerprint); !st) return st;
    std::printf("%s rdp certificate pinned: sha256 %s\n", v.name.c_str(),
                core::normalizeSha256Fingerprint(fingerprint)->c_str());
    return core::Done{};
  }));
  auto* assetRm = asset->add_subcommand("remove", "Remove an asset without history");
  assetRm->add_option("name", v.name)->required();
  assetRm->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    if (auto st = admins(**d).removeAsset(ctx.actor(), v.name); !st) return st;
    std::printf("asset %s removed\n", v.name.c_str());
    return core::Done{};
  }));

  // workflow
  auto service = [&ctx](store::Database& d) -> core::Result<access::AccessService> {
    auto p = ctx.policySet();
    if (!p) return p.error();
    return access::AccessService(d, **p, ctx.clock());
  };
  auto* request = admin->add_subcommand("request", "Ask for access (use with --as VENDOR)");
  request->add_option("--asset", v.asset)->required();
  request->add_option("--protocol", v.protocols, "ssh, rdp, modbus, ... (repeatable)")->required();
  request->add_option("--start", v.start, "Window start (now, or 2026-12-01T06:00:00Z)")
      ->capture_default_str();
  request->add_option("--duration", v.duration, "Window length, e.g. 2h or 1h30m")->required();
  request->add_option("--reason", v.reason)->required();
  request->add_option("--ticket", v.ticket, "Change ticket reference");
  request->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    if (ctx.as.empty())
      return core::fail(ErrorCode::invalid_argument, "say who asks with --as USER");
    auto d = db();
    if (!d) return d.error();
    auto s = service(**d);
    if (!s) return s.error();
    core::RequestDraft draft;
    for (const auto& p : v.protocols) {
      auto proto = core::parseProtocol(p);
      if (!proto) return core::fail(ErrorCode::invalid_argument, "unknown protocol '" + p + "'");
      draft.protocols.push_back(*proto);
    }
    if (v.start == "now") {
      draft.windowStart = ctx.clock().now();
    } else {
      auto t = core::parseTime(v.start);
      if (!t)
        return core::fail(ErrorCode::invalid_argument, "cannot read --start '" + v.start + "'");
      draft.windowStart = *t;
    }
    auto dur = core::parseDuration(v.duration);
    if (!dur)
      return core::fail(ErrorCode::invalid_argument, "cannot read --duration '" + v.duration + "'");
    draft.duration = *dur;
    draft.reason = v.reason;
    draft.ticket = v.ticket;
    auto r = s->requestAccess(ctx.actor(), v.asset, draft);
    if (!r) return r.error();
    printRequest(*r);
    return core::Done{};
  }));
  auto* requests = admin->add_subcommand("requests", "List requests");
  requests->add_option("--state", v.state, "pending, approved, denied, expired or cancelled");
  requests->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    store::RequestFilter f;
    if (!v.state.empty()) {
      f.state = core::parseRequestState(v.state);
      if (!f.state)
        return core::fail(ErrorCode::invalid_argument, "unknown state '" + v.state + "'");
    }
    auto list = store::AccessRepository(**d).requests(f);
    if (!list) return list.error();
    for (const auto& r : *list) printRequest(r);
    return core::Done{};
  }));
  for (bool approve : {true, false}) {
    auto* c = admin->add_subcommand(
        approve ? "approve" : "deny",
        approve ? "Approve a request (with --as ENGINEER)" : "Deny a request (with --as ENGINEER)");
    c->add_option("id", v.id, "Request id")->required();
    auto* comment = c->add_option("--comment", v.comment);
    if (!approve) comment->required();
    c->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
      if (ctx.as.empty())
        return core::fail(ErrorCode::invalid_argument, "say who decides with --as USER");
      auto d = db();
      if (!d) return d.error();
      auto s = service(**d);
      if (!s) return s.error();
      auto r = s->vote(ctx.actor(), v.id, approve, v.comment);
      if (!r) return r.error();
      printRequest(r->request);
      if (r->grant) printGrant(*r->grant, r->request.requesterName);
      return core::Done{};
    }));
  }
  auto* cancel = admin->add_subcommand("cancel", "Cancel a pending request");
  cancel->add_option("id", v.id)->required();
  cancel->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    auto s = service(**d);
    if (!s) return s.error();
    auto r = s->cancel(ctx.actor(), v.id);
    if (!r) return r.error();
    printRequest(*r);
    return core::Done{};
  }));
  auto* grants = admin->add_subcommand("grants", "List grants");
  grants->add_option("--user", v.user);
  grants->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
    auto d = db();
    if (!d) return d.error();
    store::AccessRepository repo(**d);
    std::optional<std::int64_t> userId;
    if (!v.user.empty()) {
      auto u = repo.userByName(v.user);
      if (!u) return u.error();
      userId = u->id;
    }
    auto list = repo.grants(userId);
    if (!list) return list.error();
    for (const auto& g : *list) {
      auto u = repo.user(g.userId);
      printGrant(g, u ? u->username : "?");
    }
    return core::Done{};
  }));
  for (const char* verb : {"revoke", "suspend", "reinstate"}) {
    const std::string name = verb;
    auto* c = admin->add_subcommand(name, name == "revoke"    ? "Revoke a grant"
                                          : name == "suspend" ? "Suspend a grant"
                                                              : "Reinstate a suspended grant");
    c->add_option("id", v.id, "Grant id")->required();
    c->add_option("--reason", v.reason)->required();
    c->callback(run(exitCode, [=, &v, &ctx]() -> core::Status {
      auto d = db();
      if (!d) return d.error();
      auto s = service(**d);
      if (!s) return s.error();
      auto r = name == "revoke"    ? s->revoke(ctx.actor(), v.id, v.reason)
               : name == "suspend" ? s->suspend(ctx.actor(), v.id, v.reason)
                                   : s->reinstate(ctx.actor(), v.id, v.reason);
      if (!r) return r.error();
      printGrant(*r, "");
      return core::Done{};
    }));
  }
  auto* check = admin->add_subcommand("check", "May USER open PROTOCOL to ASSET now?");
  check->add_option("--user", v.user)->required();
  check->add_option("--asset", v.asset)->required();
  check->add_option("--protocol", v.protocols)->required()->expected(1);
  check->callback([&exitCode, &ctx, &v, db, service] {
    auto d = db();
    if (!d) {
      exitCode = fail(d.error());
      return;
    }
    auto s = service(**d);
    auto p = core::parseProtocol(v.protocols.front());
    if (!s || !p) {
      exitCode = fail(s ? core::Error{ErrorCode::invalid_argument, "unknown protocol"} : s.error());
      return;
    }
    auto r = s->checkConnect(ctx.actor(), v.user, v.asset, *p, true);
    if (!r) {
      exitCode = fail(r.error());
      return;
    }
    if (const auto* ok = std::get_if<core::AccessGranted>(&r->check)) {
      std::printf("allowed under grant %lld until %s\n", static_cast<long long>(ok->grantId),
                  core::formatTime(ok->until).c_str());
      exitCode = 0;
    } else {
      std::printf("refused: %s\n", std::get<core::AccessRefused>(r->check).reason.c_str());
      exitCode = 3;  // a clear "no", distinct from an error
    }
  });
}

}  // namespace conduit::app
