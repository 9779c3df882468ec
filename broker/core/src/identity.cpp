#include "conduit/core/identity.hpp"
#include "conduit/core/access_limits.hpp"
#include "conduit/core/asset.hpp"

namespace conduit::core {

std::string_view roleName(Role role) noexcept {
  switch (role) {
    case Role::vendor:
      return "vendor";
    case Role::engineer:
      return "engineer";
    case Role::auditor:
      return "auditor";
    case Role::admin:
      return "admin";
  }
  return "vendor";
}

std::optional<Role> parseRole(std::string_view name) noexcept {
  for (Role r : {Role::vendor, Role::engineer, Role::auditor, Role::admin}) {
    if (roleName(r) == name) return r;
  }
  return std::nullopt;
}

std::optional<std::string> userInactiveReason(const User& user, const VendorOrg* vendor,
                                              TimePoint now) {
  if (user.disabled) return "user " + user.username + " is disabled";
  if (user.expiresAt && now >= *user.expiresAt) return "user " + user.username + " has expired";
  if (vendor != nullptr) {
    if (vendor->disabled) return "vendor " + vendor->name + " is disabled";
    if (vendor->contractEnd && now >= *vendor->contractEnd) {
      return "the contract of vendor " + vendor->name + " has ended";
    }
  }
  return std::nullopt;
}

std::string_view protocolName(Protocol p) noexcept {
  switch (p) {
    case Protocol::ssh:
      return "ssh";
    case Protocol::rdp:
      return "rdp";
    case Protocol::modbus:
      return "modbus";
    case Protocol::s7:
      return "s7";
    case Protocol::dnp3:
      return "dnp3";
    case Protocol::opcua:
      return "opcua";
    case Protocol::tcp:
      return "tcp";
  }
  return "tcp";
}

std::optional<Protocol> parseProtocol(std::string_view name) noexcept {
  for (Protocol p : {Protocol::ssh, Protocol::rdp, Protocol::modbus, Protocol::s7, Protocol::dnp3,
                     Protocol::opcua, Protocol::tcp}) {
    if (protocolName(p) == name) return p;
  }
  return std::nullopt;
}

std::string_view criticalityName(Criticality c) noexcept {
  switch (c) {
    case Criticality::low:
      return "low";
    case Criticality::medium:
      return "medium";
    case Criticality::high:
      return "high";
    case Criticality::critical:
      return "critical";
  }
  return "medium";
}

std::optional<Criticality> parseCriticality(std::string_view name) noexcept {
  for (Criticality c :
       {Criticality::low, Criticality::medium, Criticality::high, Criticality::critical}) {
    if (criticalityName(c) == name) return c;
  }
  return std::nullopt;
}

const Endpoint* Asset::endpointFor(Protocol p) const {
  for (const auto& e : endpoints) {
    if (e.protocol == p) return &e;
  }
  return nullptr;
}

std::string_view writeModeName(WriteMode m) noexcept {
  switch (m) {
    case WriteMode::deny:
      return "deny";
    case WriteMode::allow:
      return "allow";
    case WriteMode::approve:
      return "approve";
  }
  return "deny";
}

std::optional<WriteMode> parseWriteMode(std::string_view name) noexcept {
  for (auto m : {WriteMode::deny, WriteMode::allow, WriteMode::approve}) {
    if (writeModeName(m) == name) return m;
  }
  return std::nullopt;
}

int ApprovalRequirement::total() const {
  int n = 0;
  for (const auto& r : rules) n += r.count;
  return n;
}

std::optional<std::string> normalizeSha256Fingerprint(std::string_view text) {
  if (text.starts_with("sha256:") || text.starts_with("SHA256:")) text.remove_prefix(7);
  std::string out;
  for (char c : text) {
    if (c == ':') continue;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    out.push_back(c);
  }
  if (out.size() != 64) return std::nullopt;
  return out;
}

}  // namespace conduit::core
