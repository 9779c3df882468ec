#pragma once

#include <string>

namespace conduit::rdp::worker {

/// FreeRDP 2's certificate store insists on an existing configuration directory with `certs`
/// and `server` in it, even though ExternalCertificateManagement means it never reads or
/// writes a file there. Creates an empty private one under /tmp; empty string on failure.
std::string makeConfigDir();
/// Removes it (idempotent); FreeRDP needs it only while freerdp_connect runs.
void removeConfigDir(const std::string& dir);

}  // namespace conduit::rdp::worker
