#pragma once

#include <string>

namespace conduit::ssh {

/// Reason lines and host names from the vendor are echoed to terminals and logs: no control
/// characters, no quotes that would break a log field, and not too long.
inline std::string printable(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f || c == '"') ? '?' : c;
  }
  return out;
}

}  // namespace conduit::ssh
