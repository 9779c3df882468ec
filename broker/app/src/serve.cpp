#include "conduit/app/serve.hpp"
#include "notify_options.hpp"
#include "web_rdp.hpp"
#include "web_terminal.hpp"
#include "web_tunnel.hpp"

#include <malloc.h>
#include <prometheus/registry.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>
#include <atomic>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "conduit/access/audit_details.hpp"
#include "conduit/access/vault_service.hpp"
#include "conduit/app/data_dir.hpp"
#include "conduit/app/memory_return.hpp"
#include "conduit/app/secure_files.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/notify/notifier.hpp"
#include "conduit/policies/policy_set.hpp"
#include "conduit/portal/api.hpp"
#include "conduit/portal/health_routes.hpp"
#include "conduit/portal/metrics.hpp"
#include "conduit/portal/server.hpp"
#include "conduit/session/live_hub.hpp"
#include "conduit/ssh/gateway.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/portal_repository.hpp"
#include "gateway_backend_impl.hpp"

namespace conduit::app {

namespace {

/// conduit-rdp-worker beside the running conduit executable (where the build and installs put
/// it).
std::filesystem::path defaultRdpWorker() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "conduit-rdp-worker";
  return self.parent_path() / "conduit-rdp-worker";
}

portal::ServerOptions portalOptions(const Config& c) {
  portal::ServerOptions o;
  o.address = c.portal.address;
  o.port = c.portal.port;
  o.certificateFile = c.portal.tlsCertificate;
  o.privateKeyFile = c.portal.tlsPrivateKey;
  o.maxHeaderBytes = c.portal.maxHeaderBytes;
  o.maxBodyBytes = c.portal.maxBodyBytes;
  o.requestTimeout = std::chrono::seconds(c.portal.requestTimeoutSeconds);
  o.idleTimeout = std::chrono::seconds(c.portal.idleTimeoutSeconds);
  o.maxConnections = c.portal.maxConnections;
  o.threads = c.portal.threads;
  return o;
}

portal::ApiOptions apiOptions(const Config& c) {
  portal::ApiOptions o;
  o.loginBanner = c.ssh.loginBanner;
  o.sshHost = c.portal.publicSshHost.empty() ? c.ssh.address : c.portal.publicSshHost;
  o.sshPort = c.ssh.port;
  o.sessionLimits.idle = core::Seconds{c.portal.sessionIdleMinutes * 60};
  o.sessionLimits.absolute = core::Seconds{c.portal.sessionMaxHours * 3600};
  o.lockout = {c.auth.maxFailedLogins, core::Seconds{c.auth.lockoutSeconds}};
  o.loginAttemptsPerMinute = c.portal.loginAttemptsPerMinute;
  o.recordingsDir = DataDirLayout{c.dataDir}.recordingsDir();
  o.policyFiles = policyFiles(c);
  o.webRoot =
      c.portal.webRoot.empty() ? std::filesystem::path(CONDUIT_DEFAULT_WEB_ROOT) : c.portal.webRoot;
  return o;
}

/// Health of the pieces the broker needs; run on each /healthz request.
class HealthProbe {
 public:
  HealthProbe(store::Database db, Config config, const access::VaultService& vault)
      : db_(std::move(db)), config_(std::move(config)), vault_(vault) {}

  std::vector<portal::ComponentHealth> operator()() {
    std::vector<portal::ComponentHealth> out;
    {
      std::lock_guard lock(mutex_);
      auto version = db_.schemaVersion();
      out.push_back(
          {"database", version.ok(),
           version ? "schema version " + std::to_string(*version) : version.error().message});
    }
    const DataDirLayout layout{config_.dataDir};
    out.push_back(fileHealth("tls_private_key", config_.portal.tlsPrivateKey));
    out.push_back(fileHealth("ssh_host_key", layout.sshHostKey()));
    const bool sealed = vault_.sealed();
    out.push_back(
        {"vault", !sealed,
         sealed ? "sealed: credential checkouts are refused until it is unsealed" : "unsealed"});
    if (rotation_) {
      const auto problem = rotation_();
      out.push_back({"credential_rotation", !problem.has_value(), problem.value_or("ok")});
    }
    return out;
  }

