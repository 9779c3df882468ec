#include "gateway_backend_impl.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>

#include "conduit/access/audit_details.hpp"
#include "conduit/app/data_dir.hpp"
#include "conduit/recorder/export.hpp"
#include "conduit/recorder/manifest.hpp"
#include "conduit/recorder/reader.hpp"
#include "conduit/store/access_repository.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/portal_repository.hpp"
#include "conduit/store/recording_index.hpp"
#include "conduit/tunnel/modbus_tunnel.hpp"
#include "conduit/tunnel/s7_tunnel.hpp"
#include "conduit/vault/ssh_ca.hpp"

namespace conduit::app {

using core::ErrorCode;
using core::fail;

GatewayBackendImpl::GatewayBackendImpl(store::Database db, const policies::PolicySet& policies,
                                       access::VaultService& vault, const core::Clock& clock,
                                       access::LockoutPolicy lockout,
                                       CertificatePolicy certificates,
                                       std::filesystem::path recordingsDir,
                                       std::optional<access::RecordingKeys> recordingKeys,
                                       std::optional<std::array<unsigned char, 32>> auditorKey)
    : db_(std::move(db)),
      policies_(policies),
      vault_(vault),
      clock_(clock),
      access_(db_, policies_, clock_),
      auth_(db_, vault_, clock_, lockout),
      certificates_(std::move(certificates)),
      recordingsDir_(std::move(recordingsDir)),
      recordingKeys_(std::move(recordingKeys)),
      auditorKey_(auditorKey) {}

bool GatewayBackendImpl::isRegisteredKey(const std::string& user, const std::string& keyLine) {
  std::lock_guard lock(mutex_);
  store::AccessRepository repo(db_);
  auto u = repo.userByName(user);
  if (!u) return false;
  auto has = repo.hasSshKey(u->id, keyLine);
  return has && *has;
}

core::Status GatewayBackendImpl::authenticate(const std::string& user,
                                              const std::optional<std::string>& password,
                                              const std::string& code, const std::string& source) {
  std::lock_guard lock(mutex_);
  auto r = password ? auth_.login(user, *password, code, source)
                    : auth_.loginWithVerifiedKey(user, code, source);
  if (!r) return r.error();
  if (!r->totpEnrolled) {
    return fail(ErrorCode::permission_denied,
                "a second factor is required: enrol TOTP in the portal first");
  }
  return core::Done{};
}

ssh::GatewayDecision GatewayBackendImpl::checkAccess(const std::string& user,
                                                     const std::string& asset,
                                                     core::Protocol protocol,
                                                     const std::string& source) {
  return decide(user, asset, protocol, source, true);
}

ssh::GatewayDecision GatewayBackendImpl::recheckAccess(const std::string& user,
                                                       const std::string& asset,
                                                       core::Protocol protocol,
                                                       const std::string& source) {
  return decide(user, asset, protocol, source, false);
}

ssh::GatewayDecision GatewayBackendImpl::decide(const std::string& user, const std::string& asset,
                                                core::Protocol protocol, const std::string& source,
                                                bool auditRefusal) {
  std::lock_guard lock(mutex_);
  auto r = access_.checkConnect({user, source}, user, asset, protocol, true, auditRefusal);
  if (!r) return ssh::GatewayRefuse{r.error().message};
  if (const auto* no = std::get_if<core::AccessRefused>(&r->check)) {
    return ssh::GatewayRefuse{no->reason};
  }
  const auto& ok = std::get<core::AccessGranted>(r->check);
  if (ok.limits.recordingRequired && !recordingKeys_) {
    // Fail closed: never run a session unrecorded that policy says must be recorded.
    return ssh::GatewayRefuse{"policy requires recording and the recorder is not available"};
  }
  return ssh::GatewayAllow{ok.grantId, ok.until, ok.limits, protocol};
}

namespace {

/// Protocols an `ssh -L` tunnel may reach: an asset's tcp endpoints, never its ssh or rdp
/// endpoints (those sessions are relayed, with credentials injected and recorded as such).
bool tunnelProtocol(core::Protocol p) {
  return p != core::Protocol::ssh && p != core::Protocol::rdp;
}

std::string noForwarding(core::Protocol p, const std::string& asset) {
  return "the policy for " + std::string(core::protocolName(p)) + " to " + asset +
         " does not allow tunnels, by ssh -L or conduit tunnel (ssh.port_forwarding)";
}

/// One of an asset's concurrent tunnel connections; gives it back when the tunnel ends.
struct AssetSlot {
  explicit AssetSlot(std::function<void()> r) : release(std::move(r)) {}
  std::function<void()> release;
  AssetSlot(const AssetSlot&) = delete;
  AssetSlot& operator=(const AssetSlot&) = delete;
  ~AssetSlot() { release(); }
};

}  // namespace

void GatewayBackendImpl::auditSession(const core::AuditDraft& draft) {
  std::lock_guard lock(mutex_);
  auto tx = store::Transaction::begin(db_);
  if (!tx) return;
  if (store::AuditLog(db_).append(draft, clock_.now())) (void)tx->commit();
}

core::Status GatewayBackendImpl::auditHold(const session::HeldWrite& w, std::string_view what,
                                           const std::string& by) {
  std::lock_guard lock(mutex_);
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  const core::AuditDraft draft{by.empty() ? "system" : by,
                               "gateway",
                               "session",
                               "tunnel.write_" + std::string(what),
                               "asset:" + w.context.asset,
                               what == "held" || what == "approved" ? core::AuditOutcome::success
                                                                    : core::AuditOutcome::failure,
                               access::auditDetails({{"session", w.context.sessionId},
                                                     {"vendor", w.context.user},
                                                     {"protocol", w.context.protocol},
                                                     {"hold", static_cast<std::int64_t>(w.id)},
                                                     {"request", w.details}})};
  if (auto st = store::AuditLog(db_).append(draft, clock_.now()); !st) return st.error();
  return tx->commit();
}

ssh::GatewayDecision GatewayBackendImpl::checkLogin(const std::string& user,
                                                    const std::string& asset,
                                                    const std::string& source) {
  bool hasSsh = true;
  std::vector<core::Protocol> tunnels;
  {
    std::lock_guard lock(mutex_);
    if (auto a = store::AccessRepository(db_).assetByName(asset)) {
      hasSsh = a->endpointFor(core::Protocol::ssh) != nullptr;
      for (const auto& e : a->endpoints) {
        if (tunnelProtocol(e.protocol) &&
            std::find(tunnels.begin(), tunnels.end(), e.protocol) == tunnels.end()) {
          tunnels.push_back(e.protocol);
        }
      }
    }
  }
  if (hasSsh || tunnels.empty()) return decide(user, asset, core::Protocol::ssh, source, true);
  // No ssh endpoint (a PLC): a tunnels-only login under the grant of one of its tcp
  // endpoints' protocols whose policy allows tunnels. Each tunnel is decided on its own later.
  std::optional<ssh::GatewayRefuse> first;
  for (const core::Protocol p : tunnels) {
    ssh::GatewayDecision d = decide(user, asset, p, source, false);
    if (const auto* ok = std::get_if<ssh::GatewayAllow>(&d)) {
      if (ok->limits.ssh.portForwarding) return d;
      if (!first) first = ssh::GatewayRefuse{noForwarding(p, asset)};
    } else if (!first) {
      first = std::get<ssh::GatewayRefuse>(d);
    }
  }
  auditSession({user, source, "access", "connect.refused", "asset:" + asset,
                core::AuditOutcome::failure,
                access::auditDetails({{"user", user},
                                      {"protocol", std::string(core::protocolName(tunnels[0]))},
                                      {"reason", first->reason}})});
  return *first;
}

ssh::TunnelDecision GatewayBackendImpl::openTunnel(const ssh::TunnelRequest& r) {
  auto refuse = [&](const std::string& why,
                    std::optional<core::Protocol> p = std::nullopt) -> ssh::TunnelDecision {
    auditTunnelRefused(r, why, p ? std::string(core::protocolName(*p)) : std::string("-"));
    return ssh::GatewayRefuse{why};
  };
  // HOST must name an asset: the broker never connects to an address the vendor chose.
  std::optional<core::Asset> asset;
  {
    std::lock_guard lock(mutex_);
    if (auto a = store::AccessRepository(db_).assetByName(r.host); a && a->name == r.host) {
      asset = std::move(*a);
    }
  }
  if (!asset) {
    return refuse(r.host + " is not an asset; name one, e.g. -L LOCALPORT:" + r.loginAsset +
                  ":PORT");
  }
  // Only the login's asset: the session's registry row, its recording, its kill button and
  // its approvers are that asset's. A tunnel to another asset is another login.
  if (r.host != r.loginAsset) {
    return refuse("this login reaches only " + r.loginAsset + "; log in as " + r.user + "+" +
                  r.host + " for " + r.host);
  }
  const core::Endpoint* endpoint = nullptr;
  std::string ports;
  for (const auto& e : asset->endpoints) {
    if (!tunnelProtocol(e.protocol)) continue;
    ports += (ports.empty() ? "" : ", ") + std::to_string(e.port) + " (" +
             std::string(core::protocolName(e.protocol)) + ")";
    if (endpoint == nullptr && e.port == r.port) endpoint = &e;
  }
  if (endpoint == nullptr) {
    return refuse(r.host + " has no tunnel endpoint on port " + std::to_string(r.port) +
                  (ports.empty() ? "; it has none" : "; ports: " + ports));
  }
  const ssh::GatewayDecision d = decide(r.user, r.host, endpoint->protocol, r.source, false);
  if (const auto* no = std::get_if<ssh::GatewayRefuse>(&d)) {
    return refuse(no->reason, endpoint->protocol);
  }
  const auto& allow = std::get<ssh::GatewayAllow>(d);
  if (!allow.limits.ssh.portForwarding) {
    return refuse(noForwarding(endpoint->protocol, r.host), endpoint->protocol);
  }
  // Fragile PLCs accept few connections: counted per asset across every vendor's tunnels.
  const int limit = allow.limits.maxSessionsPerAsset.value_or(asset->maxSessions);
  std::shared_ptr<void> slot;
  {
    std::lock_guard lock(mutex_);
    int& open = tunnelsPerAsset_[asset->name];
    if (open < limit) {
      ++open;
      slot = std::make_shared<AssetSlot>([this, name = asset->name] {
        {
          std::lock_guard l(mutex_);
          if (--tunnelsPerAsset_[name] <= 0) tunnelsPerAsset_.erase(name);
          ++slotsFreed_;
        }
        slotFreed_.notify_all();
      });
    } else if (open == 0) {
      tunnelsPerAsset_.erase(asset->name);
    }
  }
  if (!slot) {
    const std::string why = r.host + " accepts at most " + std::to_string(limit) +
                            " connection(s) at once, and that many are open";
    if (r.waitForSlot) return ssh::GatewayRefuse{why, true};  // asked again: audited then
    return refuse(why, endpoint->protocol);
  }
  auditSession(
      {r.user, r.source, "session", "tunnel.opened", "asset:" + r.host, core::AuditOutcome::success,
       access::auditDetails({{"session", r.sessionId},
                             {"protocol", std::string(core::protocolName(endpoint->protocol))},
                             {"port", static_cast<std::int64_t>(endpoint->port)},
                             {"endpoint", endpoint->host + ":" + std::to_string(endpoint->port)},
                             {"originator", r.originator + ":" + std::to_string(r.originatorPort)},
                             {"grant", allow.grantId}})});
  ssh::TunnelTarget target;
  target.asset = asset->name;
  target.protocol = endpoint->protocol;
  target.host = endpoint->host;
  target.port = endpoint->port;
  target.allow = allow;
  target.slot = std::move(slot);
  target.inspector = inspectorFor(r, *endpoint, allow);
  return target;
}

std::unique_ptr<tunnel::TunnelInspector> GatewayBackendImpl::inspectorFor(
    const ssh::TunnelRequest& r, const core::Endpoint& endpoint, const ssh::GatewayAllow& allow) {
  switch (endpoint.protocol) {
    case core::Protocol::modbus: {
      tunnel::ModbusTunnelSetup setup;
      setup.options = allow.limits.modbus;
      setup.desk = holdDesk_;
      setup.context = tunnel::HoldContext{r.sessionId, r.user, r.host, "modbus"};
      if (const int rate = allow.limits.modbus.maxRequestsPerSecond; rate > 0) {
        std::lock_guard lock(mutex_);
        auto& budget = budgets_[r.host];
        if (!budget) budget = std::make_shared<tunnel::RequestBudget>(rate);
        budget->setRate(rate);
        setup.budget = budget;
      }
      return std::make_unique<tunnel::ModbusTunnelInspector>(std::move(setup));
    }
    case core::Protocol::s7:
      return std::make_unique<tunnel::S7TunnelInspector>(allow.limits.s7);
    default:
      // Generic tcp (and protocols without an inspector yet): bytes pass unchanged, recorded.
      return nullptr;
  }
}

std::uint64_t GatewayBackendImpl::slotsFreed() {
  std::lock_guard lock(mutex_);
  return slotsFreed_;
}

void GatewayBackendImpl::awaitFreedSlot(std::uint64_t seen,
                                        std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mutex_);
  slotFreed_.wait_until(lock, until, [&] { return slotsFreed_ != seen; });
}

