#pragma once

#include <cstdint>
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

/// The same confinement for the print converter (conduit-print-converter), which runs
/// Ghostscript on PostScript a target sent: no new privileges, no core dumps, 32 descriptors,
/// files up to `maxOutputBytes`, 60 s of CPU, 2 GiB of data, nobody/nogroup when started as root
/// (`ownedDir`, if not empty, handed over first), and the worker's seccomp filter plus no
/// sockets.
std::string applyConverterSandbox(const std::string& ownedDir, std::uint64_t maxOutputBytes);

}  // namespace conduit::rdp::worker