 private:
  static portal::ComponentHealth fileHealth(const std::string& name,
                                            const std::filesystem::path& p) {
    auto st = checkPrivateFile(p);
    return {name, st.ok(), st ? "present, mode 0600" : st.error().message};
  }

  std::mutex mutex_;
  store::Database db_;
  Config config_;
  const access::VaultService& vault_;

 public:
  std::function<std::optional<std::string>()> rotation_;
};

/// Reads a line from the terminal with echo off (the operator types the vault passphrase).
std::string promptPassphrase(const char* prompt) {
  std::fputs(prompt, stderr);
  std::fflush(stderr);
  termios old{};
  const bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::fputs("\n", stderr);
  return line;
}

/// Opens the vault for this run: passphrase file if given, else the key file. Failure leaves it
/// sealed (logged at error level); the broker still starts so operators see the state.
void unsealVault(access::VaultService& vault, const Config& config, const ServeOptions& options) {
  core::Status st = core::Done{};
  if (!options.unsealPassphraseFile.empty()) {
    std::ifstream in(options.unsealPassphraseFile);
    std::string passphrase;
    std::getline(in, passphrase);
    st = in || !passphrase.empty()
             ? vault.unsealWithPassphrase(passphrase)
             : core::Status(core::fail(core::ErrorCode::unavailable,
                                       "cannot read " + options.unsealPassphraseFile.string()));
    OPENSSL_cleanse(passphrase.data(), passphrase.size());
  } else {
    auto prot = vault.passphraseProtected();
    if (!prot) {
      st = prot.error();
    } else if (*prot && ::isatty(STDIN_FILENO) == 1) {
      std::string passphrase = promptPassphrase("Vault passphrase: ");
      st = vault.unsealWithPassphrase(passphrase);
      OPENSSL_cleanse(passphrase.data(), passphrase.size());
    } else if (*prot) {
      st = core::fail(core::ErrorCode::unavailable,
                      "the vault is passphrase-protected: start with --unseal-passphrase-file "
                      "or from a terminal to be prompted");
    } else {
      st = vault.unsealWithKeyFile(config.vault.masterKeyFile);
    }
  }
  if (st) {
    spdlog::info("event=vault_unsealed");
  } else {
    spdlog::error("event=vault_sealed reason=\"{}\"", st.error().message);
  }
}

core::Status auditPolicyLoad(store::Database& db, const core::Clock& clock,
                             const std::vector<std::filesystem::path>& files, std::size_t rules) {
  std::string names;
  for (const auto& f : files) names += (names.empty() ? "" : ",") + f.filename().string();
  auto tx = store::Transaction::begin(db);
  if (!tx) return tx.error();
  auto e = store::AuditLog(db).append(
      {"system", "system", "policy", "policy.loaded", "policy", core::AuditOutcome::success,
       access::auditDetails({{"files", names}, {"rules", static_cast<std::int64_t>(rules)}})},
      clock.now());
  if (!e) return e.error();
  return tx->commit();
}

/// The configured auditor public key (validated as 64 hex digits by the config loader).
std::optional<std::array<unsigned char, 32>> auditorKey(const Config& config) {
  const auto& hex = config.recording.auditorPublicKey;
  if (hex.empty()) return std::nullopt;
  std::array<unsigned char, 32> key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return key;
}

/// The recording keys when the vault is unsealed; otherwise none, and sessions whose policy
/// requires recording are refused.
std::optional<access::RecordingKeys> openRecordingKeysOrLog(access::VaultService& vault) {
  if (vault.sealed()) return std::nullopt;
  auto keys = access::openRecordingKeys(vault);
  if (!keys) {
    spdlog::error("event=recorder_unavailable reason=\"{}\"", keys.error().message);
    return std::nullopt;
  }
  return std::move(*keys);
}

// The broker's resident memory in KiB (0 if /proc cannot say).
long residentKib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// MemoryReturn's call: glibc's malloc_trim(0) gives free pages in every arena back (see
// conduit/app/memory_return.hpp).
void returnFreedMemory() {
  const long before = residentKib();
  const auto start = std::chrono::steady_clock::now();
  malloc_trim(0);
  const auto took =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  spdlog::info("event=memory_returned rss_before_kib={} rss_after_kib={} ms={:.1f}", before,
               residentKib(), took.count());
}

}  // namespace

void blockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int serve(const Config& rawConfig, const ServeOptions& options) {
  const Config config = withDerivedPaths(rawConfig);
  if (auto st = checkDataDir(config.dataDir); !st) {
    std::fprintf(stderr, "conduit: %s\n", st.error().message.c_str());
    return 1;
  }
  store::DatabaseOptions dbOptions;
  dbOptions.create = false;
  dbOptions.busyTimeout = std::chrono::milliseconds(config.database.busyTimeoutMs);
  auto db = store::Database::open(DataDirLayout{config.dataDir}.database(), dbOptions);
  if (!db) {
    std::fprintf(stderr, "conduit: %s\n", db.error().message.c_str());
    return 1;
  }

  auto vaultDb = store::Database::open(DataDirLayout{config.dataDir}.database(), dbOptions);
  if (!vaultDb) {
    std::fprintf(stderr, "conduit: %s\n", vaultDb.error().message.c_str());
    return 1;
  }
  const core::SystemClock clock;
  access::VaultService vault(*vaultDb, clock);
  unsealVault(vault, config, options);

  // Policies: a file that does not parse stops start-up (fail closed, with file:line).
  auto policySet = policies::PolicySet::load(policyFiles(config));
  if (!policySet) {
    std::fprintf(stderr, "conduit: %s\n", policySet.error().message.c_str());
    return 1;
  }
  if (auto st = auditPolicyLoad(*vaultDb, clock, policyFiles(config), policySet->size()); !st) {
    std::fprintf(stderr, "conduit: cannot audit the policy load: %s\n", st.error().message.c_str());
    return 1;
  }

  // Sessions a previous process left open ended with it (crash or kill -9): say so.
  if (auto n = store::SessionRepository(*vaultDb).closeLeftovers(clock.now(), "broker restarted");
      n && *n > 0) {
    spdlog::warn("event=sessions_closed_at_start count={}", *n);
  }

  // Webhooks tail the audit log, so actions from the CLI, portal and gateway all notify.
  auto notifier = notify::Notifier::create(
      notifierOptions(config), DataDirLayout{config.dataDir}.database(), clock, dbOptions);
  if (!notifier) {
    std::fprintf(stderr, "conduit: notifications: %s\n", notifier.error().message.c_str());
    return 1;
  }
  (*notifier)->start();  // does nothing when no webhook is configured

  session::LiveHub liveHub;  // live sessions' output, for engineers' live view
  // Declared before the backend that tells it of every session's end.
  MemoryReturn memoryReturn({}, returnFreedMemory);
  // Writes held for an engineer's approval; declared before the gateway, whose sessions'
  // inspectors withdraw their holds when they end.
  std::optional<session::HoldBoard> holds;
  std::unique_ptr<GatewayBackendImpl> backend;
  std::unique_ptr<ssh::Gateway> gateway;
  if (config.ssh.enabled) {
    auto backendDb = store::Database::open(DataDirLayout{config.dataDir}.database(), dbOptions);
    if (!backendDb) {
      std::fprintf(stderr, "conduit: %s\n", backendDb.error().message.c_str());
      return 1;
    }
    backend = std::make_unique<GatewayBackendImpl>(
        std::move(*backendDb), *policySet, vault, clock,
        access::LockoutPolicy{config.auth.maxFailedLogins,
                              core::Seconds{config.auth.lockoutSeconds}},
        CertificatePolicy{core::Seconds{config.ssh.certificateValiditySeconds},
                          config.ssh.certificateSourceAddress},
        DataDirLayout{config.dataDir}.recordingsDir(), openRecordingKeysOrLog(vault),
        auditorKey(config));
    backend->setLiveHub(&liveHub);
    backend->setMemoryReturn(&memoryReturn);
    holds.emplace([b = backend.get()](const session::HeldWrite& w, std::string_view what,
                                      const std::string& by) { return b->auditHold(w, what, by); });
    backend->setHoldDesk(&*holds);
    ssh::GatewayOptions g;
    g.address = config.ssh.address;
    g.port = config.ssh.port;
    g.hostKeyFile = DataDirLayout{config.dataDir}.sshHostKey();
    g.loginBanner = config.ssh.loginBanner;
    g.authTimeout = std::chrono::seconds(config.ssh.authTimeoutSeconds);
    g.maxAuthAttempts = config.ssh.maxAuthAttempts;
    g.maxConnections = config.ssh.maxConnections;
    g.maxUnauthenticatedPerSource = config.ssh.maxUnauthenticatedPerSource;
    g.tunnelIdleTimeout = std::chrono::seconds(config.ssh.tunnelIdleTimeoutSeconds);
    auto started = ssh::Gateway::start(g, *backend);
    if (!started) {
      std::fprintf(stderr, "conduit: ssh gateway: %s\n", started.error().message.c_str());
      return 1;
    }
    gateway = std::move(*started);
    spdlog::info("event=ssh_listening address={} port={}", config.ssh.address, gateway->port());
  }

  auto registry = std::make_shared<prometheus::Registry>();
  portal::HttpMetrics metrics(registry);
  auto probe = std::make_shared<HealthProbe>(std::move(*db), config, vault);
  if (backend) probe->rotation_ = [b = backend.get()] { return b->rotationProblem(); };
  portal::Router router;
  portal::addHealthRoutes(
      router, [probe] { return (*probe)(); }, metrics);

  auto apiDb = store::Database::open(DataDirLayout{config.dataDir}.database(), dbOptions);
  if (!apiDb) {
    std::fprintf(stderr, "conduit: %s\n", apiDb.error().message.c_str());
    return 1;
  }
  auto portalApiOptions = apiOptions(config);
  if (gateway) portalApiOptions.sshPort = gateway->port();  // bound port (ssh.port may be 0)
  portal::PortalApi api(std::move(*apiDb), *policySet, vault, clock, std::move(portalApiOptions));
  api.setLiveHub(&liveHub);
  if (holds) api.setHoldBoard(&*holds);
  std::optional<WebTerminalLauncher> terminals;
  if (backend) api.setTerminalLauncher(&terminals.emplace(*backend));
  std::optional<WebTunnelLauncher> tunnels;  // `conduit tunnel`: /api/v1/tunnel
  if (backend) {
    api.setTunnelLauncher(&tunnels.emplace(
        *backend, WebTunnelOptions{std::chrono::seconds(config.ssh.tunnelIdleTimeoutSeconds)}));
  }
  // Browser RDP: one conduit-rdp-worker process per session (docs/rdp.md).
  std::optional<RdpBackendImpl> rdpBackend;
  std::optional<WebRdpLauncher> desktops;
  if (backend) {
    rdp::RdpSessionOptions o;
    o.workerPath = config.rdp.worker.empty() ? defaultRdpWorker() : config.rdp.worker;
    o.connectTimeout = std::chrono::seconds(config.rdp.connectTimeoutSeconds);
    o.keyframeSeconds = config.rdp.keyframeSeconds;
    rdpBackend.emplace(*backend).setLiveHub(&liveHub);
    api.setRemoteDesktopLauncher(&desktops.emplace(*rdpBackend, std::move(o)));
  }
  api.addRoutes(router);

  auto server = portal::Server::start(portalOptions(config), std::move(router), metrics);
  if (!server) {
    std::fprintf(stderr, "conduit: %s\n", server.error().message.c_str());
    return 1;
  }
  spdlog::info("event=portal_listening address={} port={} data_dir={}", config.portal.address,
               (*server)->port(), config.dataDir.string());

  // SIGINT/SIGTERM are blocked in every thread; this one takes them synchronously, so no code
  // runs in signal context at all.
  std::atomic<bool> signalled{false};
  std::thread signals([&server, &signalled, grace = config.portal.shutdownGraceSeconds] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    signalled = true;
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("event=signal_received signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      (*server)->shutdown(std::chrono::seconds(grace));
    }
  });
  (*server)->run();
  // run() normally returns after a signal; if it ended on its own, wake the signal thread.
  if (!signalled) pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  if (gateway) gateway->stop();
  (*notifier)->stop();
  spdlog::info("event=stopped");
  return 0;
}

}  // namespace conduit::app