void GatewayBackendImpl::tunnelAbandoned(const ssh::TunnelRequest& r, const std::string& reason) {
  auditTunnelRefused(r, reason, "-");
}

void GatewayBackendImpl::auditTunnelRefused(const ssh::TunnelRequest& r, const std::string& why,
                                            const std::string& protocol) {
  auditSession({r.user, r.source, "session", "tunnel.refused", "session:" + r.sessionId,
                core::AuditOutcome::failure,
                access::auditDetails({{"asset", r.host},
                                      {"port", static_cast<std::int64_t>(r.port)},
                                      {"protocol", protocol},
                                      {"reason", why}})});
}

void GatewayBackendImpl::tunnelClosed(const ssh::TunnelRequest& r, const ssh::TunnelTarget& t,
                                      const std::string& reason, std::uint64_t bytesToTarget,
                                      std::uint64_t bytesToVendor) {
  auditSession(
      {r.user, r.source, "session", "tunnel.closed", "asset:" + t.asset,
       core::AuditOutcome::success,
       access::auditDetails({{"session", r.sessionId},
                             {"protocol", std::string(core::protocolName(t.protocol))},
                             {"port", static_cast<std::int64_t>(t.port)},
                             {"reason", reason},
                             {"bytes_to_target", static_cast<std::int64_t>(bytesToTarget)},
                             {"bytes_to_vendor", static_cast<std::int64_t>(bytesToVendor)}})});
}

