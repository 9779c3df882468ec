#pragma once

#include <string>

namespace conduit::app {

/// Sends logs to stderr as one line each: UTC time, level, then key=value pairs.
/// Unknown level names fall back to info (config validation rejects them earlier).
void setupLogging(const std::string& level);

}  // namespace conduit::app
