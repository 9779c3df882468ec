#pragma once

// Ports on 127.0.0.1 for the servers and listeners the tests start.

#include <cstdint>

namespace conduit::test {

/// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t freeLocalPort();

/// Waits until 127.0.0.1:port accepts a TCP connection; false after the timeout.
bool waitForTcp(std::uint16_t port, int timeoutMs);

}  // namespace conduit::test