std::vector<ssh::GrantedAsset> GatewayBackendImpl::grantedAssets(const std::string& user) {
  std::lock_guard lock(mutex_);
  store::AccessRepository repo(db_);
  std::vector<ssh::GrantedAsset> out;
  auto u = repo.userByName(user);
  if (!u) return out;
  auto grants = repo.grants(u->id);
  if (!grants) return out;
  const auto now = clock_.now();
  for (const auto& g : *grants) {
    if (g.state != core::GrantState::active || now < g.notBefore || g.notAfter <= now) continue;
    // Only grants the gateway can use: ssh, or a tunnel protocol (never rdp alone).
    if (std::none_of(g.protocols.begin(), g.protocols.end(),
                     [](core::Protocol p) { return p != core::Protocol::rdp; })) {
      continue;
    }
    auto same = std::find_if(out.begin(), out.end(),
                             [&](const ssh::GrantedAsset& a) { return a.name == g.assetName; });
    if (same == out.end()) {
      out.push_back({g.assetName, g.notAfter});
    } else if (same->until < g.notAfter) {
      same->until = g.notAfter;
    }
  }
  return out;
}

core::Result<ssh::TargetPlan> GatewayBackendImpl::prepareTarget(const std::string& user,
                                                                const std::string& asset,
                                                                const std::string& sessionId,
                                                                const std::string& source) {
  std::lock_guard lock(mutex_);
  store::AccessRepository repo(db_);
  auto a = repo.assetByName(asset);
  if (!a) return a.error();
  const core::Endpoint* ep = a->endpointFor(core::Protocol::ssh);
  if (ep == nullptr) return fail(ErrorCode::not_found, "the asset has no ssh endpoint");
  ssh::TargetPlan plan;
  plan.endpoint = ssh::TargetEndpoint{ep->host, ep->port, ep->account, ep->pinnedKey};
  sessions_[sessionId] = {user, asset};
  auto stored = repo.endpointCredential(ep->id);
  if (!stored) return stored.error();
  const access::Actor actor{user, source};
  if (!stored->empty()) {
    auto lease = vault_.checkout(actor, *stored, "ssh session " + sessionId + " to " + asset);
    if (!lease) return lease.error();
    auto record = store::VaultRepository(db_).secret(*stored);
    if (!record) return record.error();
    auto rotation = store::VaultRepository(db_).endpointRotationCommand(ep->id);
    if (!rotation) return rotation.error();
    auto held = std::make_shared<access::CredentialLease>(std::move(*lease));
    if (record->kind == "ssh_private_key") {
      plan.credential = ssh::KeyCredential{
          vault::PrivateKey::fromBytes({held->value().data(), held->value().size()})};
    } else {
      plan.credential = ssh::PasswordCredential{
          vault::Password::fromBytes({held->value().data(), held->value().size()})};
      // A shared account's password the vendor might have seen is changed after the session,
      // while the exclusive lease still keeps everyone else out.
      if (record->exclusive && !rotation->empty()) {
        plan.afterSession = [this, endpoint = plan.endpoint, name = *stored, command = *rotation,
                             held, sessionId] {
          rotateStoredPassword(endpoint, name, command, *held, sessionId);
        };
      }
    }
    plan.hold = held;
    return plan;
  }
  // Just-in-time certificate: a fresh key pair for this session, signed by the CA in the vault.
  auto caLease = vault_.checkout(actor, kSshCaSecret, "mint certificate for session " + sessionId);
  if (!caLease) return caLease.error();
  vault::Ed25519KeyPair ca;
  ca.secretKey = vault::PrivateKey::fromBytes({caLease->value().data(), caLease->value().size()});
  if (ca.secretKey.size() != vault::kEd25519SecretKeyBytes) {
    return fail(ErrorCode::corrupt, "the SSH CA key in the vault has a bad size");
  }
  std::copy_n(ca.secretKey.reveal().begin() + 32, 32, ca.publicKey.begin());
  auto subject = vault::generateEd25519();
  if (!subject) return subject.error();
  vault::CertificateRequest req;
  req.subjectPublicKey = subject->publicKey;
  req.keyId = sessionId;
  randombytes_buf(&req.serial, sizeof req.serial);
  req.principals = {ep->account};
  const auto now = clock_.now();
  // From one minute ago: the target's clock may be a little behind ours.
  req.validAfter = now - core::Seconds{60};
  req.validBefore = now + certificates_.validity;
  if (!certificates_.sourceAddress.empty()) req.sourceAddress = certificates_.sourceAddress;
  req.permitPty = true;
  req.permitPortForwarding = false;
  auto cert = vault::signUserCertificate(req, ca);
  if (!cert) return cert.error();
  auto keyText = vault::openSshPrivateKeyText(*subject, sessionId);
  if (!keyText) return keyText.error();
  plan.credential = ssh::CertificateCredential{std::move(*keyText), cert->line};
  return plan;
}

