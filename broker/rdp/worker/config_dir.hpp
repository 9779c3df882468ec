#pragma once

#include <string>

namespace conduit::rdp::worker {

/// FreeRDP 2's certificate store insists on an existing configuration directory with `certs`
/// and `server` in it, even though ExternalCertificateManagement means it never reads or
/// writes a file there. Its printer device does write there: the driver name of the printer
/// it offers (a few bytes, under `printers/`). Creates an empty private one under /tmp; empty
/// string on failure.
std::string makeConfigDir();
/// Removes it and what FreeRDP wrote there (idempotent): after the connect, or with a printer
/// once the session is over.
void removeConfigDir(const std::string& dir);

}  // namespace conduit::rdp::worker
