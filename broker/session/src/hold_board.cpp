#include "conduit/session/hold_board.hpp"

namespace conduit::session {

using core::ErrorCode;

core::Result<std::uint64_t> HoldBoard::post(const tunnel::HoldContext& context,
                                            std::string details) {
  std::lock_guard lock(mutex_);
  if (holds_.size() >= kMaxHolds) {
    return core::fail(ErrorCode::unavailable,
                      std::to_string(holds_.size()) + " writes already wait for approval");
  }
  HeldWrite w{next_, context, std::move(details), std::chrono::system_clock::now(), std::nullopt};
  if (auto st = auditor_(w, "held", context.user); !st) return st.error();
  ++next_;
  const auto id = w.id;
  holds_.emplace(id, std::move(w));
  return id;
}

std::optional<tunnel::HoldDecision> HoldBoard::decision(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  const auto it = holds_.find(id);
  if (it == holds_.end()) return std::nullopt;
  return it->second.decision;
}

void HoldBoard::withdraw(std::uint64_t id, std::string_view outcome) {
  std::lock_guard lock(mutex_);
  const auto it = holds_.find(id);
  if (it == holds_.end()) return;
  // Decisions were audited when taken; what ends a hold without one is audited here. The hold
  // is gone either way: its connection no longer waits for it.
  if (!it->second.decision) (void)auditor_(it->second, outcome, "");
  holds_.erase(it);
}

std::vector<HeldWrite> HoldBoard::pending() const {
  std::lock_guard lock(mutex_);
  std::vector<HeldWrite> out;
  for (const auto& [id, w] : holds_) {
    if (!w.decision) out.push_back(w);
  }
  return out;
}

std::optional<HeldWrite> HoldBoard::find(std::uint64_t id) const {
  std::lock_guard lock(mutex_);
  const auto it = holds_.find(id);
  if (it == holds_.end()) return std::nullopt;
  return it->second;
}

core::Status HoldBoard::decide(std::uint64_t id, bool approved, const std::string& by) {
  std::lock_guard lock(mutex_);
  const auto it = holds_.find(id);
  if (it == holds_.end()) {
    return core::fail(ErrorCode::not_found,
                      "write " + std::to_string(id) + " is not waiting for a decision");
  }
  if (it->second.decision) {
    return core::fail(ErrorCode::conflict,
                      "write " + std::to_string(id) + " is already " +
                          (it->second.decision->approved ? "approved" : "rejected"));
  }
  if (auto st = auditor_(it->second, approved ? "approved" : "rejected", by); !st) return st;
  it->second.decision = tunnel::HoldDecision{approved, by};
  return core::Done{};
}

}  // namespace conduit::session