core::Result<std::unique_ptr<recorder::RecordingWriter>> GatewayBackendImpl::openRecording(
    const std::string& sessionId, const ssh::GatewayAllow& allow) {
  if (!allow.limits.recordingRequired) return std::unique_ptr<recorder::RecordingWriter>();
  if (!recordingKeys_) {
    return fail(ErrorCode::unavailable,
                "policy requires recording and the recorder is not available");
  }
  std::error_code ec;
  std::filesystem::create_directories(recordingsDir_, ec);
  std::filesystem::permissions(recordingsDir_, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  recorder::WriterOptions o;
  o.file = recordingsDir_ / (sessionId + ".crec");
  o.sessionId = sessionId;
  if (auditorKey_) {
    // Encryption to auditors: the stream key is also sealed to their public key.
    auto auditor = recorder::SealedBoxKeyWrapper::forPublicKey(*auditorKey_);
    return recorder::RecordingWriter::create(std::move(o), *recordingKeys_->wrapper, &auditor);
  }
  return recorder::RecordingWriter::create(std::move(o), *recordingKeys_->wrapper);
}

core::Status GatewayBackendImpl::closeRecording(const std::string& sessionId,
                                                recorder::RecordingWriter& recording) {
  auto manifest = recording.close(*recordingKeys_->signer);
  // Full-text and seek indexes: read the sealed recording back once and index its terminal
  // text and commands (keystrokes only where they were recorded, i.e. where policy allowed)
  // and its seek points with the terminal screen at each. Without the lock: reading a large
  // recording takes seconds, and every login and every session's access check needs the lock.
  std::vector<std::pair<std::uint64_t, std::string>> lines;
  std::vector<store::RecordingSeekPoint> seek;
  if (manifest) {
    const recorder::StreamKeyWrapper* keys[] = {recordingKeys_->wrapper.get()};
    recorder::RecordingReader reader(recordingsDir_ / manifest->fileName, keys);
    auto indexed = recorder::indexRecording(reader);
    for (auto& l : indexed.lines) lines.emplace_back(l.timeUs, std::move(l.text));
    for (auto& k : indexed.keyframes) {
      seek.push_back({k.point.messageIndex, k.point.atUs, k.point.offset, std::move(k.screen)});
    }
  }
  std::unique_lock lock(mutex_);
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  if (!manifest) {
    auto e = store::AuditLog(db_).append(
        {"system", "system", "session", "recording.failed", "session:" + sessionId,
         core::AuditOutcome::failure, access::auditDetails({{"reason", manifest.error().message}})},
        clock_.now());
    if (e) (void)tx->commit();
    return manifest.error();
  }
  const auto digest = recorder::manifestDigest(*manifest);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, digest.data(), digest.size());
  std::string user, asset;
  if (auto it = sessions_.find(sessionId); it != sessions_.end()) {
    user = it->second.first;
    asset = it->second.second;
    sessions_.erase(it);
  }
  if (auto st = store::RecordingIndex(db_).add(
          {sessionId, manifest->fileName, user, asset, clock_.now(), hex}, {});
      !st) {
    return st;
  }
  if (auto st = store::RecordingIndex(db_).addSeekPoints(sessionId, seek); !st) return st;
  // Complete once the last of the text's transactions commits (indexText).
  std::int64_t generation = 0;
  if (!lines.empty()) {
    auto g = store::RecordingIndex(db_).startTextIndex(sessionId);
    if (!g) return g.error();
    generation = *g;
  }
  // The manifest's digest in the hash chain: a replaced or re-signed recording no longer
  // matches what the audit trail says was sealed.
  auto e = store::AuditLog(db_).append(
      {"system", "system", "session", "recording.sealed", "session:" + sessionId,
       core::AuditOutcome::success,
       access::auditDetails({{"file", manifest->fileName},
                             {"manifest_blake2b", std::string(hex)},
                             {"bytes_recorded", static_cast<std::int64_t>(manifest->bytesIn)}})},
      clock_.now());
  if (!e) return e.error();
  if (auto st = tx->commit(); !st) return st;
  lock.unlock();
  return indexText(sessionId, lines, generation);
}

