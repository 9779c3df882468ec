#include "conduit/app/demo_seed.hpp"

#include <sodium.h>

#include <fstream>
#include <sstream>

#include "conduit/access/access_service.hpp"
#include "conduit/access/admin_service.hpp"
#include "conduit/access/auth_service.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/policies/policy_set.hpp"

#include <algorithm>
#include "conduit/app/secure_files.hpp"
#include "conduit/store/access_repository.hpp"
#include "conduit/store/vault_repository.hpp"

namespace conduit::app {

namespace {

std::string randomPassword() {
  // 16 characters from a 56-symbol alphabet without look-alikes: about 93 bits.
  static constexpr char kAlphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    out += kAlphabet[randombytes_uniform(sizeof kAlphabet - 1)];
  }
  return out;
}

core::Result<std::vector<DemoAccount>> readAccounts(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return core::fail(core::ErrorCode::unavailable, "cannot read " + file.string());
  std::vector<DemoAccount> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    DemoAccount a;
    if (line.rfind("# alice TOTP: ", 0) == 0 && !out.empty()) {
      out.front().totpUri = line.substr(14);
      continue;
    }
    if (fields >> a.username >> a.role >> a.password) out.push_back(a);
  }
  return out;
}

/// The policy set of <data_dir>/policies/*.toml in file-name order, as `conduit serve` loads it.
/// An unreadable set gives an empty one: the seed's requests are then refused, nothing more.
policies::PolicySet loadPolicies(const std::filesystem::path& dataDir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dataDir / "policies", ec)) {
    if (e.path().extension() == ".toml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  auto loaded = policies::PolicySet::load(files);
  if (loaded) return std::move(*loaded);
  return {};
}

std::string demoPlcPolicy() {
  return R"(# The demo's simulated PLC (`conduit demo`, scripts/demo-targets.sh): vendors reach it
# through ssh -L tunnels. The Modbus inspector passes reads of addresses 0-99, holds each write
# there until an engineer of the owner group approves it, and refuses the rest.

[[rule]]
id = "demo-plc-modbus"
description = "Demo: vendors poll the simulated PLC; every write waits for an engineer"
effect = "allow"

[rule.match]
roles = ["vendor"]
protocols = ["modbus"]
assets = [")" +
         std::string(kDemoPlcAsset) +
         R"("]

[rule.limits]
max_duration = "8h"
warning_period = "10m"
approvals = 1
recording = "required"
mfa = "required"
max_sessions_per_asset = 2   # a poller and one more tool; the demo PLC serves 8

[rule.ssh]
port_forwarding = true       # the vendor's own Modbus tools, through ssh -L

[rule.modbus]
read_only = false
writes = "approve"           # four eyes on every write
ranges = ["0-99"]            # the demo PLC's registers and coils
)";
}

/// The demo PLC once: its policy rule (unless the file exists), the asset plc-1 with a modbus
/// endpoint on 127.0.0.1:1502 and an approved 4 h modbus window for alice. Nothing if plc-1
/// exists.
core::Status seedDemoPlc(store::Database& db, const core::Clock& clock,
                         const std::filesystem::path& dataDir) {
  if (store::AccessRepository(db).assetByName(kDemoPlcAsset)) return core::Done{};
  const auto policyFile = dataDir / "policies" / kDemoPlcPolicyFile;
  if (std::filesystem::is_directory(dataDir / "policies") && !std::filesystem::exists(policyFile)) {
    if (auto st = writeNewFile(policyFile, demoPlcPolicy(), 0640); !st) return st;
  }
  access::AdminService admin(db, clock);
  core::Asset plc;
  plc.name = kDemoPlcAsset;
  plc.site = "plant-north";
  plc.zone = "cell-3";
  plc.criticality = core::Criticality::medium;
  plc.ownerGroup = "line-3-controls";
  plc.tags = {"line-3", "modbus"};
  // Two: a poller and one more tool at once; the simulated PLC itself serves eight.
  plc.maxSessions = 2;
  plc.endpoints = {{0, core::Protocol::modbus, "127.0.0.1", kDemoPlcPort, "", ""}};
  if (auto a = admin.addAsset({"demo-seed", "cli"}, plc); !a) return a.error();

  const policies::PolicySet policy = loadPolicies(dataDir);
  access::AccessService workflow(db, policy, clock);
  auto request = workflow.requestAccess({"alice", "demo-seed"}, kDemoPlcAsset,
                                        {{core::Protocol::modbus},
                                         clock.now(),
                                         core::Seconds{4 * 3600},
                                         "demo: trend line 3 process values",
                                         "DEMO-2"});
  if (!request) return request.error();
  if (auto vote = workflow.vote({"erin", "demo-seed"}, request->id, true, "demo approval"); !vote) {
    return vote.error();
  }
  return core::Done{};
}

