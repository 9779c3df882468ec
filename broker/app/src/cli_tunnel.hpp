#pragma once

// `conduit tunnel`: the vendor's end of the portal's WebSocket tunnel (docs/tunnels.md,
// "Tunnels without SSH: conduit tunnel").

#include <CLI/CLI.hpp>

namespace conduit::app {

/// Adds the `tunnel` subcommand; its callback runs the tunnel until SIGINT/SIGTERM and sets
/// exitCode (0 after a signal, 1 when the portal cannot be reached or refuses the token, 2 for
/// bad arguments).
void addTunnelCommand(CLI::App& app, int& exitCode);

}  // namespace conduit::app