core::Status GatewayBackendImpl::indexText(
    const std::string& sessionId, const std::vector<std::pair<std::uint64_t, std::string>>& lines,
    std::int64_t generation) {
  if (lines.empty()) return core::Done{};
  // The lock is released between the transactions: every login and every session's access
  // check waits for it.
  auto st = store::indexTextInChunks(
      db_, sessionId, lines, store::kTextLinesPerTransaction,
      [this] { return std::unique_lock(mutex_); }, generation);
  // Deleted meanwhile, or reindexed by an operator (that run adds every line): nothing missing.
  if (!st && (st.error().code == ErrorCode::not_found || st.error().code == ErrorCode::conflict)) {
    return core::Done{};
  }
  if (!st) {
    // Sealed and anchored already: only the search index misses lines, and says so.
    return fail(st.error().code,
                "sealed, but its text index is incomplete (`conduit recording reindex " +
                    sessionId + "` completes it): " + st.error().message);
  }
  return core::Done{};
}

core::Result<rdp::RdpTargetPlan> GatewayBackendImpl::prepareRdpTarget(const std::string& user,
                                                                      const std::string& asset,
                                                                      const std::string& sessionId,
                                                                      const std::string& source) {
  std::lock_guard lock(mutex_);
  store::AccessRepository repo(db_);
  auto a = repo.assetByName(asset);
  if (!a) return a.error();
  const core::Endpoint* ep = a->endpointFor(core::Protocol::rdp);
  if (ep == nullptr) return fail(ErrorCode::not_found, asset + " has no rdp endpoint");
  auto stored = repo.endpointCredential(ep->id);
  if (!stored) return stored.error();
  if (stored->empty()) {
    return fail(ErrorCode::conflict, "no password is stored for the rdp endpoint of " + asset +
                                         "; an administrator must store one in the vault");
  }
  rdp::RdpTargetPlan plan;
  plan.host = ep->host;
  plan.port = ep->port;
  plan.certificateSha256 = ep->pinnedKey;
  // DOMAIN\user: Windows accounts in a domain.
  if (const auto slash = ep->account.find('\\'); slash != std::string::npos) {
    plan.domain = ep->account.substr(0, slash);
    plan.username = ep->account.substr(slash + 1);
  } else {
    plan.username = ep->account;
  }
  auto lease =
      vault_.checkout({user, source}, *stored, "rdp session " + sessionId + " to " + asset);
  if (!lease) return lease.error();
  auto held = std::make_shared<access::CredentialLease>(std::move(*lease));
  plan.password = vault::Password::fromBytes({held->value().data(), held->value().size()});
  plan.hold = held;
  return plan;  // sessions_ gets the session once it starts (sessionStarted)
}

