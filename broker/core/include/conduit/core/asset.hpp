#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace conduit::core {

/// How a vendor reaches an asset. tcp-based industrial protocols each have their own value so
/// that policy can be specific (read-only Modbus, no S7 downloads...).
enum class Protocol { ssh, rdp, modbus, s7, dnp3, opcua, tcp };

std::string_view protocolName(Protocol p) noexcept;
std::optional<Protocol> parseProtocol(std::string_view name) noexcept;

/// IEC 62443-style criticality of an asset; policies match on it.
enum class Criticality { low, medium, high, critical };

std::string_view criticalityName(Criticality c) noexcept;
std::optional<Criticality> parseCriticality(std::string_view name) noexcept;

/// One way into an asset.
struct Endpoint {
  std::int64_t id = 0;
  Protocol protocol = Protocol::ssh;
  std::string host;
  std::uint16_t port = 0;
  std::string account;    // ssh/rdp login the broker uses; empty for tcp
  std::string pinnedKey;  // ssh: host public key line; rdp: certificate SHA-256 fingerprint
};

/// A PLC, HMI, engineering workstation or gateway that vendors service.
struct Asset {
  std::int64_t id = 0;
  std::string name;  // unique; what vendors type (`alice+plc-17@broker`)
  std::string site;
  std::string zone;  // IEC 62443 zone name
  Criticality criticality = Criticality::medium;
  std::set<std::string> tags;
  std::string ownerGroup;  // engineer group that approves access
  int maxSessions = 1;     // fragile PLCs accept few connections
  bool disabled = false;
  std::vector<Endpoint> endpoints;

  /// The endpoint serving protocol p, if any.
  const Endpoint* endpointFor(Protocol p) const;
};

/// An RDP certificate's SHA-256 fingerprint as stored and compared: 64 lowercase hex digits.
/// Accepts what tools print (upper case, colon-separated pairs, a "sha256:" prefix); nullopt
/// for anything else.
std::optional<std::string> normalizeSha256Fingerprint(std::string_view text);

}  // namespace conduit::core
