#pragma once

#include <string>

namespace conduit::rdp::worker {

/// Confines this process before it talks to an RDP server: no new privileges, no core dumps,
/// few descriptors, no file writes, nobody/nogroup when started as root, and a seccomp filter
/// against exec, fork, ptrace, namespaces, mounts, modules and kernel keyrings.
/// `ownedDir` (may be empty) is handed to the dropped user first. With `drive` (the session
/// redirects a drive) files up to kMaxDriveFileBytes may be written and more descriptors are
/// open, for the target's files. With `printer` (and no drive) files up to 64 KiB may be
/// written: FreeRDP's printer device keeps the printer's driver name in `ownedDir`. Returns an
/// error message (empty on success); the caller must not connect if it fails.
std::string applySandbox(const std::string& ownedDir, bool drive, bool printer);

}  // namespace conduit::rdp::worker