void GatewayBackendImpl::auditRotation(const std::string& type, core::AuditOutcome outcome,
                                       const std::string& name, const std::string& sessionId,
                                       const std::string& detail) {
  std::lock_guard lock(mutex_);
  auto tx = store::Transaction::begin(db_);
  if (!tx) return;
  auto e = store::AuditLog(db_).append(
      {"system", "system", "credential", type, "secret:" + name, outcome,
       access::auditDetails({{"session", sessionId}, {"detail", detail}})},
      clock_.now());
  if (e) (void)tx->commit();
}

void GatewayBackendImpl::rotateStoredPassword(const ssh::TargetEndpoint& endpoint,
                                              const std::string& name, const std::string& command,
                                              const access::CredentialLease& current,
                                              const std::string& sessionId) {
  const access::Actor system{"system", "rotation"};
  const vault::Password next = ssh::generatePassword();
  auto fail = [&](const std::string& why) {
    // Failures are loud: error log, audit event, and /healthz until a rotation succeeds.
    spdlog::error("event=credential_rotation_failed secret={} session={} reason=\"{}\"", name,
                  sessionId, why);
    auditRotation("credential.rotation_failed", core::AuditOutcome::failure, name, sessionId, why);
    std::lock_guard lock(healthMutex_);
    rotationFailure_ = "rotation of " + name + " failed: " + why;
  };
  // The new password goes into the vault before the target changes, under a pending name, so
  // that no failure can leave a password only in memory.
  const std::string pending = name + ".rotation-pending";
  if (auto st = vault_.put(system, pending, "password", next.reveal(), false,
                           "new password for " + name + " while it is being rotated");
      !st) {
    return fail("cannot store the new password: " + st.error().message);
  }
  auto session = ssh::connectTarget(
      endpoint, ssh::PasswordCredential{
                    vault::Password::fromBytes({current.value().data(), current.value().size()})});
  if (!session) return fail("cannot log in with the current password: " + session.error().message);
  if (auto st = ssh::rotatePassword(endpoint, *session, next, command); !st) {
    return fail(st.error().message + " (the new password is kept as " + pending + ")");
  }
  if (auto st = vault_.put(system, name, "password", next.reveal(), true,
                           "rotated after session " + sessionId);
      !st) {
    return fail("the target has the new password but the vault could not store it; it is in " +
                pending);
  }
  (void)vault_.remove(system, pending);
  auditRotation("credential.rotated", core::AuditOutcome::success, name, sessionId, command);
  spdlog::info("event=credential_rotated secret={} session={}", name, sessionId);
  std::lock_guard lock(healthMutex_);
  rotationFailure_.clear();
}