/// On every run, what scripts/demo-targets.sh left for a demo RDP asset: its endpoint logs in
/// with the vault secret `secret` once that exists, and pins the certificate fingerprint in
/// demo-targets/`fingerprintFile` (read from the target's own certificate, not trusted on first
/// use). An endpoint an operator removed is left be.
core::Status linkDemoRdpTarget(store::Database& db, const core::Clock& clock,
                               const std::filesystem::path& dataDir, const std::string& asset,
                               const std::string& secret, const std::string& fingerprintFile) {
  access::AdminService admin(db, clock);
  const access::Actor actor{"demo-seed", "cli"};
  store::AccessRepository repo(db);
  auto found = repo.assetByName(asset);
  if (!found) return found.error();
  const core::Endpoint* ep = found->endpointFor(core::Protocol::rdp);
  if (ep == nullptr) return core::Done{};
  auto credential = repo.endpointCredential(ep->id);
  if (!credential) return credential.error();
  if (credential->empty() && store::VaultRepository(db).secret(secret)) {
    if (auto st = admin.setEndpointCredential(actor, asset, core::Protocol::rdp, secret, ""); !st) {
      return st;
    }
  }
  std::ifstream in(dataDir / "demo-targets" / fingerprintFile);
  std::string fingerprint;
  if (in >> fingerprint) {
    const auto normalized = core::normalizeSha256Fingerprint(fingerprint);
    if (normalized && *normalized != ep->pinnedKey) {
      if (auto st = admin.pinRdpCertificate(actor, asset, *normalized); !st) return st;
    }
  }
  return core::Done{};
}

// The demo's engineering workstation: scripts/demo-targets.sh runs FreeRDP's shadow server on
// 127.0.0.1 at this port (an xterm on Xvfb) with an NLA account conduit-demo, stores its per-run
// password in the vault as kDemoRdpSecret and leaves the certificate's SHA-256 in
// kDemoRdpFingerprintFile. 13389: never a real RDP server's 3389.
constexpr const char* kDemoRdpAsset = "ews-1";
constexpr std::uint16_t kDemoRdpPort = 13389;
constexpr const char* kDemoRdpAccount = "conduit-demo";
constexpr const char* kDemoRdpSecret = "ews-1/rdp";
constexpr const char* kDemoRdpFingerprintFile = "rdp.fingerprint";

/// The demo workstation: once, the asset ews-1 (an rdp endpoint on 127.0.0.1:13389) and an
/// approved 4 h rdp window for alice under the preset rule vendor-low-medium (one approval,
/// recording and MFA required). On every run, what scripts/demo-targets.sh left for it: the
/// endpoint logs in with the vault secret ews-1/rdp once it exists, and pins the certificate
/// fingerprint of demo-targets/rdp.fingerprint (the shadow server's own certificate, read from
/// its file rather than trusted on first use). Without the demo target both stay unset and
/// sessions to ews-1 are refused.
core::Status seedDemoRdp(store::Database& db, const core::Clock& clock,
                         const std::filesystem::path& dataDir) {
  access::AdminService admin(db, clock);
  const access::Actor actor{"demo-seed", "cli"};
  store::AccessRepository repo(db);
  if (!repo.assetByName(kDemoRdpAsset)) {
    core::Asset ews;
    ews.name = kDemoRdpAsset;
    ews.site = "plant-north";
    ews.zone = "cell-3";
    ews.criticality = core::Criticality::medium;
    ews.ownerGroup = "line-3-controls";
    ews.tags = {"line-3", "engineering-workstation"};
    // One: the shadow server shows a single desktop; two viewers would fight over its pointer.
    ews.maxSessions = 1;
    ews.endpoints = {{0, core::Protocol::rdp, "127.0.0.1", kDemoRdpPort, kDemoRdpAccount, ""}};
    if (auto a = admin.addAsset(actor, ews); !a) return a.error();

    const policies::PolicySet policy = loadPolicies(dataDir);
    access::AccessService workflow(db, policy, clock);
    auto request = workflow.requestAccess({"alice", "demo-seed"}, kDemoRdpAsset,
                                          {{core::Protocol::rdp},
                                           clock.now(),
                                           core::Seconds{4 * 3600},
                                           "demo: check the line 3 engineering project",
                                           "DEMO-3"});
    if (!request) return request.error();
    if (auto vote = workflow.vote({"erin", "demo-seed"}, request->id, true, "demo approval");
        !vote) {
      return vote.error();
    }
  }

  return linkDemoRdpTarget(db, clock, dataDir, kDemoRdpAsset, kDemoRdpSecret,
                           kDemoRdpFingerprintFile);
}

