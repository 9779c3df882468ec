// conduit: the one binary. This file is the composition root: it parses the command line and
// wires the modules; nothing else constructs collaborators it does not own.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli_context.hpp"
#include "cli_tunnel.hpp"
#include "conduit/app/config.hpp"
#include "conduit/app/data_dir.hpp"
#include "conduit/app/demo_seed.hpp"
#include "conduit/app/logging.hpp"
#include "conduit/app/serve.hpp"
#include "conduit/core/clock.hpp"
#include "conduit/store/database.hpp"

namespace {

using conduit::app::Config;

int reportError(const std::string& message) {
  std::fprintf(stderr, "conduit: %s\n", message.c_str());
  return 1;
}

int runInit(const std::filesystem::path& dataDir,
            const std::filesystem::path& passphraseFile = {}) {
  conduit::app::InitOptions options;
  if (!passphraseFile.empty()) {
    std::ifstream in(passphraseFile);
    std::string passphrase;
    if (!std::getline(in, passphrase) || passphrase.size() < 12) {
      return reportError("cannot read a passphrase of at least 12 characters from " +
                         passphraseFile.string());
    }
    options.vaultPassphrase = std::move(passphrase);
  }
  auto report = conduit::app::initDataDir(dataDir, options);
  if (!report) return reportError(report.error().message);
  std::printf("data directory %s ready (schema version %d)\n", dataDir.c_str(),
              report->schemaVersion);
  for (const auto& p : report->created) std::printf("  created %s\n", p.c_str());
  for (const auto& p : report->kept) std::printf("  kept    %s\n", p.c_str());
  std::printf("  ssh host key %s\n", report->sshHostKeyFingerprint.c_str());
  return 0;
}

int runServe(const std::filesystem::path& configFile, const std::filesystem::path& passphraseFile) {
  auto config = conduit::app::loadConfig(configFile);
  if (!config) return reportError(config.error().message);
  conduit::app::setupLogging(config->log.level);
  return conduit::app::serve(*config, {passphraseFile});
}

int runDemo(const std::filesystem::path& dataDir, std::uint16_t port) {
  if (int rc = runInit(dataDir); rc != 0) return rc;
  Config config;
  config.dataDir = std::filesystem::weakly_canonical(std::filesystem::absolute(dataDir));
  config.portal.port = port;
  {
    auto db = conduit::store::Database::open(config.dataDir / "conduit.db");
    if (!db) return reportError(db.error().message);
    const conduit::core::SystemClock clock;
    auto accounts = conduit::app::seedDemo(*db, clock, config.dataDir);
    if (!accounts) return reportError(accounts.error().message);
    std::printf("\nDemo accounts (random passwords, kept in %s/demo-accounts.txt):\n",
                config.dataDir.c_str());
    for (const auto& a : *accounts) {
      std::printf("  %-6s %-9s %s\n", a.username.c_str(), a.role.c_str(), a.password.c_str());
      if (!a.totpUri.empty()) {
        std::printf("         TOTP for the authenticator app: %s\n", a.totpUri.c_str());
      }
    }
    std::printf(
        "\nSSH gateway: alice holds an approved 4 h window to hmi-3 (the demo sshd):\n"
        "  ssh -p 2222 alice+hmi-3@127.0.0.1     (password, then the code from the app)\n");
    // The PLC is scripts/demo-targets.sh's conduit-demo-plc; the policy is the seed's rule.
    std::printf(
        "\nModbus tunnel: alice also holds an approved 4 h modbus window to %s, the simulated\n"
        "PLC on 127.0.0.1:%u (holding register i = 1000 + i). Reads of addresses 0-99 pass; each\n"
        "write waits for an engineer's approval in the portal. Leave the tunnel open in one\n"
        "shell (password, then the code) and poll in another:\n"
        "  ssh -N -L 5020:%s:%u -p 2222 alice+%s@127.0.0.1\n"
        "  mbpoll -m tcp -p 5020 -t 4 -r 1 -c 4 127.0.0.1 -1\n",
        conduit::app::kDemoPlcAsset, static_cast<unsigned>(conduit::app::kDemoPlcPort),
        conduit::app::kDemoPlcAsset, static_cast<unsigned>(conduit::app::kDemoPlcPort),
        conduit::app::kDemoPlcAsset);
    std::printf(
        "\nBrowser RDP: alice also holds an approved rdp window to ews-1, an engineering\n"
        "workstation desktop (FreeRDP's shadow server on 127.0.0.1:13389, started by\n"
        "scripts/demo-targets.sh). In the portal press \"RDP\" beside ews-1: the broker logs in\n"
        "with the password from its vault; erin can watch the desktop live and end it.\n");
    std::printf(
        "\nRDP drive: alice's rdp window to %s, a Linux operator panel (xrdp on 127.0.0.1:%u,\n"
        "started by scripts/demo-targets.sh as root), gives her session a drive: press \"Drive\"\n"
        "on its desktop page to put a file there (the panel's screen lists it) or to save the\n"
        "trend file the panel writes there every 10 s. Each file is recorded with its SHA-256.\n"
        "The panel chimes when it writes the file: click the desktop once and the page plays\n"
        "its sound (\"Mute sound\" mutes it).\n",
        conduit::app::kDemoPanelAsset, static_cast<unsigned>(conduit::app::kDemoPanelPort));
    std::printf(
        "\nIn the portal (https://127.0.0.1:%u/): sign in as alice with her password and the\n"
        "code from the app, open the terminal on hmi-3 or request another window; erin, sam,\n"
        "ann and root enrol TOTP with a QR code at their first sign-in. erin approves, watches\n"
        "and kills sessions; ann searches, replays and verifies recordings.\n",
        static_cast<unsigned>(port));
    std::printf(
        "\nTry the access workflow from a shell:\n"
        "  conduit admin --data-dir %s --as alice request --asset hmi-3 --protocol ssh "
        "--duration 1h --reason 'update HMI screens'\n"
        "  conduit admin --data-dir %s --as erin approve N --comment ok   (N: the request's "
        "number)\n"
        "  conduit audit --data-dir %s verify\n",
        config.dataDir.c_str(), config.dataDir.c_str(), config.dataDir.c_str());
  }
  conduit::app::setupLogging(config.log.level);
  std::printf(
      "\nConduit demo\n"
      "  portal:  https://127.0.0.1:%u/  (self-signed certificate: %s)\n"
      "  health:  curl -k https://127.0.0.1:%u/healthz\n"
      "  stop:    Ctrl+C\n\n",
      static_cast<unsigned>(port), (config.dataDir / "tls" / "portal.crt").c_str(),
      static_cast<unsigned>(port));
  std::fflush(stdout);
  return conduit::app::serve(config);
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the mask (see serve.hpp).
  conduit::app::blockShutdownSignals();

  CLI::App app{"Conduit: secure remote access broker for operational technology"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "conduit 0.1.0");

  std::string dataDir = "/var/lib/conduit";
  auto* init = app.add_subcommand("init", "Create or complete a data directory (idempotent)");
  init->add_option("--data-dir", dataDir, "Data directory")->capture_default_str();
  std::string initPassphraseFile;
  init->add_option("--vault-passphrase-file", initPassphraseFile,
                   "Derive the vault master key from this passphrase instead of a key file");

  std::string configFile;
  auto* serve = app.add_subcommand("serve", "Run the broker");
  serve->add_option("--config", configFile, "Configuration file (TOML)")->required();
  std::string unsealFile;
  serve->add_option("--unseal-passphrase-file", unsealFile,
                    "Passphrase of a passphrase-protected vault");

  std::string demoDir = "./var/demo";
  std::uint16_t demoPort = 8443;
  auto* demo = app.add_subcommand("demo", "Initialise a demo data directory and serve it");
  demo->add_option("--data-dir", demoDir, "Demo data directory")->capture_default_str();
  demo->add_option("--port", demoPort, "Portal port")->capture_default_str();

  int exitCode = 0;
  conduit::app::CliContext context;
  conduit::app::addAdminCommands(app, context, exitCode);
  conduit::app::addAuditCommands(app, context, exitCode);
  conduit::app::addPolicyCommands(app, context, exitCode);
  conduit::app::addVaultCommands(app, context, exitCode);
  conduit::app::addRecordingCommands(app, context, exitCode);
  conduit::app::addTunnelCommand(app, exitCode);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; usage errors exit 2, as most Unix tools do.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    return reportError(std::string("unexpected error: ") + e.what());
  }

  try {
    if (*init) return runInit(dataDir, initPassphraseFile);
    if (*serve) return runServe(configFile, unsealFile);
    if (*demo) return runDemo(demoDir, demoPort);
    return exitCode;  // set by the admin, audit and policy callbacks
  } catch (const std::exception& e) {
    return reportError(std::string("unexpected error: ") + e.what());
  }
}
