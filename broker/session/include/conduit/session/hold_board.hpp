#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/result.hpp"
#include "conduit/tunnel/hold_desk.hpp"

namespace conduit::session {

/// A write waiting on the board.
struct HeldWrite {
  std::uint64_t id = 0;
  tunnel::HoldContext context;
  std::string details;  // the inspector's JSON (function, address, values, deadline...)
  std::chrono::system_clock::time_point postedAt;
  std::optional<tunnel::HoldDecision> decision;
};

/// The broker's hold desk: writes held by tunnels' inspectors, waiting for an engineer (IEC
/// 62443 SR 2.1 RE4). The portal lists and decides them; inspectors collect decisions on
/// their next tick. Every step is audited first: if the audit event cannot be written, the
/// step does not happen (a hold is then refused, a decision not taken). Thread-safe.
class HoldBoard final : public tunnel::HoldDesk {
 public:
  /// `what`: "held", "approved", "rejected", "expired" or "cancelled"; `by`: who did it (the
  /// vendor for "held", the engineer for decisions, empty for the broker).
  using Auditor =
      std::function<core::Status(const HeldWrite&, std::string_view what, const std::string& by)>;

  explicit HoldBoard(Auditor auditor) : auditor_(std::move(auditor)) {}

  core::Result<std::uint64_t> post(const tunnel::HoldContext& context,
                                   std::string details) override;
  std::optional<tunnel::HoldDecision> decision(std::uint64_t id) override;
  void withdraw(std::uint64_t id, std::string_view outcome) override;

  /// Holds waiting for a decision, oldest first.
  std::vector<HeldWrite> pending() const;
  std::optional<HeldWrite> find(std::uint64_t id) const;
  /// An engineer's decision: not_found if the hold is gone (answered, timed out, its
  /// connection closed), conflict if already decided, the audit's error if it failed.
  core::Status decide(std::uint64_t id, bool approved, const std::string& by);

 private:
  // 256: each hold waits for a person and every connection holds at most a few; a board with
  // more is a flood, refused rather than kept.
  static constexpr std::size_t kMaxHolds = 256;

  Auditor auditor_;
  mutable std::mutex mutex_;
  std::map<std::uint64_t, HeldWrite> holds_;
  std::uint64_t next_ = 1;
};

}  // namespace conduit::session