std::string demoPanelPolicy() {
  return R"(# The demo's Linux operator panel (`conduit demo`, scripts/demo-targets.sh): vendors open
# its desktop in the portal; the session gets a drive (files in and out, each recorded with its
# SHA-256), the clipboard both ways and the panel's sound (its chime when it writes a trend file).

[[rule]]
id = "demo-panel-rdp"
description = "Demo: vendors service the Linux panel with a session drive, the clipboard and its sound"
effect = "allow"

[rule.match]
roles = ["vendor"]
protocols = ["rdp"]
assets = [")" +
         std::string(kDemoPanelAsset) +
         R"("]

[rule.limits]
max_duration = "8h"
warning_period = "10m"
approvals = 1
recording = "required"
mfa = "required"

[rule.rdp]
drive = true
clipboard = true
audio = true
)";
}

/// The demo panel once: its policy rule (unless the file exists), the asset panel-7 (an rdp
/// endpoint on 127.0.0.1:13390) and an approved 4 h rdp window for alice. On every run, as for
/// ews-1: the vault secret panel-7/rdp and the certificate fingerprint demo-targets.sh left
/// (demo-targets/panel.fingerprint). Without the demo target (not root) sessions are refused.
core::Status seedDemoPanel(store::Database& db, const core::Clock& clock,
                           const std::filesystem::path& dataDir) {
  access::AdminService admin(db, clock);
  const access::Actor actor{"demo-seed", "cli"};
  store::AccessRepository repo(db);
  if (!repo.assetByName(kDemoPanelAsset)) {
    const auto policyFile = dataDir / "policies" / kDemoPanelPolicyFile;
    if (std::filesystem::is_directory(dataDir / "policies") &&
        !std::filesystem::exists(policyFile)) {
      if (auto st = writeNewFile(policyFile, demoPanelPolicy(), 0640); !st) return st;
    }
    core::Asset panel;
    panel.name = kDemoPanelAsset;
    panel.site = "plant-north";
    panel.zone = "cell-3";
    panel.criticality = core::Criticality::medium;
    panel.ownerGroup = "line-3-controls";
    panel.tags = {"line-3", "operator-panel"};
    panel.maxSessions = 1;  // one VNC display behind it
    panel.endpoints = {{0, core::Protocol::rdp, "127.0.0.1", kDemoPanelPort, "panel", ""}};
    if (auto a = admin.addAsset(actor, panel); !a) return a.error();
    const policies::PolicySet policy = loadPolicies(dataDir);
    access::AccessService workflow(db, policy, clock);
    auto request = workflow.requestAccess({"alice", "demo-seed"}, kDemoPanelAsset,
                                          {{core::Protocol::rdp},
                                           clock.now(),
                                           core::Seconds{4 * 3600},
                                           "demo: load the new recipe file onto the panel",
                                           "DEMO-4"});
    if (!request) return request.error();
    if (auto vote = workflow.vote({"erin", "demo-seed"}, request->id, true, "demo approval");
        !vote) {
      return vote.error();
    }
  }
  return linkDemoRdpTarget(db, clock, dataDir, kDemoPanelAsset, "panel-7/rdp", "panel.fingerprint");
}

}  // namespace

