#pragma once

#include <string>

namespace conduit::access {

/// Who asks for an operation and from where; goes into every audit event.
struct Actor {
  std::string username;  // a Conduit user, or "admin-cli" for the broker's operator on the host
  std::string source;    // client address, or "cli"
};

}  // namespace conduit::access
