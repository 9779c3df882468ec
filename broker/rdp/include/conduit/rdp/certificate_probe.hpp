#pragma once

// Trust on first use as an explicit admin action (`conduit admin asset pin-rdp --probe`): one
// connection through a worker that accepts whatever certificate the target presents and
// reports its SHA-256, which the admin then pins. Never used for vendors' sessions.

#include <chrono>
#include <filesystem>
#include <span>
#include <string>

#include "conduit/core/result.hpp"
#include "conduit/rdp/worker_protocol.hpp"

namespace conduit::rdp {

/// Logs in once with `request` (learnCertificate is set here) and `password`, then
/// disconnects. The certificate's SHA-256 (64 lowercase hex digits), or the worker's failure
/// (wrong credential, host down) as unavailable.
core::Result<std::string> probeCertificate(const std::filesystem::path& worker,
                                           ConnectRequest request,
                                           std::span<const std::uint8_t> password);

}  // namespace conduit::rdp