std::optional<std::string> GatewayBackendImpl::rotationProblem() const {
  std::lock_guard lock(healthMutex_);
  if (rotationFailure_.empty()) return std::nullopt;
  return rotationFailure_;
}

void GatewayBackendImpl::targetFailed(const std::string& user, const std::string& asset,
                                      const std::string& source, const std::string& reason) {
  std::lock_guard lock(mutex_);
  auto tx = store::Transaction::begin(db_);
  if (!tx) return;
  auto e = store::AuditLog(db_).append(
      {user, source, "session", "target.connect_failed", "asset:" + asset,
       core::AuditOutcome::failure, access::auditDetails({{"reason", reason}})},
      clock_.now());
  if (e) (void)tx->commit();
  spdlog::warn("event=target_connect_failed user={} asset={} reason=\"{}\"", user, asset, reason);
}

void GatewayBackendImpl::sessionStarted(const std::string& sessionId, const std::string& user,
                                        const std::string& asset, const std::string& source,
                                        const ssh::GatewayAllow& allow) {
  if (liveHub_ != nullptr) liveHub_->started(sessionId);
  std::lock_guard lock(mutex_);
  sessions_[sessionId] = {user, asset};  // also for tunnels-only logins (no prepareTarget)
  auto tx = store::Transaction::begin(db_);
  if (!tx) return;
  // The live registry the portal shows and kills from (CIP-005 R2.4/R2.5).
  store::SessionRow row;
  row.id = sessionId;
  row.user = user;
  row.asset = asset;
  // The protocol the session was decided for: ssh, or a tunnel's protocol (modbus, s7, tcp)
  // for tunnels-only logins and the portal's WebSocket tunnels.
  row.protocol = std::string(core::protocolName(allow.protocol));
  row.source = source;
  row.grantId = allow.grantId;
  row.startedAt = clock_.now();
  row.until = allow.until;
  if (auto st = store::SessionRepository(db_).started(row); !st) {
    spdlog::error("event=session_registry_failed session={} error=\"{}\"", sessionId,
                  st.error().message);
  }
  auto e = store::AuditLog(db_).append(
      {user, source, "session", "session.started", "session:" + sessionId,
       core::AuditOutcome::success,
       access::auditDetails({{"asset", asset}, {"protocol", row.protocol}})},
      clock_.now());
  if (e) (void)tx->commit();
  // Every protocol's sessions (browser RDP logs its details apart: event=rdp_session_started).
  spdlog::info("event=session_started session={} user={} asset={} source={} protocol={}", sessionId,
               user, asset, source, row.protocol);
}

