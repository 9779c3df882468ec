#pragma once

// The portal's browser terminals, served by the SSH edge's WebShell through the gateway backend
// (so they are checked, credentialed, recorded, watched and enforced like gateway sessions).

#include "conduit/portal/api.hpp"
#include "conduit/ssh/gateway_backend.hpp"

namespace conduit::app {

class WebTerminalLauncher final : public portal::TerminalLauncher {
 public:
  explicit WebTerminalLauncher(ssh::GatewayBackend& backend) : backend_(backend) {}

  core::Result<std::unique_ptr<portal::TerminalSession>> start(const std::string& user,
                                                               const std::string& asset,
                                                               const std::string& source, int cols,
                                                               int rows,
                                                               portal::TerminalIo io) override;

 private:
  ssh::GatewayBackend& backend_;
};

}  // namespace conduit::app
