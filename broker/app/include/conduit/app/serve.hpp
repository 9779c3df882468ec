#pragma once

#include "conduit/app/config.hpp"

namespace conduit::app {

/// Start-up choices that are not configuration.
struct ServeOptions {
  std::filesystem::path unsealPassphraseFile;  // for a passphrase-protected vault
};

/// Runs the broker with config until SIGINT or SIGTERM, then shuts down gracefully.
/// Returns the process exit code; on a start-up failure prints one error line and returns 1.
/// A vault that cannot be unsealed is not a start-up failure: the broker runs sealed (every
/// checkout refused) and says so in the log and in /healthz.
/// The calling thread must have SIGINT and SIGTERM blocked (see blockShutdownSignals).
int serve(const Config& config, const ServeOptions& options = {});

/// Blocks SIGINT and SIGTERM in the calling thread (and threads it starts later), so that a
/// dedicated thread can take them with sigwait() instead of a signal handler.
void blockShutdownSignals();

}  // namespace conduit::app