void GatewayBackendImpl::terminalOutput(const std::string& sessionId, std::string_view bytes) {
  if (liveHub_ != nullptr) liveHub_->publish(sessionId, bytes);
}

void GatewayBackendImpl::fileEvent(const std::string& sessionId, const std::string& json) {
  if (liveHub_ != nullptr) liveHub_->publishText(sessionId, json);
}

void GatewayBackendImpl::sessionEnded(const std::string& sessionId, const std::string& reason,
                                      std::uint64_t bytesToTarget, std::uint64_t bytesToVendor) {
  if (liveHub_ != nullptr) liveHub_->ended(sessionId, reason);
  if (memoryReturn_ != nullptr) memoryReturn_->sessionEnded();
  std::lock_guard lock(mutex_);
  sessions_.erase(sessionId);  // closeRecording, which needs it, has run by now
  auto tx = store::Transaction::begin(db_);
  if (!tx) return;
  (void)store::SessionRepository(db_).ended(sessionId, clock_.now(), reason,
                                            static_cast<std::int64_t>(bytesToTarget),
                                            static_cast<std::int64_t>(bytesToVendor));
  auto e = store::AuditLog(db_).append(
      {"system", "system", "session", "session.ended", "session:" + sessionId,
       core::AuditOutcome::success,
       access::auditDetails({{"reason", reason},
                             {"bytes_to_target", static_cast<std::int64_t>(bytesToTarget)},
                             {"bytes_to_vendor", static_cast<std::int64_t>(bytesToVendor)}})},
      clock_.now());
  if (e) (void)tx->commit();
  spdlog::info("event=session_ended session={} reason=\"{}\"", sessionId, reason);
}

}  // namespace conduit::app