core::Result<std::vector<DemoAccount>> seedDemo(store::Database& db, const core::Clock& clock,
                                                const std::filesystem::path& dataDir) {
  const auto accountsFile = dataDir / "demo-accounts.txt";
  store::AccessRepository repo(db);
  if (repo.vendorByName("acme-automation")) {
    if (auto st = seedDemoPlc(db, clock, dataDir); !st) return st.error();
    if (auto st = seedDemoRdp(db, clock, dataDir); !st) return st.error();
    if (auto st = seedDemoPanel(db, clock, dataDir); !st) return st.error();
    return readAccounts(accountsFile);
  }
  if (sodium_init() < 0) return core::fail(core::ErrorCode::internal, "libsodium failed");

  access::AdminService admin(db, clock);
  const access::Actor actor{"demo-seed", "cli"};
  auto check = [](const auto& r) -> core::Status {
    if (!r) return r.error();
    return core::Done{};
  };
  for (auto [name, description] :
       {std::pair{"line-3-controls", "Line 3 controls engineers"},
        std::pair{"safety", "Process safety engineers (second approver on critical assets)"}}) {
    if (auto st = check(admin.addGroup(actor, {0, name, description})); !st) return st.error();
  }
  const core::TimePoint now = clock.now();
  if (auto st = check(admin.addVendor(actor, {0, "acme-automation", "service@acme.example",
                                              now + core::Seconds{365 * 86400}, false}));
      !st) {
    return st.error();
  }

  std::vector<DemoAccount> accounts;
  struct Spec {
    const char* user;
    const char* display;
    core::Role role;
    const char* vendor;
    std::set<std::string> groups;
  };
  const std::vector<Spec> specs{
      {"alice", "Alice Vendor (Acme Automation)", core::Role::vendor, "acme-automation", {}},
      {"erin", "Erin Engineer", core::Role::engineer, "", {"line-3-controls"}},
      {"sam", "Sam Safety", core::Role::engineer, "", {"safety"}},
      {"ann", "Ann Auditor", core::Role::auditor, "", {}},
      {"root", "Rita Administrator", core::Role::admin, "", {}},
  };
  for (const auto& s : specs) {
    DemoAccount a{s.user, std::string(core::roleName(s.role)), randomPassword(), ""};
    access::NewUser n{s.user, s.display, s.vendor, {s.role}, s.groups, a.password, std::nullopt};
    if (auto st = check(admin.addUser(actor, n)); !st) return st.error();
    accounts.push_back(std::move(a));
  }

  core::Asset plc;
  plc.name = "plc-17";
  plc.site = "plant-north";
  plc.zone = "cell-3";
  plc.criticality = core::Criticality::high;
  plc.ownerGroup = "line-3-controls";
  plc.tags = {"line-3", "modbus"};
  plc.maxSessions = 1;
  plc.endpoints = {{0, core::Protocol::modbus, "127.0.0.1", 15020, "", ""}};
  core::Asset hmi;
  hmi.name = "hmi-3";
  hmi.site = "plant-north";
  hmi.zone = "cell-3";
  hmi.criticality = core::Criticality::medium;
  hmi.ownerGroup = "line-3-controls";
  hmi.tags = {"line-3"};
  hmi.maxSessions = 2;
  // scripts/demo-targets.sh runs an sshd for hmi-3 and leaves its host key here to pin.
  std::string pin;
  {
    std::ifstream in(dataDir / "demo-targets" / "ssh_host_ed25519_key.pub");
    std::string type, blob;
    if (in >> type >> blob) pin = type + " " + blob;
  }
  hmi.endpoints = {{0, core::Protocol::ssh, "127.0.0.1", 2201, "conduit-demo", pin}};
  core::Asset rtu;
  rtu.name = "rtu-boiler";
  rtu.site = "plant-north";
  rtu.zone = "boiler-house";
  rtu.criticality = core::Criticality::critical;
  rtu.ownerGroup = "line-3-controls";
  rtu.tags = {"safety-instrumented"};
  rtu.endpoints = {{0, core::Protocol::ssh, "127.0.0.1", 2202, "maint", ""}};
  for (auto& a : {plc, hmi, rtu}) {
    if (auto st = check(admin.addAsset(actor, a)); !st) return st.error();
  }

  // A second factor for the demo vendor, and one approved window so the SSH gateway can be
  // tried at once; the rest of the workflow is for the visitor to drive.
  access::VaultService vault(db, clock);
  if (auto st = vault.unsealWithKeyFile(dataDir / "vault" / "master.key"); st) {
    access::AuthService auth(db, vault, clock);
    auto uri = auth.enrolTotp("demo-seed", "alice", "cli");
    if (uri) accounts.front().totpUri = *uri;
  }
  const policies::PolicySet policy = loadPolicies(dataDir);
  access::AccessService workflow(db, policy, clock);
  auto request = workflow.requestAccess({"alice", "demo-seed"}, "hmi-3",
                                        {{core::Protocol::ssh},
                                         clock.now(),
                                         core::Seconds{4 * 3600},
                                         "demo: update HMI screens",
                                         "DEMO-1"});
  if (request) (void)workflow.vote({"erin", "demo-seed"}, request->id, true, "demo approval");

  std::string text;
  for (const auto& a : accounts) text += a.username + " " + a.role + " " + a.password + "\n";
  if (!accounts.front().totpUri.empty()) text += "# alice TOTP: " + accounts.front().totpUri + "\n";
  std::error_code ec;
  std::filesystem::remove(accountsFile, ec);
  if (auto st = writeNewFile(accountsFile, text, 0600); !st) return st.error();
  // After the accounts file, so that a failure here leaves a demo that a later run can read.
  if (auto st = seedDemoPlc(db, clock, dataDir); !st) return st.error();
  if (auto st = seedDemoRdp(db, clock, dataDir); !st) return st.error();
  if (auto st = seedDemoPanel(db, clock, dataDir); !st) return st.error();
  return accounts;
}

}  // namespace conduit::app
