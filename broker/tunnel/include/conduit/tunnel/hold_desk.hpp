#pragma once

// Where writes held for approval wait for an engineer (issue 8 item 4, IEC 62443 SR 2.1 RE4:
// four eyes on each write). The tunnel's inspector posts a hold; engineers see it in the portal
// and decide; the inspector asks for the decision on its next tick and withdraws the hold once
// it is answered (decided, timed out or cancelled at the session's end). Implemented by the
// broker (session::HoldBoard), which audits each step. Thread-safe: inspectors run on session
// threads, decisions come from the portal's threads.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conduit/core/result.hpp"

namespace conduit::tunnel {

/// Who holds the write, for the engineers' view and the audit trail.
struct HoldContext {
  std::string sessionId;
  std::string user;
  std::string asset;
  std::string protocol;  // "modbus"
};

/// An engineer's answer to a hold.
struct HoldDecision {
  bool approved = false;
  std::string by;  // the engineer's user name
};

class HoldDesk {
 public:
  virtual ~HoldDesk() = default;
  /// Shows a held request (`details`: one JSON object, e.g. modbus toJson(HeldRequest)) to
  /// the asset's engineers. Returns the desk's id for it; an error if it could not be audited
  /// or shown (the inspector then refuses the write: fail closed).
  virtual core::Result<std::uint64_t> post(const HoldContext& context, std::string details) = 0;
  /// The engineer's decision, once there is one.
  virtual std::optional<HoldDecision> decision(std::uint64_t id) = 0;
  /// The hold is answered (`outcome`: approved, rejected, expired, cancelled) and leaves the
  /// desk.
  virtual void withdraw(std::uint64_t id, std::string_view outcome) = 0;
};

}  // namespace conduit::tunnel
